"""An independent reference for the checker tests: sequential semantics and brute force.

Nothing here uses dsys.check's models or search: the semantics are written again from
DESIGN.md, and linearizability is decided by trying every order the definition allows.
Slow, obviously right, and only for small histories.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

from dsys.check import Operation

#: The operations each model's generators use.
FUNCTIONS = {
    "register": ("read", "write"),
    "cas-register": ("read", "write", "cas"),
    "kv": ("get", "put", "append"),
}


def empty(model: str) -> Any:
    return "" if model == "kv" else None


def apply(model: str, state: dict[Any, Any], f: str, key: Any, value: Any) -> tuple[Any, bool]:
    """Run one operation on `state` in place: return (what it returns, whether it worked).

    Reads return the value; cas returns whether it swapped; others return their argument.
    """
    current = state.get(key, empty(model))
    if f in ("read", "get"):
        return current, True
    if f in ("write", "put"):
        state[key] = value
        return value, True
    if f == "append":
        state[key] = current + value
        return value, True
    old, new = value
    if current == old:
        state[key] = new
        return value, True
    return value, False


def _placeable(op: Operation) -> bool:
    """Which operations the definition asks us to place in the order.

    A `fail` op did not happen, except a failed cas: returning false is an observation.
    An `info` read observed nothing and changed nothing; other `info` ops are optional.
    """
    if op.status == "fail":
        return op.f == "cas"
    return not (op.status == "info" and op.f in ("read", "get"))


def _fits(model: str, state: dict[Any, Any], op: Operation) -> bool:
    """Apply `op` to `state` in place if it is consistent with what was observed."""
    if op.status == "fail":  # a failed cas: the register did not hold `old`
        return state.get(op.key, empty(model)) != op.value[0]
    result, worked = apply(model, state, op.f, op.key, op.value)
    if op.status == "info":
        return True
    if op.f in ("read", "get"):
        return result == op.output
    return worked  # an ok cas must have swapped


def brute_force_linearizable(model: str, operations: Sequence[Operation]) -> bool:
    """Try every subset of the info ops and every real-time-respecting order."""
    placeable = [op for op in operations if _placeable(op)]
    required = [op for op in placeable if op.status != "info"]
    optional = [op for op in placeable if op.status == "info"]
    for size in range(len(optional) + 1):
        for chosen in combinations(optional, size):
            if _some_order_works(model, required + list(chosen)):
                return True
    return False


def _some_order_works(model: str, ops: list[Operation]) -> bool:
    def extend(placed: frozenset[int], state: dict[Any, Any]) -> bool:
        if len(placed) == len(ops):
            return True
        for i, op in enumerate(ops):
            if i in placed:
                continue
            # Real time: anything that completed before `op` was invoked goes first.
            if any(
                j not in placed and other.returns_at < op.invoke_at for j, other in enumerate(ops)
            ):
                continue
            after = dict(state)
            if _fits(model, after, op) and extend(placed | {i}, after):
                return True
        return False

    return extend(frozenset(), {})


def is_valid_linearization(model: str, order: Sequence[Operation], of: Sequence[Operation]) -> bool:
    """Whether `order` is a linearization of the operations `of` (all on independent keys
    or one object): every required op exactly once, real time respected, results right."""
    placeable = [op for op in of if _placeable(op)]
    required = {op.index for op in placeable if op.status != "info"}
    placed = [op.index for op in order]
    if len(set(placed)) != len(placed) or not required <= set(placed):
        return False
    if not set(placed) <= {op.index for op in placeable}:
        return False
    position = {op.index: k for k, op in enumerate(order)}
    for a in order:
        for b in order:
            if b.returns_at < a.invoke_at and position[b.index] > position[a.index]:
                return False
    state: dict[Any, Any] = {}
    return all(_fits(model, state, op) for op in order)
