"""Lab 4: Raft leader election. The only file you edit.

Implement leader election of Raft as Figure 2 of the paper describes it (D. Ongaro and
J. Ousterhout, "In Search of an Understandable Consensus Algorithm", §5.1, §5.2): terms,
randomized election timeouts, RequestVote, and heartbeats (AppendEntries with no entries;
the log comes in lab 5). The handout (README.md) walks through it step by step.

The grader builds each server with ``RaftNode()`` and a simulation, crashes and restarts
servers, and cuts the network. What it uses:

* ``get_state()``: (current term, whether this server believes it is the leader);
* ``self.storage``: what must survive a crash (``current_term``, ``voted_for``), synced
  with ``self.storage.sync()`` before any message that depends on it leaves.

Use ``self.rng`` for random numbers and timers for time (never the ``random`` module or
the wall clock): the grader replays every failure from its seed.
"""

from __future__ import annotations

from typing import Any

from dsys import Node, message

#: Seconds between a leader's rounds of heartbeats: ten a second at most.
HEARTBEAT_INTERVAL = 0.1

#: A follower that hears from no leader for this long (seconds, drawn uniformly from the
#: range each time the timer is reset) stands for election.
ELECTION_TIMEOUT = (0.3, 0.6)

#: The three roles of Figure 4.
FOLLOWER = "follower"
CANDIDATE = "candidate"
LEADER = "leader"


# ----- messages (Figure 2: "RequestVote RPC" and "AppendEntries RPC") ---------------------
# Messages are one-way: a "reply" is a message of its own, sent back to the sender.


@message
class RequestVote:
    """``candidate`` asks for a vote in ``term``."""

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
    """A heartbeat from ``leader`` of ``term``."""

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

    def on_start(self) -> None:
        """Start, or restart after a crash (a fresh object: only ``self.storage``
        survives)."""
        # Persistent state on all servers. TODO: read it back from self.storage.
        self.current_term = 0
        self.voted_for: str | None = None
        # Volatile state.
        self.role = FOLLOWER
        # TODO: arm the election timer (self.set_timer), with a random timeout.

    def get_state(self) -> tuple[int, bool]:
        """The current term, and whether this server believes it is the leader."""
        return self.current_term, self.role == LEADER

    def on_timer(self, name: str) -> None:
        # TODO: the election timeout (start an election), the heartbeat timer (a leader's
        # heartbeats).
        pass

    def on_message(self, src: str, msg: Any) -> None:
        # TODO: Rules for All Servers (a higher term in any message), then each message.
        match msg:
            case RequestVote():
                pass  # TODO: RequestVote RPC, receiver implementation
            case RequestVoteReply():
                pass  # TODO: count the vote
            case AppendEntries():
                pass  # TODO: AppendEntries RPC, receiver implementation (step 1)
            case AppendEntriesReply():
                pass
