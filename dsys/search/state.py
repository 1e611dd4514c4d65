"""What a node's state is to the model checker: a canonical key, and a copy to run from.

Two system states are *the same state* when every node's key, the messages in flight and
the armed timers are equal. A node's key is built by one documented rule:

1. If the node (or a component, a layer, or any object in its state) defines
   ``search_state(self)``, its return value is used instead of its attributes: the
   per-class override, for leaving out what does not matter (a cache, a statistics
   counter) or for giving a smaller canonical form.
2. Otherwise an object's attributes are walked recursively (``__dict__`` and
   ``__slots__``), by name. What the host owns is left out: the node's context, a
   component's or layer's back-reference to its node, the routing table.
3. Values: ``None``, numbers, strings and bytes are themselves; everything else becomes
   a tuple tagged with its kind, so no two kinds can be confused (``True`` and ``1``, a
   list and a tuple, a tuple that happens to look like a tag): ``("b", True)``,
   ``("t", items)``, ``("l", items)``, ``("d", pairs)`` (a dict keeps its insertion order,
   which a protocol may iterate, so it is part of the state), ``("s", items)`` (sets and
   frozensets sorted: their iteration order would follow ``PYTHONHASHSEED``),
   ``("o", class, fields)`` for objects; functions and methods count by name only (code,
   not state); a ``random.Random`` by its internal state.
4. Storage counts too: its durable contents and its unsynced writes, in write order.

The node's *copy* is what each transition starts from: the node object graph (with its
components and layers) pickled without its host context (``pickle`` of our own objects,
in memory; never data from a network), or deep-copied when a class cannot be pickled (one
defined inside a function, a lambda in its state).

Example:
    >>> from dsys.search.state import canonical
    >>> canonical({"b": {3, 1, 2}, "a": [True, 1]})
    ('d', (('b', ('s', (1, 2, 3))), ('a', ('l', (('b', True), 1)))))
"""

from __future__ import annotations

import copy
import pickle
from random import Random
from typing import Any

import attrs

from dsys.core.node import Component, Layer, Node

#: Attributes the host owns: never part of a node's state.
HOST_ATTRIBUTES = frozenset({"_ctx", "_routes", "node"})

_SCALARS = (type(None), int, float, str, bytes)


def _sort_key(value: Any) -> tuple[str, str]:
    return (type(value).__name__, repr(value))


def canonical(value: Any, _active: set[int] | None = None) -> Any:
    """The canonical, hashable form of ``value`` (see the module docstring for the rule)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is bool:
        return ("b", value)
    if kind is tuple:
        return ("t", tuple(canonical(v, _active) for v in value))
    if kind is list:
        return ("l", tuple(canonical(v, _active) for v in value))
    if kind is dict:
        return ("d", tuple((canonical(k, _active), canonical(v, _active))
                           for k, v in value.items()))
    if kind is set or kind is frozenset:
        return sorted_set(canonical(v, _active) for v in value)
    return _object_key(value, _active)


def sorted_set(items: Any) -> tuple[str, tuple[Any, ...]]:
    """The canonical form of a set of canonical items: tagged and sorted."""
    return ("s", tuple(sorted(items, key=_sort_key)))


def _object_key(value: Any, active: set[int] | None) -> Any:
    cls = type(value)
    custom = getattr(value, "search_state", None)
    if custom is not None and callable(custom):
        return ("o", cls.__qualname__, canonical(custom(), active))
    if isinstance(value, Random):
        return ("o", "Random", value.getstate())
    if callable(value) and not isinstance(value, Node | Component | Layer):
        return ("f", getattr(value, "__qualname__", cls.__qualname__))
    # Subclasses of the built-in containers (defaultdict, Counter, a NamedTuple...).
    if isinstance(value, dict):
        return ("o", cls.__qualname__, canonical(dict(value), active))
    if isinstance(value, list | tuple):
        return ("o", cls.__qualname__, canonical(list(value), active))
    if isinstance(value, set | frozenset):
        return ("o", cls.__qualname__, canonical(set(value), active))
    active = active if active is not None else set()
    ident = id(value)
    if ident in active:
        return ("c", cls.__qualname__)
    active.add(ident)
    try:
        if attrs.has(cls):
            fields = [(a.name, getattr(value, a.name)) for a in attrs.fields(cls)]
        else:
            fields = [(k, v) for k, v in getattr(value, "__dict__", {}).items()]
            for klass in cls.__mro__:
                for name in getattr(klass, "__slots__", ()):
                    if hasattr(value, name) and not name.startswith("__"):
                        fields.append((name, getattr(value, name)))
        return ("o", cls.__qualname__, tuple((name, canonical(v, active))
                                             for name, v in fields
                                             if name not in HOST_ATTRIBUTES))
    finally:
        active.discard(ident)


class Copier:
    """Copies node object graphs: pickle when the classes allow it, else ``deepcopy``.

    ``freeze(obj)`` returns a frozen copy; ``thaw(frozen)`` a fresh live object each time.
    """

    __slots__ = ("_deep",)

    def __init__(self) -> None:
        self._deep: set[type] = set()  # classes pickle refused: deep-copied instead

    def freeze(self, obj: Any) -> tuple[bool, Any]:
        """A frozen copy of ``obj``: ``(pickled, data)``."""
        if type(obj) not in self._deep:
            try:
                return True, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError):
                self._deep.add(type(obj))
        return False, copy.deepcopy(obj)

    @staticmethod
    def thaw(frozen: tuple[bool, Any]) -> Any:
        """A fresh live copy from a frozen one."""
        pickled, data = frozen
        return pickle.loads(data) if pickled else copy.deepcopy(data)  # our own objects only
