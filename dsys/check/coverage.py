"""Fault coverage: which faults hit which protocol situations, over one run or many.

A green run says nothing if the faults never hit anything that matters: a crash of a
follower that had nothing to lose, a partition that left the leader with a majority. This
module reads traces (the nemesis's faults are trace events: ``crash``, ``partition``,
``block``, ``drop``...; the protocol's state comes from its ``note``\\ s and messages) and
counts, for each *situation* of a rule set, how often a fault hit it. A grader can then
require coverage, so that a pass means the protocol met the faults that test it.

The rules of this file: a rule set (:class:`Rules`) is a *tracker* that follows one
trace's events and knows the protocol's state (who leads, what is committed), plus a list
of :class:`Situation`\\ s, each a name and a test run on every event *before* the tracker
sees it (a crash is judged by the state just before the crash). Rules read only trace
events, by kind, note name and message type name, so they import no protocol code and
work on saved traces as well as live ones. :data:`RAFT` is the rule set for
:mod:`dsys.raft`.

>>> from dsys.trace import Trace, TraceEvent
>>> trace = Trace([
...     TraceEvent(0.1, "a", "note", {"event": "elected", "term": 1}),
...     TraceEvent(0.2, "a", "note", {"event": "start", "index": 1, "term": 1}),
...     TraceEvent(0.3, "a", "crash", {}),
... ])
>>> report = coverage([trace], RAFT)
>>> report.count("a leader crashed with uncommitted entries")
1
>>> report.count("a partition cut the leader off from a majority")
0
>>> require_coverage(report, {"a leader crashed with uncommitted entries": 1})
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
from rich.table import Table

from dsys.trace.events import Trace, TraceEvent


class Tracker:
    """Follows one trace and keeps what rules need to know; subclass it per protocol.

    The base class knows the cluster's faults: which nodes are down, which one-way links
    are cut (a partition cuts both ways between its groups), and every node seen.
    """

    def __init__(self) -> None:
        self.nodes: set[str] = set()
        self.down: set[str] = set()
        #: One-way links (src, dst) that are cut now.
        self.cut: set[tuple[str, str]] = set()

    def update(self, event: TraceEvent) -> None:
        """Take ``event`` into account (called after the situations have seen it)."""
        if event.node:
            self.nodes.add(event.node)
        match event.kind:
            case "crash":
                self.down.add(event.node)
            case "restart" | "start":
                self.down.discard(event.node)
            case "partition":
                groups = [list(g) for g in event.data.get("groups", ())]
                self.nodes.update(n for g in groups for n in g)
                self.cut = {(a, b) for g in groups for h in groups if g is not h
                            for a in g for b in h}
            case "block":
                self.cut.add((str(event.data.get("from")), str(event.data.get("to"))))
            case "heal":
                self.cut.clear()

    def reachable(self, node: str, *, extra: set[tuple[str, str]] | None = None) -> set[str]:
        """The nodes (``node`` included) that can hear from ``node`` and answer it."""
        cut = self.cut if extra is None else self.cut | extra
        return {node} | {other for other in self.nodes - {node}
                         if (node, other) not in cut and (other, node) not in cut}


@attrs.frozen
class Situation:
    """A protocol situation a fault can hit: its ``name`` (said as in a report: "a leader
    crashed with uncommitted entries"), the ``fault`` kind it is about, and ``test(event,
    tracker)``, true when ``event`` is that fault hitting that situation."""

    name: str
    fault: str
    test: Callable[[TraceEvent, Any], bool] = attrs.field(eq=False, repr=False)


@attrs.frozen
class Rules:
    """A protocol's rule set: a :class:`Tracker` factory and its situations."""

    protocol: str
    tracker: Callable[[], Tracker] = attrs.field(eq=False, repr=False)
    situations: tuple[Situation, ...]

    def names(self) -> list[str]:
        """The situations' names, in order."""
        return [s.name for s in self.situations]


@attrs.frozen
class CoverageReport:
    """How often each situation was hit: over all ``traces``, and in how many of them.

    ``counts[name]`` is the number of hits, ``runs[name]`` the number of traces with at
    least one; ``faults`` counts the fault events by kind (crashes, partitions, drops...).
    """

    protocol: str
    traces: int
    names: tuple[str, ...]
    counts: Mapping[str, int]
    runs: Mapping[str, int]
    faults: Mapping[str, int]

    def count(self, name: str) -> int:
        """How many times situation ``name`` was hit."""
        _known(self, name)
        return self.counts[name]

    def missing(self, required: Mapping[str, int]) -> dict[str, tuple[int, int]]:
        """The required situations hit fewer times than asked: name -> (seen, wanted)."""
        return {name: (self.count(name), wanted) for name, wanted in required.items()
                if self.count(name) < wanted}

    def table(self) -> Table:
        """A rich table: one row per situation, with hits and runs."""
        table = Table(title=f"Fault coverage ({self.protocol}, {self.traces} run"
                            f"{'s' if self.traces != 1 else ''})",
                      title_justify="left", show_edge=False)
        table.add_column("situation")
        table.add_column("hits", justify="right")
        table.add_column("runs", justify="right")
        for name in self.names:
            style = "" if self.counts[name] else "dim"
            table.add_row(name, str(self.counts[name]), f"{self.runs[name]}/{self.traces}",
                          style=style)
        return table

    def fault_line(self) -> str:
        """One line counting the fault events, by kind."""
        faults = ", ".join(f"{kind} {count}" for kind, count in sorted(self.faults.items()))
        return f"Faults in the traces: {faults or 'none'}."

    def explain(self) -> str:
        """The table as plain text, then the fault totals."""
        width = max(len(name) for name in self.names) if self.names else 10
        lines = [f"Fault coverage ({self.protocol}, {self.traces} run"
                 f"{'s' if self.traces != 1 else ''}):"]
        for name in self.names:
            lines.append(f"  {name.ljust(width)}  {self.counts[name]:>4} hits  "
                         f"in {self.runs[name]}/{self.traces} runs")
        lines.append(self.fault_line())
        return "\n".join(lines)


class CoverageError(AssertionError):
    """A required situation was not hit often enough (an ``AssertionError``, so a grader
    test fails with its message)."""


def coverage(traces: Iterable[Trace | Sequence[TraceEvent]], rules: Rules) -> CoverageReport:
    """Count, over ``traces``, how often a fault hit each situation of ``rules``.

    Traces are read in order, each with a fresh tracker; the result depends only on them.
    """
    names = tuple(rules.names())
    if len(set(names)) != len(names):
        raise ValueError(f"rule set {rules.protocol!r} names a situation twice")
    counts = dict.fromkeys(names, 0)
    runs = dict.fromkeys(names, 0)
    faults: dict[str, int] = {}
    total = 0
    for trace in traces:
        total += 1
        tracker = rules.tracker()
        hit: set[str] = set()
        for event in trace:
            if event.kind in _FAULT_KINDS:
                faults[_FAULT_KINDS[event.kind]] = faults.get(_FAULT_KINDS[event.kind], 0) + 1
            for situation in rules.situations:
                if situation.test(event, tracker):
                    counts[situation.name] += 1
                    hit.add(situation.name)
            tracker.update(event)
        for name in hit:
            runs[name] += 1
    return CoverageReport(rules.protocol, total, names, counts, runs, faults)


def require_coverage(report: CoverageReport, required: Mapping[str, int]) -> None:
    """Fail (raise :class:`CoverageError`) unless each situation in ``required`` was hit at
    least that many times. For graders: a pass then means the faults met the protocol.

    >>> report = CoverageReport("raft", 2, ("a leader crashed",), {"a leader crashed": 0},
    ...                         {"a leader crashed": 0}, {})
    >>> try:
    ...     require_coverage(report, {"a leader crashed": 1})
    ... except CoverageError as error:
    ...     print(error)
    the faults did not hit enough of the situations this test needs (2 runs):
      a leader crashed: 0 of the 1 required
    A pass would not show that these are handled: run more seeds, or longer runs,
    or a nemesis with the faults that hit them.
    """
    for name in required:
        _known(report, name)
    short = report.missing(required)
    if short:
        lines = [f"the faults did not hit enough of the situations this test needs "
                 f"({report.traces} run{'s' if report.traces != 1 else ''}):"]
        lines += [f"  {name}: {seen} of the {wanted} required"
                  for name, (seen, wanted) in short.items()]
        lines.append("A pass would not show that these are handled: run more seeds, or "
                     "longer runs,\nor a nemesis with the faults that hit them.")
        raise CoverageError("\n".join(lines))


def _known(report: CoverageReport, name: str) -> None:
    if name not in report.counts:
        raise ValueError(f"no situation {name!r} in the {report.protocol} rules; they are: "
                         + "; ".join(report.names))


#: Trace event kinds that are faults, and the word the report counts them under.
_FAULT_KINDS = {"crash": "crashes", "partition": "partitions", "block": "one-way blocks",
                "drop": "lost messages", "clock": "clock jumps"}


# --- Raft -----------------------------------------------------------------------------------


def _note(event: TraceEvent, name: str) -> bool:
    return event.kind == "note" and event.data.get("event") == name


def _field(msg: Any, name: str) -> Any:
    """A message's field, whether live (an attrs object) or loaded from a file (a dict)."""
    if isinstance(msg, dict):
        return msg.get("body", msg).get(name)
    return getattr(msg, name, None)


class RaftTracker(Tracker):
    """Follows Raft's notes: who leads in which term, how far each log and commit go, and
    which elections are under way (a RequestVote or pre-vote sent for a term that has no
    leader yet)."""

    def __init__(self) -> None:
        super().__init__()
        self.leader: str | None = None
        self.leader_term = 0
        self.last_index: dict[str, int] = {}
        self.commit: dict[str, int] = {}
        #: Candidate -> the term it stands for, while no leader of that term is known.
        self.candidates: dict[str, int] = {}

    def is_leader(self, node: str) -> bool:
        return node == self.leader and node not in self.down

    def uncommitted(self, node: str) -> bool:
        return self.last_index.get(node, 0) > self.commit.get(node, 0)

    def update(self, event: TraceEvent) -> None:
        super().update(event)
        node = event.node
        if event.kind == "crash":
            self.candidates.pop(node, None)
            if node == self.leader:
                self.leader = None
        elif event.kind in ("restart", "start"):
            self.candidates.pop(node, None)
        elif event.kind == "send" and event.message_name == "RequestVote":
            # A pre-vote counts: the node has begun an election, even if only to ask.
            term = int(_field(event.data.get("msg"), "term") or 0)
            if term > self.leader_term:
                self.candidates[node] = max(term, self.candidates.get(node, 0))
        elif event.kind == "note":
            name = event.data.get("event")
            if name == "elected":
                term = int(event.data.get("term", 0))
                if term >= self.leader_term:
                    self.leader, self.leader_term = node, term
                self.candidates = {c: t for c, t in self.candidates.items() if t > term}
            elif name == "step down" and node == self.leader:
                self.leader = None
            elif name == "start":
                self.last_index[node] = max(self.last_index.get(node, 0),
                                            int(event.data.get("index", 0)))
            elif name == "commit":
                self.commit[node] = max(self.commit.get(node, 0),
                                        int(event.data.get("index", 0)))


def _leader_crash_uncommitted(event: TraceEvent, t: RaftTracker) -> bool:
    return event.kind == "crash" and t.is_leader(event.node) and t.uncommitted(event.node)


def _leader_crash(event: TraceEvent, t: RaftTracker) -> bool:
    return event.kind == "crash" and t.is_leader(event.node)


def _follower_crash(event: TraceEvent, t: RaftTracker) -> bool:
    return (event.kind == "crash" and t.leader is not None and not t.is_leader(event.node)
            and event.node not in t.down)


def _crash_in_election(event: TraceEvent, t: RaftTracker) -> bool:
    return event.kind == "crash" and bool(t.candidates) and event.node not in t.down


def _cuts_of(event: TraceEvent, t: RaftTracker) -> set[tuple[str, str]] | None:
    """The links cut right after a network fault event, or None for other events."""
    if event.kind == "partition":
        groups = [list(g) for g in event.data.get("groups", ())]
        return {(a, b) for g in groups for h in groups if g is not h for a in g for b in h}
    if event.kind == "block":
        return t.cut | {(str(event.data.get("from")), str(event.data.get("to")))}
    return None


def _majority(t: RaftTracker) -> int:
    return len(t.nodes) // 2 + 1


def _leader_cut_off(event: TraceEvent, t: RaftTracker) -> bool:
    cuts = _cuts_of(event, t)
    if cuts is None or t.leader is None or t.leader in t.down:
        return False
    before = len(t.reachable(t.leader)) >= _majority(t)
    after_nodes = {t.leader} | {o for o in t.nodes - {t.leader}
                                if (t.leader, o) not in cuts and (o, t.leader) not in cuts}
    return before and len(after_nodes) < _majority(t)


def _partition_without_leader(event: TraceEvent, t: RaftTracker) -> bool:
    cuts = _cuts_of(event, t)
    if cuts is None or t.leader is None or t.leader in t.down or not cuts:
        return False
    if t.reachable(t.leader) != t.nodes:
        return False  # counted when the leader first lost touch with someone
    reach = {t.leader} | {o for o in t.nodes - {t.leader}
                          if (t.leader, o) not in cuts and (o, t.leader) not in cuts}
    return len(reach) >= _majority(t) and reach != t.nodes


def _lost_to_candidate(event: TraceEvent, t: RaftTracker) -> bool:
    return event.kind == "drop" and str(event.data.get("to")) in t.candidates


def _lost_vote(event: TraceEvent, t: RaftTracker) -> bool:
    return (event.kind == "drop" and bool(t.candidates)
            and event.data.get("type") in ("RequestVote", "RequestVoteReply"))


def _lost_append_leader_uncommitted(event: TraceEvent, t: RaftTracker) -> bool:
    src = str(event.data.get("from"))
    return (event.kind == "drop" and event.data.get("type") == "AppendEntries"
            and t.is_leader(src) and t.uncommitted(src))


def _stepped_down(event: TraceEvent, t: RaftTracker) -> bool:
    return (_note(event, "step down") and event.data.get("reason") == "lost quorum"
            and bool(t.cut))


#: The rule set for :mod:`dsys.raft` (it reads Raft's ``elected``, ``step down``,
#: ``start`` and ``commit`` notes and its RequestVote messages).
RAFT = Rules(
    protocol="raft",
    tracker=RaftTracker,
    situations=(
        Situation("a leader crashed with uncommitted entries", "crash",
                  _leader_crash_uncommitted),
        Situation("a leader crashed", "crash", _leader_crash),
        Situation("a follower crashed", "crash", _follower_crash),
        Situation("a node crashed during an election", "crash", _crash_in_election),
        Situation("a partition cut the leader off from a majority", "partition",
                  _leader_cut_off),
        Situation("a partition left the leader with a majority", "partition",
                  _partition_without_leader),
        Situation("a message to a node in the middle of an election was lost",
                  "message loss", _lost_to_candidate),
        Situation("a vote request or vote was lost", "message loss", _lost_vote),
        Situation("an AppendEntries was lost while the leader had uncommitted entries",
                  "message loss",
                  _lost_append_leader_uncommitted),
        Situation("a cut-off leader stepped down (lost quorum)", "partition", _stepped_down),
    ),
)

#: Rule sets by protocol name, as ``dsys check coverage --rules`` accepts them.
RULES: dict[str, Rules] = {"raft": RAFT}
