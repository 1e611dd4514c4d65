"""Checkers for Chord: the ring after stabilization, the answers of lookups, their hops.

Three properties, each judged by one function returning the one
:class:`~dsys.check.Report`:

* :func:`check_chord_ring` looks at running nodes: in a stable ring every member's successor is
  the next member clockwise and its predecessor the previous one (ToN's *correct ring*,
  in ToN's terms); on request, successor lists hold the next ``r`` members and every finger points
  at the successor of its start;
* :func:`check_chord_lookups` reads the trace: every lookup named the live successor of its
  target at the moment it finished. Under churn, "the" successor is ambiguous for a moment:
  with ``grace > 0``, a node that joined, crashed or left less than ``grace`` seconds ago
  may be counted in or out, whichever the answer needs;
* :func:`check_chord_hops`: every lookup took ``O(log N)`` hops, at most
  ``factor · log₂N + slack`` for the ``N`` members of the ring at that moment.

The trace notes they read are those of :class:`~dsys.naming.chord.Chord` (``joined``,
``left``, ``lookup``), with the host's ``crash`` events. :func:`check_chord_ring` reads any
object with the attributes of :class:`ChordView` (a lab's own node too: pass ``view``).

Example:
    >>> from dsys.naming.chord_checkers import check_chord_lookups
    >>> from dsys.trace import Trace, TraceEvent
    >>> note = lambda t, n, event, **data: TraceEvent(t, n, "note", {
    ...     "event": event, "component": "chord", **data})
    >>> trace = Trace([
    ...     note(0.0, "a", "joined", ident=10), note(0.5, "b", "joined", ident=20),
    ...     note(1.0, "a", "lookup", target=15, owner="a", hops=0, reason="")])
    >>> print(check_chord_lookups(trace).explain())
    chord lookups: 1 violation(s) (1 lookups checked)
      t=1.000000: a's lookup of 15 answered a (10), but b (20) is its successor
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import attrs

from dsys.check.report import Report, Violation
from dsys.naming.chord import Chord
from dsys.trace.events import Trace

__all__ = [
    "ChordView",
    "LookupRecord",
    "Report",
    "Violation",
    "check_chord_hops",
    "check_chord_lookups",
    "check_chord_ring",
    "chord_lookups",
    "chord_of",
    "hop_bound",
    "successor_of",
]


class ChordView(Protocol):
    """What :func:`check_chord_ring` reads of a node's Chord state (``bits`` only to
    check fingers, and only if not given to the check)."""

    ident: int
    bits: int
    successors: list[str]
    predecessor: str | None
    fingers: list[str | None]
    joined: bool


def chord_of(node: Any) -> Chord | None:
    """The :class:`~dsys.naming.chord.Chord` component of ``node`` (None if it has none)."""
    components = getattr(node, "components", {})
    return next((c for c in components.values() if isinstance(c, Chord)), None)


def successor_of(target: int, members: Mapping[str, int]) -> str:
    """The member (name -> identifier) that holds ``target``: the first clockwise from it,
    itself included.

    >>> successor_of(15, {"a": 10, "b": 20}), successor_of(25, {"a": 10, "b": 20})
    ('b', 'a')
    """
    if not members:
        raise ValueError("a ring with no members holds nothing")
    return min(members, key=lambda n: ((members[n] - target) % (1 << 64), n))


# ----- the ring ----------------------------------------------------------------------------


def check_chord_ring(nodes: Mapping[str, Any], *, view: Callable[[Any], Any] = chord_of,
                     successor_lists: int | None = None, fingers: bool = False,
                     bits: int | None = None, time: float = 0.0) -> Report:
    """Judge the ring the running ``nodes`` (id -> node, e.g. ``sim.nodes``) form.

    The members are the nodes whose ``view(node)`` is in a ring (``joined``). Each must
    have the next member clockwise as successor and the previous one as predecessor (a
    lone member: no other successor, no other predecessor). With ``successor_lists=r``,
    each successor list must start with the next ``min(r, N - 1)`` members; with
    ``fingers``, ``fingers[i]`` must be the successor of ``ident + 2**i`` on a circle of
    ``2**bits`` (``bits``: the views' own ``bits`` unless given). ``time`` dates the
    violations.

    Example:
        >>> from types import SimpleNamespace as View
        >>> nodes = {"a": View(ident=10, bits=8, successors=["b"], predecessor="b",
        ...                    fingers=[], joined=True),
        ...          "b": View(ident=20, bits=8, successors=["b"], predecessor=None,
        ...                    fingers=[], joined=True)}
        >>> print(check_chord_ring(nodes, view=lambda node: node).explain())
        chord ring: 2 violation(s) (2 nodes checked)
          t=0.000000: b's successor is b, but a (10) follows b (20)
          t=0.000000: b's predecessor is None, but a (10) precedes it
    """
    views = {name: v for name, node in sorted(nodes.items())
             if (v := view(node)) is not None and getattr(v, "joined", False)}
    ring = sorted(views, key=lambda name: (views[name].ident, name))
    count = len(ring)
    found: list[Violation] = []

    def wrong(name: str, text: str) -> None:
        found.append(Violation(time, (name,), text))

    idents = [views[name].ident for name in ring]

    def successor_at(target: int) -> str:
        return ring[bisect.bisect_left(idents, target) % count]

    for at, name in enumerate(ring):
        v = views[name]
        nxt, prev = ring[(at + 1) % count], ring[at - 1]
        successor = v.successors[0] if v.successors else name
        if successor != nxt:
            wrong(name, f"{name}'s successor is {successor}, but {nxt} ({views[nxt].ident}) "
                        f"follows {name} ({v.ident})")
        expected_pred = prev if count > 1 else None
        if v.predecessor != expected_pred and not (count == 1 and v.predecessor == name):
            wrong(name, f"{name}'s predecessor is {v.predecessor}, but {prev} "
                        f"({views[prev].ident}) precedes it")
        if successor_lists is not None:
            expected = [ring[(at + k) % count] for k in range(1, min(successor_lists, count - 1)
                                                              + 1)]
            if list(v.successors[:len(expected)]) != expected:
                wrong(name, f"{name}'s successor list is {list(v.successors)}, expected "
                            f"{expected}")
        if fingers:
            size = 1 << (v.bits if bits is None else bits)
            for i, finger in enumerate(v.fingers):
                start = (v.ident + (1 << i)) % size
                right = successor_at(start)
                if finger != right:
                    wrong(name, f"{name}'s finger {i} (start {start}) is {finger}, but "
                                f"{right} ({views[right].ident}) is the successor")
                    break
    return Report("chord ring", tuple(found), count, "nodes")


# ----- lookups, from the trace -----------------------------------------------------------------


@attrs.frozen
class LookupRecord:
    """A lookup noted in the trace: ``node`` looked up ``target`` and got ``owner`` (None:
    failed) after ``hops`` hops, at ``time``, when the ring had ``members`` members."""

    time: float
    node: str
    target: int
    owner: str | None
    hops: int
    members: int
    reason: str = ""


@attrs.define
class _Ring:
    """What the trace says so far: who is in the ring, and when membership last changed."""

    members: dict[str, int] = attrs.Factory(dict)       # name -> identifier
    idents: dict[str, int] = attrs.Factory(dict)        # every identifier ever noted
    changed: dict[str, float] = attrs.Factory(dict)     # name -> time of last change


def _replay(trace: Trace, component: str) -> Iterator[tuple[Any, _Ring]]:
    """Yield (lookup note, ring at that moment) for every lookup noted in the trace."""
    ring = _Ring()
    for time, node, kind, data in trace.raw():
        if kind == "crash":
            if ring.members.pop(node, None) is not None:
                ring.changed[node] = time
        elif kind == "note" and data.get("component") == component:
            event = data.get("event")
            if event == "joined":
                ring.members[node] = ring.idents[node] = int(data["ident"])
                ring.changed[node] = time
            elif event == "left":
                ring.members.pop(node, None)
                ring.changed[node] = time
            elif event == "lookup":
                yield (time, node, data), ring


def chord_lookups(trace: Trace, *, component: str = "chord") -> tuple[LookupRecord, ...]:
    """Every lookup noted in ``trace``, with the size of the ring when it finished.

    Example:
        >>> from dsys.trace import Trace
        >>> chord_lookups(Trace([]))
        ()
    """
    return tuple(
        LookupRecord(time, node, int(data["target"]), data.get("owner"), int(data["hops"]),
                     len(ring.members), str(data.get("reason", "")))
        for (time, node, data), ring in _replay(trace, component))


def check_chord_lookups(trace: Trace, *, component: str = "chord", grace: float = 0.0,
                        allow_failed: bool = False, after: float = 0.0) -> Report:
    """Every lookup that finished at ``after`` or later answered the live successor of its
    target when it finished.

    A node that joined, crashed or left less than ``grace`` seconds before may be counted
    in or out of the ring, whichever the answer needs: the answer must be a member (or a
    node that changed that recently), and no settled member may lie between the target
    and the answer. Failed lookups are violations unless ``allow_failed``.
    """
    found: list[Violation] = []
    judged = 0
    for (time, node, data), ring in _replay(trace, component):
        if time < after:
            continue
        judged += 1
        target, owner = int(data["target"]), data.get("owner")
        if owner is None:
            if not allow_failed:
                found.append(Violation(time, (node,), (
                    f"{node}'s lookup of {target} failed: {data.get('reason', '')}")))
            continue
        recent = {n for n, t in ring.changed.items() if time - t < grace or t == time}
        settled = {n: i for n, i in ring.members.items() if n not in recent}
        if owner not in ring.members and owner not in recent:
            where = "is not in the ring" if owner not in ring.idents else "has left the ring"
            found.append(Violation(time, (node, owner), (
                f"{node}'s lookup of {target} answered {owner}, which {where}")))
            continue
        # Clockwise distances, taken modulo 2**64: any modulus at least the circle's
        # size orders identifiers as the circle does, and no check needs ``bits``.
        answer = ring.idents[owner]
        distance = (answer - target) % (1 << 64)
        if any((i - target) % (1 << 64) < distance for i in settled.values()):
            right = successor_of(target, settled)
            found.append(Violation(time, (node, owner, right), (
                f"{node}'s lookup of {target} answered {owner} ({answer}), but {right} "
                f"({settled[right]}) is its successor")))
    return Report("chord lookups", tuple(found), judged, "lookups")


def hop_bound(members: int, factor: float = 2.0, slack: int = 1) -> int:
    """The most hops :func:`check_chord_hops` allows a lookup in a ring of ``members``:
    ``factor · log₂N + slack``, rounded down.

    >>> hop_bound(100), hop_bound(1000, factor=1.0)
    (14, 10)
    """
    return int(factor * math.log2(max(members, 2)) + slack)


def check_chord_hops(trace: Trace, *, component: str = "chord", factor: float = 2.0,
               slack: int = 1) -> Report:
    """Every lookup that found an owner took at most :func:`hop_bound` hops for the size
    of the ring when it finished (``O(log N)``, as the paper proves with high
    probability)."""
    found: list[Violation] = []
    judged = 0
    for record in chord_lookups(trace, component=component):
        if record.owner is None:
            continue
        judged += 1
        bound = hop_bound(record.members, factor, slack)
        if record.hops > bound:
            found.append(Violation(record.time, (record.node,), (
                f"{record.node}'s lookup of {record.target} took {record.hops} hops; with "
                f"{record.members} members the bound is {bound}")))
    return Report("chord hops", tuple(found), judged, "lookups")
