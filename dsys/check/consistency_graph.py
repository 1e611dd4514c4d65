"""Reads, writes and what each read saw: the graphs behind the weaker consistency checks.

The causal, PRAM, session and convergence checks of :mod:`dsys.check.consistency` work on
read/write histories (a ``register``, or ``get``/``put`` of the ``kv`` model) and need to
know which write each read saw (the *writes-into* or *reads-from* relation). A value alone
says so only when no value is written twice to a key, so the rules of this file are:

- every value written to a key is written at most once, and never the initial value
  (``null`` for a register, ``""`` for ``kv``); a history that breaks this is refused with
  a :class:`~dsys.check.HistoryError` naming both writes;
- an ``ok`` read saw the one write of the value it returned, or the initial value, or
  nothing that was ever written (a read "from thin air");
- a write that completed ``fail`` never happened and is left out; an ``info`` write
  (outcome unknown) is kept only if some read saw its value, because then it happened;
- reads that did not complete ``ok`` observed nothing and are left out.

:func:`analyse` does this once; the rest are small graph helpers (paths, cycles) used to
explain a violation as a chain of operations.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dsys.check.history import CheckInputError, History, HistoryError, Operation, Process
from dsys.check.models import KVModel, Model, RegisterModel, get_model

#: ``source`` of a read that returned the initial value.
INITIAL = -1
#: ``source`` of a read that returned a value nobody wrote.
THIN_AIR = -2


@dataclass(frozen=True)
class ReadWrite:
    """A read/write history, analysed.

    ``ops`` are the operations kept (see the module docstring), in invoke order; every
    other field is indexed by position in ``ops``. ``source[i]`` is, for a read, the
    position of the write it saw, :data:`INITIAL` or :data:`THIN_AIR`, and for a write,
    ``i`` itself.
    """

    history: History
    model: Model[Any]
    initial: Any
    ops: tuple[Operation, ...]
    is_write: tuple[bool, ...]
    value: tuple[Any, ...]
    source: tuple[int, ...]
    #: Each process's operations, in program order (positions in ``ops``).
    by_process: dict[Process, list[int]]
    #: Each key's writes, in invoke order (positions in ``ops``).
    writes_of: dict[Any, list[int]]

    def describe(self, i: int) -> str:
        """``p1 read x -> 2`` for the operation at position ``i``."""
        op = self.ops[i]
        return f"p{op.process} {self.model.describe_operation(op)}"

    def show(self, value: Any) -> str:
        """A value as the model writes it (``null`` for None)."""
        return _show(value)

    def key_name(self, key: Any) -> str:
        """``key x`` for key x; ``the register`` when there are no keys."""
        return _key(key)


def read_write_functions(model: Model[Any]) -> tuple[str, str]:
    """The read and write operation names of a read/write model.

    >>> read_write_functions(get_model("kv"))
    ('get', 'put')
    """
    if isinstance(model, KVModel):
        return "get", "put"
    if isinstance(model, RegisterModel):
        return "read", "write"
    raise CheckInputError(
        f"this check needs a read/write model (register or kv), not {model.name!r}: it must "
        "know which operations read and which write"
    )


def analyse(history: History, model: str | Model[Any], check: str) -> ReadWrite:
    """Classify ``history``'s operations and find what each read saw (module docstring).

    ``check`` names the checker, for error messages.
    """
    model = get_model(model)
    read, write = read_write_functions(model)
    initial = "" if isinstance(model, KVModel) else None
    prefix = f"{history.source}, " if history.source else ""
    writers: dict[tuple[Any, Any], Operation] = {}
    observed: set[tuple[Any, Any]] = set()
    for op in history.operations:
        if op.f not in (read, write):
            raise HistoryError(
                f"{prefix}{op.where}: {check} is checked on reads and writes only "
                f"({read} and {write} in the {model.name} model), not {op.f!r}"
            )
        if op.f == write and op.status != "fail":
            slot = (op.key, op.value)
            if op.value == initial:
                raise HistoryError(
                    f"{prefix}{op.where}: p{op.process} writes the initial value "
                    f"{_show(initial)}; {check} needs every written value to differ from it, "
                    "to tell which write a read saw"
                )
            if slot in writers:
                first = writers[slot]
                raise HistoryError(
                    f"{prefix}{op.where}: p{op.process} writes {_show(op.value)} to "
                    f"{_key(op.key)}, as p{first.process} did at {first.where}; {check} "
                    "needs each value written at most once per key, to tell which write a "
                    "read saw"
                )
            writers[slot] = op
        elif op.f == read and op.status == "ok":
            observed.add((op.key, op.output))
    kept = [
        op for op in history.operations
        if (op.f == read and op.status == "ok")
        or (op.f == write and (op.status == "ok"
                               or (op.status == "info" and (op.key, op.value) in observed)))
    ]
    position = {op.index: i for i, op in enumerate(kept)}
    is_write = tuple(op.f == write for op in kept)
    value = tuple(op.value if op.f == write else op.output for op in kept)
    source: list[int] = []
    by_process: dict[Process, list[int]] = {}
    writes_of: dict[Any, list[int]] = {}
    for i, op in enumerate(kept):
        by_process.setdefault(op.process, []).append(i)
        if is_write[i]:
            source.append(i)
            writes_of.setdefault(op.key, []).append(i)
        elif op.output == initial:
            source.append(INITIAL)
        else:
            writer = writers.get((op.key, op.output))
            source.append(THIN_AIR if writer is None else position[writer.index])
    return ReadWrite(history, model, initial, tuple(kept), is_write, value, tuple(source),
                     by_process, writes_of)


def _show(value: Any) -> str:
    return "null" if value is None else repr(value) if isinstance(value, str) else str(value)


def _key(key: Any) -> str:
    return "the register" if key is None else f"key {key}"


# ----- the causal order -------------------------------------------------------------------


def causal_predecessors(rw: ReadWrite, keep: Collection[int] | None = None
                        ) -> list[list[tuple[int, str]]]:
    """For each operation, its immediate causal predecessors and why: ``"po"`` (the
    previous operation of the same process) or ``"wr"`` (the write a read saw).

    With ``keep``, only those operations count (the others get no edges at all): the
    causal order of the history made of them alone.
    """
    preds: list[list[tuple[int, str]]] = [[] for _ in rw.ops]
    for positions in rw.by_process.values():
        mine = positions if keep is None else [i for i in positions if i in keep]
        for previous, current in itertools.pairwise(mine):
            preds[current].append((previous, "po"))
    for i, src in enumerate(rw.source):
        if not rw.is_write[i] and src >= 0 and (keep is None or (i in keep and src in keep)):
            preds[i].append((src, "wr"))
    return preds


def topological_order(preds: Sequence[Sequence[tuple[int, str]]]) -> list[int] | None:
    """An order of the nodes with every predecessor first, or None if there is a cycle."""
    n = len(preds)
    successors: list[list[int]] = [[] for _ in range(n)]
    missing = [0] * n
    for i, edges in enumerate(preds):
        for p, _ in edges:
            successors[p].append(i)
            missing[i] += 1
    queue = deque(i for i in range(n) if missing[i] == 0)
    order = []
    while queue:
        i = queue.popleft()
        order.append(i)
        for s in successors[i]:
            missing[s] -= 1
            if missing[s] == 0:
                queue.append(s)
    return order if len(order) == n else None


def pasts(preds: Sequence[Sequence[tuple[int, str]]], order: Sequence[int]) -> list[int]:
    """For each node, the bitset of all nodes before it (the transitive closure)."""
    past = [0] * len(preds)
    for i in order:
        bits = 0
        for p, _ in preds[i]:
            bits |= past[p] | (1 << p)
        past[i] = bits
    return past


def path(preds: Sequence[Sequence[tuple[int, str]]], past: Sequence[int], start: int,
         end: int) -> list[tuple[int, str]]:
    """A shortest chain of edges from ``start`` to ``end`` (``start`` must be in ``end``'s
    past): ``[(start, ""), (next, why), ..., (end, why)]``."""
    # Walk back from `end` through predecessors that have `start` in their past.
    came_from: dict[int, tuple[int, str]] = {}
    queue = deque([end])
    seen = {end}
    while queue:
        node = queue.popleft()
        if node == start:
            break
        for p, why in preds[node]:
            if p not in seen and (p == start or past[p] >> start & 1):
                seen.add(p)
                came_from[p] = (node, why)
                queue.append(p)
    chain = [(start, "")]
    node = start
    while node != end:
        node, why = came_from[node]
        chain.append((node, why))
    return chain


def find_cycle(successors: Sequence[Iterable[int]]) -> list[int] | None:
    """One cycle of a directed graph, as a list of nodes (the last leads back to the
    first), or None when the graph has none.

    >>> find_cycle([[1], [2], [0]])
    [0, 1, 2]
    >>> find_cycle([[1], [], []]) is None
    True
    """
    cycles = find_cycles(successors)
    return cycles[0] if cycles else None


def find_cycles(successors: Sequence[Iterable[int]]) -> list[list[int]]:
    """One cycle in each strongly connected component that has one (Tarjan's algorithm,
    without recursion), in order of the component's smallest node."""
    n = len(successors)
    succ = [sorted(set(s)) for s in successors]
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            node, child = work[-1]
            if child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack[node] = True
            if child < len(succ[node]):
                work[-1] = (node, child + 1)
                nxt = succ[node][child]
                if index[nxt] < 0:
                    work.append((nxt, 0))
                elif on_stack[nxt]:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in succ[node]:
                    components.append(sorted(component))
    cycles = []
    for component in sorted(components):
        members = set(component)
        first = component[0]
        # Shortest way back from `first` to itself, inside the component.
        came_from: dict[int, int] = {}
        queue = deque([first])
        found = False
        while queue and not found:
            node = queue.popleft()
            for nxt in succ[node]:
                if nxt == first:
                    came_from[first] = node
                    found = True
                    break
                if nxt in members and nxt not in came_from:
                    came_from[nxt] = node
                    queue.append(nxt)
        cycle = [came_from[first]]
        while cycle[-1] != first:
            cycle.append(came_from[cycle[-1]])
        cycles.append(cycle[::-1])  # it was built backwards, ending at `first`
    return cycles
