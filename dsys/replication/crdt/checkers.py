"""The convergence checker: replicas agree, and what they agree on is explained.

*Strong eventual consistency* (Shapiro et al. 2011, §2.1), the promise of every CRDT, has
two parts, and :func:`check_crdt_convergence` judges both:

* **convergence**: replicas that have received the same updates hold equal states. After
  the faults stop and a quiet period (long enough for gossip, or the broadcast, to carry
  every update everywhere), every live replica has received every update, so every live
  replica must hold the *same* state of every object;
* **the value is explained by the updates**: the state the replicas agree on must be the
  one the acknowledged updates make, not just any common state (replicas that all lost
  the same increment agree, and are wrong). From the updates recorded in the trace, the
  checker computes what each object's value must be:

  * a counter: the sum of the increments minus the decrements (and for a state-based
    counter, each replica's own entry: the sum of the increments made there);
  * an LWW register: the value of the write with the largest timestamp;
  * an MV register: the writes whose version no other write's version follows (their
    values, and for the state-based register, their versions);
  * an OR-Set: the elements of the adds whose tag no remove (and, in the state-based
    set, no later add of the same element, which supersedes it) observed.

The updates are the ``crdt`` notes that :class:`~dsys.replication.crdt.CrdtReplication`
and the op-based CRDTs record when an update is made (at its source, once it has
returned: for the state-based objects, once it is durable). The checker trusts the
metadata they record (timestamps, versions, tags) and judges what the replicas did with
it. Judge with every replica that made updates up and heard from (the nemesis restarts
what it crashed when it stops): the updates of a replica that crashed for good before
passing them on are, rightly, reported missing.

Example:
    >>> from dsys.replication.crdt import GCounter, check_crdt_convergence
    >>> one = GCounter().increment("a")
    >>> print(check_crdt_convergence({"a": {"likes": one}, "b": {"likes": one}}).explain())
    crdt-convergence: ok (2 replica objects checked)
    >>> report = check_crdt_convergence({"a": {"likes": one}, "b": {}})
    >>> print(report.explain())
    crdt-convergence: 1 violation(s) (2 replica objects checked)
      t=0.000000: 'likes' differs: a holds 1 (GCounter(counts=(('a', 1),))); b holds nothing
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from dsys.check.report import Report, Violation
from dsys.clocks.vector import Order, VectorClock
from dsys.core.node import Node
from dsys.replication.crdt.base import Crdt, scalar_key
from dsys.replication.crdt.counters import GCounter, PNCounter
from dsys.replication.crdt.registers import MVRegister
from dsys.trace.events import TraceEvent

#: Replica id -> object name -> its state (a :class:`Crdt`) or, for an op-based object,
#: its value.
States = Mapping[str, Mapping[str, Any]]


@attrs.frozen
class CrdtUpdate:
    """One update, as recorded in the trace by the replica that made it."""

    time: float
    replica: str
    object: str
    type: str
    op: str
    data: dict[str, Any] = attrs.field(eq=False, hash=False)


def read_crdt_updates(trace: Iterable[TraceEvent], *,
                      component: str | None = None) -> list[CrdtUpdate]:
    """The ``crdt`` notes of a trace (of the component named ``component``, or of all),
    in order."""
    updates = []
    for event in trace:
        data = event.data
        if event.kind != "note" or data.get("event") != "crdt":
            continue
        if component is not None and data.get("component") != component:
            continue
        updates.append(CrdtUpdate(event.time, event.node, str(data.get("object")),
                              str(data.get("type")), str(data.get("op")), data))
    return updates


def crdt_states(nodes: Mapping[str, Node], component: str = "crdts") -> dict[str, dict[str, Crdt]]:
    """The states of the :class:`~dsys.replication.crdt.CrdtReplication` named
    ``component`` on each of ``nodes`` (``sim.nodes``: the nodes up), by replica id."""
    out: dict[str, dict[str, Crdt]] = {}
    for node_id in sorted(nodes):
        replication = nodes[node_id].components.get(component)
        states = getattr(replication, "states", None)
        if callable(states):
            out[node_id] = states()
    return out


def check_crdt_convergence(replicas: States, trace: Iterable[TraceEvent] | None = None, *,
                      component: str | None = None) -> Report:
    """Judge the live replicas' objects after the faults stopped and a quiet period: every
    replica holds the same state of every object, and (given the ``trace``) that state's
    value is the one the recorded updates make; see the module docstring.

    ``replicas`` maps each live replica to its objects (:func:`crdt_states` reads them from
    running nodes; for op-based objects, pass their values). ``component`` limits the
    updates read from the trace to one component's (for op-based objects, the name of
    the broadcast component is the object's name).
    """
    events = list(trace) if trace is not None else []
    end = events[-1].time if events else 0.0
    updates = read_crdt_updates(events, component=component)
    names = sorted({name for objects in replicas.values() for name in objects}
                   | {u.object for u in updates})
    found: list[Violation] = []
    judged = 0
    for name in names:
        holders = {r: replicas[r].get(name) for r in sorted(replicas)}
        judged += len(holders)
        groups: list[tuple[Any, list[str]]] = []
        for replica, state in holders.items():
            for held, who in groups:
                if held == state:
                    who.append(replica)
                    break
            else:
                groups.append((state, [replica]))
        if len(groups) > 1:
            described = "; ".join(f"{', '.join(who)} {'hold' if len(who) > 1 else 'holds'} "
                                  f"{_describe(state)}" for state, who in groups)
            found.append(Violation(end, tuple(holders), f"{name!r} differs: {described}"))
        if trace is not None:
            mine = [u for u in updates if u.object == name]
            for state, who in groups:
                problem = _unexplained(state, mine)
                if problem is not None:
                    found.append(Violation(end, tuple(who), f"{name!r} on {', '.join(who)}: "
                                                            f"{problem}"))
    return Report("crdt-convergence", tuple(found), judged, "replica objects")


# ----- explaining a value from the updates ------------------------------------------------------


def _value(state: Any) -> Any:
    return state.value if isinstance(state, Crdt) else state


def _describe(state: Any) -> str:
    if state is None:
        return "nothing"
    if isinstance(state, Crdt):
        return f"{state.value!r} ({state!r})"
    return repr(state)


def _unexplained(state: Any, updates: list[CrdtUpdate]) -> str | None:
    """Why ``state`` is not what ``updates`` make, or None."""
    types = sorted({u.type for u in updates})
    if len(types) > 1:
        return f"updated as {' and as '.join(types)}"
    if not updates:
        empty = state == type(state)() if isinstance(state, Crdt) else not state
        if state is None or empty:
            return None
        return f"holds {_describe(state)} but no update was made"
    if state is None:
        return f"holds nothing, after {len(updates)} update(s)"
    kind = types[0]
    value = _value(state)
    if kind in ("g-counter", "pn-counter", "op-counter"):
        return _explain_counter(state, value, updates)
    if kind == "lww-register":
        last = max(updates, key=lambda u: (tuple(u.data["stamp"]),
                                           scalar_key(u.data["value"])))
        if value != last.data["value"]:
            return (f"value {value!r}, but the last write (stamp {tuple(last.data['stamp'])}, "
                    f"by {last.replica}) wrote {last.data['value']!r}")
        return None
    if kind == "mv-register":
        return _explain_mv(state, value, updates)
    if kind in ("or-set", "op-or-set"):
        return _explain_set(value, updates)
    return f"updates of an unknown type {kind!r}"


def _explain_counter(state: Any, value: Any, updates: list[CrdtUpdate]) -> str | None:
    signed = [u.data["by"] if u.op == "increment" else -u.data["by"] for u in updates]
    if value != sum(signed):
        ups, downs = [s for s in signed if s > 0], [-s for s in signed if s < 0]
        parts = [f"+{sum(ups)} in {len(ups)} increment(s)"] if ups else []
        parts += [f"-{sum(downs)} in {len(downs)} decrement(s)"] if downs else []
        return (f"value {value!r}, but the acknowledged updates add up to {sum(signed)} "
                f"({', '.join(parts)})")
    if isinstance(state, GCounter | PNCounter):
        entries = state if isinstance(state, GCounter) else state.p
        for replica in sorted({u.replica for u in updates}):
            made = sum(u.data["by"] for u in updates
                       if u.replica == replica and u.op == "increment")
            if entries.entry(replica) != made:
                return (f"the entry of {replica} is {entries.entry(replica)}, but "
                        f"{replica} made {made} worth of increments")
    return None


def _explain_mv(state: Any, value: Any, updates: list[CrdtUpdate]) -> str | None:
    writes = [(u.data["value"], VectorClock(u.data["version"])) for u in updates]
    survivors = [(v, clock) for v, clock in writes
                 if not any(clock.compare(other) is Order.BEFORE for _, other in writes)]
    expected = tuple(sorted({scalar_key(v): v for v, _ in survivors}.values(), key=scalar_key))
    if tuple(value) != expected:
        return (f"values {tuple(value)!r}, but the writes no other write saw are "
                f"{expected!r}")
    if isinstance(state, MVRegister):
        held = sorted((s.version, scalar_key(s.value)) for s in state.siblings)
        wanted = sorted({(tuple(clock.items()), scalar_key(v)) for v, clock in survivors})
        if held != wanted:
            return (f"siblings {_siblings(held)}, but the writes no other write saw are "
                    f"{_siblings(wanted)}")
    return None


def _siblings(pairs: list[tuple[Any, tuple[int, Any]]]) -> str:
    return ", ".join(f"{value!r} at {dict(version)}" for version, (_, value) in pairs)


def _explain_set(value: Any, updates: list[CrdtUpdate]) -> str | None:
    removed = {_tag(t) for u in updates for t in u.data.get("removes", ())}
    present = {scalar_key(u.data["element"]): u.data["element"] for u in updates
               if u.op == "add" and _tag(u.data["tag"]) not in removed}
    expected = tuple(present[k] for k in sorted(present))
    if tuple(value) != expected:
        return f"elements {tuple(value)!r}, but the adds not observed-removed are {expected!r}"
    return None


def _tag(tag: Any) -> Any:
    return tuple(tag) if isinstance(tag, list) else tag
