"""Checkers for mutual exclusion: judge any algorithm from its trace, or as it runs.

Every :class:`~dsys.mutex.Mutex` notes ``request``, ``enter`` and ``exit`` in the trace.
From those notes (and the crashes and restarts the simulator records):

* :func:`check_safety`: never two nodes in the critical section at once (the property
  that defines mutual exclusion, and must hold whatever the faults);
* :func:`check_liveness`: every request is followed by an entry of that node (a request
  cut short by a crash of its node is not judged). The algorithms promise this only when
  no message is lost and no node crashes;
* :func:`check_order`: entries happen in increasing ``order`` (a fairness promise; the
  central coordinator grants in the order requests reached it, Ricart-Agrawala in
  (timestamp, node id) order, and both put that key in their ``enter`` notes);
* :func:`check_bounded_waiting`: while a node waits, no other node enters more than
  ``bound`` times (the token ring's promise, with ``bound=1``: one trip of the token).

Each returns a :class:`Report`: ``ok``, and each violation in words, with the nodes and
the times. :func:`safety_invariant` checks safety on the live node objects instead, after
every event: ``sim.add_invariant(safety_invariant)`` stops the run at the first event that
breaks it.

A node that crashes inside the critical section counts as having left it: it is no
longer running, whatever the other nodes believe.

Example:
    >>> from dsys.demos.mutex_workload import finished, simulate
    >>> from dsys.mutex import RicartAgrawala, check_liveness, check_safety
    >>> sim = simulate(RicartAgrawala, nodes=3, seed=5)
    >>> sim.run_until(finished, timeout=10.0)
    True
    >>> print(check_safety(sim.trace).explain())
    safety: ok (15 entries checked)
    >>> check_liveness(sim.trace).ok
    True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from dsys.check.report import Report, Violation
from dsys.core.node import Node
from dsys.mutex.interface import HELD, Mutex
from dsys.trace.events import Trace

# ----- checkers over a trace -------------------------------------------------------------


def check_safety(trace: Trace, *, component: str | None = None) -> Report:
    """At most one node is in the critical section at any moment.

    Also reports a node that enters while already inside, or leaves without being inside.
    ``component`` selects one lock by its component name when nodes hold several.
    """
    inside: dict[str, float] = {}  # node -> when it entered
    found: list[Violation] = []
    judged = 0
    for time, node, event, _ in _lock_events(trace, component):
        if event == "enter":
            judged += 1
            if node in inside:
                found.append(Violation(time, (node,), (
                    f"{node} entered again at t={time:.6f} without leaving "
                    f"(inside since t={inside[node]:.6f})")))
            others = sorted(n for n in inside if n != node)
            if others:
                who = ", ".join(f"{n} (inside since t={inside[n]:.6f})" for n in others)
                found.append(Violation(time, (node, *others), (
                    f"{node} entered at t={time:.6f} while {who} was still inside: "
                    f"{len(others) + 1} nodes in the critical section")))
            inside[node] = time
        elif event == "exit":
            if node not in inside:
                found.append(Violation(time, (node,),
                                       f"{node} left at t={time:.6f} without being inside"))
            inside.pop(node, None)
        elif event == "crash":
            inside.pop(node, None)
    return Report("safety", tuple(found), judged, "entries")


def check_liveness(trace: Trace, *, component: str | None = None) -> Report:
    """Every request is followed by an entry of the same node before the trace ends.

    Requests of a node that crashes before entering are not judged (the crash withdrew
    them). Judge a run that went on long enough for every request to be served, e.g.
    ``sim.run_until(finished, timeout=...)`` (see :mod:`dsys.demos.mutex_workload`).
    """
    pending: dict[str, float] = {}  # node -> when it requested
    found: list[Violation] = []
    judged = 0
    for time, node, event, _ in _lock_events(trace, component):
        if event == "request":
            judged += 1
            if node in pending:
                found.append(Violation(time, (node,), (
                    f"{node} requested again at t={time:.6f} although its request of "
                    f"t={pending[node]:.6f} was never served")))
            pending[node] = time
        elif event == "enter":
            pending.pop(node, None)
        elif event == "crash" and node in pending:
            judged -= 1
            del pending[node]
    end = trace[-1].time if len(trace) else 0.0
    for node, since in sorted(pending.items(), key=lambda item: (item[1], item[0])):
        found.append(Violation(since, (node,), (
            f"{node} requested at t={since:.6f} and never entered "
            f"(still waiting when the trace ends at t={end:.6f})")))
    return Report("liveness", tuple(found), judged, "requests")


def check_order(trace: Trace, *, component: str | None = None) -> Report:
    """Entries happen in strictly increasing ``order``, the key each algorithm puts in
    its ``enter`` notes (entries without one are not judged).

    For Ricart-Agrawala the key is (timestamp, node id): concurrent requests are served
    in timestamp order. For the central coordinator it is the ticket the coordinator gave
    the request on arrival: first come, first served.
    """
    last: tuple[float, str, list[Any]] | None = None
    found: list[Violation] = []
    judged = 0
    for time, node, event, data in _lock_events(trace, component):
        if event != "enter" or "order" not in data:
            continue
        judged += 1
        key = list(data["order"])
        if last is not None and not key > last[2]:
            before_time, before_node, before_key = last
            found.append(Violation(time, (node, before_node), (
                f"{node} entered at t={time:.6f} with order {_key(key)}, after {before_node} "
                f"entered at t={before_time:.6f} with order {_key(before_key)}: "
                f"{_key(key)} should have gone first")))
        last = (time, node, key)
    return Report("order", tuple(found), judged, "entries")


def check_bounded_waiting(trace: Trace, *, bound: int = 1,
                          component: str | None = None) -> Report:
    """While a node waits (from its request to its entry), no other node enters more than
    ``bound`` times.

    The token ring promises ``bound=1``: the token visits every node once per trip.
    """
    waiting: dict[str, tuple[float, Counter[str]]] = {}  # node -> (since, entries of others)
    found: list[Violation] = []
    judged = 0
    for time, node, event, _ in _lock_events(trace, component):
        if event == "request":
            judged += 1
            waiting[node] = (time, Counter())
        elif event == "enter":
            waiting.pop(node, None)
            for waiter, (since, overtakes) in sorted(waiting.items()):
                overtakes[node] += 1
                if overtakes[node] == bound + 1:  # report each overtaker once per wait
                    found.append(Violation(time, (waiter, node), (
                        f"{waiter} has waited since t={since:.6f}, and {node} entered "
                        f"{bound + 1} times meanwhile (the last at t={time:.6f}); "
                        f"at most {bound} allowed")))
        elif event == "crash":
            if node in waiting:
                judged -= 1
            waiting.pop(node, None)
    return Report("bounded waiting", tuple(found), judged, "requests")


# ----- an invariant, checked on the running nodes -----------------------------------------


class _Running(Protocol):
    """What :func:`safety_invariant` reads of a simulation: its running nodes by id.

    (A protocol package does not import the simulator; any host with ``nodes`` will do.)
    """

    @property
    def nodes(self) -> Mapping[str, Node]:
        """The running nodes by id."""
        ...


def safety_invariant(sim: _Running) -> None:
    """At most one running node holds each lock (for ``sim.add_invariant``).

    Looks at every :class:`~dsys.mutex.Mutex` component of every running node, after every
    event, and raises AssertionError naming the nodes when two or more are ``HELD``.

    Example:
        >>> from dsys.demos.mutex_workload import simulate
        >>> from dsys.mutex import TokenRing, safety_invariant
        >>> sim = simulate(TokenRing, nodes=3, invariant=False)
        >>> sim.add_invariant(safety_invariant)
        >>> sim.run(until=0.5)
    """
    holders: dict[str, list[str]] = {}
    for node_id, node in sim.nodes.items():  # sorted by id
        for name, component in node.components.items():
            if isinstance(component, Mutex) and component.state == HELD:
                holders.setdefault(name, []).append(node_id)
    for name, ids in sorted(holders.items()):
        if len(ids) > 1:
            raise AssertionError(
                f"{' and '.join(ids)} are in the critical section of lock {name!r} at once")


# ----- helpers ---------------------------------------------------------------------------

_LOCK_NOTES = frozenset({"request", "enter", "exit"})


def _lock_events(trace: Trace, component: str | None
                 ) -> Iterator[tuple[float, str, str, dict[str, Any]]]:
    """(time, node, event, data) for the lock notes, crashes and restarts, in order."""
    for e in trace:
        if e.kind == "note":
            event = e.data.get("event")
            if event in _LOCK_NOTES and (component is None or e.data.get("component") == component):
                yield e.time, e.node, str(event), e.data
        elif e.kind in ("crash", "restart"):
            yield e.time, e.node, e.kind, e.data


def _key(key: Sequence[Any]) -> str:
    return "(" + ", ".join(str(part) for part in key) + ")"
