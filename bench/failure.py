"""Failure detectors side by side: message load, detection time, false positives.

Three measurements, each against an anchor measured or computed in the same run:

1. **Message load** per member per protocol period at N = 10, 100, 1,000 (no faults,
   heartbeat interval = SWIM period = 1 s, counted with ``sim.statistics()`` over a window
   of whole periods). Anchors: all-to-all heartbeats send N-1 per member per period
   (linear in N); a heartbeat monitor receives N-1 while each member sends 1; SWIM sends
   one ping and answers one ack on average, about 2, whatever N (Das et al. §3.1).
   N = 1,000 all-to-all is 999,000 messages a period: it is measured over one period only.
2. **Detection time** of SWIM vs N: a few members crash at once, mid-run; we measure, in
   protocol periods, the time from the crash to the *first* failed probe of each crashed
   member (its first suspicion anywhere), to its confirmation somewhere, and until every
   live member holds it dead. Anchor: the paper's expected time to first detection,
   e/(e-1) = 1.58 periods, independent of N (§3.1: each period a given member is picked by
   nobody with probability (1 - 1/(N-1))^(N-1) -> 1/e), counted in whole periods after
   the one the crash falls in. Our crashes fall at a random moment of a period and a
   probe fails at the end of its period, so the anchor we compare with is
   1/2 + e/(e-1) = 2.08 periods (printed beside e/(e-1)).
3. **False positives vs message loss** for heartbeat (timeout 3.5 intervals), φ accrual
   (Φ = 8), SWIM and SWIM + Lifeguard, N = 20, no crash: false suspicions per member per
   minute, and the share of (monitor, member) time spent wrongly suspecting, from
   :func:`dsys.failure.false_suspicions`. The anchor is the heartbeat detector in the
   same run (``vs hb``: SWIM's false suspicions are its *confirmed* deaths).

Run from the repository root::

    python bench/failure.py [--sizes 10 100 1000] [--quick]

``--quick`` stops at N = 100 and runs fewer seeds and shorter runs.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable, Iterable
from random import Random
from typing import Any

from dsys import Network
from dsys.demos.swim import group, names
from dsys.failure import (
    FailureDetector,
    HeartbeatDetector,
    PhiAccrualDetector,
    Swim,
    false_suspicions,
)
from dsys.trace import Trace

SIZES = (10, 100, 1000)
LOSSES = (0.0, 0.01, 0.05, 0.1, 0.2)
#: e/(e-1): expected protocol periods to the first probe of a crashed member (SWIM §3.1)
FIRST_DETECTION = math.e / (math.e - 1)


def detectors(period: float) -> dict[str, Callable[[], FailureDetector]]:
    """The four detectors, scaled to one heartbeat interval / protocol period."""
    return {
        "heartbeat": lambda: HeartbeatDetector(period, 3.5 * period),
        "phi": lambda: PhiAccrualDetector(period),
        "swim": lambda: Swim(period, 0.3 * period),
        "swim+lifeguard": lambda: Swim(period, 0.3 * period, lifeguard=True),
    }


# ----- 1. message load ---------------------------------------------------------------------


def load(make: Callable[[], FailureDetector], size: int, *, start: float,
         periods: int) -> dict[str, float]:
    """Messages sent per member per period between ``start`` and ``start + periods``."""
    sim = group(make, size, seed=1, trace=False, codec=False)
    sim.run(until=start)
    before = sim.statistics()
    sim.run(until=start + periods)
    after = sim.statistics()
    sent = {node: after.by_node.get(node, {}).get("sent", 0)
            - before.by_node.get(node, {}).get("sent", 0) for node in names(size)}
    received = {node: after.by_node.get(node, {}).get("delivered", 0)
                - before.by_node.get(node, {}).get("delivered", 0) for node in names(size)}
    return {"sent": sum(sent.values()) / size / periods,
            "max_received": max(received.values()) / periods}


def measure_load(sizes: Iterable[int]) -> list[dict[str, Any]]:
    """One row per (N, detector): messages sent per member per period, and the most any
    one member received per period, against the theory."""
    rows = []
    for size in sizes:
        makers = detectors(1.0)
        monitor = names(size)[0]
        cases: list[tuple[str, Callable[[], FailureDetector], str, float]] = [
            ("heartbeat all-to-all", makers["heartbeat"], "N-1", size - 1),
            ("heartbeat to monitor",
             lambda monitor=monitor: HeartbeatDetector(1.0, 3.5, monitor=monitor),
             "(N-1)/N", (size - 1) / size),
            ("swim", makers["swim"], "2", 2.0),
        ]
        for label, make, written, value in cases:
            # all-to-all at N = 1,000: one period (the first: every member beats at t = 0)
            one = size >= 1000 and label == "heartbeat all-to-all"
            start, periods = (0.0, 1) if one else (5.0, 5 if size >= 1000 else 10)
            begun = time.process_time()
            measured = load(make, size, start=start, periods=periods)
            rows.append({"nodes": size, "detector": label, "sent": measured["sent"],
                         "max_received": measured["max_received"], "theory": written,
                         "ratio": measured["sent"] / value, "periods": periods,
                         "cpu": time.process_time() - begun})
    return rows


def load_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'N':>5}  {'detector':<21} {'sent/member/period':>18} {'theory':>8} "
             f"{'ratio':>6} {'max recv/period':>15} {'periods':>7} {'cpu s':>6}"]
    for row in rows:
        lines.append(f"{row['nodes']:>5}  {row['detector']:<21} {row['sent']:>18.2f} "
                     f"{row['theory']:>8} {row['ratio']:>6.2f} {row['max_received']:>15.1f} "
                     f"{row['periods']:>7} {row['cpu']:>6.1f}")
    return "\n".join(lines)


# ----- 2. detection time -------------------------------------------------------------------


def detection(size: int, seed: int, crashes: int, period: float = 1.0
              ) -> list[tuple[float, float, float]]:
    """Crash ``crashes`` members at once at t = 10.37 periods; for each, periods from the
    crash to its first suspicion anywhere, its first confirmation, and the moment every
    live member held it dead."""
    sim = group(lambda: Swim(period, 0.3 * period), size, seed=seed, codec=False)
    crash_at = 10.37 * period
    victims = sorted(_victims(size, crashes, seed))
    for victim in victims:
        sim.at(crash_at, sim.crash, victim)
    horizon = crash_at + 40 * period
    live = set(names(size)) - set(victims)

    def all_know() -> bool:
        return all(sim.nodes[n].detector.suspects(v) for n in live for v in victims)

    sim.run(until=crash_at)
    while sim.now < horizon and not all_know():  # checked once a period: cheap
        sim.run(until=sim.now + period)
    return [_times(sim.trace, victim, crash_at, period, len(live)) for victim in victims]


def _victims(size: int, crashes: int, seed: int) -> list[str]:
    return Random(f"bench/{seed}").sample(names(size), crashes)


def _times(trace: Trace, victim: str, crash_at: float, period: float, live: int
           ) -> tuple[float, float, float]:
    first_suspect = first_confirm = math.inf
    knowers: set[str] = set()
    everyone = math.inf
    for event in trace:
        if event.kind != "note" or event.time < crash_at or event.data.get("peer") != victim:
            continue
        what = event.data.get("event")
        if what == "swim-suspect":
            first_suspect = min(first_suspect, event.time)
        elif what == "suspect":
            first_confirm = min(first_confirm, event.time)
            knowers.add(event.node)
            if len(knowers) == live:
                everyone = min(everyone, event.time)
    return ((first_suspect - crash_at) / period, (first_confirm - crash_at) / period,
            (everyone - crash_at) / period)


def measure_detection(sizes: Iterable[int], quick: bool) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        seeds, crashes = {10: (30, 1), 100: (10, 3), 1000: (2, 10)}.get(size, (3, 3))
        if quick:
            seeds = max(1, seeds // 3)
        begun = time.process_time()
        times = [t for seed in range(seeds) for t in detection(size, seed, crashes)]
        first = [t[0] for t in times]
        rows.append({
            "nodes": size, "crashes": len(times),
            "first": statistics.mean(first), "first_max": max(first),
            "confirmed": statistics.mean(t[1] for t in times),
            "everyone": statistics.mean(t[2] for t in times),
            "theory": FIRST_DETECTION,
            "ratio": statistics.mean(first) / (0.5 + FIRST_DETECTION),
            "cpu": time.process_time() - begun})
    return rows


def detection_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'N':>5} {'crashes':>7}  {'first suspicion':>15} {'max':>5} "
             f"{'e/(e-1)':>7} {'+1/2':>5} {'ratio':>5}  {'confirmed':>9} {'everyone':>8} "
             f"{'cpu s':>6}"]
    for row in rows:
        lines.append(f"{row['nodes']:>5} {row['crashes']:>7}  {row['first']:>15.2f} "
                     f"{row['first_max']:>5.2f} {row['theory']:>7.2f} "
                     f"{row['theory'] + 0.5:>5.2f} {row['ratio']:>5.2f}  "
                     f"{row['confirmed']:>9.2f} {row['everyone']:>8.2f} {row['cpu']:>6.1f}")
    return "\n".join(lines)


# ----- 3. false positives vs loss ----------------------------------------------------------


def measure_false_positives(losses: Iterable[float], *, size: int = 20, seconds: float = 20.0,
                            seeds: int = 2) -> list[dict[str, Any]]:
    period = 0.1
    rows = []
    for loss in losses:
        per: dict[str, tuple[float, float]] = {}
        for name, make in detectors(period).items():
            count = duration = 0.0
            for seed in range(seeds):
                sim = group(make, size, seed=seed, codec=False,
                            network=Network(latency=(0.001, 0.010), drop=loss))
                sim.run(until=seconds)
                wrong = false_suspicions(sim.trace)
                count += len(wrong)
                duration += sum(f.duration for f in wrong)
            minutes = seeds * seconds / 60
            per[name] = (count / size / minutes,
                         duration / (seeds * seconds * size * (size - 1)))
        base = per["heartbeat"][0]
        for name, (rate, share) in per.items():
            rows.append({"loss": loss, "detector": name, "rate": rate, "share": share,
                         "vs_hb": (rate / base) if base else math.nan})
    return rows


def false_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'loss':>5}  {'detector':<15} {'false/member/min':>16} {'time wrong':>10} "
             f"{'vs hb':>6}"]
    for row in rows:
        vs = "-" if math.isnan(row["vs_hb"]) else f"{row['vs_hb']:.3f}"
        lines.append(f"{row['loss']:>5.0%}  {row['detector']:<15} {row['rate']:>16.3f} "
                     f"{row['share']:>10.2e} {vs:>6}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--quick", action="store_true", help="N <= 100, fewer seeds")
    args = parser.parse_args(argv)
    sizes = [n for n in args.sizes if n <= 100] if args.quick else args.sizes
    begun = time.process_time()
    print("1. messages sent per member per protocol period (1 s), no faults")
    print(load_table(measure_load(sizes)))
    print("\n2. SWIM detection time after a crash, in protocol periods (k = 3, no loss)")
    print(detection_table(measure_detection(sizes, args.quick)))
    seeds, seconds = (1, 10.0) if args.quick else (2, 20.0)
    print("\n3. false positives vs message loss (N = 20, no crash, period 0.1 s, "
          f"{seeds} seed(s) x {seconds:.0f} s)")
    print(false_table(measure_false_positives(LOSSES, seeds=seeds, seconds=seconds)))
    print(f"\ntotal cpu: {time.process_time() - begun:.1f} s")


if __name__ == "__main__":
    main()
