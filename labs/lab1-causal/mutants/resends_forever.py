"""Mutant: a member sends its latest message again every 200 ms, for ever.

"In case it was lost", it re-sends the last message it broadcast to every other member, on
a timer. The network of this lab loses nothing, so that is useless but harmless: the copies
are recognized and dropped. But it never stops: long after everything is delivered, the
members still talk.

Caught by ``quiet_when_done``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from dsys import Node, message
from dsys.clocks import Order

#: What the application gives a member: called with the origin and the payload of each
#: message the member delivers (its own included).
DeliverCallback = Callable[[str, str], None]


# ----- part 1: vector clocks -------------------------------------------------------------


class VectorClock:
    """An immutable vector timestamp: node id -> count. Missing entries are 0."""

    __slots__ = ("_entries",)

    _entries: dict[str, int]

    def __init__(self, entries: Mapping[str, int] | None = None) -> None:
        # Sorted, without zeros: one form per clock, so == and repr do not depend on the
        # order entries were added in.
        self._entries = {node: count for node, count in sorted((entries or {}).items())
                         if count}

    def get(self, node: str) -> int:
        """The entry of ``node`` (0 if this clock has never heard of it)."""
        return self._entries.get(node, 0)

    def items(self) -> Iterator[tuple[str, int]]:
        """The non-zero ``(node, count)`` entries, in sorted node order."""
        return iter(self._entries.items())

    def increment(self, node: str) -> VectorClock:
        """A new clock with ``node``'s entry one higher."""
        entries = dict(self._entries)
        entries[node] = entries.get(node, 0) + 1
        return type(self)(entries)

    def merge(self, other: VectorClock) -> VectorClock:
        """A new clock: the pointwise maximum of this clock and ``other``."""
        entries = dict(self._entries)
        for node, count in other.items():
            entries[node] = max(entries.get(node, 0), count)
        return type(self)(entries)

    def compare(self, other: VectorClock) -> Order:
        """BEFORE, AFTER, EQUAL or CONCURRENT: how this clock relates to ``other``."""
        nodes = set(self._entries) | {node for node, _ in other.items()}
        smaller = any(self.get(node) < other.get(node) for node in nodes)
        larger = any(self.get(node) > other.get(node) for node in nodes)
        if smaller and larger:
            return Order.CONCURRENT
        if smaller:
            return Order.BEFORE
        if larger:
            return Order.AFTER
        return Order.EQUAL

    # ----- given in the starter: the wire form, equality, repr ---------------------------

    def to_wire(self) -> tuple[tuple[str, int], ...]:
        """The clock as sorted ``(node, count)`` pairs, to carry in a message."""
        return tuple(self._entries.items())

    @classmethod
    def from_wire(cls, pairs: Iterable[tuple[str, int]]) -> VectorClock:
        """The clock that :meth:`to_wire` gave ``pairs``."""
        return cls(dict(pairs))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VectorClock):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    def __hash__(self) -> int:
        return hash(tuple(self.items()))

    def __repr__(self) -> str:
        return "VC(" + ", ".join(f"{node}={count}" for node, count in self.items()) + ")"


# ----- part 2: causal broadcast -----------------------------------------------------------


@message
class CausalMessage:
    """A broadcast message: its origin, its stamp (the origin's vector clock when it
    broadcast it, as :meth:`VectorClock.to_wire` pairs) and its payload."""

    origin: str
    stamp: tuple[tuple[str, int], ...]
    payload: str

    @property
    def timestamp(self) -> VectorClock:
        """The stamp, as a vector clock."""
        return VectorClock.from_wire(self.stamp)

    @property
    def id(self) -> str:
        """``origin:n`` for the ``n``-th message of ``origin`` (its own stamp entry)."""
        return f"{self.origin}:{dict(self.stamp).get(self.origin, 0)}"


class Member(Node):
    """A member of the group: broadcasts, and delivers everyone's messages in causal order."""

    def __init__(self, on_deliver: DeliverCallback | None = None) -> None:
        super().__init__()
        self.on_deliver = on_deliver
        # clock[j]: how many of j's messages this member has delivered (its own included).
        self.clock = VectorClock()
        # Received, not yet deliverable: waiting for messages they depend on.
        self.held_back: list[CausalMessage] = []
        self.delivered: list[CausalMessage] = []
        self.mine: list[CausalMessage] = []

    # ----- broadcasting -------------------------------------------------------------------

    # This replaces Node.broadcast (send one message to every peer): in a broadcast
    # protocol, "broadcast" means the protocol's broadcast, as in the textbooks.
    def broadcast(self, payload: str) -> str:  # type: ignore[override]
        """Broadcast ``payload`` to the group (this member delivers it at once); return its
        id."""
        # A broadcast is the next message of this member: tick first, so the stamp counts
        # it (stamp[self] == n for the n-th) and says what it depends on.
        self.clock = self.clock.increment(self.id)
        msg = CausalMessage(self.id, self.clock.to_wire(), payload)
        self.note("broadcast", id=msg.id, payload=payload)
        for peer in self.peers:
            self.send(peer, msg)
        self.mine.append(msg)
        self.set_timer("resend", 0.2)
        self.deliver(msg)  # already counted by the tick above
        return msg.id

    def on_timer(self, name: str) -> None:
        if name == "resend":
            for peer in self.peers:  # BUG: nobody ever says "enough"
                self.send(peer, self.mine[-1])
            self.set_timer("resend", 0.2)

    # ----- receiving ------------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case CausalMessage():
                self.receive(msg)

    def receive(self, msg: CausalMessage) -> None:
        """Hold ``msg`` back, then deliver everything that has become deliverable."""
        if self.is_copy(msg):
            return
        self.held_back.append(msg)
        self.deliver_ready()

    def is_copy(self, msg: CausalMessage) -> bool:
        """True if ``msg`` was delivered already, or is waiting in the queue already."""
        delivered = msg.timestamp.get(msg.origin) <= self.clock.get(msg.origin)
        return delivered or msg in self.held_back

    def can_deliver(self, msg: CausalMessage) -> bool:
        """True if ``msg`` is the next message from its origin and every other message it
        depends on has been delivered here (BSS 1991, section 4)."""
        stamp, origin = msg.timestamp, msg.origin
        if stamp.get(origin) != self.clock.get(origin) + 1:
            return False
        return all(count <= self.clock.get(node) for node, count in stamp.items()
                   if node != origin)

    def deliver_ready(self) -> None:
        """Deliver held-back messages while one is deliverable: each delivery may unblock
        others, so look through the whole queue again after each."""
        while (ready := self.next_deliverable()) is not None:
            self.held_back.remove(ready)
            # Count it before the application sees it: a reply broadcast from on_deliver
            # must carry a stamp that says it depends on this message.
            self.clock = self.clock.increment(ready.origin)
            self.deliver(ready)

    def next_deliverable(self) -> CausalMessage | None:
        """The first held-back message that can be delivered now, or None."""
        return next((msg for msg in self.held_back if self.can_deliver(msg)), None)

    # ----- given in the starter: delivering to the application -----------------------------

    def deliver(self, msg: CausalMessage) -> None:
        """Hand ``msg`` to the application: once per message, in causal order, after
        counting it in ``self.clock``."""
        self.delivered.append(msg)
        self.note("deliver", id=msg.id, origin=msg.origin, payload=msg.payload)
        if self.on_deliver is not None:
            self.on_deliver(msg.origin, msg.payload)
