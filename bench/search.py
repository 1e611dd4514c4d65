"""Model-checker throughput: single-decree Paxos (3 servers, 2 clients) searched to the end.

The system is ``dsys.demos.paxos.search()``: three ``dsys.paxos`` servers playing
proposer, acceptor and learner, two clients each proposing its own value to a different
server, no timers. The search is breadth-first over every order of message deliveries
and client invocations, checking agreement and validity in every state, until the state
space is exhausted.

Anchor (quoted, not measured here: Rust crates cannot be fetched on this machine):
Stateright's Paxos example (``cargo run --release --example paxos check 2``) explores
16,668 unique states at about 1.2 million states per second. Its states and ours are not
the same thing, so the counts differ: Stateright's actor model keeps a history for its
linearizability tester inside each state and counts the network as a set, while dsys
counts the network as a multiset, leaves client histories out of the state (they are
rebuilt from the path), and keeps each node's storage and pending timers in it.

Also measured in the same run: two-phase commit with 3 participants (exhausted), and the
election demo (bully on a heartbeat detector) with 3 nodes to depth 4 (its timers make the
space unbounded).

Goal: >= 50k states/s, Paxos exhausted in < 2 s. Printed with the measured figures.

Run: ``python bench/search.py [--repeat R]``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from dsys.demos import election, paxos, two_phase_commit
from dsys.election import one_leader_per_epoch_invariant
from dsys.search import Search, SearchResult

STATERIGHT_STATES = 16_668
STATERIGHT_RATE = 1_200_000
GOAL_RATE = 50_000
GOAL_SECONDS = 2.0


def paxos_search() -> Search:
    return paxos.search()  # dsys.paxos's PaxosServer, agreement and validity as invariants


def commit_search() -> Search:
    nodes: dict[str, Any] = {two_phase_commit.COORDINATOR: two_phase_commit.Coordinator}
    nodes.update(dict.fromkeys(("rm1", "rm2", "rm3"), two_phase_commit.Participant))
    search = Search(nodes)
    search.add_invariant(two_phase_commit.consistency)
    return search


def election_search() -> Search:
    nodes = dict.fromkeys(("n1", "n2", "n3"), election.Server)
    search = Search(nodes)
    search.add_invariant(one_leader_per_epoch_invariant)
    return search


def best(make: Any, repeat: int, depth: int | None = None) -> tuple[SearchResult, float]:
    """The fastest of ``repeat`` searches (exhaustive, or to ``depth``), with CPU seconds."""
    results = []
    for _ in range(repeat):
        search = make()
        cpu = time.process_time()
        result = search.bfs(max_depth=depth)
        results.append((result, time.process_time() - cpu))
    return min(results, key=lambda r: r[0].seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("exhaustive breadth-first search, best of", args.repeat)
    print(f"{'system':34s} {'states':>9s} {'transitions':>12s} {'seconds':>8s} "
          f"{'cpu s':>7s} {'states/s':>9s}")
    for name, make, depth in (("paxos, 3 servers + 2 clients", paxos_search, None),
                              ("two-phase commit, 3 participants", commit_search, None),
                              ("election demo, 3 nodes, depth 4", election_search, 4)):
        result, cpu = best(make, args.repeat, depth)
        assert result.verdict == "ok", result.summary()
        print(f"{name:34s} {result.states:9,d} {result.transitions:12,d} "
              f"{result.seconds:8.2f} {cpu:7.2f} {result.states_per_second:9,.0f}")
        if name.startswith("paxos"):
            paxos_result = result
    rate = paxos_result.states_per_second
    print(f"\nanchor (quoted): Stateright paxos check 2: {STATERIGHT_STATES:,} states at "
          f"~{STATERIGHT_RATE:,} states/s")
    print(f"dsys/Stateright: states {paxos_result.states / STATERIGHT_STATES:.2f}x, "
          f"rate {rate / STATERIGHT_RATE:.4f}x")
    met = "met" if rate >= GOAL_RATE else "NOT met"
    met_time = "met" if paxos_result.seconds < GOAL_SECONDS else "NOT met"
    print(f"goals: >= {GOAL_RATE:,} states/s: {rate:,.0f} ({met}); paxos exhausted in "
          f"< {GOAL_SECONDS:.0f} s: {paxos_result.seconds:.2f} s ({met_time})")


if __name__ == "__main__":
    main()
