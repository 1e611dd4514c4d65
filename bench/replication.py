"""Replication measured: quorum R and W, anti-entropy, four designs on one workload.

Three tables, each printed with the anchor it is compared to, measured in the same run
(no assertions: a bench reports):

1. **Quorums, R against W** (N = 3, every R and W from 1 to 3; home replicas only, no
   sloppy quorum; no failures), under :data:`dsys.demos.quorum.PLOT`, the conditions of
   the plot on the quorums page (here over more seeds): four clients read and write one
   key over a network with a long tail. Get and put latency p50/p99, stale reads (gets
   that missed a put acknowledged before they began:
   :func:`dsys.replication.check_fresh_reads`) and gets that returned siblings.
   Anchors: the R = W = 1 row of the same run (the ``vs R=W=1`` columns: each figure
   over that row's), and the theory that no R + W > N row has a stale read (every read
   quorum shares a replica with every write quorum), summed up under the table.
2. **Anti-entropy**: three replicas of K keys (100, 1,000, 10,000), one of them newer on
   D of them (1, 10, 100); anti-entropy alone (a round every 0.5 s) until every replica
   agrees (:func:`dsys.demos.quorum.measure_anti_entropy`): the virtual time that took
   and the bytes the anti-entropy messages took, with Merkle trees (depth 4, fanout 4)
   and with the full comparison (every key and its digest, every round). Anchor: the
   full comparison in the same run (``Merkle / full``). The simulator charges no time
   for building a tree or hashing, so the time counts the rounds and round trips only
   (mostly the wait for the first round, a random part of the interval; each level of
   the tree adds a round trip): bytes are the cost.
3. **Four designs, one workload**: primary-backup (with its view service), chain
   replication, chain with CRAQ reads (:func:`dsys.demos.pb_chain.measure`) and a
   quorum store, N = 3, R = W = 2, not sloppy
   (:func:`dsys.demos.quorum.measure_workload`: the same workload measured the same
   way, appends sent as puts), on 3 servers: closed-loop clients (no think time), half
   gets, over 3 keys, latency 1-10 ms, no faults. Throughput, latency p50/p99 (each
   client's first operation left out), messages sent per operation and the messages the
   busiest server received per operation. Primary-backup and chain count their pings
   to the view service and the master; the quorum store has no background messages (no
   failure detector, no anti-entropy): an operation takes 1 + 2(N-1) + 1 = 6 messages
   (to the coordinator, to the other replicas and back, to the client), plus read
   repairs. The simulator charges no time for handling a message, so throughput is the
   clients over the latency: it measures each design's path lengths, and the busiest
   server's messages say where load would pile up. Anchor: primary-backup in the same
   run (``vs p-b``). Figures are means over the seeds.

Run from the repository root::

    python bench/replication.py [--seeds 12] [--keys 100 1000 10000]
        [--divergent 1 10 100] [--ae-seeds 3] [--clients 8] [--ops 100] [--runs 3]

The default run takes about 30 s of CPU.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Iterable, Sequence
from typing import Any

from dsys.demos.pb_chain import DESIGNS, Measurement, measure
from dsys.demos.quorum import (
    PLOT,
    QuorumMeasurement,
    measure_anti_entropy,
    measure_workload,
    sweep_quorums,
)

KEYS = (100, 1000, 10000)
DIVERGENT = (1, 10, 100)
#: The designs of the third table, the anchor first.
ALL_DESIGNS = (*DESIGNS, "quorum")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def ratio(value: float, anchor: float) -> str:
    if not anchor:
        return "-" if not value else "inf"
    return f"{value / anchor:.2f}"


# ----- 1. quorums: R against W --------------------------------------------------------------


def quorum_table(found: Sequence[QuorumMeasurement]) -> str:
    """One row per (R, W), with each figure over the R = W = 1 row's; then the R + W > N
    rows' stale reads summed, beside the theory's none."""
    anchor = next(m for m in found if m.r == 1 and m.w == 1)
    lines = [f"{'R':>2} {'W':>2}  {'R+W>N':<5}  {'get p50':>7} {'p99':>6}  {'put p50':>7} "
             f"{'p99':>6}  {'stale/gets':>10} {'stale':>6} {'siblings':>8}   vs R=W=1: "
             f"{'get p50':>7} {'put p50':>7} {'stale':>6}",
             f"{'':>15}{'ms':>7} {'ms':>6}  {'ms':>7} {'ms':>6}"]
    for m in found:
        strict = m.r + m.w > m.n
        siblings = m.sibling_reads / m.reads if m.reads else 0.0
        lines.append(
            f"{m.r:>2} {m.w:>2}  {'yes' if strict else 'no':<5}  "
            f"{ms(m.get_latency.p50):>7} {ms(m.get_latency.p99):>6}  "
            f"{ms(m.put_latency.p50):>7} {ms(m.put_latency.p99):>6}  "
            f"{f'{m.stale_reads}/{m.reads}':>10} {m.stale_rate:>6.1%} {siblings:>8.0%}   "
            f"{'':>9}{ratio(m.get_latency.p50, anchor.get_latency.p50):>7} "
            f"{ratio(m.put_latency.p50, anchor.put_latency.p50):>7} "
            f"{ratio(m.stale_rate, anchor.stale_rate):>6}")
    strict_rows = [m for m in found if m.r + m.w > m.n]
    loose_rows = [m for m in found if m.r + m.w <= m.n]
    lines.append(
        f"R+W>N: {sum(m.stale_reads for m in strict_rows)} stale reads of "
        f"{sum(m.reads for m in strict_rows)} gets (theory: none); R+W<=N: "
        f"{sum(m.stale_reads for m in loose_rows)} of {sum(m.reads for m in loose_rows)}")
    return "\n".join(lines)


# ----- 2. anti-entropy: Merkle trees against the full comparison ---------------------------


def measure_anti_entropy_rows(keys: Iterable[int], divergent: Iterable[int], seeds: int
                              ) -> list[dict[str, Any]]:
    """One row per (keys, divergent keys) with at most as many divergent as keys: mean
    time and bytes over ``seeds`` seeds, with Merkle trees and the full comparison."""
    rows = []
    for count in keys:
        for differing in divergent:
            if differing > count:
                continue
            row: dict[str, Any] = {"keys": count, "divergent": differing}
            for merkle, name in ((True, "merkle"), (False, "full")):
                runs = [measure_anti_entropy(count, differing, merkle=merkle, seed=seed)
                        for seed in range(seeds)]
                times = [run.time for run in runs]
                row[f"{name}_time"] = (math.nan if any(t is None for t in times)
                                       else statistics.mean(t for t in times if t is not None))
                row[f"{name}_bytes"] = statistics.mean(run.bytes for run in runs)
            rows.append(row)
    return rows


def anti_entropy_table(rows: Sequence[dict[str, Any]]) -> str:
    """Time to agree and bytes sent, Merkle trees beside the full comparison, and their
    ratio (the anchor: the full comparison)."""
    lines = [f"{'keys':>6} {'divergent':>9}   {'Merkle: time s':>14} {'bytes':>9}   "
             f"{'full: time s':>12} {'bytes':>9}   Merkle / full: {'time':>5} {'bytes':>6}"]
    for row in rows:
        lines.append(
            f"{row['keys']:>6,} {row['divergent']:>9,}   {row['merkle_time']:>14.2f} "
            f"{row['merkle_bytes']:>9,.0f}   {row['full_time']:>12.2f} "
            f"{row['full_bytes']:>9,.0f}   {'':>15}"
            f"{ratio(row['merkle_time'], row['full_time']):>5} "
            f"{ratio(row['merkle_bytes'], row['full_bytes']):>6}")
    lines.append("(time: the wait for the first round, then round trips, one more per level of "
                 "the tree;\n the simulator charges nothing for hashing, so it does not grow "
                 "with the keys: bytes are the cost)")
    return "\n".join(lines)


# ----- 3. four designs, one workload --------------------------------------------------------


def measure_designs(*, runs: int = 3, clients: int = 8, ops: int = 100
                    ) -> list[dict[str, Any]]:
    """Each design of :data:`ALL_DESIGNS` on the same workload, once per seed 1..runs:
    the mean of each figure, and the operations summed."""
    rows = []
    for design in ALL_DESIGNS:
        found: list[Measurement] = []
        for seed in range(1, runs + 1):
            if design == "quorum":
                found.append(measure_workload(2, 2, n=3, seed=seed, clients=clients, ops=ops))
            else:
                found.append(measure(design, seed=seed, clients=clients, ops=ops))
        row: dict[str, Any] = {"design": design if design != "quorum" else "quorum R=W=2",
                               "ok": sum(m.ok for m in found),
                               "info": sum(m.info for m in found)}
        for field in ("throughput", "p50", "p99", "messages_per_op", "busiest"):
            row[field] = statistics.mean(getattr(m, field) for m in found)
        rows.append(row)
    return rows


def designs_table(rows: Sequence[dict[str, Any]]) -> str:
    """One row per design; the anchor (primary-backup, the first row) in the ratios."""
    anchor = rows[0]
    lines = [f"{'design':<16} {'ok':>5} {'info':>4}  {'ops/s':>6} {'p50 ms':>6} "
             f"{'p99 ms':>6}  {'msgs/op':>7} {'busiest/op':>10}   vs p-b: {'ops/s':>5} "
             f"{'p50':>5} {'msgs/op':>7} {'busiest':>7}"]
    for row in rows:
        lines.append(
            f"{row['design']:<16} {row['ok']:>5} {row['info']:>4}  {row['throughput']:>6.0f} "
            f"{ms(row['p50']):>6} {ms(row['p99']):>6}  {row['messages_per_op']:>7.2f} "
            f"{row['busiest']:>10.2f}   {'':>7} "
            f"{ratio(row['throughput'], anchor['throughput']):>6} "
            f"{ratio(row['p50'], anchor['p50']):>5} "
            f"{ratio(row['messages_per_op'], anchor['messages_per_op']):>7} "
            f"{ratio(row['busiest'], anchor['busiest']):>7}")
    quorum = next((row for row in rows if row["design"].startswith("quorum")), None)
    if quorum is not None:
        lines.append(f"quorum: {quorum['messages_per_op']:.2f} messages an operation (theory: "
                     "1 + 2(N-1) + 1 = 6, plus read repairs)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seeds", type=int, default=12,
                        help="seeds per (R, W) in table 1 (default 12; the page's plot: 6)")
    parser.add_argument("--keys", type=int, nargs="+", default=list(KEYS),
                        help="key counts of table 2 (default 100 1000 10000)")
    parser.add_argument("--divergent", type=int, nargs="+", default=list(DIVERGENT),
                        help="divergent key counts of table 2 (default 1 10 100)")
    parser.add_argument("--ae-seeds", type=int, default=3,
                        help="seeds per cell of table 2 (default 3)")
    parser.add_argument("--clients", type=int, default=8,
                        help="closed-loop clients in table 3 (default 8)")
    parser.add_argument("--ops", type=int, default=100,
                        help="operations per client in table 3 (default 100)")
    parser.add_argument("--runs", type=int, default=3,
                        help="seeds per design in table 3 (default 3)")
    args = parser.parse_args(argv)
    begun = time.process_time()

    print(f"1. quorums, R against W ({PLOT.describe()}; no sloppy quorum, no failures; "
          f"{args.seeds} seeds; anchor: the R=W=1 row)")
    cpu = time.process_time()
    print(quorum_table(sweep_quorums(PLOT, range(args.seeds))))
    print(f"(cpu {time.process_time() - cpu:.1f} s)")

    print(f"\n2. anti-entropy until every replica agrees (3 replicas, one newer on the "
          f"divergent keys; a round every 0.5 s; mean of {args.ae_seeds} seeds; anchor: "
          "the full comparison)")
    cpu = time.process_time()
    print(anti_entropy_table(measure_anti_entropy_rows(args.keys, args.divergent,
                                                       args.ae_seeds)))
    print(f"(cpu {time.process_time() - cpu:.1f} s)")

    print(f"\n3. four designs, one workload (3 servers, {args.clients} closed-loop clients x "
          f"{args.ops} operations, half gets, 3 keys, latency 1-10 ms, no faults; mean of "
          f"{args.runs} seeds; anchor: primary-backup)")
    cpu = time.process_time()
    print(designs_table(measure_designs(runs=args.runs, clients=args.clients, ops=args.ops)))
    print(f"(cpu {time.process_time() - cpu:.1f} s)")
    print(f"\ntotal cpu: {time.process_time() - begun:.1f} s")


if __name__ == "__main__":
    main()
