"""Checkers for leader election: judge any module of :mod:`dsys.election` from its trace,
or as it runs.

Every :class:`~dsys.election.LeaderElection` notes ``leader`` (with ``leader`` and
``epoch``) when a node adopts a leader, and ``lost`` when it stops trusting one. From
those notes, and the starts, crashes and restarts the host records:

* :func:`check_one_leader_per_epoch`: no two nodes adopt different leaders for one epoch
  (every module promises it, whatever the faults);
* :func:`check_one_leader_at_a_time`: no two nodes lead at once, a node leading from the
  moment it adopts itself until it notes ``lost``, adopts another node or crashes (only
  :class:`~dsys.election.LeaderLease` promises it, and only while clocks keep to its
  drift bound; bully breaks it under a partition, by design);
* :func:`check_agreement`: at the end of the trace, every node that is up trusts the same
  leader, which is up and trusts itself: the *eventual* promise, judged on a trace that
  ends after the faults stopped and the system had time to settle;
* :func:`check_message_count`: the number of messages of some types sent, within bounds
  (the textbook's counts).

Each returns a :class:`Report`. :func:`one_leader_per_epoch_invariant` and
:func:`one_leader_at_a_time_invariant` check the same on the running nodes after every
event, for ``sim.add_invariant``.

Example:
    >>> from dsys.election.checkers import check_one_leader_per_epoch
    >>> from dsys.trace import Trace, TraceEvent
    >>> def leader(t, node, who, epoch):
    ...     return TraceEvent(t, node, "note", {"event": "leader", "leader": who,
    ...                                         "epoch": epoch, "component": "election"})
    >>> trace = Trace([leader(0.1, "a", "c", 3), leader(0.2, "b", "d", 3)])
    >>> print(check_one_leader_per_epoch(trace).explain())
    one leader per epoch: 1 violation(s) (2 adoptions checked)
      t=0.200000: b adopted d as the leader of epoch 3, which a adopted c for (at t=0.100000)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from dsys.check.report import Report, Violation
from dsys.core.messages import short_name
from dsys.core.node import ROUTE_KEY, Node
from dsys.election.interface import LeaderElection
from dsys.trace.events import Trace

__all__ = [
    "Report",
    "Violation",
    "check_agreement",
    "check_message_count",
    "check_one_leader_at_a_time",
    "check_one_leader_per_epoch",
    "message_counts",
    "one_leader_at_a_time_invariant",
    "one_leader_per_epoch_invariant",
]

# ----- checkers over a trace -------------------------------------------------------------


def check_one_leader_per_epoch(trace: Trace, *, component: str | None = None) -> Report:
    """No two adoptions name different leaders for the same epoch."""
    first: dict[int, tuple[str, str, float]] = {}  # epoch -> (leader, adopted by, when)
    found: list[Violation] = []
    judged = 0
    for time, node, event, data in _election_events(trace, component):
        if event != "leader":
            continue
        judged += 1
        epoch, leader = data["epoch"], data["leader"]
        if epoch not in first:
            first[epoch] = (leader, node, time)
        elif first[epoch][0] != leader:
            other, by, when = first[epoch]
            found.append(Violation(time, (node, by), (
                f"{node} adopted {leader} as the leader of epoch {epoch}, which {by} "
                f"adopted {other} for (at t={when:.6f})")))
    return Report("one leader per epoch", tuple(found), judged, "adoptions")


def check_one_leader_at_a_time(trace: Trace, *, component: str | None = None) -> Report:
    """No two nodes lead at once. A node leads from its ``leader`` note naming itself
    until it notes ``lost``, adopts another leader, or crashes."""
    leading: dict[str, tuple[float, int]] = {}  # node -> (since, epoch)
    found: list[Violation] = []
    judged = 0
    for time, node, event, data in _election_events(trace, component):
        if event == "leader" and data["leader"] == node:
            judged += 1
            others = sorted(n for n in leading if n != node)
            if others:
                who = ", ".join(f"{n} (epoch {leading[n][1]}, since t={leading[n][0]:.6f})"
                                for n in others)
                found.append(Violation(time, (node, *others), (
                    f"{node} became leader of epoch {data['epoch']} while {who} still led")))
            # the same leadership goes on (since its start), in the epoch just noted
            leading[node] = (leading[node][0] if node in leading else time, data["epoch"])
        elif event in ("leader", "lost", "crash"):
            leading.pop(node, None)
    return Report("one leader at a time", tuple(found), judged, "leaderships")


def check_agreement(trace: Trace, *, component: str | None = None,
                    nodes: Iterable[str] | None = None) -> Report:
    """At the end of the trace every node that is up (or each of ``nodes``) trusts the
    same leader, and that leader is up and trusts itself.

    Judge it on a trace that ends once the system has been stable (no crash, partition
    or loss) for long enough: that is when the modules promise agreement.
    """
    up: dict[str, bool] = {}
    last: dict[str, tuple[float, str | None, int | None]] = {}  # node -> (t, leader, epoch)
    end = 0.0
    for time, node, event, data in _election_events(trace, component):
        end = max(end, time)
        if event in ("start", "restart"):
            up[node] = True
            last[node] = (time, None, None)
        elif event == "crash":
            up[node] = False
        elif event == "leader":
            last[node] = (time, data["leader"], data["epoch"])
        elif event == "lost":
            last[node] = (time, None, None)
    judged_nodes = sorted(n for n, running in up.items() if running) if nodes is None \
        else sorted(nodes)
    end = trace[len(trace) - 1].time if len(trace) else end
    found: list[Violation] = []
    trusted = {n: last.get(n, (0.0, None, None)) for n in judged_nodes}
    for node, (_, leader, _) in trusted.items():
        if leader is None:
            found.append(Violation(end, (node,), f"{node} trusts no leader at the end"))
    named = Counter((leader, epoch) for _, leader, epoch in trusted.values()
                    if leader is not None)
    if len(named) > 1:
        views = ", ".join(f"{node}: {leader} (epoch {epoch})"
                          for node, (_, leader, epoch) in trusted.items() if leader)
        found.append(Violation(end, tuple(judged_nodes),
                               f"the nodes disagree on the leader at the end: {views}"))
    for leader, _epoch in named:
        if leader is not None and not up.get(leader, False):
            found.append(Violation(end, (leader,), f"{leader} is trusted as the leader at "
                                   "the end, but it is down"))
        elif leader is not None and trusted.get(leader, last.get(leader, (0, None)))[1] \
                != leader:
            found.append(Violation(end, (leader,), f"{leader} is trusted as the leader at "
                                   "the end, but does not trust itself"))
    return Report("agreement", tuple(found), len(judged_nodes), "nodes")


def message_counts(trace: Trace, *, component: str | None = None) -> Counter[str]:
    """How many messages of each type were sent (by the component named ``component``,
    if given), by type name."""
    counts: Counter[str] = Counter()
    for e in trace:
        if e.kind != "send":
            continue
        if component is not None and (e.data.get("stamps") or {}).get(ROUTE_KEY) != component:
            continue
        name = e.message_name
        if name is not None:
            counts[name] += 1
    return counts


def check_message_count(trace: Trace, types: Iterable[type | str], *,
                        at_least: int = 0, at_most: int | None = None,
                        component: str | None = None) -> Report:
    """The messages of ``types`` (classes or type names) sent number between
    ``at_least`` and ``at_most`` (inclusive)."""
    names = sorted({t if isinstance(t, str) else short_name(t) for t in types})
    counts = message_counts(trace, component=component)
    sent = sum(counts[name] for name in names)
    found: list[Violation] = []
    if sent < at_least or (at_most is not None and sent > at_most):
        bound = f"[{at_least}, {'inf' if at_most is None else at_most}]"
        detail = ", ".join(f"{name} {counts[name]}" for name in names)
        end = trace[len(trace) - 1].time if len(trace) else 0.0
        found.append(Violation(end, (), f"{sent} messages sent ({detail}), outside {bound}"))
    return Report(f"message count of {', '.join(names)}", tuple(found), sent, "messages")


# ----- invariants, checked on the running nodes ------------------------------------------


class _Running(Protocol):
    """What the invariants read of a simulation: the running nodes (a protocol package
    does not import the simulator; any host with ``nodes`` will do)."""

    @property
    def nodes(self) -> Mapping[str, Node]:
        """The running nodes by id."""
        ...


def one_leader_per_epoch_invariant(view: _Running) -> None:
    """No two running nodes trust different leaders for one epoch (raises
    AssertionError)."""
    for name, modules in _groups(view):
        seen: dict[int, tuple[str, str]] = {}
        for node_id, module in modules:
            if module.leader is None:
                continue
            leader, by = seen.setdefault(module.epoch, (module.leader, node_id))
            if leader != module.leader:
                raise AssertionError(
                    f"{by} trusts {leader} and {node_id} trusts {module.leader} as the "
                    f"leader of epoch {module.epoch} (component {name!r})")


def one_leader_at_a_time_invariant(view: _Running) -> None:
    """At most one running node leads (``is_leader``; for a lease, while it has not run
    out on that node's clock). Raises AssertionError."""
    for name, modules in _groups(view):
        leaders = [f"{node_id} (epoch {m.epoch})" for node_id, m in modules if m.is_leader]
        if len(leaders) > 1:
            raise AssertionError(f"{' and '.join(leaders)} lead at the same time "
                                 f"(component {name!r})")


# ----- helpers ---------------------------------------------------------------------------

_NOTES = frozenset({"leader", "lost"})


def _election_events(trace: Trace, component: str | None
                     ) -> Iterator[tuple[float, str, str, dict[str, Any]]]:
    """(time, node, event, data) for the election notes, starts, crashes and restarts."""
    for e in trace:
        if e.kind == "note":
            event = e.data.get("event")
            if event in _NOTES and (component is None or e.data.get("component") == component):
                yield e.time, e.node, str(event), e.data
        elif e.kind in ("start", "crash", "restart"):
            yield e.time, e.node, e.kind, e.data


def _groups(view: _Running) -> list[tuple[str, list[tuple[str, LeaderElection]]]]:
    """The running election modules of each component name, sorted by node id."""
    groups: dict[str, list[tuple[str, LeaderElection]]] = {}
    for node_id, node in sorted(view.nodes.items()):
        for name, component in node.components.items():
            if isinstance(component, LeaderElection):
                groups.setdefault(name, []).append((node_id, component))
    return sorted(groups.items())
