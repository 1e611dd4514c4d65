"""Vector clocks (Fidge 1988; Mattern 1989).

A vector clock gives every node its own counter. Node ``i`` keeps a vector ``V`` with one
entry per node it has heard of; ``V[i]`` counts ``i``'s own events and ``V[j]`` is the
number of ``j``'s events that ``i`` knows about (Mattern 1989):

* before each local event (including a send), ``i`` ticks its own entry: ``V[i] += 1``;
* a message carries the sender's vector;
* on receipt, ``i`` merges (pointwise maximum) the message's vector into its own and then
  ticks its own entry.

Unlike Lamport clocks, vector timestamps *characterise* causality exactly: for events
``e`` and ``f``, ``e`` happened before ``f`` if and only if ``V(e) < V(f)`` (every entry
``<=`` and at least one ``<``); events whose vectors are incomparable are concurrent.

A :class:`VectorClock` here is an immutable value: ``increment`` and ``merge`` return new
clocks, so a clock can be stored in a message, used as a dict key, or kept in a trace
without anyone changing it behind your back. Missing entries are zero, so clocks over
different sets of nodes compare naturally.

:class:`VectorClockLayer` applies these rules to a node without touching its protocol code.

Example:
    >>> a1 = VectorClock().increment("a")
    >>> b1 = VectorClock().increment("b")
    >>> a1, b1
    (VC(a=1), VC(b=1))
    >>> a1.compare(b1)
    <Order.CONCURRENT: 'concurrent'>
    >>> b2 = b1.merge(a1).increment("b")   # b receives a's message
    >>> b2
    VC(a=1, b=2)
    >>> a1 < b2, a1.compare(b2)
    (True, <Order.BEFORE: 'before'>)
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from typing import Any

from dsys.clocks.timestamps import STAMP_MAX, record_local, record_receive
from dsys.core.node import Layer


class Order(enum.Enum):
    """How two timestamps relate in the happened-before partial order.

    ``BEFORE``: the first happened before the second; ``AFTER``: the reverse; ``EQUAL``:
    the same timestamp (the same event, or the same knowledge); ``CONCURRENT``: neither
    happened before the other.
    """

    BEFORE = "before"
    AFTER = "after"
    EQUAL = "equal"
    CONCURRENT = "concurrent"


class VectorClock:
    """An immutable vector timestamp: node id -> count of that node's events.

    Entries that are zero are not stored, so ``VectorClock({"a": 0}) == VectorClock()``.
    Instances are hashable and ordered by the happened-before partial order: ``u <= v``
    when every entry of ``u`` is at most the entry of ``v``, and ``u < v`` when also
    ``u != v``. Two clocks where neither ``u <= v`` nor ``v <= u`` are concurrent (see
    :meth:`compare`).

    Example:
        >>> v = VectorClock({"a": 2, "b": 1})
        >>> v.get("a"), v.get("zed")
        (2, 0)
        >>> v.increment("b")
        VC(a=2, b=2)
        >>> v.merge(VectorClock({"b": 3, "c": 1}))
        VC(a=2, b=3, c=1)
        >>> v.to_json()
        {'a': 2, 'b': 1}
        >>> VectorClock.from_json({"b": 1, "a": 2}) == v
        True
    """

    __slots__ = ("_entries", "_hash")

    _entries: dict[str, int]
    _hash: int

    def __init__(self, entries: Mapping[str, int] | None = None) -> None:
        # Sorted keys and no zeros: one canonical form, so equality, hashing, repr and
        # JSON do not depend on insertion order (determinism under any PYTHONHASHSEED).
        clean: dict[str, int] = {}
        for node in sorted(entries or {}):
            count = (entries or {})[node]
            if count:
                clean[node] = count
        self._entries = clean
        self._hash = hash(tuple(clean.items()))

    # ----- reading ---------------------------------------------------------------------

    def get(self, node: str) -> int:
        """The entry of ``node`` (0 if the clock has never heard of it)."""
        return self._entries.get(node, 0)

    def nodes(self) -> tuple[str, ...]:
        """The nodes with a non-zero entry, sorted."""
        return tuple(self._entries)

    def items(self) -> Iterator[tuple[str, int]]:
        """The non-zero ``(node, count)`` entries, in sorted node order."""
        return iter(self._entries.items())

    def total(self) -> int:
        """The sum of all entries: how many events this timestamp knows about."""
        return sum(self._entries.values())

    # ----- the clock rules -------------------------------------------------------------

    def increment(self, node: str) -> VectorClock:
        """A new clock with ``node``'s entry one higher (a local event at ``node``)."""
        entries = dict(self._entries)
        entries[node] = entries.get(node, 0) + 1
        return VectorClock(entries)

    def merge(self, other: VectorClock) -> VectorClock:
        """The pointwise maximum of the two clocks (what a receiver learns)."""
        entries = dict(self._entries)
        for node, count in other._entries.items():
            if count > entries.get(node, 0):
                entries[node] = count
        return VectorClock(entries)

    def compare(self, other: VectorClock) -> Order:
        """How this clock relates to ``other``: BEFORE, AFTER, EQUAL or CONCURRENT.

        Example:
            >>> VectorClock({"a": 1}).compare(VectorClock({"a": 1, "b": 1}))
            <Order.BEFORE: 'before'>
            >>> VectorClock({"a": 2}).compare(VectorClock({"a": 1, "b": 1}))
            <Order.CONCURRENT: 'concurrent'>
        """
        # Entries missing on one side are 0 there, so every non-zero entry of either
        # clock decides something; together they cover every node.
        some_less = any(count > self.get(node) for node, count in other._entries.items())
        some_greater = any(count > other.get(node) for node, count in self._entries.items())
        if some_less and some_greater:
            return Order.CONCURRENT
        if some_less:
            return Order.BEFORE
        if some_greater:
            return Order.AFTER
        return Order.EQUAL

    def concurrent(self, other: VectorClock) -> bool:
        """True if neither clock happened before the other (and they differ)."""
        return self.compare(other) is Order.CONCURRENT

    # ----- comparison operators: the happened-before partial order ----------------------

    def __le__(self, other: object) -> bool:
        if not isinstance(other, VectorClock):
            return NotImplemented
        return all(count <= other.get(node) for node, count in self._entries.items())

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, VectorClock):
            return NotImplemented
        return self <= other and self._entries != other._entries

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, VectorClock):
            return NotImplemented
        return other <= self

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, VectorClock):
            return NotImplemented
        return other < self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VectorClock):
            return NotImplemented
        return self._entries == other._entries

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        inner = ", ".join(f"{node}={count}" for node, count in self._entries.items())
        return f"VC({inner})"

    # ----- JSON ------------------------------------------------------------------------

    def to_json(self) -> dict[str, int]:
        """A JSON object with sorted keys and no zero entries (the stamp on the wire)."""
        return dict(self._entries)

    @classmethod
    def from_json(cls, data: Any) -> VectorClock:
        """Build a clock from :meth:`to_json` output, checking it on the way in.

        Raises ValueError if ``data`` is not an object of string keys and non-negative
        integer counts (the stamp came from a buggy or hostile peer).

        Example:
            >>> VectorClock.from_json({"a": 1})
            VC(a=1)
            >>> VectorClock.from_json({"a": -1})
            Traceback (most recent call last):
              ...
            ValueError: vector clock entry for 'a' must be a non-negative integer, got -1
        """
        if not isinstance(data, Mapping):
            raise ValueError(
                f"a vector clock must be a JSON object of node -> count, "
                f"got {type(data).__name__}: {data!r}"
            )
        for node, count in data.items():
            if not isinstance(node, str):
                raise ValueError(f"vector clock keys must be node ids (str), got {node!r}")
            # bool is an int subclass; True is not a count.
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(
                    f"vector clock entry for {node!r} must be a non-negative integer, "
                    f"got {count!r}"
                )
        return cls(data)


class VectorClockLayer(Layer):
    """A vector clock for a node: ``node.add_layer(VectorClockLayer())``.

    * ``time``: the node's current vector (a :class:`VectorClock`);
    * ``tick(what)``: a local event: the node's own entry goes up by one; returns the
      event's vector;
    * a send is an event: tick, then carry the whole vector (as JSON);
    * a receipt is an event: merge the carried vector (pointwise max), then tick.

    With ``record=True`` (the default) receipts and local events are noted in the trace
    (see :mod:`dsys.clocks.timestamps`) for :func:`~dsys.clocks.check_vector`.

    Example:
        >>> from dsys import Node, Simulation, message
        >>> @message(name="doc:Gossip")
        ... class Gossip:
        ...     pass
        >>> class Gossiper(Node):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.clock = self.add_layer(VectorClockLayer())
        ...     def on_start(self) -> None:
        ...         self.clock.tick("start")
        ...         if self.id == "a":
        ...             self.send("b", Gossip())
        >>> sim = Simulation(seed=1)
        >>> for node in "abc":
        ...     sim.add_node(node, Gossiper)
        >>> sim.run(until=1.0)
        >>> [sim.node(n).clock.time for n in "abc"]
        [VC(a=2), VC(a=2, b=2), VC(c=1)]
    """

    name = "vector"

    def __init__(self, *, record: bool = True) -> None:
        self.record = record
        self.time = VectorClock()

    def tick(self, what: str = "") -> VectorClock:
        """Record a local event (own entry + 1) and return its vector timestamp."""
        self.time = self.time.increment(self.node.id)
        if self.record:
            record_local(self, what, self.time.to_json())
        return self.time

    # ----- the Layer interface --------------------------------------------------------

    def stamp(self, dst: str, msg: object) -> dict[str, int]:
        """A send is an event: tick, then carry the new vector."""
        self.time = self.time.increment(self.node.id)
        return self.time.to_json()

    def on_receive(self, src: str, msg: object, stamp: Any) -> None:
        """A receipt is an event after the send: merge the sender's vector, then tick."""
        theirs = VectorClock()
        if stamp is not None:
            try:
                theirs = VectorClock.from_json(stamp)
            except ValueError as exc:
                # A peer's bug must not crash this node: count the message as unstamped.
                self.node.log(f"vector: ignored invalid stamp from {src}: {exc}")
            if any(count > STAMP_MAX for _, count in theirs.items()):
                # The clock would overflow the wire's 64-bit integers on its next send.
                self.node.log(f"vector: ignored stamp from {src}: an entry is over the "
                              "64-bit bound")
                theirs = VectorClock()
        self.time = self.time.merge(theirs).increment(self.node.id)
        if self.record:
            record_receive(self, src, self.time.to_json())

    def __repr__(self) -> str:
        return f"VectorClockLayer(time={self.time!r})"
