"""Configurations and the controller: rebalancing is balanced, moves the fewest shards,
and is deterministic; the controller applies each change once, in one order, under
faults."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from random import Random

import pytest

from dsys import Nemesis, Network, Simulation
from dsys.raft import run_invariants
from dsys.scaling.sharding import (
    Config,
    ControllerClient,
    ControllerStore,
    ShardController,
    rebalance,
    shard_of,
)


def balanced(config: Config) -> bool:
    counts = [len(config.shards_of(gid)) for gid in config.groups]
    return not config.groups or (max(counts) - min(counts) <= 1 and sum(counts) == len(
        config.shards))


def fewest_moves(before: Config, groups: list[str]) -> int:
    """By brute force: the fewest shards any balanced assignment to ``groups`` moves."""
    best = len(before.shards)
    for shards in itertools.product(groups, repeat=len(before.shards)):
        counts = [shards.count(g) for g in groups]
        if max(counts) - min(counts) <= 1:
            best = min(best, sum(1 for a, b in zip(before.shards, shards, strict=True)
                                 if a != b))
    return best


@pytest.mark.parametrize("seed", range(30))
def test_rebalance_is_balanced_and_moves_the_fewest_shards(seed: int) -> None:
    rng = Random(seed)
    names = ["g1", "g2", "g3", "g4"]
    shards = rng.randint(1, 7)
    before = Config(3, tuple(rng.choice([*names, None]) for _ in range(shards)),
                    {g: (g + "s",) for g in names})
    after_groups = sorted(rng.sample(names, rng.randint(1, 4)))
    after = rebalance(before, {g: (g + "s",) for g in after_groups})
    assert after.num == 4 and balanced(after)
    assert set(after.shards) <= set(after_groups)
    assert len(after.moved_from(before)) == fewest_moves(before, after_groups), (
        before, after)


def test_rebalance_ignores_the_order_groups_are_given_in() -> None:
    start = Config(1, ("g3", "g1", "g1", "g2", None, "g3", "g1"), {})
    groups = {"g1": ("a",), "g2": ("b",), "g4": ("d",)}
    reordered = dict(reversed(list(groups.items())))
    assert rebalance(start, groups) == rebalance(start, reordered)


def test_shard_of_is_the_same_in_every_process() -> None:
    """Not Python's salted ``hash``: two interpreters with other hash seeds agree."""
    code = "from dsys.scaling.sharding import shard_of; print([shard_of(k) for k in 'abcxyz'])"
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout
               for seed in ("1", "2")}
    assert outputs == {f"{[shard_of(k) for k in 'abcxyz']}\n"}


def test_controller_refuses_changes_that_make_no_sense() -> None:
    store = ControllerStore(shards=4)
    join = {"session": "s", "seq": 1, "f": "join", "value": {"g1": ["a"]}}
    assert store.apply(1, join)["status"] == "ok"
    assert store.apply(2, join)["status"] == "ok" and len(store.configs) == 2  # a retry
    again = {**join, "seq": 2}
    assert store.apply(3, again) == {"status": "refused", "value": "already joined: ['g1']"}
    for seq, f, value in [(3, "leave", ["g9"]), (4, "move", [9, "g1"]), (5, "move", [0, "g9"]),
                          (6, "leave", ["g1"]), (7, "split", None)]:
        result = store.apply(3 + seq, {"session": "s", "seq": seq, "f": f, "value": value})
        assert result["status"] == "refused", (f, value, result)
    assert len(store.configs) == 2, "a refused change makes no configuration"


def test_a_move_moves_one_shard_only() -> None:
    store = ControllerStore(shards=6)
    store.apply(1, {"session": "s", "seq": 1, "f": "join", "value": {"g1": ["a"], "g2": ["b"]}})
    before = store.latest
    store.apply(2, {"session": "s", "seq": 2, "f": "move", "value": [0, "g2"]})
    assert store.latest.moved_from(before) == (0,) and store.latest.shards[0] == "g2"


def test_controller_snapshot_round_trip() -> None:
    store = ControllerStore(shards=3)
    store.apply(1, {"session": "s", "seq": 1, "f": "join", "value": {"g1": ["a"]}})
    copy = ControllerStore(shards=3)
    copy.restore(1, store.snapshot())
    assert copy.configs == store.configs and copy.sessions == store.sessions


@pytest.mark.parametrize("seed", range(2))
def test_replicated_controller_applies_each_change_once_in_one_order(seed: int) -> None:
    """Two administrators change the configuration concurrently while the nemesis crashes
    and partitions the controller: every controller server ends with the same list of
    configurations, numbered 0, 1, 2..., one per change that completed ok (and at most one
    per change whose outcome is unknown), each balanced after a join or leave."""
    sim = Simulation(seed=seed, network=Network(drop=0.05, duplicate=0.05))
    servers = ("m1", "m2", "m3", "m4", "m5")
    for name in servers:
        sim.add_node(name, ShardController)
    plans = {"x": [{"f": "join", "value": {"g1": ["a"]}}, {"f": "join", "value": {"g2": ["b"]}},
                   {"f": "move", "value": [1, "g1"]}, {"f": "leave", "value": ["g1"]}],
             "y": [{"f": "join", "value": {"g3": ["c"]}}, {"f": "move", "value": [2, "g3"]},
                   {"f": "join", "value": {"g4": ["d"]}}]}
    for name, plan in plans.items():
        steps = iter(plan)
        sim.add_client(name, ControllerClient, workload=lambda rng, s=steps: next(s),
                       ops=len(plan), think=0.2)
    for invariant in run_invariants():
        sim.add_invariant(invariant)
    Nemesis(faults=("partition", "crash"), interval=(0.3, 0.8), duration=(0.2, 0.8),
            stop=4.0).install(sim)
    sim.run(until=12.0)
    lists = {name: [c.to_json() for c in sim.node(name).store.configs]  # type: ignore
             for name in servers}
    assert all(configs == lists["m1"] for configs in lists.values())
    configs = [Config.of(c) for c in lists["m1"]]
    assert [c.num for c in configs] == list(range(len(configs)))
    kinds = [e["type"] for e in sim.history if e["type"] != "invoke"]
    assert kinds.count("ok") <= len(configs) - 1 <= kinds.count("ok") + kinds.count("info")
    for before, after in itertools.pairwise(configs):
        if after.groups != before.groups:
            assert balanced(after), after
        else:
            assert len(after.moved_from(before)) <= 1
