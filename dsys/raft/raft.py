"""Raft consensus, written to be read beside Figure 2 of the paper.

D. Ongaro and J. Ousterhout, "In Search of an Understandable Consensus Algorithm
(Extended Version)", 2014; and D. Ongaro, "Consensus: Bridging Theory and Practice"
(PhD thesis, 2014) for pre-vote and check-quorum (§9.6, §6.2).

Rules of this file:

* Every handler names the box of Figure 2 (and the section) it implements.
* Persistent state (``current_term``, ``voted_for``, ``log``) is written to
  ``self.storage`` as it changes and synced **before any message leaves** (the
  :meth:`Raft.send` of this component syncs first): a vote, an AppendEntries success or a
  candidate's request is never sent while what it promises could still be lost by a
  crash. Everything else is volatile and rebuilt on restart.
* Roles and their transitions are data (:data:`TRANSITIONS`); :meth:`Raft.become` refuses
  any other change.
* Randomness comes from ``self.rng`` only; time from ``self.now`` only.

Layout: constants and the state machine interface, the component's state, the client
interface (``start``), then the handlers in Figure 2's order (Rules for Servers,
RequestVote, AppendEntries, the leader's side), then the persistence helpers.

Not built yet (see issue 12): snapshots and log compaction (§7), membership changes
(§6), ReadIndex reads (§8).

A new leader appends a no-op entry of its term at once (§8, thesis §6.4), so the entries of
earlier terms it holds commit as soon as a majority holds the no-op, without waiting for
a client's command. The no-op takes a log index like any entry but is never handed to the
state machine (nor to ``on_apply``): the state machine sees the log indexes of the real
commands, the same on every server, with gaps where the no-ops are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Final, Literal, Protocol

from dsys.core import codec
from dsys.core.node import Component
from dsys.errors import CodecError, ConfigError, UsageError
from dsys.raft.messages import (
    AppendEntries,
    AppendEntriesReply,
    Entry,
    RequestVote,
    RequestVoteReply,
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
    (LEADER, FOLLOWER): "discovers a higher term (or loses its quorum: check-quorum)",
}


class StateMachine(Protocol):
    """What Raft applies committed commands to: a service implements ``apply``."""

    def apply(self, index: int, command: Any) -> Any:
        """Apply the committed ``command`` at log ``index`` (called once per command, in
        increasing index order; the indexes of the leaders' no-op entries are skipped)
        and return its result (handed to ``on_apply``)."""
        ...


#: ``on_apply(index, command, result)``: called after each command is applied (not for
#: the no-op entries).
ApplyCallback = Callable[[int, Any, Any], None]


class Raft(Component):
    """One Raft server, as a component: a service node holds it beside its own logic.

    Args:
        state_machine: what committed commands are applied to (see :class:`StateMachine`).
        on_apply: called with ``(index, command, result)`` after each apply.
        members: the ids of the Raft group (default: this node and all its peers).
        election_timeout: (low, high) seconds; each timeout is drawn uniformly from it.
        heartbeat: seconds between a leader's AppendEntries rounds (keep it well below
            the low election timeout).
        pre_vote: ask "would you vote for me?" before starting an election (thesis
            §9.6), so a node that cannot win does not raise everyone's term.
        check_quorum: a leader that has not heard from a majority within an election
            timeout steps down, and a server that heard from a leader within the low
            election timeout ignores RequestVotes of higher terms (thesis §6.2, §4.2.3).
        max_entries: the most entries one AppendEntries carries.

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
        RequestVote, RequestVoteReply, AppendEntries, AppendEntriesReply)
    default_name = "raft"

    def __init__(self, state_machine: StateMachine | None = None, *,
                 on_apply: ApplyCallback | None = None,
                 members: Iterable[str] | None = None,
                 election_timeout: tuple[float, float] = (0.15, 0.3),
                 heartbeat: float = 0.05, pre_vote: bool = True, check_quorum: bool = True,
                 max_entries: int = 64) -> None:
        low, high = election_timeout
        if not 0 < low <= high:
            raise ConfigError(f"election_timeout must be (low, high) with 0 < low <= high, "
                              f"got {election_timeout!r}")
        if not 0 < heartbeat < low:
            raise ConfigError(f"heartbeat ({heartbeat}) must be > 0 and below the low "
                              f"election timeout ({low}), or followers time out needlessly")
        if max_entries < 1:
            raise ConfigError(f"max_entries must be >= 1, got {max_entries}")
        self.state_machine = state_machine
        self.on_apply = on_apply
        self._members = tuple(sorted(members)) if members is not None else None
        self.election_timeout = (low, high)
        self.heartbeat = heartbeat
        self.pre_vote = pre_vote
        self.check_quorum = check_quorum
        self.max_entries = max_entries

    # ----- state (Figure 2, "State") ----------------------------------------------------

    def on_start(self) -> None:
        """Start, or restart after a crash: reload the persistent state (Figure 2:
        "updated on stable storage before responding to RPCs"); the rest starts fresh."""
        # Persistent state on all servers.
        # One key for the two, so that a crash can never keep one write without the other.
        saved = self.storage.get(self._key("state"), {"current_term": 0, "voted_for": None})
        self.current_term: int = saved["current_term"]
        self.voted_for: str | None = saved["voted_for"]
        length = self.storage.get(self._key("log/length"), 0)
        # Figure 2's log[] (``log`` is every component's logging method): entries[i - 1] is
        # the entry at index i, indices counting from 1.
        self.entries: list[Entry] = []
        for index in range(1, length + 1):
            term, command, *noop = self.storage[self._key(f"log/{index}")]
            self.entries.append(Entry(term, command, noop=bool(noop)))
        # Volatile state on all servers.
        self.commit_index = 0
        self.last_applied = 0
        self.role: Role = FOLLOWER
        self.leader: str | None = None  # the leader this server knows of, for clients
        self.votes: set[str] = set()  # who voted for us in this election
        self.pre_votes: set[str] | None = None  # during a pre-vote: who said yes
        self.leader_seen = -float("inf")  # when we last heard from a current leader
        # Volatile state on leaders (reinitialized after election).
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.heard: set[str] = set()  # peers that answered since the last quorum check
        self.reset_election_timer()

    @property
    def members(self) -> tuple[str, ...]:
        """The servers of the group, sorted (this one included)."""
        if self._members is not None:
            return self._members
        return tuple(sorted((self.id, *self.peers)))

    @property
    def others(self) -> tuple[str, ...]:
        """The other servers of the group, sorted."""
        return tuple(m for m in self.members if m != self.id)

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
        """The index of the last entry of the log (0 when it is empty)."""
        return len(self.entries)

    def term_at(self, index: int) -> int:
        """The term of the entry at ``index`` (0 for index 0, before the first entry)."""
        return self.entries[index - 1].term if index > 0 else 0

    # ----- the client interface ---------------------------------------------------------

    def start(self, command: Any) -> tuple[int, int] | None:
        """Propose ``command``: returns ``(index, term)`` where it will be committed if
        this leader stays in power, or None if this server is not the leader.

        The command must cross the wire (a JSON value); anything else raises
        :class:`~dsys.errors.UsageError` here, not in the leader's handlers later. It is
        stored as it will arrive elsewhere (a tuple becomes a list), so every server
        applies the same value.
        """
        try:
            codec.json_text(command)  # plain JSON only: no sets (their order varies), no NaN
            wire = codec.decode(codec.loads(codec.dumps(codec.encode(Entry(0, command)))))
        except (CodecError, TypeError, ValueError) as exc:
            raise UsageError(f"Raft.start: the command {command!r} cannot be replicated, "
                             f"because it does not encode as JSON ({exc}); use ints, "
                             "strings, lists and dicts") from None
        if self.role != LEADER:
            return None
        # Rules for Servers, Leaders: "append entry to local log, respond after entry
        # applied to state machine". Synced before anyone counts it (see send).
        self.append(Entry(self.current_term, wire.command))
        self.persist()
        self.match_index[self.id] = self.last_log_index
        self.note("start", index=self.last_log_index, term=self.current_term)
        for peer in self.others:
            self.send_append_entries(peer)
        self.advance_commit_index()  # a group of one commits at once
        return self.last_log_index, self.current_term

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
                self.send_append_entries(peer)
            self.set_timer("heartbeat", self.heartbeat)
        elif name == "quorum" and self.role == LEADER:
            self.on_quorum_check()

    def on_election_timeout(self) -> None:
        """Followers (§5.2): "if election timeout elapses without receiving
        AppendEntries from current leader or granting vote to candidate: convert to
        candidate". Candidates: "if election timeout elapses: start new election"."""
        if self.role == LEADER:
            return
        self.reset_election_timer()
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
        for peer in self.others:
            self.send(peer, request)

    def start_election(self) -> None:
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
                              self.term_at(self.last_log_index))
        for peer in self.others:
            self.send(peer, request)  # sends sync the term and our own vote first

    # ----- the RPCs ---------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        if src in self.members:
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
        if msg.term > self.current_term and self.check_quorum and self.in_lease():
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

    def on_append_entries(self, src: str, msg: AppendEntries) -> None:
        """AppendEntries RPC, receiver implementation (Figure 2, §5.3), with the
        accelerated backtracking of the extended paper's end of §5.3."""
        # 1. Reply false if term < currentTerm (§5.1).
        if msg.term < self.current_term:
            self.send(src, AppendEntriesReply(self.current_term, False))
            return
        if msg.term > self.current_term:
            self.step_down(msg.term)
        elif self.role != FOLLOWER:
            self.become(FOLLOWER)  # Candidates: "AppendEntries from new leader"
        self.pre_votes = None
        self.leader = msg.leader
        self.leader_seen = self.now
        self.reset_election_timer()
        # 2. Reply false if log doesn't contain an entry at prevLogIndex whose term
        #    matches prevLogTerm (§5.3); say where our log's term at that index starts.
        if msg.prev_log_index > self.last_log_index:
            self.send(src, AppendEntriesReply(self.current_term, False,
                                              conflict_index=self.last_log_index + 1))
            return
        if self.term_at(msg.prev_log_index) != msg.prev_log_term:
            conflict_term = self.term_at(msg.prev_log_index)
            first = msg.prev_log_index
            while first > 1 and self.term_at(first - 1) == conflict_term:
                first -= 1
            self.send(src, AppendEntriesReply(self.current_term, False, conflict_index=first,
                                              conflict_term=conflict_term))
            return
        # 3. If an existing entry conflicts with a new one (same index but different
        #    terms), delete the existing entry and all that follow it (§5.3).
        # 4. Append any new entries not already in the log. (An entry we have already is
        #    kept: truncating on a late, shorter AppendEntries could drop entries we have
        #    acknowledged.)
        index = msg.prev_log_index
        for entry in msg.entries:
            index += 1
            if index <= self.last_log_index and self.term_at(index) == entry.term:
                continue
            if index <= self.last_log_index:
                self.truncate(index - 1)
            self.append(entry)
        match_index = msg.prev_log_index + len(msg.entries)
        # 5. If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of
        #    last new entry).
        if msg.leader_commit > self.commit_index:
            self.commit(min(msg.leader_commit, match_index))
        self.send(src, AppendEntriesReply(self.current_term, True, match_index=match_index))

    def on_append_entries_reply(self, src: str, msg: AppendEntriesReply) -> None:
        """Leaders (§5.3): "if successful: update nextIndex and matchIndex for follower;
        if AppendEntries fails because of log inconsistency: decrement nextIndex and
        retry" (by a whole term at a time)."""
        if msg.term > self.current_term:
            self.step_down(msg.term)
            return
        if self.role != LEADER or msg.term < self.current_term:
            return  # a reply to an earlier term's request
        self.heard.add(src)
        if msg.success:
            # max(): a late or duplicated reply never moves matchIndex back.
            if msg.match_index > self.match_index[src]:
                self.match_index[src] = msg.match_index
                self.advance_commit_index()
            self.next_index[src] = max(self.next_index[src], self.match_index[src] + 1)
            if self.next_index[src] <= self.last_log_index:
                self.send_append_entries(src)  # more to send: keep the follower coming
            return
        if msg.conflict_term and self.last_index_of(msg.conflict_term):
            next_index = self.last_index_of(msg.conflict_term) + 1
        else:
            next_index = msg.conflict_index
        # Never below what the follower has acknowledged, never past our log's end.
        self.next_index[src] = min(max(next_index, self.match_index[src] + 1, 1),
                                   self.last_log_index + 1)
        self.send_append_entries(src)

    # ----- the leader's side ------------------------------------------------------------

    def become_leader(self) -> None:
        """Leaders, upon election: send initial empty AppendEntries (heartbeat) to each
        server; nextIndex = last log index + 1, matchIndex = 0. And (§8, thesis §6.4)
        append a no-op entry of the new term, which those first AppendEntries carry: once
        a majority holds it, it commits, and every earlier entry with it."""
        self.become(LEADER)
        self.leader = self.id
        self.pre_votes = None
        self.next_index = {peer: self.last_log_index + 1 for peer in self.others}
        self.match_index = {peer: 0 for peer in self.others}
        self.match_index[self.id] = self.last_log_index
        self.heard = set()
        self.cancel_timer("election")
        self.note("elected", term=self.current_term,
                  terms=[entry.term for entry in self.entries])
        self.append(Entry.no_op(self.current_term))  # synced before it is sent (see send)
        self.persist()
        self.match_index[self.id] = self.last_log_index
        for peer in self.others:
            self.send_append_entries(peer)
        self.set_timer("heartbeat", self.heartbeat)
        if self.check_quorum:
            self.set_timer("quorum", self.election_timeout[1])
        self.advance_commit_index()  # a group of one commits at once

    def send_append_entries(self, peer: str) -> None:
        """"If last log index >= nextIndex for a follower: send AppendEntries RPC with log
        entries starting at nextIndex" (at most ``max_entries``); else a heartbeat."""
        prev = self.next_index[peer] - 1
        entries = tuple(self.entries[prev:prev + self.max_entries])
        self.send(peer, AppendEntries(self.current_term, self.id, prev, self.term_at(prev),
                                      entries, self.commit_index))

    def advance_commit_index(self) -> None:
        """Leaders (§5.3, §5.4.2): "if there exists an N such that N > commitIndex, a
        majority of matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex =
        N". Only entries of the current term are committed by counting (Figure 8)."""
        for n in range(self.last_log_index, self.commit_index, -1):
            if self.term_at(n) != self.current_term:
                break  # older terms' entries commit only under one of ours
            if self.has_majority(m for m, i in self.match_index.items() if i >= n):
                self.commit(n)
                return

    def on_quorum_check(self) -> None:
        """Check-quorum (thesis §6.2): a leader that has not heard from a majority within
        an election timeout steps down, so a leader cut off from the others stops
        claiming leadership (and a one-way partition cannot keep a dead leader alive)."""
        if not self.has_majority({self.id} | self.heard):
            self.note("step down", term=self.current_term, reason="lost quorum")
            self.become(FOLLOWER)
            self.leader = None
            self.cancel_timer("heartbeat")
            self.reset_election_timer()
            return
        self.heard = set()
        self.set_timer("quorum", self.election_timeout[1])

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
            self.cancel_timer("heartbeat")
            self.cancel_timer("quorum")
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
            entry = self.entries[self.last_applied - 1]
            if entry.noop:  # a leader's no-op: nothing for the state machine
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

    # ----- helpers ----------------------------------------------------------------------------

    def become(self, role: Role) -> None:
        """Change role, by one of the :data:`TRANSITIONS`."""
        if (self.role, role) not in TRANSITIONS:
            raise AssertionError(f"Raft: no transition from {self.role} to {role}")
        self.role = role

    def has_majority(self, voters: Iterable[str]) -> bool:
        """True if ``voters`` (ids; non-members ignored) are a majority of the group."""
        members = self.members
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
        """The index of our last entry of ``term`` (0 if we have none)."""
        for index in range(self.last_log_index, 0, -1):
            if self.term_at(index) == term:
                return index
            if self.term_at(index) < term:
                break
        return 0

    def reset_election_timer(self) -> None:
        """Arm the election timer with a fresh random timeout (§5.2)."""
        self.set_timer("election", self.rng.uniform(*self.election_timeout))

    def send(self, dst: str, msg: object) -> None:
        """Send ``msg``, after syncing storage if anything is unsynced: no message ever
        leaves before the state it depends on is durable (Figure 2)."""
        self.persist()
        super().send(dst, msg)

    def persist(self) -> None:
        """Sync storage if anything is unsynced."""
        if self.storage.dirty:
            self.storage.sync()

    # ----- persistence ---------------------------------------------------------------------

    def _key(self, key: str) -> str:
        # Prefixed with the component's name: two Raft groups can share a node's storage.
        return f"{self.name}/{key}"

    def set_term(self, term: int, *, voted_for: str | None) -> None:
        """Set currentTerm and votedFor (persistent: synced before the next send)."""
        if (term, voted_for) != (self.current_term, self.voted_for):
            self.current_term, self.voted_for = term, voted_for
            self.storage[self._key("state")] = {"current_term": term, "voted_for": voted_for}

    def append(self, entry: Entry) -> None:
        """Append ``entry`` to the log: one key per entry plus the length, O(1)."""
        self.entries.append(entry)
        # [term, command], or [term, null, true] for a no-op.
        stored = [entry.term, None, True] if entry.noop else [entry.term, entry.command]
        self.storage[self._key(f"log/{len(self.entries)}")] = stored
        self.storage[self._key("log/length")] = len(self.entries)

    def truncate(self, length: int) -> None:
        """Keep the first ``length`` entries (the keys past the length are dead; they are
        overwritten by later appends)."""
        del self.entries[length:]
        self.storage[self._key("log/length")] = length
