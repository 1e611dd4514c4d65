"""Benchmark: the linearizability checker on Porcupine's test histories.

Checks every file listed in ``shared/data/porcupine/VERDICTS.txt`` in one process, and
prints the time per file, the totals, and the largest search state counts (configurations
explored). Each verdict is compared with the expected one.

The anchor is Porcupine, the Go checker these histories come from: its authors report it
checks all 102 etcd logs in about 1.3 s and the six kv logs in about 0.5 s (c50-ok in
0.40 s). Those are QUOTED figures, not measured here (there is no Go toolchain in this
project); the ratios below compare our measured time against them. Goal: within 3x.

Run from the repository root::

    python bench/lin_check.py [--data DIR] [--top N] [--repeat R]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dsys.check import History, check_linearizable

# Quoted Porcupine figures, in seconds (see the module docstring).
ANCHOR_ETCD_TOTAL = 1.3
ANCHOR_KV_TOTAL = 0.5
ANCHOR_C50_OK = 0.40
GOAL_RATIO = 3.0
GOAL_FILE_MAX = 2.0


def default_data_dir() -> Path:
    # The repository's parent holds shared/ beside it, as in CI.
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "porcupine"


def model_for(name: str) -> str:
    return "kv" if name.startswith("kv/") else "cas-register"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--top", type=int, default=10, help="show the N slowest files")
    parser.add_argument("--repeat", type=int, default=1, help="best of R runs per file")
    args = parser.parse_args(argv)

    verdicts_file = args.data / "VERDICTS.txt"
    if not verdicts_file.exists():
        print(f"no test data at {args.data}", file=sys.stderr)
        return 2
    cases = []
    for line in verdicts_file.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, expected = line.split()
            cases.append((name, expected))

    rows = []  # (name, seconds, configurations, verdict, expected)
    wrong = 0
    reading = 0.0
    for name, expected in cases:
        started = time.perf_counter()
        history = History.read(args.data / name)  # timed apart: the ratios are for checking
        reading += time.perf_counter() - started
        best = float("inf")
        result = None
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = check_linearizable(history, model_for(name))
            best = min(best, time.perf_counter() - started)
        assert result is not None
        wrong += result.verdict != expected
        rows.append((name, best, result.configurations, str(result.verdict), expected))

    print(f"{'file':<24}{'seconds':>9}{'configurations':>16}  verdict")
    for name, seconds, configurations, verdict, expected in rows:
        mark = "" if verdict == expected else f"   WRONG (expected {expected})"
        print(f"{name:<24}{seconds:>9.3f}{configurations:>16,}  {verdict}{mark}")

    etcd = sum(seconds for name, seconds, *_ in rows if name.startswith("jepsen/"))
    kv = sum(seconds for name, seconds, *_ in rows if name.startswith("kv/"))
    c50_ok = next((seconds for name, seconds, *_ in rows if name == "kv/c50-ok.txt"), 0.0)
    slowest = sorted(rows, key=lambda row: -row[1])[: args.top]
    largest = sorted(rows, key=lambda row: -row[2])[: args.top]
    n_etcd = sum(name.startswith("jepsen/") for name, *_ in rows)
    n_kv = sum(name.startswith("kv/") for name, *_ in rows)

    print()
    print(f"slowest {len(slowest)}: " + ", ".join(f"{n} {s:.3f}s" for n, s, *_ in slowest))
    print("largest search: " + ", ".join(f"{n} {c:,}" for n, _, c, *_ in largest[:5]))
    print()
    print("ratios against Porcupine's QUOTED figures (not measured here):")
    print(
        f"  etcd ({n_etcd} logs) {etcd:7.3f} s  vs 1.3 s   ratio {etcd / ANCHOR_ETCD_TOTAL:5.2f}x"
    )
    print(f"  kv   ({n_kv} logs)   {kv:7.3f} s  vs 0.5 s   ratio {kv / ANCHOR_KV_TOTAL:5.2f}x")
    print(f"  c50-ok          {c50_ok:7.3f} s  vs 0.40 s  ratio {c50_ok / ANCHOR_C50_OK:5.2f}x")
    total = etcd + kv
    anchor_total = ANCHOR_ETCD_TOTAL + ANCHOR_KV_TOTAL
    print(
        f"  all {len(rows)} files    {total:7.3f} s  vs 1.8 s   ratio {total / anchor_total:5.2f}x"
    )
    worst = max((seconds for _, seconds, *_ in rows), default=0.0)
    met = total <= GOAL_RATIO * anchor_total and worst <= GOAL_FILE_MAX
    print(
        f"goal (within {GOAL_RATIO:g}x: all files in <= {GOAL_RATIO * anchor_total:.1f} s, "
        f"none over {GOAL_FILE_MAX:g} s): {'met' if met else 'NOT met'}"
        f" (slowest file {worst:.3f} s)"
    )
    print(f"reading and parsing all files (not in the ratios): {reading:.3f} s")
    print(f"verdicts: {len(rows) - wrong} of {len(rows)} as expected")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
