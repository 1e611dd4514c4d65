"""Whole runs with crashes, restarts, partitions, loss and duplication, judged by the
checkers: whatever the faults, no epoch has two leaders; once the faults stop, every node
agrees on one live leader. And what the algorithms do not promise, shown: bully elects a
coordinator on each side of a partition."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dsys import Nemesis, Network
from dsys.demos.election import cluster, settled
from dsys.election import (
    check_agreement,
    check_one_leader_at_a_time,
    check_one_leader_per_epoch,
    one_leader_at_a_time_invariant,
)
from tests.election.scenarios import SETTLED, drifting_clocks, faulty_run

ALGORITHMS = ("bully", "ring", "omega", "lease")


def judge(sim: object, algorithm: str, seed: int) -> None:
    trace = sim.trace  # type: ignore[attr-defined]
    for report in (check_one_leader_per_epoch(trace), check_agreement(trace)):
        assert report, f"{algorithm}, seed {seed}:\n{report.explain()}"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("seed", range(6))
def test_faults_never_give_an_epoch_two_leaders_and_the_nodes_agree_after(
        algorithm: str, seed: int) -> None:
    judge(faulty_run(algorithm, seed), algorithm, seed)


@pytest.mark.soak
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_soak_many_seeds_and_more_nodes(algorithm: str) -> None:
    for seed in range(100):
        judge(faulty_run(algorithm, 1000 + seed, nodes=7), algorithm, 1000 + seed)


@pytest.mark.parametrize("seed", range(4))
def test_the_lease_never_has_two_leaders_at_once_under_faults(seed: int) -> None:
    sim = cluster("lease", 5, seed, network=Network(drop=0.05, duplicate=0.02),
                  duration=0.5, max_drift=1e-3)
    drifting_clocks(sim, seed, 1e-3)
    sim.add_invariant(one_leader_at_a_time_invariant)
    Nemesis(faults=("crash", "partition", "isolate"), interval=(0.2, 0.6),
            duration=(0.2, 0.8), stop=4.0).install(sim)
    sim.run(until=SETTLED)
    assert check_one_leader_at_a_time(sim.trace), check_one_leader_at_a_time(sim.trace).explain()
    judge(sim, "lease", seed)


def test_bully_elects_a_coordinator_on_each_side_of_a_partition_then_merges() -> None:
    sim = cluster("bully", 5, seed=3)
    sim.run(until=0.5)
    assert settled(sim) and sim.node("n1").election.leader == "n5"  # type: ignore[union-attr]
    sim.partition(["n1", "n2", "n3"], ["n4", "n5"])
    sim.run(until=2.0)
    leaders = sorted(n for n, node in sim.nodes.items() if node.election.is_leader)  # type: ignore[attr-defined]
    assert leaders == ["n3", "n5"]  # each side has its own: timeouts cannot tell slow from dead
    assert not check_one_leader_at_a_time(sim.trace)
    assert check_one_leader_per_epoch(sim.trace)  # still: the two epochs differ
    sim.heal()
    assert sim.run_until(settled, timeout=3.0)
    assert sim.node("n1").election.leader == "n5"  # type: ignore[union-attr]
    assert check_agreement(sim.trace)


def test_a_recovered_highest_node_bullies_its_way_back_in_both_bully_and_ring() -> None:
    for algorithm in ("bully", "ring"):
        sim = cluster(algorithm, 4, seed=2)
        sim.run(until=0.5)
        sim.crash("n4")
        assert sim.run_until(settled, timeout=3.0)
        assert sim.node("n1").election.leader == "n3"  # type: ignore[union-attr]
        sim.restart("n4")
        assert sim.run_until(lambda s: settled(s) and s.node("n1").election.leader == "n4",  # type: ignore[union-attr]
                             timeout=3.0), algorithm


def test_a_node_that_answers_then_dies_mid_election_is_replaced() -> None:
    # n5 is down. n1 starts an election; n4 answers it (and n2's and n3's) and holds its
    # own, waiting for n5; then n4 crashes before announcing anything. The nodes it
    # answered wait for its Coordinator in vain, time out, start over, and n3 wins.
    sim = cluster("bully", 5, seed=1, initiators=["n1"], announce_interval=None)
    sim.at(0.0, sim.crash, "n5")
    sim.at(0.03, sim.crash, "n4")
    sim.run(until=2.0)
    assert settled(sim) and sim.node("n1").election.leader == "n3"  # type: ignore[union-attr]
    restarted = [e for e in sim.trace
                 if e.kind == "timer_fire" and e.data["name"] == "election/coordinator"]
    assert restarted  # the wait for n4's Coordinator timed out (Garcia-Molina's T')
    assert check_agreement(sim.trace) and check_one_leader_per_epoch(sim.trace)


SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from tests.election.scenarios import faulty_run
print(" ".join(faulty_run(a, 4).trace.digest() for a in ("bully", "ring", "omega", "lease")))
"""


def test_the_same_seed_gives_the_same_trace_under_any_hash_seed() -> None:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    outputs = set()
    for hash_seed in ("0", "1", "4242"):
        result = subprocess.run([sys.executable, "-c", SCRIPT.format(root=root)],
                                env={**os.environ, "PYTHONHASHSEED": hash_seed},
                                capture_output=True, text=True, timeout=300, check=True)
        outputs.add(result.stdout)
    assert len(outputs) == 1


@pytest.mark.parametrize("seed", range(4))
def test_hirschberg_sinclair_elects_the_highest_over_a_reordering_duplicating_network(
        seed: int) -> None:
    # No crash handling and no retransmission: judged on a network that reorders and
    # duplicates, but loses nothing.
    sim = cluster("hirschberg-sinclair", 9, seed,
                  network=Network(duplicate=0.2, reorder=0.3))
    assert sim.run_until(settled, timeout=5.0)
    sim.run(until=sim.now + 1.0)
    assert sim.node("n1").election.leader == "n9"  # type: ignore[union-attr]
    judge(sim, "hirschberg-sinclair", seed)
