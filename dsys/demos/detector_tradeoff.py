"""Failure detectors measured side by side: how soon each suspects a member that crashed,
and how often it suspects one that is alive.

No detector is both fast and never wrong (see the failure detection page); each has one
*sensitivity knob* that moves it along that trade-off (:data:`KNOBS`): the heartbeat
detector's timeout, φ accrual's threshold Φ, SWIM's suspicion timeout multiplier (with or
without Lifeguard). :func:`measure` runs a group of members with one detector under
:class:`Conditions` (message loss, slow members, crashes) and judges the run with
:func:`~dsys.failure.detection_times` and :func:`~dsys.failure.false_suspicions`;
:func:`sweep` does it for each value of each detector's knob.

``bench/failure.py`` prints false positives against message loss and against slow
members, and the sweep; ``docs/gen_failure_pictures.py`` draws the sweep as the trade-off
plot of the failure detection page. Both measure with this module.

Rules of this file: every run is a pure function of (detector, knob, conditions, seed):
which members crash and which are slow is drawn from the seed, never from the wall clock
or the process's hash seed.

Example:
    >>> quiet = Conditions(size=5, seconds=6.0, loss=0.0, slow=0, crashes=1)
    >>> outcome = measure("heartbeat", quiet, seeds=range(1))
    >>> outcome.detections, outcome.missed, outcome.false
    (4, 0, 0)
    >>> 0.25 <= outcome.detection <= 0.45   # the timeout (3.5 intervals), +- one interval
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from random import Random

import attrs

from dsys import Network
from dsys.demos.swim import group, names, slow
from dsys.errors import UsageError
from dsys.failure import (
    FailureDetector,
    HeartbeatDetector,
    PhiAccrualDetector,
    Swim,
    detection_times,
    false_suspicions,
)

#: The heartbeat interval and SWIM's protocol period, in seconds.
PERIOD = 0.1


@attrs.frozen
class Knob:
    """A detector's sensitivity knob: what it is, its default, the values a sweep tries
    (from the most eager to the most patient)."""

    name: str
    default: float
    sweep: tuple[float, ...]


#: Each detector's knob. Heartbeat: the timeout in heartbeat intervals; φ: the threshold
#: Φ (Akka's and Cassandra's default 8); SWIM: ``suspicion_mult``, the suspicion timeout
#: in protocol periods per log10 N (Lifeguard: the minimum, a fresh suspicion lasting
#: six times that).
KNOBS: dict[str, Knob] = {
    "heartbeat": Knob("timeout (intervals)", 3.5, (1.5, 2.0, 3.5, 5.0, 8.0)),
    "phi": Knob("threshold Φ", 8.0, (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)),
    "swim": Knob("suspicion multiplier", 4.0, (0.5, 1.0, 2.0, 4.0, 8.0)),
    "swim+lifeguard": Knob("suspicion multiplier", 4.0, (0.5, 1.0, 2.0, 4.0, 8.0)),
}


def detector(name: str, knob: float | None = None, *, period: float = PERIOD
             ) -> Callable[[], FailureDetector]:
    """A factory of the detector ``name`` (a key of :data:`KNOBS`) with its knob set to
    ``knob`` (None: the default), beating or probing every ``period`` seconds.

    Example:
        >>> detector("phi", 2.0)().threshold
        2.0
        >>> detector("gossip")
        Traceback (most recent call last):
        dsys.errors.UsageError: no detector 'gossip'; choose one of heartbeat, phi, ...
    """
    if name not in KNOBS:
        raise UsageError(f"no detector {name!r}; choose one of {', '.join(KNOBS)}")
    value = KNOBS[name].default if knob is None else knob
    if name == "heartbeat":
        return lambda: HeartbeatDetector(period, value * period)
    if name == "phi":
        return lambda: PhiAccrualDetector(period, value)
    lifeguard = name == "swim+lifeguard"
    return lambda: Swim(period, 0.3 * period, suspicion_mult=value, lifeguard=lifeguard)


@attrs.frozen
class Conditions:
    """The world a detector is measured in.

    ``size`` members for ``seconds``; every message is lost with probability ``loss``
    and takes ``latency`` seconds. ``slow`` members (drawn from the seed) are slow for
    the middle half of the run: every message to or from them takes ``slow_latency``.
    ``crashes`` other members crash, one at a time, and stay down (see :meth:`victims`).
    """

    size: int = 20
    seconds: float = 20.0
    loss: float = 0.0
    latency: tuple[float, float] = (0.001, 0.010)
    slow: int = 0
    slow_latency: tuple[float, float] = (0.05, 0.15)
    crashes: int = 0

    def __attrs_post_init__(self) -> None:
        if self.size < 2 or self.slow < 0 or self.crashes < 0 \
                or self.slow + self.crashes > self.size - 1:
            raise UsageError(f"need size >= 2 and slow + crashes < size; got size={self.size}"
                             f", slow={self.slow}, crashes={self.crashes}")
        if not 0.0 <= self.loss < 1.0 or self.seconds <= 0:
            raise UsageError(f"need 0 <= loss < 1 and seconds > 0; got loss={self.loss}, "
                             f"seconds={self.seconds}")

    def victims(self, seed: int) -> tuple[list[tuple[str, float]], list[str]]:
        """(the members that crash, each with the time it crashes; the slow members),
        drawn from ``seed``. Crashes fall at random moments between a third of the run
        and a sixth before its end (at random moments of a heartbeat interval, too)."""
        rng = Random(f"detector-tradeoff/{seed}")
        chosen = rng.sample(names(self.size), self.crashes + self.slow)
        times = sorted(rng.uniform(self.seconds / 3, self.seconds * 5 / 6)
                       for _ in range(self.crashes))
        return list(zip(chosen[:self.crashes], times, strict=True)), chosen[self.crashes:]

    def member_minutes(self, seed: int) -> float:
        """Minutes the members were up in the run of ``seed``, all together (the crashed
        ones until their crash)."""
        crashed, _ = self.victims(seed)
        return (self.size * self.seconds - sum(self.seconds - t for _, t in crashed)) / 60


#: The conditions of the failure detection page's trade-off plot (and of the sweep of
#: ``bench/failure.py``): small, to draw in a few seconds at docs build time.
PLOT = Conditions(size=8, seconds=10.0, loss=0.05, slow=1, crashes=2)
#: The seeds the page's plot is measured over.
PLOT_SEEDS = range(2)


@attrs.frozen
class Outcome:
    """How one detector did under some conditions, over some seeds.

    ``detection``: the mean time in seconds from a crash to its suspicion by a live
    member that watched the crashed one (over every such pair that suspected it: SWIM's
    is a confirmed death); ``detections`` such pairs, ``missed`` pairs never suspected by
    the end. ``false``: suspicions of members that were up; ``false_rate``: those per
    member-minute (per minute each member was up); ``wrong_share``: the share of
    (monitor, member) time spent wrongly suspecting.
    """

    detector: str
    knob: float
    detection: float
    detections: int
    missed: int
    false: int
    false_rate: float
    wrong_share: float


def run(name: str, conditions: Conditions, seed: int, knob: float | None = None
        ) -> tuple[list[float], int, int, float]:
    """One run: (detection delays, (crash, monitor) pairs missed, false suspicions,
    seconds of wrong suspicion summed over them)."""
    crashed, slowed = conditions.victims(seed)
    network = Network(latency=conditions.latency, drop=conditions.loss)
    sim = group(detector(name, knob), conditions.size, seed=seed, network=network,
                codec=False)
    for member, at in crashed:
        sim.at(at, sim.crash, member)
    quarter = conditions.seconds / 4
    for member in slowed:
        sim.at(quarter, slow, sim, member, conditions.slow_latency)
        sim.at(3 * quarter, slow, sim, member, conditions.latency)
    sim.run(until=conditions.seconds)
    delays = [d.delay for d in detection_times(sim.trace)]
    watching = [node.components["detector"] for node in sim.nodes.values()]
    missed = sum(1 for d in watching for member, _ in crashed
                 if isinstance(d, FailureDetector) and not d.suspects(member))
    wrong = false_suspicions(sim.trace, end=conditions.seconds)
    return delays, missed, len(wrong), sum(w.duration for w in wrong)


def measure(name: str, conditions: Conditions, seeds: Iterable[int],
            knob: float | None = None) -> Outcome:
    """Run detector ``name`` (knob ``knob``, None: its default) under ``conditions``
    once per seed, and sum up."""
    delays: list[float] = []
    missed = false = 0
    wrong_seconds = minutes = 0.0
    for seed in seeds:
        found, lost, count, seconds = run(name, conditions, seed, knob)
        delays += found
        missed += lost
        false += count
        wrong_seconds += seconds
        minutes += conditions.member_minutes(seed)
    if minutes == 0:
        raise UsageError("measure needs at least one seed")
    pair_seconds = minutes * 60 * (conditions.size - 1)
    return Outcome(name, KNOBS[name].default if knob is None else knob,
                   sum(delays) / len(delays) if delays else math.nan, len(delays), missed,
                   false, false / minutes, wrong_seconds / pair_seconds)


def sweep(conditions: Conditions, seeds: Iterable[int],
          detectors: Iterable[str] = tuple(KNOBS)) -> list[Outcome]:
    """:func:`measure` for every value of every detector's knob, in :data:`KNOBS` order."""
    chosen = list(seeds)
    return [measure(name, conditions, chosen, value)
            for name in detectors for value in KNOBS[name].sweep]
