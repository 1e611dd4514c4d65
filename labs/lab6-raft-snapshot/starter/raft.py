"""Lab 6: Raft log compaction (snapshots). The only file you edit.

Start from your lab 5 Raft: copy its RaftNode into the class below (its messages are
here already), then add §7 of the paper (D. Ongaro and J. Ousterhout, "In Search of an
Understandable Consensus Algorithm (Extended Version)"): snapshots, a log that starts
after the snapshot, InstallSnapshot in chunks (Figure 13), and restarting from a
snapshot. The handout (README.md) walks through it.

The grader builds each server with ``RaftNode()`` and a simulation, crashes and restarts
servers (a crash loses every storage write that was not synced), and cuts the network.
It acts as the service: every few committed commands it hands your node a snapshot.
What it uses:

* ``get_state()``: (current term, whether this server believes it is the leader);
* ``start(command)``: on the leader, append ``command`` to the log and return
  (its index, the current term); anywhere else, return None;
* ``apply(index, command)``: call it for each committed command, once per index, in
  increasing index order. Do not change it;
* ``snapshot(index, data)``: the grader calls it (from inside its ``apply``) once it has
  applied every command up to ``index``; ``data`` (a JSON value) is its state. Keep it,
  discard the log entries up to ``index``, persist;
* ``restore(index, data)``: call it when the service must take the snapshot ``data``
  (which holds every command up to ``index``) as its state: one installed from the
  leader, or your own at a restart, before any apply of a later index. Do not change it;
* ``CHUNK_SIZE``: the most characters of a snapshot's JSON text one InstallSnapshot
  carries;
* ``self.storage``: what must survive a crash (``current_term``, ``voted_for``, the
  snapshot, the log), synced with ``self.storage.sync()`` before any message that depends
  on it leaves.

Use ``self.rng`` for random numbers and timers for time (never the ``random`` module or
the wall clock): the grader replays every failure from its seed.
"""

from __future__ import annotations

import json
from typing import Any

from dsys import Node, message

#: Seconds between a leader's rounds of AppendEntries (heartbeats): ten a second at most.
HEARTBEAT_INTERVAL = 0.1

#: A follower that hears from no leader for this long (seconds, drawn uniformly from the
#: range each time the timer is reset) stands for election.
ELECTION_TIMEOUT = (0.3, 0.6)

#: The most characters of a snapshot's JSON text one InstallSnapshot carries (Figure 13's
#: chunks). Do not change it: the grader checks every InstallSnapshot against it.
CHUNK_SIZE = 64

#: The three roles of Figure 4.
FOLLOWER = "follower"
CANDIDATE = "candidate"
LEADER = "leader"


# ----- messages (Figure 2: "RequestVote RPC" and "AppendEntries RPC"; Figure 13) ----------
# Messages are one-way: a "reply" is a message of its own, sent back to the sender. A
# reply may arrive late, twice, or after a newer one: make each carry what its receiver
# needs to use it without remembering the request. Keep InstallSnapshot's name and fields:
# the grader reads them in the trace (it checks the chunks' sizes and offsets).


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

    def on_start(self) -> None:
        """Start, or restart after a crash (a fresh object: only ``self.storage``
        survives)."""
        # Persistent state on all servers. TODO: read it back from self.storage (your
        # lab 5 code), and the snapshot with it.
        self.current_term = 0
        self.voted_for: str | None = None
        # TODO(step 1): the snapshot replaces the entries up to snapshot_index (whose term
        # was snapshot_term); self.entries holds the entries after it: entries[i -
        # snapshot_index - 1] is the entry at index i. (Lab 5's self.log, renamed:
        # self.log(...) is the node's logging method.)
        self.snapshot_index = 0
        self.snapshot_term = 0
        self.snapshot_data: Any = None
        self.entries: list[Entry] = []
        # Volatile state on all servers.
        self.commit_index = 0
        self.last_applied = 0
        self.role = FOLLOWER
        # Volatile state on leaders (reinitialized after election).
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        # TODO(step 4): after a restart with a snapshot, hand it to the service
        # (self.restore) before anything else is applied.
        # TODO: arm the election timer (your lab 4 code).

    def get_state(self) -> tuple[int, bool]:
        """The current term, and whether this server believes it is the leader."""
        return self.current_term, self.role == LEADER

    def start(self, command: Any) -> tuple[int, int] | None:
        """Propose ``command``: the (index, term) where it will appear if it is ever
        committed, or None if this server is not the leader."""
        if self.role != LEADER:
            return None
        # TODO: your lab 5 code (the index is no longer len(self.entries): step 1).
        return None

    def apply(self, index: int, command: Any) -> None:
        """Hand the committed ``command`` at ``index`` to the service.
        Do not change: the grader replaces it."""
        self.note("apply", index=index, command=command)

    def restore(self, index: int, data: Any) -> None:
        """Make the snapshot ``data`` (every command up to ``index``) the service's state.
        Do not change: the grader replaces it."""
        self.note("restore", index=index)

    def snapshot(self, index: int, data: Any) -> None:
        """The service has applied every command up to ``index``; ``data`` is its state.
        The grader calls this from inside its apply."""
        # TODO(step 2): keep the snapshot (index, the term of the entry at index, data),
        # discard the entries up to index, in memory and in storage; persist.

    def on_timer(self, name: str) -> None:
        # TODO: your lab 5 code. A follower whose nextIndex is inside the snapshot gets
        # the snapshot instead of entries (step 3).
        pass

    def on_message(self, src: str, msg: Any) -> None:
        # TODO: your lab 5 code, and the two new messages.
        match msg:
            case RequestVote():
                pass
            case RequestVoteReply():
                pass
            case AppendEntries():
                pass  # TODO(step 1): prev_log_index may be inside your snapshot
            case AppendEntriesReply():
                pass
            case InstallSnapshot():
                pass  # TODO(step 3): Figure 13, receiver implementation, steps 1 to 8
            case InstallSnapshotReply():
                pass  # TODO(step 3): the next chunk, or nextIndex and matchIndex

    def snapshot_text(self) -> str:
        """The snapshot's data as JSON text: what InstallSnapshot cuts into chunks of at
        most CHUNK_SIZE characters (json.loads of the whole text gives the data back)."""
        return json.dumps(self.snapshot_data, separators=(",", ":"))
