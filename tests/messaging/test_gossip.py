"""Gossip: rounds to reach everyone against the theory, for 10 to 1,000 nodes."""

from __future__ import annotations

import functools
import math
import statistics

import pytest

from dsys import ConfigError, Network, Node, Simulation
from dsys.demos.gossip_rounds import RumorRun, spread_rumor
from dsys.messaging import Gossip, expected_push_rounds
from dsys.messaging.gossip import Mode

SEEDS = {10: range(30), 100: range(10), 1000: range(3)}


@functools.cache  # the same runs serve several tests
def runs(nodes: int, mode: Mode, **options: object) -> list[RumorRun]:
    return [spread_rumor(nodes, mode, seed=s, **options) for s in SEEDS[nodes]]  # type: ignore[arg-type]


def mean_rounds(found: list[RumorRun]) -> float:
    assert all(r.complete for r in found)
    return statistics.mean(r.rounds for r in found)


def end_game(run: RumorRun) -> int:
    """Rounds from the first round with at least 90% informed to full dissemination."""
    first = next(i for i, n in enumerate(run.informed) if n >= 0.9 * run.nodes)
    return run.rounds - first


@pytest.mark.parametrize("nodes", [10, 100, 1000])
def test_push_takes_about_log2_n_plus_ln_n_rounds(nodes: int) -> None:
    found = runs(nodes, "push")
    expected = expected_push_rounds(nodes)  # Pittel 1987: log2 N + ln N + O(1)
    mean = mean_rounds(found)
    assert 0.8 * expected <= mean <= 1.3 * expected, (mean, expected)
    assert max(r.rounds for r in found) <= 2 * expected
    # Each informed node pushes once a round: fewer messages per node than rounds.
    assert all(r.messages_per_node < r.rounds for r in found)


@pytest.mark.parametrize("nodes", [100, 1000])
def test_push_pull_is_faster_especially_at_the_end(nodes: int) -> None:
    push, pull, both = runs(nodes, "push"), runs(nodes, "pull"), runs(nodes, "push-pull")
    assert mean_rounds(both) < mean_rounds(pull) < mean_rounds(push)
    # Karp et al. 2000: log3 N + O(log log N) rounds.
    assert mean_rounds(both) <= math.log(nodes, 3) + math.log2(math.log2(nodes)) + 2
    # The last 10% is where push struggles and pulling shines.
    ends = {name: statistics.mean(end_game(r) for r in found)
            for name, found in (("push", push), ("pull", pull), ("push-pull", both))}
    assert ends["push-pull"] < ends["push"] and ends["pull"] < ends["push"], ends


def test_more_fanout_fewer_rounds() -> None:
    assert mean_rounds(runs(100, "push", fanout=3)) < mean_rounds(runs(100, "push"))


def test_gossip_shrugs_off_loss() -> None:
    lossy = runs(100, "push-pull", drop=0.3)
    assert all(r.complete for r in lossy)
    assert mean_rounds(lossy) <= 2 * mean_rounds(runs(100, "push-pull"))


def test_a_rumor_pushed_for_too_few_rounds_can_die_out() -> None:
    short = [spread_rumor(100, "push", seed=s, rounds_to_live=2, max_rounds=30)
             for s in range(10)]
    assert any(not r.complete for r in short)
    stuck = next(r for r in short if not r.complete)
    assert stuck.rounds == 30 and stuck.informed[-1] < 100
    # Pulling needs no one to keep pushing: the same limit does not stop it.
    assert all(spread_rumor(100, "pull", seed=s, rounds_to_live=2).complete for s in range(5))


def test_runs_are_deterministic() -> None:
    assert spread_rumor(200, "push", seed=5) == spread_rumor(200, "push", seed=5)
    assert spread_rumor(200, "push", seed=5) != spread_rumor(200, "push", seed=6)


def test_several_rumors_in_a_traced_simulation() -> None:
    class Member(Node):
        def __init__(self) -> None:
            super().__init__()
            self.gossip = self.add_component(Gossip("push-pull", interval=0.1))

        def on_start(self) -> None:
            if self.id in ("n0", "n5"):
                self.gossip.spread(f"from-{self.id}", [self.id, 1])

    sim = Simulation(seed=2, network=Network(drop=0.1, duplicate=0.1))
    for i in range(8):
        sim.add_node(f"n{i}", Member)
    sim.run(until=2.0)
    for node in sim.nodes.values():
        assert node.gossip.known == {"from-n0": ["n0", 1], "from-n5": ["n5", 1]}  # type: ignore[attr-defined]
    learned = [e for e in sim.trace if e.kind == "note" and e.data["event"] == "learn"]
    assert len(learned) == 16


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="mode"):
        Gossip("shout")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="fanout"):
        Gossip(fanout=0)
    with pytest.raises(ConfigError, match="at least 2"):
        spread_rumor(1)
