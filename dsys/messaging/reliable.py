"""Reliable broadcast by eager relay (Cachin, Guerraoui and Rodrigues 2011, Alg. 3.3).

The idea in one sentence: *the first time you see a message, deliver it and pass it on to
everyone*. If even one correct member delivers a message, it relays it to all the others,
so a sender that crashes half-way through its broadcast cannot leave the group split.

The book's algorithm runs on *perfect links* (no loss). The simulated network loses
messages, so each relay is re-sent until the receiver acknowledges it (a
:class:`~dsys.messaging.links.Retransmitter`), and the receiver ignores copies it has seen.

Guarantees (with crash-stop members; a restarted node counts as a new member that joined
late and missed earlier messages):

* **validity**: a correct member delivers its own messages (at once), and every correct
  member eventually delivers them;
* **no duplication** and **no creation**, as in best-effort broadcast;
* **agreement** (*non-uniform*): if a correct member delivers a message, every correct
  member eventually does. It is not *uniform*: a member may deliver a message, relay it,
  and crash before any relay got through (all copies lost); then it delivered something
  no one else ever will. Uniform reliable broadcast (Alg. 3.4) waits until a majority
  has the message before delivering it.

No ordering: two members may deliver the same messages in different orders. The
subclasses :class:`~dsys.messaging.fifo.FifoBroadcast` and
:class:`~dsys.messaging.causal.CausalBroadcast` add order on top, by overriding two hooks:
:meth:`ReliableBroadcast.make_message` (what goes on the wire) and
:meth:`ReliableBroadcast.rb_deliver` (what to do with a message the first time it arrives).

Cost: every member relays every message to every other member: about ``n**2`` messages
per broadcast (plus acknowledgements), the price of tolerating crashed senders. Memory:
each member remembers the id of every message it has seen, forever (a real system forgets
an id once every member has acknowledged it, or keeps only a per-sender high-water mark).

Example:
    >>> from dsys import Network, Node, Simulation
    >>> from dsys.messaging import ReliableBroadcast
    >>> class Member(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.rb = self.add_component(ReliableBroadcast())
    ...     def on_start(self) -> None:
    ...         if self.id == "a":
    ...             self.rb.broadcast("hello")
    >>> sim = Simulation(seed=2, network=Network(drop=0.5))   # half the messages are lost
    >>> for name in ("a", "b", "c", "d"):
    ...     sim.add_node(name, Member)
    >>> sim.run(until=2.0)
    >>> [sim.node(n).rb.payloads for n in ("a", "b", "c", "d")]
    [['hello'], ['hello'], ['hello'], ['hello']]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from dsys.core.messages import message
from dsys.messaging.broadcast import Broadcast, DeliverCallback, message_id
from dsys.messaging.links import Retransmitter

# ----- messages ----------------------------------------------------------------------------


@message
class RbMessage:
    """A reliably broadcast message, as sent by its origin or relayed by any member."""

    origin: str
    epoch: int
    seq: int
    payload: Any


@message
class RbAck:
    """"I have message ``id``": stops the sender's retransmissions of it."""

    id: str


# ----- the protocol --------------------------------------------------------------------------


class ReliableBroadcast(Broadcast):
    """Eager reliable broadcast; see the module docstring for its guarantees.

    Args:
        on_deliver: called with each :class:`~dsys.messaging.broadcast.Delivery`.
        group: the member ids (default: this node and all its peers).
        resend: seconds between retransmissions of an unacknowledged relay.

    Subclasses change the delivery rule through :meth:`rb_deliver` and, if they need more
    fields, the message through :meth:`make_message` (it must keep ``origin``, ``epoch``,
    ``seq`` and ``payload``). Messages are routed by the component's name, so several
    protocols (or two groups of one protocol) share a node with the same message types.
    """

    messages: ClassVar[tuple[type, ...]] = (RbMessage, RbAck)
    default_name = "rb"
    guarantees: ClassVar[tuple[str, ...]] = (
        "validity", "no-duplication", "no-creation", "agreement")

    seen: set[str]
    links: Retransmitter

    def __init__(self, on_deliver: DeliverCallback | None = None, *,
                 group: Iterable[str] | None = None, resend: float = 0.05) -> None:
        super().__init__(on_deliver, group=group)
        self.resend = resend

    def on_start(self) -> None:
        super().on_start()
        self.seen = set()  # ids of the messages received (and relayed) so far
        self.links = Retransmitter(self, self.resend)

    # ----- interface ----------------------------------------------------------------------

    def on_broadcast(self, seq: int, payload: Any) -> None:
        self.relay(self.id, self.make_message(seq, payload))  # as if we had received it

    # ----- handlers -------------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, RbAck):
            self.links.acknowledged(src, msg.id)
            return
        # Acknowledge every copy, even a duplicate: our earlier ack may have been lost.
        self.send(src, RbAck(message_id(msg.origin, msg.epoch, msg.seq)))
        self.relay(src, msg)

    def on_timer(self, name: str) -> None:
        if name == self.links.timer:
            self.links.on_timer()

    # ----- helpers ------------------------------------------------------------------------------

    def relay(self, src: str, msg: Any) -> None:
        """First sight of ``msg``: pass it on to everyone who may not have it, then
        hand it to :meth:`rb_deliver`. Later copies are ignored."""
        mid = message_id(msg.origin, msg.epoch, msg.seq)
        if mid in self.seen:
            return
        self.seen.add(mid)
        for member in self.others:
            # The node we got it from, and its origin, have it already.
            if member != src and member != msg.origin:
                self.links.send(member, mid, msg)
        self.rb_deliver(msg)

    def make_message(self, seq: int, payload: Any) -> Any:
        """The message that carries our broadcast number ``seq`` (subclasses add fields)."""
        return RbMessage(self.id, self.epoch, seq, payload)

    def rb_deliver(self, msg: Any) -> None:
        """Called once per message, when it first arrives. Reliable broadcast delivers at
        once; ordered broadcasts hold it back until its turn."""
        self.deliver(message_id(msg.origin, msg.epoch, msg.seq), msg.origin, msg.payload)
