"""Reference solution of lab 1: vector clocks and causal broadcast.

Two parts, as in the handout.

**Vector clocks** (Fidge 1988; Mattern 1989). A :class:`VectorClock` maps node ids to
counts; missing entries are 0. It is an immutable value: :meth:`VectorClock.increment` and
:meth:`VectorClock.merge` return new clocks. :meth:`VectorClock.compare` says how two
clocks relate in the happened-before partial order: ``u`` is BEFORE ``v`` when every entry
of ``u`` is at most the entry of ``v`` and the clocks differ; CONCURRENT when each has an
entry larger than the other's.

**Causal broadcast** (Birman, Schiper and Stephenson, *Lightweight causal and atomic group
multicast*, ACM TOCS 9(3), 1991, section 4). Each member keeps a vector clock whose entry
``clock[j]`` counts the messages of member ``j`` it has delivered (its own entry counts its
own broadcasts, which it delivers at once).

* To broadcast, a member ticks its own entry and sends the message, stamped with its
  clock, to every other member. The stamp says what the message depends on: its sender's
  earlier messages (``stamp[origin] - 1`` of them) and everything the sender had delivered
  (``stamp[k]`` messages of each other member ``k``).
* A member that receives message ``m`` from ``j`` holds it back until it is *the next
  message from j* (``stamp[j] == clock[j] + 1``) and everything else it depends on has been
  delivered here (``stamp[k] <= clock[k]`` for every ``k != j``). Then it counts it
  (``clock[j] += 1``) and delivers it. Delivering one message may make held-back messages
  deliverable, so it looks through the hold-back queue again until nothing more can go.
* Copies (the network duplicates messages) are recognised by their stamp: a message with
  ``stamp[j] <= clock[j]`` was delivered already, and one equal to a held-back message is
  waiting already. Both are dropped.

The network of this lab reorders and duplicates messages but never loses one, and members
never crash, so sending each message once to each member is enough (no retransmission).

Why it is correct. Safety: a message is delivered only when ``clock`` covers its stamp,
and the stamp covers every message whose broadcast happened before it (its sender had
delivered or sent them, and counted each before its application could react), so causal
order holds; a message is delivered only when ``stamp[j] == clock[j] + 1`` and ``clock[j]``
then grows, so never twice. Liveness: by induction on the causal order, every message's
dependencies arrive and are delivered, and each delivery re-scans the queue.

The methods are small on purpose: each mutant in ``labs/lab1-causal/mutants`` overrides
one of them with a plausible bug.
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
        self.deliver(msg)  # already counted by the tick above
        return msg.id

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
