"""What every state-based CRDT here shares: the lattice interface, the wire form, checks.

The rules of this file's classes (and of every CRDT in this package):

* a CRDT state is an immutable value (a frozen attrs class registered with ``@message``),
  so it can be kept in a dict, put in a message or written to storage without anyone
  changing it behind your back; every update returns a new state;
* a state has one canonical form (pairs sorted by replica id, no zero entries, siblings
  and elements in one order), so two replicas that know the same things hold *equal*
  states, byte for byte on the wire, under any ``PYTHONHASHSEED``;
* ``merge`` is the join (least upper bound) of a semilattice: commutative, associative
  and idempotent; ``x <= y`` is its order (``merge(x, y) == y``: ``y`` knows everything
  ``x`` knows), and every update is an *inflation*: ``x <= update(x)``;
* values a CRDT holds (register values, set elements) are JSON scalars, so they cross the
  wire unchanged and sort in one order (:func:`scalar_key`).

Example:
    >>> from dsys.replication.crdt import GCounter, Crdt
    >>> a = GCounter().increment("a")
    >>> b = GCounter().increment("b", 2)
    >>> a.merge(b).value, a <= a.merge(b), a.merge(b) <= a
    (3, True, False)
    >>> Crdt.from_json(a.merge(b).to_json()) == a.merge(b)
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self

from dsys.clocks.vector import VectorClock
from dsys.core import codec
from dsys.core.codec import INT_MAX
from dsys.errors import CodecError, UsageError

#: The JSON scalars a register or a set may hold.
Scalar = str | int | float | bool | None


class Crdt:
    """The interface of a state-based CRDT (a CvRDT: Shapiro, Preguiça, Baquero and
    Zawirski, *Conflict-free replicated data types*, SSS 2011, §2.2).

    Subclasses are frozen ``@message`` classes that define :attr:`value`, :meth:`merge`
    and their own update operations; this base gives them the lattice order and the wire
    form.
    """

    __slots__ = ()

    #: The name of the type in trace notes and checker reports (``"g-counter"``...).
    type_name: ClassVar[str] = ""

    @property
    def value(self) -> Any:
        """What the application reads."""
        raise NotImplementedError

    def merge(self, other: Self) -> Self:
        """The join of the two states: the smallest state that knows what both know."""
        raise NotImplementedError

    def _same_type(self, other: object) -> None:
        if type(other) is not type(self):
            raise UsageError(f"cannot merge {type(self).__name__} with "
                             f"{type(other).__name__}: a CRDT merges only with its own type")

    def __le__(self, other: object) -> bool:
        """``self <= other``: ``other`` has seen every update ``self`` has."""
        if type(other) is not type(self):
            return NotImplemented
        return self.merge(other) == other

    def __ge__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return other.merge(self) == self

    # ----- the wire form ----------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON value (dicts, lists, scalars): the codec's envelope
        ``{"type": ..., "body": ...}``, as it reads after crossing the wire."""
        result: dict[str, Any] = codec.loads(codec.dumps(codec.encode(self)))
        return result

    @staticmethod
    def from_json(data: Any) -> Crdt:
        """Read a state written by :meth:`to_json`, strictly (through the codec).

        Raises :class:`~dsys.errors.CodecError` if ``data`` is not exactly a CRDT state
        in its canonical form.

        Example:
            >>> try:
            ...     Crdt.from_json({"type": "dsys.core.messages:Nope", "body": {}})
            ... except CodecError as exc:
            ...     print(exc)
            unknown message type 'dsys.core.messages:Nope': no class is registered under that tag
        """
        state = codec.decode(data)
        if not isinstance(state, Crdt):
            raise CodecError(f"{type(state).__name__} is not a CRDT state")
        return state


# ----- checks shared by the CRDTs ---------------------------------------------------------


def replica_id(value: Any) -> str:
    """``value`` if it is a replica id (a non-empty string), else ValueError."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"a replica id is a non-empty string, got {value!r}")
    return value


def count(value: Any, what: str = "a count") -> int:
    """``value`` if it is an integer in ``0 .. INT_MAX`` (not a bool), else ValueError."""
    if value.__class__ is not int or not 0 <= value <= INT_MAX:
        raise ValueError(f"{what} is an integer from 0 to {INT_MAX}, got {value!r}")
    return int(value)


def replica_arg(value: Any) -> str:
    """A replica id given to an update: as :func:`replica_id`, but a UsageError."""
    try:
        return replica_id(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def amount(value: Any) -> int:
    """An update's amount: a positive integer (not a bool), else UsageError."""
    if value.__class__ is not int or value < 1:
        raise UsageError(f"the amount of an increment or decrement is a positive integer, "
                         f"got {value!r}")
    return int(value)


def scalar(value: Any, what: str = "a value") -> Scalar:
    """``value`` if it is a JSON scalar (str, int, float, bool or None) that can cross the
    wire, else ValueError."""
    if value is not None and value.__class__ not in (str, int, float, bool):
        raise ValueError(f"{what} must be a JSON scalar (str, int, float, bool or None), "
                         f"got {type(value).__name__} {value!r}; encode other values as "
                         "strings")
    problem = codec.wire_value_problem(value)
    if problem is not None:
        raise ValueError(f"{what}: {problem}")
    return value


def scalar_key(value: Scalar) -> tuple[int, Any]:
    """A sort key that orders any mix of JSON scalars the same way everywhere: None, then
    booleans, then numbers, then strings.

    >>> sorted(["b", 10, None, 9, "a", True], key=scalar_key)
    [None, True, 9, 10, 'a', 'b']
    """
    if value is None:
        return (0, 0)
    if value.__class__ is bool:
        return (1, value)
    if value.__class__ is str:
        return (3, value)
    return (2, value)


def canonical_counts(value: Mapping[str, int] | Iterable[Any]) -> tuple[tuple[str, int], ...]:
    """The canonical form of a map replica -> count: pairs sorted by replica, zeros
    dropped; ValueError if a replica repeats or a count is not a count.

    >>> canonical_counts({"b": 1, "a": 2, "c": 0})
    (('a', 2), ('b', 1))
    """
    pairs = value.items() if isinstance(value, Mapping) else value
    seen: dict[str, int] = {}
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ValueError(f"expected (replica, count) pairs, got {pair!r}")
        replica, n = replica_id(pair[0]), count(pair[1])
        if replica in seen:
            raise ValueError(f"replica {replica!r} appears twice")
        seen[replica] = n
    return tuple(sorted((r, n) for r, n in seen.items() if n))


def max_counts(a: tuple[tuple[str, int], ...], b: tuple[tuple[str, int], ...]
               ) -> tuple[tuple[str, int], ...]:
    """The pointwise maximum of two canonical count maps: the join of two vector clocks.

    >>> max_counts((("a", 2), ("b", 1)), (("b", 3), ("c", 1)))
    (('a', 2), ('b', 3), ('c', 1))
    """
    return tuple(VectorClock(dict(a)).merge(VectorClock(dict(b))).items())
