"""Reference solution of lab 6: Raft with log compaction (§7 and Figure 13 of the paper).

D. Ongaro and J. Ousterhout, "In Search of an Understandable Consensus Algorithm
(Extended Version)", 2014. Lab 5's Raft (Figure 2, all of it), plus snapshots: every
handler names the box of Figure 2 or the step of Figure 13 it implements.

Rules of this file:

* One class, :class:`RaftNode`, the whole protocol. The log is *offset*: ``self.entries``
  holds the entries after the snapshot, so the entry at index ``i`` is
  ``self.entries[i - self.snapshot_index - 1]``. (Lab 5's ``self.log`` is renamed:
  ``self.log(...)`` is the node's logging method.) Only the helpers of the "index arithmetic"
  section compute with that offset; everything else speaks in log indexes, as the paper.
* Persistent state (``current_term``, ``voted_for``, the snapshot, the log) is written to
  ``self.storage`` as it changes, and synced before any message leaves (:meth:`send`
  syncs first) and at the end of every handler. The snapshot (index, term and data) is
  one storage key, and compacting the log writes it and deletes the entries it covers
  before the one sync that makes both durable: a crash keeps both, or neither.
* A reply carries what its receiver needs to use it without remembering the request (the
  term it answers; the index the follower now matches; for InstallSnapshot, how much of
  which snapshot the follower holds), so a late, duplicated or reordered reply is harmless.
* Randomness from ``self.rng`` only, time from timers only: a run is a function of its seed.

Layout: constants, messages, state, the client interface (``start``, ``get_state``,
``apply``, ``snapshot``, ``restore``), then the handlers in Figure 2's order (timers,
RequestVote, AppendEntries, the leader's side), then InstallSnapshot (Figure 13), then
helpers, index arithmetic and persistence.
"""

from __future__ import annotations

import json
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

#: The most characters of a snapshot's JSON text one InstallSnapshot carries (Figure 13's
#: chunks). The grader checks it.
CHUNK_SIZE = 64

#: The three roles of Figure 4.
FOLLOWER = "follower"
CANDIDATE = "candidate"
LEADER = "leader"


# ----- messages (Figure 2: "RequestVote RPC" and "AppendEntries RPC"; Figure 13) ----------


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


@message
class InstallSnapshot:
    """Figure 13: ``leader`` of ``term`` sends the chunk of its snapshot's JSON text that
    starts at character ``offset``; the snapshot replaces every entry up to and including
    ``last_included_index`` (whose term is ``last_included_term``). ``done`` is true for
    the last chunk. ``data`` is at most ``CHUNK_SIZE`` characters long."""

    term: int
    leader: str
    last_included_index: int
    last_included_term: int
    offset: int
    data: str
    done: bool


@message
class InstallSnapshotReply:
    """The answer to an InstallSnapshot: the follower's ``term``; ``received``, how many
    characters of the snapshot ending at ``last_included_index`` it now holds in a row
    (where the leader's next chunk must start); and ``installed``, true once the follower
    holds that snapshot (or a newer state: it needs no more of it)."""

    term: int
    last_included_index: int
    received: int
    installed: bool


class RaftNode(Node):
    """One Raft server. The group is this node and its ``peers``."""

    # ----- state (Figure 2, "State"; §7) ---------------------------------------------------

    def on_start(self) -> None:
        """Start, or restart after a crash: reload the persistent state from storage, hand
        the snapshot (if any) to the service, and start the volatile state afresh."""
        # Persistent state on all servers (updated on stable storage before responding).
        self.current_term: int = self.storage.get("current_term", 0)
        self.voted_for: str | None = self.storage.get("voted_for")
        # §7: the snapshot replaces the entries up to snapshot_index (of snapshot_term).
        self.snapshot_index, self.snapshot_term, self.snapshot_data = self.read_snapshot()
        # log[i - snapshot_index - 1] is the entry at index i (see "index arithmetic").
        last = self.storage.get("last_log_index", self.snapshot_index)
        self.entries: list[Entry] = [Entry(*self.storage[f"log/{index}"])
                                 for index in range(self.snapshot_index + 1, last + 1)]
        # Volatile state on all servers. What the snapshot holds is committed and applied.
        self.commit_index = self.snapshot_index
        self.last_applied = self.snapshot_index
        self.role = FOLLOWER
        self.votes: set[str] = set()  # who voted for us, while a candidate
        # A snapshot being received in chunks: (last included index, term, text so far).
        self.incoming: tuple[int, int, str] | None = None
        # Volatile state on leaders (reinitialized after election): for each follower
        # receiving our snapshot, (its last included index, where the next chunk starts).
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.sending: dict[str, tuple[int, int]] = {}
        self.text_of: tuple[int, str] = (-1, "")  # (snapshot index, its JSON text)
        self.resume()
        self.reset_election_timer()

    def read_snapshot(self) -> tuple[int, int, Any]:
        """The snapshot in storage: its last included index and term, and its data
        ((0, 0, None): none yet)."""
        saved = self.storage.get("snapshot", {"index": 0, "term": 0, "data": None})
        return saved["index"], saved["term"], saved["data"]

    def resume(self) -> None:
        """After a restart: the service starts from our snapshot, before any later apply
        (it lost its state in the crash, as we lost our volatile state)."""
        if self.snapshot_index > 0:
            self.restore(self.snapshot_index, self.snapshot_data)

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
            if self.next_index[peer] > self.snapshot_index:
                self.send_append_entries(peer)  # do not wait for the next heartbeat
        self.advance_commit_index()  # a group of one commits at once
        return self.last_log_index(), self.current_term

    def apply(self, index: int, command: Any) -> None:
        """Hand the committed ``command`` at ``index`` to the service. The grader
        replaces this method: it is called once per index, in increasing order."""
        self.note("apply", index=index, command=command)

    def restore(self, index: int, data: Any) -> None:
        """Replace the service's state with the snapshot ``data``, which holds every
        command up to ``index``. The grader replaces this method."""
        self.note("restore", index=index)

    def snapshot(self, index: int, data: Any) -> None:
        """§7: the service has applied every command up to ``index``, and ``data`` is its
        state. Keep it as our snapshot, discard the log entries it replaces, persist."""
        if index <= self.snapshot_index:
            return  # we hold this snapshot, or a newer one (installed from the leader)
        self.compact(index, self.term_at(index), data)
        self.persist()

    # ----- Rules for Servers: timers --------------------------------------------------------

    def on_timer(self, name: str) -> None:
        if name == "election" and self.role != LEADER:
            self.start_election()
        elif name == "heartbeat" and self.role == LEADER:
            for peer in self.peers:
                self.send_append_entries(peer)  # or the current chunk of our snapshot
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
            case InstallSnapshot():
                self.on_install_snapshot(src, msg)
            case InstallSnapshotReply():
                self.on_install_snapshot_reply(src, msg)
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
        prev, prev_term, entries = msg.prev_log_index, msg.prev_log_term, msg.entries
        if prev < self.snapshot_index:
            # §7: the entries up to our snapshot are committed, so they match the
            # leader's: skip those of the request, and check from the snapshot on.
            entries = entries[self.snapshot_index - prev:]
            prev, prev_term = self.snapshot_index, self.snapshot_term
            if not entries:  # nothing past our snapshot: we match up to its end
                match = msg.prev_log_index + len(msg.entries)
                self.send(src, AppendEntriesReply(self.current_term, True, match_index=match))
                return
        # 2. Reply false if log doesn't contain an entry at prevLogIndex whose term matches
        #    prevLogTerm (§5.3). Say where to try next: past our log's end if it is too
        #    short, else the first index of our conflicting term (skip it whole).
        if prev > self.last_log_index():
            self.send(src, AppendEntriesReply(self.current_term, False,
                                              conflict_index=self.last_log_index() + 1))
            return
        if self.term_at(prev) != prev_term:
            conflict_term = self.term_at(prev)
            first = prev
            while first > self.snapshot_index + 1 and self.term_at(first - 1) == conflict_term:
                first -= 1
            self.send(src, AppendEntriesReply(self.current_term, False, conflict_index=first))
            return
        # 3. If an existing entry conflicts with a new one (same index but different
        #    terms), delete the existing entry and all that follow it (§5.3).
        # 4. Append any new entries not already in the log.
        # An entry we already hold is kept: a late, shorter AppendEntries must not cut off
        # entries we have acknowledged to this leader.
        index = prev
        for entry in entries:
            index += 1
            if index <= self.last_log_index():
                if self.term_at(index) == entry.term:
                    continue
                self.truncate_log(index - 1)
            self.append_entry(entry)
        last_new = prev + len(entries)
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
            self.matched(src, msg.match_index)
            if self.next_index[src] <= self.last_log_index():
                self.send_append_entries(src)  # more to send: keep it coming
            return
        # Never below what the follower has acknowledged, never past our log's end. Below
        # our snapshot, send_append_entries sends the snapshot instead (§7).
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
        self.sending = {}
        self.note("elected", term=self.current_term)
        for peer in self.peers:
            self.send_append_entries(peer)
        self.set_timer("heartbeat", HEARTBEAT_INTERVAL)

    def send_append_entries(self, peer: str) -> None:
        """Leaders: "If last log index >= nextIndex for a follower: send AppendEntries RPC
        with log entries starting at nextIndex"; with none, it is a heartbeat. §7: when
        nextIndex is inside our snapshot, the entries are gone: send the snapshot."""
        if self.next_index[peer] <= self.snapshot_index:
            self.send_snapshot_chunk(peer)
            return
        prev = self.next_index[peer] - 1
        start = prev - self.snapshot_index  # the position of entry prev + 1 in self.entries
        entries = tuple(self.entries[start:start + MAX_ENTRIES])
        self.send(peer, AppendEntries(self.current_term, self.id, prev, self.term_at(prev),
                                      entries, self.commit_index))

    def matched(self, peer: str, index: int) -> None:
        """``peer``'s log matches ours up to ``index``: raise matchIndex (never lower it: a
        late or duplicated reply says less than a newer one) and nextIndex past it."""
        if index > self.match_index[peer]:
            self.match_index[peer] = index
            self.advance_commit_index()
        self.next_index[peer] = max(self.next_index[peer], self.match_index[peer] + 1)

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

    # ----- InstallSnapshot (Figure 13) ----------------------------------------------------------

    def send_snapshot_chunk(self, peer: str) -> None:
        """Send ``peer`` the next chunk of our snapshot: where its last reply said it is,
        or from the start when the transfer is new (or of an older snapshot of ours). One
        chunk at a time: the reply asks for the next one; the heartbeat resends a lost one."""
        index, offset = self.sending.get(peer, (0, 0))
        if index != self.snapshot_index:
            offset = 0
        self.sending[peer] = (self.snapshot_index, offset)
        text = self.snapshot_text()
        chunk = text[offset:offset + CHUNK_SIZE]
        self.send(peer, InstallSnapshot(self.current_term, self.id, self.snapshot_index,
                                        self.snapshot_term, offset, chunk,
                                        offset + len(chunk) >= len(text)))

    def on_install_snapshot(self, src: str, msg: InstallSnapshot) -> None:
        """InstallSnapshot RPC, receiver implementation (Figure 13)."""
        # 1. Reply immediately if term < currentTerm.
        if msg.term < self.current_term:
            self.send(src, InstallSnapshotReply(self.current_term, msg.last_included_index,
                                                0, False))
            return
        self.role = FOLLOWER  # a current leader exists, as for AppendEntries
        self.reset_election_timer()
        index = msg.last_included_index
        if self.holds(index):
            # We hold every entry the snapshot covers, committed: nothing to install (and
            # installing it would take the service back). Our log matches up to index.
            self.send(src, InstallSnapshotReply(self.current_term, index, 0, True))
            return
        # 2. Create new snapshot file if first chunk (offset is 0) of a snapshot we are not
        #    receiving already (a late copy of the first chunk must not start it over).
        if msg.offset == 0 and (self.incoming is None or self.incoming[0] != index):
            self.incoming = (index, msg.last_included_term, "")
        # 3. Write data into snapshot file at given offset: only right after what we hold.
        # A chunk of another snapshot, or not next in line (lost, late, duplicated), is
        # ignored; the reply tells the leader where to go on.
        if self.incoming is None or self.incoming[0] != index:
            self.send(src, InstallSnapshotReply(self.current_term, index, 0, False))
            return
        text = self.accept_chunk(self.incoming[2], msg)
        self.incoming = (index, msg.last_included_term, text)
        # 4. Reply and wait for more data chunks if done is false.
        if not (msg.done and msg.offset + len(msg.data) == len(text)):
            self.send(src, InstallSnapshotReply(self.current_term, index, len(text), False))
            return
        # 5. Save snapshot file, discard any existing or partial snapshot with a smaller
        #    index; 6-8 in install_snapshot.
        self.incoming = None
        self.install_snapshot(index, msg.last_included_term, json.loads(text))
        self.send(src, InstallSnapshotReply(self.current_term, index, len(text), True))

    def holds(self, index: int) -> bool:
        """True if we need no snapshot up to ``index``: we hold every entry up to it, and
        they are committed (a snapshot up to index <= commitIndex would take the service
        back)."""
        return index <= self.commit_index

    def accept_chunk(self, text: str, msg: InstallSnapshot) -> str:
        """Figure 13, step 3: the text we hold with the chunk written at its offset. Only a
        chunk that starts right where our text ends extends it: any other (lost, late or
        duplicated ones around it) changes nothing."""
        return text + msg.data if msg.offset == len(text) else text

    def install_snapshot(self, index: int, term: int, data: Any) -> None:
        """Figure 13, steps 6 to 8, for a snapshot newer than our commit index."""
        # 6. If existing log entry has same index and term as snapshot's last included
        #    entry, retain log entries following it (compact keeps them); 7. else discard
        #    the entire log.
        if not (index <= self.last_log_index() and self.term_at(index) == term):
            self.truncate_log(self.snapshot_index)
        self.compact(index, term, data)
        # 8. Reset state machine using snapshot contents. Everything it holds is committed
        #    and applied.
        self.commit_index = max(self.commit_index, index)
        self.last_applied = index
        self.restore(index, data)

    def on_install_snapshot_reply(self, src: str, msg: InstallSnapshotReply) -> None:
        """Leaders: a follower holds (part of) our snapshot: go on with the next chunk, or,
        once it holds it all, on with the entries after it."""
        if self.role != LEADER or msg.term != self.current_term:
            return  # a reply to an earlier term's request
        if msg.installed:
            self.snapshot_installed(src, msg.last_included_index)
            return
        if msg.last_included_index != self.snapshot_index:
            return  # about a snapshot we no longer send; the heartbeat starts ours over
        self.sending[src] = (self.snapshot_index, msg.received)
        if self.next_index[src] <= self.snapshot_index:
            self.send_snapshot_chunk(src)

    def snapshot_installed(self, peer: str, index: int) -> None:
        """``peer`` holds our log up to ``index`` (our snapshot, or committed entries):
        as for a successful AppendEntries, raise its matchIndex and nextIndex, and go on
        with the entries after it."""
        self.sending.pop(peer, None)
        self.matched(peer, index)
        if self.next_index[peer] <= self.last_log_index():
            self.send_append_entries(peer)

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
        lastApplied, apply log[lastApplied] to state machine (§5.3)", in index order. The
        service may take a snapshot inside apply: entry_at reads the log as it is now."""
        self.commit_index = max(self.commit_index, index)
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            self.apply(self.last_applied, self.entry_at(self.last_applied).command)

    # ----- helpers ------------------------------------------------------------------------

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

    def snapshot_text(self) -> str:
        """Our snapshot's data as JSON text: what InstallSnapshot cuts into chunks (made
        once per snapshot, not once per chunk)."""
        if self.text_of[0] != self.snapshot_index:
            self.text_of = (self.snapshot_index, json.dumps(self.snapshot_data,
                                                            separators=(",", ":")))
        return self.text_of[1]

    # ----- index arithmetic: the log starts after the snapshot -------------------------------

    def last_log_index(self) -> int:
        """The index of the last entry of the log (the snapshot's last index when the log
        after it is empty; 0 when there is neither)."""
        return self.snapshot_index + len(self.entries)

    def entry_at(self, index: int) -> Entry:
        """The entry at ``index``, which must be after the snapshot."""
        assert index > self.snapshot_index, f"entry {index} is inside the snapshot"
        return self.entries[index - self.snapshot_index - 1]

    def term_at(self, index: int) -> int:
        """The term of the entry at ``index``: the snapshot's last term at its last index
        (0 at index 0, before the first entry). Below it, the entry is gone."""
        if index == self.snapshot_index:
            return self.snapshot_term
        return self.entry_at(index).term

    # ----- persistence (Figure 2: currentTerm, votedFor, log[]; §7: the snapshot) -----------

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
        """Append ``entry`` to the log: one storage key per entry, and the last index."""
        self.entries.append(entry)
        self.storage[f"log/{self.last_log_index()}"] = [entry.term, entry.command]
        self.storage["last_log_index"] = self.last_log_index()

    def truncate_log(self, last: int) -> None:
        """Keep the entries up to index ``last`` (at least the snapshot's last index);
        delete the others, in memory and in storage."""
        for index in range(last + 1, self.last_log_index() + 1):
            del self.storage[f"log/{index}"]
        del self.entries[last - self.snapshot_index:]
        self.storage["last_log_index"] = self.last_log_index()

    def compact(self, index: int, term: int, data: Any) -> None:
        """§7: make ``data`` the snapshot of every entry up to ``index`` (of ``term``), and
        discard those entries. In storage: one key for the snapshot, the entries' keys
        deleted, all synced together by the next persist."""
        covered = min(index, self.last_log_index())
        for gone in range(self.snapshot_index + 1, covered + 1):
            del self.storage[f"log/{gone}"]
        del self.entries[:covered - self.snapshot_index]
        self.snapshot_index, self.snapshot_term, self.snapshot_data = index, term, data
        self.storage["snapshot"] = {"index": index, "term": term, "data": data}
        self.storage["last_log_index"] = self.last_log_index()
