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
4. **False positives vs slow members**: the same four detectors, N = 20, no loss, no
   crash; 0, 1, 2 or 4 members are slow for the middle half of the run (every message to
   or from them takes 50 to 150 ms, more than SWIM's probe timeout, less than the
   heartbeat timeout). Anchors: SWIM in the same run (``vs swim``), and the Lifeguard
   paper's claim that Lifeguard cuts SWIM's false positives "by a factor of more than
   50x" under slow message processing (Dadgar, Phillips and Currey 2018), printed beside
   our SWIM / SWIM + Lifeguard ratio.
5. **The trade-off**: each detector's sensitivity knob swept (heartbeat timeout, Φ,
   SWIM's suspicion multiplier) under the conditions of the failure detection page's
   plot (:data:`dsys.demos.detector_tradeoff.PLOT`: 8 members, 5% loss, one slow member,
   two crashes): mean detection time of the crashes against false suspicions per member
   per minute. The page draws the same sweep with the seeds of
   :data:`~dsys.demos.detector_tradeoff.PLOT_SEEDS`; here with more seeds.

Measurements 3 to 5 come from :mod:`dsys.demos.detector_tradeoff`, as the page's plot does.

Run from the repository root::

    python bench/failure.py [--sizes 10 100 1000] [--quick]

``--quick`` stops at N = 100 and runs fewer seeds and shorter runs.
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import time
from collections.abc import Callable, Iterable
from random import Random
from typing import Any

from dsys.demos.detector_tradeoff import (
    KNOBS,
    PLOT,
    PLOT_SEEDS,
    Conditions,
    Outcome,
    measure,
    sweep,
)
from dsys.demos.detector_tradeoff import detector as tradeoff_detector
from dsys.demos.swim import group, names
from dsys.failure import FailureDetector, HeartbeatDetector, Swim
from dsys.trace import Trace

SIZES = (10, 100, 1000)
LOSSES = (0.0, 0.01, 0.05, 0.1, 0.2)
SLOW = (0, 1, 2, 4)
#: e/(e-1): expected protocol periods to the first probe of a crashed member (SWIM §3.1)
FIRST_DETECTION = math.e / (math.e - 1)


def detectors(period: float) -> dict[str, Callable[[], FailureDetector]]:
    """The four detectors with their default knobs, scaled to one heartbeat interval /
    protocol period."""
    return {name: tradeoff_detector(name, period=period) for name in KNOBS}


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
            ("heartbeat to monitor", functools.partial(HeartbeatDetector, 1.0, 3.5,
                                                        monitor=monitor),
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
        watching = [sim.nodes[n].components["detector"] for n in sorted(live)]
        return all(isinstance(d, FailureDetector) and d.suspects(v)
                   for d in watching for v in victims)

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


# ----- 3. and 4. false positives vs loss, vs slow members ----------------------------------


def measure_false_positives(losses: Iterable[float], *, size: int = 20, seconds: float = 20.0,
                            seeds: int = 2) -> list[dict[str, Any]]:
    """One row per (loss, detector): no crash, no slow member."""
    return _false_rows("loss", [(loss, Conditions(size, seconds, loss=loss))
                                for loss in losses], seeds, base="heartbeat")


def measure_slow_members(slow: Iterable[int], *, size: int = 20, seconds: float = 20.0,
                         seeds: int = 2) -> list[dict[str, Any]]:
    """One row per (number of slow members, detector): no loss, no crash."""
    return _false_rows("slow", [(count, Conditions(size, seconds, slow=count))
                                for count in slow], seeds, base="swim")


def _false_rows(label: str, cases: list[tuple[float, Conditions]], seeds: int, *,
                base: str) -> list[dict[str, Any]]:
    """Each detector's false positives in each case, and their ratio to ``base``'s."""
    rows = []
    for value, conditions in cases:
        per = {name: measure(name, conditions, range(seeds)) for name in KNOBS}
        anchor = per[base].false_rate
        for name, outcome in per.items():
            rows.append({label: value, "detector": name, "rate": outcome.false_rate,
                         "share": outcome.wrong_share, "base": base,
                         "vs": (outcome.false_rate / anchor) if anchor else math.nan})
    return rows


def false_table(rows: list[dict[str, Any]]) -> str:
    label = "loss" if "loss" in rows[0] else "slow"
    short = {"heartbeat": "hb", "swim": "swim"}[rows[0]["base"]]
    lines = [f"{label:>5}  {'detector':<15} {'false/member/min':>16} {'time wrong':>10} "
             f"{'vs ' + short:>7}"]
    for row in rows:
        vs = "-" if math.isnan(row["vs"]) else f"{row['vs']:.3f}"
        value = f"{row['loss']:>5.0%}" if label == "loss" else f"{row['slow']:>5}"
        lines.append(f"{value}  {row['detector']:<15} {row['rate']:>16.3f} "
                     f"{row['share']:>10.2e} {vs:>7}")
    return "\n".join(lines)


def lifeguard_ratios(rows: list[dict[str, Any]]) -> str:
    """SWIM's false positives over SWIM + Lifeguard's, per number of slow members."""
    rate = {(row["slow"], row["detector"]): row["rate"] for row in rows}
    parts = []
    for slow in sorted({row["slow"] for row in rows}):
        swim, guarded = rate[slow, "swim"], rate[slow, "swim+lifeguard"]
        parts.append(f"{slow} slow: " + ("-" if not swim else "inf" if not guarded
                                         else f"{swim / guarded:.1f}x"))
    return ("SWIM / SWIM+Lifeguard false positives: " + ", ".join(parts)
            + "  (anchor, quoted: Lifeguard paper, more than 50x under slow processing)")


# ----- 5. the trade-off: each detector's knob swept ----------------------------------------


def tradeoff_table(outcomes: list[Outcome]) -> str:
    lines = [f"{'detector':<15} {'knob':<22} {'value':>6} {'detection s':>11} "
             f"{'detected':>8} {'missed':>6} {'false/member/min':>16}"]
    for o in outcomes:
        lines.append(f"{o.detector:<15} {KNOBS[o.detector].name:<22} {o.knob:>6g} "
                     f"{o.detection:>11.3f} {o.detections:>8} {o.missed:>6} "
                     f"{o.false_rate:>16.2f}")
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
    print("\n4. false positives vs slow members (N = 20, no loss, no crash, period 0.1 s, "
          f"slow for the middle half of the run, 50-150 ms a message; {seeds} seed(s) x "
          f"{seconds:.0f} s)")
    slow_rows = measure_slow_members(SLOW, seeds=seeds, seconds=seconds)
    print(false_table(slow_rows))
    print(lifeguard_ratios(slow_rows))
    chosen = PLOT_SEEDS if args.quick else range(6)
    print(f"\n5. the trade-off: each detector's knob swept (N = {PLOT.size}, loss "
          f"{PLOT.loss:.0%}, {PLOT.slow} slow member, {PLOT.crashes} crashes, "
          f"{PLOT.seconds:.0f} s, {len(chosen)} seeds; the docs' plot: "
          f"{len(PLOT_SEEDS)} seeds)")
    print(tradeoff_table(sweep(PLOT, chosen)))
    print(f"\ntotal cpu: {time.process_time() - begun:.1f} s")


if __name__ == "__main__":
    main()
