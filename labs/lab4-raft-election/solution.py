"""Reference solution of lab 4: Raft leader election (Figure 2, without the log).

D. Ongaro and J. Ousterhout, "In Search of an Understandable Consensus Algorithm
(Extended Version)", 2014, §5.1 and §5.2. Every handler below names the box of Figure 2
it implements. Lab 5 adds the log to this same file.

Rules of this file:

* One class, :class:`RaftNode`: terms, randomized election timeouts, RequestVote, and the
  leader's heartbeats (AppendEntries with no entries: in this lab the log stays empty).
* Persistent state (``current_term``, ``voted_for``) is written to ``self.storage`` as it
  changes, and synced before any message leaves (:meth:`send` syncs first) and at the end
  of every handler: a vote is never sent while a crash could still make us forget it.
* A reply carries the term it answers, so a late, duplicated or reordered reply is
  harmless.
* Randomness from ``self.rng`` only, time from timers only: a run is a function of its seed.

Layout: timing constants, messages, state, the interface the tester uses, then the
handlers in Figure 2's order (timers, RequestVote, AppendEntries, the leader's side), then
helpers and persistence.
"""

from __future__ import annotations

from typing import Any

from dsys import Node, message

#: Seconds between a leader's rounds of heartbeats: ten a second at most.
HEARTBEAT_INTERVAL = 0.1

#: A follower that hears from no leader for this long (seconds, drawn uniformly from the
#: range at each reset) stands for election. Well above the heartbeat interval, so one
#: or two lost heartbeats do not start an election; randomized, so that split votes end.
ELECTION_TIMEOUT = (0.3, 0.6)

#: The three roles of Figure 4.
FOLLOWER = "follower"
CANDIDATE = "candidate"
LEADER = "leader"


# ----- messages (Figure 2: "RequestVote RPC" and "AppendEntries RPC") ---------------------


@message
class RequestVote:
    """``candidate`` asks for a vote in ``term``. (Lab 5 adds its log's last index and
    term, for the up-to-date check; in this lab every log is empty.)"""

    term: int
    candidate: str


@message
class RequestVoteReply:
    """The answer to a RequestVote: the voter's ``term``, and whether it voted for the
    candidate."""

    term: int
    granted: bool


@message
class AppendEntries:
    """A heartbeat from ``leader`` of ``term``. (Lab 5 adds the entries, and where they
    go.)"""

    term: int
    leader: str


@message
class AppendEntriesReply:
    """The answer to an AppendEntries: the follower's ``term``, and whether it accepted
    the sender as its leader."""

    term: int
    success: bool


class RaftNode(Node):
    """One Raft server. The group is this node and its ``peers``."""

    # ----- state (Figure 2, "State") ------------------------------------------------------

    def on_start(self) -> None:
        """Start, or restart after a crash: reload the persistent state from storage;
        the volatile state starts afresh."""
        # Persistent state on all servers (updated on stable storage before responding).
        self.current_term: int = self.storage.get("current_term", 0)
        self.voted_for: str | None = self.storage.get("voted_for")
        # Volatile state.
        self.role = FOLLOWER
        self.votes: set[str] = set()  # who voted for us, while a candidate
        self.reset_election_timer()

    # ----- the interface the tester uses ----------------------------------------------------

    def get_state(self) -> tuple[int, bool]:
        """The current term, and whether this server believes it is the leader."""
        return self.current_term, self.role == LEADER

    # ----- Rules for Servers: timers --------------------------------------------------------

    def on_timer(self, name: str) -> None:
        if name == "election" and self.role != LEADER:
            self.start_election()
        elif name == "heartbeat" and self.role == LEADER:
            self.send_heartbeats()
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
        for peer in self.peers:
            self.send(peer, RequestVote(self.current_term, self.id))  # synced first

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
                pass  # heartbeats need no answer but the term, handled above
        self.persist()  # a handler that changed state but sent nothing still ends durable

    def on_request_vote(self, src: str, msg: RequestVote) -> None:
        """RequestVote RPC, receiver implementation (§5.2)."""
        # 1. Reply false if term < currentTerm (§5.1).
        # 2. If votedFor is null or candidateId (and, in lab 5, the candidate's log is at
        #    least as up-to-date as ours), grant vote (§5.2, §5.4).
        granted = msg.term == self.current_term and self.voted_for in (None, msg.candidate)
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
        """AppendEntries RPC, receiver implementation (§5.2; lab 5 adds the rest)."""
        # 1. Reply false if term < currentTerm (§5.1).
        if msg.term < self.current_term:
            self.send(src, AppendEntriesReply(self.current_term, False))
            return
        # A current leader exists. Candidates: "If AppendEntries RPC received from new
        # leader: convert to follower". Followers: reset the election timer.
        self.role = FOLLOWER
        self.reset_election_timer()
        self.send(src, AppendEntriesReply(self.current_term, True))

    # ----- the leader's side ----------------------------------------------------------------

    def become_leader(self) -> None:
        """Leaders: "Upon election: send initial empty AppendEntries RPCs (heartbeat) to
        each server; repeat during idle periods to prevent election timeouts (§5.2)"."""
        self.role = LEADER
        self.cancel_timer("election")
        self.note("elected", term=self.current_term)
        self.send_heartbeats()
        self.set_timer("heartbeat", HEARTBEAT_INTERVAL)

    def send_heartbeats(self) -> None:
        """An empty AppendEntries to every other server: "I am your leader in this term"."""
        for peer in self.peers:
            self.send(peer, AppendEntries(self.current_term, self.id))

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

    # ----- helpers ------------------------------------------------------------------------

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

    # ----- persistence (Figure 2: currentTerm, votedFor) -----------------------------------

    def persist(self) -> None:
        """Make every write so far durable, if there is any."""
        if self.storage.dirty:
            self.storage.sync()

    def set_term(self, term: int, *, voted_for: str | None) -> None:
        """Set currentTerm and votedFor, in memory and in storage (synced by persist)."""
        self.current_term, self.voted_for = term, voted_for
        self.storage["current_term"] = term
        self.storage["voted_for"] = voted_for
