"""Counters that replicas update without coordination: G-Counter and PN-Counter.

A counter replicated naively, as one number that every replica sends to the others, goes
wrong in two ways: two replicas that increment concurrently each send "6", and one
increment is lost (take the maximum) or a resent "6" is counted twice (take the sum).
The G-Counter's trick (Shapiro et al., *A comprehensive study of convergent and
commutative replicated data types*, INRIA RR-7506, 2011, §3.1.2, Spec. 6) is to keep one
entry *per replica*: replica ``r`` only ever raises its own entry, so the entries are
never in conflict, merge takes each entry's maximum (which loses nothing and counts
nothing twice, however often or late a state arrives), and the value is their sum.

A PN-Counter (Spec. 7) can also go down: two G-Counters, one of increments ``P`` and one
of decrements ``N``; the value is ``P - N``. (One G-Counter whose entries could go down
would not be a lattice: merge takes the maximum, so a decrement would be undone.)

Example:
    >>> from dsys.replication.crdt import GCounter, PNCounter
    >>> a = GCounter().increment("a", 3)              # replica a, three likes
    >>> b = GCounter().increment("b")                 # replica b, one, concurrently
    >>> a.merge(b).value, b.merge(a) == a.merge(b)
    (4, True)
    >>> a.merge(b).merge(b).value                     # a state arriving twice counts once
    4
    >>> stock = PNCounter().increment("a", 10).decrement("b", 3)
    >>> stock.value
    7
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from dsys.core.codec import INT_MAX
from dsys.core.messages import message
from dsys.errors import UsageError
from dsys.replication.crdt.base import Crdt, amount, canonical_counts, max_counts, replica_arg


@message
class GCounter(Crdt):
    """A grow-only counter: one entry per replica, merged by maximum, summed for the value.

    ``counts`` holds ``(replica, count)`` pairs, sorted, without zeros (a mapping is
    accepted too, and put in that form).

    Example:
        >>> c = GCounter().increment("a").increment("a").increment("b")
        >>> c
        GCounter(counts=(('a', 2), ('b', 1)))
        >>> c.value, c.entry("a"), c.entry("z")
        (3, 2, 0)
    """

    type_name: ClassVar[str] = "g-counter"

    counts: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=canonical_counts)

    @property
    def value(self) -> int:
        """The sum of every replica's entry."""
        return sum(n for _, n in self.counts)

    def entry(self, replica: str) -> int:
        """How many increments of ``replica`` this state knows of."""
        return dict(self.counts).get(replica, 0)

    def increment(self, replica: str, by: int = 1) -> GCounter:
        """A state with ``replica``'s entry ``by`` higher (``by`` >= 1)."""
        replica, by = replica_arg(replica), amount(by)
        entries = dict(self.counts)
        total = entries.get(replica, 0) + by
        if total > INT_MAX:
            raise UsageError(f"counter entry of {replica!r} would exceed {INT_MAX}")
        entries[replica] = total
        return GCounter(tuple(entries.items()))

    def merge(self, other: GCounter) -> GCounter:
        """Each replica's entry is the larger of the two."""
        self._same_type(other)
        return GCounter(max_counts(self.counts, other.counts))


@message
class PNCounter(Crdt):
    """A counter that goes up and down: increments in ``p``, decrements in ``n``, both
    G-Counters; the value is ``p.value - n.value``.

    Example:
        >>> c = PNCounter().increment("a", 5).decrement("a", 2).decrement("b")
        >>> c.value
        2
        >>> c.p.value, c.n.value
        (5, 3)
    """

    type_name: ClassVar[str] = "pn-counter"

    p: GCounter = attrs.field(factory=GCounter)
    n: GCounter = attrs.field(factory=GCounter)

    @property
    def value(self) -> int:
        """Increments minus decrements."""
        return self.p.value - self.n.value

    def increment(self, replica: str, by: int = 1) -> PNCounter:
        """A state with ``by`` more increments by ``replica``."""
        return PNCounter(self.p.increment(replica, by), self.n)

    def decrement(self, replica: str, by: int = 1) -> PNCounter:
        """A state with ``by`` more decrements by ``replica``."""
        return PNCounter(self.p, self.n.increment(replica, by))

    def merge(self, other: PNCounter) -> PNCounter:
        """Merge the increments and the decrements, each as a G-Counter."""
        self._same_type(other)
        return PNCounter(self.p.merge(other.p), self.n.merge(other.n))
