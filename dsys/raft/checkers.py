"""Checkers for Raft's safety properties (Figure 3 of the paper), over traces or live nodes.

Every :class:`~dsys.raft.Raft` notes in the trace ``elected`` (with ``term`` and
``terms``, the term of each entry of the new leader's log), ``commit`` (``index`` and the
entry's ``term``) and ``apply`` (``index``, ``term``, ``command``). From those notes, and
the crashes and restarts the host records:

* :func:`check_election_safety`: at most one leader is elected in a term;
* :func:`check_log_matching`: two logs seen (the logs of elected leaders, and the applied
  entries) that hold an entry of the same index and term agree on every entry before it;
* :func:`check_leader_completeness`: an entry committed in a term is in the log of every
  leader of a later term;
* :func:`check_state_machine_safety`: no two servers apply different commands (or
  entries of different terms) at one index (a leader's no-op entry, noted as applied
  with ``noop``, counts as a command of its own);
* :func:`check_applied_monotonic`: each server (in each incarnation) applies indices
  1, 2, 3... in order, never going back nor skipping.

:func:`check_all` runs them all. The ``*_invariant`` functions check the same properties
on the running nodes' state instead, after every event, for ``sim.add_invariant`` and
``Search.add_invariant`` alike (they read only ``view.nodes``): :func:`invariants` lists
them. :class:`AppliedNeverGoesBack` remembers what it saw, so it suits a simulation (one
run, in order), not a search.

Example:
    >>> from dsys.raft.checkers import check_election_safety
    >>> from dsys.trace import Trace, TraceEvent
    >>> trace = Trace([
    ...     TraceEvent(0.1, "a", "note", {"event": "elected", "term": 1, "terms": []}),
    ...     TraceEvent(0.2, "b", "note", {"event": "elected", "term": 1, "terms": []})])
    >>> print(check_election_safety(trace).explain())
    election safety: 1 violation(s) (2 elections checked)
      t=0.200000: b was elected leader of term 1, which a already leads (since t=0.100000)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from dsys.check.report import Report, Violation
from dsys.core.node import Node
from dsys.raft.raft import LEADER, Raft
from dsys.trace.events import Trace

__all__ = [
    "AppliedNeverGoesBack",
    "Report",
    "StateMachineSafety",
    "Violation",
    "applied_in_bounds_invariant",
    "check_all",
    "check_applied_monotonic",
    "check_election_safety",
    "check_leader_completeness",
    "check_log_matching",
    "check_state_machine_safety",
    "election_safety_invariant",
    "invariants",
    "leader_completeness_invariant",
    "log_matching_invariant",
    "run_invariants",
    "state_machine_safety_invariant",
]

# ----- checkers over a trace -------------------------------------------------------------


def check_election_safety(trace: Trace, *, component: str | None = None) -> Report:
    """At most one leader is elected in each term (§5.2)."""
    leaders: dict[int, tuple[str, float]] = {}
    found: list[Violation] = []
    judged = 0
    for time, node, event, data in _raft_events(trace, component):
        if event != "elected":
            continue
        judged += 1
        term = data["term"]
        if term in leaders and leaders[term][0] != node:
            first, since = leaders[term]
            found.append(Violation(time, (node, first), (
                f"{node} was elected leader of term {term}, which {first} already leads "
                f"(since t={since:.6f})")))
        leaders.setdefault(term, (node, time))
    return Report("election safety", tuple(found), judged, "elections")


def check_log_matching(trace: Trace, *, component: str | None = None) -> Report:
    """If two logs hold an entry with the same index and term, they agree on the terms
    of all entries up to it (§5.3). Judged on every elected leader's log (its ``terms``,
    from index ``first``: the entries before it are in its snapshot) and on the entries
    applied (which form each server's committed prefix, from its last restored snapshot).
    A violation is dated when both logs held the entries it is about."""
    # (whose, first index, terms, when each entry was there): a leader's log at its
    # election, or a server's applied prefix as it grows.
    logs: list[tuple[str, int, list[int], list[float]]] = []
    applied: dict[tuple[str, int], tuple[int, list[int], list[float]]] = {}
    incarnation: dict[str, int] = {}
    for time, node, event, data in _raft_events(trace, component):
        if event == "elected":
            terms = list(data["terms"])
            logs.append((node, data.get("first", 1), terms, [time] * len(terms)))
        elif event in ("apply", "restore"):
            key = (node, incarnation.get(node, 0))
            if event == "restore" or key not in applied:
                # one growing list per incarnation and snapshot: its applied prefix
                first = data["index"] + 1 if event == "restore" else 1
                applied[key] = (first, [], [])
                logs.append((f"{node} (applied)", first, applied[key][1], applied[key][2]))
            first, terms, times = applied[key]
            if event == "apply" and data["index"] == first + len(terms):
                terms.append(data["term"])
                times.append(time)
        elif event == "restart":
            incarnation[node] = incarnation.get(node, 0) + 1
    found: list[Violation] = []
    for i, (a, first_a, terms_a, times_a) in enumerate(logs):
        for b, first_b, terms_b, times_b in logs[i + 1:]:
            low = max(first_a, first_b)
            high = min(first_a + len(terms_a), first_b + len(terms_b))  # exclusive
            last_match = max((k for k in range(low, high)
                              if terms_a[k - first_a] == terms_b[k - first_b]), default=None)
            if last_match is None:
                continue
            for k in range(low, last_match):
                ta, tb = terms_a[k - first_a], terms_b[k - first_b]
                if ta != tb:
                    when = max(times_a[last_match - first_a], times_b[last_match - first_b])
                    found.append(Violation(when, (a, b), (
                        f"the logs of {a} and {b} both hold an entry of term "
                        f"{terms_a[last_match - first_a]} at index {last_match} (by "
                        f"t={when:.6f}), but differ at index {k} (terms {ta} and {tb})")))
                    break
    found.sort(key=lambda v: v.time)
    return Report("log matching", tuple(found), len(logs), "logs")


def check_leader_completeness(trace: Trace, *, component: str | None = None) -> Report:
    """An entry committed in a term is in the log of every leader of every later term
    (§5.4). A commit is known from its ``commit`` note (any server's)."""
    committed: list[tuple[float, str, int, int, int]] = []  # (t, node, index, term, in term)
    found: list[Violation] = []
    judged = 0
    for time, node, event, data in _raft_events(trace, component):
        if event == "elected":
            judged += 1
            term, terms, first = data["term"], data["terms"], data.get("first", 1)
            for when, who, index, entry_term, commit_term in committed:
                if index < first:
                    continue  # in the leader's snapshot: committed, and applied
                if commit_term < term and (index >= first + len(terms)
                                           or terms[index - first] != entry_term):
                    found.append(Violation(time, (node, who), (
                        f"{node} was elected leader of term {term} without the entry "
                        f"(index {index}, term {entry_term}) that {who} saw committed at "
                        f"t={when:.6f}, in term {commit_term}")))
        elif event == "commit":
            committed.append((time, node, data["index"], data["term"], data["in_term"]))
    return Report("leader completeness", tuple(found), judged, "elections")


def check_state_machine_safety(trace: Trace, *, component: str | None = None) -> Report:
    """No two servers apply different commands, or entries of different terms, at one
    index (§5.4.3)."""
    first: dict[int, tuple[float, str, int, Any]] = {}
    found: list[Violation] = []
    judged = 0
    for time, node, event, data in _raft_events(trace, component):
        if event != "apply":
            continue
        judged += 1
        index, term = data["index"], data["term"]
        command = _NO_OP if data.get("noop") else data.get("command")
        if index not in first:
            first[index] = (time, node, term, command)
            continue
        when, who, their_term, theirs = first[index]
        if (term, command) != (their_term, theirs):
            found.append(Violation(time, (node, who), (
                f"{node} applied {command!r} (term {term}) at index {index}, but {who} "
                f"applied {theirs!r} (term {their_term}) there at t={when:.6f}")))
    return Report("state machine safety", tuple(found), judged, "applies")


def check_applied_monotonic(trace: Trace, *, component: str | None = None) -> Report:
    """Each server applies indices 1, 2, 3... in order: the applied index never goes
    back and skips nothing. A restart starts over from 1 (the state machine is rebuilt
    by re-applying the log), or from after the snapshot it restores; a snapshot installed
    from the leader moves the applied index forward, never back."""
    last: dict[str, int] = {}
    found: list[Violation] = []
    judged = 0
    for time, node, event, data in _raft_events(trace, component):
        if event == "restart" or event == "crash":
            last.pop(node, None)
        elif event == "restore":
            judged += 1
            if data["index"] < last.get(node, 0):
                found.append(Violation(time, (node,), (
                    f"{node} restored a snapshot of index {data['index']} after applying "
                    f"index {last[node]} (going back)")))
            last[node] = data["index"]
        elif event == "apply":
            judged += 1
            index, before = data["index"], last.get(node, 0)
            if index != before + 1:
                found.append(Violation(time, (node,), (
                    f"{node} applied index {index} right after index {before} "
                    f"({'going back' if index <= before else 'skipping'})")))
            last[node] = index
    return Report("applied index monotonic", tuple(found), judged, "applies")


def check_all(trace: Trace, *, component: str | None = None) -> Report:
    """Every checker of this module, as one report (the violations of all of them)."""
    reports = [check(trace, component=component) for check in (
        check_election_safety, check_log_matching, check_leader_completeness,
        check_state_machine_safety, check_applied_monotonic)]
    violations = tuple(v for report in reports for v in report.violations)
    judged = sum(report.judged for report in reports)
    return Report(", ".join(report.check for report in reports), violations, judged,
                  "elections, logs and applies")


# ----- invariants, checked on the running nodes ------------------------------------------


class _Running(Protocol):
    """What the invariants read of a simulation or a search state: the running nodes.

    (A protocol package does not import the simulator; any host with ``nodes`` will do.)
    """

    @property
    def nodes(self) -> Mapping[str, Node]:
        """The running nodes by id."""
        ...


def election_safety_invariant(view: _Running) -> None:
    """No two running servers are leaders of the same term (raises AssertionError)."""
    for name, servers in _groups(view):
        leaders: dict[int, str] = {}
        for node_id, raft in servers:
            if raft.role == LEADER:
                if raft.current_term in leaders:
                    raise AssertionError(
                        f"{leaders[raft.current_term]} and {node_id} are both leaders of "
                        f"term {raft.current_term} (group {name!r})")
                leaders[raft.current_term] = node_id


def log_matching_invariant(view: _Running) -> None:
    """Two running servers' logs that hold an entry of the same index and term are
    identical up to it: same terms, same commands (raises AssertionError). Compared
    where both still hold entries (after both snapshots)."""
    _log_matching(view, above_applied=False)


def _log_matching(view: _Running, *, above_applied: bool) -> None:
    for name, servers in _groups(view):
        for i, (a, raft_a) in enumerate(servers):
            for b, raft_b in servers[i + 1:]:
                low = max(raft_a.snapshot_index, raft_b.snapshot_index) + 1
                if above_applied:  # what both applied, state machine safety compares
                    low = max(low, min(raft_a.last_applied, raft_b.last_applied) + 1)
                common = min(raft_a.last_log_index, raft_b.last_log_index)
                for index in range(common, low - 1, -1):
                    if raft_a.term_at(index) == raft_b.term_at(index):
                        if _entries(raft_a, low, index) != _entries(raft_b, low, index):
                            raise AssertionError(
                                f"the logs of {a} and {b} agree on the term of index "
                                f"{index} but differ before it (group {name!r})")
                        break


def leader_completeness_invariant(view: _Running) -> None:
    """A leader holds every entry any server knows committed, if it leads a later term
    than that server's (the commit happened in that server's term at the latest).
    Compared where both still hold entries (after both snapshots)."""
    _leader_completeness(view, above_applied=False)


def _leader_completeness(view: _Running, *, above_applied: bool) -> None:
    for name, servers in _groups(view):
        for leader_id, leader in servers:
            if leader.role != LEADER:
                continue
            for node_id, raft in servers:
                if leader.current_term <= raft.current_term:
                    continue
                low = max(raft.snapshot_index, leader.snapshot_index) + 1
                if above_applied:
                    low = max(low, min(raft.last_applied, leader.last_applied) + 1)
                if raft.commit_index > leader.last_log_index or _entries(
                        leader, low, raft.commit_index) != _entries(raft, low,
                                                                    raft.commit_index):
                    raise AssertionError(
                        f"{leader_id}, leader of term {leader.current_term}, lacks entries "
                        f"{node_id} knows committed (up to index {raft.commit_index}, "
                        f"group {name!r})")


def state_machine_safety_invariant(view: _Running) -> None:
    """Running servers have applied the same entries at the indices both applied (and
    both still hold: after both snapshots)."""
    for name, servers in _groups(view):
        for i, (a, raft_a) in enumerate(servers):
            for b, raft_b in servers[i + 1:]:
                both = min(raft_a.last_applied, raft_b.last_applied)
                low = max(raft_a.snapshot_index, raft_b.snapshot_index) + 1
                for index in range(low, both + 1):
                    entry_a, entry_b = raft_a.entry_at(index), raft_b.entry_at(index)
                    if entry_a != entry_b:
                        raise AssertionError(
                            f"{a} applied {entry_a} at index {index}, and "
                            f"{b} applied {entry_b} (group {name!r})")


def applied_in_bounds_invariant(view: _Running) -> None:
    """``last_applied <= commit_index <= last log index`` on every running server."""
    for name, servers in _groups(view):
        for node_id, raft in servers:
            if not raft.last_applied <= raft.commit_index <= raft.last_log_index:
                raise AssertionError(
                    f"{node_id}: last_applied {raft.last_applied}, commit_index "
                    f"{raft.commit_index}, last log index {raft.last_log_index} are out "
                    f"of order (group {name!r})")


class AppliedNeverGoesBack:
    """An invariant for one simulation: a server's ``last_applied`` never decreases
    while it runs (a restarted server, a new node object, starts again from 0).

    It remembers what it saw, so use one instance per simulation, and not in a search
    (whose states are not visited in the order of one run).
    """

    __name__ = "applied_never_goes_back"

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], tuple[Raft, int]] = {}

    def __call__(self, view: _Running) -> None:
        for name, servers in _groups(view):
            for node_id, raft in servers:
                before = self.seen.get((node_id, name))
                if (before is not None and before[0] is raft
                        and raft.last_applied < before[1]):
                    raise AssertionError(f"{node_id}'s last_applied went back from "
                                         f"{before[1]} to {raft.last_applied}")
                self.seen[(node_id, name)] = (raft, raft.last_applied)


def invariants() -> tuple[Callable[[Any], None], ...]:
    """The live invariants of this module that suit both a simulation and a search."""
    return (election_safety_invariant, log_matching_invariant,
            leader_completeness_invariant, state_machine_safety_invariant,
            applied_in_bounds_invariant)


class StateMachineSafety:
    """State machine safety for one simulation, checked incrementally: each entry a
    server applies is compared, when it is applied, with the first entry any server
    applied at that index. The same property as :func:`state_machine_safety_invariant`,
    at the cost of the new applies only (the stateless one compares whole logs after
    every event). Like :class:`AppliedNeverGoesBack`, one instance per simulation."""

    __name__ = "state_machine_safety"

    def __init__(self) -> None:
        self.first: dict[tuple[str, int], tuple[str, Any]] = {}  # (group, index) -> entry
        self.checked: dict[tuple[str, str], tuple[Raft, int]] = {}

    def __call__(self, view: _Running) -> None:
        for name, servers in _groups(view):
            for node_id, raft in servers:
                seen = self.checked.get((node_id, name))
                done = seen[1] if seen is not None and seen[0] is raft else raft.snapshot_index
                for index in range(max(done, raft.snapshot_index) + 1, raft.last_applied + 1):
                    entry = raft.entry_at(index)
                    first = self.first.setdefault((name, index), (node_id, entry))
                    if first[1] != entry:
                        raise AssertionError(
                            f"{node_id} applied {entry} at index {index}, and {first[0]} "
                            f"applied {first[1]} (group {name!r})")
                self.checked[(node_id, name)] = (raft, max(done, raft.last_applied))


def run_invariants() -> tuple[Callable[[Any], None], ...]:
    """Every invariant of this module for one simulation (fresh instances: use them for
    one run only), as cheap as they can be made: state machine safety incrementally
    (:class:`StateMachineSafety`), so log matching and leader completeness need only
    compare the entries above what both servers applied; and
    :class:`AppliedNeverGoesBack`. For a search, use :func:`invariants`.

    Example: ``for invariant in run_invariants(): sim.add_invariant(invariant)``.
    """

    def log_matching(view: _Running) -> None:
        _log_matching(view, above_applied=True)

    def leader_completeness(view: _Running) -> None:
        _leader_completeness(view, above_applied=True)

    return (election_safety_invariant, log_matching, leader_completeness,
            StateMachineSafety(), applied_in_bounds_invariant, AppliedNeverGoesBack())


# ----- helpers ---------------------------------------------------------------------------


class _NoOp:
    """What a no-op entry's apply is compared as: equal to nothing but itself."""

    def __repr__(self) -> str:
        return "<no-op>"


_NO_OP = _NoOp()

_RAFT_NOTES = frozenset({"elected", "commit", "apply", "restore"})


def _raft_events(trace: Trace, component: str | None
                 ) -> Iterator[tuple[float, str, str, dict[str, Any]]]:
    """(time, node, event, data) for the Raft notes, crashes and restarts, in order."""
    for e in trace:
        if e.kind == "note":
            event = e.data.get("event")
            if event in _RAFT_NOTES and (component is None
                                         or e.data.get("component") == component):
                yield e.time, e.node, str(event), e.data
        elif e.kind in ("crash", "restart"):
            yield e.time, e.node, e.kind, e.data


def _entries(raft: Raft, low: int, high: int) -> list[Any]:
    """The entries of ``raft`` at indexes ``low..high`` (those it still holds)."""
    return [raft.entry_at(index) for index in range(low, high + 1)]


def _groups(view: _Running) -> list[tuple[str, list[tuple[str, Raft]]]]:
    """The running servers of each Raft group (by component name), sorted by node id."""
    groups: dict[str, list[tuple[str, Raft]]] = {}
    for node_id, node in sorted(view.nodes.items()):
        for name, component in node.components.items():
            if isinstance(component, Raft):
                groups.setdefault(name, []).append((node_id, component))
    return sorted(groups.items())
