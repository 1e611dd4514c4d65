"""Election messages against N, measured beside the textbook counts.

For each cluster size N and each case below, a simulated cluster of
:class:`dsys.demos.election.ElectionServer` nodes elects a leader from scratch on a
reliable network with FIFO links (latency 1-10 ms; Chang and Roberts assume FIFO), and we
count the algorithm's election messages once everyone follows one leader and nothing is
in flight (probes, periodic announcements and the ring's acknowledgements are off or not
counted). The anchors are the textbook counts (Coulouris et al. §15.3; Chang and Roberts
1979; Garcia-Molina 1982), printed beside each measurement:

* ring, one initiator: between ``2N`` (the initiator is the highest node) and ``3N - 1``
  (it is the highest node's successor); both ends are measured;
* ring, all initiate, ids increasing along the ring: ``2N - 1`` election messages, the
  best case, plus ``N`` for the result;
* ring, all initiate, ids decreasing: ``N(N + 1)/2`` plus ``N``, the worst case, O(N²);
* Hirschberg-Sinclair, all initiate (the same ring as the line above): at most
  ``8N(1 + ⌈log2 N⌉)`` probes and replies (Lynch §3.4) plus ``N`` for the result,
  ``O(N log N)``; it beats Chang-Roberts's worst case from N = 32 on;
* bully, the highest node notices: ``N - 1`` Coordinator messages;
* bully, the lowest node notices: at most ``N² - 1``, O(N²) (its ``N - 1`` Elections are
  answered, and every node that answers holds its own election);
* bully, all notice at once: ``N² - 1`` exactly: ``N(N-1)/2`` Elections, as many Answers,
  ``N - 1`` Coordinators;
* lease, one renewal: ``2(N - 1)`` (a request to each node, a reply from each).

``ratio`` is measured over theory (over the bound, where the theory is a bound). ``settle`` is the
virtual time until everyone follows the leader. The run time is bounded: N up to 32 by
default takes a few seconds (bully's worst case at N = 32 is 1023 messages).

Run from the repository root::

    python bench/election.py [--nodes 4 8 16 32] [--seed S]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable
from typing import Any

from dsys import Network, Simulation
from dsys.demos.election import cluster, election_messages, node_ids, settled

NODES = (4, 8, 16, 32)
QUIET = {"probe_interval": None, "announce_interval": None}

#: case -> (algorithm, options for N nodes, theory for N: (as written, low, high))
Case = tuple[str, Callable[[list[str]], dict[str, Any]],
             Callable[[int], tuple[str, int, int]]]
CASES: dict[str, Case] = {
    "ring, one initiator (the highest)": (
        "ring", lambda ids: {"initiators": [ids[-1]], **QUIET},
        lambda n: ("2N (fewest)", 2 * n, 2 * n)),
    "ring, one initiator (its successor)": (
        "ring", lambda ids: {"initiators": [ids[0]], **QUIET},
        lambda n: ("3N-1 (most)", 3 * n - 1, 3 * n - 1)),
    "ring, all, ids increasing": (
        "ring", lambda ids: dict(QUIET),
        lambda n: ("(2N-1) + N", 3 * n - 1, 3 * n - 1)),
    "ring, all, ids decreasing": (
        "ring", lambda ids: {"ring": list(reversed(ids)), **QUIET},
        lambda n: ("N(N+1)/2 + N", n * (n + 1) // 2 + n, n * (n + 1) // 2 + n)),
    "hirschberg-sinclair, ids decreasing": (
        "hirschberg-sinclair", lambda ids: {"ring": list(reversed(ids))},
        lambda n: ("<= 8N(1+lg N)+N", 0, 8 * n * (1 + (n - 1).bit_length()) + n)),
    "bully, the highest notices": (
        "bully", lambda ids: {"initiators": [ids[-1]], **QUIET},
        lambda n: ("N-1", n - 1, n - 1)),
    "bully, the lowest notices": (
        "bully", lambda ids: {"initiators": [ids[0]], **QUIET},
        lambda n: ("<= N²-1", 0, n * n - 1)),
    "bully, all notice": (
        "bully", lambda ids: dict(QUIET),
        lambda n: ("N²-1", n * n - 1, n * n - 1)),
}


def elect(algorithm: str, nodes: int, seed: int, **options: Any) -> Simulation:
    """Run an election from scratch until everyone follows one leader and the network
    is quiet again."""
    sim = cluster(algorithm, nodes, seed, network=Network(fifo=True), trace=False,
                  **options)
    if not sim.run_until(settled, timeout=60.0):
        raise RuntimeError(f"{algorithm} with {nodes} nodes did not elect ({options})")
    sim.settle_time = sim.now  # type: ignore[attr-defined]
    sim.run(until=sim.now + 1.0)
    return sim


def lease_renewal(nodes: int, seed: int) -> tuple[int, float]:
    """Messages of one lease renewal (those between two renewals of a settled leader)."""
    sim = cluster("lease", nodes, seed, trace=False, duration=1.0)
    if not sim.run_until(settled, timeout=60.0):
        raise RuntimeError(f"no lease with {nodes} nodes")
    settle = sim.now
    sim.run(until=sim.now + 2.0)  # steady state: one renewal every duration / 2
    before = election_messages(sim, "lease")
    sim.run(until=sim.now + 5.0)
    return round((election_messages(sim, "lease") - before) / 10), settle


def measure(nodes: Iterable[int] = NODES, seed: int = 1) -> list[dict[str, Any]]:
    """One row per (case, N): messages, theory, ratio, settle time, CPU time."""
    rows = []
    for n in nodes:
        ids = node_ids(n)
        for case, (algorithm, options, theory) in CASES.items():
            started = time.process_time()
            sim = elect(algorithm, n, seed, **options(ids))
            sent = election_messages(sim, algorithm)
            written, low, high = theory(n)
            rows.append({"case": case, "nodes": n, "messages": sent, "theory": written,
                         "low": low, "high": high, "ratio": sent / high,
                         "settle": sim.settle_time,  # type: ignore[attr-defined]
                         "cpu": time.process_time() - started})
        started = time.process_time()
        sent, settle = lease_renewal(n, seed)
        rows.append({"case": "lease, one renewal", "nodes": n, "messages": sent,
                     "theory": "2(N-1)", "low": 2 * (n - 1), "high": 2 * (n - 1),
                     "ratio": sent / (2 * (n - 1)), "settle": settle,
                     "cpu": time.process_time() - started})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table."""
    lines = [f"{'case':<37} {'N':>3} {'messages':>9} {'theory':>16} {'value':>11} "
             f"{'ratio':>6} {'settle':>9} {'cpu':>7}"]
    for row in rows:
        value = str(row["high"])
        lines.append(
            f"{row['case']:<37} {row['nodes']:>3} {row['messages']:>9} {row['theory']:>16} "
            f"{value:>11} {row['ratio']:>6.2f} {row['settle'] * 1000:>7.1f}ms "
            f"{row['cpu']:>6.2f}s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=list(NODES))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rows = measure(args.nodes, args.seed)
    print(f"election messages from scratch (seed {args.seed}, latency 1-10 ms, FIFO links, "
          "no faults; theory = the textbook count)")
    print(table(rows))
    off = [r for r in rows if not r["low"] <= r["messages"] <= r["high"]]
    print("within the textbook counts: " + ("yes" if not off else f"NO, {len(off)} rows"))
    print("(a bound is printed as its value; ratio < 1 there means below the bound)")


if __name__ == "__main__":
    main()
