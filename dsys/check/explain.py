"""Why a history is not linearizable, in words: the smallest set of operations at fault.

The rules of this file: it only *reads* a :class:`~dsys.check.CheckResult` and reruns the
search (:mod:`dsys.check._search`) on parts of the failing history. Everything here is
deterministic: the same result gives the same diagnosis, because every search is bounded
by a number of steps, never by time.

:func:`diagnose` turns a failed check into a :class:`Diagnosis` with three things:

- the **core**: a smallest set of operations that cannot be ordered. It starts from the
  failing part's operations and drops operations (many at a time, then one at a time, as
  in Zeller's delta debugging) for as long as the rest still cannot be linearized. When
  the step budget allows it to finish, the core is *1-minimal*: leave out any one of its
  operations and the others can be ordered. Most real failures come down to two or three
  operations;
- a **sentence** that says what is wrong with those operations ("read -> 3 (p1, ...)
  returned before any write of 3 began"), or, for shapes it has no words for, names each
  operation with its interval and shows how the best order goes wrong;
- the **longest linearizable prefix**, a *hint*: the history is fine up to some event,
  and the next one (always a completion) is the first that no order can explain. The
  culprit is often earlier, which is why it is only a hint.

>>> from dsys.check import check_linearizable
>>> events = [
...     {"process": 0, "type": "invoke", "f": "read", "value": None, "time": 1.2},
...     {"process": 0, "type": "ok", "f": "read", "value": 3, "time": 1.35},
...     {"process": 1, "type": "invoke", "f": "write", "value": 3, "time": 1.5},
...     {"process": 1, "type": "ok", "f": "write", "value": 3, "time": 1.6},
... ]
>>> diagnosis = diagnose(check_linearizable(events, "register"))
>>> print(textwrap.fill(diagnosis.sentence, 88))
read -> 3 (p0, 1.2-1.35) returned before any write of 3 began (the only write of 3, by
p1, was invoked at 1.5).
>>> print(diagnosis.ascii())
  p0  read -> 3  [====]
* p1  write 3              [====]
* not in the core: named above for context
"""

from __future__ import annotations

import html
import itertools
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dsys.check._search import search
from dsys.check.history import History, Operation
from dsys.check.linearizable import CheckResult, Verdict
from dsys.check.models import Model
from dsys.check.report import Report, Violation

#: The default work budget of :func:`diagnose`, in search steps over all the searches.
DEFAULT_BUDGET = 2_000_000

#: The generic sentence tries every real-time order of a core this small (6! = 720).
_MAX_ORDERED = 6


@dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose` found about a history that is not linearizable.

    ``core`` holds the operations that cannot be ordered, in invoke order; ``minimal`` is
    true when the budget allowed to check that leaving out any one of them makes the rest
    linearizable. ``sentence`` says what is wrong, in words. ``prefix_events`` is how many
    events of the failing part (its invokes and completions, in history order) can be
    linearized, and ``first_bad`` the operation whose completion is the next event (the
    hint), or ``None`` if the search ran out of budget first.
    """

    model: Model[Any]
    history: History
    key: Any
    operations: tuple[Operation, ...]
    core: tuple[Operation, ...]
    minimal: bool
    sentence: str
    #: Operations outside the core that the sentence names ("the only write of 3"), drawn
    #: with it and marked ``*``.
    witnesses: tuple[Operation, ...]
    prefix_events: int
    prefix_operations: int
    first_bad: Operation | None
    steps: int

    def explain(self) -> str:
        """The core in words, its timeline, then the hint, labelled as one."""
        where = "" if self.key is None else f" on key {self.key!r}"
        size = len(self.core)
        minimal = "" if self.minimal else " (not shown minimal: the step budget ran out)"
        lines = [
            f"Why{where}: these {size} of {len(self.operations)} operations cannot be "
            f"ordered{minimal}:" if size > 1 else
            f"Why{where}: this operation cannot be placed at all{minimal}:",
        ]
        lines += textwrap.wrap(self.sentence, 88, initial_indent="  ", subsequent_indent="  ")
        lines += ["  " + line for line in self.ascii().splitlines()]
        lines += textwrap.wrap(self.hint(), 88, subsequent_indent="  ")
        return "\n".join(lines)

    def hint(self) -> str:
        """The longest linearizable prefix, labelled as a hint."""
        if self.first_bad is None:
            return "Hint: the longest linearizable prefix was not found within the step budget."
        op = self.first_bad
        total = sum(1 + (o.complete_at is not None) for o in self.operations)
        return (
            f"Hint (longest linearizable prefix): the first {self.prefix_events} of "
            f"{total} events of this part ({self.prefix_operations} operations invoked) can "
            f"be linearized; the next one, the completion of {_who(op)} "
            f"{self.model.describe_operation(op)} ({op.complete_where}), is the first that "
            "no order explains. The cause may lie earlier."
        )

    def ascii(self, width: int = 40) -> str:
        """A terminal timeline of the core: one line per operation, ``[==]`` its interval.

        Columns follow the order of the events, not their exact times, so that short
        operations stay visible; an operation with no known completion ends in ``>``.
        """
        shown = sorted(self.core + self.witnesses, key=lambda op: op.invoke_at)
        points = sorted({t for op in shown for t in _times(op)})
        step = max(1, min(5, width // max(len(points), 1)))
        column = {t: k * step for k, t in enumerate(points)}
        end = column[points[-1]] + step if points else 0
        labels = [f"{'*' if op in self.witnesses else ' '} {_who(op)}  "
                  f"{self.model.describe_operation(op)}" for op in shown]
        pad = max(len(label) for label in labels) + 2
        lines = []
        for op, label in zip(shown, labels, strict=True):
            start = column[op.invoke_time]
            if op.returns_at == math.inf:
                bar = "[" + "-" * max(end - start - 1, 1) + ">"
            else:
                assert op.complete_time is not None
                bar = "[" + "=" * max(column[op.complete_time] - start - 1, 1) + "]"
            lines.append((label.ljust(pad) + " " * start + bar).rstrip())
        if self.witnesses:
            lines.append("* not in the core: named above for context")
        return "\n".join(lines)

    def report(self) -> Report:
        """The diagnosis as the checkers' one :class:`~dsys.check.Report` type: one
        violation whose ``events`` are the core's operation indices."""
        first = min(op.invoke_time for op in self.core)
        processes = tuple(dict.fromkeys(_who(op) for op in self.core))
        violation = Violation(first, processes, self.sentence,
                              tuple(op.index for op in self.core))
        return Report("linearizability", (violation,), len(self.operations), "operations")

    def core_history(self) -> History:
        """Just the core, as a history (to draw it, or save it and check it again)."""
        return History(self.core, event_count=2 * len(self.core),
                       has_times=self.history.has_times, source=self.history.source)

    def svg(self) -> str:
        """An SVG timeline of the core (and the operations the sentence names, dashed),
        with the sentence under it.

        Like :meth:`ascii`, columns follow the order of the events rather than their exact
        times, so that every bar is wide enough for its words; the axis gives each
        column's time (or line of the history).
        """
        shown = sorted(self.core + self.witnesses, key=lambda op: op.invoke_at)
        points = sorted({t for op in shown for t in _times(op)})
        labels = [f"{_who(op)}  {self.model.describe_operation(op)}" for op in shown]
        left = 16 + _SVG_CHAR * max(len(label) for label in labels)
        column = {t: left + _SVG_GAP * k for k, t in enumerate(points)}
        right = left + _SVG_GAP * len(points)
        words = textwrap.wrap(self.sentence, 110)
        name = self.history.source or "history"
        title = f"{name}: the operations that cannot be ordered"
        width = max(right + 16, 16 + _SVG_CHAR * max(len(w) for w in [title, *words]))
        axis = 40 + _SVG_ROW * len(shown)
        height = axis + 44 + 16 * len(words)
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
               f'height="{height}" viewBox="0 0 {width:.0f} {height}" '
               'font-family="ui-monospace, Menlo, Consolas, monospace" font-size="12">',
               f'<rect width="{width:.0f}" height="{height}" fill="white"/>',
               f'<text x="16" y="22" font-weight="bold">{_esc(title)}</text>']
        for row, (op, label) in enumerate(zip(shown, labels, strict=True)):
            y = 40 + _SVG_ROW * row
            witness = op in self.witnesses
            start = column[op.invoke_time]
            unknown = op.returns_at == math.inf or op.complete_time is None
            end = right - 8 if unknown or op.complete_time is None else column[op.complete_time]
            stroke = "#888" if witness else "#c62828"
            dash = ' stroke-dasharray="4 3"' if witness or unknown else ""
            out.append(f'<text x="16" y="{y + 14}">{_esc(label)}</text>')
            out.append(f'<g><title>{_esc(label)} ({_esc(_interval(op, self.history.has_times))})'
                       f'{" (named for context, not in the core)" if witness else ""}</title>'
                       f'<rect x="{start}" y="{y}" width="{max(end - start, 6)}" height="18" '
                       f'rx="3" fill="#dbe9f7" stroke="{stroke}" stroke-width="2"{dash}/></g>')
        out.append(f'<line x1="{left}" y1="{axis}" x2="{right}" y2="{axis}" stroke="#888"/>')
        for t, x in column.items():
            out.append(f'<line x1="{x}" y1="{axis}" x2="{x}" y2="{axis + 4}" stroke="#888"/>')
            out.append(f'<text x="{x}" y="{axis + 16}" text-anchor="middle" fill="#666" '
                       f'font-size="10">{_esc(self._tick(t))}</text>')
        for k, line in enumerate(words):
            out.append(f'<text x="16" y="{axis + 40 + 16 * k}" fill="#c62828">'
                       f"{_esc(line)}</text>")
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def _tick(self, point: float) -> str:
        """The axis label of a column: its time, or the history line it was read from."""
        if self.history.has_times:
            return _t(point)
        for op in self.core + self.witnesses:
            if op.invoke_time == point and op.where.startswith("line "):
                return op.where[5:]
            if op.complete_time == point and (op.complete_where or "").startswith("line "):
                return (op.complete_where or "")[5:]
        return f"#{int(point)}"


#: Layout of :meth:`Diagnosis.svg`, in pixels.
_SVG_CHAR = 7.3
_SVG_GAP = 56
_SVG_ROW = 28


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def diagnose(result: CheckResult, *, budget: int = DEFAULT_BUDGET) -> Diagnosis:
    """Find the smallest set of operations that cannot be ordered, and say why.

    ``result`` must be a failed check (:attr:`Verdict.NOT_LINEARIZABLE`). ``budget``
    bounds the work, in search steps over every search made here; the answer depends
    only on the result and the budget, never on the machine's speed.

    >>> from dsys.check import check_linearizable
    >>> events = [
    ...     {"process": 0, "type": "invoke", "f": "write", "value": 1},
    ...     {"process": 0, "type": "ok", "f": "write", "value": 1},
    ...     {"process": 0, "type": "invoke", "f": "write", "value": 2},
    ...     {"process": 0, "type": "ok", "f": "write", "value": 2},
    ...     {"process": 1, "type": "invoke", "f": "read", "value": None},
    ...     {"process": 1, "type": "ok", "f": "read", "value": 1},
    ... ]
    >>> print(textwrap.fill(diagnose(check_linearizable(events, "register")).sentence, 88))
    read -> 1 (p1, events 4-5) returned 1 after it had been overwritten: write 1 (p0, events
    0-1) completed before write 2 (p0, events 2-3) began, and write 2 completed before the
    read began.
    """
    if result.verdict is not Verdict.NOT_LINEARIZABLE:
        raise ValueError(f"only a history that is not linearizable can be diagnosed; this one "
                         f"is {result.verdict.value}")
    if budget < 0:
        raise ValueError(f"the budget must not be negative, got {budget}")
    part = result.failure
    assert part is not None
    model = result.model
    spent = 0

    def fails(ops: Sequence[Operation]) -> bool | None:
        # None: out of budget, undecided. The shrinking then keeps the operation, so the
        # core stays a set that was *shown* not linearizable.
        nonlocal spent
        left = budget - spent
        if left <= 0:
            return None
        outcome = search([op for op in ops if model.needed(op)], model, max_steps=left)
        spent += outcome.steps + 1
        if outcome.verdict == "unknown":
            spent = budget
            return None
        return outcome.verdict == "not-linearizable"

    # The hint first: the core is then looked for among the operations invoked before the
    # first event that no order explains (they fail too: completing the operations still
    # open at that point only adds constraints), so core and hint tell one story.
    prefix_events, first_bad = _longest_prefix(part.operations, fails)
    close = _sources_closure(model, part.operations)
    judge = fails
    if not _built_in(model):
        # No words for where a value came from: an operation left out of the core stays in,
        # relaxed to "outcome unknown" (it may take effect at any time after its invoke,
        # or never), so the core is what cannot be ordered whatever the others did.
        def judge(ops: Sequence[Operation]) -> bool | None:
            kept = {op.index for op in ops}
            return fails(list(ops) + [_relax(op) for op in part.operations
                                      if op.index not in kept])
    start = list(part.operations)
    if first_bad is not None and first_bad.complete_at is not None:
        early = close([op for op in start if op.invoke_at < first_bad.complete_at])
        if len(early) < len(start) and judge(early):
            start = early
    core, minimal = _shrink(start, judge, close, lambda: spent < budget)
    sentence, witnesses = _describe(core, model, part.operations, result.history.has_times)
    prefix_ops = sum(1 for op in part.operations if op.invoke_at < _cut(part.operations,
                                                                           prefix_events))
    return Diagnosis(
        model=model,
        history=result.history,
        key=part.key,
        operations=part.operations,
        core=tuple(sorted(core, key=lambda op: op.invoke_at)),
        minimal=minimal,
        sentence=sentence,
        witnesses=witnesses,
        prefix_events=prefix_events,
        prefix_operations=prefix_ops,
        first_bad=first_bad,
        steps=spent,
    )


# --- the core ---------------------------------------------------------------------------------


def _shrink(
    ops: list[Operation],
    fails: Callable[[Sequence[Operation]], bool | None],
    close: Callable[[list[Operation]], list[Operation]],
    budget_left: Callable[[], bool],
) -> tuple[list[Operation], bool]:
    """Delta debugging (ddmin's complement steps): drop chunks while ``fails`` holds.

    ``close`` puts back what a candidate cannot do without (see :func:`_sources_closure`).
    Returns the smaller list and whether it is 1-minimal: every one-operation removal was
    tried, and each either made the rest linearizable or took away a needed source.
    """
    chunks = 2
    while len(ops) >= 2:
        size = math.ceil(len(ops) / chunks)
        for start in range(0, len(ops), size):
            rest = close(ops[:start] + ops[start + size:])
            if len(rest) < len(ops) and fails(rest):
                ops = rest
                chunks = max(chunks - 1, 2)
                break
        else:
            if not budget_left():
                return ops, False
            if chunks >= len(ops):
                return ops, True
            chunks = min(chunks * 2, len(ops))
    return ops, budget_left()


def _sources_closure(
    model: Model[Any], part: Sequence[Operation]
) -> Callable[[list[Operation]], list[Operation]]:
    """For the built-in models: a function that adds back to a candidate core every
    operation that could have written a value one of its operations observed.

    Without this, the smallest failing set would nearly always be a lone read ("read -> 1",
    with every write of 1 dropped), true but useless. With it, a read keeps every write
    that could have produced its value (invoked before the read completed), so the core
    shows why none of them explains it. Other models are shrunk without such a rule.
    """
    if not _built_in(model):
        return lambda ops: ops
    order = {op.index: k for k, op in enumerate(part)}

    def could_source(writer: Operation, reader: Operation, value: Any) -> bool:
        if writer is reader or writer.invoke_at >= reader.returns_at:
            return False
        if writer.f == "append" and writer.status != "fail":
            return isinstance(value, str) and isinstance(writer.value, str) and \
                bool(writer.value) and writer.value in value
        return _written(writer) is not _NOTHING and _written(writer) == value

    def close(ops: list[Operation]) -> list[Operation]:
        chosen = {op.index for op in ops}
        empty: Any = "" if model.name == "kv" else None
        todo = list(ops)
        while todo:
            reader = todo.pop()
            value = _observed(reader)
            if value is _NOTHING or value == empty:
                continue
            for writer in part:
                if writer.index not in chosen and could_source(writer, reader, value):
                    chosen.add(writer.index)
                    todo.append(writer)
        return sorted((op for op in part if op.index in chosen), key=lambda op: order[op.index])

    return close


# --- the longest linearizable prefix ----------------------------------------------------------


def _positions(ops: Sequence[Operation]) -> list[int]:
    """The part's event positions in history order: invokes and completions."""
    found = [op.invoke_at for op in ops]
    found += [op.complete_at for op in ops if op.complete_at is not None]
    return sorted(found)


def _cut(ops: Sequence[Operation], events: int) -> int:
    """The history position just after the first ``events`` events of the part."""
    positions = _positions(ops)
    if events <= 0:
        return 0
    return positions[min(events, len(positions)) - 1] + 1


def _built_in(model: Model[Any]) -> bool:
    """Whether the model is a built-in register or store, whose values have writers."""
    return model.name in ("register", "cas-register", "kv")


def _relax(op: Operation) -> Operation:
    """``op`` as if its outcome were unknown: no result, no deadline."""
    if op.status == "info":
        return op
    return replace(op, status="info", output=None, complete_at=None, complete_time=None,
                   complete_where=None)


def _prefix(ops: Sequence[Operation], cut: int) -> list[Operation]:
    """The operations as seen at history position ``cut``: those invoked before it, and
    those not yet complete then turned into ``info`` (they may take effect, or not)."""
    seen = []
    for op in ops:
        if op.invoke_at >= cut:
            continue
        if op.complete_at is not None and op.complete_at >= cut:
            op = _relax(op)
        seen.append(op)
    return seen


def _longest_prefix(
    ops: Sequence[Operation], fails: Callable[[Sequence[Operation]], bool | None]
) -> tuple[int, Operation | None]:
    """Binary search for the longest prefix of events that can be linearized.

    Adding an event to a prefix can only make it harder (an invoke adds an operation that
    may be left out; a completion pins one down), so "the first k events fail" is monotone
    in k. The event after the longest good prefix is a completion.
    """
    positions = _positions(ops)
    good, bad = 0, len(positions)  # the first `good` events are fine; the first `bad` fail
    while bad - good > 1:
        middle = (good + bad) // 2
        verdict = fails(_prefix(ops, positions[middle - 1] + 1))
        if verdict is None:
            return good, None  # out of budget
        if verdict:
            bad = middle
        else:
            good = middle
    # The whole part is known to fail (that is what is being diagnosed).
    position = positions[bad - 1]
    culprit = next((op for op in ops if op.complete_at == position), None)
    return good, culprit


# --- the words --------------------------------------------------------------------------------


def _times(op: Operation) -> tuple[float, ...]:
    return (op.invoke_time,) if op.complete_time is None else (op.invoke_time,
                                                               op.complete_time)


def _t(value: float) -> str:
    return f"{value:g}"


def _interval(op: Operation, timed: bool) -> str:
    """When an operation ran: its times, or else the lines (or events) of the history."""
    unknown = op.returns_at == math.inf or op.complete_time is None
    if timed:
        end = "?" if unknown or op.complete_time is None else _t(op.complete_time)
        return f"{_t(op.invoke_time)}-{end}"
    if op.where.startswith("line ") and (unknown or (op.complete_where or "").startswith("line")):
        end = "?" if unknown or op.complete_where is None else op.complete_where[5:]
        return f"lines {op.where[5:]}-{end}"
    end = "?" if unknown else str(op.complete_at)
    return f"events {op.invoke_at}-{end}"


def _who(op: Operation) -> str:
    """Who ran ``op``: ``p3`` for Jepsen's numbered processes, else the client's name."""
    return f"p{op.process}" if isinstance(op.process, int) else str(op.process)


def _name(op: Operation, model: Model[Any], timed: bool) -> str:
    return f"{model.describe_operation(op)} ({_who(op)}, {_interval(op, timed)})"


def _before(a: Operation, b: Operation) -> bool:
    """``a`` completed before ``b`` was invoked (so ``a`` must come first)."""
    return a.complete_at is not None and a.returns_at < b.invoke_at


def _written(op: Operation) -> Any:
    """The value a write-like operation stores, or a sentinel when it stores none."""
    if op.status == "fail":
        return _NOTHING
    if op.f in ("write", "put"):
        return op.value
    if op.f == "cas" and isinstance(op.value, tuple) and len(op.value) == 2:
        return op.value[1]
    return _NOTHING


def _observed(op: Operation) -> Any:
    """The value a read-like operation saw, or the sentinel."""
    if op.status == "ok" and op.f in ("read", "get"):
        return op.output
    if op.status == "ok" and op.f == "cas" and isinstance(op.value, tuple):
        return op.value[0]
    return _NOTHING


_NOTHING = object()


def describe_core(
    core: Sequence[Operation],
    model: Model[Any],
    context: Sequence[Operation] = (),
    has_times: bool = True,
) -> str:
    """One plain sentence saying why ``core`` cannot be ordered.

    Registers and key-value stores get the familiar shapes (a read of a value written only
    later, a read of an overwritten value, a read that missed a completed write, a cas
    that found a value nobody wrote); anything else gets the generic sentence: each
    operation with its interval, and how the order that gets furthest goes wrong.
    ``context`` is the whole failing part, used to say "the only write of 3".
    """
    return _describe(core, model, context, has_times)[0]


def _describe(
    core: Sequence[Operation], model: Model[Any], context: Sequence[Operation], timed: bool
) -> tuple[str, tuple[Operation, ...]]:
    """The sentence, and the operations outside the core that it names."""
    core = sorted(core, key=lambda op: op.invoke_at)
    context = list(context) or core
    witnesses: list[Operation] = []
    if _built_in(model):
        sentence = _register_sentence(core, model, context, timed, witnesses)
        if sentence is not None:
            unnamed = [_name(op, model, timed) for op in core
                       if _name(op, model, timed) not in sentence]
            if unnamed:
                # E.g. the write of 2 that a cas 2->4 above must have found.
                sentence += (" Also in the core, because the operations above depend on "
                             f"them: {'; '.join(unnamed)}.")
            return sentence, tuple(witnesses)
    return _generic_sentence(core, model, timed), ()


def _register_sentence(
    core: list[Operation], model: Model[Any], context: list[Operation], timed: bool,
    witnesses: list[Operation],
) -> str | None:
    """The familiar shapes, for the built-in models. Operations of ``context`` that the
    sentence names but that are not in ``core`` are appended to ``witnesses``."""
    empty: Any = "" if model.name == "kv" else None
    readers = [op for op in core if _observed(op) is not _NOTHING]
    writers = [op for op in core if _written(op) is not _NOTHING]
    show = model.describe_operation
    for reader in readers:
        value = _observed(reader)
        what = "read" if reader.f in ("read", "get") else "cas"
        verb = "returned" if what == "read" else "succeeded"
        of_value = [w for w in writers if _written(w) == value]
        all_of_value = [w for w in context if _written(w) == value]
        shown = _show(value)
        if any(_appended_into(w, value) for w in context):
            continue  # appends built the value up: no simple story of one write
        if value != empty and not all_of_value:
            # Nothing anywhere in the part wrote it.
            found = "returned" if what == "read" else "found"
            return (f"{_name(reader, model, timed)} {found} {shown}, but no operation ever wrote "
                    f"{shown}.")
        if value != empty and all(_before(reader, w) for w in all_of_value):
            first = min(all_of_value, key=lambda w: w.invoke_at)
            witnesses.append(first)
            if len(all_of_value) == 1:
                which = f"the only {first.f} of {shown}, by {_who(first)}, was invoked at"
            else:
                which = (f"the first of the {len(all_of_value)} writes of {shown}, a "
                         f"{first.f} by {_who(first)}, was invoked at")
            return (f"{_name(reader, model, timed)} {verb} before any write of {shown} began "
                    f"({which} {_t(first.invoke_time)}).")
        # A read of a value overwritten before the read began, by each write of it.
        sources = [w for w in of_value if w.invoke_at < reader.returns_at]
        pairs = []
        for w_old in sources:
            w_new = next((w for w in writers if _written(w) != value and _before(w_old, w)
                          and _before(w, reader)), None)
            if w_new is None:
                break
            pairs.append((w_old, w_new))
        else:
            if len(pairs) == 1:
                (w_old, w_new), = pairs
                return (f"{_name(reader, model, timed)} {verb} {shown} after it had been "
                        f"overwritten: {_name(w_old, model, timed)} completed before "
                        f"{_name(w_new, model, timed)} began, and {show(w_new)} completed "
                        f"before the {what} began.")
            if pairs:
                steps = "; ".join(f"{_name(old, model, timed)} was overwritten by "
                                  f"{_name(new, model, timed)}" for old, new in pairs)
                return (f"{_name(reader, model, timed)} {verb} {shown} after every write of "
                        f"{shown} had been overwritten before the {what} began: {steps}.")
        if value == empty and not any(_written(w) == empty for w in core):
            done = [w for w in core if _before(w, reader) and (
                _written(w) is not _NOTHING or _appended_into(w, w.value))]
            if done:
                w = done[0]
                state = "the key empty" if model.name == "kv" else "the register empty"
                return (f"{_name(reader, model, timed)} found {state}, but "
                        f"{_name(w, model, timed)} had completed before the {what} began: the "
                        "write was lost.")
    # A cas that failed, so did not find `old`, after a write of `old` and nothing else.
    for cas in core:
        if cas.f != "cas" or cas.status != "fail" or not isinstance(cas.value, tuple):
            continue
        old = cas.value[0]
        others = [w for w in core if w is not cas]
        if (len(others) == 1 and _written(others[0]) == old and _before(others[0], cas)):
            return (f"{_name(cas, model, timed)} failed, so it did not find {_show(old)}, but "
                    f"{_name(others[0], model, timed)} had completed before the cas began, and "
                    "nothing else wrote in between.")
    return None


def _appended_into(op: Operation, value: Any) -> bool:
    return (op.f == "append" and op.status != "fail" and isinstance(op.value, str)
            and bool(op.value) and isinstance(value, str) and op.value in value)


def _show(value: Any) -> str:
    if value is None:
        return "null"
    return repr(value) if isinstance(value, str) else str(value)


def _generic_sentence(core: list[Operation], model: Model[Any], timed: bool) -> str:
    names = "; ".join(_name(op, model, timed) for op in core)
    text = f"No order of {names} works"
    if not _built_in(model):
        text += " (whatever the other operations did)"
    constraints = [f"{model.describe_operation(a)} before {model.describe_operation(b)}"
                   for a in core for b in core if _before(a, b)]
    if constraints and len(core) <= 4:
        text += f" (real time requires {', '.join(constraints)})"
    closest = _closest_order(core, model)
    if closest is not None:
        order, culprit, state = closest
        steps = ", then ".join(model.describe_operation(op) for op in order)
        start = f"the order that gets furthest, {steps}," if order else "even first, it"
        text += (f": {start} cannot give {model.describe_operation(culprit)} its result, "
                 f"because {model.describe_state(state)}")
        return text + "."
    # Too many to try every order: say where the search got stuck.
    outcome = search([op for op in core if model.needed(op)], model)
    placed = len(outcome.order)
    text += (f": every order that real time allows gives some operation a result it did "
             f"not see; the best places {placed} of them, after which "
             f"{model.describe_state(outcome.state)}")
    if outcome.blocked_by is not None:
        op = outcome.blocked_by
        text += f", and {model.describe_operation(op)} ({_who(op)}) has completed by then"
    return text + "."


def _closest_order(
    core: list[Operation], model: Model[Any]
) -> tuple[list[Operation], Operation, Any] | None:
    """Among the real-time orders of a small core, the one whose prefix of legal steps is
    longest: (those steps, the operation that cannot go next, the state then)."""
    needed = [op for op in core if model.needed(op)]
    if not needed or len(needed) > _MAX_ORDERED:
        return None
    best: tuple[list[Operation], Operation, Any] | None = None
    for order in itertools.permutations(needed):
        if any(_before(b, a) for i, a in enumerate(order) for b in order[i + 1:]):
            continue  # not allowed by real time
        state = model.init()
        for k, op in enumerate(order):
            legal, after = model.step(state, op)
            if not legal:
                if best is None or k > len(best[0]):
                    best = (list(order[:k]), op, state)
                break
            state = after
    return best
