"""Broadcast: what every broadcast protocol shares, and best-effort broadcast.

A *broadcast* sends one message to every member of a group. Protocols differ in what they
promise when messages are lost or processes crash (*reliability*) and in the order in
which members deliver messages (*ordering*). This package has one component per
textbook algorithm, all with the same interface, so they can be swapped in one line:

- :class:`BestEffortBroadcast`: each message sent once to each member (Cachin et al.
  Alg. 3.1);
- :class:`~dsys.messaging.reliable.ReliableBroadcast`: eager relay and retransmission: all
  correct members agree (Alg. 3.3);
- :class:`~dsys.messaging.fifo.FifoBroadcast`: reliable, and each sender's messages in
  send order (Alg. 3.12);
- :class:`~dsys.messaging.causal.CausalBroadcast`: reliable, in causal order, with vector
  clocks (Alg. 3.15);
- :class:`~dsys.messaging.total_order.SequencerBroadcast`: total order from a fixed
  sequencer (Défago et al. 2004, §4.1);
- :class:`~dsys.messaging.total_order.IsisBroadcast`: total order by agreed Lamport
  timestamps (Birman and Joseph 1987).

Book references are to Cachin, Guerraoui and Rodrigues, *Introduction to Reliable and
Secure Distributed Programming*, 2nd ed., 2011.

The interface. ``broadcast(payload)`` sends a payload (a JSON value: number, string,
bool, None, or lists and dicts of those) and returns the message's id; every member then
*delivers* it, which means: it is appended to ``delivered``, passed to the ``on_deliver``
callback if one was given, and recorded in the trace. A member delivers its own messages
too. Message ids are ``"origin:epoch:seq"`` (:func:`dsys.core.ids.message_id`, the one
format dsys uses), e.g. ``"n1:1:0"``: the first message of ``n1``'s first incarnation (see
:func:`~dsys.messaging.links.next_epoch`).

What the trace shows. Each component records ``note("broadcast", id=..., payload=...)``
when it broadcasts and ``note("deliver", id=..., origin=..., payload=...)`` when it
delivers, so :mod:`dsys.messaging.checkers` can judge a run from its trace alone.

Example:
    >>> from dsys import Node, Simulation
    >>> from dsys.messaging import BestEffortBroadcast
    >>> class Member(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.bcast = self.add_component(BestEffortBroadcast())
    ...     def on_start(self) -> None:
    ...         if self.id == "a":
    ...             self.bcast.broadcast("hello")
    >>> sim = Simulation(seed=1)
    >>> for name in ("a", "b", "c"):
    ...     sim.add_node(name, Member)
    >>> sim.run(until=1.0)
    >>> [d.payload for d in sim.node("c").bcast.delivered]
    ['hello']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import attrs

from dsys.core.ids import message_id
from dsys.core.messages import message
from dsys.core.node import Component
from dsys.messaging.links import next_epoch


@attrs.frozen
class Delivery:
    """One delivered message: its id, the node that broadcast it, and its payload."""

    id: str
    origin: str
    payload: Any


#: The type of an ``on_deliver`` callback.
DeliverCallback = Callable[[Delivery], None]


class Broadcast(Component):
    """The base of every broadcast component: group, ids, delivery and trace notes.

    Subclasses implement :meth:`on_broadcast` (what to send when the application
    broadcasts) and their message handlers, and call :meth:`deliver` when the protocol
    lets a message be delivered.

    Args:
        on_deliver: called with a :class:`Delivery` each time a message is delivered.
        group: the member node ids (default: this node and all its peers).
    """

    #: The properties (names from :data:`dsys.messaging.checkers.PROPERTIES`) this protocol
    #: promises on a network that loses, duplicates and reorders messages, with members
    #: that may crash (and stay down); each class's docstring says when they hold.
    guarantees: ClassVar[tuple[str, ...]] = ()

    epoch: int
    next_seq: int
    delivered: list[Delivery]
    delivered_ids: set[str]

    def __init__(self, on_deliver: DeliverCallback | None = None, *,
                 group: Iterable[str] | None = None) -> None:
        self.on_deliver = on_deliver
        self._group = tuple(sorted(group)) if group is not None else None

    def on_start(self) -> None:
        # A fresh incarnation: a new epoch (so its message ids are new), nothing delivered.
        self.epoch = next_epoch(self.storage, f"{self.name}/epoch")
        self.next_seq = 0
        self.delivered = []
        self.delivered_ids = set()

    @property
    def members(self) -> tuple[str, ...]:
        """Every member of the group, this node included, sorted."""
        if self._group is not None:
            return self._group
        return tuple(sorted((self.id, *self.peers)))

    @property
    def others(self) -> tuple[str, ...]:
        """The members other than this node, sorted."""
        me = self.id
        return tuple(m for m in self.members if m != me)

    # In a broadcast component, "broadcast" means the protocol's broadcast, as in the
    # textbooks (a component sends one message to every peer with send_to_peers).
    def broadcast(self, payload: Any) -> str:
        """Broadcast ``payload`` (a JSON value) to the group; return the message id.

        Numbers the message, records the ``broadcast`` note, and hands it to the
        protocol's :meth:`on_broadcast`.
        """
        seq = self.next_seq
        self.next_seq += 1
        mid = message_id(self.id, self.epoch, seq)
        self.note("broadcast", id=mid, payload=payload)
        self.on_broadcast(seq, payload)
        return mid

    # ----- for subclasses -------------------------------------------------------------------

    def on_broadcast(self, seq: int, payload: Any) -> None:
        """The protocol's part of a broadcast: message ``seq`` of this incarnation (its id
        is ``message_id(self.id, self.epoch, seq)``) carries ``payload``. Textbooks write
        this as "upon event <Broadcast | m>"."""
        raise NotImplementedError(f"{type(self).__name__} must implement on_broadcast()")

    def deliver(self, mid: str, origin: str, payload: Any) -> None:
        """Deliver message ``mid`` to the application (record, trace, callback).

        The callback may broadcast: protocols update their state before calling this.
        """
        delivery = Delivery(mid, origin, payload)
        self.delivered.append(delivery)
        self.delivered_ids.add(mid)
        self.note("deliver", id=mid, origin=origin, payload=payload)
        if self.on_deliver is not None:
            self.on_deliver(delivery)

    @property
    def payloads(self) -> list[Any]:
        """The payloads delivered so far, in delivery order."""
        return [d.payload for d in self.delivered]


# ----- best-effort broadcast ---------------------------------------------------------------


@message
class BebMessage:
    """A best-effort broadcast message (the id is ``origin:epoch:seq``)."""

    origin: str
    epoch: int
    seq: int
    payload: Any


class BestEffortBroadcast(Broadcast):
    """Best-effort broadcast: send the message once to every member (Cachin et al. Alg. 3.1).

    Guarantees, on this simulator's network:

    * **no duplication**: a member delivers a message at most once (duplicates the network
      makes are recognised by id and ignored);
    * **no creation**: only messages someone broadcast are delivered;
    * **validity only if no message is lost**: if the sender is correct and the links are
      reliable, every correct member delivers. One lost copy and that member never gets
      it; if the sender crashes half-way, some members get it and others never will.
      :class:`~dsys.messaging.reliable.ReliableBroadcast` fixes both.

    Example:
        >>> from dsys.messaging import BestEffortBroadcast
        >>> beb = BestEffortBroadcast(on_deliver=lambda d: print(d.payload))
    """

    messages = (BebMessage,)
    default_name = "beb"
    guarantees = ("no-duplication", "no-creation")

    def on_broadcast(self, seq: int, payload: Any) -> None:
        msg = BebMessage(self.id, self.epoch, seq, payload)
        for member in self.others:
            self.send(member, msg)
        self.deliver(message_id(self.id, self.epoch, seq), self.id, payload)  # no network

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, BebMessage):
            mid = message_id(msg.origin, msg.epoch, msg.seq)
            if mid not in self.delivered_ids:
                self.deliver(mid, msg.origin, msg.payload)
