"""FIFO broadcast: reliable broadcast that keeps each sender's order (Cachin et al. Alg. 3.12).

*FIFO delivery*: if a member broadcasts ``m1`` before ``m2``, no member delivers ``m2``
unless it has already delivered ``m1``. Messages of *different* senders may be delivered
in different orders by different members, and a reply may be delivered before the message
it answers (see :mod:`dsys.messaging.causal` for why that matters).

How: each message carries its sender's sequence number. Messages come from reliable
broadcast in any order (the network reorders and loses); each member keeps, per sender,
the next number it expects and a *hold-back queue* of the messages that arrived early, and
delivers from the queue as soon as the gap is filled. A sender is one incarnation of a
node: after a restart a node numbers its messages from 0 in a new epoch (a new "sender").

Guarantees: those of :class:`~dsys.messaging.reliable.ReliableBroadcast` (validity,
no duplication, no creation, non-uniform agreement) plus FIFO order. If a sender crashes
and one of its messages is lost for good, its later messages wait forever: FIFO order
forbids skipping the gap.

Example:
    >>> from dsys import Network, Node, Simulation
    >>> from dsys.messaging import FifoBroadcast
    >>> class Member(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.fifo = self.add_component(FifoBroadcast())
    ...     def on_start(self) -> None:
    ...         if self.id == "a":
    ...             for word in ("one", "two", "three"):
    ...                 self.fifo.broadcast(word)
    >>> sim = Simulation(seed=3, network=Network(reorder=0.5, drop=0.2))
    >>> for name in ("a", "b", "c"):
    ...     sim.add_node(name, Member)
    >>> sim.run(until=2.0)
    >>> sim.node("c").fifo.payloads
    ['one', 'two', 'three']
"""

from __future__ import annotations

from typing import Any

from dsys.messaging.broadcast import message_id
from dsys.messaging.reliable import RbAck, RbMessage, ReliableBroadcast

# FIFO broadcast sends reliable broadcast's own messages (:class:`RbMessage` carries the
# sender's sequence number already, and :class:`RbAck`); routing by component name keeps
# them apart from another broadcast component's on the same node. The old names stay as
# aliases.
FifoMessage = RbMessage
FifoAck = RbAck


# ----- the protocol --------------------------------------------------------------------------


class FifoBroadcast(ReliableBroadcast):
    """Reliable broadcast delivering each sender's messages in the order it sent them."""

    default_name = "fifo"
    guarantees = ("validity", "no-duplication", "no-creation", "agreement", "fifo-order")

    next_expected: dict[str, int]
    held_back: dict[str, dict[int, RbMessage]]

    def on_start(self) -> None:
        super().on_start()
        self.next_expected = {}  # sender ("origin:epoch") -> next seq to deliver
        self.held_back = {}  # sender -> {seq: message that arrived before its turn}

    def rb_deliver(self, msg: Any) -> None:
        sender = f"{msg.origin}:{msg.epoch}"
        queue = self.held_back.setdefault(sender, {})
        queue[msg.seq] = msg
        # Deliver every message whose predecessors have all been delivered. The state is
        # updated before each delivery: the application may broadcast from on_deliver,
        # which runs this method again before the loop goes on.
        while (ready := queue.pop(self.next_expected.get(sender, 0), None)) is not None:
            self.next_expected[sender] = ready.seq + 1
            self.deliver(message_id(ready.origin, ready.epoch, ready.seq), ready.origin,
                         ready.payload)
