"""Registers: one value that replicas overwrite, and two answers to concurrent writes.

When two replicas write a register concurrently (neither saw the other's write), the
replicas must end up agreeing on *something*. A CRDT register chooses in advance:

* :class:`LWWRegister`, *last writer wins* (Shapiro et al. 2011, Spec. 8): every write
  carries a timestamp, and merge keeps the write with the largest one. One of two
  concurrent writes is silently lost; which one is decided by the timestamps alone, the
  same way on every replica.
* :class:`MVRegister`, *multi-value* (Spec. 10; Amazon's Dynamo, DeCandia et al. 2007,
  §4.4): every write carries a vector clock, merge keeps every write that no other write
  saw, and a read returns all of them, the *siblings*. Nothing is lost; the application
  resolves the conflict with its next write, which overwrites all the siblings it read.

The timestamps of the LWW register here are those of a hybrid logical clock (HLC,
:mod:`dsys.clocks.hlc`) with the writer's id as tiebreak: ``(l, c, writer)``, compared
lexicographically. Why HLC rather than a Lamport clock: both guarantee that a write that
*saw* another write wins over it (the clock has moved past every timestamp the replica
has seen); but between writes that never heard of each other, a Lamport clock lets the
replica that happened to count more events win, while an HLC's ``l`` follows the
physical clocks, so the write made later (by clocks that agree to within their skew)
wins, which is what "last" means to a user. The writer id makes the order total, so
two writes never tie. What remains is the price of LWW itself: with skewed clocks the
"later" write can be the earlier one, and it loses, silently (see the concept page).

Example:
    >>> from dsys.clocks import HLCTimestamp
    >>> from dsys.replication.crdt import LWWRegister, MVRegister
    >>> a = LWWRegister().assign("tea", HLCTimestamp(1000, 0), "a")
    >>> b = LWWRegister().assign("coffee", HLCTimestamp(1000, 0), "b")  # same instant
    >>> a.merge(b).value, b.merge(a).value          # b's id breaks the tie, everywhere
    ('coffee', 'coffee')
    >>> x = MVRegister().assign("tea", "a")
    >>> y = MVRegister().assign("coffee", "b")      # concurrent with x
    >>> x.merge(y).value                            # both kept, as siblings
    ('coffee', 'tea')
    >>> x.merge(y).assign("chai", "a").value        # a write that saw both replaces both
    ('chai',)
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from dsys.clocks.hlc import HLCTimestamp
from dsys.clocks.vector import Order, VectorClock
from dsys.core.codec import INT_MAX, INT_MIN
from dsys.core.messages import message
from dsys.errors import UsageError
from dsys.replication.crdt.base import (
    Crdt,
    Scalar,
    canonical_counts,
    count,
    replica_arg,
    replica_id,
    scalar,
    scalar_key,
)

#: An LWW timestamp: ``(l, c, writer)`` (an HLC timestamp and the writer's id).
Stamp = tuple[int, int, str]


def _stamp(value: Any) -> Stamp | None:
    if value is None:
        return None
    if not isinstance(value, tuple | list) or len(value) != 3:
        raise ValueError(f"an LWW timestamp is (l, c, writer), got {value!r}")
    l, c, writer = value  # noqa: E741 - the HLC paper's name
    if l.__class__ is not int or not INT_MIN <= l <= INT_MAX:
        raise ValueError(f"the l of an LWW timestamp is an integer, got {l!r}")
    return (l, count(c, "the c of an LWW timestamp"), replica_id(writer))


@message
class LWWRegister(Crdt):
    """A last-writer-wins register: the value of the write with the largest ``stamp``.

    ``stamp`` is ``(l, c, writer)`` (None, with value None, before the first write).
    Merge keeps the state with the larger stamp; a tie (the same stamp with two values,
    which a correct writer never makes) goes to the larger value, so merge stays
    commutative whatever it is given.

    Example:
        >>> r = LWWRegister().assign("draft", HLCTimestamp(5, 0), "a")
        >>> r.assign("final", HLCTimestamp(9, 0), "b").value
        'final'
        >>> r.assign("older", HLCTimestamp(3, 0), "b").value   # an older write loses
        'draft'
        >>> r.stamp
        (5, 0, 'a')
    """

    type_name: ClassVar[str] = "lww-register"

    value: Scalar = attrs.field(default=None, converter=scalar)
    stamp: Stamp | None = attrs.field(default=None, converter=_stamp)

    def __attrs_post_init__(self) -> None:
        if self.stamp is None and self.value is not None:
            raise ValueError("an LWW register with a value needs the stamp of its write")

    def assign(self, value: Scalar, time: HLCTimestamp, writer: str) -> LWWRegister:
        """Write ``value`` at ``time`` (an HLC timestamp) by ``writer``: the result is
        the merge of this state and the write, so a write older than the current one is
        lost (that is the rule)."""
        try:
            write = LWWRegister(value, (time.l, time.c, replica_arg(writer)))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return self.merge(write)

    def merge(self, other: LWWRegister) -> LWWRegister:
        """The state whose write has the larger ``(stamp, value)``."""
        self._same_type(other)
        return other if _order(other) > _order(self) else self


def _order(r: LWWRegister) -> tuple[Any, ...]:
    if r.stamp is None:
        return ()
    return (*r.stamp, scalar_key(r.value))


# ----- multi-value register ----------------------------------------------------------------


@message
class Sibling:
    """One write kept by a :class:`MVRegister`: its value and its version (a vector
    clock, as sorted ``(replica, count)`` pairs)."""

    value: Scalar = attrs.field(converter=scalar)
    version: tuple[tuple[str, int], ...] = attrs.field(converter=canonical_counts)

    @property
    def clock(self) -> VectorClock:
        """The version as a :class:`~dsys.clocks.VectorClock`."""
        return VectorClock(dict(self.version))


def _sibling_key(s: Sibling) -> tuple[Any, ...]:
    return (s.version, scalar_key(s.value))


def _maximal(siblings: Any) -> tuple[Sibling, ...]:
    """The canonical form: the siblings no other sibling's version follows, sorted."""
    unique: dict[tuple[Any, ...], Sibling] = {}
    for s in siblings:
        if not isinstance(s, Sibling):
            raise ValueError(f"a multi-value register holds Siblings, got {s!r}")
        unique.setdefault(_sibling_key(s), s)
    items = [unique[k] for k in sorted(unique)]
    clocks = [s.clock for s in items]
    return tuple(s for s, mine in zip(items, clocks, strict=True)
                 if not any(mine.compare(other) is Order.BEFORE for other in clocks))


@message
class MVRegister(Crdt):
    """A multi-value register: every write that no other write saw is kept.

    ``siblings`` are the surviving writes, each with its version vector, in canonical
    order; ``value`` is their values, sorted (empty before the first write). A write
    (``assign``) takes a version that dominates every sibling's, so it replaces them all.

    Example:
        >>> r = MVRegister().assign("x", "a")
        >>> r.siblings
        (Sibling(value='x', version=(('a', 1),)),)
        >>> s = r.merge(MVRegister().assign("y", "b"))
        >>> s.value, len(s.siblings)
        (('x', 'y'), 2)
        >>> s.assign("z", "b").siblings        # saw both: its version dominates both
        (Sibling(value='z', version=(('a', 1), ('b', 2))),)
    """

    type_name: ClassVar[str] = "mv-register"

    siblings: tuple[Sibling, ...] = attrs.field(default=(), converter=_maximal)

    @property
    def value(self) -> tuple[Scalar, ...]:
        """The values of the siblings, sorted, each once."""
        values: dict[tuple[int, Any], Scalar] = {}
        for s in self.siblings:
            values.setdefault(scalar_key(s.value), s.value)
        return tuple(values[k] for k in sorted(values))

    @property
    def version(self) -> VectorClock:
        """The join of the siblings' versions: every write this state has seen."""
        clock = VectorClock()
        for s in self.siblings:
            clock = clock.merge(s.clock)
        return clock

    def assign(self, value: Scalar, replica: str) -> MVRegister:
        """Write ``value`` at ``replica``: one sibling, whose version is the join of the
        current siblings' versions with ``replica``'s entry one higher."""
        version = self.version.increment(replica_arg(replica))
        try:
            return MVRegister((Sibling(value, tuple(version.items())),))
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    def merge(self, other: MVRegister) -> MVRegister:
        """Every sibling of either state that no sibling of the other has seen."""
        self._same_type(other)
        return MVRegister(self.siblings + other.siblings)
