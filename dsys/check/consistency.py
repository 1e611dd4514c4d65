"""Consistency models weaker than linearizability, and a checker for each.

A history that is not linearizable may still keep a weaker promise. Each checker here
judges one, and returns the one :class:`~dsys.check.Report` type: truthy when the promise
holds, otherwise a :class:`~dsys.check.Violation` per problem, said in words (which
operations, which rule), whose ``events`` are the positions of those operations in
``history.operations`` (``draw_history(history, path, report=report)`` marks them).

The models, strongest first (see the concept page "Consistency models" for the map):

``sequential`` (:func:`check_sequential`; Lamport 1979)
    One order of all operations, keeping each process's own order, explains every
    result. Real time across processes does not matter. Not *local*: a history can be
    sequentially consistent key by key and not as a whole, so it is checked as a whole.
``causal`` (:func:`check_causal`; *causal memory*, Ahamad et al. 1995)
    Each process sees all writes in an order of its own that respects the causal order
    (its program order, plus "a read comes after the write it saw", made transitive).
    Processes may disagree about the order of concurrent writes.
``weak-causal`` (``check_causal(..., definition="weak")``; CC in Bouajjani et al. 2017)
    The causal order has no cycle and no read returns a value overwritten in its causal
    past (or the initial value, when a write is in its causal past). Weaker than causal
    memory: one process may read two concurrent writes in alternation.
``pram`` (:func:`check_pram`; Lipton and Sandberg 1988)
    Each process sees all writes in an order of its own that respects every process's
    program order (but not reads-from: no transitivity through other processes).
the session guarantees (:func:`check_session_guarantees`; Terry et al. 1994)
    Judged per session (a process) against one version order per key, as a versioned
    store has (given, or else it must exist): read-your-writes, monotonic reads,
    monotonic writes, writes-follow-reads.
``eventual`` (:func:`check_eventual`, :func:`check_converged`)
    After writes stop and a quiet period passes, every read of a key (every replica)
    returns the same value, one that was written.

The causal, PRAM, session and eventual checks need read/write histories (``read``/
``write`` of a register, ``get``/``put`` of ``kv``) in which no value is written twice to
a key, so that a value says which write a read saw (see
:mod:`dsys.check.consistency_graph`).

>>> from dsys.check import check_sequential
>>> stale = [
...     {"process": 0, "type": "invoke", "f": "write", "value": 1},
...     {"process": 0, "type": "ok", "f": "write", "value": 1},
...     {"process": 1, "type": "invoke", "f": "read", "value": None},
...     {"process": 1, "type": "ok", "f": "read", "value": None},
... ]
>>> bool(check_sequential(stale, "register"))   # read first, then write: fine
True
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from dsys.check.consistency_graph import (
    INITIAL,
    THIN_AIR,
    ReadWrite,
    analyse,
    causal_predecessors,
    find_cycles,
    pasts,
    path,
    topological_order,
)
from dsys.check.consistency_search import OrderOutcome, find_order, find_order_staged
from dsys.check.history import CheckInputError, History, Operation, freeze
from dsys.check.linearizable import Verdict, check_linearizable
from dsys.check.models import Model, get_model, validate_history
from dsys.check.report import Report, Violation

#: The session guarantees of Terry et al. (1994), by the names the checkers use.
SESSION_GUARANTEES = ("read-your-writes", "monotonic-reads", "monotonic-writes",
                      "writes-follow-reads")

#: Short names accepted for the session guarantees.
_GUARANTEE_ALIASES = {"ryw": "read-your-writes", "mr": "monotonic-reads",
                      "mw": "monotonic-writes", "wfr": "writes-follow-reads"}

#: The models :func:`check_consistency` knows, strongest first.
CONSISTENCY_MODELS = ("linearizable", "sequential", "causal", "weak-causal", "pram",
                      "sessions", *SESSION_GUARANTEES, "eventual")

#: A report that could not decide has one violation whose text starts with this word.
UNDECIDED = "undecided"

#: Histories with at most this many operations get the smallest failing part computed
#: (a few more searches, each on fewer operations).
_CORE_LIMIT = 60
#: Step budget of each of those searches (deterministic, unlike a time limit).
_CORE_STEPS = 20_000
#: Step budget of the linearizability check tried first (a shortcut, see below).
_LIN_STEPS = 1_000_000

Events = History | Iterable[Mapping[str, Any]]


def _as_history(history: Events) -> History:
    return history if isinstance(history, History) else History.from_events(history)


def _when(op: Operation) -> float:
    return op.complete_time if op.complete_time is not None else op.invoke_time


def _violation(ops: Sequence[Operation], text: str) -> Violation:
    """A violation about ``ops`` (named in ``events`` by their history positions)."""
    processes = sorted({op.process for op in ops}, key=lambda p: (isinstance(p, str), p))
    return Violation(max((_when(op) for op in ops), default=0.0),
                     tuple(f"p{p}" for p in processes), text,
                     tuple(op.index for op in ops))


def _undecided(check: str, outcome: OrderOutcome, judged: int) -> Report:
    text = (f"{UNDECIDED}: the search ran out of its budget after {outcome.configurations:,} "
            "configurations without finding an order or ruling one out; allow more time "
            "(timeout=) or steps (max_steps=)")
    return Report(check, (Violation(0.0, (), text),), judged, "operations")


def _budget(timeout: float | None, max_steps: int | None,
            clock: Callable[[], float]) -> float | None:
    if timeout is not None and timeout < 0:
        raise CheckInputError(f"the timeout must not be negative, got {timeout}")
    if max_steps is not None and max_steps < 0:
        raise CheckInputError(f"max_steps must not be negative, got {max_steps}")
    return None if timeout is None else clock() + timeout


def _describe(model: Model[Any], op: Operation) -> str:
    return f"p{op.process} {model.describe_operation(op)}"


def _by_process(model: Model[Any], ops: Sequence[Operation]) -> list[str]:
    """``p0: write x 1, read x -> 1`` lines, one per process."""
    groups: dict[Any, list[str]] = {}
    for op in sorted(ops, key=lambda o: o.invoke_at):
        groups.setdefault(op.process, []).append(model.describe_operation(op))
    order = sorted(groups, key=lambda p: (isinstance(p, str), p))
    return [f"p{p}: {', '.join(groups[p])}" for p in order]


# ----- sequential consistency -------------------------------------------------------------


def _program_order(ops: Sequence[Operation]) -> tuple[list[list[int]], list[bool]]:
    """``before`` and ``optional`` for ``find_order``: each process's operations in their
    order; an ``info`` operation (it may take effect any time after its invoke, or never)
    only after the operations its process completed before it, and before nothing."""
    before: list[list[int]] = [[] for _ in ops]
    optional = [op.status == "info" for op in ops]
    last: dict[Any, int] = {}
    for i, op in enumerate(ops):
        if op.process in last:
            before[i].append(last[op.process])
        if not optional[i]:
            last[op.process] = i
    return before, optional


def check_sequential(
    history: Events,
    model: str | Model[Any],
    *,
    timeout: float | None = None,
    max_steps: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Report:
    """Check that ``history`` is *sequentially consistent* for ``model``.

    Sequential consistency (Lamport, 1979): one order of all the operations, keeping
    each process's operations in the order it issued them, gives every result the
    clients saw when run one at a time on a single copy of the object. Unlike
    linearizability, an operation may take effect long before or after it was invoked,
    as long as its own process's order is kept. ``info`` operations may take effect at
    any point after their process's earlier operations, or never.

    Sequential consistency is not *local*: two keys can each be fine on their own while no
    single order suits both (see the example), so the history is checked as a whole, with
    the model's state covering every key. The search (:mod:`dsys.check.consistency_search`)
    is NP-complete in the worst case: ``timeout`` (seconds on ``clock``) or ``max_steps``
    bound it, and then the report may be :data:`UNDECIDED`.

    When the history fails, the violation lists the smallest set of its operations found
    that already has no such order, and where the search for that set got stuck.

    >>> def op(p, f, key, value, result=None):
    ...     invoke = {"process": p, "type": "invoke", "f": f, "key": key, "value": value}
    ...     return [invoke, dict(invoke, type="ok", value=result if f == "read" else value)]
    >>> # Each key alone is fine; together, each process misses the other's write.
    >>> history = (op(0, "write", "x", 1) + op(0, "read", "y", None, None)
    ...            + op(1, "write", "y", 1) + op(1, "read", "x", None, None))
    >>> report = check_sequential(history, "register")
    >>> print(report.explain())
    sequential consistency: 1 violation(s) (4 operations checked)
      t=7.000000: no one order of the 4 operations keeps each process's order and gives
      every result; these 4 already have none:
        p0: write x 1, read y -> null
        p1: write y 1, read x -> null
        the longest order found places 3: p0 write x 1, p0 read y -> null, p1 write y 1;
        then register x holds 1; register y holds 1, and nothing can go next:
        p1 read x -> null: not possible, because register x holds 1; register y holds 1
    """
    history = _as_history(history)
    model = get_model(model)
    validate_history(model, history.operations, history.source)
    deadline = _budget(timeout, max_steps, clock)
    check = "sequential consistency"
    needed = [op for op in history.operations if model.needed(op)]
    if _linearizable_within(history, model, deadline, clock, max_steps):
        return Report(check, (), len(needed), "operations")
    before, optional = _program_order(needed)
    outcome = find_order_staged(needed, model, before, optional, deadline=deadline,
                                clock=clock, max_steps=max_steps)
    if outcome.verdict == "found":
        return Report(check, (), len(needed), "operations")
    if outcome.verdict == "unknown":
        return _undecided(check, outcome, len(needed))

    def fails(ops: list[Operation]) -> OrderOutcome | None:
        before, optional = _program_order(ops)
        result = find_order(ops, model, before, optional, max_steps=_CORE_STEPS)
        return result if result.verdict == "none" else None

    lines = [f"no one order of the {len(needed)} operations keeps each process's order and "
             "gives every result"]
    units, readers = _units(history, model, needed)
    core, outcome, small = _smallest_failing(needed, units, readers, fails, outcome)
    if small:
        lines[0] += f"; these {len(core)} already have none:"
        lines += _by_process(model, core)
    else:
        lines[0] += f"; the first {len(core)} already have none:"
        core = list(outcome.stuck)
    lines += _stuck_lines(model, outcome)
    return Report(check, (_violation(core, "\n    ".join(lines)),), len(needed), "operations")


def _linearizable_within(history: History, model: Model[Any], deadline: float | None,
                         clock: Callable[[], float], max_steps: int | None) -> bool:
    """Whether the history is linearizable, if that is quick to tell (a shortcut: a
    linearizable history is sequentially consistent, causal, PRAM, and its linearization
    is the order every process can use). Linearizability is local, so its checker splits
    the history by key, which a search for a sequential order cannot."""
    steps = _LIN_STEPS if max_steps is None else min(_LIN_STEPS, max_steps)
    timeout = None if deadline is None else max(deadline - clock(), 0.0)
    return check_linearizable(history, model, timeout=timeout, clock=clock,
                              max_steps=steps).linearizable


def _units(history: History, model: Model[Any], ops: Sequence[Operation]
           ) -> tuple[list[list[Operation]], dict[int, list[Operation]] | None]:
    """Groups of operations that can be taken out of a failing history without making it
    pass, latest first: a read-only operation, an optional one, and, when each value is
    written once, a write together with the reads that saw it. Also, in that case, the
    reads of each write (by the write's index), else None."""
    try:
        rw = analyse(history, model, "the search")
    except CheckInputError:
        rw = None
    readers: dict[int, list[Operation]] | None = None
    if rw is not None:
        readers = {}
        for i, src in enumerate(rw.source):
            if not rw.is_write[i] and src >= 0:
                readers.setdefault(rw.ops[src].index, []).append(rw.ops[i])
    units: list[list[Operation]] = []
    for op in sorted(ops, key=lambda o: -o.invoke_at):
        if model.read_only(op) or op.status == "info":
            units.append([op])
        elif readers is not None:
            units.append([op, *readers.get(op.index, [])])
    return units, readers


def _smallest_failing(
    ops: Sequence[Operation],
    units: Sequence[Sequence[Operation]],
    readers: dict[int, list[Operation]] | None,
    fails: Callable[[list[Operation]], OrderOutcome | None],
    outcome: OrderOutcome,
) -> tuple[list[Operation], OrderOutcome, bool]:
    """A small part of a failing history that still fails, and its search's outcome.

    Taking out a unit (see :func:`_units`) can only make an order easier to find, so what
    is left is a true explanation. First, if the history is long and each value is
    written once, the shortest prefix (by invoke) that fails, found by bisection: the
    operations invoked up to some point, less the reads of writes invoked after it (each
    prefix is the next one less some units, so failing is monotone in the point). Then,
    if what is left is short, each unit in turn. The flag says whether that last step ran
    (the part is then small enough to list).
    """
    kept = list(ops)
    if len(kept) > _CORE_LIMIT and readers is not None:
        points = sorted({op.invoke_at for op in kept})

        def prefix(point: int) -> list[Operation]:
            late = {r.index for op in kept if op.invoke_at > point
                    for r in readers.get(op.index, [])}
            return [op for op in kept if op.invoke_at <= point and op.index not in late]

        low, high = 0, len(points) - 1
        while low < high:
            middle = (low + high) // 2
            part = prefix(points[middle])
            result = fails(part) if part else None
            if result is not None:
                high, kept, outcome = middle, part, result
            else:
                low = middle + 1
    if len(kept) > _CORE_LIMIT:
        return kept, outcome, False
    for unit in units:
        drop = {op.index for op in unit}
        trial = [op for op in kept if op.index not in drop]
        if len(trial) == len(kept) or not trial:
            continue
        result = fails(trial)
        if result is not None:
            kept, outcome = trial, result
    return kept, outcome, True


def _stuck_lines(model: Model[Any], outcome: OrderOutcome) -> list[str]:
    order = outcome.order
    if order:
        shown = ", ".join(_describe(model, op) for op in order[-6:])
        more = f"... {len(order) - 6} more, " if len(order) > 6 else ""
        head = (f"the longest order found places {len(order)}: {more}{shown}; then "
                f"{model.describe_state(outcome.state)}")
    else:
        head = f"no operation can even go first: {model.describe_state(outcome.state)}"
    if not outcome.stuck:
        return [head + "."]
    lines = [head + ", and nothing can go next:"]
    for op in outcome.stuck[:6]:
        legal, _ = model.step(outcome.state, op)
        reason = ("possible next, but what follows cannot all be placed" if legal
                  else f"not possible, because {model.describe_state(outcome.state)}")
        lines.append(f"{_describe(model, op)}: {reason}")
    return lines


# ----- causal consistency and PRAM ------------------------------------------------------------


def check_causal(
    history: Events,
    model: str | Model[Any],
    *,
    definition: str = "memory",
    timeout: float | None = None,
    max_steps: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Report:
    """Check that a read/write ``history`` is *causally consistent*.

    The *causal order* is each process's program order plus *writes-into* (a read comes
    after the write whose value it returned), made transitive. It needs to know which
    write a read saw, so every value may be written at most once per key (module
    :mod:`dsys.check.consistency_graph`).

    ``definition="memory"`` (the default) is *causal memory* (Ahamad, Neiger, Burns,
    Kohli and Hutto, 1995): for each process, one order of all the writes and of its own
    operations, respecting the causal order, explains everything that process read.
    Processes may disagree on the order of concurrent writes.

    ``definition="weak"`` is the weaker *CC* of Bouajjani, Enea, Guerraoui and Hamza
    (2017), checked through its bad patterns: the causal order has no cycle, no read
    returns a value that no one wrote, that a write in its causal past overwrote, or the
    initial value when a write of that key is in its causal past. These patterns are
    checked first under both definitions (each is a violation of causal memory too); causal
    memory then searches each process's order (bounded by ``timeout``/``max_steps``).

    >>> def op(p, f, key, value, result=None):
    ...     invoke = {"process": p, "type": "invoke", "f": f, "key": key, "value": value}
    ...     return [invoke, dict(invoke, type="ok", value=result if f == "read" else value)]
    >>> # p2 sees p1's write, which p1 made after seeing p0's, but not p0's write itself.
    >>> history = (op(0, "write", "x", 1) + op(1, "read", "x", None, 1) + op(1, "write", "y", 2)
    ...            + op(2, "read", "y", None, 2) + op(2, "read", "x", None, None))
    >>> print(check_causal(history, "register").violations[0].text)
    p2 read x -> null returned the initial value, but p0 write x 1 is in its causal past:
    p0 write x 1 → p1 read x -> 1 (it read that) → p1 write y 2 (next in p1's order)
    → p2 read y -> 2 (it read that) → p2 read x -> null (next in p2's order)
    """
    if definition not in ("memory", "weak"):
        raise CheckInputError(f"definition must be 'memory' or 'weak', got {definition!r}")
    history = _as_history(history)
    check = "causal consistency" if definition == "memory" else "weak causal consistency"
    rw = analyse(history, model, check)
    found = _thin_air(rw)
    preds = causal_predecessors(rw)
    order = topological_order(preds)
    if order is None:
        found.append(_causal_cycle(rw, preds))
        return Report(check, tuple(found), len(rw.ops), "operations")
    past = pasts(preds, order)
    found += _bad_patterns(rw, preds, past)
    if found or definition == "weak":
        return Report(check, tuple(found), len(rw.ops), "operations")
    return _views(check, rw, "causal", timeout, max_steps, clock)


def check_pram(
    history: Events,
    model: str | Model[Any],
    *,
    timeout: float | None = None,
    max_steps: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Report:
    """Check that a read/write ``history`` is *PRAM* (pipelined RAM) consistent.

    PRAM (Lipton and Sandberg, 1988), also called FIFO consistency: for each process, one
    order of all the writes and of its own operations, keeping every process's program
    order, explains everything that process read. Writes of one process are seen by all in
    the order it made them; writes of different processes may be seen in any order, and,
    unlike causal memory, what a process saw before writing does not bind those who see
    its write. Same requirements on values as :func:`check_causal`.

    >>> def op(p, f, key, value, result=None):
    ...     invoke = {"process": p, "type": "invoke", "f": f, "key": key, "value": value}
    ...     return [invoke, dict(invoke, type="ok", value=result if f == "read" else value)]
    >>> # p1 sees p0's second write but not its first.
    >>> history = (op(0, "write", "x", 1) + op(0, "write", "y", 2)
    ...            + op(1, "read", "y", None, 2) + op(1, "read", "x", None, None))
    >>> print(check_pram(history, "register").violations[0].text)
    p1 cannot see the writes in one order that keeps every process's program order and
    explains what it read; these already cannot:
        p0: write x 1, write y 2
        p1: read y -> 2, read x -> null
        the longest order found places 3: p0 write x 1, p0 write y 2, p1 read y -> 2; then
        register x holds 1; register y holds 2, and nothing can go next:
        p1 read x -> null: not possible, because register x holds 1; register y holds 2
    """
    history = _as_history(history)
    check = "PRAM consistency"
    rw = analyse(history, model, check)
    found = _thin_air(rw)
    if found:
        return Report(check, tuple(found), len(rw.ops), "operations")
    return _views(check, rw, "program", timeout, max_steps, clock)


_RULES = {"causal": "respects the causal order", "program": "keeps every process's program order"}


def _view_search(
    rw: ReadWrite,
    keep: Collection[int],
    process: Any,
    order: str,
    *,
    deadline: float | None = None,
    clock: Callable[[], float] | None = None,
    max_steps: int | None = None,
) -> OrderOutcome | None:
    """Search an order of ``process``'s view within the operations ``keep``: its own
    operations and the writes of every key it reads, constrained by the ``"causal"`` or
    ``"program"`` order of the history made of ``keep``. None when it reads nothing.

    Writes of keys the process never reads cannot change what it read, and any order of
    the rest extends to them, so they are left out.
    """
    mine = [i for i in rw.by_process[process] if i in keep]
    keys = {rw.ops[i].key for i in mine if not rw.is_write[i]}
    if not keys:
        return None
    view = sorted(set(mine) | {w for key in keys for w in rw.writes_of.get(key, [])
                               if w in keep})
    if order == "causal":
        preds = causal_predecessors(rw, keep)
        topo = topological_order(preds)
        assert topo is not None  # a part of an acyclic order
        before_bits = pasts(preds, topo)
    else:
        before_bits = [0] * len(rw.ops)
        for positions in rw.by_process.values():
            bits = 0
            for i in positions:
                if i in keep:
                    before_bits[i] = bits
                    bits |= 1 << i
    local = {g: k for k, g in enumerate(view)}
    mask = sum(1 << g for g in view)
    before = [[local[g] for g in _bits(before_bits[i] & mask)] for i in view]
    return find_order_staged([rw.ops[g] for g in view], rw.model, before,
                             [False] * len(view), deadline=deadline, clock=clock,
                             max_steps=max_steps)


def _views(
    check: str,
    rw: ReadWrite,
    order: str,
    timeout: float | None,
    max_steps: int | None,
    clock: Callable[[], float],
) -> Report:
    """Causal memory or PRAM: search each process's view (see :func:`_view_search`)."""
    deadline = _budget(timeout, max_steps, clock)
    found: list[Violation] = []
    steps_left = max_steps
    everything = range(len(rw.ops))
    readers: dict[int, list[int]] = {}
    for i, src in enumerate(rw.source):
        if not rw.is_write[i] and src >= 0:
            readers.setdefault(src, []).append(i)
    position = {op.index: i for i, op in enumerate(rw.ops)}
    if _linearizable_within(rw.history, rw.model, deadline, clock, max_steps):
        return Report(check, (), len(rw.ops), "operations")
    for process in rw.by_process:
        outcome = _view_search(rw, everything, process, order, deadline=deadline,
                               clock=clock, max_steps=steps_left)
        if outcome is None or outcome.verdict == "found":
            if outcome is not None and steps_left is not None:
                steps_left = max(steps_left - outcome.steps, 0)
            continue
        if outcome.verdict == "unknown":
            return _undecided(check, outcome, len(rw.ops))
        lines = [f"p{process} cannot see the writes in one order that {_RULES[order]} and "
                 "explains what it read"]

        def fails(ops: list[Operation], process: Any = process) -> OrderOutcome | None:
            keep = {position[op.index] for op in ops}
            result = _view_search(rw, keep, process, order, max_steps=_CORE_STEPS)
            return result if result is not None and result.verdict == "none" else None

        units = [[rw.ops[i], *(rw.ops[r] for r in readers.get(i, []))]
                 for i in sorted(everything, reverse=True)]
        by_index = {rw.ops[w].index: [rw.ops[r] for r in rs] for w, rs in readers.items()}
        ops, outcome, small = _smallest_failing(list(rw.ops), units, by_index, fails, outcome)
        if small:
            lines[0] += "; these already cannot:"
            lines += _by_process(rw.model, ops)
        else:
            lines[0] += f"; the first {len(ops)} operations already cannot:"
            ops = list(outcome.stuck)
        lines += _stuck_lines(rw.model, outcome)
        found.append(_violation(ops, "\n    ".join(lines)))
    return Report(check, tuple(found), len(rw.ops), "operations")


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _thin_air(rw: ReadWrite) -> list[Violation]:
    return [
        _violation([rw.ops[i]], f"{rw.describe(i)} returned a value never written to "
                                f"{rw.key_name(rw.ops[i].key)} (a read from thin air)")
        for i, src in enumerate(rw.source) if src == THIN_AIR
    ]


def _chain(rw: ReadWrite, hops: Sequence[tuple[int, str]]) -> str:
    words = []
    for i, why in hops:
        if why == "wr":
            words.append(f"{rw.describe(i)} (it read that)")
        elif why == "po":
            words.append(f"{rw.describe(i)} (next in p{rw.ops[i].process}'s order)")
        else:
            words.append(rw.describe(i))
    return " → ".join(words)


def _causal_cycle(rw: ReadWrite, preds: list[list[tuple[int, str]]]) -> Violation:
    successors: list[list[int]] = [[] for _ in rw.ops]
    why: dict[tuple[int, int], str] = {}
    for i, edges in enumerate(preds):
        for p, reason in edges:
            successors[p].append(i)
            why.setdefault((p, i), reason)
    cycle = find_cycles(successors)[0]
    hops = [(cycle[0], ""), *((b, why[(a, b)]) for a, b in itertools.pairwise(cycle))]
    hops.append((cycle[0], why[(cycle[-1], cycle[0])]))
    return _violation([rw.ops[i] for i in cycle],
                      f"the causal order has a cycle (an operation would be its own cause): "
                      f"{_chain(rw, hops)}")


def _bad_patterns(rw: ReadWrite, preds: list[list[tuple[int, str]]], past: list[int]
                  ) -> list[Violation]:
    """WriteCOInitRead and WriteCORead (Bouajjani et al. 2017), one per read at most."""
    found = []
    key_mask: dict[Any, int] = {key: sum(1 << w for w in writes)
                                for key, writes in rw.writes_of.items()}
    for r, src in enumerate(rw.source):
        if rw.is_write[r] or src == THIN_AIR:
            continue
        op = rw.ops[r]
        earlier = past[r] & key_mask.get(op.key, 0)
        if src == INITIAL:
            if earlier:
                w = earlier.bit_length() - 1  # the latest such write, by invoke order
                hops = path(preds, past, w, r)
                found.append(_violation(
                    [rw.ops[i] for i, _ in hops],
                    f"{rw.describe(r)} returned the initial value, but {rw.describe(w)} is in "
                    f"its causal past: {_chain(rw, hops)}"))
            continue
        for w2 in reversed(_bits(earlier & ~(1 << src))):
            if past[w2] >> src & 1:
                first = path(preds, past, src, w2)
                second = path(preds, past, w2, r)
                hops = first + second[1:]
                found.append(_violation(
                    [rw.ops[i] for i, _ in hops],
                    f"{rw.describe(r)} returned the value of {rw.describe(src)}, which "
                    f"{rw.describe(w2)} overwrote in its causal past: {_chain(rw, hops)}"))
                break
    return found


# ----- session guarantees -----------------------------------------------------------------

_GUARANTEE_WORDS = {
    "read-your-writes": "read-your-writes",
    "monotonic-reads": "monotonic reads",
    "monotonic-writes": "monotonic writes",
    "writes-follow-reads": "writes-follow-reads",
}


def _guarantees(names: str | Iterable[str]) -> tuple[str, ...]:
    chosen = [names] if isinstance(names, str) else list(names)
    out = []
    for name in chosen:
        full = _GUARANTEE_ALIASES.get(name, name)
        if full not in SESSION_GUARANTEES:
            raise CheckInputError(f"unknown session guarantee {name!r}: choose from "
                                  f"{', '.join(SESSION_GUARANTEES)} (or ryw, mr, mw, wfr)")
        if full not in out:
            out.append(full)
    if not out:
        raise CheckInputError("name at least one session guarantee")
    return tuple(g for g in SESSION_GUARANTEES if g in out)


def check_session_guarantees(
    history: Events,
    model: str | Model[Any],
    *,
    guarantees: str | Iterable[str] = SESSION_GUARANTEES,
    order: Mapping[Any, Sequence[Any]] | None = None,
) -> Report:
    """Check the session guarantees of Terry et al. (1994) on a read/write ``history``.

    A *session* is a process. A versioned store orders the writes of each key once (their
    versions); the guarantees say how a session's operations relate to that order:

    - **read-your-writes**: a read sees the session's earlier writes of its key (it
      returns one of them or a write ordered after them);
    - **monotonic reads**: a read returns nothing older than the session's earlier reads
      of that key returned;
    - **monotonic writes**: the session's writes of a key are ordered as it made them;
    - **writes-follow-reads**: a write is ordered after the writes the session read from
      that key before making it.

    ``order`` gives the store's version order: for each key, the values written to it,
    oldest first (what the store's log or version numbers say). Without it the checker
    asks whether *some* version order per key satisfies the guarantees, and a violation
    is a cycle: writes that would each have to come before the other. (Monotonic writes
    alone can then never fail; it shows up together with the others.) The guarantees are
    judged per key, and against one order for all sessions, as a store has. Values must
    be written at most once per key (:mod:`dsys.check.consistency_graph`).

    >>> def op(p, f, value, result=None):
    ...     invoke = {"process": p, "type": "invoke", "f": f, "key": "x", "value": value}
    ...     return [invoke, dict(invoke, type="ok", value=result if f == "read" else value)]
    >>> history = op(0, "write", 1) + op(0, "read", None, None)   # p0 misses its own write
    >>> print(check_session_guarantees(history, "register").explain())
    session guarantees: 1 violation(s) (2 operations checked)
      t=3.000000: p0 read x -> null returned the initial value after p0 write x 1
      (read-your-writes: p0 write x 1, then p0 read x -> null)
    >>> history = op(0, "write", 1) + op(0, "write", 2)
    >>> print(check_session_guarantees(history, "register", order={"x": [2, 1]}).explain())
    session guarantees: 1 violation(s) (2 operations checked)
      t=3.000000: the store ordered p0 write x 2 before p0 write x 1 (monotonic writes:
      p0 write x 1, then p0 write x 2)
    """
    history = _as_history(history)
    chosen = _guarantees(guarantees)
    check = ("session guarantees" if len(chosen) > 1
             else _GUARANTEE_WORDS[chosen[0]])
    rw = analyse(history, model, check)
    found = _thin_air(rw)
    constraints = _session_constraints(rw, chosen)
    # A constraint "a before b" whose b is the initial value cannot hold.
    for a, b, guarantee, why in constraints:
        if b == INITIAL:
            reader = why[-1]
            found.append(_violation(
                [rw.ops[i] for i in why],
                f"{rw.describe(reader)} returned the initial value after {rw.describe(a)} "
                f"({_GUARANTEE_WORDS[guarantee]}: {_then(rw, why)})"))
    between_writes = [c for c in constraints if c[0] != INITIAL and c[1] != INITIAL]
    if order is not None:
        found += _against_order(rw, between_writes, order)
    else:
        found += _order_cycles(rw, between_writes)
    return Report(check, tuple(found), len(rw.ops), "operations")


#: A session constraint: write ``a`` must be ordered before write ``b`` (either may be
#: INITIAL), because of ``guarantee``, as operations ``why`` (positions) show.
_Constraint = tuple[int, int, str, tuple[int, ...]]


def _session_constraints(rw: ReadWrite, chosen: Sequence[str]) -> list[_Constraint]:
    out: list[_Constraint] = []
    for positions in rw.by_process.values():
        own_writes: dict[Any, list[int]] = {}  # completed ok, for read-your-writes
        last_write: dict[Any, int] = {}
        last_read: dict[Any, int] = {}
        reads: dict[Any, dict[int, int]] = {}  # key -> source -> first read of it
        for i in positions:
            op = rw.ops[i]
            key = op.key
            if rw.is_write[i]:
                if "monotonic-writes" in chosen and key in last_write:
                    out.append((last_write[key], i, "monotonic-writes", (last_write[key], i)))
                if "writes-follow-reads" in chosen:
                    for src, r in reads.get(key, {}).items():
                        if src != INITIAL:
                            out.append((src, i, "writes-follow-reads", (r, i)))
                last_write[key] = i
                if op.status == "ok":
                    own_writes.setdefault(key, []).append(i)
                continue
            src = rw.source[i]
            if src == THIN_AIR:
                continue
            if "read-your-writes" in chosen:
                for w in own_writes.get(key, []):
                    if w != src:
                        out.append((w, src, "read-your-writes", (w, i)))
            if "monotonic-reads" in chosen and key in last_read:
                previous = last_read[key]
                if rw.source[previous] not in (src, INITIAL):
                    out.append((rw.source[previous], src, "monotonic-reads", (previous, i)))
            last_read[key] = i
            reads.setdefault(key, {}).setdefault(src, i)
    return out


def _then(rw: ReadWrite, why: Sequence[int]) -> str:
    return ", then ".join(rw.describe(i) for i in why)


def _against_order(rw: ReadWrite, constraints: Sequence[_Constraint],
                   order: Mapping[Any, Sequence[Any]]) -> list[Violation]:
    rank: dict[Any, dict[Any, int]] = {}
    for key, values in order.items():
        ranks: dict[Any, int] = {}
        for k, value in enumerate(values):
            frozen = freeze(value)
            if frozen in ranks:
                raise CheckInputError(f"the order given for {rw.key_name(key)} lists "
                                      f"{rw.show(frozen)} twice")
            ranks[frozen] = k
        rank[key] = ranks

    def version(w: int) -> int:
        op = rw.ops[w]
        ranks = rank.get(op.key, {})
        if op.value not in ranks:
            raise CheckInputError(f"the order given for {rw.key_name(op.key)} does not list "
                                  f"{rw.show(op.value)}, written by {rw.describe(w)} at "
                                  f"{op.where}")
        return ranks[op.value]

    found = []
    for a, b, guarantee, why in constraints:
        if version(a) > version(b):
            found.append(_violation(
                [rw.ops[i] for i in why],
                f"the store ordered {rw.describe(b)} before {rw.describe(a)} "
                f"({_GUARANTEE_WORDS[guarantee]}: {_then(rw, why)})"))
    return found


def _order_cycles(rw: ReadWrite, constraints: Sequence[_Constraint]) -> list[Violation]:
    successors: list[list[int]] = [[] for _ in rw.ops]
    reason: dict[tuple[int, int], tuple[str, tuple[int, ...]]] = {}
    for a, b, guarantee, why in constraints:
        if (a, b) not in reason:
            reason[(a, b)] = (guarantee, why)
            successors[a].append(b)
    found = []
    for cycle in find_cycles(successors):
        steps = []
        ops: list[Operation] = []
        names = []
        for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True):
            guarantee, why = reason[(a, b)]
            if _GUARANTEE_WORDS[guarantee] not in names:
                names.append(_GUARANTEE_WORDS[guarantee])
            steps.append(f"{rw.describe(a)} before {rw.describe(b)} "
                         f"({_GUARANTEE_WORDS[guarantee]}: {_then(rw, why)})")
            ops += [rw.ops[i] for i in why if rw.ops[i] not in ops]
        key = rw.ops[cycle[0]].key
        found.append(_violation(
            ops, f"no order of the writes of {rw.key_name(key)} satisfies "
                 f"{' and '.join(names)}: " + "; ".join(steps)))
    return found


# ----- eventual convergence ----------------------------------------------------------------


def check_eventual(
    history: Events,
    model: str | Model[Any],
    *,
    after: float | None = None,
    quiet: float = 0.0,
) -> Report:
    """Check *eventual convergence*: once writes stop, all reads of a key agree.

    For each key, the reads invoked at least ``quiet`` seconds (history time) after the
    key's last write completed, and not before ``after`` if given, must all return the
    same value; that value must have been written to the key (or be the initial value, if
    it never was) and not be one its own writer overwrote later (a lost write). A write
    whose outcome is unknown (``info``) counts as landed by its timeout plus ``quiet``.
    Keys with no read in that window are not judged (the report says how many were).

    >>> def op(p, f, value, start, result=None):
    ...     invoke = {"process": p, "type": "invoke", "f": f, "key": "x", "value": value,
    ...               "time": start}
    ...     done = dict(invoke, type="ok", time=start + 1,
    ...                 value=result if f == "read" else value)
    ...     return [invoke, done]
    >>> events = sorted(op(0, "write", 1, 0) + op(1, "write", 2, 0)
    ...                 + op(0, "read", None, 10, 1) + op(1, "read", None, 10, 2),
    ...                 key=lambda e: e["time"])
    >>> print(check_eventual(events, "register", quiet=5).explain())
    eventual convergence: 1 violation(s) (1 keys checked)
      t=11.000000: reads of key x at or after t=6 do not agree: p0 read x -> 1, p1 read x -> 2
    """
    history = _as_history(history)
    if quiet < 0 or math.isnan(quiet):
        raise CheckInputError(f"quiet must be a time >= 0, got {quiet}")
    check = "eventual convergence"
    rw = analyse(history, model, check)
    found = _thin_air(rw)
    judged = 0
    keys: dict[Any, list[int]] = {}
    for i, op in enumerate(rw.ops):
        keys.setdefault(op.key, []).append(i)
    for key, positions in keys.items():
        writes = [i for i in positions if rw.is_write[i]]
        settle = max((_when(rw.ops[w]) for w in writes), default=-math.inf) + quiet
        if after is not None:
            settle = max(settle, after)
        late = [i for i in positions
                if not rw.is_write[i] and rw.ops[i].invoke_time >= settle
                and rw.source[i] != THIN_AIR]
        if not late:
            continue
        judged += 1
        start = "the start" if settle == -math.inf else f"t={settle:g}"
        values = {rw.source[i] for i in late}
        if len(values) > 1:
            others = [i for i in late[1:] if rw.source[i] != rw.source[late[0]]]
            shown = [late[0], *others[:3]]
            found.append(_violation(
                [rw.ops[i] for i in shown],
                f"reads of {rw.key_name(key)} at or after {start} do not agree: "
                + ", ".join(rw.describe(i) for i in shown)))
            continue
        src = rw.source[late[0]]
        if src == INITIAL and writes:
            found.append(_violation(
                [rw.ops[late[0]], rw.ops[writes[-1]]],
                f"reads of {rw.key_name(key)} at or after {start} agree on the initial value, "
                f"as if no write had happened (the last was {rw.describe(writes[-1])})"))
        elif src >= 0:
            later = [w for w in rw.by_process[rw.ops[src].process]
                     if w > src and rw.is_write[w] and rw.ops[w].key == key
                     and rw.ops[w].status == "ok"]
            if later:
                found.append(_violation(
                    [rw.ops[src], rw.ops[later[0]], rw.ops[late[0]]],
                    f"reads of {rw.key_name(key)} at or after {start} agree on "
                    f"{rw.show(rw.value[src])}, which {rw.describe(later[0])} overwrote "
                    f"after {rw.describe(src)} (a lost write), e.g. {rw.describe(late[0])}"))
    return Report(check, tuple(found), judged, "keys")


def check_converged(states: Mapping[str, Mapping[Any, Any]]) -> Report:
    """Check that replicas have converged: every replica holds the same value per key.

    ``states`` maps each replica's name to its final contents (key to value). A key some
    replicas lack counts as a disagreement.

    >>> print(check_converged({"a": {"x": 1, "y": 2}, "b": {"x": 1}, "c": {"x": 3}}).explain())
    eventual convergence: 2 violation(s) (2 keys checked)
      t=0.000000: replicas disagree on key x: a, b hold 1; c holds 3
      t=0.000000: replicas disagree on key y: a holds 2; b, c hold nothing
    """
    if not isinstance(states, Mapping) or not all(isinstance(s, Mapping)
                                                  for s in states.values()):
        raise CheckInputError("check_converged needs {replica: {key: value}}")
    replicas = sorted(states)
    keys = sorted({key for state in states.values() for key in state}, key=repr)
    found = []
    missing = object()
    for key in keys:
        holders: dict[str, list[str]] = {}
        for replica in replicas:
            value = states[replica].get(key, missing)
            shown = "nothing" if value is missing else (
                repr(value) if isinstance(value, str) else str(value))
            holders.setdefault(shown, []).append(replica)
        if len(holders) > 1:
            parts = [f"{', '.join(names)} {'hold' if len(names) > 1 else 'holds'} {shown}"
                     for shown, names in holders.items()]
            found.append(Violation(0.0, tuple(replicas),
                                   f"replicas disagree on key {key}: " + "; ".join(parts)))
    return Report("eventual convergence", tuple(found), len(keys), "keys")


# ----- all of them ----------------------------------------------------------------------------


def check_consistency(
    history: Events,
    consistency: str,
    model: str | Model[Any],
    **options: Any,
) -> Report:
    """Check ``history`` against the consistency model named ``consistency``.

    The names are those of :data:`CONSISTENCY_MODELS`; ``options`` go to the checker
    (``timeout``, ``max_steps``, ``order``, ``after``, ``quiet``...). ``"linearizable"``
    runs :func:`~dsys.check.check_linearizable` and turns its result into a report.

    >>> events = [
    ...     {"process": 0, "type": "invoke", "f": "write", "value": 1},
    ...     {"process": 0, "type": "ok", "f": "write", "value": 1},
    ...     {"process": 1, "type": "invoke", "f": "read", "value": None},
    ...     {"process": 1, "type": "ok", "f": "read", "value": None},
    ... ]
    >>> [bool(check_consistency(events, name, "register")) for name in ("linearizable",
    ...                                                                 "sequential")]
    [False, True]
    """
    if consistency == "linearizable":
        return _linearizable(history, model, **options)
    if consistency == "sequential":
        return check_sequential(history, model, **options)
    if consistency == "causal":
        return check_causal(history, model, **options)
    if consistency == "weak-causal":
        return check_causal(history, model, definition="weak", **options)
    if consistency == "pram":
        return check_pram(history, model, **options)
    if consistency == "sessions":
        return check_session_guarantees(history, model, **options)
    if consistency in SESSION_GUARANTEES:
        return check_session_guarantees(history, model, guarantees=consistency, **options)
    if consistency == "eventual":
        return check_eventual(history, model, **options)
    raise CheckInputError(f"unknown consistency model {consistency!r}: choose one of "
                          f"{', '.join(CONSISTENCY_MODELS)}")


def _linearizable(history: Events, model: str | Model[Any], **options: Any) -> Report:
    result = check_linearizable(history, model, **options)
    check = "linearizability"
    judged = sum(len(part.operations) for part in result.partitions)
    if result.verdict is Verdict.LINEARIZABLE:
        return Report(check, (), judged, "operations")
    if result.verdict is Verdict.UNKNOWN:
        return Report(check, (Violation(0.0, (), f"{UNDECIDED}: {result.explain()}"),),
                      judged, "operations")
    failure = result.failure
    assert failure is not None
    ops = [op for op, _ in failure.stuck]
    if failure.blocked_by is not None and failure.blocked_by not in ops:
        ops.append(failure.blocked_by)
    text = result.explain().replace("\n", "\n    ")
    return Report(check, (_violation(ops, text),), judged, "operations")

