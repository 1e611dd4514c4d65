"""Messages: small frozen attrs classes, registered so they can cross a network.

``@message`` turns a class into a frozen, slotted attrs class and records it in the
message registry under a *tag* (``module:QualName``). Only registered classes are ever
built from bytes on the wire (see :mod:`dsys.core.codec`), in the simulator as on a real
network.

Example:
    >>> from dsys import message
    >>> @message
    ... class Ping:
    ...     seq: int
    >>> Ping(3)
    Ping(seq=3)
    >>> Ping(3) == Ping(3)
    True
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

import attrs

from dsys.errors import UsageError

T = TypeVar("T")

# The registry is filled at import time by ``@message`` and read by the codec. Re-defining a
# class under the same tag (a module reloaded, a class built inside a test function that
# runs twice: same module, same qualified name) replaces the earlier entry: the newest
# definition is the one in use. A *different* class under a tag already taken is an error:
# the wire could not tell the two apart.
_REGISTRY: dict[str, type] = {}


def _origin(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def message_tag(cls: type) -> str:
    """The wire tag of a message class: ``module:QualName``."""
    tag = getattr(cls, "__dsys_tag__", None)
    if tag is None:
        raise TypeError(
            f"{cls.__qualname__} is not a registered message; decorate it with @message"
        )
    return str(tag)


def is_message(obj: object) -> bool:
    """True if ``obj`` is an instance of a class registered with ``@message``."""
    return hasattr(type(obj), "__dsys_tag__")


def registered_messages() -> dict[str, type]:
    """A snapshot of the registry: tag -> class."""
    return dict(_REGISTRY)


def lookup_message(tag: str) -> type | None:
    """The class registered under ``tag``, or None."""
    return _REGISTRY.get(tag)


# dataclass_transform tells type checkers (and students' editors) that @message classes
# get an __init__ from their annotated fields, as attrs.frozen classes do.
@overload
@dataclass_transform(frozen_default=True, field_specifiers=(attrs.field,))
def message(cls: type[T], /) -> type[T]: ...
@overload
def message(*, name: str | None = None) -> Callable[[type[T]], type[T]]: ...


def message(
    cls: type[T] | None = None, /, *, name: str | None = None
) -> type[T] | Callable[[type[T]], type[T]]:
    """Declare a message type: a frozen, slotted attrs class registered for the codec.

    Fields are declared with annotations, as for ``attrs.frozen``; use immutable field
    types (``int``, ``str``, ``float``, ``bool``, ``None``, ``tuple[...]``, ``frozenset``,
    other messages) so that a message cannot change after it is sent. ``name`` overrides
    the wire tag (default ``module:QualName``), e.g. to keep a tag stable across a rename.

    Example:
        >>> @message
        ... class AppendEntries:
        ...     term: int
        ...     entries: tuple[str, ...] = ()
        >>> AppendEntries(term=2).entries
        ()
    """

    def wrap(c: type[T]) -> type[T]:
        if "__dsys_tag__" in vars(c):  # already registered (a subclass is not)
            return c
        made: Any = attrs.frozen(c, slots=True) if not attrs.has(c) else c
        tag = name or f"{c.__module__}:{c.__qualname__}"
        earlier = _REGISTRY.get(tag)
        if earlier is not None and _origin(earlier) != _origin(c):
            raise UsageError(
                f"message tag {tag!r} is taken by {_origin(earlier)}; {_origin(c)} cannot be "
                "registered under it too (the wire could not tell them apart): give one of "
                "them another name=..."
            )
        made.__dsys_tag__ = tag
        fields = tuple(a.name for a in attrs.fields(made))
        made.__dsys_fields__ = fields
        # Returns the field values as a tuple (used by the codec's fast path).
        made.__dsys_getter__ = (
            (lambda m: (getattr(m, fields[0]),)) if len(fields) == 1
            else operator.attrgetter(*fields) if fields else (lambda m: ())
        )
        _REGISTRY[tag] = made
        return made

    if cls is not None:
        return wrap(cls)
    return wrap


def short_name(msg_or_cls: Any) -> str:
    """The display name of a message or message class (its class name)."""
    cls = msg_or_cls if isinstance(msg_or_cls, type) else type(msg_or_cls)
    return cls.__name__
