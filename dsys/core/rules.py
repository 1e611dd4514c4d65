"""The rules every host applies to what a node asks for, in one place.

A host (the simulator, the trio runtime, the Maelstrom adapter, the unit-test harness)
calls these before it acts on a node's request, so a mistake gets the same clear error
wherever the node runs:

* node ids are non-empty *printable* strings of at most :data:`MAX_NODE_ID` characters,
  without ``/`` or ``\\``, and not ``.`` or ``..``: the ``/`` separates a component's name
  from its timer names; trace files and data directories are named after node ids (so an
  id must not be a path); and ids are printed in logs (so no newline, no terminal escape).
  Real hosts apply the rule to every id that arrives from the network too;
* a timer has a string name and a delay that is a finite number >= 0;
* a message goes to a node the host knows. Sending to an id that is not a node of the
  cluster is a programming error (a typo, a peer list built wrong), so it raises at once
  in every host, naming the nodes there are. A known node that is down simply does not
  get the message: that is the network's business, not an error.

Example:
    >>> from dsys.core.rules import check_timer
    >>> check_timer("a", "election", 0.15)
    >>> check_timer("a", "election", -1)
    Traceback (most recent call last):
    ...
    dsys.errors.UsageError: timer 'election' on a: delay must be a number >= 0, got -1
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TypeGuard

from dsys.errors import ConfigError, UsageError

#: The longest node id, in characters (ids are kept per sender and printed in logs).
MAX_NODE_ID = 128


def is_node_id(node_id: object) -> TypeGuard[str]:
    """True if ``node_id`` is a valid node id (see the module docstring).

    >>> [is_node_id(i) for i in ("n1", "lin-kv", "a/b", "..", "n1\\x1b[31m", "", 7)]
    [True, True, False, False, False, False, False]
    """
    return (isinstance(node_id, str) and 0 < len(node_id) <= MAX_NODE_ID
            and node_id.isprintable() and "/" not in node_id and "\\" not in node_id
            and node_id not in (".", ".."))


def check_node_id(node_id: object) -> str:
    """Return ``node_id`` if it is a valid node id, else raise :class:`ConfigError`.

    >>> check_node_id("n1")
    'n1'
    >>> check_node_id("../escaped")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dsys.errors.ConfigError: node ids are printable strings ...; got '../escaped'
    """
    if not is_node_id(node_id):
        shown = repr(node_id)
        if len(shown) > 60:
            shown = f"{shown[:60]}... ({len(shown)} characters)"
        raise ConfigError(f"node ids are printable strings of 1 to {MAX_NODE_ID} characters, "
                          f"without '/' or '\\', and not '.' or '..'; got {shown}")
    return node_id


def check_timer(node_id: str, name: object, delay: object) -> None:
    """Raise :class:`UsageError` unless ``name`` is a string and ``delay`` a finite number
    of seconds >= 0 (booleans are not numbers here)."""
    if not isinstance(name, str):
        raise UsageError(f"timer names must be strings, got {name!r}")
    if (isinstance(delay, bool) or not isinstance(delay, int | float)
            or not 0 <= delay < math.inf):
        raise UsageError(f"timer {name!r} on {node_id}: delay must be a number >= 0, "
                         f"got {delay!r}")


def check_destination(src: str, dst: object, what: str, known: Collection[str]) -> None:
    """Raise :class:`UsageError` unless ``dst`` is one of the ``known`` node ids.

    ``what`` names the message (its class name) for the error.

    >>> check_destination("a", "b", "Ping", ("a", "b"))
    >>> check_destination("a", "c", "Ping", ("a", "b"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dsys.errors.UsageError: node a sent Ping to 'c', which is not a node of ... (nodes: a, b)
    """
    if isinstance(dst, str) and dst in known:
        return
    if not isinstance(dst, str):
        raise UsageError(f"node {src} sent {what} to {dst!r}: destinations are node ids "
                         "(strings)")
    raise UsageError(f"node {src} sent {what} to {dst!r}, which is not a node of this cluster "
                     f"(nodes: {', '.join(sorted(known))})")
