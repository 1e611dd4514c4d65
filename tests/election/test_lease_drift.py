"""The leader lease's drift bound, both ways: with every clock within ``max_drift`` there
is never more than one leader at a time (over many seeds, with faults); with the leader's
clock running slower than the bound, its lease outlives the others' wait, and two nodes
lead at once."""

from __future__ import annotations

import pytest

from dsys import Nemesis, Network, Simulation
from dsys.demos.election import cluster
from dsys.election import (
    check_agreement,
    check_one_leader_at_a_time,
    check_one_leader_per_epoch,
    one_leader_at_a_time_invariant,
)
from tests.election.scenarios import change_rate, drifting_clocks

DURATION = 0.5
BOUND = 1e-3  # the max_drift the lease is configured with


def holder(sim: Simulation) -> str | None:
    return next((n for n, node in sim.nodes.items() if node.election.holds_lease),  # type: ignore[attr-defined]
                None)


def cut_off_leader(seed: int, leader_drift: float) -> tuple[Simulation, str]:
    """Elect, then make the leader's clock run at ``1 + leader_drift`` and isolate it."""
    sim = cluster("lease", 5, seed, duration=DURATION, max_drift=BOUND)
    drifting_clocks(sim, seed, BOUND)
    assert sim.run_until(lambda s: holder(s) is not None, timeout=5.0)
    leader = holder(sim)
    assert leader is not None
    change_rate(sim, leader, leader_drift)
    sim.isolate(leader)
    sim.run(until=sim.now + 4 * DURATION)
    return sim, leader


@pytest.mark.parametrize("seed", range(5))
def test_a_leader_clock_slower_than_the_bound_makes_two_leaders_at_once(seed: int) -> None:
    sim, old = cut_off_leader(seed, leader_drift=-0.8)  # its lease lasts 5x longer
    report = check_one_leader_at_a_time(sim.trace)
    assert not report
    (violation,) = report.violations
    assert old in violation.nodes and "still led" in violation.text
    assert check_one_leader_per_epoch(sim.trace)  # epochs still differ: that does not help


@pytest.mark.parametrize("seed", range(5))
def test_within_the_bound_the_cut_off_leader_stops_before_anyone_takes_over(seed: int) -> None:
    sim, old = cut_off_leader(seed, leader_drift=-BOUND)  # as slow as allowed
    assert check_one_leader_at_a_time(sim.trace), check_one_leader_at_a_time(sim.trace).explain()
    assert holder(sim) not in (None, old)  # and someone else did take over


def test_the_live_invariant_catches_the_moment_it_happens() -> None:
    sim = cluster("lease", 3, seed=2, duration=DURATION, max_drift=BOUND)
    assert sim.run_until(lambda s: holder(s) is not None, timeout=5.0)
    leader = holder(sim)
    assert leader is not None
    change_rate(sim, leader, -0.8)
    sim.isolate(leader)
    sim.add_invariant(one_leader_at_a_time_invariant)
    from dsys.sim.report import InvariantViolation

    with pytest.raises(InvariantViolation, match="lead at the same time"):
        sim.run(until=sim.now + 4 * DURATION)


def run_with_drift(seed: int, nodes: int = 5) -> Simulation:
    sim = cluster("lease", nodes, seed, network=Network(drop=0.05, duplicate=0.02),
                  duration=DURATION, max_drift=BOUND)
    drifting_clocks(sim, seed, BOUND)
    sim.add_invariant(one_leader_at_a_time_invariant)
    Nemesis(faults=("crash", "partition", "isolate"), interval=(0.2, 0.6),
            duration=(0.2, 0.8), stop=4.0).install(sim)
    sim.run(until=4.0)
    sim.network.update(drop=0.0, duplicate=0.0)
    sim.run(until=7.0)
    return sim


@pytest.mark.parametrize("seed", range(10))
def test_with_every_clock_within_the_bound_never_two_leaders_over_many_seeds(seed: int) -> None:
    sim = run_with_drift(100 + seed)
    for report in (check_one_leader_at_a_time(sim.trace), check_one_leader_per_epoch(sim.trace),
                   check_agreement(sim.trace)):
        assert report, f"seed {100 + seed}: {report.explain()}"


@pytest.mark.soak
def test_soak_never_two_leaders_within_the_bound() -> None:
    for seed in range(300):
        sim = run_with_drift(10_000 + seed, nodes=3 + seed % 5)
        report = check_one_leader_at_a_time(sim.trace)
        assert report, f"seed {10_000 + seed}: {report.explain()}"
