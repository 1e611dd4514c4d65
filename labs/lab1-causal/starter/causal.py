"""Lab 1: vector clocks and causal broadcast. Your implementation goes here.

Read the handout (README.md beside this file) first. Grade your work with:

    dsys lab test lab1

Two parts, graded separately:

1. ``VectorClock``, a vector timestamp: fill in ``increment``, ``merge`` and ``compare``.
2. ``Member``, a member of a group that broadcasts messages and delivers everyone's
   messages in causal order, holding back the ones that arrive too early.

What the grader relies on (keep these names):

* ``VectorClock(entries)`` with a dict of node -> count, ``get``, ``increment``, ``merge``
  and ``compare`` (which returns an ``Order``);
* ``Member(on_deliver)``: the constructor's argument, a callback the application gives;
* ``Member.broadcast(payload)``: the grader calls it to broadcast a message;
* ``Member.held_back``: the messages received but not delivered yet;
* the ``note(...)`` calls in ``broadcast`` and ``deliver``, and ``CausalMessage.id``: the
  grader judges your runs from the trace, and these notes are what it reads.

The network reorders and duplicates messages, but never loses one, and no member crashes.
The TODOs are numbered in the order of the handout's steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from dsys import Node, message
from dsys.clocks import Order  # BEFORE, AFTER, EQUAL, CONCURRENT

#: What the application gives a member: called with the origin and the payload of each
#: message the member delivers (its own included).
DeliverCallback = Callable[[str, str], None]


# ----- part 1: vector clocks -------------------------------------------------------------


class VectorClock:
    """An immutable vector timestamp: node id -> count. Missing entries are 0.

    Immutable: ``increment`` and ``merge`` return a *new* clock and leave this one as it
    is, so a clock can be kept or shared without anyone changing it behind your back.
    """

    __slots__ = ("_entries",)

    _entries: dict[str, int]

    def __init__(self, entries: Mapping[str, int] | None = None) -> None:
        # Sorted, without zeros: one form per clock, so == and repr do not depend on the
        # order entries were added in. Do not change this dict after __init__.
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
        # TODO(step 1): copy the entries, add one to node's, and return a new VectorClock.
        raise NotImplementedError("TODO(step 1): VectorClock.increment")

    def merge(self, other: VectorClock) -> VectorClock:
        """A new clock: the pointwise maximum of this clock and ``other``."""
        # TODO(step 1): for every node of either clock, the larger of the two entries.
        raise NotImplementedError("TODO(step 1): VectorClock.merge")

    def compare(self, other: VectorClock) -> Order:
        """BEFORE, AFTER, EQUAL or CONCURRENT: how this clock relates to ``other``.

        BEFORE: every entry of this clock is <= the entry of ``other``, and they differ.
        CONCURRENT: each clock has an entry larger than the other's.
        """
        # TODO(step 1): look at every node of *both* clocks (a missing entry is 0).
        raise NotImplementedError("TODO(step 1): VectorClock.compare")

    # ----- given: the wire form, equality, repr -------------------------------------------

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
        """``origin:n`` for the ``n``-th message of ``origin`` (its own stamp entry).

        Until broadcast ticks (step 2), every message of ``a`` is called ``a:0``.
        """
        return f"{self.origin}:{dict(self.stamp).get(self.origin, 0)}"


class Member(Node):
    """A member of the group: broadcasts, and delivers everyone's messages in causal order."""

    def __init__(self, on_deliver: DeliverCallback | None = None) -> None:
        super().__init__()
        self.on_deliver = on_deliver
        # clock[j]: how many of j's messages this member has delivered (its own included).
        self.clock = VectorClock()
        # Received, not yet deliverable: waiting for messages they depend on. The grader
        # looks at this list (do not rename it).
        self.held_back: list[CausalMessage] = []
        self.delivered: list[CausalMessage] = []

    # ----- broadcasting -------------------------------------------------------------------

    # This replaces Node.broadcast (send one message to every peer): in a broadcast
    # protocol, "broadcast" means the protocol's broadcast, as in the textbooks.
    def broadcast(self, payload: str) -> str:  # type: ignore[override]
        """Broadcast ``payload`` to the group (this member delivers it at once); return its
        id."""
        # TODO(step 2): a broadcast is this member's next message: tick your own entry of
        # self.clock *before* stamping, so the stamp of your n-th message says n.
        msg = CausalMessage(self.id, self.clock.to_wire(), payload)
        self.note("broadcast", id=msg.id, payload=payload)  # keep: the grader reads it
        for peer in self.peers:
            self.send(peer, msg)
        # TODO(step 2): deliver your own message to yourself, at once (the tick above
        # already counted it in your clock).
        return msg.id

    # ----- receiving ------------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case CausalMessage():
                self.receive(msg)

    def receive(self, msg: CausalMessage) -> None:
        """A message of another member arrived (maybe a copy, maybe too early)."""
        # TODO(step 5): ignore copies: of a message you delivered already, and of one that
        # is already waiting in self.held_back.
        # TODO(step 4): do not deliver it here: put it in self.held_back, then deliver every
        # held-back message that can_deliver allows, looking through the whole queue again
        # after each delivery (one delivery can unblock others). Count each one in
        # self.clock (clock[origin] + 1) *before* you call self.deliver.
        self.deliver(msg)

    def can_deliver(self, msg: CausalMessage) -> bool:
        """True if ``msg`` may be delivered now: it is the next message from its origin, and
        every other message it depends on has been delivered here."""
        # TODO(step 3): compare msg.timestamp with self.clock, entry by entry. Which entry
        # must be exactly one ahead, and which must not be ahead at all?
        return True

    # ----- given: delivering to the application ------------------------------------------

    def deliver(self, msg: CausalMessage) -> None:
        """Hand ``msg`` to the application: once per message, in causal order, *after*
        counting it in ``self.clock`` (the application may broadcast a reply from in here,
        and the reply's stamp must say that it depends on ``msg``)."""
        self.delivered.append(msg)
        self.note("deliver", id=msg.id, origin=msg.origin, payload=msg.payload)  # keep
        if self.on_deliver is not None:
            self.on_deliver(msg.origin, msg.payload)
