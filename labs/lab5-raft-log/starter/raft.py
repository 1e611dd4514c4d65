"""Lab 5: Raft log replication and persistence. The only file you edit.

Complete Raft as Figure 2 of the paper describes it (D. Ongaro and J. Ousterhout, "In
Search of an Understandable Consensus Algorithm", §5): start from your lab 4 election,
then add the log, AppendEntries with its consistency check, the commit rule, applying
committed commands in order, and persistence. The handout (README.md) walks through it.

The grader builds each server with ``RaftNode()`` and a simulation, crashes and restarts
servers (a crash loses every storage write that was not synced), and cuts the network.
What it uses:

* ``get_state()``: (current term, whether this server believes it is the leader);
* ``start(command)``: on the leader, append ``command`` to the log and return
  (its index, the current term); anywhere else, return None;
* ``apply(index, command)``: call it for each committed command, once per index, in
  increasing index order (after a restart, again from index 1). Do not change it;
* ``self.storage``: what must survive a crash (``current_term``, ``voted_for``, the log),
  synced with ``self.storage.sync()`` before any message that depends on it leaves.

Use ``self.rng`` for random numbers and timers for time (never the ``random`` module or
the wall clock): the grader replays every failure from its seed.
"""

from __future__ import annotations

from typing import Any

from dsys import Node, message

#: Seconds between a leader's rounds of AppendEntries (heartbeats): ten a second at most.
HEARTBEAT_INTERVAL = 0.1

#: A follower that hears from no leader for this long (seconds, drawn uniformly from the
#: range each time the timer is reset) stands for election.
ELECTION_TIMEOUT = (0.3, 0.6)

#: The three roles of Figure 4.
FOLLOWER = "follower"
CANDIDATE = "candidate"
LEADER = "leader"


# ----- messages (Figure 2: "RequestVote RPC" and "AppendEntries RPC") ---------------------
# Messages are one-way: a "reply" is a message of its own, sent back to the sender. A
# reply may arrive late, twice, or after a newer one: make each carry what its receiver
# needs to use it without remembering the request.


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
    agreement with the leader (a late reply must not undo a newer one). On failure,
    ``conflict_index`` may say where the leader should try next (optional: see the
    handout's hints on backing up quickly).
    """

    term: int
    success: bool
    match_index: int = 0
    conflict_index: int = 0


class RaftNode(Node):
    """One Raft server. The group is this node and its ``peers``."""

    def on_start(self) -> None:
        """Start, or restart after a crash (a fresh object: only ``self.storage``
        survives)."""
        # Persistent state on all servers. TODO: read it back from self.storage.
        self.current_term = 0
        self.voted_for: str | None = None
        # Figure 2's log[] (``self.log`` is the node's logging method, keep it):
        self.entries: list[Entry] = []  # entries[i - 1] is the entry at index i
        # Volatile state on all servers.
        self.commit_index = 0
        self.last_applied = 0
        self.role = FOLLOWER
        # Volatile state on leaders (reinitialized after election).
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        # TODO: arm the election timer (your lab 4 code).

    def get_state(self) -> tuple[int, bool]:
        """The current term, and whether this server believes it is the leader."""
        return self.current_term, self.role == LEADER

    def start(self, command: Any) -> tuple[int, int] | None:
        """Propose ``command``: the (index, term) where it will appear if it is ever
        committed, or None if this server is not the leader."""
        if self.role != LEADER:
            return None
        # TODO: append it to the log (and to storage), send it to the followers.
        return None

    def apply(self, index: int, command: Any) -> None:
        """Hand the committed ``command`` at ``index`` to the service.
        Do not change: the grader replaces it."""
        self.note("apply", index=index, command=command)

    def on_timer(self, name: str) -> None:
        # TODO: the election timeout, the heartbeat timer (your lab 4 code; a leader's
        # AppendEntries now carry the entries a follower lacks).
        pass

    def on_message(self, src: str, msg: Any) -> None:
        # TODO: Rules for All Servers (a higher term in any message), then each message.
        match msg:
            case RequestVote():
                pass  # TODO: lab 4's, plus the up-to-date check (§5.4.1)
            case RequestVoteReply():
                pass  # TODO: count the vote
            case AppendEntries():
                pass  # TODO: AppendEntries RPC, receiver implementation, steps 1 to 5
            case AppendEntriesReply():
                pass  # TODO: nextIndex, matchIndex, the commit rule
