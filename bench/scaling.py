"""Scale-out in the simulator: routing policies, throughput, membership changes, elasticity.

Five measurements, each printed beside an anchor measured or computed in the same run
(no assertions: a bench reports). Servers serve one request at a time with exponential
service times of 10 ms (100 requests a second each); the network takes 0.1 to 0.2 ms;
the harnesses are :mod:`dsys.demos.scaling`'s, as in the tests and the docs' plots.

1. **Balls into bins, through the balancer.** ``n`` requests that never finish, sent one
   after another through the :class:`~dsys.scaling.Balancer` to ``n`` servers: the most
   any server got. Anchors (computed): ``ln n / ln ln n`` for random routing, ``ln ln n /
   ln 2`` for two choices (Azar, Broder, Karlin and Upfal 1994). Both leave out constant
   terms, so compare how they grow with ``n``; round robin and least-outstanding fill
   every server once.
2. **Policies against utilization and N.** Poisson arrivals at utilization 0.5 to 0.95 of
   N = 10 and 100 servers, each policy: p50 and p99 latency, the longest queue ever and
   the mean over 100 moments of the longest queue at that moment. Anchors (computed): for
   random routing, the M/M/1 p99 ``ln(100) s / (1 - u)`` (a random split of a Poisson
   stream is Poisson: random routing makes N independent M/M/1 queues); for the longest
   queue at a moment, the supermarket model's ``ln N / ln(1/u)`` (random) and
   ``log2(1 + ln N / ln(1/u))`` (two choices) (Mitzenmacher 2001). The runs are finite
   (``--requests`` per server, the first fifth left out), and an M/M/1 queue at 0.95 takes
   about 1,500 service times to forget its empty start, so at 0.95 the measured tail of
   random routing falls short of the steady-state anchor.
3. **Throughput against the number of servers.** A closed loop (4 users a server, no
   think time) behind a balancer that spends 0.5 ms on each request (so it forwards 2,000
   a second at most), least-outstanding routing. Anchor: ``min(100 N, 2000)``.
4. **p99 latency while the pool changes.** 10 servers at 70%; at t = 4 s the last one is
   removed (it drains), at t = 8 s a spare one is added. p99 by phase, and the fraction of
   keys (2,000, each seen before the removal and after the addition) whose server
   changed. Anchor: for consistent hashing, the fraction the two rings themselves give
   the same keys (computed from :class:`dsys.naming.ConsistentHashRing`); for the others,
   ``1 - 1/N``, a fresh server each time.
5. **Elasticity.** The demo's workload (:data:`dsys.demos.scaling.DEMAND`: 10 requests a
   second, up to 40 and back) on an autoscaled pool of 20 servers of 100 ms: demand,
   capacity and p99 every 15 s. Then a step from 12 to 48 requests a second: the time
   until enough servers serve, against
   :meth:`~dsys.scaling.TargetUtilization.step_bound`; and a steady load at the target,
   with and without hysteresis: changes and reversals in 300 s.

Run from the repository root::

    python bench/scaling.py [--quick] [--requests 2000]

``--quick`` runs fewer seeds, shorter runs and N = 10 only in measurement 2.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import time
from collections.abc import Iterable, Sequence

import attrs

from dsys.demos.scaling import (
    BOOT,
    DEMO_SERVICE,
    INTERVAL,
    POLICY,
    SERVICE,
    WINDOW,
    AutoscaleRun,
    ChangeRun,
    PolicyRun,
    autoscaled,
    balls_into_bins,
    measure_policy,
    measure_throughput,
    membership_change,
    names,
)
from dsys.naming import ConsistentHashRing
from dsys.scaling import POLICIES, RateSchedule
from dsys.scaling.theory import (
    max_load_one_choice,
    max_load_two_choices,
    mm1_sojourn_quantile,
    supermarket_max_queue,
)

UTILIZATIONS = (0.5, 0.7, 0.8, 0.9, 0.95)
SIZES = (10, 100)
COST = 0.0005
SERVER_COUNTS = (1, 2, 4, 8, 12, 16, 20, 24, 32, 48, 64)


# ----- 1. balls into bins ------------------------------------------------------------------


def measure_bins(sizes: Iterable[int], seeds: int) -> str:
    lines = [f"{'n':>5}  {'policy':<18} {'fullest: mean':>13} {'min':>4} {'max':>4}  "
             f"{'theory':>14}"]
    for n in sizes:
        runs = seeds if n <= 100 else max(2, seeds // 5)
        for policy, theory in (("random", f"ln n/ln ln n = {max_load_one_choice(n):.2f}"),
                               ("two-choices", f"ln ln n/ln 2 = {max_load_two_choices(n):.2f}"),
                               ("round-robin", "1"), ("least-outstanding", "1")):
            loads = [balls_into_bins(policy, n, seed=s) for s in range(1, runs + 1)]
            lines.append(f"{n:>5}  {policy:<18} {statistics.fmean(loads):>13.2f} "
                         f"{min(loads):>4} {max(loads):>4}  {theory:>14}")
    return "\n".join(lines)


# ----- 2. policies against utilization -----------------------------------------------------


def policy_table(sizes: Iterable[int], requests: int) -> str:
    lines = [f"{'N':>4} {'util':>5}  {'policy':<18} {'p50 ms':>7} {'p99 ms':>7} "
             f"{'M/M/1 p99':>9}  {'max queue':>9} {'at a moment':>11} {'theory':>7} "
             f"{'cpu s':>6}"]
    for n in sizes:
        for u in UTILIZATIONS:
            for policy in POLICIES:
                begun = time.process_time()
                run = measure_policy(policy, servers=n, utilization=u, seed=1,
                                     requests_per_server=requests)
                lines.append(_policy_line(run, time.process_time() - begun))
            lines.append("")
    return "\n".join(lines).rstrip()


def _policy_line(run: PolicyRun, cpu: float) -> str:
    mm1 = theory = "-"
    if run.policy == "random":
        p99 = mm1_sojourn_quantile(0.99, utilization=run.utilization, mean_service=SERVICE)
        mm1 = f"{p99 * 1000:.0f}"
        theory = f"{supermarket_max_queue(run.servers, run.utilization, d=1):.1f}"
    elif run.policy == "two-choices":
        theory = f"{supermarket_max_queue(run.servers, run.utilization, d=2):.1f}"
    return (f"{run.servers:>4} {run.utilization:>5.2f}  {run.policy:<18} "
            f"{run.p50 * 1000:>7.1f} {run.p99 * 1000:>7.1f} {mm1:>9}  {run.max_queue:>9} "
            f"{run.mean_max_queue:>11.1f} {theory:>7} {cpu:>6.1f}")


# ----- 3. throughput -----------------------------------------------------------------------


def throughput_table(counts: Sequence[int], requests: int) -> str:
    lines = [f"{'servers':>7} {'throughput/s':>12} {'min(100N, 2000)':>15} {'ratio':>6} "
             f"{'p99 ms':>7}"]
    for n in counts:
        run = measure_throughput(n, cost=COST, requests=requests)
        anchor = min(n / SERVICE, 1 / COST)
        lines.append(f"{n:>7} {run.throughput:>12.0f} {anchor:>15.0f} "
                     f"{run.throughput / anchor:>6.2f} {run.p99 * 1000:>7.1f}")
    return "\n".join(lines)


# ----- 4. p99 while the pool changes -------------------------------------------------------


def ring_moved(servers: int, keys: int = 2000) -> float:
    """The fraction of keys ``k0``... whose owner differs between the ring of the first
    ``servers`` servers and the ring without the last of them, with one spare added."""
    everyone = names(servers + 1)
    before = ConsistentHashRing(everyone[:servers])
    after = ConsistentHashRing([*everyone[:servers - 1], everyone[servers]])
    return sum(before.owner(f"k{i}") != after.owner(f"k{i}") for i in range(keys)) / keys


def _phase(runs: Sequence[ChangeRun], start: float, end: float) -> float:
    """The mean over runs of the largest window p99 between ``start`` and ``end``."""
    return statistics.fmean(r.p99_between(start, end) for r in runs)


def change_table(seeds: int) -> str:
    lines = [f"{'policy':<18} {'p99 before':>10} {'after remove':>12} {'after add':>9}  "
             f"{'keys moved':>10} {'anchor':>6}"]
    for policy in POLICIES:
        runs = [membership_change(policy, seed=s) for s in range(1, seeds + 1)]
        removed, added = runs[0].removed, runs[0].added
        anchor = ring_moved(10) if policy == "consistent-hash" else 1 - 1 / 10
        lines.append(f"{policy:<18} {_phase(runs, 1.0, removed) * 1000:>10.1f} "
                     f"{_phase(runs, removed, added) * 1000:>12.1f} "
                     f"{_phase(runs, added, 2 * added - removed) * 1000:>9.1f}  "
                     f"{statistics.fmean(r.moved for r in runs):>10.3f} {anchor:>6.3f}")
    return "\n".join(lines) + ("\n(p99 in ms: the largest of the 0.5 s windows of each "
                               f"phase, averaged over {seeds} seeds)")


# ----- 5. elasticity -----------------------------------------------------------------------


def timeline_table(run: AutoscaleRun, every: float = 15.0) -> str:
    lines = [f"{'t s':>5} {'demand/s':>8} {'capacity/s':>10} {'serving':>7} {'on':>3} "
             f"{'p99 ms':>7}"]
    for t, demand, capacity, serving, provisioned in run.timeline:
        if t % every or t >= run.timeline[-1][0]:
            continue
        p99 = run.p99_between(t, t + every)
        lines.append(f"{t:>5.0f} {demand:>8.0f} {capacity:>10.0f} {serving:>7} "
                     f"{provisioned:>3} {p99 * 1000:>7.0f}")
    return "\n".join(lines)


def step_table(seeds: int) -> str:
    low, high, at = 12.0, 48.0, 60.0
    demand = RateSchedule(((0, low), (at, low), (at, high)))
    needed = math.ceil(high * DEMO_SERVICE / POLICY.high)
    bound = POLICY.step_bound(2, math.ceil(high * DEMO_SERVICE / POLICY.target),
                              interval=INTERVAL, window=WINDOW, boot=BOOT)
    follow = []
    for seed in range(1, seeds + 1):
        run = autoscaled(seed, demand=demand, until=200.0)
        follow.append(next(t for t, _, _, s, _ in run.timeline if t >= at and s >= needed) - at)
    return (f"step 12 -> 48 requests/s at t = 60 s: {needed} servers needed (utilization "
            f"<= {POLICY.high:.0%}) after {statistics.fmean(follow):.1f} s on average, "
            f"{max(follow):.0f} s at worst ({seeds} seeds); bound (step_bound): {bound:.0f} s")


def flapping_table(seeds: int) -> str:
    lines = [f"{'policy':<42} {'changes/300 s':>13} {'reversals':>9}"]
    steady = RateSchedule.constant(60.0)
    band = f"band {POLICY.low:.0%}-{POLICY.high:.0%}"
    stable = f"stabilization {POLICY.stabilization:g} s"
    variants = ((f"{band}, {stable}", POLICY),
                (f"{band}, no stabilization", attrs.evolve(POLICY, stabilization=0.0)),
                (f"no band, {stable}", attrs.evolve(POLICY, low=POLICY.target,
                                                    high=POLICY.target)),
                ("no band, no stabilization (no hysteresis)",
                 attrs.evolve(POLICY, low=POLICY.target, high=POLICY.target,
                              stabilization=0.0)))
    for label, policy in variants:
        runs = [autoscaled(s, demand=steady, until=300.0, initial=10, policy=policy)
                for s in range(1, seeds + 1)]
        changes = statistics.fmean(len(r.changes) for r in runs)
        flips = statistics.fmean(sum(1 for a, b in itertools.pairwise(r.changes)
                                     if (a[2] - a[1]) * (b[2] - b[1]) < 0) for r in runs)
        lines.append(f"{label:<42} {changes:>13.1f} {flips:>9.1f}")
    return "\n".join(lines) + (f"\n(10 servers at exactly the 60% target, {seeds} seeds; "
                               "a change every interval is possible: 150 in 300 s)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds, shorter runs")
    parser.add_argument("--requests", type=int, default=None,
                        help="requests per server in measurement 2 (default 3000, quick 600)")
    args = parser.parse_args(argv)
    quick = args.quick
    requests = args.requests or (600 if quick else 3000)
    seeds = 3 if quick else 10
    begun = time.process_time()
    print("1. balls into bins through the balancer: n requests that never finish on n "
          f"servers ({seeds * 2} seeds; n = 1000: fewer)")
    print(measure_bins((10, 100) if quick else (10, 100, 1000), seeds * 2))
    print(f"\n2. policies against utilization: Poisson arrivals, exponential service "
          f"(10 ms), {requests} requests a server, seed 1")
    print(policy_table((10,) if quick else SIZES, requests))
    print(f"\n3. throughput against servers: closed loop, the balancer costs "
          f"{COST * 1000:.1f} ms a request")
    print(throughput_table(SERVER_COUNTS, 2000 if quick else 6000))
    print("\n4. p99 latency while a server is removed (t = 4 s) and one added (t = 8 s): "
          "10 servers at 70%")
    print(change_table(seeds))
    print(f"\n5. elasticity: the demo's demand on an autoscaled pool (servers of "
          f"{DEMO_SERVICE * 1000:.0f} ms, target {POLICY.target:.0%}, band {POLICY.low:.0%}-"
          f"{POLICY.high:.0%}, window {WINDOW:g} s, cooldown {POLICY.cooldown:g} s, "
          f"stabilization {POLICY.stabilization:g} s, boot {BOOT:g} s)")
    print(timeline_table(autoscaled(1)))
    print(step_table(seeds))
    print(flapping_table(max(2, seeds // 2)))
    print(f"\ntotal cpu: {time.process_time() - begun:.1f} s")


if __name__ == "__main__":
    main()
