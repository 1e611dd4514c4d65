"""Checkers for broadcast properties, judged from a trace.

Every broadcast component of :mod:`dsys.messaging` notes ``broadcast`` (with ``id``) when
a member broadcasts and ``deliver`` (with ``id`` and ``origin``) when a member delivers.
These functions read those notes, and the crashes and restarts the simulator records,
and say whether a property held; they know nothing about the protocol, so they judge a
student's implementation exactly as they judge the reference ones.

Processes. A node that crashes and restarts comes back with empty memory: it is a new
*process*. The checkers name the first incarnation of node ``n2`` ``"n2"`` and later ones
``"n2#1"``, ``"n2#2"``... A process is *correct* if it never crashes. By default the
correct processes are the first incarnations of the nodes that started and never
crashed; pass ``correct=[...]`` (node ids) to choose the group (e.g. to leave out a
broker or a client) or to count a node's *last* incarnation as correct.

The properties (Cachin, Guerraoui and Rodrigues, *Introduction to Reliable and Secure
Distributed Programming*, 2nd ed., 2011, §3.2-3.9):

- ``validity``: every message broadcast by a correct process is delivered by every correct
  process (by the end of the trace: let the run settle first);
- ``no-duplication``: no process delivers a message more than once;
- ``no-creation``: a process delivers ``m`` with origin ``s`` only if ``s`` broadcast ``m``
  earlier;
- ``agreement``: if a *correct* process delivers ``m``, every correct process does
  (``uniform=True``, or the property ``uniform-agreement``: if *any* process delivers
  ``m``, even one that crashed later, every correct one does);
- ``fifo-order``: if a process broadcasts ``m1`` before ``m2``, no process delivers ``m2``
  unless it has already delivered ``m1``;
- ``causal-order``: if the broadcast of ``m1`` happened before the broadcast of ``m2``, no
  process delivers ``m2`` unless it has already delivered ``m1``;
- ``total-order``: if two processes both deliver ``m1`` and ``m2``, they deliver them in
  the same order (checked on every process, crashed ones too: the *uniform* variant;
  ``uniform=False`` checks only the correct ones).

Validity and agreement are *liveness* properties: they are judged for correct processes
only, at the end of the trace. The others are *safety* properties: a process must not
break them even before it crashes, so every process is judged.

Each checker returns a :class:`Report`: true when the property holds, otherwise a list of
:class:`Violation` that say, in words, which message, which processes, which order.

Example:
    >>> from dsys.trace import Trace, TraceEvent
    >>> from dsys.messaging.checkers import check_fifo_order
    >>> def note(t, node, event, **data):
    ...     return TraceEvent(t, node, "note", {"event": event, **data})
    >>> trace = Trace([
    ...     note(0.0, "a", "broadcast", id="a:1:0", payload="first"),
    ...     note(0.1, "a", "broadcast", id="a:1:1", payload="second"),
    ...     note(0.2, "b", "deliver", id="a:1:1", origin="a", payload="second"),
    ...     note(0.3, "b", "deliver", id="a:1:0", origin="a", payload="first"),
    ... ])
    >>> print(check_fifo_order(trace).explain())
    fifo-order: 1 violation(s) (2 deliveries checked)
      t=0.200000: b delivered a:1:1 ('second') before a:1:0 ('first'), but a broadcast a:1:0 first
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from dsys.check.report import Report, Violation
from dsys.errors import UsageError
from dsys.trace.events import TraceEvent

# ----- results ---------------------------------------------------------------------------------


# ----- reading a trace -------------------------------------------------------------------------


@attrs.frozen
class Step:
    """A ``broadcast`` or ``deliver`` note, attributed to a process."""

    index: int  # position among the steps (trace order)
    time: float
    process: str
    kind: str  # "broadcast" or "deliver"
    id: str
    origin: str  # for a broadcast: the node itself
    payload: Any


@attrs.define
class BroadcastRun:
    """What the checkers need from a trace: the steps, the processes, who is correct.

    Build it with :func:`read_run`; every checker accepts a trace or a run.
    """

    steps: list[Step]
    processes: list[str]  # every process, in order of first appearance
    node_of: dict[str, str]  # process -> node id
    correct: list[str]  # the correct processes, sorted
    end: float  # time of the last trace event
    broadcasts: dict[str, Step] = attrs.field(factory=dict)  # id -> its (first) broadcast

    def deliveries(self, process: str) -> list[Step]:
        """The deliveries of ``process``, in order."""
        return [s for s in self.steps if s.process == process and s.kind == "deliver"]


def read_run(trace: Iterable[TraceEvent], correct: Iterable[str] | None = None, *,
             component: str | None = None) -> BroadcastRun:
    """Read the broadcast notes (of ``component``, or of every component) from a trace.

    ``correct``: the node ids of the correct members (see the module docstring).
    """
    incarnation: dict[str, int] = {}
    crashed: set[str] = set()
    started: list[str] = []
    steps: list[Step] = []
    processes: list[str] = []
    node_of: dict[str, str] = {}
    end = 0.0
    for event in trace:
        end = event.time
        node, data = event.node, event.data
        if event.kind == "start":
            incarnation[node] = 0
            started.append(node)
        elif event.kind == "restart":
            incarnation[node] = int(data.get("incarnation", incarnation.get(node, 0) + 1))
        elif event.kind == "crash":
            crashed.add(node)
        elif event.kind == "note" and data.get("event") in ("broadcast", "deliver"):
            if component is not None and data.get("component") != component:
                continue
            number = incarnation.get(node, 0)
            process = node if number == 0 else f"{node}#{number}"
            if process not in node_of:
                node_of[process] = node
                processes.append(process)
            kind = str(data["event"])
            origin = node if kind == "broadcast" else str(data.get("origin", "?"))
            steps.append(Step(len(steps), event.time, process, kind, str(data.get("id")),
                              origin, data.get("payload")))
    if correct is None:
        nodes = started or list(dict.fromkeys(node_of.values()))
        chosen = sorted(n for n in set(nodes) if n not in crashed)
    else:
        chosen = sorted(set(correct))
    # A node's last incarnation stands for it; one that never crashed has just one.
    correct_processes = sorted(
        node if incarnation.get(node, 0) == 0 else f"{node}#{incarnation[node]}"
        for node in chosen
    )
    run = BroadcastRun(steps, processes, node_of, correct_processes, end)
    for step in steps:
        if step.kind == "broadcast":
            run.broadcasts.setdefault(step.id, step)
    return run


TraceOrRun = Iterable[TraceEvent] | BroadcastRun


def _run(trace: TraceOrRun, correct: Iterable[str] | None, component: str | None
         ) -> BroadcastRun:
    if isinstance(trace, BroadcastRun):
        if correct is not None or component is not None:
            raise UsageError("pass correct= and component= to read_run, not with a BroadcastRun")
        return trace
    return read_run(trace, correct, component=component)


def _describe(run: BroadcastRun, mid: str, step: Step | None = None) -> str:
    """``id ('payload')``, as the violations name messages: the payload it was broadcast
    with, or else the one ``step`` delivered."""
    source = run.broadcasts.get(mid, step)
    if source is None or source.payload is None:
        return mid
    return f"{mid} ({source.payload!r})"


def _names(processes: Iterable[str]) -> str:
    return ", ".join(processes)


# ----- the checkers ----------------------------------------------------------------------------


def check_validity(trace: TraceOrRun, correct: Iterable[str] | None = None, *,
                   component: str | None = None) -> Report:
    """Every message broadcast by a correct process is delivered by every correct one."""
    run = _run(trace, correct, component)
    delivered = {p: {s.id for s in run.deliveries(p)} for p in run.correct}
    found = []
    judged = 0
    for step in run.steps:
        if step.kind != "broadcast" or step.process not in run.correct:
            continue
        judged += 1
        missing = [p for p in run.correct if step.id not in delivered[p]]
        if missing:
            found.append(Violation(run.end, tuple(missing), (
                f"{_describe(run, step.id, step)}, broadcast by correct process {step.process} "
                f"at t={step.time:.6f}, was never delivered by {_names(missing)}")))
    return Report("validity", tuple(found), judged, "broadcasts")


def check_no_duplication(trace: TraceOrRun, *, component: str | None = None) -> Report:
    """No process delivers the same message twice."""
    run = _run(trace, None, component)
    first: dict[tuple[str, str], Step] = {}
    found = []
    judged = 0
    for step in run.steps:
        if step.kind != "deliver":
            continue
        judged += 1
        earlier = first.setdefault((step.process, step.id), step)
        if earlier is not step:
            found.append(Violation(step.time, (step.process,), (
                f"{step.process} delivered {_describe(run, step.id, step)} again at "
                f"t={step.time:.6f} (first at t={earlier.time:.6f})")))
    return Report("no-duplication", tuple(found), judged, "deliveries")


def check_no_creation(trace: TraceOrRun, *, component: str | None = None) -> Report:
    """Every delivered message was broadcast earlier, by the origin it is delivered with."""
    run = _run(trace, None, component)
    found = []
    judged = 0
    for step in run.steps:
        if step.kind != "deliver":
            continue
        judged += 1
        source = run.broadcasts.get(step.id)
        what = f"{step.process} delivered {_describe(run, step.id, step)} from {step.origin}"
        if source is None:
            found.append(Violation(step.time, (step.process,),
                                   f"{what}, but no process ever broadcast it"))
        elif source.index > step.index:
            found.append(Violation(step.time, (step.process,), (
                f"{what} at t={step.time:.6f}, before it was broadcast "
                f"(t={source.time:.6f})")))
        elif run.node_of[source.process] != step.origin:
            found.append(Violation(step.time, (step.process,), (
                f"{what}, but it was broadcast by {run.node_of[source.process]}")))
    return Report("no-creation", tuple(found), judged, "deliveries")


def check_agreement(trace: TraceOrRun, correct: Iterable[str] | None = None, *,
                    uniform: bool = False, component: str | None = None) -> Report:
    """If a correct process (``uniform``: any process) delivers a message, every correct
    process delivers it."""
    run = _run(trace, correct, component)
    delivered: dict[str, dict[str, Step]] = {}
    for step in run.steps:
        if step.kind == "deliver":
            delivered.setdefault(step.process, {}).setdefault(step.id, step)
    judges = run.processes if uniform else run.correct
    first_seen: dict[str, Step] = {}
    for process in judges:
        for mid, step in delivered.get(process, {}).items():
            if mid not in first_seen or step.index < first_seen[mid].index:
                first_seen[mid] = step
    found = []
    for mid, step in sorted(first_seen.items(), key=lambda item: item[1].index):
        missing = [p for p in run.correct if mid not in delivered.get(p, {})]
        if missing:
            who = step.process + ("" if step.process in run.correct else
                                  " (which did not stay correct)")
            found.append(Violation(run.end, (step.process, *missing), (
                f"{_describe(run, mid, step)} was delivered by {who} at t={step.time:.6f} "
                f"but never by correct process(es) {_names(missing)}")))
    name = "uniform-agreement" if uniform else "agreement"
    return Report(name, tuple(found), len(first_seen), "messages")


def check_uniform_agreement(trace: TraceOrRun, correct: Iterable[str] | None = None, *,
                            component: str | None = None) -> Report:
    """:func:`check_agreement` with ``uniform=True``."""
    return check_agreement(trace, correct, uniform=True, component=component)


def check_fifo_order(trace: TraceOrRun, *, component: str | None = None) -> Report:
    """No process delivers a message before every earlier message of its sender."""
    run = _run(trace, None, component)
    # The broadcasts of each sender process, in order.
    by_sender: dict[str, list[Step]] = {}
    for step in run.steps:
        if step.kind == "broadcast":
            by_sender.setdefault(step.process, []).append(step)
    position = {s.id: i for steps in by_sender.values() for i, s in enumerate(steps)}
    seen: dict[str, set[str]] = {}
    found = []
    judged = 0
    for step in run.steps:
        if step.kind != "deliver" or step.id not in run.broadcasts:
            continue  # no-creation judges deliveries of unknown messages
        judged += 1
        source = run.broadcasts[step.id]
        done = seen.setdefault(step.process, set())
        earlier = by_sender[source.process][: position[step.id]]
        missing = [s for s in earlier if s.id not in done]
        if missing:
            skipped = missing[0]
            found.append(Violation(step.time, (step.process, source.process), (
                f"{step.process} delivered {_describe(run, step.id, step)} before "
                f"{_describe(run, skipped.id)}, but {source.process} broadcast "
                f"{skipped.id} first")))
        done.add(step.id)
    return Report("fifo-order", tuple(found), judged, "deliveries")


def check_causal_order(trace: TraceOrRun, *, component: str | None = None) -> Report:
    """No process delivers a message before every message whose broadcast happened before
    its broadcast.

    ``m1`` happened before ``m2`` if one process broadcast ``m1`` and then ``m2``, or the
    sender of ``m2`` delivered ``m1`` before broadcasting ``m2``, or through a chain of
    such steps (Lamport's happened-before, restricted to broadcasts and deliveries).
    """
    run = _run(trace, None, component)
    past: dict[str, set[str]] = {}  # process -> ids of every broadcast in its causal past
    depends: dict[str, frozenset[str]] = {}  # id -> ids whose broadcast happened before
    direct: dict[str, dict[str, str]] = {}  # id -> {earlier id: how its sender knew it}
    own: dict[str, dict[str, str]] = {}  # process -> {id: "broadcast" or "delivered"} by it
    delivered: dict[str, set[str]] = {}
    found = []
    judged = 0
    for step in run.steps:
        history = past.setdefault(step.process, set())
        mine = own.setdefault(step.process, {})
        if step.kind == "broadcast":
            if step.id not in depends:
                depends[step.id] = frozenset(history)
                direct[step.id] = dict(mine)
            history.add(step.id)
            mine.setdefault(step.id, "broadcast")
            continue
        if step.id not in depends:
            continue  # never broadcast: no-creation reports it
        judged += 1
        done = delivered.setdefault(step.process, set())
        missing = sorted(depends[step.id] - done, key=lambda m: run.broadcasts[m].index)
        if missing:
            first = missing[0]
            source = run.broadcasts[step.id]
            how = direct[step.id].get(first)
            if how == "broadcast":
                reason = f"which {source.process} broadcast earlier"
            elif how == "delivered":
                reason = f"which {source.process} had delivered before broadcasting it"
            else:
                reason = "whose broadcast happened before it (through a chain of deliveries)"
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            found.append(Violation(step.time, (step.process, source.process), (
                f"{step.process} delivered {_describe(run, step.id, step)} before "
                f"{_describe(run, first)}{more}, {reason}")))
        done.add(step.id)
        history.add(step.id)
        history.update(depends[step.id])
        mine.setdefault(step.id, "delivered")
    return Report("causal-order", tuple(found), judged, "deliveries")


def check_total_order(trace: TraceOrRun, correct: Iterable[str] | None = None, *,
                      uniform: bool = True, component: str | None = None) -> Report:
    """Any two processes deliver the messages they both deliver in the same order.

    ``uniform=True`` (the default) judges every process, crashed ones included;
    ``uniform=False`` only the correct ones.
    """
    run = _run(trace, correct, component)
    judges = run.processes if uniform else run.correct
    order: dict[str, dict[str, int]] = {p: {} for p in judges}
    for step in run.steps:
        if step.kind == "deliver" and step.process in order:
            order[step.process].setdefault(step.id, len(order[step.process]))
    payloads = {s.id: s for s in run.steps if s.kind == "deliver"}
    found = []
    pairs = 0
    for i, p in enumerate(judges):
        for q in judges[i + 1:]:
            pairs += 1
            in_q = order[q]
            latest: str | None = None  # the message p delivered whose place in q is latest
            for mid in sorted(order[p], key=order[p].__getitem__):
                if mid not in in_q:
                    continue
                if latest is not None and in_q[mid] < in_q[latest]:
                    found.append(Violation(run.end, (p, q), (
                        f"{p} delivered {_describe(run, latest, payloads[latest])} before "
                        f"{_describe(run, mid, payloads[mid])}, but {q} delivered them in the "
                        f"opposite order")))
                    break  # one inversion per pair is enough to tell the story
                if latest is None or in_q[mid] > in_q[latest]:
                    latest = mid
    return Report("total-order", tuple(found), pairs, "pairs of processes")


# ----- all at once -------------------------------------------------------------------------------

#: Every property :func:`check_broadcast` knows, by name.
PROPERTIES: dict[str, Callable[..., Report]] = {
    "validity": check_validity,
    "no-duplication": check_no_duplication,
    "no-creation": check_no_creation,
    "agreement": check_agreement,
    "uniform-agreement": check_uniform_agreement,
    "fifo-order": check_fifo_order,
    "causal-order": check_causal_order,
    "total-order": check_total_order,
}

def check_broadcast(trace: Iterable[TraceEvent], properties: Sequence[str],
                    correct: Iterable[str] | None = None, *,
                    component: str | None = None) -> Report:
    """Check several properties (names from :data:`PROPERTIES`) and combine the reports.

    Each violation's text starts with the property it breaks. The component classes list
    what they promise in ``guarantees``, so a test can say
    ``check_broadcast(sim.trace, FifoBroadcast.guarantees)``.

    Example:
        >>> from dsys.messaging import FifoBroadcast
        >>> FifoBroadcast.guarantees
        ('validity', 'no-duplication', 'no-creation', 'agreement', 'fifo-order')
    """
    unknown = [p for p in properties if p not in PROPERTIES]
    if unknown:
        raise UsageError(f"unknown broadcast properties {unknown}; known: {', '.join(PROPERTIES)}")
    run = read_run(trace, correct, component=component)
    violations: list[Violation] = []
    for name in properties:
        report = PROPERTIES[name](run)
        violations += [attrs.evolve(v, text=f"[{name}] {v.text}") for v in report.violations]
    deliveries = sum(1 for s in run.steps if s.kind == "deliver")
    return Report(", ".join(properties), tuple(violations), deliveries, "deliveries")
