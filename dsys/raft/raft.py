"""Raft consensus, written to be read beside Figure 2 of the paper.

D. Ongaro and J. Ousterhout, "In Search of an Understandable Consensus Algorithm
(Extended Version)", 2014; and D. Ongaro, "Consensus: Bridging Theory and Practice"
(PhD thesis, 2014) for pre-vote and check-quorum (§9.6, §6.2), membership changes
(ch. 4), leadership transfer (§3.10) and ReadIndex reads (§6.4).

Rules of this file:

* Every handler names the box of Figure 2 (or 13) and the section it implements.
* Persistent state (``current_term``, ``voted_for``, the log and the snapshot) is written
  to ``self.storage`` as it changes and synced **before any message leaves** (the
  :meth:`Raft.send` of this component syncs first): a vote, an AppendEntries success or a
  candidate's request is never sent while what it promises could still be lost by a
  crash. The one exception is the thesis's (§10.2.1): a leader sends new entries of its
  log before it has synced them, and syncs them while they travel; it counts itself in
  matchIndex only for what it has synced. Everything else is volatile and rebuilt on
  restart.
* Roles and their transitions are data (:data:`TRANSITIONS`); :meth:`Raft.become` refuses
  any other change.
* Randomness comes from ``self.rng`` only; time from ``self.now`` only.

Layout: constants and the state machine interface, the component's state, the client
interface (``start``, ``read``, ``snapshot``, membership, transfer), then the handlers in
Figure 2's order (Rules for Servers, RequestVote, AppendEntries, the leader's side), then
InstallSnapshot (Figure 13), then the persistence helpers.

**The log after a snapshot.** Log indexes are absolute: ``entries`` holds the entries
*after* ``snapshot_index``, so the entry at index ``i`` is ``entries[i - snapshot_index -
1]``, and the term of the last entry the snapshot replaced is ``snapshot_term``
(:meth:`Raft.term_at` knows both). Entries through ``snapshot_index`` are committed and
applied everywhere that matters, so an AppendEntries that reaches into them is trimmed,
and a follower whose ``next_index`` falls at or before it is sent the snapshot instead.

**Entries that are not commands.** A new leader appends a no-op entry of its term at once
(§8, thesis §6.4), so the entries of earlier terms it holds commit as soon as a majority
holds the no-op. A membership change is a configuration entry (thesis §4.1), which takes
effect on every server as soon as it is in its log. Neither is handed to the state
machine: it sees the log indexes of the real commands, the same on every server, with gaps.

**Membership** changes one server at a time (thesis §4.1): any two majorities of
consecutive configurations overlap, so two leaders can never be elected in one term. A
new server first joins as a *learner* (it receives the log, never votes, never counts),
and is made a voter once it has caught up (§4.2.1), so adding it does not stall commits.
A leader changes the configuration only once an entry of its own term is committed (the
thesis's correction of the single-server algorithm) and only one change at a time.

**Reads.** :meth:`Raft.read` serves a linearizable read without writing the log
(ReadIndex, thesis §6.4): the leader notes its commit index, confirms with a round of
heartbeats that a majority still follows it, and lets the read go once that index is
applied. Leader leases are not built: they trade this round trip for a bound on clock
drift, and a lease read under drift beyond the bound returns stale data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Final, Literal, Protocol

import attrs

from dsys.core import codec
from dsys.core.node import Component
from dsys.errors import CodecError, ConfigError, StorageError, UsageError
from dsys.raft.messages import (
    AppendEntries,
    AppendEntriesReply,
    Entry,
    InstallSnapshot,
    InstallSnapshotReply,
    RequestVote,
    RequestVoteReply,
    TimeoutNow,
)

# ----- roles -----------------------------------------------------------------------------

Role = Literal["follower", "candidate", "leader"]
FOLLOWER: Final = "follower"
CANDIDATE: Final = "candidate"
LEADER: Final = "leader"

#: The role changes Raft allows (Figure 4 of the paper), with why they happen.
TRANSITIONS: dict[tuple[str, str], str] = {
    (FOLLOWER, CANDIDATE): "election timeout (after winning a pre-vote, if on)",
    (CANDIDATE, CANDIDATE): "election timeout: a new election",
    (CANDIDATE, LEADER): "votes from a majority",
    (CANDIDATE, FOLLOWER): "discovers the current leader or a higher term",
    (LEADER, FOLLOWER): ("discovers a higher term, loses its quorum (check-quorum), or "
                         "is removed from the group"),
}


class StateMachine(Protocol):
    """What Raft applies committed commands to: a service implements ``apply``.

    A service that takes snapshots (:meth:`Raft.snapshot`) also implements
    ``restore(index, data)``: Raft calls it when a snapshot replaces the service's state
    (one sent by the leader, or this server's own at restart), with the index the
    snapshot covers and the data the service handed in.
    """

    def apply(self, index: int, command: Any) -> Any:
        """Apply the committed ``command`` at log ``index`` (called once per command, in
        increasing index order; the indexes of Raft's own entries are skipped) and
        return its result (handed to ``on_apply``)."""
        ...


#: ``on_apply(index, command, result)``: called after each command is applied (not for
#: the no-op entries).
ApplyCallback = Callable[[int, Any, Any], None]

#: ``callback(ok)`` of :meth:`Raft.read`.
ReadCallback = Callable[[bool], None]


@attrs.frozen
class Configuration:
    """The servers of a group: ``voters`` elect and commit, ``learners`` only receive
    the log (thesis §4.2.1). Both sorted."""

    voters: tuple[str, ...]
    learners: tuple[str, ...] = ()

    @classmethod
    def of(cls, value: Any) -> Configuration:
        """From the stored form ``{"voters": [...], "learners": [...]}``."""
        return cls(tuple(sorted(value["voters"])), tuple(sorted(value.get("learners", ()))))

    def stored(self) -> dict[str, list[str]]:
        """The stored (and wire) form."""
        return {"voters": list(self.voters), "learners": list(self.learners)}

    @property
    def servers(self) -> tuple[str, ...]:
        """Voters and learners, sorted."""
        return tuple(sorted((*self.voters, *self.learners)))


@attrs.define
class PendingRead:
    """A read waiting for its ReadIndex (thesis §6.4): confirmed once a majority answered
    a heartbeat round numbered ``seq`` or later, served once ``index`` is applied."""

    seq: int
    index: int | None  # None until the leader has committed an entry of its term
    callback: ReadCallback
    confirmed: bool = False


class Raft(Component):
    """One Raft server, as a component: a service node holds it beside its own logic.

    Args:
        state_machine: what committed commands are applied to (see :class:`StateMachine`).
        on_apply: called with ``(index, command, result)`` after each apply.
        after_applies: called once after each run of applies (when commitIndex advanced
            and every newly committed entry was applied): where a service sends what it
            gathered across them, the replies to a batch of commands say.
        members: the voters of the group at its creation (default: this node and all its
            peers when it first starts). A server that joins a running group later
            starts with ``members=()`` and learns the group from the leader.
        election_timeout: (low, high) seconds; each timeout is drawn uniformly from it.
        heartbeat: seconds between a leader's AppendEntries rounds (keep it well below
            the low election timeout).
        pre_vote: ask "would you vote for me?" before starting an election (thesis
            §9.6), so a node that cannot win does not raise everyone's term.
        check_quorum: a leader that has not heard from a majority within an election
            timeout steps down, and a server that heard from a leader within the low
            election timeout ignores RequestVotes of higher terms (thesis §6.2, §4.2.3).
        max_entries: the most entries one AppendEntries carries.
        snapshot_chunk: the most characters of a snapshot's JSON text one
            InstallSnapshot carries.

    Example:
        >>> from dsys import Node, Simulation
        >>> from dsys.raft import Raft
        >>> class Server(Node):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.raft = self.add_component(Raft())
        >>> sim = Simulation(seed=1)
        >>> for name in ("a", "b", "c"):
        ...     sim.add_node(name, Server)
        >>> sim.run(until=1.0)
        >>> [n for n in ("a", "b", "c") if sim.node(n).raft.is_leader]
        ['c']
        >>> sim.node("c").raft.start({"set": "x"})  # index 1 holds c's no-op
        (2, 1)
    """

    messages: ClassVar[tuple[type, ...]] = (
        RequestVote, RequestVoteReply, AppendEntries, AppendEntriesReply,
        InstallSnapshot, InstallSnapshotReply, TimeoutNow)
    default_name = "raft"

    def __init__(self, state_machine: StateMachine | None = None, *,
                 on_apply: ApplyCallback | None = None,
                 after_applies: Callable[[], None] | None = None,
                 members: Iterable[str] | None = None,
                 election_timeout: tuple[float, float] = (0.15, 0.3),
                 heartbeat: float = 0.05, pre_vote: bool = True, check_quorum: bool = True,
                 max_entries: int = 64, snapshot_chunk: int = 4096) -> None:
        low, high = election_timeout
        if not 0 < low <= high:
            raise ConfigError(f"election_timeout must be (low, high) with 0 < low <= high, "
                              f"got {election_timeout!r}")
        if not 0 < heartbeat < low:
            raise ConfigError(f"heartbeat ({heartbeat}) must be > 0 and below the low "
                              f"election timeout ({low}), or followers time out needlessly")
        if max_entries < 1:
            raise ConfigError(f"max_entries must be >= 1, got {max_entries}")
        if snapshot_chunk < 1:
            raise ConfigError(f"snapshot_chunk must be >= 1, got {snapshot_chunk}")
        self.state_machine = state_machine
        self._others: tuple[str, ...] = ()
        self._others_of: Configuration | None = None  # the configuration _others is of
        self.on_apply = on_apply
        self.after_applies = after_applies
        self._members = tuple(sorted(members)) if members is not None else None
        self.election_timeout = (low, high)
        self.heartbeat = heartbeat
        self.pre_vote = pre_vote
        self.check_quorum = check_quorum
        self.max_entries = max_entries
        self.snapshot_chunk = snapshot_chunk

    # ----- state (Figure 2, "State") ----------------------------------------------------

    def on_start(self) -> None:
        """Start, or restart after a crash: reload the persistent state (Figure 2:
        "updated on stable storage before responding to RPCs"); the rest starts fresh.
        Stored state that does not hold together stops the server
        (:class:`~dsys.errors.StorageError`): starting with less than it promised would
        break Raft's safety."""
        # Persistent state on all servers.
        # One key for the two, so that a crash can never keep one write without the other.
        saved = self.load("state", {"current_term": 0, "voted_for": None}, dict)
        self.current_term: int = self.field(saved, "state", "current_term", int)
        self.voted_for: str | None = self.field(saved, "state", "voted_for", (str, type(None)))
        self.initial = Configuration(tuple(sorted(self.load("members", None, list)
                                                  or self.first_members())))
        # The snapshot (§7): everything through snapshot_index, as the service's data.
        snap = self.load("snapshot", None, dict)
        self.snapshot_index = self.field(snap, "snapshot", "index", int) if snap else 0
        self.snapshot_term = self.field(snap, "snapshot", "term", int) if snap else 0
        self.snapshot_data: Any = snap.get("data") if snap else None
        self.snapshot_config = (Configuration.of(self.field(snap, "snapshot", "config", dict))
                                if snap else self.initial)
        # Figure 2's log[] (``log`` is every component's logging method): entries after
        # the snapshot, entries[i - snapshot_index - 1] being the entry at index i.
        self.unwritten: int | None = None  # the first log index storage may not hold yet
        # Index -> JSON text of the stored form of entries appended since the last
        # write_log (made once, by append, for the log's size; written as is).
        self.texts: dict[int, str] = {}
        self.entries: list[Entry] = self.load_log()
        self.log_size = sum(len(codec.json_text(stored(e))) for e in self.entries)
        self.config, self.config_index = self.latest_config()
        # Volatile state on all servers.
        self.commit_index = self.snapshot_index
        self.last_applied = self.snapshot_index
        self.role: Role = FOLLOWER
        self.leader: str | None = None  # the leader this server knows of, for clients
        self.votes: set[str] = set()  # who voted for us in this election
        self.pre_votes: set[str] | None = None  # during a pre-vote: who said yes
        self.leader_seen = -float("inf")  # when we last heard from a current leader
        self.receiving: tuple[int, int, list[str], int] | None = None  # snapshot chunks
        # Volatile state on leaders (reinitialized after election).
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.heard: set[str] = set()  # peers that answered since the last quorum check
        self.snapshot_offset: dict[str, int] = {}  # per follower: the chunk it wants next
        self.inflight: set[str] = set()  # followers with an AppendEntries unanswered
        self.sent_to: dict[str, int] = {}  # per follower: the last index we sent it
        self.ticks = 0  # heartbeat rounds of this leadership
        self.sent_tick: dict[str, int] = {}  # per follower: the round of the last request
        self.promoting: set[str] = set()  # learners to make voters once caught up
        self.transfer_to: str | None = None  # leadership transfer in progress (§3.10)
        self.read_seq = 0  # the latest heartbeat round for reads (§6.4)
        self.acked_seq: dict[str, int] = {}
        self.reads: list[PendingRead] = []
        self.snapshot_text: str | None = None  # the snapshot's JSON text, once needed
        if snap:
            self.restore_state_machine()
        self.reset_election_timer()
        self.persist()

    def first_members(self) -> list[str]:
        """The voters of a group being created: ``members`` or this node and its peers,
        stored at the first start so a restart (with more peers) keeps them."""
        first = list(self._members) if self._members is not None else sorted(
            (self.id, *self.peers))
        self.storage[self._key("members")] = first
        return first

    @property
    def members(self) -> tuple[str, ...]:
        """The voters of the group, sorted (this one included, unless it was removed or
        has not joined yet)."""
        return self.config.voters

    @property
    def learners(self) -> tuple[str, ...]:
        """The non-voting members, catching up or kept as read replicas."""
        return self.config.learners

    @property
    def others(self) -> tuple[str, ...]:
        """The other servers of the group (voters and learners), sorted."""
        config = self.config
        if self._others_of is not config:  # computed once per configuration
            me = self.id
            self._others = tuple(m for m in config.servers if m != me)
            self._others_of = config
        return self._others

    @property
    def term(self) -> int:
        """The current term."""
        return self.current_term

    @property
    def is_leader(self) -> bool:
        """True while this server is the leader (of :attr:`term`)."""
        return self.role == LEADER

    @property
    def last_log_index(self) -> int:
        """The index of the last entry of the log (0 when it is empty; the snapshot's
        index when the snapshot replaced every entry)."""
        return self.snapshot_index + len(self.entries)

    def term_at(self, index: int) -> int:
        """The term of the entry at ``index`` (0 for index 0, before the first entry;
        the snapshot's term at its index). Indexes inside the snapshot are gone."""
        if index <= self.snapshot_index:
            if index == self.snapshot_index:
                return self.snapshot_term
            raise IndexError(f"index {index} is inside the snapshot (through "
                             f"{self.snapshot_index})")
        return self.entries[index - self.snapshot_index - 1].term

    def entry_at(self, index: int) -> Entry | None:
        """The entry at ``index``, or None if the snapshot replaced it."""
        if index <= self.snapshot_index:
            return None
        return self.entries[index - self.snapshot_index - 1]

    def log_bytes(self) -> int:
        """The size of the log kept after the snapshot, in characters of stored JSON:
        what a service compares with its ``max_raft_state`` to decide to snapshot."""
        return self.log_size

    # ----- the client interface ---------------------------------------------------------

    def start(self, command: Any, *, replicate: bool = True) -> tuple[int, int] | None:
        """Propose ``command``: returns ``(index, term)`` where it will be committed if
        this leader stays in power, or None if this server is not the leader (or is
        handing its leadership over).

        The command must cross the wire (a JSON value); anything else raises
        :class:`~dsys.errors.UsageError` here, not in the leader's handlers later. It is
        stored as it will arrive elsewhere (a tuple becomes a list), so every server
        applies the same value.

        ``replicate=False``: only append it; :meth:`replicate` (after a batch of starts)
        sends the batch in one AppendEntries per follower, where each start would send
        the first command alone to the followers with nothing in flight (a heartbeat or
        a follower's answer sends it anyway, later).
        """
        text = self.json_text_of(command, "Raft.start: the command")
        if self.role != LEADER or self.transfer_to is not None:
            return None
        # Rules for Servers, Leaders: "append entry to local log, respond after entry
        # applied to state machine". Synced before anyone counts it (see send). Stored
        # as the text just made (what json.loads makes of it, encoded, is that text).
        term = self.current_term
        self.leader_append(Entry(term, json.loads(text)), text=f"[{term},{text}]",
                           replicate=replicate)
        self.note("start", index=self.last_log_index, term=self.current_term)
        return self.last_log_index, self.current_term

    def read(self, callback: ReadCallback) -> None:
        """Ask for a linearizable read (ReadIndex, thesis §6.4): ``callback(True)`` once
        the state machine holds every command committed before this call, so the
        service may answer from its state; ``callback(False)`` if this server is not, or
        stops being, the leader (the client should ask another server).

        No log entry is written: the leader confirms with one round of heartbeats that
        a majority still follows it (so no newer leader can have committed anything).
        """
        if self.role != LEADER:
            callback(False)
            return
        self.read_seq += 1
        index = self.commit_index if self.committed_in_term() else None
        self.reads.append(PendingRead(self.read_seq, index, callback))
        for peer in self.others:
            self.heartbeat_to(peer)
        self.serve_reads()

    def snapshot(self, index: int, data: Any) -> None:
        """The service's snapshot (§7): its state after applying every command through
        log ``index`` is ``data`` (a JSON value). Raft keeps it in storage, discards the
        log through ``index``, and sends it to followers that need entries it no longer
        has. An index at or before the current snapshot's is ignored; one beyond the
        last applied entry is a :class:`~dsys.errors.UsageError`. May be called from
        inside ``StateMachine.apply``.
        """
        self.json_text_of(data, "Raft.snapshot: the data")
        if index <= self.snapshot_index:
            return
        if index > self.last_applied:
            raise UsageError(f"Raft.snapshot: index {index} has not been applied yet (last "
                             f"applied: {self.last_applied}); snapshot only what the state "
                             "machine holds")
        config = self.snapshot_config
        for i in range(index, self.snapshot_index, -1):
            entry = self.entry_at(i)
            if entry is not None and entry.config:
                config = Configuration.of(entry.command)
                break
        keep = self.entries[index - self.snapshot_index:]
        self.replace_prefix(index, self.term_at(index), data, config, keep)
        self.note("snapshot", index=index, term=self.snapshot_term)

    def add_server(self, server: str, *, voter: bool = True) -> bool:
        """Add ``server`` to the group (thesis §4.1): as a learner first, made a voter
        once it has caught up with the leader's log (unless ``voter`` is False). Returns
        False if this server is not the leader, or a change is still in progress (one
        change at a time), or no entry of this leader's term is committed yet: retry.
        The new server must run a Raft with ``members=()``."""
        if not self.may_change_config():
            return False
        if server in self.config.voters or (server in self.config.learners and not voter):
            return True
        if voter:
            self.promoting.add(server)
        if server not in self.config.learners:
            self.change_config(Configuration(self.config.voters,
                                             (*self.config.learners, server)))
        self.maybe_promote(server)
        return True

    def remove_server(self, server: str) -> bool:
        """Remove ``server`` from the group (thesis §4.1); a leader that removes itself
        keeps leading until the change commits, then steps down (§4.2.2). Returns False
        when a change may not be made now (see :meth:`add_server`)."""
        if not self.may_change_config():
            return False
        self.promoting.discard(server)
        if server not in self.config.servers:
            return True
        self.change_config(Configuration(
            tuple(v for v in self.config.voters if v != server),
            tuple(v for v in self.config.learners if v != server)))
        return True

    def transfer_leadership(self, to: str | None = None) -> bool:
        """Hand leadership to ``to`` (default: the most up-to-date voter), thesis §3.10:
        stop accepting commands, bring its log up to date, then tell it to start an
        election at once (:class:`TimeoutNow`). Abandoned if it has not happened within
        an election timeout. Returns False if this server is not the leader or ``to``
        is not another voter."""
        if self.role != LEADER:
            return False
        voters = [v for v in self.config.voters if v != self.id]
        if to is None and voters:
            to = max(voters, key=lambda v: (self.match_index.get(v, 0), v))
        if to not in voters:
            return False
        self.transfer_to = to
        self.set_timer("transfer", self.election_timeout[1])
        self.note("transfer", to=to, term=self.current_term)
        self.maybe_transfer()
        return True

    # ----- Rules for Servers: timers ----------------------------------------------------

    def on_timer(self, name: str) -> None:
        self.handle_timer(name)
        self.persist()

    def handle_timer(self, name: str) -> None:
        """Route one timer to its rule."""
        if name == "election":
            self.on_election_timeout()
        elif name == "heartbeat" and self.role == LEADER:
            for peer in self.others:
                self.heartbeat_to(peer)
            self.ticks += 1
            self.set_timer("heartbeat", self.heartbeat)
        elif name == "quorum" and self.role == LEADER:
            self.on_quorum_check()
        elif name == "transfer" and self.transfer_to is not None:
            self.note("transfer abandoned", to=self.transfer_to, term=self.current_term)
            self.transfer_to = None

    def on_election_timeout(self) -> None:
        """Followers (§5.2): "if election timeout elapses without receiving
        AppendEntries from current leader or granting vote to candidate: convert to
        candidate". Candidates: "if election timeout elapses: start new election".
        Learners and servers outside the group never campaign."""
        if self.role == LEADER:
            return
        self.reset_election_timer()
        if self.id not in self.config.voters:
            return
        if self.pre_vote:
            self.start_pre_vote()
        else:
            self.start_election()

    def start_pre_vote(self) -> None:
        """Thesis §9.6: ask whether we could win an election in the next term, without
        changing any term; only a majority of yes starts the real election."""
        self.pre_votes = {self.id}
        if self.has_majority(self.pre_votes):
            self.start_election()
            return
        request = RequestVote(self.current_term + 1, self.id, self.last_log_index,
                              self.term_at(self.last_log_index), pre_vote=True)
        for peer in self.config.voters:
            if peer != self.id:
                self.send(peer, request)

    def start_election(self, *, transfer: bool = False) -> None:
        """Candidates (§5.2), on conversion to candidate: increment currentTerm, vote for
        self, reset election timer, send RequestVote RPCs to all other servers."""
        self.pre_votes = None
        self.set_term(self.current_term + 1, voted_for=self.id)
        self.become(CANDIDATE)
        self.leader = None
        self.votes = {self.id}
        self.reset_election_timer()
        if self.has_majority(self.votes):
            self.become_leader()
            return
        request = RequestVote(self.current_term, self.id, self.last_log_index,
                              self.term_at(self.last_log_index), transfer=transfer)
        for peer in self.config.voters:
            if peer != self.id:
                self.send(peer, request)  # sends sync the term and our own vote first

    # ----- the RPCs ---------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        # Messages from servers outside our configuration are handled too (thesis §4.1):
        # a server being added learns of the group from the leader's AppendEntries.
        self.handle(src, msg)
        self.persist()  # a handler that changed state and sent nothing still ends durable

    def handle(self, src: str, msg: Any) -> None:
        """Route one RPC or reply to its handler."""
        match msg:
            case RequestVote(pre_vote=True):
                self.on_pre_vote(src, msg)
            case RequestVote():
                self.on_request_vote(src, msg)
            case RequestVoteReply():
                self.on_request_vote_reply(src, msg)
            case AppendEntries():
                self.on_append_entries(src, msg)
            case AppendEntriesReply():
                self.on_append_entries_reply(src, msg)
            case InstallSnapshot():
                self.on_install_snapshot(src, msg)
            case InstallSnapshotReply():
                self.on_install_snapshot_reply(src, msg)
            case TimeoutNow():
                self.on_timeout_now(src, msg)

    def on_pre_vote(self, src: str, msg: RequestVote) -> None:
        """PreVote (thesis §9.6): yes if the term is newer, the candidate's log is at
        least as up-to-date as ours, and we have not heard from a leader lately. Nothing
        of ours changes."""
        granted = (msg.term > self.current_term and not self.in_lease()
                   and self.candidate_up_to_date(msg))
        self.send(src, RequestVoteReply(msg.term if granted else self.current_term, granted,
                                        pre_vote=True))

    def on_request_vote(self, src: str, msg: RequestVote) -> None:
        """RequestVote RPC, receiver implementation (Figure 2, §5.2, §5.4.1)."""
        if (msg.term > self.current_term and self.check_quorum and self.in_lease()
                and not msg.transfer):
            return  # thesis §4.2.3: a current leader exists; do not let this one disrupt it
        if msg.term > self.current_term:
            self.step_down(msg.term)  # Rules for All Servers
        # 1. Reply false if term < currentTerm (§5.1).
        # 2. If votedFor is null or candidateId, and candidate's log is at least as
        #    up-to-date as receiver's log, grant vote (§5.2, §5.4).
        granted = (msg.term == self.current_term
                   and self.voted_for in (None, msg.candidate)
                   and self.candidate_up_to_date(msg))
        if granted:
            self.set_term(self.current_term, voted_for=msg.candidate)
            self.reset_election_timer()  # Followers: "granting vote to candidate"
            self.note("vote", term=self.current_term, candidate=msg.candidate)
        self.send(src, RequestVoteReply(self.current_term, granted))  # synced first

    def on_request_vote_reply(self, src: str, msg: RequestVoteReply) -> None:
        """Candidates (§5.2): "if votes received from majority of servers: become
        leader"; the pre-vote's majority starts the election instead."""
        if msg.term > self.current_term and not msg.granted:
            self.step_down(msg.term)
            return
        if msg.pre_vote:
            if (self.pre_votes is not None and msg.granted
                    and msg.term == self.current_term + 1 and self.role != LEADER):
                self.pre_votes.add(src)
                if self.has_majority(self.pre_votes):
                    self.start_election()
            return
        if self.role == CANDIDATE and msg.term == self.current_term and msg.granted:
            self.votes.add(src)
            if self.has_majority(self.votes):
                self.become_leader()

    def follow(self, leader: str, term: int) -> None:
        """What AppendEntries and InstallSnapshot of a current leader both do: adopt its
        term (Rules for All Servers), become its follower (Candidates: "AppendEntries
        from new leader"), and reset the election timer."""
        if term > self.current_term:
            self.step_down(term)
        elif self.role != FOLLOWER:
            self.become(FOLLOWER)
        self.pre_votes = None
        self.leader = leader
        self.leader_seen = self.now
        self.reset_election_timer()

    def on_append_entries(self, src: str, msg: AppendEntries) -> None:
        """AppendEntries RPC, receiver implementation (Figure 2, §5.3), with the
        accelerated backtracking of the extended paper's end of §5.3."""
        # 1. Reply false if term < currentTerm (§5.1).
        if msg.term < self.current_term:
            self.send(src, AppendEntriesReply(self.current_term, False, seq=msg.seq))
            return
        self.follow(msg.leader, msg.term)
        prev, prev_term, entries = msg.prev_log_index, msg.prev_log_term, msg.entries
        if prev < self.snapshot_index:
            # The entries through our snapshot are committed: the leader holds the same
            # ones (§5.4.3). Keep only what follows the snapshot.
            skip = min(self.snapshot_index - prev, len(entries))
            prev, prev_term, entries = self.snapshot_index, self.snapshot_term, entries[skip:]
        # 2. Reply false if log doesn't contain an entry at prevLogIndex whose term
        #    matches prevLogTerm (§5.3); say where our log's term at that index starts.
        if prev > self.last_log_index:
            self.send(src, AppendEntriesReply(self.current_term, False, seq=msg.seq,
                                              conflict_index=self.last_log_index + 1))
            return
        if self.term_at(prev) != prev_term:
            conflict_term = self.term_at(prev)
            first = prev
            while first > self.snapshot_index + 1 and self.term_at(first - 1) == conflict_term:
                first -= 1
            self.send(src, AppendEntriesReply(self.current_term, False, seq=msg.seq,
                                              conflict_index=first,
                                              conflict_term=conflict_term))
            return
        # 3. If an existing entry conflicts with a new one (same index but different
        #    terms), delete the existing entry and all that follow it (§5.3).
        # 4. Append any new entries not already in the log. (An entry we have already is
        #    kept: truncating on a late, shorter AppendEntries could drop entries we have
        #    acknowledged.)
        index = prev
        for entry in entries:
            index += 1
            if index <= self.last_log_index and self.term_at(index) == entry.term:
                continue
            if index <= self.last_log_index:
                self.truncate(index - 1)
            self.append(entry)
        match_index = prev + len(entries)
        # The answer (after the entries are synced: see send) leaves before the commits
        # are applied: applying is this server's own work, the leader need not wait.
        self.send(src, AppendEntriesReply(self.current_term, True, seq=msg.seq,
                                          match_index=match_index))
        # 5. If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of
        #    last new entry).
        if msg.leader_commit > self.commit_index:
            self.commit(min(msg.leader_commit, match_index))

    def on_append_entries_reply(self, src: str, msg: AppendEntriesReply) -> None:
        """Leaders (§5.3): "if successful: update nextIndex and matchIndex for follower;
        if AppendEntries fails because of log inconsistency: decrement nextIndex and
        retry" (by a whole term at a time)."""
        if msg.term > self.current_term:
            self.step_down(msg.term)
            return
        if self.role != LEADER or msg.term < self.current_term or src not in self.next_index:
            return  # a reply to an earlier term's request, or from a removed server
        self.heard.add(src)
        if not msg.success or msg.match_index >= self.sent_to.get(src, 0):
            # The answer to the request in flight (a success that falls short of it
            # answers an earlier request or a heartbeat: ours may still arrive).
            self.inflight.discard(src)
        # A success or a log mismatch (not a stale term): src follows us (§6.4).
        if (msg.success or msg.conflict_index) and msg.seq > self.acked_seq.get(src, 0):
            self.acked_seq[src] = msg.seq
            self.serve_reads()
        if msg.success:
            # max(): a late or duplicated reply never moves matchIndex back.
            if msg.match_index > self.match_index[src]:
                self.match_index[src] = msg.match_index
                self.advance_commit_index()
            self.next_index[src] = max(self.next_index[src], self.match_index[src] + 1)
            self.maybe_promote(src)
            self.maybe_transfer()
            if self.role == LEADER and src not in self.inflight \
                    and self.next_index[src] <= self.last_log_index \
                    and self.sent_to.get(src, 0) < self.last_log_index:
                self.send_append_entries(src)  # entries it lacks and we have not sent
            return
        if msg.conflict_term and self.last_index_of(msg.conflict_term):
            next_index = self.last_index_of(msg.conflict_term) + 1
        else:
            next_index = msg.conflict_index
        # Never below what the follower has acknowledged, never past our log's end.
        self.next_index[src] = min(max(next_index, self.match_index[src] + 1, 1),
                                   self.last_log_index + 1)
        self.send_append_entries(src)

    def on_timeout_now(self, src: str, msg: TimeoutNow) -> None:
        """Leadership transfer (thesis §3.10), at the target: the leader of our term asks
        us to start an election now; its voters will not hold their lease against us."""
        if msg.term == self.current_term and self.id in self.config.voters \
                and self.role == FOLLOWER:
            self.note("timeout now", term=self.current_term, leader=src)
            self.start_election(transfer=True)

    # ----- the leader's side ------------------------------------------------------------

    def become_leader(self) -> None:
        """Leaders, upon election: send initial empty AppendEntries (heartbeat) to each
        server; nextIndex = last log index + 1, matchIndex = 0. And (§8, thesis §6.4)
        append a no-op entry of the new term, which those first AppendEntries carry: once
        a majority holds it, it commits, and every earlier entry with it."""
        self.become(LEADER)
        self.leader = self.id
        self.pre_votes = None
        self.next_index, self.match_index = {}, {self.id: self.last_log_index}
        self.track_followers()
        self.heard = set()
        self.snapshot_offset = {}
        self.inflight, self.sent_to = set(), {}
        self.ticks, self.sent_tick = 0, {}
        self.acked_seq = {}
        self.transfer_to = None
        self.cancel_timer("election")
        self.note("elected", term=self.current_term,
                  terms=[entry.term for entry in self.entries],
                  first=self.snapshot_index + 1)
        self.set_timer("heartbeat", self.heartbeat)
        if self.check_quorum:
            self.set_timer("quorum", self.election_timeout[1])
        self.leader_append(Entry.no_op(self.current_term))

    def track_followers(self) -> None:
        """nextIndex and matchIndex for every other server of the configuration (new
        ones start at the end of our log; removed ones are forgotten)."""
        for peer in self.others:
            self.next_index.setdefault(peer, self.last_log_index + 1)
            self.match_index.setdefault(peer, 0)
        for gone in sorted(set(self.next_index) - set(self.others)):
            del self.next_index[gone]
            self.match_index.pop(gone, None)
            self.snapshot_offset.pop(gone, None)
            self.inflight.discard(gone)
            self.sent_to.pop(gone, None)
            self.sent_tick.pop(gone, None)

    def leader_append(self, entry: Entry, text: str | None = None, *,
                      replicate: bool = True) -> None:
        """Append a new entry at the leader and send it to every follower that has no
        AppendEntries in flight (the others get it, with every entry appended meanwhile,
        when they answer).

        The leader writes its log in parallel with replicating it (thesis §10.2.1): the
        entry is synced right after the first message that carries it leaves, while it
        travels (:meth:`send`), and the leader counts itself in matchIndex only for what
        it has synced
        (:meth:`persist`). So a burst of commands that arrives while every follower is
        busy costs one sync, not one each. A leader that alone is a majority syncs at
        once and commits. ``text``: the stored form's JSON text, if made already;
        ``replicate=False``: not sent yet (see :meth:`start`)."""
        self.append(entry, text)
        if entry.config:
            self.track_followers()
        if replicate or entry.config:
            self.send_new_entries(config_changed=entry.config)

    def replicate(self) -> None:
        """Leaders: send the entries appended by ``start(..., replicate=False)`` to the
        followers with no AppendEntries in flight (the others get them when they
        answer). Does nothing on other servers."""
        if self.role == LEADER:
            self.send_new_entries()

    def send_new_entries(self, *, config_changed: bool = False) -> None:
        """The leader's new entries go to every follower that lacks some and has no
        AppendEntries in flight; a leader that alone is a majority syncs and commits
        them."""
        me = self.id
        synced = self.match_index.get(me)
        inflight, last = self.inflight, self.last_log_index
        for peer in self.others:
            # The others get them when they answer; one that has them all needs nothing.
            if peer not in inflight and self.next_index[peer] <= last:
                self.send_append_entries(peer)
        if self.has_majority((me,)):
            self.persist()
        # Only what the leader synced here, or a new configuration, can commit more (a
        # follower never holds an entry the leader has not synced: see send).
        if config_changed or self.match_index.get(me) != synced:
            self.advance_commit_index()

    def send_append_entries(self, peer: str) -> None:
        """"If last log index >= nextIndex for a follower: send AppendEntries RPC with log
        entries starting at nextIndex" (at most ``max_entries``); else a heartbeat. A
        follower that needs entries the snapshot replaced gets the snapshot (§7).

        A new command is sent at once only to followers with no AppendEntries in flight;
        the others get it, with everything else they lack, in one message when they
        answer; an answer leads to another message only if it asks for entries we have
        not sent yet (or the follower's log did not match). The heartbeat sends
        everything from nextIndex again, so a loss delays entries by one heartbeat at
        most: a burst of commands costs a round trip or two per follower, not one each."""
        if self.next_index[peer] <= self.snapshot_index:
            self.send_snapshot(peer)
            return
        prev = self.next_index[peer] - 1
        start = prev - self.snapshot_index
        entries = tuple(self.entries[start:start + self.max_entries])
        self.send(peer, AppendEntries(self.current_term, self.id, prev, self.term_at(prev),
                                      entries, self.commit_index, seq=self.read_seq))
        self.inflight.add(peer)
        self.sent_to[peer] = prev + len(entries)
        self.sent_tick[peer] = self.ticks

    def heartbeat_to(self, peer: str) -> None:
        """A heartbeat round's AppendEntries to ``peer`` (§5.2): everything it lacks,
        from nextIndex, unless a request sent since the last round is still in flight;
        then an empty AppendEntries (it keeps ``peer`` following us and carries the
        commit index and the read round) that leaves the entries in flight alone. A
        request older than one round is sent again: a loss costs a heartbeat or two."""
        if peer in self.inflight and self.sent_tick.get(peer) == self.ticks:
            if self.next_index[peer] > self.snapshot_index:  # not during a snapshot
                prev = self.next_index[peer] - 1
                self.send(peer, AppendEntries(self.current_term, self.id, prev,
                                              self.term_at(prev), (), self.commit_index,
                                              seq=self.read_seq))
            return
        self.send_append_entries(peer)

    def advance_commit_index(self) -> None:
        """Leaders (§5.3, §5.4.2): "if there exists an N such that N > commitIndex, a
        majority of matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex =
        N". Only entries of the current term are committed by counting (Figure 8)."""
        # The largest N that a majority holds: the median of the voters' matchIndex.
        matches = sorted((self.match_index.get(v, 0) for v in self.config.voters),
                         reverse=True)
        if not matches:
            return
        n = matches[len(matches) // 2]
        # Older terms' entries commit only under one of ours; terms only grow along the
        # log, so if log[N] is of an older term, so is every entry before it.
        if n > self.commit_index and self.term_at(n) == self.current_term:
            self.commit(n)

    def on_quorum_check(self) -> None:
        """Check-quorum (thesis §6.2): a leader that has not heard from a majority within
        an election timeout steps down, so a leader cut off from the others stops
        claiming leadership (and a one-way partition cannot keep a dead leader alive)."""
        if not self.has_majority({self.id} | self.heard):
            self.note("step down", term=self.current_term, reason="lost quorum")
            self.resign()
            return
        self.heard = set()
        self.set_timer("quorum", self.election_timeout[1])

    def resign(self) -> None:
        """Stop leading without a new term (lost quorum, or removed from the group)."""
        self.become(FOLLOWER)
        self.leader = None
        self.leader_seen = -float("inf")
        self.end_leadership()
        self.reset_election_timer()

    def end_leadership(self) -> None:
        """Volatile leader state that must not outlive the leadership: timers, a transfer,
        pending reads (they fail: the client asks the next leader)."""
        self.cancel_timer("heartbeat")
        self.cancel_timer("quorum")
        self.cancel_timer("transfer")
        self.transfer_to = None
        self.promoting = set()
        reads, self.reads = self.reads, []
        for read in reads:
            read.callback(False)

    # ----- membership, transfer and reads, the leader's side ------------------------------

    def committed_in_term(self) -> bool:
        """True once an entry of this leader's term is committed (its no-op, first)."""
        return self.term_at(self.commit_index) == self.current_term  # the snapshot's too

    def may_change_config(self) -> bool:
        """A leader changes the configuration only once an entry of its term is
        committed and the previous change is committed (thesis §4.1)."""
        return (self.role == LEADER and self.transfer_to is None
                and self.committed_in_term() and self.config_index <= self.commit_index)

    def change_config(self, config: Configuration) -> None:
        """Append a configuration entry: it takes effect at once, here and on each
        follower as it receives it (thesis §4.1)."""
        self.note("config", voters=list(config.voters), learners=list(config.learners),
                  index=self.last_log_index + 1, term=self.current_term)
        self.leader_append(Entry.configuration(self.current_term, config.voters,
                                               config.learners))

    def maybe_promote(self, server: str) -> None:
        """Make a caught-up learner a voter (thesis §4.2.1): once it holds everything
        committed, and no other change is in progress."""
        if (server in self.promoting and server in self.config.learners
                and self.match_index.get(server, 0) >= self.commit_index
                and self.may_change_config()):
            self.promoting.discard(server)
            self.change_config(Configuration(
                (*self.config.voters, server),
                tuple(v for v in self.config.learners if v != server)))

    def maybe_transfer(self) -> None:
        """Leadership transfer: once the target's log matches ours, TimeoutNow."""
        target = self.transfer_to
        if target is not None and self.match_index.get(target, 0) == self.last_log_index:
            self.send(target, TimeoutNow(self.current_term))

    def serve_reads(self) -> None:
        """Let go the reads whose round a majority confirmed and whose index is applied."""
        for read in self.reads:
            if read.index is None and self.committed_in_term():
                read.index = self.commit_index
            if not read.confirmed:
                read.confirmed = self.has_majority(
                    [self.id, *(p for p, s in self.acked_seq.items() if s >= read.seq)])
        while self.reads and self.reads[0].confirmed and self.reads[0].index is not None \
                and self.reads[0].index <= self.last_applied:
            self.reads.pop(0).callback(True)

    # ----- Rules for All Servers ----------------------------------------------------------

    def step_down(self, term: int) -> None:
        """"If RPC request or response contains term T > currentTerm: set currentTerm =
        T, convert to follower" (§5.1)."""
        was = self.role
        self.set_term(term, voted_for=None)
        self.pre_votes = None
        self.leader = None
        if was != FOLLOWER:
            self.become(FOLLOWER)
        if was == LEADER:
            self.end_leadership()
            self.reset_election_timer()

    def commit(self, index: int) -> None:
        """Raise commitIndex to ``index``, then "if commitIndex > lastApplied: increment
        lastApplied, apply log[lastApplied] to state machine" (§5.3), in order."""
        if index <= self.commit_index:
            return
        self.commit_index = index
        # ``in_term``: the entry is known committed in this term (at the latest).
        self.note("commit", index=index, term=self.term_at(index), in_term=self.current_term)
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            entry = self.entry_at(self.last_applied)
            assert entry is not None  # the snapshot covers only applied entries
            if entry.internal:  # a no-op or a configuration: nothing for the state machine
                self.note("apply", index=self.last_applied, term=entry.term, command=None,
                          noop=True)
                continue
            result = None
            if self.state_machine is not None:
                result = self.state_machine.apply(self.last_applied, entry.command)
            self.note("apply", index=self.last_applied, term=entry.term,
                      command=entry.command)
            if self.on_apply is not None:
                self.on_apply(self.last_applied, entry.command, result)
        if self.after_applies is not None:
            self.after_applies()
        if self.role == LEADER:
            if self.id not in self.config.voters and self.config_index <= self.commit_index:
                self.note("step down", term=self.current_term, reason="removed")
                self.resign()  # thesis §4.2.2: the change that removed us is committed
                return
            for server in sorted(self.promoting):
                self.maybe_promote(server)
            self.serve_reads()

    # ----- InstallSnapshot (Figure 13, §7) ---------------------------------------------------

    def send_snapshot(self, peer: str) -> None:
        """Leaders: send the chunk of our snapshot that ``peer`` wants next (it is sent
        again with every heartbeat until answered: a lost chunk only delays)."""
        if self.snapshot_text is None:
            self.snapshot_text = codec.json_text(self.snapshot_data)
        text = self.snapshot_text
        offset = min(self.snapshot_offset.get(peer, 0), len(text))
        chunk = text[offset:offset + self.snapshot_chunk]
        self.send(peer, InstallSnapshot(
            self.current_term, self.id, self.snapshot_index, self.snapshot_term, offset,
            chunk, offset + len(chunk) >= len(text), self.snapshot_config.voters,
            self.snapshot_config.learners))
        self.inflight.add(peer)  # one request in flight per follower, chunks too
        self.sent_tick[peer] = self.ticks

    def on_install_snapshot(self, src: str, msg: InstallSnapshot) -> None:
        """InstallSnapshot RPC, receiver implementation (Figure 13)."""
        # 1. Reply immediately if term < currentTerm.
        if msg.term < self.current_term:
            self.send(src, InstallSnapshotReply(self.current_term, msg.last_included_index))
            return
        self.follow(msg.leader, msg.term)
        reply = InstallSnapshotReply(self.current_term, msg.last_included_index, done=True)
        if msg.last_included_index <= self.commit_index:
            self.receiving = None
            self.send(src, reply)  # our committed log already covers it
            return
        # 2. Create new snapshot file if first chunk (offset is 0).
        # 3. Write data into snapshot file at given offset. (Chunks are kept in memory:
        #    a crash loses a partial snapshot, and the leader sends it again.)
        key = (msg.last_included_index, msg.last_included_term)
        if msg.offset == 0:
            self.receiving = (*key, [], 0)
        if self.receiving is None or self.receiving[:2] != key \
                or msg.offset != self.receiving[3]:
            have = self.receiving[3] if self.receiving and self.receiving[:2] == key else 0
            self.send(src, InstallSnapshotReply(self.current_term, msg.last_included_index,
                                                next_offset=have))
            return
        index, term, chunks, size = self.receiving
        chunks.append(msg.data)
        self.receiving = (index, term, chunks, size + len(msg.data))
        # 4. Reply and wait for more data chunks if done is false.
        if not msg.done:
            self.send(src, InstallSnapshotReply(self.current_term, index,
                                                next_offset=size + len(msg.data)))
            return
        self.receiving = None
        try:
            data = json.loads("".join(chunks))
        except ValueError:
            self.log(f"the snapshot of index {index} from {src} is not JSON; asking again")
            self.send(src, InstallSnapshotReply(self.current_term, index))
            return
        # 5. Save snapshot file, discard any existing or partial snapshot with a smaller
        #    index.
        # 6. If existing log entry has same index and term as snapshot's last included
        #    entry, retain log entries following it and reply.
        # 7. Discard the entire log.
        keep: list[Entry] = []
        if index <= self.last_log_index and self.term_at(index) == term:
            keep = self.entries[index - self.snapshot_index:]
        self.replace_prefix(index, term, data, Configuration(msg.voters, msg.learners), keep)
        # 8. Reset state machine using snapshot contents.
        self.commit_index = max(self.commit_index, index)
        self.last_applied = index
        self.restore_state_machine()
        self.send(src, reply)

    def on_install_snapshot_reply(self, src: str, msg: InstallSnapshotReply) -> None:
        """Leaders: a follower installed the snapshot (on to AppendEntries after it), or
        wants the chunk at ``next_offset``."""
        if msg.term > self.current_term:
            self.step_down(msg.term)
            return
        if self.role != LEADER or msg.term < self.current_term or src not in self.next_index:
            return
        self.heard.add(src)
        self.inflight.discard(src)
        if msg.done:
            self.snapshot_offset.pop(src, None)
            if msg.last_included_index > self.match_index[src]:
                self.match_index[src] = msg.last_included_index
                self.advance_commit_index()
            self.next_index[src] = max(self.next_index[src], self.match_index[src] + 1)
            self.maybe_promote(src)
            if self.next_index[src] <= self.last_log_index:
                self.send_append_entries(src)
            return
        if msg.last_included_index != self.snapshot_index:
            return  # about an older snapshot of ours: the heartbeat sends the new one
        if msg.next_offset != self.snapshot_offset.get(src, 0):
            self.snapshot_offset[src] = msg.next_offset
            self.send_snapshot(src)

    def restore_state_machine(self) -> None:
        """Hand the snapshot to the state machine (restart, or Figure 13 step 8)."""
        self.note("restore", index=self.snapshot_index, term=self.snapshot_term)
        restore = getattr(self.state_machine, "restore", None)
        if restore is not None:
            restore(self.snapshot_index, self.snapshot_data)

    # ----- helpers ----------------------------------------------------------------------------

    def become(self, role: Role) -> None:
        """Change role, by one of the :data:`TRANSITIONS`."""
        if (self.role, role) not in TRANSITIONS:
            raise AssertionError(f"Raft: no transition from {self.role} to {role}")
        self.role = role

    def has_majority(self, voters: Iterable[str]) -> bool:
        """True if ``voters`` (ids; non-voters ignored) are a majority of the voters."""
        members = self.config.voters
        return 2 * len(set(voters).intersection(members)) > len(members)

    def candidate_up_to_date(self, msg: RequestVote) -> bool:
        """§5.4.1: the log with the later last term is more up-to-date; with equal last
        terms, the longer log is."""
        ours = (self.term_at(self.last_log_index), self.last_log_index)
        return (msg.last_log_term, msg.last_log_index) >= ours

    def in_lease(self) -> bool:
        """True if we are the leader, or heard from one within the low election timeout:
        then a live leader exists and an election would only disrupt it."""
        return (self.role == LEADER
                or self.now - self.leader_seen < self.election_timeout[0])

    def last_index_of(self, term: int) -> int:
        """The index of our last entry of ``term`` after the snapshot (0 if none)."""
        for index in range(self.last_log_index, self.snapshot_index, -1):
            if self.term_at(index) == term:
                return index
            if self.term_at(index) < term:
                break
        return 0

    def latest_config(self) -> tuple[Configuration, int]:
        """The configuration in force: the last one in the log (committed or not,
        thesis §4.1), else the snapshot's; and the index of its entry."""
        for index in range(self.last_log_index, self.snapshot_index, -1):
            entry = self.entries[index - self.snapshot_index - 1]
            if entry.config:
                return Configuration.of(entry.command), index
        return self.snapshot_config, self.snapshot_index

    def reset_election_timer(self) -> None:
        """Arm the election timer with a fresh random timeout (§5.2)."""
        self.set_timer("election", self.rng.uniform(*self.election_timeout))

    def send(self, dst: str, msg: object) -> None:
        """Send ``msg``, after syncing storage if anything is unsynced: no message ever
        leaves before the state it depends on is durable (Figure 2). A leader's
        AppendEntries waits only for the rest of its state, not for the new entries of
        its log: it leaves first, and they are synced while it travels (thesis
        §10.2.1)."""
        if isinstance(msg, AppendEntries) and self.role == LEADER and self.unwritten \
                and not self.storage.dirty:
            super().send(dst, msg)
            self.persist()  # synced while the message travels
            return
        self.persist()
        super().send(dst, msg)

    def persist(self) -> None:
        """Write the log's new entries (see :meth:`append`) and sync storage if anything
        is unsynced. A leader's own matchIndex is what it has synced (see
        :meth:`leader_append`)."""
        self.write_log()
        if self.storage.dirty:
            self.storage.sync()
        if self.role == LEADER:
            self.match_index[self.id] = self.last_log_index

    @staticmethod
    def json_text_of(value: Any, what: str) -> str:
        """The JSON text of ``value`` (what every server will see is ``json.loads`` of
        it: a tuple becomes a list), or a UsageError if it cannot cross the wire."""
        try:
            # Plain JSON only: no sets (their order varies), no NaN, no objects.
            return codec.json_text(value)
        except (CodecError, TypeError, ValueError) as exc:
            raise UsageError(f"{what} {value!r} cannot be replicated, because it does not "
                             f"encode as JSON ({exc}); use ints, strings, lists and "
                             "dicts") from None

    # ----- persistence ---------------------------------------------------------------------

    def _key(self, key: str) -> str:
        # Prefixed with the component's name: two Raft groups can share a node's storage.
        return f"{self.name}/{key}"

    def set_term(self, term: int, *, voted_for: str | None) -> None:
        """Set currentTerm and votedFor (persistent: synced before the next send)."""
        if (term, voted_for) != (self.current_term, self.voted_for):
            self.current_term, self.voted_for = term, voted_for
            self.storage[self._key("state")] = {"current_term": term, "voted_for": voted_for}

    def append(self, entry: Entry, text: str | None = None) -> None:
        """Append ``entry`` to the log, in memory; :meth:`persist` writes it (one key per
        entry, plus the length) and syncs, in one step: storage never holds a length
        that its entries do not back, whatever a crash keeps of unsynced writes.
        ``text``: the JSON text of its stored form, if the caller has it (it is kept
        for the write: an entry is encoded once)."""
        self.entries.append(entry)
        if text is None:
            text = codec.json_text(stored(entry))
        self.log_size += len(text)
        self.texts[self.last_log_index] = text
        if self.unwritten is None:
            self.unwritten = self.last_log_index
        if entry.config:
            self.config, self.config_index = Configuration.of(entry.command), \
                self.last_log_index

    def write_log(self) -> None:
        """Write the entries appended since the last write, and the log's length, to
        storage (not synced)."""
        if self.unwritten is not None:
            texts = self.texts
            for index in range(max(self.unwritten, self.snapshot_index + 1),
                               self.last_log_index + 1):
                text = texts.get(index) or codec.json_text(
                    stored(self.entries[index - self.snapshot_index - 1]))
                self.storage.set_text(self._key(f"log/{index}"), text)
            self.storage[self._key("log/length")] = self.last_log_index
            self.unwritten = None
        self.texts.clear()

    def truncate(self, length: int) -> None:
        """Keep the log through index ``length`` (the keys past it are dead; later
        appends overwrite them). A configuration entry cut off is undone (thesis §4.1)."""
        del self.entries[length - self.snapshot_index:]
        self.log_size = sum(len(codec.json_text(stored(e))) for e in self.entries)
        self.unwritten = min(self.unwritten or length + 1, length + 1)
        if self.config_index > length:
            self.config, self.config_index = self.latest_config()

    def replace_prefix(self, index: int, term: int, data: Any, config: Configuration,
                       keep: list[Entry]) -> None:
        """Make the snapshot (``index``, ``term``, ``data``, ``config``) replace the log
        through ``index``; ``keep`` is what follows it. Synced at once, as one write of
        the snapshot and the new length: a crash keeps the old snapshot and log, or the
        new ones, never a log with a hole."""
        self.write_log()
        old_first = self.snapshot_index + 1
        self.storage[self._key("snapshot")] = {"index": index, "term": term, "data": data,
                                               "config": config.stored()}
        self.storage[self._key("log/length")] = index + len(keep)
        for i in range(old_first, index + 1):
            if self._key(f"log/{i}") in self.storage:
                del self.storage[self._key(f"log/{i}")]
        for i, entry in enumerate(keep, index + 1):  # same keys: rewritten only if missing
            if self._key(f"log/{i}") not in self.storage:
                self.storage[self._key(f"log/{i}")] = stored(entry)
        self.storage.sync()
        if self.role == LEADER:
            self.match_index[self.id] = index + len(keep)
        self.snapshot_index, self.snapshot_term = index, term
        self.snapshot_data, self.snapshot_config = data, config
        self.snapshot_text = None
        self.snapshot_offset = {}  # chunks of the old snapshot are of no use now
        self.entries = list(keep)
        self.log_size = sum(len(codec.json_text(stored(e))) for e in self.entries)
        self.config, self.config_index = self.latest_config()

    # ----- reloading, refusing what does not hold together -------------------------------------

    def load(self, key: str, default: Any, kind: type) -> Any:
        """The stored value of ``key`` (``default`` if absent), which must be a ``kind``."""
        value = self.storage.get(self._key(key), default)
        if value is not default and not isinstance(value, kind):
            self.corrupt(key, f"is {type(value).__name__} {value!r}, not a {kind.__name__}")
        return value

    def field(self, value: dict[str, Any], key: str, name: str,
              kind: type | tuple[type, ...]) -> Any:
        """Field ``name`` of the stored dict ``key``, which must be a ``kind``."""
        if name not in value:
            self.corrupt(key, f"has no field {name!r}")
        found = value[name]
        negative = isinstance(found, int) and not isinstance(found, bool) and found < 0
        if not isinstance(found, kind) or (isinstance(found, bool) and kind is int) \
                or negative:
            self.corrupt(f"{key}.{name}", f"is {found!r}")
        return found

    def load_log(self) -> list[Entry]:
        """The entries after the snapshot, each checked: present, ``[term, command, ...]``
        with terms that never decrease."""
        length = self.load("log/length", self.snapshot_index, int)
        if length < self.snapshot_index:
            self.corrupt("log/length", f"is {length}, before the snapshot's index "
                                       f"{self.snapshot_index}")
        entries: list[Entry] = []
        last_term = self.snapshot_term
        for index in range(self.snapshot_index + 1, length + 1):
            value = self.storage.get(self._key(f"log/{index}"))
            if value is None:
                self.corrupt(f"log/{index}", f"is missing, but {self._key('log/length')} "
                                             f"says the log has {length} entries: the storage is "
                                             "truncated")
            if not (isinstance(value, list) and 2 <= len(value) <= 4
                    and isinstance(value[0], int) and value[0] >= last_term):
                self.corrupt(f"log/{index}", f"is {value!r}, not [term, command] with a "
                                             f"term >= {last_term}")
            entry = Entry(value[0], value[1], noop=len(value) > 2 and bool(value[2]),
                          config=len(value) > 3 and bool(value[3]))
            if entry.config and not (isinstance(entry.command, dict)
                                     and isinstance(entry.command.get("voters"), list)):
                self.corrupt(f"log/{index}", f"is a configuration without voters: {value!r}")
            last_term = entry.term
            entries.append(entry)
        return entries

    def corrupt(self, field: str, problem: str) -> None:
        """Stop: the stored state cannot be trusted."""
        raise StorageError(
            f"Raft server {self.id} cannot restart: in {self.storage.origin}, the field "
            f"{self._key(field)!r} {problem}. Refusing to start from corrupt or truncated "
            "storage (that could make it vote twice or forget committed entries): restore "
            "the storage, or remove this server from the group and add it back empty.")


def stored(entry: Entry) -> list[Any]:
    """The stored form of an entry: ``[term, command]``, ``[term, null, true]`` for a
    no-op, ``[term, configuration, false, true]`` for a configuration."""
    if entry.config:
        return [entry.term, entry.command, False, True]
    if entry.noop:
        return [entry.term, None, True]
    return [entry.term, entry.command]
