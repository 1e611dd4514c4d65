"""MapReduce in the simulator: speed-up with workers, a straggler, backup tasks, crashes.

Three measurements, each printed beside an anchor measured or computed in the same run (no
assertions: a bench reports). The job is a word count (:mod:`dsys.demos.mapreduce`'s
harness, as in the tests and the concept page's plot): ``--documents`` map tasks of 2,000
words (about 1 s of work each at speed 1; a combiner sums each task's counts), 8 reduce tasks
(short: they add up the combined counts), a store of 10 MB/s reads and
5 MB/s writes, 1 to 5 ms network latency, a lease of 1 s.

1. **Speed-up against the number of workers.** Completion time for 1 to 48 workers, and
   the speed-up over one worker. Anchor (computed from the one-worker run's task times):
   per phase, ``max(ceil(tasks/n) * mean task, longest task)``: no scheduler does better
   when every task takes its one-worker time. Speed-up stops once ``n`` reaches the
   number of map tasks ``M``: from there each phase is one wave.
2. **One straggler, backups on and off.** The same job on 8 workers, one of them
   (``w1``) at a tenth of normal speed, with and without backup tasks, and with no
   straggler. Anchor: the MapReduce paper (Dean and Ghemawat, OSDI 2004, section 5.3,
   figure 3) reports its sort 44% slower with backup tasks disabled (1283 s against
   891 s); here, how much slower the job is without backups, against how much slower
   the straggler makes it with them.
3. **Re-executed tasks under crashes.** 8 workers, ``k`` workers crashed at random in the
   first 5 s (each back 0.5 to 3 s later): completion time, attempts re-executed and
   backups, averaged over seeds. Anchor: one re-execution per crash that hits a worker
   while it runs a task (counted from the trace), and the fault-free time.

Run from the repository root::

    python bench/mapreduce.py [--quick] [--documents 32]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Any

from dsys.demos.mapreduce import JobRun, completion_time

WORKERS = (1, 2, 4, 8, 16, 32, 48)
REDUCERS = 8


def speedup(documents: int, counts: tuple[int, ...], seed: int = 1) -> None:
    print(f"1. speed-up: word count, {documents} map tasks, {REDUCERS} reduce tasks")
    runs = {n: completion_time(n, seed, documents=documents, reducers=REDUCERS)
            for n in counts}
    one = runs[counts[0]]
    # The one-worker run ran every task once: its task times give the bound.
    maps = [t for task, t in one.took if task.startswith("map-")]
    reduces = [t for task, t in one.took if task.startswith("reduce-")]
    print(f"   one worker: map tasks {statistics.mean(maps):.2f} s each (longest "
          f"{max(maps):.2f}), reduce tasks {statistics.mean(reduces):.2f} s (longest "
          f"{max(reduces):.2f})")
    print(f"   {'workers':>7} {'time (s)':>9} {'speed-up':>9} {'bound (s)':>10} "
          f"{'bound speed-up':>15} {'backups':>8}")
    for n, run in runs.items():
        bound = phase_bound(maps, n) + phase_bound(reduces, n)
        print(f"   {n:>7} {run.time:>9.2f} {one.time / run.time:>9.2f} {bound:>10.2f} "
              f"{one.time / bound:>15.2f} {run.backups:>8}")


def phase_bound(times: list[float], workers: int) -> float:
    """No schedule of these tasks on ``workers`` workers ends sooner: whole waves of the
    mean task, and never before the longest task."""
    waves = math.ceil(len(times) / workers)
    return max(waves * statistics.mean(times), max(times))


def straggler(documents: int, seeds: range) -> None:
    print("\n2. one straggler at 1/10 speed among 8 workers (mean of "
          f"{len(seeds)} seeds)")
    cases: dict[str, dict[str, Any]] = {"no straggler, backups": dict(backups=True),
             "straggler, backups": dict(backups=True, straggler=0.1),
             "straggler, no backups": dict(backups=False, straggler=0.1),
             "no straggler, no backups": dict(backups=False)}
    means = {}
    for label, options in cases.items():
        runs: list[JobRun] = [completion_time(8, seed, documents=documents, reducers=REDUCERS,
                                              **options) for seed in seeds]
        means[label] = statistics.mean(r.time for r in runs)
        print(f"   {label:<26} {means[label]:>7.2f} s   backups run "
              f"{statistics.mean(r.backups for r in runs):5.1f}   all checks ok "
              f"{all(r.ok for r in runs)}")
    slower = means["straggler, no backups"] / means["straggler, backups"] - 1
    cost = means["straggler, backups"] / means["no straggler, backups"] - 1
    print(f"   without backups the job takes {slower:+.0%} longer (paper's sort: +44%); "
          f"with them the straggler costs {cost:+.0%}")


def crashes(documents: int, seeds: range) -> None:
    print(f"\n3. crashes: 8 workers, k crashed at random in the first 5 s (mean of "
          f"{len(seeds)} seeds)")
    print(f"   {'k':>3} {'time (s)':>9} {'re-executed':>12} {'crashes mid-task':>17} "
          f"{'backups':>8} {'checks ok':>10}")
    for k in (0, 1, 2, 4, 8):
        runs = [completion_time(8, seed, documents=documents, reducers=REDUCERS, crashes=k)
                for seed in seeds]
        print(f"   {k:>3} {statistics.mean(r.time for r in runs):>9.2f} "
              f"{statistics.mean(r.reexecuted for r in runs):>12.2f} "
              f"{statistics.mean(r.interrupted for r in runs):>17.2f} "
              f"{statistics.mean(r.backups for r in runs):>8.2f} "
              f"{all(r.ok for r in runs)!s:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds and worker counts")
    parser.add_argument("--documents", type=int, default=32, help="map tasks (default 32)")
    args = parser.parse_args()
    started = time.process_time()
    seeds = range(3) if args.quick else range(10)
    speedup(args.documents, WORKERS[:5] if args.quick else WORKERS)
    straggler(args.documents, seeds)
    crashes(args.documents, seeds)
    print(f"\n({time.process_time() - started:.1f} s of CPU)")


if __name__ == "__main__":
    main()
