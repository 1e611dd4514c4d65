"""Causal broadcast with vector clocks (Cachin et al. 2011, Alg. 3.15 "waiting causal
broadcast"; Birman, Schiper and Stephenson, *Lightweight causal and atomic group
multicast*, ACM TOCS 9(3), 1991).

*Causal order*: if the broadcast of ``m1`` happened before the broadcast of ``m2``, no
member delivers ``m2`` unless it has already delivered ``m1``. "Happened before" is
Lamport's relation on broadcasts: ``m1`` and ``m2`` were broadcast by the same member in
that order (FIFO order is a special case), or the sender of ``m2`` had delivered ``m1``
before broadcasting ``m2``, or a chain of those. So a reply is never delivered before the
question it answers, which FIFO order allows (see ``dsys demo causal``).

How. Each member keeps a vector clock ``delivered_clock``: for each sender, how many of
its messages it has delivered. A broadcast carries the sender's clock at that moment,
which says exactly which messages it depends on: ``W[s]`` messages of each sender ``s``
(for the sender itself, ``W`` counts its own earlier messages). A member holds a message
back until its own clock has caught up, ``W <= delivered_clock``, then delivers it and
increments the entry of its sender. Delivering one message may unblock others, so it
looks through the hold-back queue again until nothing more can go.

A *sender* is one incarnation of a node (``"origin:epoch"``): a restarted node counts
its messages from zero again, as a new sender.

Guarantees: those of :class:`~dsys.messaging.reliable.ReliableBroadcast` (validity, no
duplication, no creation, non-uniform agreement; messages travel by eager relay, re-sent
until acknowledged), plus causal order. Concurrent messages (neither happened before the
other) may be delivered in different orders by different members: causal order is a
partial order, not a total one.

Example:
    >>> from dsys import Network, Node, Simulation
    >>> from dsys.messaging import CausalBroadcast, Delivery
    >>> class Chat(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.chat = self.add_component(CausalBroadcast(on_deliver=self.heard))
    ...     def on_start(self) -> None:
    ...         if self.id == "alice":
    ...             self.chat.broadcast("lunch?")
    ...     def heard(self, d: Delivery) -> None:
    ...         if self.id == "bob" and d.payload == "lunch?":
    ...             self.chat.broadcast("yes!")        # a reply: causally after
    >>> sim = Simulation(seed=6, network=Network(reorder=0.5, reorder_delay=0.2))
    >>> for name in ("alice", "bob", "carol"):
    ...     sim.add_node(name, Chat)
    >>> sim.run(until=2.0)
    >>> sim.node("carol").chat.payloads                  # never "yes!" first
    ['lunch?', 'yes!']
"""

from __future__ import annotations

from typing import Any

from dsys.clocks import VectorClock
from dsys.core.messages import message
from dsys.messaging.broadcast import message_id
from dsys.messaging.reliable import RbAck, ReliableBroadcast

# ----- messages ----------------------------------------------------------------------------


@message
class CausalMessage:
    """A causal-broadcast message; ``clock`` lists, per sender (``"origin:epoch"``), how
    many of its messages must be delivered before this one (as sorted pairs)."""

    origin: str
    epoch: int
    seq: int
    clock: tuple[tuple[str, int], ...]
    payload: Any


#: Causal broadcast acknowledges with reliable broadcast's :class:`RbAck` (routing by
#: component name keeps it apart); the old name stays as an alias.
CausalAck = RbAck


# ----- the protocol --------------------------------------------------------------------------


class CausalBroadcast(ReliableBroadcast):
    """Reliable broadcast delivering in causal order, by vector clocks."""

    messages = (CausalMessage, RbAck)
    default_name = "causal"
    guarantees = ("validity", "no-duplication", "no-creation", "agreement", "fifo-order",
                  "causal-order")

    delivered_clock: VectorClock
    held_back: list[CausalMessage]

    def on_start(self) -> None:
        super().on_start()
        self.delivered_clock = VectorClock()  # sender -> messages delivered from it
        self.held_back = []  # received, waiting for the messages they depend on

    @property
    def sender(self) -> str:
        """This incarnation's name in vector clocks: ``"origin:epoch"``."""
        return f"{self.id}:{self.epoch}"

    def make_message(self, seq: int, payload: Any) -> CausalMessage:
        # This message depends on everything we have delivered, and on all our own earlier
        # messages: ``seq`` of them. (Not "the own messages we delivered": if we broadcast
        # from on_deliver, our previous message may still be waiting in our own queue.)
        depends = self.delivered_clock.to_json()
        depends[self.sender] = seq
        clock = tuple(sorted((sender, n) for sender, n in depends.items() if n))
        return CausalMessage(self.id, self.epoch, seq, clock, payload)

    def rb_deliver(self, msg: Any) -> None:
        self.held_back.append(msg)
        # Delivering one message may make others deliverable: look again after each.
        while (ready := self._deliverable()) is not None:
            self.held_back.remove(ready)
            # Count it before the application sees it: if on_deliver broadcasts a reply,
            # the reply's clock must say that it depends on this message.
            sender = f"{ready.origin}:{ready.epoch}"
            self.delivered_clock = self.delivered_clock.increment(sender)
            self.deliver(message_id(ready.origin, ready.epoch, ready.seq), ready.origin,
                         ready.payload)

    def _deliverable(self) -> CausalMessage | None:
        """The first held-back message whose dependencies have all been delivered."""
        for waiting in self.held_back:
            if VectorClock(dict(waiting.clock)) <= self.delivered_clock:
                return waiting
        return None
