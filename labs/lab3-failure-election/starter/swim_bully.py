"""Lab 3: a SWIM failure detector, and a bully election on top of it. The only file you edit.

Implement two components (the handout, README.md, walks through both step by step):

* ``SwimDetector``: SWIM's failure detector (A. Das, I. Gupta and A. Motivala, "SWIM:
  Scalable Weakly-consistent Infection-style Process Group Membership Protocol", DSN
  2002): randomized round-robin probing, indirect probes through k members (ping-req),
  suspicion with incarnation numbers and refutation, and news piggybacked on the
  protocol's own messages;
* ``BullyElection``: Garcia-Molina's bully algorithm, which learns from the node's
  ``SwimDetector`` that its coordinator has died.

The grader puts both into one node, ``detector = SwimDetector()`` then
``election = BullyElection(detector)``, in groups of members and among members it plays
itself (they send your components messages of the classes below: keep their names and
fields). What it reads:

* the detector's output, through the trace notes that ``mark_suspected`` (a member is
  dead) and ``mark_alive`` (a dead member is back) write: call them, never change the
  output another way;
* ``SwimDetector.view`` (member -> (status, incarnation)) and
  ``SwimDetector.incarnation``;
* the election's notes, written by ``adopt`` and ``forget``, and ``leader``, ``epoch``,
  ``is_leader``.

Use ``self.rng`` for random numbers and timers for time (never the ``random`` module or
the wall clock): the grader replays every failure from its seed.
"""

from __future__ import annotations

from typing import Any

from dsys import message
from dsys.election import LeaderElection
from dsys.failure import FailureDetector

# ----- timing (seconds of virtual time) and sizes: keep them, the grader's bounds follow ----

#: The protocol period T' (§3.1): every member pings one other member per period.
PERIOD = 0.1
#: How long a member waits for a direct ack before asking helpers (> a round trip).
PING_TIMEOUT = 0.03
#: k (§3.1): how many members are asked to ping a target that did not answer.
INDIRECT_PROBES = 3
#: How long a member stays suspected before it is declared dead (§4.2).
SUSPICION_TIMEOUT = 0.5
#: At most this many updates ride on one message.
MAX_PIGGYBACK = 6
#: Each update is piggybacked this many times, then dropped (the paper's λ·log N).
MAX_TRANSMISSIONS = 6

#: Bully: how long an elector waits for an Answer from a higher member.
ANSWER_TIMEOUT = 0.05
#: Bully: how long it then waits for the Coordinator message (Garcia-Molina's T').
COORDINATOR_TIMEOUT = 0.2
#: Bully: a coordinator tells the lower members again this often.
ANNOUNCE_INTERVAL = 0.5

#: What one member believes of another.
ALIVE, SUSPECT, DEAD = "alive", "suspect", "dead"


# ----- messages (keep them as they are: the grader sends them too) -------------------------


@message
class Update:
    """News: ``member`` is ``status`` (alive, suspect or dead) at ``incarnation``."""

    status: str
    member: str
    incarnation: int


@message
class Ping:
    """Are you alive? (``seq`` matches the ack; ``updates`` ride along.)"""

    seq: int
    updates: tuple[Update, ...] = ()


@message
class Ack:
    """Yes: the answer to the ping ``seq`` (or relayed by a helper, for a ping-req)."""

    seq: int
    updates: tuple[Update, ...] = ()


@message
class PingReq:
    """Please ping ``target`` for me, and send me an Ack with my ``seq`` if it answers."""

    seq: int
    target: str
    updates: tuple[Update, ...] = ()


@message
class Election:
    """Lower -> higher: I hold an election (I have seen epochs up to ``epoch``)."""

    epoch: int


@message
class Answer:
    """Higher -> lower: I am alive, and I take the election over."""

    epoch: int


@message
class Coordinator:
    """The winner -> every lower member: I am the coordinator of ``epoch``."""

    epoch: int


# ===== the failure detector ===================================================================


class SwimDetector(FailureDetector):
    """One member of a SWIM group. ``self.members`` are the other members (sorted);
    ``self.mark_suspected(m)`` / ``self.mark_alive(m)`` change the detector's output."""

    messages = (Ping, Ack, PingReq)

    def on_start(self) -> None:
        """Start, or restart after a crash (a fresh object: everything starts afresh)."""
        super().on_start()  # sets self.members; nobody is suspected
        #: My incarnation number: only I raise it, to refute news of my death.
        self.incarnation = 0
        #: What I believe of every other member: id -> (status, incarnation).
        self.view: dict[str, tuple[str, int]] = {m: (ALIVE, 0) for m in self.members}
        # TODO: the rest of your state: the round-robin order, this period's probe (seq,
        # target, acked?), the relays you help with, the outbox of news to piggyback.
        # TODO: arm the "tick" timer (a random delay below PERIOD the first time).

    def on_timer(self, name: str) -> None:
        # TODO: "tick": judge the last period's probe, then ping the next target;
        # "probe timeout": no ack yet, ask INDIRECT_PROBES helpers (PingReq);
        # your suspicion timers: a suspicion nobody refuted becomes death.
        pass

    def on_message(self, src: str, msg: Any) -> None:
        # TODO: first apply every update piggybacked on the message, then:
        match msg:
            case Ping():
                pass  # TODO: answer with an Ack of the same seq
            case Ack():
                pass  # TODO: my probe is answered; or pass on an ack I was relaying
            case PingReq():
                pass  # TODO: ping the target for the asker, with a seq of my own


# ===== the bully election =======================================================================


class BullyElection(LeaderElection):
    """Garcia-Molina's bully algorithm on top of ``detector``. From the base class:
    ``self.leader``, ``self.epoch``, ``self.is_leader``, ``self.seen_epoch``,
    ``self.adopt(leader, epoch)``, ``self.forget(why)``, ``self.new_epoch()``,
    ``self.observe(epoch)``."""

    messages = (Election, Answer, Coordinator)

    def __init__(self, detector: FailureDetector) -> None:
        super().__init__()
        self.detector = detector
        #: True from the start of this member's election until it adopts a coordinator.
        self.electing = False
        detector.observe(self.detector_changed)  # called as (event, peer)

    def on_start(self) -> None:
        """Start, or come back after a crash."""
        super().on_start()  # reads the highest epoch seen back from storage
        self.electing = False
        # TODO: hold an election.

    def detector_changed(self, event: str, peer: str) -> None:
        """The detector's output changed: ``event`` is "suspect" (``peer`` is dead) or
        "alive" (it is back)."""
        # TODO: if the coordinator died, hold an election.

    def on_timer(self, name: str) -> None:
        # TODO: "answer": nobody above answered, I win; "coordinator": the member that
        # answered never announced itself, start over; "announce": tell the lower
        # members again.
        pass

    def on_message(self, src: str, msg: Any) -> None:
        # TODO: observe(epoch) of every message, then:
        match msg:
            case Election():
                pass  # TODO: answer a lower member, and take the election over
            case Answer():
                pass  # TODO: stop waiting for answers, wait for the Coordinator
            case Coordinator():
                pass  # TODO: bully a lower one; follow a higher one (see the handout)
