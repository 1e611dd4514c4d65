"""Chord: lookup hops against ½·log₂N, and lookups under churn.

1. **Hops** (ToN, Figure 10): random lookups (a random peer, a random identifier)
   in a stable ring of N peers, N from 10 to 1,000, installed at once in its stable state
   (:func:`dsys.demos.chord.measure_hops`), plus N = 100 built by joins as a check that
   a ring stabilization built routes the same. The anchor is the paper's mean path length,
   ``½·log₂N``, printed beside the measured mean with their ratio; and ``log₂N``, the bound
   that no lookup should pass by much. Hops count the nodes a lookup asks; the
   responsible node's predecessor answers the last question, so the count is the number
   of fingers followed (the paper's argument: about half the bits of the distance).
2. **Churn** (ToN, "lookups during stabilization"): N = 100, nodes join and crash
   at a rate R per second (a Poisson process, even odds), for 20 s, while 20 lookups a
   second start at random peers (:func:`dsys.demos.chord.measure_churn`). Stabilization
   runs every 0.5 s on average, so R · 0.5 changes fall in an average stabilization
   period (the paper's runs go up to about 12: R = 0.4 a second, 30 s periods). Reported:
   the share of lookups that failed (no owner found) or named a node that was not the
   live successor when they finished, and the seconds after churn stops until the ring is
   correct again, fingers included. The anchor is the same ring without churn (R = 0) in
   the same run: no failures.

Run from the repository root::

    python bench/chord.py [--sizes 10 100 1000] [--rates 0 1 2 4 8] [--seeds 3] [--quick]

``--quick`` stops at N = 100 and runs one seed.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Iterable
from typing import Any

from dsys.demos.chord import measure_churn, measure_hops

SIZES = (10, 30, 100, 300, 1000)
RATES = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)


def hops(sizes: Iterable[int], seeds: Iterable[int], lookups: int = 2000
         ) -> list[dict[str, Any]]:
    """One row per (size, how): mean and max hops over the seeds, the anchor, CPU time."""
    seeds = list(seeds)
    rows = []
    plan = [(n, "install") for n in sizes] + [(100, "joins")]
    for nodes, how in plan:
        began = time.process_time()
        runs = [measure_hops(nodes, lookups=lookups, seed=seed, how=how) for seed in seeds]
        if any(run.failed or run.wrong for run in runs):
            raise RuntimeError(f"lookups failed or were wrong in a stable ring of {nodes}")
        mean = statistics.mean(run.mean_hops for run in runs)
        anchor = 0.5 * math.log2(nodes)
        rows.append({"nodes": nodes, "how": how, "lookups": lookups * len(runs),
                     "mean": mean, "max": max(run.max_hops for run in runs),
                     "anchor": anchor, "ratio": mean / anchor, "log2": math.log2(nodes),
                     "seconds": (time.process_time() - began) / len(runs)})
    return rows


def churn(rates: Iterable[float], seeds: Iterable[int], nodes: int = 100
          ) -> list[dict[str, Any]]:
    """One row per rate: failed and wrong lookups, recovery time, over the seeds."""
    seeds = list(seeds)
    rows = []
    for rate in rates:
        began = time.process_time()
        runs = [measure_churn(nodes, rate, seed=seed, duration=20.0) for seed in seeds]
        lookups = sum(run.lookups for run in runs)
        recovered = [run.recovered_after for run in runs]
        rows.append({
            "rate": rate, "per_period": runs[0].per_stabilization, "lookups": lookups,
            "joins": sum(run.joins for run in runs), "crashes": sum(run.crashes for run in runs),
            "failed": sum(run.failed for run in runs) / lookups,
            "wrong": sum(run.wrong for run in runs) / lookups,
            "hops": statistics.mean(run.mean_hops for run in runs),
            "recovered": None if None in recovered else max(r for r in recovered if r is not None),
            "seconds": (time.process_time() - began) / len(runs)})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--rates", type=float, nargs="+", default=list(RATES))
    parser.add_argument("--seeds", type=int, default=3, help="runs per row (seeds 0..S-1)")
    parser.add_argument("--quick", action="store_true", help="N <= 100, one seed")
    args = parser.parse_args(argv)
    sizes = [n for n in args.sizes if n <= 100] if args.quick else args.sizes
    seeds = range(1 if args.quick else args.seeds)

    print(f"1. mean lookup hops in a stable ring ({len(seeds)} seed(s), 2000 lookups each; "
          "installed, or built by joins)")
    print(f"{'N':>5} {'ring':<8} {'lookups':>7} {'mean hops':>9} {'anchor ½log2N':>13} "
          f"{'ratio':>5} {'max':>4} {'log2N':>5} {'cpu s/run':>9}")
    for row in hops(sizes, seeds):
        print(f"{row['nodes']:>5} {row['how']:<8} {row['lookups']:>7} {row['mean']:>9.2f} "
              f"{row['anchor']:>13.2f} {row['ratio']:>5.2f} {row['max']:>4} "
              f"{row['log2']:>5.2f} {row['seconds']:>9.2f}")

    print()
    print(f"2. lookups during churn: N = 100, joins and crashes at R per second for 20 s, "
          f"stabilize every 0.5 s on average ({len(seeds)} seed(s); anchor: R = 0)")
    print(f"{'R /s':>5} {'per period':>10} {'joins':>5} {'crashes':>7} {'lookups':>7} "
          f"{'failed':>7} {'wrong':>6} {'mean hops':>9} {'ring right after':>16} "
          f"{'cpu s/run':>9}")
    for row in churn(args.rates, seeds):
        recovered = "never" if row["recovered"] is None else f"{row['recovered']:.1f} s"
        print(f"{row['rate']:>5.1f} {row['per_period']:>10.2f} {row['joins']:>5} "
              f"{row['crashes']:>7} {row['lookups']:>7} {row['failed']:>7.1%} "
              f"{row['wrong']:>6.1%} {row['hops']:>9.2f} {recovered:>16} "
              f"{row['seconds']:>9.2f}")


if __name__ == "__main__":
    main()
