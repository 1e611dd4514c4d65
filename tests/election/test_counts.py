"""Message counts against the textbook (Coulouris et al. §15.3; Chang and Roberts 1979;
Garcia-Molina 1982), on a reliable network with FIFO links (Chang and Roberts's
assumption), counting only the election messages (not probes, announcements or
acknowledgements, which are switched off or counted apart)."""

from __future__ import annotations

import pytest

from dsys import Network, Simulation
from dsys.demos.election import cluster, election_messages, node_ids, settled
from dsys.election import RingElected, RingElection, check_message_count

QUIET = {"probe_interval": None, "announce_interval": None}


def elect(algorithm: str, nodes: int, seed: int = 1, **options: object) -> Simulation:
    quiet = QUIET if algorithm in ("bully", "ring") else {}
    sim = cluster(algorithm, nodes, seed, network=Network(fifo=True), **quiet, **options)
    assert sim.run_until(settled, timeout=30.0)
    sim.run(until=sim.now + 1.0)  # let every message still in flight land
    return sim


@pytest.mark.parametrize("nodes", [3, 5, 8])
def test_ring_with_one_initiator_takes_between_2n_and_3n_minus_1_messages(nodes: int) -> None:
    counts = []
    for initiator in node_ids(nodes):
        sim = elect("ring", nodes, initiators=[initiator])
        report = check_message_count(sim.trace, [RingElection, RingElected],
                                     at_least=2 * nodes, at_most=3 * nodes - 1)
        assert report, report.explain()
        counts.append(election_messages(sim, "ring"))
    # The initiator's id travels to the highest node: the further, the more messages.
    assert counts == list(range(3 * nodes - 1, 2 * nodes - 1, -1))


@pytest.mark.parametrize("nodes", [4, 8, 12])
def test_ring_worst_case_all_initiating_with_ids_decreasing_is_n_n_plus_1_over_2(
        nodes: int) -> None:
    sim = elect("ring", nodes, ring=list(reversed(node_ids(nodes))))
    counts = sim.statistics().by_type
    assert counts["RingElection"]["sent"] == nodes * (nodes + 1) // 2  # O(N²)
    assert counts["RingElected"]["sent"] == nodes


def test_ring_all_initiating_with_ids_increasing_is_the_best_case() -> None:
    sim = elect("ring", 8)  # each id is dropped by its successor, except the highest
    assert sim.statistics().by_type["RingElection"]["sent"] == 2 * 8 - 1


@pytest.mark.parametrize("nodes", [3, 5, 8])
def test_bully_from_the_highest_node_n_minus_1_from_the_lowest_at_most_n_squared_minus_1(
        nodes: int) -> None:
    ids = node_ids(nodes)
    assert election_messages(elect("bully", nodes, initiators=[ids[-1]]), "bully") == nodes - 1
    for seed in range(3):
        lowest = election_messages(elect("bully", nodes, seed, initiators=[ids[0]]), "bully")
        assert 2 * (nodes - 1) < lowest <= nodes * nodes - 1


@pytest.mark.parametrize("nodes", [3, 5, 8])
def test_bully_all_initiating_is_exactly_n_squared_minus_1(nodes: int) -> None:
    # N(N-1)/2 Elections, as many Answers, N-1 Coordinators: O(N²).
    sim = elect("bully", nodes)
    counts = sim.statistics().by_type
    assert counts["Election"]["sent"] == counts["Answer"]["sent"] == nodes * (nodes - 1) // 2
    assert counts["Coordinator"]["sent"] == nodes - 1


def hs_bound(nodes: int) -> int:
    """Lynch's bound for Hirschberg-Sinclair: 8N per phase, 1 + ceil(log2 N) phases, plus
    the N messages of the result."""
    return 8 * nodes * (1 + (nodes - 1).bit_length()) + nodes


@pytest.mark.parametrize("nodes", [4, 8, 16, 32])
def test_hirschberg_sinclair_stays_within_8n_log_n_in_any_ring_order(nodes: int) -> None:
    from random import Random

    ids = node_ids(nodes)
    for seed in range(3):
        order = list(ids)
        Random(seed).shuffle(order)
        sim = elect("hirschberg-sinclair", nodes, seed, ring=order)
        assert sim.node(ids[0]).election.leader == ids[-1]  # type: ignore[union-attr]
        sent = election_messages(sim, "hirschberg-sinclair")
        assert nodes <= sent <= hs_bound(nodes)
    # where Chang-Roberts is at its worst, O(N log N) beats O(N²) (equal at N = 16)
    worst = list(reversed(ids))
    if nodes >= 32:
        assert (election_messages(elect("hirschberg-sinclair", nodes, ring=worst),
                                  "hirschberg-sinclair")
                < election_messages(elect("ring", nodes, ring=worst), "ring"))
