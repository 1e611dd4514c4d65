"""Messages per critical section entry, measured against the textbook numbers.

For each algorithm in :mod:`dsys.mutex` and each cluster size, a simulated cluster of
workload nodes (see :class:`dsys.mutex.Workload`) makes ``requests`` requests per node;
we count the algorithm's messages with ``sim.statistics().by_type`` when the last node
leaves the critical section, and divide by the number of entries.

The anchor is the theory (Coulouris et al. §15.2; Tanenbaum & van Steen §6.3):

* central coordinator: 3 per entry (request, grant, release);
* Ricart-Agrawala: 2(N - 1) per entry (N - 1 requests, N - 1 replies);
* token ring: 1 to unbounded: near 1 when every node always wants to enter, many when
  the token circles an idle ring.

Two loads: ``light``, nodes think 1-3 s between requests (they rarely compete), and
``heavy``, nodes request again as soon as they leave. Holding the critical section takes
1-5 ms; message latency is uniform 1-10 ms; no faults.

Run from the repository root::

    python bench/mutex_messages.py [--nodes 3 5 10 20] [--requests R] [--seed S]
"""

from __future__ import annotations

import argparse
from typing import Any

from dsys.demos.mutex_workload import entries, finished, simulate
from dsys.mutex import ALGORITHMS

#: Think time between requests, uniform (seconds), per load.
LOADS: dict[str, tuple[float, float]] = {"light": (1.0, 3.0), "heavy": (0.0, 0.0)}
NODES = (3, 5, 10, 20)


def theory(algorithm: str, nodes: int) -> tuple[str, float | None]:
    """The textbook messages per entry: (as written, exact value or None)."""
    if algorithm == "central":
        return "3", 3.0
    if algorithm == "ricart-agrawala":
        return f"2(N-1) = {2 * (nodes - 1)}", float(2 * (nodes - 1))
    return "1 to inf", None


def measure(nodes: tuple[int, ...] = NODES, loads: tuple[str, ...] = ("light", "heavy"), *,
            requests: int = 10, seed: int = 1) -> list[dict[str, Any]]:
    """One row per (algorithm, nodes, load): entries, messages, per_entry and theory."""
    rows = []
    for name, algorithm in ALGORITHMS.items():
        for count in nodes:
            for load in loads:
                sim = simulate(algorithm, nodes=count, seed=seed, think=LOADS[load],
                               requests=requests, trace=False)
                if not sim.run_until(finished, timeout=3600.0):
                    raise RuntimeError(f"{name} with {count} nodes ({load}) did not finish")
                by_type: Any = sim.statistics().by_type
                sent = sum(by_type.get(t.__name__, {}).get("sent", 0)
                           for t in algorithm.messages)
                done = entries(sim)
                written, exact = theory(name, count)
                rows.append({
                    "algorithm": name, "nodes": count, "load": load, "entries": done,
                    "messages": sent, "per_entry": sent / done,
                    "theory": written, "theory_value": exact,
                })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table."""
    lines = [f"{'algorithm':<16} {'N':>3} {'load':<6} {'entries':>8} {'messages':>9} "
             f"{'per entry':>10}  theory"]
    for row in rows:
        lines.append(
            f"{row['algorithm']:<16} {row['nodes']:>3} {row['load']:<6} {row['entries']:>8} "
            f"{row['messages']:>9} {row['per_entry']:>10.2f}  {row['theory']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=list(NODES))
    parser.add_argument("--requests", type=int, default=10, help="requests per node")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rows = measure(tuple(args.nodes), requests=args.requests, seed=args.seed)
    print(f"messages per critical section entry ({args.requests} requests per node, "
          f"seed {args.seed}, latency 1-10 ms, hold 1-5 ms; light: think 1-3 s, heavy: none)")
    print(table(rows))
    off = [r for r in rows if r["theory_value"] is not None and r["per_entry"] != r["theory_value"]]
    print("exact theory matched: " + ("yes" if not off else f"NO, {len(off)} rows differ"))


if __name__ == "__main__":
    main()
