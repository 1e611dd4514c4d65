"""The linearization search: Wing & Gong's algorithm with Lowe's cache, as in Porcupine.

The history is laid out as a doubly linked list of *entries* in real-time order: a call
entry where each operation was invoked and a return entry where it completed. Walking the
list from the front, every call entry met before the first return entry is an operation
that may take effect next (its invoke happened before anything still pending had to be
done). The search tries them in turn:

- *lift* one: check it against the model's state; if legal, remove its call and return
  entries from the list, push it on a stack, and start again from the front;
- reaching a *return entry* means that operation had to take effect by now and has not:
  pop the last lifted operation, put its entries back (*unlift*) and try the next
  candidate after it.

A linearization is found when every operation with a known completion is lifted. ``info``
operations have no return entry (their completion time is +infinity), so they can be
lifted anywhere after their invoke, or left out.

Three things keep this from being exponential in practice:

1. A cache of the configurations already explored: the set of lifted operations (a plain
   ``int`` used as a bitset) together with the model state. Reaching the same set and
   state by another order cannot succeed where the first attempt failed (Lowe, "Testing
   for linearizability", 2017).
2. Read-only operations that fit the current state are placed at once and never retried
   elsewhere: moving an operation that changes nothing to the earliest point where it
   fits keeps every other operation's state and real-time order, so if any linearization
   exists, one with it here exists too.
3. The model's step results are computed once per (operation, state) and looked up after.

Model states are interned to small ints so the cache key is one int: the bitset with the
state id above its top bit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dsys.check.history import Operation
from dsys.check.models import Model

#: Check the clock once every this many pushes and pops (a power of two, minus one).
_CLOCK_MASK = 0x3FF


@dataclass
class SearchOutcome:
    """What one search found, in terms of the operations it was given.

    ``order`` is a full linearization when ``verdict`` is ``"linearizable"``, and otherwise
    the longest partial linearization seen. For a failure, ``state`` is the model state
    after ``order``, ``blocked_by`` the operation whose completion came before it could be
    placed, and ``candidates`` the operations that could have gone next at that point.
    """

    verdict: str
    order: list[Operation]
    state: Any = None
    blocked_by: Operation | None = None
    candidates: list[Operation] = field(default_factory=list)
    configurations: int = 0
    steps: int = 0


class _Timeout(Exception):
    pass


def search(
    operations: Sequence[Operation],
    model: Model[Any],
    *,
    deadline: float | None = None,
    clock: Callable[[], float] | None = None,
    max_steps: int | None = None,
) -> SearchOutcome:
    """Look for a linearization of ``operations`` (all needed, all valid for ``model``).

    The search gives up ("unknown") when ``clock()`` passes ``deadline`` or after
    ``max_steps`` steps; both are checked every ``_CLOCK_MASK + 1`` steps.
    """

    def out_of_budget(steps: int) -> bool:
        if max_steps is not None and steps > max_steps:
            return True
        return deadline is not None and clock is not None and clock() > deadline

    ops = list(operations)
    n = len(ops)

    # --- the entry list ------------------------------------------------------------------
    # Entry 0 is the head sentinel and entry `size - 1` the tail. A call entry stores its
    # operation's index; `match` maps a call entry to its return entry (-1 for info ops).
    events: list[tuple[int, int, int]] = []  # (position, is_return, op index)
    for i, op in enumerate(ops):
        events.append((op.invoke_at, 0, i))
        if op.returns_at != float("inf"):
            events.append((int(op.returns_at), 1, i))
    events.sort()
    size = len(events) + 2
    tail = size - 1
    entry_op = [-1] * size
    is_call = [False] * size
    match = [-1] * size
    call_entry = [0] * n
    for entry, (_, is_return, i) in enumerate(events, start=1):
        entry_op[entry] = i
        if is_return:
            match[call_entry[i]] = entry
        else:
            is_call[entry] = True
            call_entry[i] = entry
    nxt = list(range(1, size + 1))
    prv = list(range(-1, size - 1))

    # --- model states and memoized steps ---------------------------------------------------
    state_ids: dict[Hashable, int] = {}
    states: list[Hashable] = []

    def intern(state: Hashable) -> int:
        sid = state_ids.get(state)
        if sid is None:
            sid = state_ids[state] = len(states)
            states.append(state)
        return sid

    # transitions[i][s] is the state id after op i in state s, or -1 if illegal there.
    transitions: list[dict[int, int]] = [{} for _ in range(n)]
    read_only = [model.read_only(op) for op in ops]

    def step(i: int, sid: int) -> int:
        legal, after = model.step(states[sid], ops[i])
        result = intern(after) if legal else -1
        if read_only[i] and result not in (-1, sid):
            raise ValueError(
                f"model {model.name!r} says p{ops[i].process} {ops[i].label()} is "
                "read-only, but its step changed the state"
            )
        transitions[i][sid] = result
        return result

    # --- the search ----------------------------------------------------------------------
    bit = [1 << i for i in range(n)]
    required = [0 if op.returns_at == float("inf") else 1 for op in ops]
    remaining = sum(required)
    state = intern(model.init())
    bits = 0
    cache: set[int] = {state << n}
    # Each frame: (call entry lifted, state before it, whether it was forced).
    stack: list[tuple[int, int, bool]] = []
    steps = 0
    # The deepest point reached: (order, state, blocked op, candidates), or None so far.
    best: tuple[list[int], int, int, list[int]] | None = None

    if remaining == 0:
        return SearchOutcome("linearizable", [], states[state], configurations=1)

    def lift(entry: int) -> None:
        # Unlink the call entry and its return entry (if any).
        p, q = prv[entry], nxt[entry]
        nxt[p] = q
        prv[q] = p
        r = match[entry]
        if r >= 0:
            p, q = prv[r], nxt[r]
            nxt[p] = q
            prv[q] = p

    def unlift(entry: int) -> None:
        # Relink in the reverse order of `lift`, so each entry's neighbours are as they were.
        r = match[entry]
        if r >= 0:
            nxt[prv[r]] = r
            prv[nxt[r]] = r
        nxt[prv[entry]] = entry
        prv[nxt[entry]] = entry

    def candidates_now() -> list[int]:
        found = []
        e = nxt[0]
        while is_call[e]:
            found.append(entry_op[e])
            e = nxt[e]
        return found

    try:
        while True:
            # A new configuration: first place any read-only operation that fits.
            failed = False
            e = nxt[0]
            while is_call[e]:
                i = entry_op[e]
                if read_only[i]:
                    after = transitions[i].get(state)
                    if after is None:
                        after = step(i, state)
                    if after == state:
                        key = bits | bit[i] | (state << n)
                        if key in cache:
                            failed = True  # explored before from here: it led nowhere
                            break
                        cache.add(key)
                        stack.append((e, state, True))
                        lift(e)
                        bits |= bit[i]
                        remaining -= 1
                        if remaining == 0:
                            return _success(stack, entry_op, ops, states[state], len(cache), steps)
                        e = nxt[0]
                        continue
                e = nxt[e]

            # Then try each candidate in list order.
            e = nxt[0] if not failed else tail
            while True:
                if is_call[e]:
                    i = entry_op[e]
                    after = transitions[i].get(state)
                    if after is None:
                        after = step(i, state)
                    if after >= 0:
                        new_bits = bits | bit[i]
                        key = new_bits | (after << n)
                        if key not in cache:
                            cache.add(key)
                            stack.append((e, state, False))
                            lift(e)
                            bits = new_bits
                            state = after
                            remaining -= required[i]
                            if remaining == 0:
                                return _success(stack, entry_op, ops, states[state],
                                                len(cache), steps)
                            steps += 1
                            if not steps & _CLOCK_MASK and out_of_budget(steps):
                                raise _Timeout
                            break  # a new configuration
                    e = nxt[e]
                    continue

                # A return entry (or the end): the operations lifted so far cannot be
                # completed from here. Remember the deepest point, then backtrack.
                if best is None or len(stack) > len(best[0]):
                    blocked = entry_op[e] if e != tail else -1
                    best = ([entry_op[f] for f, _, _ in stack], state, blocked, candidates_now())
                while True:
                    if not stack:
                        assert best is not None  # recorded just above, at the latest
                        order, sid, blocked, candidates = best
                        return SearchOutcome(
                            "not-linearizable",
                            [ops[i] for i in order],
                            states[sid],
                            ops[blocked] if blocked >= 0 else None,
                            [ops[i] for i in candidates],
                            len(cache),
                            steps,
                        )
                    e, state, forced = stack.pop()
                    i = entry_op[e]
                    bits ^= bit[i]
                    remaining += required[i]
                    unlift(e)
                    if not forced:
                        break
                    # A forced placement was the only one worth trying here: keep popping.
                steps += 1
                if not steps & _CLOCK_MASK and out_of_budget(steps):
                    raise _Timeout
                e = nxt[e]
    except _Timeout:
        order, sid, _, _ = best or ([], state, -1, [])
        return SearchOutcome(
            "unknown", [ops[i] for i in order], states[sid], configurations=len(cache), steps=steps
        )


def _success(
    stack: list[tuple[int, int, bool]],
    entry_op: list[int],
    ops: list[Operation],
    state: Any,
    configurations: int,
    steps: int,
) -> SearchOutcome:
    order = [ops[entry_op[e]] for e, _, _ in stack]
    return SearchOutcome("linearizable", order, state, configurations=configurations,
                         steps=steps)
