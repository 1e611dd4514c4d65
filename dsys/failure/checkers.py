"""Checkers for failure detectors: completeness, accuracy, convergence.

Chandra and Toueg (1996) judge a failure detector by two properties:

* **completeness**: every crashed member is eventually suspected by every live member.
  An unbounded "eventually" cannot be tested, so :func:`check_completeness` asks for a
  bound: suspected *within* ``within`` seconds of the crash;
* **accuracy**: live members are not suspected. No detector in an asynchronous system
  has both (a slow member looks dead), so :func:`check_accuracy` reports every false
  suspicion (who, of whom, from when, for how long) and :func:`false_suspicions` lists
  them to be measured rather than forbidden.

:func:`check_convergence` judges the group view: after faults stop, every live member
trusts exactly the live members, and keeps doing so. :func:`converged` checks the same
on running nodes (``sim.nodes``), and :func:`detection_times` measures how long each
crash took to be noticed.

Everything is read from the trace: the notes every :class:`~dsys.failure.FailureDetector`
writes (``members``, ``suspect``, ``alive``, and SWIM's ``leave``) and the crashes and
restarts the host records. A node that restarts starts trusting everyone again.

Example:
    >>> from dsys.failure.checkers import check_accuracy
    >>> from dsys.trace import Trace, TraceEvent
    >>> note = lambda t, n, event, **data: TraceEvent(t, n, "note", {
    ...     "event": event, "component": "detector", **data})
    >>> trace = Trace([
    ...     TraceEvent(0.0, "a", "start"), TraceEvent(0.0, "b", "start"),
    ...     note(0.0, "a", "members", peers=["b"]), note(0.0, "b", "members", peers=["a"]),
    ...     note(1.0, "a", "suspect", peer="b"), note(1.5, "a", "alive", peer="b")])
    >>> print(check_accuracy(trace).explain())
    accuracy: 1 violation(s) (1 suspicions checked)
      t=1.000000: a suspected b, which was up, for 0.500 s
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import attrs

from dsys.check.report import Report, Violation
from dsys.core.node import Node, sorted_ids
from dsys.failure.base import FailureDetector
from dsys.trace.events import Trace, TraceEvent

__all__ = [
    "Detection",
    "FalseSuspicion",
    "Report",
    "Violation",
    "check_accuracy",
    "check_completeness",
    "check_convergence",
    "converged",
    "detection_times",
    "false_suspicions",
]


@attrs.frozen
class FalseSuspicion:
    """``monitor`` suspected ``peer`` from ``start`` to ``end`` while ``peer`` was up.

    ``ended_by`` says what ended it: ``"alive"`` (the detector corrected itself),
    ``"crash"`` (the peer crashed: from then on the suspicion was right), ``"monitor
    crash"``, ``"removed"`` (the peer left the group) or ``"end"`` (the trace ended).
    """

    monitor: str
    peer: str
    start: float
    end: float
    ended_by: str

    @property
    def duration(self) -> float:
        """How long the false suspicion lasted, in seconds."""
        return self.end - self.start


@attrs.frozen
class Detection:
    """``monitor`` suspected ``crashed`` ``delay`` seconds after its crash at ``at``."""

    crashed: str
    at: float
    monitor: str
    delay: float


# ----- the replay every checker shares ---------------------------------------------------


@attrs.define
class _World:
    """What the trace says so far: who is up, who monitors and suspects whom."""

    up: set[str] = attrs.Factory(set)
    members: dict[str, set[str]] = attrs.Factory(dict)
    suspected: dict[str, set[str]] = attrs.Factory(dict)
    left: set[str] = attrs.Factory(set)
    seen: set[str] = attrs.Factory(set)     # nodes that ever ran a detector

    def view(self, node: str) -> frozenset[str]:
        """What ``node`` trusts: its members not suspected, and itself."""
        return frozenset((self.members.get(node, set()) - self.suspected.get(node, set()))
                         | {node})

    def expected(self) -> frozenset[str]:
        """The live members: up, running a detector, not left."""
        return frozenset((self.up & self.seen) - self.left)


def _replay(trace: Trace, component: str) -> Iterator[tuple[TraceEvent, str, _World]]:
    """Yield (event, what happened, world after it) for every event that matters:
    ``start``, ``restart``, ``crash`` and the detector's notes (``members``, ``suspect``,
    ``alive``, ``leave``); and ``instant`` once all events of one instant are applied
    (the event is then a placeholder at that time), for checks of the state between
    instants."""
    world = _World()
    last: float | None = None
    for event in trace:
        kind, node = event.kind, event.node
        if last is not None and event.time != last:
            yield TraceEvent(last, "", "instant"), "instant", world
        last = event.time
        if kind in ("start", "restart"):
            world.up.add(node)
            world.members[node] = set()
            world.suspected[node] = set()
            world.left.discard(node)
            yield event, kind, world
        elif kind == "crash":
            world.up.discard(node)
            world.suspected.pop(node, None)
            world.members.pop(node, None)
            yield event, kind, world
        elif kind == "note" and event.data.get("component") == component:
            what = event.data.get("event")
            if what == "members":
                world.seen.add(node)
                world.members[node] = set(event.data["peers"])
                world.suspected[node] = world.suspected.get(node, set()) & world.members[node]
            elif what == "suspect":
                world.suspected.setdefault(node, set()).add(event.data["peer"])
            elif what == "alive":
                world.suspected.setdefault(node, set()).discard(event.data["peer"])
            elif what == "leave":
                world.left.add(node)
            else:
                continue
            yield event, str(what), world
    if last is not None:
        yield TraceEvent(last, "", "instant"), "instant", world


def _end_of(trace: Trace, end: float | None) -> float:
    if end is not None:
        return end
    last = 0.0
    for event in trace:
        last = event.time
    return last


# ----- completeness ------------------------------------------------------------------------


def check_completeness(trace: Trace, within: float, *, component: str = "detector",
                       end: float | None = None) -> Report:
    """Every crashed member is suspected by every live member that monitors it, within
    ``within`` seconds of the crash (strong completeness, with a bound).

    A pair is judged when its deadline falls inside the trace (``end``, default the last
    event): a monitor that crashes first, or a member that restarts before it is
    suspected, is not judged.

    Example:
        >>> from dsys.failure.checkers import check_completeness
        >>> from dsys.trace import Trace, TraceEvent
        >>> trace = Trace([
        ...     TraceEvent(0.0, "a", "start"), TraceEvent(0.0, "b", "start"),
        ...     TraceEvent(0.0, "a", "note", {"event": "members", "component": "detector",
        ...                                   "peers": ["b"]}),
        ...     TraceEvent(1.0, "b", "crash"), TraceEvent(9.0, "a", "log", {"text": "."})])
        >>> print(check_completeness(trace, within=2.0).explain())
        completeness: 1 violation(s) (1 crash-monitor pairs checked)
          t=3.000000: a did not suspect b within 2.0 s of its crash at t=1.000000
    """
    found: list[Violation] = []
    judged = 0
    open_: dict[tuple[str, str], float] = {}  # (monitor, crashed) -> crash time

    def expire(now: float) -> None:
        nonlocal judged
        for (monitor, crashed), at in sorted(open_.items()):
            if at + within < now:
                judged += 1
                found.append(Violation(at + within, (monitor, crashed), (
                    f"{monitor} did not suspect {crashed} within {within} s of its crash "
                    f"at t={at:.6f}")))
                del open_[monitor, crashed]

    for event, what, world in _replay(trace, component):
        expire(event.time)
        node = event.node
        if what == "crash":
            for pair in [p for p in open_ if node in p]:
                del open_[pair]  # a monitor crashed: not judged
            for monitor in sorted(world.up - world.left):
                if node in world.members.get(monitor, set()):
                    if node in world.suspected.get(monitor, set()):
                        judged += 1  # suspected already
                    else:
                        open_[monitor, node] = event.time
        elif what in ("restart", "start"):
            for pair in [p for p in open_ if p[1] == node]:
                del open_[pair]
        elif what == "suspect" and (node, event.data["peer"]) in open_:
            judged += 1
            del open_[node, event.data["peer"]]
        elif what == "members":
            for pair in [p for p in open_ if p[0] == node and p[1] not in world.members[node]]:
                del open_[pair]
        elif what == "leave":  # a monitor that left the group owes nothing
            for pair in [p for p in open_ if p[0] == node]:
                del open_[pair]
    expire(_end_of(trace, end) + 1e-12)
    return Report("completeness", tuple(found), judged, "crash-monitor pairs")


def detection_times(trace: Trace, *, component: str = "detector") -> tuple[Detection, ...]:
    """How long after each crash each monitor first suspected the crashed member (pairs
    never suspected are left out; see :func:`check_completeness`).

    Example:
        >>> from dsys.failure.checkers import detection_times
        >>> from dsys.trace import Trace
        >>> detection_times(Trace([]))
        ()
    """
    crashed_at: dict[str, float] = {}
    waiting: set[tuple[str, str]] = set()
    found: list[Detection] = []
    for event, what, world in _replay(trace, component):
        node = event.node
        if what == "crash":
            crashed_at[node] = event.time
            waiting = {p for p in waiting if node not in p}
            for monitor in sorted(world.up):
                if node in world.members.get(monitor, set()) \
                        and node not in world.suspected.get(monitor, set()):
                    waiting.add((monitor, node))
        elif what in ("start", "restart"):
            waiting = {p for p in waiting if p[1] != node}
        elif what == "leave":
            waiting = {p for p in waiting if p[0] != node}
        elif what == "suspect" and (node, event.data["peer"]) in waiting:
            peer = event.data["peer"]
            waiting.discard((node, peer))
            found.append(Detection(peer, crashed_at[peer], node,
                                   event.time - crashed_at[peer]))
    return tuple(found)


# ----- accuracy ------------------------------------------------------------------------------


def false_suspicions(trace: Trace, *, component: str = "detector",
                     end: float | None = None) -> tuple[FalseSuspicion, ...]:
    """Every suspicion of a member that was up (and had not left) when it began, with
    how long it lasted, in order of start.

    Example:
        >>> from dsys.failure.checkers import false_suspicions
        >>> from dsys.trace import Trace
        >>> false_suspicions(Trace([]))
        ()
    """
    started: dict[tuple[str, str], float] = {}
    found: list[FalseSuspicion] = []

    def close(pair: tuple[str, str], at: float, why: str) -> None:
        found.append(FalseSuspicion(pair[0], pair[1], started.pop(pair), at, why))

    for event, what, world in _replay(trace, component):
        node = event.node
        if what == "suspect":
            peer = event.data["peer"]
            if peer in world.up and peer not in world.left and (node, peer) not in started:
                started[node, peer] = event.time
        elif what == "alive" and (node, event.data["peer"]) in started:
            close((node, event.data["peer"]), event.time, "alive")
        elif what == "crash":
            for pair in sorted(p for p in started if node in p):
                close(pair, event.time, "monitor crash" if pair[0] == node else "crash")
        elif what == "members":
            for pair in sorted(p for p in started
                               if p[0] == node and p[1] not in world.members[node]):
                close(pair, event.time, "removed")
        elif what == "leave":
            for pair in sorted(p for p in started if p[1] == node):
                close(pair, event.time, "removed")
    last = _end_of(trace, end)
    for pair in sorted(started):
        close(pair, last, "end")
    return tuple(sorted(found, key=lambda f: (f.start, f.monitor, f.peer)))


def check_accuracy(trace: Trace, *, after: float = 0.0, tolerance: float = 0.0,
                   component: str = "detector", end: float | None = None) -> Report:
    """No live member is suspected (strong accuracy), or, with ``after``, none is
    suspected after that time (eventual accuracy, judged from ``after`` on) and, with
    ``tolerance``, no false suspicion lasts longer than that many seconds.

    Example:
        >>> from dsys.failure.checkers import check_accuracy
        >>> from dsys.trace import Trace
        >>> check_accuracy(Trace([])).ok
        True
    """
    judged = 0
    found: list[Violation] = []
    for wrong in false_suspicions(trace, component=component, end=end):
        if wrong.end < after:
            continue
        judged += 1
        if wrong.duration > tolerance or wrong.ended_by == "end":
            still = " (still at the end)" if wrong.ended_by == "end" else ""
            found.append(Violation(wrong.start, (wrong.monitor, wrong.peer), (
                f"{wrong.monitor} suspected {wrong.peer}, which was up, for "
                f"{wrong.duration:.3f} s{still}")))
    return Report("accuracy", tuple(found), judged, "suspicions")


# ----- convergence -----------------------------------------------------------------------------


def check_convergence(trace: Trace, by: float, *, component: str = "detector") -> Report:
    """From time ``by`` to the end of the trace, every live member trusts exactly the
    live members (those up, running a detector, and not gone by a graceful leave).

    Run it with ``by`` = when the last fault ended plus the time the detector needs.

    Example:
        >>> from dsys.failure.checkers import check_convergence
        >>> from dsys.trace import Trace, TraceEvent
        >>> trace = Trace([
        ...     TraceEvent(0.0, "a", "start"), TraceEvent(0.0, "b", "start"),
        ...     TraceEvent(0.0, "a", "note", {"event": "members", "component": "detector",
        ...                                   "peers": ["b"]}),
        ...     TraceEvent(0.0, "b", "note", {"event": "members", "component": "detector",
        ...                                   "peers": ["a"]})])
        >>> check_convergence(trace, by=0.0).ok
        True
    """
    found: list[Violation] = []
    wrong: set[str] = set()
    judged: set[str] = set()
    checked = False

    def check(world: _World, at: float) -> None:
        expected = world.expected()
        for node in sorted(expected):
            judged.add(node)
            view = world.view(node)
            if view != expected and node not in wrong:
                wrong.add(node)
                missing = ", ".join(sorted(expected - view)) or "-"
                extra = ", ".join(sorted(view - expected)) or "-"
                found.append(Violation(at, (node,), (
                    f"{node} does not trust exactly the live members: missing {missing}; "
                    f"trusts {extra} which are not live members")))

    world = _World()
    for event, what, world in _replay(trace, component):
        if what == "instant" and event.time >= by:
            checked = True
            check(world, event.time)
    if not checked:
        check(world, by)
    return Report("convergence", tuple(found), len(judged), "members")


def converged(nodes: Mapping[str, Node], *, component: str = "detector") -> Report:
    """On running nodes (``sim.nodes``: the ones up), every detector trusts exactly the
    nodes given that have not left. Usable as ``sim.run_until(lambda s: converged(s.nodes))``.

    Example:
        >>> from dsys.failure.checkers import converged
        >>> converged({}).ok
        True
    """
    detectors: dict[str, FailureDetector] = {}
    for node_id, node in sorted(nodes.items()):
        detector = node.components.get(component)
        if isinstance(detector, FailureDetector) and not getattr(detector, "left", False):
            detectors[node_id] = detector
    expected = sorted_ids(detectors)
    found = [Violation(0.0, (node_id,), (
        f"{node_id} trusts {', '.join(d.alive())}; the live members are {', '.join(expected)}"))
        for node_id, d in detectors.items() if d.alive() != expected]
    return Report("convergence", tuple(found), len(detectors), "members")
