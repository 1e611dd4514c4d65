"""Reference solution of lab 5: Raft, log replication and persistence (Figure 2, all of it).

D. Ongaro and J. Ousterhout, "In Search of an Understandable Consensus Algorithm
(Extended Version)", 2014. Every handler below names the box of Figure 2 it implements.

Rules of this file:

* One class, :class:`RaftNode`, the whole protocol: leader election (lab 4), log
  replication with the consistency check, the commit rule (with Figure 8's "only entries
  of the current term are committed by counting"), applying in index order, persistence.
* Persistent state (``current_term``, ``voted_for``, ``log``) is written to
  ``self.storage`` as it changes, and synced before any message leaves (:meth:`send`
  syncs first) and at the end of every handler: a vote, a success reply or a request is
  never sent while what it promises could still be lost by a crash.
* A reply carries what its receiver needs to use it without remembering the request (the
  term it answers; for AppendEntries, the index the follower now matches), so a late,
  duplicated or reordered reply is harmless.
* Randomness from ``self.rng`` only, time from timers only: a run is a function of its seed.

Layout: timing constants, messages, state, the client interface (``start``, ``get_state``,
``apply``), then the handlers in Figure 2's order (timers, RequestVote, AppendEntries, the
leader's side), then helpers and persistence.
"""

from __future__ import annotations

from typing import Any

from dsys import Node, message

#: Seconds between a leader's rounds of AppendEntries (heartbeats): ten a second at most.
HEARTBEAT_INTERVAL = 0.1

#: A follower that hears from no leader for this long (seconds, drawn uniformly from the
#: range at each reset) stands for election. Well above the heartbeat interval, so one
#: or two lost heartbeats do not start an election; randomized, so that split votes end.
ELECTION_TIMEOUT = (0.3, 0.6)

#: The most entries one AppendEntries carries (a follower far behind catches up in steps).
MAX_ENTRIES = 64

#: The three roles of Figure 4.
FOLLOWER = "follower"
CANDIDATE = "candidate"
LEADER = "leader"


# ----- messages (Figure 2: "RequestVote RPC" and "AppendEntries RPC") ---------------------


@message
class Entry:
    """One log entry: a ``command`` for the state machine, and the ``term`` in which the
    leader received it."""

    term: int
    command: Any


@message
class RequestVote:
    """``candidate`` asks for a vote in ``term``; its log ends at ``last_log_index``,
    whose entry has term ``last_log_term`` (0 and 0 for an empty log)."""

    term: int
    candidate: str
    last_log_index: int
    last_log_term: int


@message
class RequestVoteReply:
    """The answer to a RequestVote: the voter's ``term``, and whether it voted for the
    candidate."""

    term: int
    granted: bool


@message
class AppendEntries:
    """``leader`` of ``term`` asks to append ``entries`` after the entry at
    ``prev_log_index`` (of term ``prev_log_term``); it has committed up to
    ``leader_commit``. With no entries, it is a heartbeat."""

    term: int
    leader: str
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int


@message
class AppendEntriesReply:
    """The answer to an AppendEntries.

    On success, ``match_index`` is the index of the last entry the follower now holds in
    agreement with the leader. On failure, ``conflict_index`` says where the leader should
    try next: the first index of the follower's conflicting term, or its log's length + 1
    when its log is too short (the optimization at the end of §5.3).
    """

    term: int
    success: bool
    match_index: int = 0
    conflict_index: int = 0


class RaftNode(Node):
    """One Raft server. The group is this node and its ``peers``."""

    # ----- state (Figure 2, "State") ------------------------------------------------------

    def on_start(self) -> None:
        """Start, or restart after a crash: reload the persistent state from storage;
        the volatile state starts afresh."""
        # Persistent state on all servers (updated on stable storage before responding).
        self.current_term: int = self.storage.get("current_term", 0)
        self.voted_for: str | None = self.storage.get("voted_for")
        # Figure 2's log[] (not ``self.log``: that is every node's logging method):
        # entries[i - 1] is the entry at index i, indexes counting from 1.
        self.entries: list[Entry] = [
            Entry(*self.storage[f"log/{index}"])
            for index in range(1, self.storage.get("log_length", 0) + 1)
        ]
        # Volatile state on all servers.
        self.commit_index = 0
        self.last_applied = 0
        self.role = FOLLOWER
        self.votes: set[str] = set()  # who voted for us, while a candidate
        # Volatile state on leaders (reinitialized after election).
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.reset_election_timer()

    # ----- the interface the tester uses ----------------------------------------------------

    def get_state(self) -> tuple[int, bool]:
        """The current term, and whether this server believes it is the leader."""
        return self.current_term, self.role == LEADER

    def start(self, command: Any) -> tuple[int, int] | None:
        """Propose ``command``: the (index, term) where it will appear if it is ever
        committed, or None if this server is not the leader.

        Rules for Servers, Leaders: "If command received from client: append entry to
        local log, respond after entry applied to state machine"."""
        if self.role != LEADER:
            return None
        self.append_entry(Entry(self.current_term, command))
        self.persist()
        self.match_index[self.id] = self.last_log_index()
        for peer in self.peers:
            self.send_append_entries(peer)  # do not wait for the next heartbeat
        self.advance_commit_index()  # a group of one commits at once
        return self.last_log_index(), self.current_term

    def apply(self, index: int, command: Any) -> None:
        """Hand the committed ``command`` at ``index`` to the service. The grader
        replaces this method: it is called once per index, in increasing order."""
        self.note("apply", index=index, command=command)

    # ----- Rules for Servers: timers --------------------------------------------------------

    def on_timer(self, name: str) -> None:
        if name == "election" and self.role != LEADER:
            self.start_election()
        elif name == "heartbeat" and self.role == LEADER:
            for peer in self.peers:
                self.send_append_entries(peer)
            self.set_timer("heartbeat", HEARTBEAT_INTERVAL)
        self.persist()

    def start_election(self) -> None:
        """Followers (§5.2): "If election timeout elapses without receiving AppendEntries
        from current leader or granting vote to candidate: convert to candidate".
        Candidates: "On conversion to candidate, start election: increment currentTerm,
        vote for self, reset election timer, send RequestVote RPCs to all other servers"."""
        self.role = CANDIDATE
        self.set_term(self.current_term + 1, voted_for=self.id)
        self.votes = {self.id}
        self.reset_election_timer()
        if self.is_majority(self.votes):  # a group of one
            self.become_leader()
            return
        request = RequestVote(self.current_term, self.id, self.last_log_index(),
                              self.term_at(self.last_log_index()))
        for peer in self.peers:
            self.send(peer, request)  # sends sync our term and our own vote first

    # ----- the RPCs -----------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        # Rules for All Servers: "If RPC request or response contains term T >
        # currentTerm: set currentTerm = T, convert to follower (§5.1)".
        if msg.term > self.current_term:
            self.step_down(msg.term)
        match msg:
            case RequestVote():
                self.on_request_vote(src, msg)
            case RequestVoteReply():
                self.on_request_vote_reply(src, msg)
            case AppendEntries():
                self.on_append_entries(src, msg)
            case AppendEntriesReply():
                self.on_append_entries_reply(src, msg)
        self.persist()  # a handler that changed state but sent nothing still ends durable

    def on_request_vote(self, src: str, msg: RequestVote) -> None:
        """RequestVote RPC, receiver implementation (§5.2, §5.4)."""
        # 1. Reply false if term < currentTerm (§5.1).
        # 2. If votedFor is null or candidateId, and candidate's log is at least as
        #    up-to-date as receiver's log, grant vote (§5.2, §5.4).
        granted = (msg.term == self.current_term
                   and self.voted_for in (None, msg.candidate)
                   and self.candidate_is_up_to_date(msg))
        if granted:
            self.set_term(self.current_term, voted_for=msg.candidate)
            self.reset_election_timer()  # Followers: "... or granting vote to candidate"
        self.send(src, RequestVoteReply(self.current_term, granted))  # the vote synced first

    def on_request_vote_reply(self, src: str, msg: RequestVoteReply) -> None:
        """Candidates (§5.2): "If votes received from majority of servers: become leader".
        A vote counts only for the election it was cast in: our current term."""
        if self.role != CANDIDATE or msg.term != self.current_term or not msg.granted:
            return
        self.votes.add(src)
        if self.is_majority(self.votes):
            self.become_leader()

    def on_append_entries(self, src: str, msg: AppendEntries) -> None:
        """AppendEntries RPC, receiver implementation (§5.3)."""
        # 1. Reply false if term < currentTerm (§5.1).
        if msg.term < self.current_term:
            self.send(src, AppendEntriesReply(self.current_term, False))
            return
        # A current leader exists. Candidates: "If AppendEntries RPC received from new
        # leader: convert to follower". Followers: reset the election timer.
        self.role = FOLLOWER
        self.reset_election_timer()
        # 2. Reply false if log doesn't contain an entry at prevLogIndex whose term matches
        #    prevLogTerm (§5.3). Say where to try next: past our log's end if it is too
        #    short, else the first index of our conflicting term (skip it whole).
        if msg.prev_log_index > self.last_log_index():
            self.send(src, AppendEntriesReply(self.current_term, False,
                                              conflict_index=self.last_log_index() + 1))
            return
        if self.term_at(msg.prev_log_index) != msg.prev_log_term:
            conflict_term = self.term_at(msg.prev_log_index)
            first = msg.prev_log_index
            while first > 1 and self.term_at(first - 1) == conflict_term:
                first -= 1
            self.send(src, AppendEntriesReply(self.current_term, False, conflict_index=first))
            return
        # 3. If an existing entry conflicts with a new one (same index but different
        #    terms), delete the existing entry and all that follow it (§5.3).
        # 4. Append any new entries not already in the log.
        # An entry we already hold is kept: a late, shorter AppendEntries must not cut off
        # entries we have acknowledged to this leader.
        index = msg.prev_log_index
        for entry in msg.entries:
            index += 1
            if index <= self.last_log_index():
                if self.term_at(index) == entry.term:
                    continue
                self.truncate_log(index - 1)
            self.append_entry(entry)
        last_new = msg.prev_log_index + len(msg.entries)
        # 5. If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of
        #    last new entry): beyond it, our log may still differ from the leader's.
        if msg.leader_commit > self.commit_index:
            self.commit(min(msg.leader_commit, last_new))
        self.send(src, AppendEntriesReply(self.current_term, True, match_index=last_new))

    def on_append_entries_reply(self, src: str, msg: AppendEntriesReply) -> None:
        """Leaders (§5.3): "If successful: update nextIndex and matchIndex for follower. If
        AppendEntries fails because of log inconsistency: decrement nextIndex and retry"."""
        if self.role != LEADER or msg.term != self.current_term:
            return  # a reply to an earlier term's request
        if msg.success:
            # max(): a late or duplicated reply never moves matchIndex back.
            if msg.match_index > self.match_index[src]:
                self.match_index[src] = msg.match_index
                self.advance_commit_index()
            self.next_index[src] = max(self.next_index[src], self.match_index[src] + 1)
            return  # what is left to send goes with the next start() or heartbeat
        # Never below what the follower has acknowledged, never past our log's end; then
        # retry at once, not at the next heartbeat.
        self.next_index[src] = min(max(msg.conflict_index, self.match_index[src] + 1),
                                   self.last_log_index() + 1)
        self.send_append_entries(src)

    # ----- the leader's side ----------------------------------------------------------------

    def become_leader(self) -> None:
        """Leaders: "Upon election: send initial empty AppendEntries RPCs (heartbeat) to
        each server; repeat during idle periods to prevent election timeouts (§5.2)".
        nextIndex starts at our last log index + 1, matchIndex at 0."""
        self.role = LEADER
        self.cancel_timer("election")
        self.next_index = {peer: self.last_log_index() + 1 for peer in self.peers}
        self.match_index = {peer: 0 for peer in self.peers}
        self.match_index[self.id] = self.last_log_index()
        self.note("elected", term=self.current_term)
        for peer in self.peers:
            self.send_append_entries(peer)
        self.set_timer("heartbeat", HEARTBEAT_INTERVAL)

    def send_append_entries(self, peer: str) -> None:
        """Leaders: "If last log index >= nextIndex for a follower: send AppendEntries RPC
        with log entries starting at nextIndex"; with none, it is a heartbeat."""
        prev = self.next_index[peer] - 1
        entries = tuple(self.entries[prev:prev + MAX_ENTRIES])
        self.send(peer, AppendEntries(self.current_term, self.id, prev, self.term_at(prev),
                                      entries, self.commit_index))

    def advance_commit_index(self) -> None:
        """Leaders: "If there exists an N such that N > commitIndex, a majority of
        matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex = N (§5.3,
        §5.4)". Entries of earlier terms are never committed by counting their replicas
        (Figure 8): they commit with the first entry of ours that does."""
        for n in range(self.last_log_index(), self.commit_index, -1):
            if self.term_at(n) != self.current_term:
                return  # every entry below is of an earlier term too
            if self.is_majority(peer for peer, match in self.match_index.items()
                                if match >= n):
                self.commit(n)
                return

    # ----- Rules for All Servers --------------------------------------------------------------

    def step_down(self, term: int) -> None:
        """"If RPC request or response contains term T > currentTerm: set currentTerm = T,
        convert to follower (§5.1)"; we have not voted in term T yet."""
        was_leader = self.role == LEADER
        self.set_term(term, voted_for=None)
        self.role = FOLLOWER
        if was_leader:
            self.cancel_timer("heartbeat")
            self.reset_election_timer()

    def commit(self, index: int) -> None:
        """Raise commitIndex to ``index``; then "If commitIndex > lastApplied: increment
        lastApplied, apply log[lastApplied] to state machine (§5.3)", in index order."""
        self.commit_index = max(self.commit_index, index)
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            self.apply(self.last_applied, self.entries[self.last_applied - 1].command)

    # ----- helpers ------------------------------------------------------------------------

    def last_log_index(self) -> int:
        """The index of the last entry of the log (0 when it is empty)."""
        return len(self.entries)

    def term_at(self, index: int) -> int:
        """The term of the entry at ``index`` (0 at index 0, before the first entry)."""
        return self.entries[index - 1].term if index > 0 else 0

    def candidate_is_up_to_date(self, msg: RequestVote) -> bool:
        """§5.4.1: the log whose last entry has the later term is more up-to-date; with
        the same last term, the longer log is."""
        ours = (self.term_at(self.last_log_index()), self.last_log_index())
        return (msg.last_log_term, msg.last_log_index) >= ours

    def is_majority(self, voters: Any) -> bool:
        """True if ``voters`` (node ids) are a majority of the group (us and our peers)."""
        return 2 * len(set(voters)) > len(self.peers) + 1

    def reset_election_timer(self) -> None:
        """Arm the election timer with a fresh random timeout (§5.2)."""
        self.set_timer("election", self.rng.uniform(*ELECTION_TIMEOUT))

    def send(self, dst: str, msg: object) -> None:
        """Send ``msg``, after syncing storage: no message leaves before the state it
        depends on is durable ("updated on stable storage before responding to RPCs")."""
        self.persist()
        super().send(dst, msg)

    # ----- persistence (Figure 2: currentTerm, votedFor, log[]) --------------------------

    def persist(self) -> None:
        """Make every write so far durable, if there is any."""
        if self.storage.dirty:
            self.storage.sync()

    def set_term(self, term: int, *, voted_for: str | None) -> None:
        """Set currentTerm and votedFor, in memory and in storage (synced by persist)."""
        self.current_term, self.voted_for = term, voted_for
        self.storage["current_term"] = term
        self.storage["voted_for"] = voted_for

    def append_entry(self, entry: Entry) -> None:
        """Append ``entry`` to the log: one storage key per entry, and the log's length."""
        self.entries.append(entry)
        self.storage[f"log/{len(self.entries)}"] = [entry.term, entry.command]
        self.storage["log_length"] = len(self.entries)

    def truncate_log(self, length: int) -> None:
        """Keep the first ``length`` entries. (The keys of the entries cut off stay in
        storage, unread past the length, until later appends overwrite them.)"""
        del self.entries[length:]
        self.storage["log_length"] = length
