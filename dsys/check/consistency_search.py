"""The order search behind sequential consistency, PRAM and causal memory.

All three ask the same question of a set of operations: is there one order of them, one at
a time on a single copy of the object (the model), that gives every result the clients
saw, and that respects a given partial order? Sequential consistency asks it of the whole
history with each process's program order; PRAM and causal memory ask it once per
process, of that process's view (its own operations and everybody's writes), with program
order or causal order. The rules of this file:

- the partial order is given as, for each operation, the operations that must come
  before it (immediate predecessors are enough);
- *required* operations must all be placed; *optional* ones (an ``info`` write: it may
  never have happened) may be placed anywhere their predecessors allow, or not at all;
- the search is a depth-first search over *configurations*, a configuration being the set
  of placed operations (a bitset) and the model's state after them.

Three things keep it from being exponential in practice, as in the linearizability search
(:mod:`dsys.check._search`), whose reasoning they share:

1. Every configuration explored without success is remembered: reaching the same set and
   state by another order cannot succeed either.
2. A read-only operation whose predecessors are all placed and which fits the current
   state is placed at once and never retried elsewhere: moving an operation that changes
   nothing to the earliest point where it fits keeps every constraint and every other
   result, so if any order exists, one with it here exists too.
3. Candidates are tried in invoke order, so a history that a real store produced (whose
   true order roughly follows real time) is usually ordered without backtracking.

The problem is NP-complete in general (Gibbons and Korach, 1997, for sequential
consistency), so the search takes an optional time or step budget and answers "unknown"
when it runs out, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dsys.check.history import Operation
from dsys.check.models import Model

#: Check the budget once every this many steps (a power of two, minus one).
_BUDGET_MASK = 0x3FF


@dataclass
class OrderOutcome:
    """What one search found.

    ``verdict`` is ``"found"`` (``order`` places every required operation), ``"none"`` (no
    order exists; ``order`` is the longest partial order seen, ``state`` the model's state
    after it and ``stuck`` the required operations that could have gone next there) or
    ``"unknown"`` (the budget ran out).
    """

    verdict: str
    order: list[Operation]
    state: Any = None
    stuck: list[Operation] = field(default_factory=list)
    configurations: int = 0
    steps: int = 0


class _OutOfBudget(Exception):
    pass


def find_order(
    operations: Sequence[Operation],
    model: Model[Any],
    before: Sequence[Sequence[int]],
    optional: Sequence[bool],
    *,
    deadline: float | None = None,
    clock: Callable[[], float] | None = None,
    max_steps: int | None = None,
    slack: float | None = None,
) -> OrderOutcome:
    """Search an order of ``operations`` legal for ``model`` that respects ``before``.

    ``before[i]`` lists (by position in ``operations``) the operations that must precede
    operation ``i``; ``optional[i]`` says that operation ``i`` may be left out. The budget
    (``deadline`` on ``clock()``, or ``max_steps``) is checked every 1024 steps.

    With a ``slack``, real time constrains the order too, loosely: an operation may go
    only once every required operation that completed more than ``slack`` before its
    invoke has gone (``slack=0`` is linearizability's rule). A search with a slack finds
    only orders that are at most that far out of real time, which is fast, and all such
    orders respect ``before``; :func:`find_order_staged` uses it to try those first.

    >>> from dsys.check import History
    >>> from dsys.check.models import RegisterModel
    >>> h = History.from_events([
    ...     {"process": 0, "type": "invoke", "f": "write", "value": 1},
    ...     {"process": 0, "type": "ok", "f": "write", "value": 1},
    ...     {"process": 1, "type": "invoke", "f": "read", "value": None},
    ...     {"process": 1, "type": "ok", "f": "read", "value": None},
    ... ])
    >>> outcome = find_order(h.operations, RegisterModel(), [[], []], [False, False])
    >>> outcome.verdict, [op.label() for op in outcome.order]
    ('found', ['read', 'write 1'])
    """
    ops = list(operations)
    n = len(ops)
    if len(before) != n or len(optional) != n:
        raise ValueError("before and optional need one entry per operation")

    # --- the partial order: successor lists and counts of unplaced predecessors --------
    successors: list[list[int]] = [[] for _ in range(n)]
    missing = [0] * n
    for i, preds in enumerate(before):
        for p in sorted(set(preds)):
            if not 0 <= p < n or p == i:
                raise ValueError(f"operation {i}: bad predecessor {p}")
            successors[p].append(i)
            missing[i] += 1
    ready = {i for i in range(n) if missing[i] == 0}
    rank = [(op.returns_at, op.invoke_at, k) for k, op in enumerate(ops)]

    # --- model states, interned, and memoized steps ------------------------------------
    state_ids: dict[Hashable, int] = {}
    states: list[Hashable] = []

    def intern(state: Hashable) -> int:
        sid = state_ids.get(state)
        if sid is None:
            sid = state_ids[state] = len(states)
            states.append(state)
        return sid

    transitions: list[dict[int, int]] = [{} for _ in range(n)]
    read_only = [model.read_only(op) for op in ops]

    def step(i: int, sid: int) -> int:
        after = transitions[i].get(sid)
        if after is None:
            legal, new_state = model.step(states[sid], ops[i])
            after = intern(new_state) if legal else -1
            if read_only[i] and after not in (-1, sid):
                raise ValueError(f"model {model.name!r} says p{ops[i].process} "
                                 f"{ops[i].label()} is read-only, but its step changed the "
                                 "state")
            transitions[i][sid] = after
        return after

    # --- placing and unplacing ---------------------------------------------------------
    required = [0 if opt else 1 for opt in optional]
    remaining = sum(required)
    state = intern(model.init())
    placed = 0
    path: list[tuple[int, int]] = []  # (operation, state before it)

    def place(i: int, after: int) -> None:
        nonlocal placed, state, remaining
        path.append((i, state))
        placed |= 1 << i
        state = after
        remaining -= required[i]
        ready.discard(i)
        k = first_unplaced[-1]
        while by_completion[k][1] >= 0 and placed >> by_completion[k][1] & 1:
            k += 1
        first_unplaced.append(k)
        for s in successors[i]:
            missing[s] -= 1
            if missing[s] == 0:
                ready.add(s)

    def unplace() -> None:
        nonlocal placed, state, remaining
        i, state = path.pop()
        placed &= ~(1 << i)
        first_unplaced.pop()
        remaining += required[i]
        for s in successors[i]:
            if missing[s] == 0:
                ready.discard(s)
            missing[s] += 1
        ready.add(i)

    # --- real time, within the slack -------------------------------------------------
    # The required operations by completion time; `first_unplaced` is a stack (one entry
    # per placed operation) of the position of the earliest one not placed yet.
    by_completion = sorted((ops[i].complete_time or 0.0, i) for i in range(n)
                           if required[i]) if slack is not None else []
    by_completion.append((math.inf, -1))
    first_unplaced = [0]

    def allowed() -> list[int]:
        """The ready operations that real time (within the slack) lets go next."""
        candidates = sorted(ready, key=rank.__getitem__)
        if slack is None:
            return candidates
        floor = by_completion[first_unplaced[-1]][0] + slack
        return [i for i in candidates if ops[i].invoke_time <= floor]

    # --- independence: operations of different parts (keys) commute ----------------------
    part = [0] * n
    groups = model.partition(ops)
    if groups is not None:
        where = {id(op): g for g, group in enumerate(groups) for op in group}
        part = [where[id(op)] for op in ops]

    def asleep_after(sleep: frozenset[int], i: int) -> frozenset[int]:
        """What stays asleep after placing ``i``: the sleepers independent of it."""
        return frozenset(s for s in sleep if part[s] != part[i]) if sleep else sleep

    def force(sleep: frozenset[int]) -> tuple[int, frozenset[int]]:
        """Place every ready read-only operation that fits; return how many, and the sleep
        set that remains."""
        count = 0
        progress = True
        while progress:
            progress = False
            for i in allowed():
                if read_only[i] and step(i, state) == state:
                    place(i, state)
                    sleep = asleep_after(sleep, i)
                    count += 1
                    progress = True
                    break
        return count, sleep

    # --- the search --------------------------------------------------------------------
    # Configurations explored, each with the sleep set it was explored under (below).
    cache: dict[int, frozenset[int]] = {}
    # Each frame: [choices (operation, state after), next choice, forced placements,
    # sleep set: operations whose orders from here were explored by a sibling].
    frames: list[list[Any]] = []
    sleep: frozenset[int] = frozenset()
    steps = 0
    best: tuple[list[int], int, list[int]] | None = None  # order, state, stuck

    def budget_spent() -> bool:
        if max_steps is not None and steps > max_steps:
            return True
        return deadline is not None and clock is not None and clock() > deadline

    def outcome(verdict: str, order: list[int], sid: int, stuck: list[int]) -> OrderOutcome:
        return OrderOutcome(verdict, [ops[i] for i in order], states[sid],
                            [ops[i] for i in stuck], len(cache), steps)

    try:
        while True:
            # A new configuration: place what is forced, then list the choices. With
            # sleep sets (Godefroid 1996), an operation explored first from here by an
            # earlier sibling, and independent of what was placed since, is not tried
            # first again: the orders it starts are that sibling's, reordered.
            forced, sleep = force(sleep)
            if remaining == 0:
                return outcome("found", [i for i, _ in path], state, [])
            key = placed | (state << n)
            candidates = allowed()
            stored = cache.get(key)
            if stored is None:
                cache[key] = sleep
                trying = [i for i in candidates if i not in sleep]
                base = sleep
            else:
                # Seen before, under sleep set `stored`: what was awake then is done.
                trying = [i for i in candidates if i in stored and i not in sleep]
                base = sleep | frozenset(i for i in candidates if i not in stored)
                cache[key] = stored & sleep
            choices: list[tuple[int, int]] = []
            for i in trying:
                after = step(i, state)
                if after >= 0 and not (read_only[i] and after == state):
                    choices.append((i, after))
            if not choices and (best is None or len(path) > len(best[0])):
                stuck = [i for i in sorted(ready, key=rank.__getitem__) if required[i]]
                best = ([i for i, _ in path], state, stuck)
            frames.append([choices, 0, forced, base])
            # Take the next choice of the innermost frame that has one left.
            while True:
                frame = frames[-1]
                if frame[1] < len(frame[0]):
                    i, after = frame[0][frame[1]]
                    tried = frozenset(c for c, _ in frame[0][:frame[1]])
                    frame[1] += 1
                    sleep = asleep_after(frame[3] | tried, i)
                    place(i, after)
                    break
                for _ in range(frame[2]):
                    unplace()
                frames.pop()
                if not frames:
                    assert best is not None
                    return outcome("none", *best)
                unplace()  # the choice of the enclosing frame that led here
                steps += 1
                if not steps & _BUDGET_MASK and budget_spent():
                    raise _OutOfBudget
            steps += 1
            if not steps & _BUDGET_MASK and budget_spent():
                raise _OutOfBudget
    except _OutOfBudget:
        order, sid, stuck = best or ([], state, [])
        return outcome("unknown", order, sid, stuck)


def find_order_staged(
    operations: Sequence[Operation],
    model: Model[Any],
    before: Sequence[Sequence[int]],
    optional: Sequence[bool],
    *,
    deadline: float | None = None,
    clock: Callable[[], float] | None = None,
    max_steps: int | None = None,
    stage_steps: int = 20_000,
) -> OrderOutcome:
    """:func:`find_order`, trying orders close to real time first.

    A history recorded from a real store is usually explained by an order not far from
    real time (a stale read lags by about the replication delay, or a cache's TTL), and
    such orders are found fast, because real time prunes the search as it does for
    linearizability. So the search first allows a slack of a sixteenth, then a quarter
    of the history's span, each with at most ``stage_steps`` steps, and only then
    searches without real time, which alone can prove that no order exists. The answer
    is the same as :func:`find_order`'s; only the time to find it changes. (No slack at
    all is linearizability, which its own checker decides faster, key by key.)
    """
    ops = list(operations)
    times = [op.invoke_time for op in ops] + [op.complete_time for op in ops
                                              if op.complete_time is not None]
    span = (max(times) - min(times)) if times else 0.0
    used = 0
    for slack in (span / 16, span / 4):
        budget = stage_steps if max_steps is None else min(stage_steps, max_steps - used)
        if budget <= 0:
            break
        outcome = find_order(ops, model, before, optional, deadline=deadline, clock=clock,
                             max_steps=budget, slack=slack)
        used += outcome.steps
        if outcome.verdict == "found":
            return outcome
        if deadline is not None and clock is not None and clock() > deadline:
            return OrderOutcome("unknown", [], configurations=outcome.configurations,
                                steps=used)
    rest = None if max_steps is None else max(max_steps - used, 0)
    outcome = find_order(ops, model, before, optional, deadline=deadline, clock=clock,
                         max_steps=rest)
    outcome.steps += used
    return outcome
