"""Raft, told in phases: five servers elect a leader, lose it, split, heal and compact
their log; and the paper's Figure 8, scripted, to be drawn.

Five servers (``n1`` to ``n5``) run :class:`~dsys.raft.Raft` under a tiny replicated
service, a list of written values; a client (``c1``) writes the values ``a``, ``b``,
``c``... one after the other. A *director* (:class:`Director`) plays the story one phase
at a time: each phase starts with an action (crash the leader, cut the network), waits
until what it is about has happened (a new leader, two more writes committed), then
records what each server holds, and the next phase begins. Because each phase waits for
events rather than for fixed times, the story holds on any seed; because everything
comes from the seed, the same seed tells the same story, to the byte.

1. **Election**: a follower's election timeout fires; it wins a pre-vote, then the real
   election, and appends its no-op entry.
2. **Commands commit**: the client's writes reach the leader (a follower points the
   client at it), which appends each one, replicates it, and answers once a majority
   holds it.
3. **The leader crashes**: the others stop hearing heartbeats, one of them is elected in
   a higher term, and the client's write that went unanswered is retried there.
4. **It comes back**: the crashed server restarts with its term, vote and log from its
   disk, follows the new leader and catches up.
5. **A partition cuts the leader into a minority**: the leader and one follower on one
   side, three servers on the other. The old leader still takes the client's write but
   cannot commit it (2 of 5 is no majority); the three elect a new leader, which keeps
   committing.
6. **The partition heals**: the old leader hears of the higher term and steps down; its
   uncommitted entries are replaced by the new leader's, and every log is the same again.
7. **A follower falls behind**: a follower crashes; the four others commit on.
8. **A snapshot, and catching up from it**: every running server hands Raft its state
   (:meth:`~dsys.raft.Raft.snapshot`), and Raft discards the log it covers; the follower
   restarts, and the leader, which no longer has the entries it lacks, sends it the
   snapshot (InstallSnapshot) and then the entries after it.

Rules of this file: the servers and the client are ordinary nodes; the director is no
node, only scheduled calls between events, which read the servers' state and inject the
faults (its calls are not trace events); every story is told from the trace and the
servers' state, never assumed; everything iterates in sorted order, so the output is the
same under any ``PYTHONHASHSEED``.

Check-quorum is off in this demo so that the stale leader of phase 5 stays visible until
the heal; with it on (the default), it would step down by itself within an election
timeout. Run it with ``dsys demo raft [--seed N]``; :func:`present` draws each phase in the
terminal, and :func:`~dsys.raft.check_all` judges the whole trace.

:func:`figure_8` plays Figure 8 of the paper with a given Raft class (:class:`Raft`, or
:class:`CountsOldTerms`, which commits an earlier term's entry by counting replicas), and
:func:`figure_8_drawing` picks what its space-time diagrams show: the docs' Raft page
draws both runs (``docs/gen_raft_pictures.py``).

Example:
    >>> sim = scenario(seed=1)
    >>> sim.run(until=UNTIL)
    >>> [phase.title for phase in sim.director.finished]  # doctest: +NORMALIZE_WHITESPACE
    ['Election', 'Commands commit', 'The leader crashes', 'It comes back',
     'A partition cuts the leader into a minority', 'The partition heals',
     'A follower falls behind', 'A snapshot, and catching up from it']
    >>> from dsys.raft import check_all
    >>> check_all(sim.trace).ok
    True
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable, Iterator
from random import Random
from typing import Any

import attrs
from rich.console import Console
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from dsys import Client, Network, Node, Simulation, Trace, TraceEvent, message
from dsys.raft import (
    LEADER,
    AppendEntries,
    AppendEntriesReply,
    InstallSnapshot,
    Raft,
    RequestVote,
    RequestVoteReply,
    check_all,
    run_invariants,
)
from dsys.trace import terminal

SUMMARY = "five Raft servers elect, commit, crash, split, heal and snapshot"
KINDS = ["crash", "restart", "partition", "heal", "invoke", "complete", "note"]
UNTIL = 30.0

SERVERS = ("n1", "n2", "n3", "n4", "n5")
CLIENT = "c1"
#: How often the director looks at the cluster (virtual seconds). It only reads state and
#: schedules faults; it is no node, and its calls are not trace events.
POLL = 0.01
#: A phase that has not reached its goal after this long (virtual seconds) ends the story.
PHASE_TIMEOUT = 5.0
#: The client's patience with one server before trying the next, and its pause before
#: asking again after a "not the leader".
CLIENT_TIMEOUT = 0.4
CLIENT_RETRY = 0.05
#: What the client waits between two writes.
THINK = 0.08
#: How long the lagging follower stays down after the snapshot (> the latency, 10 ms).
SETTLE = 0.02


# ----- the service: messages, state machine, server, client ------------------------------


@message
class Write:
    """Client -> server: append ``value`` (the client's ``seq``-th write) to the list."""

    seq: int
    value: str


@message
class WriteReply:
    """Server -> client: the write ``seq`` committed at log ``index`` (``ok``), or this
    server is not the leader (``leader`` is the one it knows of, if any)."""

    seq: int
    ok: bool
    index: int = 0
    leader: str | None = None


class ValueList:
    """The state machine: the values written, in log order. A write the client retried
    (the same ``client`` and ``seq``) is applied once (Raft paper §8)."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.last_seq: dict[str, int] = {}

    def apply(self, index: int, command: dict[str, Any]) -> bool:
        """Apply one committed write; returns False for a duplicate."""
        client, seq = command["client"], command["seq"]
        if self.last_seq.get(client, 0) >= seq:
            return False
        self.last_seq[client] = seq
        self.values.append(command["value"])
        return True

    def state(self) -> dict[str, Any]:
        """Everything it holds, as JSON: what a snapshot keeps."""
        return {"values": list(self.values), "last_seq": dict(sorted(self.last_seq.items()))}

    def restore(self, index: int, data: dict[str, Any]) -> None:
        """Become the state a snapshot holds (Raft calls it; see :meth:`Raft.snapshot`)."""
        self.values = list(data["values"])
        self.last_seq = dict(data["last_seq"])


class NarratedRaft(Raft):
    """Raft that also notes ``step down`` when a leader sees a higher term and becomes a
    follower, so the trace shows it. Nothing else changes."""

    def step_down(self, term: int) -> None:
        was_leader = self.role == LEADER
        super().step_down(term)
        if was_leader:
            self.note("step down", term=self.current_term, reason="higher term")


class Server(Node):
    """A Raft server of the value list: a leader takes writes and answers each one when
    it is applied; a follower points the client at the leader it knows."""

    def __init__(self) -> None:
        super().__init__()
        self.machine = ValueList()
        self.raft = self.add_component(NarratedRaft(
            self.machine, on_apply=self.applied, check_quorum=False))
        self.waiting: dict[int, tuple[str, int]] = {}  # log index -> (client, seq)

    def on_message(self, src: str, msg: object) -> None:
        """A client's write (Raft's own messages go to the component)."""
        if not isinstance(msg, Write):
            return
        if self.machine.last_seq.get(src, 0) >= msg.seq:  # done already: a retry
            self.send(src, WriteReply(msg.seq, True))
            return
        started = self.raft.start({"client": src, "seq": msg.seq, "value": msg.value})
        if started is None:
            self.send(src, WriteReply(msg.seq, False, leader=self.raft.leader))
            return
        self.waiting[started[0]] = (src, msg.seq)

    def take_snapshot(self) -> int:
        """Hand Raft the service's state through the last applied index (§7); Raft
        discards the log up to there. Returns that index."""
        index = self.raft.last_applied
        self.raft.snapshot(index, self.machine.state())
        return index

    def applied(self, index: int, command: dict[str, Any], result: bool) -> None:
        """Raft applied a command: answer the client if we took its write at ``index``."""
        asked = self.waiting.pop(index, None)
        if asked is not None and asked == (command["client"], command["seq"]):
            self.send(asked[0], WriteReply(asked[1], True, index=index))


class Writer(Client):
    """Writes each operation's value through whichever server leads.

    It sends to the server it believes leads; "not the leader" with a hint sends it
    there, without a hint to the next server. A server that does not answer within
    :data:`CLIENT_TIMEOUT` is *suspect*: the client tries the next one, and ignores hints
    that point back at it until some server answers. A retried write keeps its ``seq``,
    so the service applies it once however often it is sent.
    """

    def on_start(self) -> None:
        self.servers = sorted(self.peers)
        self.target = self.servers[0]
        self.suspect: str | None = None
        self.seq = 0

    def on_invoke(self, op: dict[str, Any]) -> None:
        self.seq += 1
        self.value = str(op["value"])
        self.try_target()

    def on_message(self, src: str, msg: object) -> None:
        if not isinstance(msg, WriteReply) or msg.seq != self.seq or self.current_op is None:
            return  # a late answer to an earlier try
        self.cancel_timer("timeout")
        if msg.ok:
            self.suspect = None
            self.ok()
            return
        if msg.leader is not None and msg.leader != self.suspect:
            self.target = msg.leader
        else:
            self.target = self.next_server(src)
        self.set_timer("retry", CLIENT_RETRY)

    def on_timer(self, name: str) -> None:
        if self.current_op is None:
            return
        if name == "timeout":
            self.suspect = self.target
            self.target = self.next_server(self.target)
        self.try_target()

    def try_target(self) -> None:
        self.send(self.target, Write(self.seq, self.value))
        self.set_timer("timeout", CLIENT_TIMEOUT)

    def next_server(self, after: str) -> str:
        return self.servers[(self.servers.index(after) + 1) % len(self.servers)]


def _letters() -> Iterator[str]:
    """a, b, ..., z, A, ..., Z, then a1, b1...: the values the client writes."""
    for n in itertools.count():
        for letter in string.ascii_letters:
            yield letter if n == 0 else f"{letter}{n}"


def _writes() -> Callable[[Random], dict[str, Any]]:
    values = _letters()
    return lambda rng: {"f": "write", "value": next(values)}


# ----- what each server holds, at the end of a phase ----------------------------------------


@attrs.frozen
class ServerState:
    """One server at one moment (``up`` False: crashed, the rest is empty)."""

    id: str
    up: bool
    role: str = ""
    term: int = 0
    commit_index: int = 0
    log: tuple[tuple[int, str | None], ...] = ()  # (term, value; None for a no-op)
    snapshot_index: int = 0  # the log holds the entries after it
    snapshot_term: int = 0

    def entries(self) -> list[tuple[int, int, str | None]]:
        """(index, term, value) of the entries the log holds."""
        return [(self.snapshot_index + i, term, value)
                for i, (term, value) in enumerate(self.log, start=1)]


def server_state(sim: Simulation, node_id: str) -> ServerState:
    """What server ``node_id`` holds now."""
    node = sim.node(node_id)
    if not isinstance(node, Server):
        return ServerState(node_id, False)
    raft = node.raft
    log = tuple((e.term, _value(e.command)) for e in raft.entries)
    return ServerState(node_id, True, raft.role, raft.term, raft.commit_index, log,
                       raft.snapshot_index, raft.snapshot_term)


def _value(command: Any) -> str | None:
    """What an entry shows: the written value, or None for Raft's own entries."""
    return str(command["value"]) if isinstance(command, dict) and "value" in command else None


# ----- the director: phases, one after the other ----------------------------------------------


@attrs.define
class Phase:
    """One phase of the story: ``action`` starts it, ``done`` says it has happened,
    ``narrate`` tells it (from the cluster's state and the phase's trace)."""

    title: str
    action: Callable[[Director], None]
    done: Callable[[Director], bool]
    narrate: Callable[[Director], str]
    start: float = 0.0
    end: float = 0.0
    story: str = ""
    states: tuple[ServerState, ...] = ()


class Director:
    """Plays the phases on a simulation: polled every :data:`POLL` virtual seconds."""

    def __init__(self, sim: Simulation, phases: list[Phase]) -> None:
        self.sim = sim
        self.phases = phases
        self.finished: list[Phase] = []
        self.current: Phase | None = None
        self.facts: dict[str, Any] = {}  # what earlier phases learned (who led, when...)
        self.stuck: str | None = None  # set if a phase did not reach its goal

    def poll(self) -> None:
        sim = self.sim
        if self.current is None:
            if not self.phases:
                sim.stop()  # the story is over
                return
            self.current = self.phases.pop(0)
            self.current.start = sim.now
            self.current.action(self)
        elif self.current.done(self):
            phase = self.current
            phase.end = sim.now
            phase.story = phase.narrate(self)
            phase.states = tuple(server_state(sim, n) for n in SERVERS)
            self.finished.append(phase)
            self.current = None
            self.poll()  # the next phase starts at once
            return
        elif sim.now - self.current.start > PHASE_TIMEOUT:
            self.stuck = (f"phase {self.current.title!r} did not reach its goal within "
                          f"{PHASE_TIMEOUT} s")
            sim.stop()
            return
        sim.after(POLL, self.poll)

    # ----- what the phases read ---------------------------------------------------------

    def rafts(self) -> dict[str, Raft]:
        """The Raft of every running server, by id."""
        return {n: node.raft for n, node in sorted(self.sim.nodes.items())
                if isinstance(node, Server)}

    def leader(self) -> str | None:
        """The running server that leads the highest term, if any."""
        leading = [(r.term, n) for n, r in self.rafts().items() if r.is_leader]
        return max(leading)[1] if leading else None

    def settled(self) -> bool:
        """Exactly one leader, and every running server follows its term."""
        rafts = self.rafts()
        leading = [r for r in rafts.values() if r.is_leader]
        return len(leading) == 1 and all(r.term == leading[0].term for r in rafts.values())

    def writes_done(self) -> int:
        """How many of the client's writes completed."""
        return sum(1 for e in self.sim.history if e["type"] == "ok")

    def phase_trace(self) -> Trace:
        """The trace of the current phase so far."""
        assert self.current is not None
        return self.sim.trace.filter(start=self.current.start)


def notes(trace: Trace, event: str) -> list[TraceEvent]:
    """The Raft notes of one kind in ``trace``."""
    return [e for e in trace if e.kind == "note" and e.data.get("event") == event]


def _and(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c' ('none' for no names)."""
    if len(names) <= 1:
        return names[0] if names else "none"
    return ", ".join(names[:-1]) + " and " + names[-1]


def _quoted(values: list[str]) -> str:
    """The values quoted, as a list in words: "'a', 'b' and 'c'"."""
    return _and([repr(value) for value in values])


def _election(director: Director, term: int) -> str:
    """Who won ``term``, and with whose votes (from the trace's ``vote`` notes)."""
    trace = director.phase_trace()
    winner = next(e.node for e in notes(trace, "elected") if e.data["term"] == term)
    voters = sorted(e.node for e in notes(trace, "vote")
                    if e.data["term"] == term and e.data["candidate"] == winner)
    return (f"{winner} won term {term} with its own vote and those of {_and(voters)}: "
            f"{len(voters) + 1} of 5, a majority")


def _writes_in(director: Director) -> list[str]:
    """The values of the writes completed during the current phase."""
    assert director.current is not None
    start = director.current.start
    return [str(e["value"]) for e in director.sim.history
            if e["type"] == "ok" and e["time"] >= start]


def _journey(director: Director, value: str) -> str:
    """Where the client sent its write of ``value`` during the current phase, and what
    each server answered: "n5 (no answer), then n1 (not the leader, try n2), then n2
    (done)"."""
    tries: list[list[str]] = []  # [server, what it answered]
    for e in director.phase_trace():
        msg = e.data.get("msg")
        if e.node != CLIENT:
            continue
        if e.kind == "send" and isinstance(msg, Write) and msg.value == value:
            tries.append([e.data["to"], "no answer"])
        elif (e.kind == "recv" and isinstance(msg, WriteReply) and tries
              and e.data["from"] == tries[-1][0] and tries[-1][1] == "no answer"):
            tries[-1][1] = ("done" if msg.ok else "not the leader" if msg.leader is None
                            else f"not the leader, try {msg.leader}")
    return ", then ".join(f"{server} ({answer})" for server, answer in tries)


# Phase 1 -------------------------------------------------------------------------------------

def _elect_first(d: Director) -> None:
    pass  # the servers start as followers at t=0; the first election timeout begins it


def _first_leader_ready(d: Director) -> bool:
    leader = d.leader()
    return d.settled() and leader is not None and d.rafts()[leader].commit_index >= 1


def _tell_first_election(d: Director) -> str:
    leader = d.leader()
    assert leader is not None
    d.facts["first leader"] = leader
    term = d.rafts()[leader].term
    first = notes(d.phase_trace(), "elected")[0]
    return (f"All five start as followers. No leader speaks, so election timeouts fire "
            f"(each drawn at random from 150-300 ms); the first to fire asks the others "
            f"'would you vote for me?' (pre-vote), then stands for real. "
            f"{_election(d, term)}, at t={first.time:.3f} s. As leader it appends a no-op "
            f"entry of its term (shown '·'), which commits once a majority holds it.")


# Phase 2 -------------------------------------------------------------------------------------

def _client_starts(d: Director) -> None:
    d.facts["writes before"] = d.writes_done()
    d.sim.add_client(CLIENT, Writer, workload=_writes(), ops=None, think=THINK)


def _three_writes(d: Director) -> bool:
    return d.writes_done() >= d.facts["writes before"] + 3


def _tell_commands(d: Director) -> str:
    leader = d.facts["first leader"]
    written = _writes_in(d)
    return (f"The client {CLIENT} writes {_quoted(written)}, one at a time. It knows no "
            f"leader yet and starts with the first server of its list: its first write "
            f"went to {_journey(d, written[0])}. "
            f"For each write, {leader} appends an entry to its log, sends it to every "
            f"follower with AppendEntries, and once a majority (3 of 5, itself included) "
            f"holds it, marks it committed, applies it and answers the client. Followers "
            f"learn the new commit index with the next AppendEntries and apply it too.")


# Phase 3 -------------------------------------------------------------------------------------

def _crash_leader(d: Director) -> None:
    leader = d.leader()
    assert leader is not None
    d.facts["crashed"] = leader
    d.facts["crash term"] = d.rafts()[leader].term
    d.facts["writes before"] = d.writes_done()
    d.sim.crash(leader)


def _new_leader_commits(d: Director) -> bool:
    leader = d.leader()
    return (d.settled() and leader is not None
            and d.rafts()[leader].term > d.facts["crash term"]
            and d.writes_done() >= d.facts["writes before"] + 2)


def _tell_crash(d: Director) -> str:
    crashed, leader = d.facts["crashed"], d.leader()
    assert leader is not None
    written = _writes_in(d)
    d.facts["second leader"] = leader
    term = d.rafts()[leader].term
    elected = next(e for e in notes(d.phase_trace(), "elected") if e.data["term"] == term)
    assert d.current is not None
    gap = elected.time - d.current.start
    return (f"{crashed} crashes. Its heartbeats stop; {gap * 1000:.0f} ms later "
            f"{_election(d, term)}. A server votes only for a candidate whose log is at "
            f"least as up-to-date as its own, so the new leader holds every committed "
            f"entry. Meanwhile the client's next write, {written[0]!r}, went to "
            f"{_journey(d, written[0])}: a server that does not answer within "
            f"{CLIENT_TIMEOUT * 1000:.0f} ms is given up, and the next one tried. Writes "
            f"committed in this phase: {_quoted(written)}.")


# Phase 4 -------------------------------------------------------------------------------------

def _restart(d: Director) -> None:
    d.sim.restart(d.facts["crashed"])


def _caught_up(d: Director) -> bool:
    leader = d.leader()
    rafts = d.rafts()
    back = rafts.get(d.facts["crashed"])
    return (leader is not None and back is not None and d.settled()
            and back.last_applied == rafts[leader].commit_index)


def _tell_restart(d: Director) -> str:
    back, leader = d.facts["crashed"], d.facts["second leader"]
    raft = d.rafts()[back]
    return (f"{back} restarts. Its current term, its vote and its log were synced to its "
            f"disk before it ever answered a message, so it comes back with them; its "
            f"commit index, volatile, starts at 0. The first AppendEntries of {leader} "
            f"(term {raft.term}) makes it a follower of that term; the entries it misses "
            f"follow, and the leader's commit index lets it apply everything up to index "
            f"{raft.last_applied}.")


# Phase 5 -------------------------------------------------------------------------------------

def _partition(d: Director) -> None:
    leader = d.leader()
    assert leader is not None
    buddy = next(n for n in SERVERS if n != leader)
    majority = [n for n in SERVERS if n not in (leader, buddy)]
    d.facts.update({"cut leader": leader, "buddy": buddy, "majority": majority,
                    "cut term": d.rafts()[leader].term, "writes before": d.writes_done()})
    d.sim.partition([leader, buddy], majority)


def _majority_commits(d: Director) -> bool:
    rafts = d.rafts()
    leading = [n for n in d.facts["majority"]
               if rafts[n].is_leader and rafts[n].term > d.facts["cut term"]]
    old = rafts[d.facts["cut leader"]]
    return (bool(leading) and d.writes_done() >= d.facts["writes before"] + 2
            and old.last_log_index > old.commit_index)


def _tell_partition(d: Director) -> str:
    old, buddy, majority = d.facts["cut leader"], d.facts["buddy"], d.facts["majority"]
    rafts = d.rafts()
    new = next(n for n in majority if rafts[n].is_leader)
    d.facts["third leader"] = new
    stale = rafts[old]
    pending = [(i, value) for i, _, value in server_state(d.sim, old).entries()
               if i > stale.commit_index and value is not None]
    d.facts["pending"] = pending
    taken = _and([f"{value!r} at index {i}" for i, value in pending])
    return (f"The network splits: {old} (the leader) and {buddy} on one side, "
            f"{_and(majority)} on the other. {old} still believes it leads term "
            f"{d.facts['cut term']}, and takes the client's write ({taken}), but "
            f"only 2 of 5 servers can hold it: it stays uncommitted, and the client hears "
            f"nothing. On the other side, no heartbeat arrives; "
            f"{_election(d, rafts[new].term)}. The write went to "
            f"{_journey(d, pending[0][1])}: the client ignores hints that point back at a "
            f"server that did not answer. Writes commit again: {_quoted(_writes_in(d))}.")


# Phase 6 -------------------------------------------------------------------------------------

def _heal(d: Director) -> None:
    d.sim.heal()


def _logs_agree(d: Director) -> bool:
    rafts = d.rafts()
    leader = d.leader()
    if leader is None or not d.settled():
        return False
    head = rafts[leader]
    return all(r.entries == head.entries and r.last_applied == head.commit_index
               for r in rafts.values())


def _tell_heal(d: Director) -> str:
    old, new = d.facts["cut leader"], d.facts["third leader"]
    down = [e for e in notes(d.phase_trace(), "step down") if e.node == old]
    when = f" at t={down[0].time:.3f} s" if down else ""
    term = d.rafts()[new].term
    log = server_state(d.sim, new).entries()
    fates = [f"{value!r} is now at index {next(i for i, _, v in log if v == value)}"
             for _, value in d.facts["pending"] if any(v == value for _, _, v in log)]
    return (f"The partition heals. The first message of term {term} that reaches {old} "
            f"makes it step down{when}: a higher term always wins. {new}'s AppendEntries "
            f"then find where {old}'s log departs from its own, and replace the entries "
            f"{old} took during the partition: they never committed, so no client was "
            f"told they had. The client's write was retried at {new} and committed there, "
            f"once ({_and(fates)}). Every log is the same again.")


# Phase 7 -------------------------------------------------------------------------------------

def _crash_follower(d: Director) -> None:
    leader = d.leader()
    follower = next(n for n in SERVERS if n != leader)
    d.facts.update({"behind": follower, "writes before": d.writes_done(),
                    "behind log": d.rafts()[follower].last_log_index})
    d.sim.crash(follower)


def _majority_moves_on(d: Director) -> bool:
    leader = d.leader()
    rafts = d.rafts()
    return (leader is not None and d.writes_done() >= d.facts["writes before"] + 3
            and all(r.last_applied == rafts[leader].commit_index for r in rafts.values()))


def _tell_behind(d: Director) -> str:
    behind, leader = d.facts["behind"], d.leader()
    assert leader is not None
    return (f"{behind}, a follower, crashes. The four others are still a majority, so "
            f"writes go on committing without it: {_quoted(_writes_in(d))}. {behind}'s log "
            f"ends at index {d.facts['behind log']}; {leader}'s now reaches index "
            f"{d.rafts()[leader].last_log_index}.")


# Phase 8 -------------------------------------------------------------------------------------

def _snapshot_and_restart(d: Director) -> None:
    taken = {}
    for node_id, node in sorted(d.sim.nodes.items()):
        if isinstance(node, Server):
            taken[node_id] = node.take_snapshot()
    d.facts["snapshots"] = taken
    d.facts["writes before"] = d.writes_done()
    # A little later: what the leader sent it before the snapshot (entries it has no
    # more) is lost by then, as messages to a crashed server are.
    d.sim.after(SETTLE, d.sim.restart, d.facts["behind"])


def _caught_up_from_snapshot(d: Director) -> bool:
    rafts = d.rafts()
    back = rafts.get(d.facts["behind"])
    leader = d.leader()
    return (back is not None and leader is not None and d.settled()
            and back.snapshot_index > 0 and d.writes_done() >= d.facts["writes before"] + 2
            and back.last_applied == rafts[leader].commit_index)


def _tell_snapshot(d: Director) -> str:
    behind, leader = d.facts["behind"], d.leader()
    assert leader is not None
    index = d.facts["snapshots"][leader]
    trace = d.phase_trace()
    chunks = {e.data["msg"].offset for e in trace if e.kind == "recv" and e.node == behind
              and isinstance(e.data.get("msg"), InstallSnapshot)}
    values = d.rafts()[behind].snapshot_data["values"]
    messages = "in one chunk" if len(chunks) == 1 else f"in {len(chunks)} chunks"
    return (f"The service compacts its log (a real one does when raft.log_bytes() passes "
            f"a limit; here the demo asks): each running server hands Raft its state "
            f"through its last applied index ({index} on {leader}), that is the "
            f"{len(values)} values written so far and the last write of each client (to "
            f"spot retries). Raft keeps that snapshot on disk and discards the log through "
            f"the index. Then {behind} restarts. Its log ends at index "
            f"{d.facts['behind log']}, but {leader} no longer has the entries that follow: "
            f"it sends its snapshot instead, with InstallSnapshot ({messages}). {behind} "
            f"replaces its state with the snapshot's (restore) and takes the entries "
            f"after it from AppendEntries as usual: {_quoted(_writes_in(d))}.")


def phases() -> list[Phase]:
    """The story, in order."""
    return [
        Phase("Election", _elect_first, _first_leader_ready, _tell_first_election),
        Phase("Commands commit", _client_starts, _three_writes, _tell_commands),
        Phase("The leader crashes", _crash_leader, _new_leader_commits, _tell_crash),
        Phase("It comes back", _restart, _caught_up, _tell_restart),
        Phase("A partition cuts the leader into a minority", _partition, _majority_commits,
              _tell_partition),
        Phase("The partition heals", _heal, _logs_agree, _tell_heal),
        Phase("A follower falls behind", _crash_follower, _majority_moves_on, _tell_behind),
        Phase("A snapshot, and catching up from it", _snapshot_and_restart,
              _caught_up_from_snapshot, _tell_snapshot),
    ]


# ----- the scenario and its drawing -----------------------------------------------------------


class RaftDemo(Simulation):
    """A simulation that carries its :class:`Director` (what :func:`present` draws)."""

    director: Director


def scenario(seed: int = 1, until: float = UNTIL) -> RaftDemo:
    """The five servers and the director, ready to run, with Raft's invariants checked
    after every event; the run stops by itself when the story is over (``until`` only
    bounds it)."""
    sim = RaftDemo(seed=seed, network=Network(latency=(0.002, 0.010)))
    for node_id in SERVERS:
        sim.add_node(node_id, Server)
    for invariant in run_invariants():  # checked after every event
        sim.add_invariant(invariant)
    sim.director = Director(sim, phases())
    sim.at(0.0, sim.director.poll)
    return sim


def highlights(trace: Trace, start: float = 0.0, end: float = float("inf")) -> Trace:
    """The events between ``start`` and ``end`` worth a row, as short lines: faults, the
    client's writes, elections, step-downs, and the leader's appends and commits."""
    kept = []
    leading: dict[str, int] = {}  # server -> the term it leads, from the notes so far
    for e in trace:
        if e.time > end:
            break
        text = None
        if e.kind in ("crash", "restart", "partition", "heal"):
            leading.pop(e.node, None)
            text = "" if e.time >= start else None
        elif e.kind == "invoke":
            text = f"write {e.data['op']['value']!r}"
        elif e.kind == "send" and isinstance(e.data.get("msg"), InstallSnapshot):
            text = f"InstallSnapshot to {e.data['to']}"
        elif e.kind == "complete":
            text = f"{e.data['op']['type']} {e.data['op']['value']!r}"
        elif e.kind == "note":
            event = e.data.get("event")
            if event == "elected":
                leading[e.node] = e.data["term"]
                text = f"LEADER, term {e.data['term']}"
            elif event == "step down":
                leading.pop(e.node, None)
                text = f"steps down, term {e.data['term']}"
            elif event == "start":
                text = f"appends #{e.data['index']}"
            elif event == "snapshot":
                text = f"snapshot up to #{e.data['index']}"
            elif event == "restore":
                text = f"restores snapshot ..#{e.data['index']}"
            elif event == "commit" and leading.get(e.node) == e.data["in_term"]:
                text = f"commits to #{e.data['index']}"
        if text is None or e.time < start:
            continue
        kept.append(e if text == "" else TraceEvent(e.time, e.node, "log", {"text": text}))
    return Trace(kept)


def state_table(states: tuple[ServerState, ...]) -> Table:
    """Role, term and log of each server; committed entries in green."""
    table = Table(show_header=True, box=None, padding=(0, 1))
    for column in ("server", "role", "term", "commit", "log (term:value, · = no-op)"):
        table.add_column(column, justify="right" if column in ("term", "commit") else "left")
    for s in states:
        if not s.up:
            table.add_row(s.id, Text("crashed", style="bold red"), "", "", "")
            continue
        log = Text()
        if s.snapshot_index:
            log.append(f"[snapshot ..{s.snapshot_index}]", style="cyan")
            log.append(" ")
        for index, term, value in s.entries():
            style = "green" if index <= s.commit_index else "yellow"
            log.append(f"{term}:{'·' if value is None else value}", style=style)
            log.append(" ")
        role = Text(s.role, style="bold" if s.role == LEADER else "")
        table.add_row(s.id, role, str(s.term), str(s.commit_index), log)
    return table


def present(sim: Simulation, console: Console, *, everything: bool = False) -> None:
    """Draw the story: each phase's narration, its events, and what each server holds at
    its end; then the Raft checkers' verdict on the whole trace."""
    assert isinstance(sim, RaftDemo)
    director = sim.director
    nodes = [*SERVERS, CLIENT]
    for number, phase in enumerate(director.finished, start=1):
        console.print(Rule(f"{number}. {phase.title}  "
                           f"(t={phase.start:.3f} s to {phase.end:.3f} s)"))
        console.print(Padding(phase.story, (0, 2)))
        shown = (sim.trace.filter(start=phase.start, end=phase.end) if everything
                 else highlights(sim.trace, phase.start, phase.end))
        console.print(terminal.render(shown, nodes=nodes, title=(
            "every event" if everything else "highlights (--all shows every event)")))
        console.print(Padding(state_table(phase.states), (0, 2, 1, 2)))
    if director.stuck is not None:
        console.print(Text(f"The story stopped: {director.stuck}.", style="bold red"))
    elif director.current is not None:
        console.print(Text(f"The run ended (--until) during the phase "
                           f"{director.current.title!r}.", style="bold yellow"))
    report = check_all(sim.trace)
    verdict = Text("Raft checkers: ", style="bold")
    verdict.append(report.explain(), style="green" if report.ok else "bold red")
    console.print(verdict)


# ----- Figure 8 of the paper, scripted --------------------------------------------------------
#
# The same scenario as tests/raft/test_figure8.py (which judges it), here to be drawn: the
# docs' pictures (docs/gen_raft_pictures.py) and the debugging how-to run it.


class CountsOldTerms(Raft):
    """A broken Raft: its leader commits any entry a majority holds, whatever the entry's
    term. The bug of the paper's Figure 8 (§5.4.2)."""

    def advance_commit_index(self) -> None:
        for n in range(self.last_log_index, self.commit_index, -1):
            if self.has_majority(m for m, i in self.match_index.items() if i >= n):
                self.commit(n)
                return


#: Figure 8's servers: a..e for the paper's S1..S5.
FIGURE_8_SERVERS = ("a", "b", "c", "d", "e")
#: Whose turn it is to time out: 30 ms; everyone else: never, in this script. (Short, with
#: 10 ms heartbeats, so the pictures are not mostly waiting.)
_MY_TURN, _NOT_MY_TURN = (0.03, 0.03), (100.0, 100.0)


class Figure8Server(Node):
    """A server of Figure 8: a Raft of class ``raft_class`` (plain Raft, no pre-vote nor
    check-quorum, one entry per AppendEntries) and the commands it applied."""

    def __init__(self, raft_class: type[Raft], turn: dict[str, str]) -> None:
        super().__init__()
        self.applied: list[tuple[int, Any]] = []
        timeout = _MY_TURN if turn["who"] == self.id else _NOT_MY_TURN
        self.raft = self.add_component(raft_class(
            self, election_timeout=timeout, heartbeat=0.01, pre_vote=False,
            check_quorum=False, max_entries=1))

    def apply(self, index: int, command: Any) -> None:
        """The state machine: remember what was applied where."""
        self.applied.append((index, command))


@attrs.define
class Figure8:
    """A run of Figure 8: the simulation, and when each step (``"a"`` to ``"d"``, the
    paper's panels) began and ended."""

    sim: Simulation
    steps: dict[str, tuple[float, float]]

    def raft(self, node_id: str) -> Raft:
        """The Raft of a running server."""
        node = self.sim.node(node_id)
        assert isinstance(node, Figure8Server), f"{node_id} is down"
        return node.raft


def figure_8(raft_class: type[Raft] = Raft, seed: int = 0) -> Figure8:
    """Play Figure 8 with servers of ``raft_class`` (:class:`Raft`, or
    :class:`CountsOldTerms` for the bug). Who campaigns is forced by election timeouts,
    the rest by crashes and one-way blocks, each at the event that makes it due, so the
    script holds whatever the seeded latencies. Index 1 is the term-1 no-op everyone holds;
    then:

    (a) ``a`` leads term 2; its no-op (index 2) and command ``"x"`` (index 3) reach ``b``
        only; ``a`` crashes.
    (b) ``e`` is elected in term 3 by ``c``, ``d`` and itself, appends its no-op and
        ``"y"`` at indexes 2 and 3, which reach nobody; ``e`` crashes.
    (c) ``a`` restarts and is elected in term 4 (by ``b``, ``c``, ``d``); it replicates
        ``"x"`` to ``c`` and ``d`` but not its term-4 no-op. A majority holds ``"x"``:
        the broken rule commits it by counting, and ``a`` applies it. ``a`` crashes.
    (d) ``e`` restarts and is elected in term 5 (its last term, 3, beats their 2), and
        overwrites indexes 2 and 3 everywhere with its term-3 entries.

    Raises AssertionError if a step does not go as scripted (it always should).
    """
    turn = {"who": "a"}
    sim = Simulation(seed=seed)
    for node_id in FIGURE_8_SERVERS:
        sim.add_node(node_id, lambda: Figure8Server(raft_class, turn))
    run = Figure8(sim, {})

    def step(what: str, predicate: Callable[[Simulation], bool]) -> None:
        assert sim.run_until(predicate, timeout=5.0), f"seed {seed}: {what} did not happen"

    def leads(node_id: str, term: int) -> Callable[[Simulation], bool]:
        def check(s: Simulation) -> bool:
            node = s.node(node_id)
            return (isinstance(node, Figure8Server) and node.raft.is_leader
                    and node.raft.term == term)
        return check

    def give_turn(node_id: str) -> None:
        turn["who"] = node_id
        for other, node in sim.nodes.items():
            assert isinstance(node, Figure8Server)
            node.raft.election_timeout = _MY_TURN if other == node_id else _NOT_MY_TURN
        if sim.is_up(node_id):
            run.raft(node_id).reset_election_timer()

    def crash_and_heal(node_id: str) -> None:
        """Crash, let what it sent before drain into the blocks (latency <= 10 ms)."""
        sim.crash(node_id)
        sim.run(until=sim.now + 0.02)
        sim.heal()

    def terms(node_id: str) -> list[int]:
        return [e.term for e in run.raft(node_id).entries]

    # Term 1: a leads; its no-op (index 1) is everywhere.
    step("a elected in term 1", leads("a", 1))
    step("index 1 applied everywhere",
         lambda s: all(run.raft(n).last_applied == 1 for n in FIGURE_8_SERVERS))
    # (a) a leads term 2 (after a restart); its term-2 entries reach b only; a crashes.
    begin = sim.now
    sim.crash("a")
    sim.restart("a")
    give_turn("a")
    step("a elected in term 2", leads("a", 2))
    for other in "cde":
        sim.block("a", other)
    assert run.raft("a").start("x") == (3, 2)
    step("b holds x", lambda s: run.raft("b").last_log_index == 3)
    crash_and_heal("a")
    run.steps["a"] = (begin, sim.now)
    # (b) e is elected in term 3 by c, d and e (b refuses: its log is ahead) and appends
    # its entries at indexes 2 and 3, which reach nobody; e crashes.
    begin = sim.now
    give_turn("e")
    step("e elected in term 3", leads("e", 3))
    for other in "abcd":
        sim.block("e", other)
    assert run.raft("e").start("y") == (3, 3)
    # A leader syncs a new entry with the first message that carries it (with every
    # follower busy, the next heartbeat's): e's heartbeats are dropped, but sent.
    step("e synced y", lambda s: run.raft("e").storage.get("raft/log/length") == 3)
    crash_and_heal("e")
    run.steps["b"] = (begin, sim.now)
    # (c) a restarts and is elected in term 4 (by b, c and d); it replicates its term-2
    # entries to c and d, and nothing more: each is cut off from a once it has
    # acknowledged index 3 (the term-4 no-op a sends next is lost).
    begin = sim.now
    turn["who"] = "a"
    sim.restart("a")
    step("a elected in term 4", leads("a", 4))
    sim.block("a", "b")  # its first message to b carries the term-4 no-op
    pending = {"c", "d"}
    while pending:  # in the order they acknowledge, which the latencies decide
        step(f"{sorted(pending)} acknowledge index 3",
             lambda s: any(run.raft("a").match_index[f] >= 3 for f in pending))
        for follower in sorted(pending):
            if run.raft("a").match_index[follower] >= 3:
                sim.block("a", follower)
                pending.discard(follower)
    assert terms("a") == [1, 2, 2, 4]
    assert all(terms(n) == [1, 2, 2] for n in "bcd")
    crash_and_heal("a")
    run.steps["c"] = (begin, sim.now)
    # (d) e restarts and is elected in term 5 by b, c and d (its last term 3 > their 2),
    # and overwrites indexes 2 and 3 everywhere.
    begin = sim.now
    turn["who"] = "e"
    sim.restart("e")
    step("e elected in term 5", leads("e", 5))
    step("e's log applied by b, c, d and e",
         lambda s: all(run.raft(n).last_applied == 4 for n in "bcde"))
    assert all(terms(n) == [1, 3, 3, 5] for n in "bcde")
    run.steps["d"] = (begin, sim.now)
    return run


def figure_8_drawing(trace: Trace, start: float, end: float) -> Trace:
    """What a picture of Figure 8 shows between ``start`` and ``end``: crashes and
    restarts; elections (RequestVote and granted votes); AppendEntries that carry an
    entry, lost or not (once: not its repeats), the replies that acknowledge a new index
    or first refuse one (where the follower's log parts from the leader's); and the Raft
    notes as short lines (elected, commit, apply). Heartbeats, timers and blocks are
    left out."""
    kept: list[TraceEvent] = []
    sent: dict[Any, Any] = {}  # message id -> message, to know what a drop lost
    acked: dict[tuple[str, str], int] = {}  # (leader, follower) -> highest index acked
    refused: set[tuple[str, str, int, int]] = set()  # (leader, follower, where, term)
    seen: set[tuple[Any, ...]] = set()  # the AppendEntries drawn (sender, receiver, what)
    repeats: set[Any] = set()  # ids of the AppendEntries that only repeat one drawn
    for e in trace.filter(end=end):
        msg, mid = e.data.get("msg"), e.data.get("id")
        if e.kind == "send":
            sent[mid] = msg
            if isinstance(msg, AppendEntries):
                what = (e.node, e.data["to"], msg.term, msg.prev_log_index, msg.entries)
                if what in seen:
                    repeats.add(mid)  # the leader sends it again each heartbeat
                seen.add(what)
        if mid in repeats:
            continue
        shown = _figure_8_event(e, msg if msg is not None else sent.get(mid), acked,
                                refused)
        if shown is None or e.time < start:
            continue
        last = kept[-1] if kept else None
        if (shown.kind == "log" and last is not None and last.kind == "log"
                and (last.time, last.node) == (shown.time, shown.node)):
            # One line per node and instant: "commit 3 (t2)" and "'x'" applied with it.
            shown = TraceEvent(e.time, e.node, "log",
                               {"text": f"{last.data['text']} {shown.data['text']}"})
            kept.pop()
        kept.append(shown)
    return Trace(kept)


def _figure_8_event(e: TraceEvent, msg: Any, acked: dict[tuple[str, str], int],
                    refused: set[tuple[str, str, int, int]]) -> TraceEvent | None:
    if e.kind in ("crash", "restart"):
        return e
    if e.kind == "note":
        data, event = e.data, e.data.get("event")
        if event == "elected":
            text = f"LEADER, term {data['term']}"
        elif event == "commit":
            text = f"commit {data['index']} (t{data['term']})"
        elif event == "apply" and not data.get("noop"):
            text = repr(data["command"])  # follows its commit: "commit 3 (t2) 'x'"
        else:
            return None
        return TraceEvent(e.time, e.node, "log", {"text": text})
    if e.kind not in ("send", "recv", "drop"):
        return None
    if isinstance(msg, AppendEntries) and msg.entries:  # (a heartbeat says nothing here)
        entry = msg.entries[0]
        what = "no-op" if entry.noop else repr(entry.command)
        return _labelled(e, msg, f"#{msg.prev_log_index + 1} {what} (t{entry.term})")
    if isinstance(msg, RequestVote) and e.kind != "drop":
        return _labelled(e, msg, f"vote for me? t{msg.term}")
    if isinstance(msg, RequestVoteReply) and msg.granted:
        return _labelled(e, msg, f"yes, t{msg.term}")
    if isinstance(msg, AppendEntriesReply) and e.kind != "drop":
        link = (e.data["to"], e.node) if e.kind == "send" else (e.node, e.data["from"])
        if msg.success:  # the reply that first acknowledges an index
            if msg.match_index > acked.get(link, 0):
                if e.kind == "recv":
                    acked[link] = msg.match_index
                return _labelled(e, msg, f"have #{msg.match_index}")
        elif ((*link, msg.conflict_index, msg.conflict_term) not in refused
              or e.kind == "send"):  # a refusal, said once: where the logs part
            if e.kind == "recv":
                refused.add((*link, msg.conflict_index, msg.conflict_term))
            why = (f"t{msg.conflict_term} from #{msg.conflict_index}" if msg.conflict_term
                   else f"log ends at #{msg.conflict_index - 1}")
            return _labelled(e, msg, f"no, {why}")
    return None


def _labelled(e: TraceEvent, msg: Any, label: str) -> TraceEvent:
    """``e`` with its message shown as ``label`` (the arrow's text; no '.' nor ':'), the
    message's fields kept for the tooltip."""
    body = {field: getattr(msg, field) for field in attrs.fields_dict(type(msg))}
    return TraceEvent(e.time, e.node, e.kind, {**e.data, "msg": {"type": label, "body": body}})
