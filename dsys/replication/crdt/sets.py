"""The observed-remove set (OR-Set): adds and removes without coordination, add wins.

A replicated set must decide what a remove means when an add of the same element
happens concurrently somewhere else. The OR-Set's answer (Shapiro et al. 2011, §3.3.5,
Spec. 15): *a remove removes only the adds it has observed*. Every add is tagged with a
unique tag; a remove deletes the tags of the element that its replica can see; an add
that the removing replica had not seen keeps its tag, so the element stays. Concurrent
add and remove: **the add wins**. An element removed after every add of it was seen is
gone for good, wherever the states travel.

This is the *optimized* OR-Set (Bieniusa, Zawirski, Preguiça, Shapiro, Baquero, Balegas
and Duarte, *An optimized conflict-free replicated set*, 2012; the "add-wins set" of
Almeida, Shoker and Baquero's delta-state CRDTs, 2018). The naive one keeps the tag of
every removed add forever (a *tombstone*), so that a merge can tell "removed here" from
"not yet seen here". The optimized one needs no tombstones:

* a tag is a *dot* ``(replica, n)``: the ``n``-th add made at ``replica``;
* the state holds the live ``(element, replica, n)`` entries and a version vector
  ``clock``, which says which dots the state has seen: all of ``replica``'s dots up to
  ``clock[replica]``;
* merge keeps an entry if both states have it, or if one has it and the other has *not
  seen* its dot; an entry that one state has seen and no longer holds was removed there,
  and stays removed.

An add also drops the dots it sees of the same element (they are superseded: the element
is present through the new dot), so the state holds at most one entry per element and
replica.

Example:
    >>> from dsys.replication.crdt import ORSet
    >>> base = ORSet().add("milk", "a")
    >>> removed = base.remove("milk")                   # at a: saw the add, removes it
    >>> readded = base.add("milk", "b")                 # at b, concurrently: a new dot
    >>> removed.merge(readded).value                    # add wins
    ('milk',)
    >>> removed.merge(base).value                       # the removed add stays removed
    ()
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from dsys.core.codec import INT_MAX
from dsys.core.messages import message
from dsys.errors import UsageError
from dsys.replication.crdt.base import (
    Crdt,
    canonical_counts,
    count,
    max_counts,
    replica_arg,
    replica_id,
    scalar_key,
)

#: An element of an OR-Set: a string or an integer.
Element = str | int
#: A live entry: (element, replica, n), the element added by the ``n``-th add of ``replica``.
Entry = tuple[Element, str, int]
#: A dot: (replica, n).
Dot = tuple[str, int]


def element(value: Any) -> Element:
    """``value`` if it can be an OR-Set element (a str or an int, not a bool), else
    ValueError. (Floats, booleans and None are left out because ``1 == 1.0 == True`` in
    Python: as elements they would be one element here and three on the wire.)"""
    if value.__class__ not in (str, int) or (
            value.__class__ is int and not -INT_MAX - 1 <= value <= INT_MAX):
        raise ValueError(f"an OR-Set element is a string or a 64-bit integer, got "
                         f"{type(value).__name__} {value!r}")
    return value


def _entry_key(entry: Entry) -> tuple[Any, ...]:
    return (scalar_key(entry[0]), entry[1], entry[2])


def _entries(value: Any) -> tuple[Entry, ...]:
    """The canonical form of the entries: checked, sorted, each dot once."""
    entries: dict[Dot, Entry] = {}
    for item in value:
        if not isinstance(item, tuple | list) or len(item) != 3:
            raise ValueError(f"an OR-Set entry is (element, replica, n), got {item!r}")
        entry = (element(item[0]), replica_id(item[1]), count(item[2], "the n of a dot"))
        if entry[2] == 0:
            raise ValueError(f"dots count from 1, got {item!r}")
        dot = (entry[1], entry[2])
        if dot in entries and entries[dot] != entry:
            raise ValueError(f"dot {dot} tags two elements, {entries[dot][0]!r} and "
                             f"{entry[0]!r}")
        entries[dot] = entry
    return tuple(sorted(entries.values(), key=_entry_key))


@message
class ORSet(Crdt):
    """An add-wins observed-remove set with version vectors (no tombstones).

    ``entries`` are the live ``(element, replica, n)`` triples and ``clock`` the dots seen
    (sorted ``(replica, count)`` pairs); ``value`` is the elements, sorted.

    Example:
        >>> s = ORSet().add("x", "a").add("y", "a").add("x", "b")
        >>> s.value, "x" in s, s.dots("x")
        (('x', 'y'), True, (('b', 1),))
        >>> s.clock
        (('a', 2), ('b', 1))
        >>> s.remove("x").value, s.remove("x").clock == s.clock
        (('y',), True)
    """

    type_name: ClassVar[str] = "or-set"

    # (Any for the codec, which has no union of str and int; the converter checks it)
    entries: tuple[tuple[Any, str, int], ...] = attrs.field(default=(), converter=_entries)
    clock: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=canonical_counts)

    def __attrs_post_init__(self) -> None:
        seen = dict(self.clock)
        for e, replica, n in self.entries:
            if n > seen.get(replica, 0):
                raise ValueError(f"entry {(e, replica, n)} has a dot the clock has not seen "
                                 f"({replica!r} is at {seen.get(replica, 0)})")

    @property
    def value(self) -> tuple[Element, ...]:
        """The elements, sorted (a tuple, so that printing it gives the same text under
        any ``PYTHONHASHSEED``)."""
        out: list[Element] = []
        for e, _, _ in self.entries:  # sorted by element already
            if not out or out[-1] != e:
                out.append(e)
        return tuple(out)

    def __contains__(self, item: object) -> bool:
        return any(e == item and type(e) is type(item) for e, _, _ in self.entries)

    def dots(self, item: Element) -> tuple[Dot, ...]:
        """The live dots (tags) of ``item``: the adds of it this state holds."""
        return tuple((r, n) for e, r, n in self.entries if e == item and type(e) is type(item))

    def add(self, item: Element, replica: str) -> ORSet:
        """Add ``item`` at ``replica`` with a new dot; the dots of ``item`` this state
        holds are superseded (the element is present through the new one)."""
        replica = replica_arg(replica)
        try:
            item = element(item)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        n = dict(self.clock).get(replica, 0) + 1
        kept = tuple(x for x in self.entries if not (x[0] == item and type(x[0]) is type(item)))
        return ORSet((*kept, (item, replica, n)), max_counts(self.clock, ((replica, n),)))

    def remove(self, item: Element) -> ORSet:
        """Remove ``item``: drop the dots of it this state holds (the ones observed). The
        clock keeps them, so a merge knows they were removed, not unseen."""
        kept = tuple(x for x in self.entries if not (x[0] == item and type(x[0]) is type(item)))
        if len(kept) == len(self.entries):
            return self
        return ORSet(kept, self.clock)

    def merge(self, other: ORSet) -> ORSet:
        """Keep the entries both hold, and those one holds that the other has not seen."""
        self._same_type(other)
        mine, theirs = set(self.entries), set(other.entries)
        seen_mine, seen_theirs = dict(self.clock), dict(other.clock)
        kept = [x for x in self.entries
                if x in theirs or x[2] > seen_theirs.get(x[1], 0)]
        kept += [x for x in other.entries
                 if x not in mine and x[2] > seen_mine.get(x[1], 0)]
        return ORSet(tuple(kept), max_counts(self.clock, other.clock))
