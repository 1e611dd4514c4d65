"""Detectors in simulated groups, judged by the failure checkers over many seeds:
crashes, restarts, partitions, message loss and slow members; and, for each of SWIM's
mechanisms, a side-by-side run showing what goes wrong without it.

Every scenario runs a few seeds here; ``pytest --soak`` runs many more. Nothing asserts a
time or a count guessed from one run: each property is the checkers' verdict, and each
"mechanism matters" test compares two configurations on the same seeds.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dsys import Network, Simulation
from dsys.demos.swim import Member, fast, group, names, slow
from dsys.failure import (
    FailureDetector,
    HeartbeatDetector,
    PhiAccrualDetector,
    Swim,
    check_accuracy,
    check_completeness,
    check_convergence,
    converged,
    detection_times,
    false_suspicions,
)

P = 0.1  # the heartbeat interval and SWIM protocol period of every scenario

#: name -> (factory, the completeness bound its parameters promise, for 10 members)
DETECTORS: dict[str, tuple[Callable[[], FailureDetector], float]] = {
    # timeout + one interval to notice + latency
    "heartbeat": (lambda: HeartbeatDetector(P, 0.35), 0.5),
    # phi > 8 about 5.6 sigma (floored at 0.1 s) after the mean, then one interval
    "phi": (lambda: PhiAccrualDetector(P), 1.0),
    # first probe within 2N-1 periods, suspicion 4 periods, then dissemination
    "swim": (lambda: Swim(P, 0.03), 3.0),
    # suspicion up to 6 times longer unless confirmed by others
    "swim+lifeguard": (lambda: Swim(P, 0.03, lifeguard=True), 5.0),
}
SEEDS = range(3)
SOAK_SEEDS = range(3, 40)


def run(make: Callable[[], FailureDetector], size: int, seed: int, until: float, *,
        drop: float = 0.0, faults: Callable[[Simulation], None] | None = None) -> Simulation:
    sim = group(make, size, seed=seed, network=Network(latency=(0.001, 0.010), drop=drop),
                codec=False)  # (the handler tests pass every message through the codec)
    if faults is not None:
        faults(sim)
    sim.run(until=until)
    return sim


def crash_and_restart(sim: Simulation) -> None:
    sim.at(2.0, sim.crash, "m3")
    sim.at(2.0, sim.crash, "m7")
    sim.at(6.0, sim.restart, "m3")


def split(sim: Simulation) -> None:
    sim.at(2.0, sim.partition, names(8)[:4], names(8)[4:])
    sim.at(5.0, sim.heal)


def crash_scenario(name: str, seed: int) -> None:
    make, bound = DETECTORS[name]
    sim = run(make, 10, seed, 14.0, faults=crash_and_restart)
    assert check_completeness(sim.trace, within=bound), \
        check_completeness(sim.trace, within=bound).explain()
    # m3 is back at 6.0: every view holds the 9 live members again once it is noticed
    report = check_convergence(sim.trace, by=6.0 + bound + 2.0)
    assert report, report.explain()
    assert converged(sim.nodes), converged(sim.nodes).explain()
    # No loss, nobody slow: no live member is ever suspected (a restarted member is
    # suspected only until its first news arrives: tolerated for a second).
    accuracy = check_accuracy(sim.trace, tolerance=1.0)
    assert accuracy, accuracy.explain()


def partition_scenario(name: str, seed: int) -> None:
    make, bound = DETECTORS[name]
    sim = run(make, 8, seed, 14.0, faults=split)
    # during the cut each side suspects the other (that is what a detector can see);
    # after the heal every view holds all eight again, and stays so
    report = check_convergence(sim.trace, by=5.0 + bound + 2.0)
    assert report, report.explain()
    assert check_accuracy(sim.trace, after=5.0 + bound + 2.0)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_crashes_are_suspected_by_every_live_member_and_views_converge(name: str) -> None:
    for seed in SEEDS:
        crash_scenario(name, seed)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_after_a_partition_heals_every_view_holds_everyone_again(name: str) -> None:
    for seed in SEEDS:
        partition_scenario(name, seed)


def test_swim_probes_again_the_members_a_healed_partition_brings_back() -> None:
    """A member back from the dead (here: the other side of a healed partition) is in the
    probe order again: each member's own probes, not only gossip, find later crashes."""
    for seed in SEEDS:
        sim = run(lambda: Swim(P, 0.03), 8, seed, 8.0, faults=split)
        for member in names(8):
            order = sim.node(member).detector._order  # type: ignore[union-attr]
            assert sorted(order) == sorted(set(names(8)) - {member}), (seed, member, order)


@pytest.mark.soak
@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_crash_and_partition_soak(name: str) -> None:
    for seed in SOAK_SEEDS:
        crash_scenario(name, seed)
        partition_scenario(name, seed)


def test_swim_detection_is_noticed_everywhere_within_the_bound_under_loss() -> None:
    make, bound = DETECTORS["swim"]
    for seed in SEEDS:
        sim = run(make, 10, seed, 10.0, drop=0.05,
                  faults=lambda sim: sim.at(2.0, sim.crash, "m5"))
        assert check_completeness(sim.trace, within=bound)
        assert {d.monitor for d in detection_times(sim.trace)} == set(names(10)) - {"m5"}


# ----- accuracy under loss: what each mechanism buys ------------------------------------------


def wrong_seconds(make: Callable[[], FailureDetector], *, drop: float = 0.0,
                  faults: Callable[[Simulation], None] | None = None,
                  seeds: range = SEEDS, until: float = 15.0) -> float:
    """Member-seconds of false suspicion, summed over seeds (10 members)."""
    return sum(f.duration for seed in seeds
               for f in false_suspicions(run(make, 10, seed, until, drop=drop,
                                             faults=faults).trace))


def test_swim_with_suspicion_stays_accurate_at_10_percent_loss() -> None:
    for lifeguard in (False, True):
        for seed in SEEDS:
            sim = run(lambda lifeguard=lifeguard: Swim(P, 0.03, lifeguard=lifeguard), 10, seed,
                      15.0, drop=0.1)
            report = check_accuracy(sim.trace, tolerance=1.0)
            assert report, report.explain()


def test_without_indirect_probes_false_positives_rise_under_loss() -> None:
    # (basic SWIM, §3: a failed probe is death, so every false positive shows)
    with_helpers = wrong_seconds(lambda: Swim(P, 0.03, suspicion=False), drop=0.1)
    alone = wrong_seconds(lambda: Swim(P, 0.03, suspicion=False, indirect_probes=0),
                          drop=0.1)
    assert alone > 2 * with_helpers


def test_without_suspicion_loss_kills_live_members() -> None:
    basic = wrong_seconds(lambda: Swim(P, 0.03, suspicion=False), drop=0.1)
    suspicious = wrong_seconds(lambda: Swim(P, 0.03), drop=0.1)
    assert basic > 10 * suspicious


def test_without_refutation_a_suspected_live_member_is_declared_dead() -> None:
    for seed in SEEDS:
        quiet = run(lambda: Swim(P, 0.03, refute=False), 10, seed, 15.0, drop=0.1)
        wrong = false_suspicions(quiet.trace)
        assert any(f.ended_by == "end" for f in wrong)  # dead for good, though alive
        refuting = run(lambda: Swim(P, 0.03), 10, seed, 15.0, drop=0.1)
        assert check_accuracy(refuting.trace, tolerance=1.0)


def test_lifeguard_cuts_false_positives_caused_by_a_slow_member() -> None:
    def slow_m3(sim: Simulation) -> None:  # m3's messages take longer than a probe waits
        sim.at(1.0, slow, sim, "m3", (0.05, 0.1))
        sim.at(12.0, fast, sim, "m3")

    plain = wrong_seconds(lambda: Swim(P, 0.03), faults=slow_m3)
    lifeguard = wrong_seconds(lambda: Swim(P, 0.03, lifeguard=True), faults=slow_m3)
    assert lifeguard < plain / 2


def test_phi_adapts_to_loss_where_a_fixed_timeout_does_not() -> None:
    fixed = wrong_seconds(DETECTORS["heartbeat"][0], drop=0.1)
    accrual = wrong_seconds(DETECTORS["phi"][0], drop=0.1)
    assert accrual < fixed / 2


# ----- joining and leaving --------------------------------------------------------------------


def test_a_join_and_a_graceful_leave_reach_every_view() -> None:
    founders = names(6)
    for seed in SEEDS:
        sim = Simulation(seed=seed, network=Network(drop=0.05))
        for node_id in founders:
            sim.add_node(node_id, lambda: Member(lambda: Swim(P, 0.03, members=founders)))
        sim.add_node("new", lambda: Member(lambda: Swim(P, 0.03, seeds=["m0"])), start=2.0)
        sim.at(4.0, lambda sim=sim: sim.nodes["m2"].detector.leave())
        sim.run(until=8.0)
        everyone = sorted({*founders, "new"} - {"m2"})
        for node_id in everyone:
            assert sim.nodes[node_id].group.members() == tuple(everyone)
        events = [(e.node, e.data["event"], e.data["peer"], e.data.get("reason"))
                  for e in sim.trace
                  if e.kind == "note" and e.data.get("component") == "membership"
                  and e.data["event"] in ("join", "leave")]
        for node_id in sorted(set(founders) - {"m2"}):
            assert (node_id, "join", "new", None) in events
            assert (node_id, "leave", "m2", "left") in events
        assert not any(e[1] == "leave" and e[3] == "failed" for e in events)
        assert check_convergence(sim.trace, by=7.0)
        assert check_accuracy(sim.trace, tolerance=1.0)
