"""Total order broadcast: every member delivers the same messages in the same order.

*Total order*: if two members both deliver ``m1`` and ``m2``, they deliver them in the
same order. With it, replicas that apply the delivered commands in delivery order stay
identical (state machine replication). Two classic ways to agree on the order, both
surveyed by Défago, Schiper and Urbán, *Total order broadcast and multicast algorithms:
taxonomy and survey*, ACM Computing Surveys 36(4), 2004:

:class:`SequencerBroadcast` (*fixed sequencer*, §4.1). One member, the sequencer, numbers
every message; everyone delivers in number order.

1. The origin sends ``SequencerRequest`` to the sequencer (re-sent until the
   numbered message comes back).
2. The sequencer gives the next number, writes the assignment to its log (synced to
   storage *before* anyone hears of it) and sends ``Ordered(number, ...)`` to every
   member, re-sent until acknowledged.
3. Every member delivers ``Ordered`` messages in number order, holding back early
   ones until the gap before them is filled.

Cheap (about ``n`` messages per broadcast) but the sequencer is a single point of
failure: while it is down nothing is delivered. Because its log is durable, a restarted
sequencer never gives a number twice and re-sends its whole log, so order stays total
and delivery resumes. (Production systems replace the fixed sequencer by an elected
one, agreeing on the log with consensus: see Raft.) A restarted *ordinary* member
has lost its place in the sequence and waits for numbers it will never be sent again:
it stays silent, which is allowed (it is not a correct member any more), and safe.

:class:`IsisBroadcast` (*destinations agreement*, §4.5; Birman and Joseph, *Reliable
communication in the presence of failures*, ACM TOCS 5(1), 1987). No special member: the
receivers agree on a timestamp for each message, using Lamport clocks.

1. The origin sends the message to every member.
2. Each member *proposes* a timestamp larger than any it has proposed or seen agreed
   (its Lamport clock, plus one), puts the message in its hold-back queue, marked
   *undeliverable*, and answers the origin with ``IsisProposal``.
3. When all members have proposed, the origin takes the largest proposal (ties broken
   by the proposer's id) as the *agreed* timestamp and sends ``IsisFinal`` to all.
4. A member moves the message to its agreed place in the queue, marks it
   *deliverable*, and delivers from the head of the queue while the head is
   deliverable.

Why it works: a message's agreed timestamp is at least every member's proposal for
it, and a member proposes above everything it has seen agreed. So once the head of a
member's queue is deliverable, no message can later get a smaller timestamp there.
The price is that *every* member must answer: if any member (or an origin between
steps 1 and 3) crashes, messages stay undeliverable at the head of the queues and
delivery stops everywhere. The real ISIS system removed crashed members from the group
with a membership service (virtual synchrony); this teaching version does not.

Both run over lossy links by re-sending until acknowledged (see
:mod:`dsys.messaging.links`), and both give, when nothing crashes: validity, no
duplication, no creation, agreement and (uniform) total order. Neither gives FIFO order
from the same sender in general: in ISIS two messages from one origin can be agreed in
either order (combine with a FIFO layer if you need both).

Example:
    >>> from dsys import Network, Node, Simulation
    >>> from dsys.messaging import IsisBroadcast
    >>> class Replica(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.tob = self.add_component(IsisBroadcast())
    ...     def on_start(self) -> None:
    ...         self.tob.broadcast(f"set x={self.id}")    # everyone writes at once
    >>> sim = Simulation(seed=4, network=Network(drop=0.2, reorder=0.5))
    >>> for name in ("a", "b", "c"):
    ...     sim.add_node(name, Replica)
    >>> sim.run(until=2.0)
    >>> orders = {name: tuple(sim.node(name).tob.payloads) for name in ("a", "b", "c")}
    >>> len(set(orders.values())), len(orders["a"])         # one order, three writes
    (1, 3)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from dsys.core.messages import message
from dsys.messaging.broadcast import Broadcast, DeliverCallback, message_id
from dsys.messaging.links import Retransmitter

# ===== fixed sequencer ======================================================================

# ----- messages ----------------------------------------------------------------------------


@message
class SequencerRequest:
    """Origin -> sequencer: please number this message."""

    origin: str
    epoch: int
    seq: int
    payload: Any


@message
class Ordered:
    """Sequencer -> every member: message ``id`` is number ``number`` of the total order."""

    number: int
    id: str
    origin: str
    payload: Any


@message
class OrderedAck:
    """Member -> sequencer: "I have number ``number``" (stops its retransmission)."""

    number: int


# ----- the protocol --------------------------------------------------------------------------


class SequencerBroadcast(Broadcast):
    """Total order broadcast through a fixed sequencer; see the module docstring.

    Its ``guarantees`` hold under loss, duplication, reordering and crashes of ordinary
    members, as long as the sequencer is up or comes back (safety holds regardless).

    Args:
        on_deliver: called with each :class:`~dsys.messaging.broadcast.Delivery`.
        group: the member ids (default: this node and all its peers).
        sequencer: the member that numbers messages (default: the smallest member id).
        resend: seconds between retransmissions.
    """

    messages = (SequencerRequest, Ordered, OrderedAck)
    default_name = "seqbcast"
    guarantees = ("validity", "no-duplication", "no-creation", "agreement", "total-order")

    links: Retransmitter
    next_number: int  # sequencer: the number the next new message gets
    numbers: dict[str, int]  # sequencer: message id -> its number
    next_to_deliver: int  # every member: the number it delivers next
    held_back: dict[int, Ordered]  # every member: numbered messages that came early

    def __init__(self, on_deliver: DeliverCallback | None = None, *,
                 group: Iterable[str] | None = None, sequencer: str | None = None,
                 resend: float = 0.05) -> None:
        super().__init__(on_deliver, group=group)
        self._sequencer = sequencer
        self.resend = resend

    @property
    def sequencer(self) -> str:
        """The id of the member that numbers the messages."""
        return self._sequencer or self.members[0]

    def on_start(self) -> None:
        super().on_start()
        self.links = Retransmitter(self, self.resend)
        self.next_number = 0
        self.numbers = {}
        self.next_to_deliver = 0
        self.held_back = {}
        if self.id == self.sequencer and self.storage.get(f"{self.name}/next", 0):
            # A restarted sequencer: reload its numbering now (it must never give a number
            # twice); it re-sends the log in on_started, once the application is up too.
            self.next_number = int(self.storage[f"{self.name}/next"])
            for number in range(self.next_number):
                mid = self.storage[f"{self.name}/log/{number}"][0]
                self.numbers[mid] = number

    def on_started(self) -> None:
        if self.id == self.sequencer and self.next_number:
            self._resend_log()

    # ----- interface ----------------------------------------------------------------------

    def on_broadcast(self, seq: int, payload: Any) -> None:
        request = SequencerRequest(self.id, self.epoch, seq, payload)
        if self.id == self.sequencer:
            self._assign(request)
        else:
            # Re-sent until the numbered message comes back to us (that is the ack).
            self.links.send(self.sequencer, message_id(self.id, self.epoch, seq), request)

    # ----- handlers -------------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case SequencerRequest() if self.id == self.sequencer:
                self._assign(msg)
            case Ordered():
                self.send(src, OrderedAck(msg.number))
                if msg.origin == self.id:
                    self.links.acknowledged(src, msg.id)  # our request was numbered
                self._receive(msg)
            case OrderedAck():
                self.links.acknowledged(src, f"#{msg.number}")

    def on_timer(self, name: str) -> None:
        if name == self.links.timer:
            self.links.on_timer()

    # ----- helpers ------------------------------------------------------------------------------

    def _assign(self, request: SequencerRequest) -> None:
        """Sequencer: number a request (once, however often it arrives) and announce it."""
        mid = message_id(request.origin, request.epoch, request.seq)
        if mid in self.numbers:
            return  # a retransmission: its Ordered message is already being re-sent
        ordered = Ordered(self.next_number, mid, request.origin, request.payload)
        self.numbers[mid] = ordered.number
        self.next_number += 1
        # The log is durable before anyone learns the number: a restarted sequencer must
        # never give this number to another message, nor this message another number.
        self.storage[f"{self.name}/log/{ordered.number}"] = [mid, ordered.origin,
                                                              ordered.payload]
        self.storage[f"{self.name}/next"] = self.next_number
        self.storage.sync()
        self._announce(ordered)

    def _announce(self, ordered: Ordered) -> None:
        for member in self.others:
            self.links.send(member, f"#{ordered.number}", ordered)
        self._receive(ordered)

    def _resend_log(self) -> None:
        """Sequencer restart: re-send the whole log (we cannot know who acknowledged what
        before the crash; members ignore what they have) and deliver it ourselves."""
        for number in range(self.next_number):
            mid, origin, payload = self.storage[f"{self.name}/log/{number}"]
            if number >= self.next_to_deliver:
                self._announce(Ordered(number, mid, origin, payload))

    def _receive(self, ordered: Ordered) -> None:
        """Every member: hold back ``ordered`` until all smaller numbers are delivered."""
        if ordered.number < self.next_to_deliver:
            return  # delivered already
        self.held_back[ordered.number] = ordered
        while self.next_to_deliver in self.held_back:
            ready = self.held_back.pop(self.next_to_deliver)
            self.next_to_deliver += 1  # before delivering: on_deliver may broadcast
            self.deliver(ready.id, ready.origin, ready.payload)


# ===== ISIS: agreed Lamport timestamps ======================================================

# ----- messages ----------------------------------------------------------------------------


@message
class IsisMessage:
    """Origin -> every member: a new message, please propose a timestamp for it."""

    origin: str
    epoch: int
    seq: int
    payload: Any


@message
class IsisProposal:
    """Member -> origin: my proposed timestamp for message ``id`` (also the ack of it)."""

    id: str
    timestamp: int


@message
class IsisFinal:
    """Origin -> every member: the agreed timestamp of ``id`` (the largest proposal,
    made by ``proposer``)."""

    id: str
    timestamp: int
    proposer: str


@message
class IsisFinalAck:
    """Member -> origin: "I have the agreed timestamp of ``id``"."""

    id: str


# ----- state -----------------------------------------------------------------------------------


@attrs.define
class HeldMessage:
    """A message in an ISIS member's hold-back queue."""

    id: str
    origin: str
    payload: Any
    timestamp: int  # proposed, then agreed
    proposer: str  # whose proposal the timestamp is: breaks ties between equal timestamps
    deliverable: bool = False  # True once the timestamp is the agreed one

    @property
    def priority(self) -> tuple[int, str]:
        """The queue order: by timestamp, then by proposer id."""
        return (self.timestamp, self.proposer)


# ----- the protocol --------------------------------------------------------------------------


class IsisBroadcast(Broadcast):
    """Total order broadcast by agreed timestamps (ISIS); see the module docstring.

    Its ``guarantees`` hold under loss, duplication and reordering while no member
    crashes: a crash leaves messages undeliverable and stops delivery (safety remains).

    Args:
        on_deliver: called with each :class:`~dsys.messaging.broadcast.Delivery`.
        group: the member ids (default: this node and all its peers).
        resend: seconds between retransmissions.
    """

    messages = (IsisMessage, IsisProposal, IsisFinal, IsisFinalAck)
    default_name = "isis"
    guarantees = ("validity", "no-duplication", "no-creation", "agreement", "total-order")

    links: Retransmitter
    clock: int  # the largest timestamp proposed or agreed here (a Lamport clock)
    queue: dict[str, HeldMessage]  # the hold-back queue, by message id
    proposals: dict[str, dict[str, int]]  # as origin: message id -> {member: proposal}

    def __init__(self, on_deliver: DeliverCallback | None = None, *,
                 group: Iterable[str] | None = None, resend: float = 0.05) -> None:
        super().__init__(on_deliver, group=group)
        self.resend = resend

    def on_start(self) -> None:
        super().on_start()
        self.links = Retransmitter(self, self.resend)
        self.clock = 0
        self.queue = {}
        self.proposals = {}

    # ----- interface ----------------------------------------------------------------------

    def on_broadcast(self, seq: int, payload: Any) -> None:
        msg = IsisMessage(self.id, self.epoch, seq, payload)
        mid = message_id(self.id, self.epoch, seq)
        self.proposals[mid] = {}
        for member in self.others:
            self.links.send(member, mid, msg)  # re-sent until the member's proposal comes
        self._record_proposal(mid, self.id, self._propose(msg))  # step 2, for ourselves

    # ----- handlers -------------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case IsisMessage():
                mid = message_id(msg.origin, msg.epoch, msg.seq)
                if mid in self.delivered_ids:
                    return  # a stale copy: the origin has our proposal (it agreed already)
                self.send(src, IsisProposal(mid, self._propose(msg)))
            case IsisProposal():
                self.links.acknowledged(src, msg.id)
                self._record_proposal(msg.id, src, msg.timestamp)
            case IsisFinal():
                self.send(src, IsisFinalAck(msg.id))
                self._agree(msg.id, msg.timestamp, msg.proposer)
            case IsisFinalAck():
                self.links.acknowledged(src, f"final:{msg.id}")

    def on_timer(self, name: str) -> None:
        if name == self.links.timer:
            self.links.on_timer()

    # ----- helpers ------------------------------------------------------------------------------

    def _propose(self, msg: IsisMessage) -> int:
        """Step 2: queue ``msg`` as undeliverable with a fresh timestamp (or, for a copy
        we have seen, the same one again) and return that proposal."""
        mid = message_id(msg.origin, msg.epoch, msg.seq)
        held = self.queue.get(mid)
        if held is not None:
            return held.timestamp  # a retransmission: our proposal did not arrive
        self.clock += 1
        self.queue[mid] = HeldMessage(mid, msg.origin, msg.payload, self.clock, self.id)
        return self.clock

    def _record_proposal(self, mid: str, member: str, timestamp: int) -> None:
        """Step 3, at the origin: once every member has proposed, agree on the largest."""
        waiting = self.proposals.get(mid)
        if waiting is None or member in waiting:
            return  # already agreed, or a repeated proposal
        waiting[member] = timestamp
        if len(waiting) < len(self.members):
            return
        del self.proposals[mid]
        timestamp, proposer = max((ts, node) for node, ts in waiting.items())
        for other in self.others:
            self.links.send(other, f"final:{mid}", IsisFinal(mid, timestamp, proposer))
        self._agree(mid, timestamp, proposer)

    def _agree(self, mid: str, timestamp: int, proposer: str) -> None:
        """Step 4: the message gets its agreed place; deliver what has become deliverable."""
        self.clock = max(self.clock, timestamp)
        held = self.queue.get(mid)
        if held is None:
            return  # delivered already (or, after a restart, never received)
        held.timestamp, held.proposer, held.deliverable = timestamp, proposer, True
        while self.queue:
            head = min(self.queue.values(), key=lambda m: m.priority)
            if not head.deliverable:
                break  # it may still move later; everything behind it waits
            del self.queue[head.id]
            self.deliver(head.id, head.origin, head.payload)
