"""A failure timeline: the interactive viewer page of a failing run, with what failed marked.

When a graded lab trial (``dsys lab test``) or a simulated pytest test (the dsys plugin)
fails, the trace of its simulation is saved as JSON lines, and beside it a self-contained
HTML page (:mod:`dsys.trace.html`): one lane per node, the messages, the partition and
crash bands, the nodes' ``note`` lines, and under "Problems" what went wrong:

* the failure itself (the assertion's first line), at the end of the run or of the span
  the test pointed at with :meth:`~dsys.labs.Trial.focus` (unless it is the simulator's
  own report of a failed invariant or a handler that raised: that is an event of the
  trace, marked as such);
* the trace's own ``violation`` and ``error`` events (an invariant that failed as it was
  checked, a handler that raised): the viewer always lists those;
* the failing checker's report, found in the variables of the code that raised: every
  violation of a :class:`~dsys.check.Report` that does not hold, and for a history that is
  not linearizable (:func:`~dsys.check.check_linearizable`), the operation that completed
  before it could be placed and those that could not go next, as spans of time.

The rules of this file:

* Marks are plain data (:class:`~dsys.trace.html.Mark`), so they cross process boundaries
  with the run they belong to, and are computed where the exception is (in the worker).
* A mark that names an event the trace does not have becomes a mark at its time: a report
  about another trace must not stop the page from being written.
* The page is bounded: :func:`dsys.trace.html.render` summarises a big trace.

Example:
    >>> import tempfile
    >>> from dsys.check import Report, Violation
    >>> from dsys.trace import Trace, TraceEvent
    >>> def judge():
    ...     report = Report("safety", (Violation(0.1, ("a",), "a and b both inside"),), 2, "x")
    ...     assert report, report.explain()
    >>> try:
    ...     judge()
    ... except AssertionError as exc:
    ...     marks = failure_marks(exc, end=0.2)
    >>> [m.label for m in marks]
    ['safety: 1 violation(s) (2 x checked)', 'safety: a and b both inside']
    >>> trace = Trace([TraceEvent(0.0, "a", "note", {"event": "enter"}),
    ...                TraceEvent(0.1, "b", "note", {"event": "enter"})])
    >>> path = write_timeline(trace, tempfile.mkdtemp() + "/run.html", marks)
    >>> "a and b both inside" in path.read_text()
    True
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from dsys.check.linearizable import CheckResult, Verdict
from dsys.check.report import Report
from dsys.sim.report import SimulationError
from dsys.trace.events import TraceEvent
from dsys.trace.html import Mark, marks_from, save

#: At most this many marks come from the checkers' reports of one failure.
MAX_MARKS = 50


def timeline_path(trace_path: str | Path) -> Path:
    """Where the timeline of a saved trace goes: beside it, ``.html`` for ``.jsonl``.

    Example:
        >>> timeline_path(".dsys/traces/lab0-solution-echo-seed3.jsonl").name
        'lab0-solution-echo-seed3.html'
    """
    return Path(trace_path).with_suffix(".html")


def _frames(exc: BaseException) -> Iterator[types.FrameType]:
    """The frames of ``exc``'s traceback and of its causes, innermost last, each once."""
    seen_exc: set[int] = set()
    todo: BaseException | None = exc
    while todo is not None and id(todo) not in seen_exc:
        seen_exc.add(id(todo))
        tb = todo.__traceback__
        while tb is not None:
            yield tb.tb_frame
            tb = tb.tb_next
        todo = todo.__cause__ or todo.__context__


def _reports(exc: BaseException) -> list[Report | CheckResult]:
    """The failing checker results held in the variables of the frames that raised, in the
    order of the frames (outermost first) and of the variables (as the code made them)."""
    found: list[Report | CheckResult] = []
    seen: set[int] = set()
    for frame in _frames(exc):
        for value in list(frame.f_locals.values()):
            failing = ((isinstance(value, Report) and not value.ok)
                       or (isinstance(value, CheckResult)
                           and value.verdict is Verdict.NOT_LINEARIZABLE))
            if failing and id(value) not in seen:
                seen.add(id(value))
                found.append(value)
    return found


def _linearizability_marks(result: CheckResult) -> list[Mark]:
    part = result.failure
    if part is None:
        return []
    describe = result.model.describe_operation
    where = "" if part.key is None else f" (key {part.key!r})"
    marks = []

    def span(label: str, op: Any) -> Mark:
        start = float(op.invoke_time)
        end = float(op.complete_time) if op.complete_time is not None else None
        return Mark(label, start=start, end=end)

    if part.blocked_by is not None:
        op = part.blocked_by
        marks.append(span(f"not linearizable{where}: p{op.process} {describe(op)} completed "
                          "before it could be placed", op))
    for op, reason in part.stuck:
        if op is not part.blocked_by:
            marks.append(span(f"not linearizable{where}: p{op.process} {describe(op)} cannot "
                              f"go next: {reason}", op))
    if part.linearization:
        last = part.linearization[-1]
        marks.append(Mark(f"hint: the longest linearization found places "
                          f"{len(part.linearization)} of {len(part.operations)} operations, "
                          f"up to p{last.process} {describe(last)}",
                          start=float(last.invoke_time), kind="info"))
    return marks


def failure_marks(exc: BaseException | None, *, end: float,
                  start: float | None = None, node: str | None = None) -> list[Mark]:
    """What a failure's timeline points out: the failure's first line (a span from
    ``start`` to ``end``, or at ``end``), then the marks of every failing checker report
    found in the variables of the code that raised ``exc`` (see the module docstring).

    Example:
        >>> [m.label for m in failure_marks(AssertionError("no leader\\nafter 5 s"), end=5.0)]
        ['no leader']
    """
    marks: list[Mark] = []
    if exc is not None:
        text = str(exc).strip() or type(exc).__name__
        headline = text.splitlines()[0]
        if not isinstance(exc, AssertionError):
            headline = f"{type(exc).__name__}: {headline}"
        # The simulator's own failures (an invariant, a handler that raised) are events of
        # the trace, which the page marks already.
        if not isinstance(exc, SimulationError):
            marks.append(Mark(headline, start=end if start is None else start, end=end,
                              node=node))
        found: list[Mark] = []
        for result in _reports(exc):
            if isinstance(result, Report):
                # Labelled with the check's name: a test may judge with several checkers.
                found.extend(attrs.evolve(m, label=f"{result.check}: {m.label}")
                             for m in marks_from(result, limit=MAX_MARKS))
            else:
                found.extend(_linearizability_marks(result))
        marks.extend(found[:MAX_MARKS])
    return marks


def _fit(marks: Iterable[Mark], events: int) -> list[Mark]:
    """Marks whose event the trace has; the others become marks at no event."""
    fitted = []
    for mark in marks:
        if mark.event is not None and not 0 <= mark.event < events:
            mark = Mark(mark.label, node=mark.node, kind=mark.kind)
        fitted.append(mark)
    return fitted


def write_timeline(trace: Sequence[TraceEvent], path: str | Path, marks: Iterable[Mark] = (),
                   *, title: str | None = None) -> Path:
    """Write the viewer page of ``trace`` with ``marks`` to ``path``; returns the path."""
    return save(trace, path, highlight=_fit(marks, len(trace)), title=title)
