"""Chord rings in the simulator: build them, look keys up, churn them, measure.

* :class:`Peer`, a node that is one member of a ring (:class:`~dsys.naming.chord.Chord`
  under the name ``"chord"``), and :func:`names` for node ids that sort in ring-building
  order (``n000``, ``n001``...);
* :func:`build_ring`: a simulation of ``N`` peers, their ring either built by *joins*
  (one node after the other, each through a random member, stabilization doing the rest)
  or *installed* at once in its stable state (:meth:`~dsys.naming.chord.Chord.install_tables`),
  which is how a ring of 1,000 stays cheap to simulate;
* :func:`measure_hops`: the experiment of the paper's Figure 10 (ToN): random lookups in a
  stable ring of ``N`` nodes; the mean number of hops, against ``½·log₂N``;
* :func:`measure_churn`: the paper's "lookups during stabilization" (ToN): nodes join
  and crash at a given rate while lookups go on; the share of lookups that failed or
  named the wrong node, and whether the ring is correct again once churn stops.

(These harnesses run the protocol in the simulator, so they live in :mod:`dsys.demos`,
not beside the protocol: protocol packages never import the simulator.)

Example:
    >>> from dsys.demos.chord import measure_hops
    >>> run = measure_hops(64, lookups=200, seed=1)
    >>> run.wrong, run.failed, round(run.anchor, 2), run.mean_hops < run.anchor + 1
    (0, 0, 3.0, True)
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable, Mapping
from random import Random
from types import MappingProxyType
from typing import Any

import attrs

from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.naming.chord import DEFAULT_BITS, Chord, ChordLookup, chord_id
from dsys.naming.chord_checkers import check_chord_lookups, check_chord_ring, chord_lookups
from dsys.sim.network import Network
from dsys.sim.simulation import Simulation

#: Seconds of virtual time between two joins when a ring is built by joins.
JOIN_EVERY = 0.05


class Peer(Node):
    """One member of a Chord ring: a node with a :class:`~dsys.naming.chord.Chord`
    component (``self.chord``), built by ``protocol`` (a subclass, to try a variant) with
    ``options``. ``members`` (node -> identifier): install the tables of a stable ring of
    these nodes at start instead of joining."""

    def __init__(self, join: str | None = None, members: Mapping[str, int] | None = None, *,
                 protocol: type[Chord] = Chord, **options: Any) -> None:
        super().__init__()
        self.members = members
        self.chord = self.add_component(protocol(None if members else join, **options))

    def on_start(self) -> None:
        if self.members:
            self.chord.install_tables(self.members)


def names(count: int, start: int = 0) -> list[str]:
    """Node ids ``n000``, ``n001``... (``count`` of them from number ``start``).

    >>> names(3), names(2, start=998)
    (['n000', 'n001', 'n002'], ['n998', 'n999'])
    """
    width = max(3, len(str(start + count - 1)))
    return [f"n{i:0{width}d}" for i in range(start, start + count)]


def build_ring(nodes: int, *, seed: int = 0, how: str = "install", trace: bool = True,
               network: Network | None = None, codec: bool = False,
               **options: Any) -> Simulation:
    """A simulation of ``nodes`` peers forming one ring; ``options`` go to each
    :class:`~dsys.naming.chord.Chord` (``bits``, ``successors``, timers...).
    ``codec``: pass every message through the wire codec (slower; measurements skip it).

    ``how="install"``: every peer starts at time 0 with the tables of the stable ring;
    ``how="joins"``: ``n000`` creates the ring, and peer ``i`` joins at ``i · JOIN_EVERY``
    seconds through a random earlier peer. Run the simulation a while after the last join
    for stabilization and ``fix_fingers`` to finish (:func:`run_until_stable`).
    """
    if nodes < 1:
        raise ConfigError(f"a ring needs at least 1 node, got {nodes}")
    if how not in ("install", "joins"):
        raise ConfigError(f"how must be 'install' or 'joins', got {how!r}")
    sim = Simulation(seed=seed, network=network or Network(latency=(0.001, 0.010)),
                     trace=trace, codec=codec)
    ids = names(nodes)
    rng = Random(f"{seed}/chord-ring")
    bits = options.get("bits", DEFAULT_BITS)
    members = MappingProxyType({node_id: chord_id(node_id, bits) for node_id in ids})
    for i, node_id in enumerate(ids):
        if how == "install":
            sim.add_node(node_id, functools.partial(Peer, members=members, **options))
        else:
            join = None if i == 0 else rng.choice(ids[:i])
            sim.add_node(node_id, functools.partial(Peer, join, **options),
                         start=i * JOIN_EVERY)
    return sim


def ring_of(sim: Simulation) -> dict[str, int]:
    """The live members of the ring in ``sim`` (node id -> identifier)."""
    return {name: node.chord.ident for name, node in sorted(sim.nodes.items())
            if isinstance(node, Peer) and node.chord.joined}


def run_until_stable(sim: Simulation, *, timeout: float, every: float = 0.5,
                     fingers: bool = True, size: int | None = None) -> bool:
    """Run ``sim`` until its ring is correct (with fingers, if asked) and, if ``size`` is
    given, has that many members; checked every ``every`` seconds. False if ``timeout``
    seconds pass first."""
    deadline = sim.now + timeout
    while True:
        if (size is None or len(ring_of(sim)) == size) and check_chord_ring(
                sim.nodes, fingers=fingers, time=sim.now):
            return True
        if sim.now >= deadline:
            return False
        sim.run(until=min(deadline, sim.now + every))


# ----- hops in a stable ring ----------------------------------------------------------------


@attrs.frozen
class HopsRun:
    """What :func:`measure_hops` measured."""

    nodes: int
    lookups: int
    mean_hops: float
    max_hops: int
    #: how many lookups of each hop count (index: hops).
    histogram: tuple[int, ...]
    failed: int
    wrong: int
    how: str

    @property
    def anchor(self) -> float:
        """The paper's mean path length, ``½·log₂N`` (ToN, Figure 10)."""
        return 0.5 * math.log2(self.nodes)


def measure_hops(nodes: int, *, lookups: int = 1000, seed: int = 0, how: str = "install",
                 bits: int = DEFAULT_BITS, **options: Any) -> HopsRun:
    """Random lookups (a random peer, a random identifier) in a stable ring of ``nodes``.

    The ring is installed (or built by joins, ``how="joins"``, then run until every
    finger is right); lookups start one every millisecond, and each is judged against the
    true successor of its target. ``options`` go to every
    :class:`~dsys.naming.chord.Chord` (``successors=1``, say). No trace is recorded, so
    1,000 nodes cost a second or two, not minutes.
    """
    sim = build_ring(nodes, seed=seed, how=how, trace=False, bits=bits, **options)
    if how == "joins":
        if not run_until_stable(sim, timeout=60.0 + nodes, size=nodes):
            raise RuntimeError(f"a ring of {nodes} built by joins was not stable after "
                               f"{60 + nodes} s (seed {seed})")
    else:
        sim.run(until=0.5)
    members = ring_of(sim)
    ids = sorted(members)
    rng = Random(f"{seed}/chord-lookups")
    results: list[ChordLookup] = []
    began = sim.now
    for i in range(lookups):
        asker, target = rng.choice(ids), rng.randrange(1 << bits)
        sim.at(began + 0.001 * i, lookup_from, sim, asker, target, results.append)
    sim.run_until(lambda s: len(results) == lookups, timeout=0.001 * lookups + 10.0)
    hops = [r.hops for r in results if r.ok]
    histogram = [0] * (max(hops, default=0) + 1)
    for h in hops:
        histogram[h] += 1
    ring = sorted((ident, name) for name, ident in members.items())
    idents = [ident for ident, _ in ring]

    def owner(target: int) -> str:  # (successor_of, by bisection: 1,000 lookups of 1,000)
        return ring[bisect.bisect_left(idents, target) % len(ring)][1]

    wrong = sum(1 for r in results if r.ok and r.owner != owner(r.target))
    return HopsRun(nodes, lookups, sum(hops) / max(len(hops), 1), max(hops, default=0),
                   tuple(histogram), lookups - len(hops), wrong, how)


def lookup_from(sim: Simulation, asker: str, target: int,
                done: Callable[[ChordLookup], None] | None = None) -> None:
    """Start a lookup of ``target`` at peer ``asker``, if it is up (``done`` gets the
    :class:`~dsys.naming.chord.ChordLookup`)."""
    node = sim.node(asker)
    if isinstance(node, Peer):
        node.chord.lookup(target, done)


# ----- churn ---------------------------------------------------------------------------------


@attrs.frozen
class ChurnRun:
    """What :func:`measure_churn` measured."""

    nodes: int
    #: joins plus crashes per second, and per mean stabilization interval.
    rate: float
    per_stabilization: float
    joins: int
    crashes: int
    lookups: int
    #: lookups that found no owner, and that named the wrong one.
    failed: int
    wrong: int
    mean_hops: float
    #: seconds from the end of churn until the ring was correct again (None: never).
    recovered_after: float | None

    @property
    def failure_rate(self) -> float:
        """The share of lookups that failed or were wrong."""
        return (self.failed + self.wrong) / max(self.lookups, 1)


def measure_churn(nodes: int = 100, rate: float = 1.0, *, seed: int = 0,
                  duration: float = 20.0, lookups_per_second: float = 20.0,
                  grace: float = 0.0, recover_within: float = 30.0,
                  **options: Any) -> ChurnRun:
    """Churn a stable ring of ``nodes`` and look keys up meanwhile.

    For ``duration`` seconds, membership events come as a Poisson process of ``rate``
    per second, each a join (a new node, through a random member) or a crash (a random
    member), with even odds; lookups start at ``lookups_per_second`` from random members
    for random identifiers. A lookup fails if it finds no owner, and is wrong if its
    answer is not the live successor of its target when it finishes (judged by
    :func:`~dsys.naming.chord_checkers.check_chord_lookups` with ``grace``); a lookup whose
    asking node crashed before it ended is not counted. Then churn stops, and the ring must
    become correct again (fingers included) within ``recover_within``.
    """
    if rate < 0 or duration <= 0:
        raise ConfigError(f"need rate >= 0 and duration > 0, got {rate} and {duration}")
    sim = build_ring(nodes, seed=seed, how="install", **options)
    chord = Chord(**options)
    rng = Random(f"{seed}/chord-churn")
    warm = 1.0
    sim.run(until=warm)
    newcomers = iter(names(10 * nodes + int(rate * duration * 2) + 10, start=nodes))
    counts = {"join": 0, "crash": 0}

    def membership_event() -> None:
        members = sorted(ring_of(sim))
        if rng.random() < 0.5 or len(members) <= chord.r + 1:
            counts["join"] += 1
            through = rng.choice(members)
            sim.add_node(next(newcomers), functools.partial(Peer, through, **options))
        else:
            counts["crash"] += 1
            sim.crash(rng.choice(members))

    def ask() -> None:
        members = sorted(ring_of(sim))
        if members:
            lookup_from(sim, rng.choice(members), rng.randrange(chord.size))

    t = warm
    while rate > 0:
        t += rng.expovariate(rate)
        if t >= warm + duration:
            break
        sim.at(t, membership_event)
    for i in range(int(duration * lookups_per_second)):
        sim.at(warm + i / lookups_per_second, ask)
    sim.run(until=warm + duration)
    churn_end = sim.now
    stable = run_until_stable(sim, timeout=recover_within)
    recovered = sim.now - churn_end if stable else None
    sim.run(until=max(sim.now, churn_end + 1.0))  # the last lookups end
    # Every lookup started during churn (but those whose asking node crashed meanwhile).
    report = check_chord_lookups(sim.trace, grace=grace, allow_failed=True)
    records = chord_lookups(sim.trace)
    failed = sum(1 for r in records if r.owner is None)
    wrong = len(report.violations)
    hops = [r.hops for r in records if r.owner is not None]
    return ChurnRun(nodes, rate, rate * chord.stabilize_every, counts["join"],
                    counts["crash"], len(records), failed, wrong,
                    sum(hops) / max(len(hops), 1), recovered)
