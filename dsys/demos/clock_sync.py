"""Measure the clock synchronisation that Cristian's and Berkeley's algorithms
(:mod:`dsys.clocks.cristian`, :mod:`dsys.clocks.berkeley`) achieve on the simulator, against
the error bounds they claim, and chart it.

The nodes cannot see true time; the simulator can. Each run here gives every node a
hardware clock with a random offset and drift, runs the algorithm on a network with
varying latency (plus loss, duplication and reordering), and every few milliseconds of
virtual time compares the adjusted clocks:

* **Cristian**: each client's ``|adjusted_now - server clock|`` against the client's
  ``error_bound``;
* **Berkeley**: for every two nodes that applied the same round, the difference of their
  adjusted clocks against the sum of their ``error_bound``\\ s (the master's is 0).

A claim is kept when the achieved error never exceeds the bound. :func:`draw_sync` charts
one pair of clocks of a run. Run it from a shell::

    python -m dsys.demos.clock_sync --seeds 20

(This harness runs the protocols in the simulator, so it lives in :mod:`dsys.demos`, not
beside them: protocol packages never import the simulator.)

Example:
    >>> m = measure_cristian(seed=1, until=3.0)
    >>> m.violations, m.worst_error <= m.worst_bound
    (0, True)
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from collections.abc import Callable, Sequence
from html import escape
from random import Random

import attrs

from dsys.check.draw import round_ticks
from dsys.clocks.berkeley import BerkeleyFollower, BerkeleyMaster
from dsys.clocks.cristian import CristianClient, CristianServer
from dsys.clocks.physical import SyncedClock
from dsys.core.node import Node
from dsys.sim.network import Network
from dsys.sim.simulation import Clock, Simulation
from dsys.trace.svg import FONT_FAMILY, text_width


@attrs.frozen
class Sample:
    """One comparison at virtual ``time``: the ``nodes`` compared, the ``achieved``
    difference of their clocks and the ``bound`` the algorithm claimed for it."""

    time: float
    nodes: tuple[str, str]
    achieved: float
    bound: float


@attrs.frozen
class SyncMeasurement:
    """What a run achieved.

    ``worst_error``/``median_error``: the largest and the typical achieved difference;
    ``worst_bound``/``median_bound``:
    the largest and the typical claimed bound; ``worst_ratio``: the largest
    ``achieved / bound`` (a kept claim is <= 1); ``violations``: samples where the
    achieved difference exceeded the claim; ``true_error``: the largest distance of any
    adjusted clock from true (virtual) time at the end, which neither algorithm promises
    anything about (Berkeley agrees on the group's average, not on true time).
    """

    algorithm: str
    seed: int
    samples: tuple[Sample, ...]
    true_error: float

    @property
    def violations(self) -> int:
        return sum(1 for s in self.samples if s.achieved > s.bound)

    @property
    def worst_error(self) -> float:
        return max((s.achieved for s in self.samples), default=0.0)

    @property
    def median_error(self) -> float:
        return statistics.median(s.achieved for s in self.samples) if self.samples else 0.0

    @property
    def worst_bound(self) -> float:
        return max((s.bound for s in self.samples), default=0.0)

    @property
    def median_bound(self) -> float:
        return statistics.median(s.bound for s in self.samples) if self.samples else 0.0

    @property
    def worst_ratio(self) -> float:
        return max((s.achieved / s.bound for s in self.samples if s.bound > 0), default=0.0)

    def summary(self) -> str:
        """One line of figures, in milliseconds."""
        return (f"{self.algorithm} seed {self.seed}: {len(self.samples)} samples, worst "
                f"error {self.worst_error * 1e3:.3f} ms, claimed bound median "
                f"{self.median_bound * 1e3:.3f} ms (worst {self.worst_bound * 1e3:.3f} ms), "
                f"worst error/bound {self.worst_ratio:.2f}, violations {self.violations}")


@attrs.frozen
class SyncSetup:
    """The conditions of a measurement run.

    Hardware clocks get an offset uniform in ``±max_offset`` seconds and a drift uniform
    in ``±max_drift``; message latency is uniform in ``latency`` (its low end is the
    ``min_delay`` the algorithms are told), with loss, duplication and reordering.
    """

    nodes: int = 4
    until: float = 10.0
    interval: float = 0.5
    max_offset: float = 0.5
    max_drift: float = 2e-4
    latency: tuple[float, float] = (0.001, 0.020)
    drop: float = 0.05
    duplicate: float = 0.05
    reorder: float = 0.1
    sample_every: float = 0.005

    def network(self) -> Network:
        return Network(latency=self.latency, drop=self.drop, duplicate=self.duplicate,
                       reorder=self.reorder, reorder_delay=0.01)

    def clocks(self, seed: int, ids: Sequence[str]) -> dict[str, Clock]:
        rng = Random(f"clock-sync/{seed}")
        return {i: Clock(offset=rng.uniform(-self.max_offset, self.max_offset),
                         drift=rng.uniform(-self.max_drift, self.max_drift)) for i in ids}


class _Holder(Node):
    """A node whose only job is one synchronisation component, as ``self.sync``."""

    def __init__(self, make: Callable[[], SyncedClock | CristianServer]) -> None:
        super().__init__()
        self.sync = self.add_component(make())


def _synced(sim: Simulation, node_id: str) -> SyncedClock | None:
    node = sim.node(node_id)
    sync = getattr(node, "sync", None)
    return sync if isinstance(sync, SyncedClock) else None


def _sampling(sim: Simulation, setup: SyncSetup, take: Callable[[], list[Sample]]
              ) -> list[Sample]:
    samples: list[Sample] = []

    def sample() -> None:
        samples.extend(take())
        if sim.now + setup.sample_every <= setup.until:
            sim.after(setup.sample_every, sample)

    sim.at(0.0, sample)
    return samples


def _true_error(sim: Simulation, ids: Sequence[str]) -> float:
    errors = [abs(s.adjusted_now - sim.now) for i in ids if (s := _synced(sim, i)) is not None]
    return max(errors, default=0.0)


def measure_cristian(seed: int, setup: SyncSetup | None = None, *, until: float | None = None,
                     server_clock: Clock | None = None) -> SyncMeasurement:
    """Run Cristian's algorithm: one time server and ``setup.nodes - 1`` clients, every
    clock skewed and drifting (the server's too: clients synchronise to *its* clock,
    unless ``server_clock`` is given, e.g. ``Clock()`` for a perfect one)."""
    setup = setup or SyncSetup()
    if until is not None:
        setup = attrs.evolve(setup, until=until)
    clients = [f"c{i}" for i in range(1, setup.nodes)]
    clocks = setup.clocks(seed, ["server", *clients])
    if server_clock is not None:
        clocks["server"] = server_clock
    sim = Simulation(seed=seed, network=setup.network())
    sim.add_node("server", lambda: _Holder(CristianServer), clock=clocks["server"])
    for c in clients:
        sim.add_node(c, lambda: _Holder(lambda: CristianClient(
            "server", interval=setup.interval, min_delay=setup.latency[0],
            max_drift=setup.max_drift)), clock=clocks[c])

    def take() -> list[Sample]:
        server = sim.node("server")
        assert server is not None
        found = []
        for c in clients:
            sync = _synced(sim, c)
            bound = sync.error_bound if sync is not None else None
            if sync is not None and bound is not None:
                found.append(Sample(sim.now, ("server", c),
                                    abs(sync.adjusted_now - server.now), bound))
        return found

    samples = _sampling(sim, setup, take)
    sim.run(until=setup.until)
    return SyncMeasurement("cristian", seed, tuple(samples), _true_error(sim, clients))


def measure_berkeley(seed: int, setup: SyncSetup | None = None, *, until: float | None = None,
                     tolerance: float = 0.05, faulty: dict[str, Clock] | None = None
                     ) -> SyncMeasurement:
    """Run the Berkeley algorithm: a master ``m`` and ``setup.nodes - 1`` members.

    ``faulty`` replaces the clocks of some members (e.g. ``{"f1": Clock(offset=30)}``,
    adding members that are not named otherwise), to watch the fault-tolerant average
    leave them out.
    """
    setup = setup or SyncSetup()
    if until is not None:
        setup = attrs.evolve(setup, until=until)
    members = [f"b{i}" for i in range(1, setup.nodes)]
    members += sorted(set(faulty or {}) - set(members))
    ids = ["m", *members]
    clocks = setup.clocks(seed, ids) | dict(faulty or {})
    sim = Simulation(seed=seed, network=setup.network())
    sim.add_node("m", lambda: _Holder(lambda: BerkeleyMaster(
        interval=setup.interval, collect=min(0.1, setup.interval / 2), tolerance=tolerance,
        min_delay=setup.latency[0], max_drift=setup.max_drift)), clock=clocks["m"])
    for b in members:
        sim.add_node(b, lambda: _Holder(lambda: BerkeleyFollower(max_drift=setup.max_drift)),
                     clock=clocks[b])

    def take() -> list[Sample]:
        synced = []
        for i in ids:
            sync = _synced(sim, i)
            bound = sync.error_bound if sync is not None else None
            if sync is not None and bound is not None:
                synced.append((i, sync, bound))
        found = []
        for x, (i, si, bi) in enumerate(synced):
            for j, sj, bj in synced[x + 1:]:
                # Only nodes that applied the same round share a reference clock.
                if getattr(si, "round", None) == getattr(sj, "round", None):
                    found.append(Sample(sim.now, (i, j),
                                        abs(si.adjusted_now - sj.adjusted_now), bi + bj))
        return found

    samples = _sampling(sim, setup, take)
    sim.run(until=setup.until)
    return SyncMeasurement("berkeley", seed, tuple(samples), _true_error(sim, ids))


def draw_sync(measurement: SyncMeasurement, pair: tuple[str, str], *,
              title: str | None = None, width: float = 640.0, height: float = 260.0) -> str:
    """Chart what one pair of clocks achieved in a synchronisation run against the bound
    the algorithm claimed, over virtual time (an SVG document).

    Example:
        >>> from dsys.demos.clock_sync import measure_cristian
        >>> svg = draw_sync(measure_cristian(seed=1, until=2.0), ("server", "c1"))
        >>> "claimed bound" in svg and "<polyline" in svg
        True
    """
    samples = [s for s in measurement.samples if s.nodes == pair]
    pair_ratio = max((s.achieved / s.bound for s in samples if s.bound > 0), default=0.0)
    left, top, right, bottom = 60.0, 60.0, width - 20, height - 40
    t0 = min((s.time for s in samples), default=0.0)
    t1 = max((s.time for s in samples), default=1.0)
    top_ms = max((s.bound for s in samples), default=0.001) * 1e3 * 1.1

    def x(t: float) -> float:
        return left + (t - t0) / ((t1 - t0) or 1.0) * (right - left)

    def y(seconds: float) -> float:
        return bottom - seconds * 1e3 / top_ms * (bottom - top)

    heading = title or f"{measurement.algorithm}: {pair[0]} vs {pair[1]}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT_FAMILY}" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(heading)}</text>',
        '<text x="10" y="32" fill="#4a5568">blue: achieved |difference|; red, dashed: '
        "claimed bound (ms)</text>",
        f'<text x="10" y="45" fill="#4a5568">worst achieved/claimed: {pair_ratio:.2f} for '
        f"this pair, {measurement.worst_ratio:.2f} over all pairs</text>",
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#a0aec0"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#a0aec0"/>',
    ]
    for ms in round_ticks(0.0, top_ms, 5):
        out.append(f'<text x="{left - 6}" y="{y(ms / 1e3) + 4:.1f}" text-anchor="end" '
                   f'fill="#718096">{ms:g}</text>')
    # Round times, as many as fit side by side, below the y axis' lowest value label.
    widest = text_width(f"{t1:.1f}s") + 16
    for t in round_ticks(t0, t1, min(8, int((right - left) // widest))):
        out.append(f'<text x="{x(t):.1f}" y="{bottom + 20}" text-anchor="middle" '
                   f'fill="#718096">{t:g}s</text>')
    # Break the lines where the pair was not comparable (Berkeley: between rounds).
    step = min((b.time - a.time for a, b in itertools.pairwise(samples) if b.time > a.time),
               default=1.0)
    runs: list[list[Sample]] = []
    for s in samples:
        if not runs or s.time - runs[-1][-1].time > 1.5 * step:
            runs.append([])
        runs[-1].append(s)
    for key, colour, dash in (("bound", "#c53030", ' stroke-dasharray="5,3"'),
                              ("achieved", "#2b6cb0", "")):
        for run in runs:
            points = " ".join(f"{x(s.time):.1f},{y(getattr(s, key)):.1f}" for s in run)
            out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                       f'stroke-width="1.3"{dash}/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dsys.demos.clock_sync``: print achieved error vs claimed bound."""
    parser = argparse.ArgumentParser(prog="python -m dsys.demos.clock_sync",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=10, help="how many runs (default 10)")
    parser.add_argument("--until", type=float, default=10.0, help="virtual seconds per run")
    args = parser.parse_args(argv)
    setup = SyncSetup(until=args.until)
    print(f"{setup}")
    failed = 0
    for measure in (measure_cristian, measure_berkeley):
        runs = [measure(seed, setup) for seed in range(args.seeds)]
        failed += sum(r.violations for r in runs)
        worst = max(runs, key=lambda r: r.worst_ratio)
        print(f"{runs[0].algorithm}: {args.seeds} seeds, "
              f"{sum(len(r.samples) for r in runs)} samples, "
              f"worst error {max(r.worst_error for r in runs) * 1e3:.3f} ms, "
              f"median claimed bound {statistics.median(r.median_bound for r in runs) * 1e3:.3f}"
              f" ms, worst error/bound {worst.worst_ratio:.2f} (seed {worst.seed}), "
              f"violations {sum(r.violations for r in runs)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
