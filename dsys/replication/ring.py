"""Consistent hashing with virtual nodes: which nodes store a key.

Karger et al. (*Consistent hashing and random trees*, STOC 1997) place nodes and keys on
one circle of hash values; a key belongs to the first node found walking clockwise from
the key's position. Dynamo (DeCandia et al., SOSP 2007, §4.2) keeps the idea and adds two
things this module has too:

* **virtual nodes**: each node sits on the ring at ``vnodes`` positions (*tokens*), so
  the ring is cut into many small arcs and every node owns about ``1/len(nodes)`` of the
  keys, even with few nodes;
* **the preference list**: a key is stored on the first ``n`` *distinct* nodes met walking
  clockwise from it (:meth:`HashRing.preference_list`); the walk continues past them
  (:meth:`HashRing.walk`), which is where a sloppy quorum finds stand-ins for nodes that
  are down.

Every position comes from SHA-256 (:func:`stable_hash`), never from Python's ``hash()``,
whose value for a string changes from one process to the next: two nodes, or two runs,
must agree on where every key lives.

Example:
    >>> ring = HashRing(["n1", "n2", "n3", "n4", "n5"])
    >>> ring.preference_list("cart", 3)
    ('n3', 'n5', 'n2')
    >>> ring.walk("cart")
    ('n3', 'n5', 'n2', 'n1', 'n4')
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from dsys.errors import ConfigError
from dsys.naming.hashing import RING_SIZE, stable_hash

__all__ = ["RING_SIZE", "HashRing", "stable_hash"]


class HashRing:
    """A consistent-hashing ring of ``nodes``, each at ``vnodes`` positions.

    Node ``x``'s tokens are the hashes of ``"x#0"``, ``"x#1"``...; a key's position is
    the hash of the key. The ring never changes once built (membership changes are not
    part of this module): every node of a cluster builds the same one from the same
    sorted node ids.

    Example:
        >>> ring = HashRing(["a", "b", "c"], vnodes=4)
        >>> len(ring.tokens), ring.nodes
        (12, ('a', 'b', 'c'))
        >>> ring.owner("x") in ring.nodes
        True
        >>> HashRing([])
        Traceback (most recent call last):
          ...
        dsys.errors.ConfigError: a hash ring needs at least one node
    """

    def __init__(self, nodes: Iterable[str], vnodes: int = 64) -> None:
        ids = sorted(set(nodes))
        if not ids:
            raise ConfigError("a hash ring needs at least one node")
        if any(not isinstance(node, str) or not node for node in ids):
            raise ConfigError(f"hash ring nodes must be non-empty strings, got {ids!r}")
        if isinstance(vnodes, bool) or not isinstance(vnodes, int) or vnodes < 1:
            raise ConfigError(f"vnodes must be an int >= 1, got {vnodes!r}")
        self.nodes: tuple[str, ...] = tuple(ids)
        self.vnodes = vnodes
        # (position, node), sorted; a tie of positions (never seen with SHA-256) is broken
        # by node id, so it is still the same ring everywhere.
        self.tokens: tuple[tuple[int, str], ...] = tuple(sorted(
            (stable_hash(f"{node}#{i}"), node) for node in ids for i in range(vnodes)))
        self._positions = [position for position, _ in self.tokens]

    def position(self, key: str) -> int:
        """Where ``key`` sits on the ring."""
        return stable_hash(key)

    def walk(self, key: str) -> tuple[str, ...]:
        """Every node, each once, in the order met walking clockwise from ``key``."""
        start = bisect.bisect_left(self._positions, self.position(key))
        seen: list[str] = []
        count = len(self.tokens)
        for step in range(count):
            node = self.tokens[(start + step) % count][1]
            if node not in seen:
                seen.append(node)
                if len(seen) == len(self.nodes):
                    break
        return tuple(seen)

    def preference_list(self, key: str, n: int) -> tuple[str, ...]:
        """The ``n`` nodes that store ``key``: the first ``n`` of :meth:`walk`.

        >>> HashRing(["a", "b"]).preference_list("k", 3)
        Traceback (most recent call last):
          ...
        dsys.errors.ConfigError: a preference list of 3 nodes needs a ring of at least 3
        nodes; this one has 2 (a, b)
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"n must be an int >= 1, got {n!r}")
        if n > len(self.nodes):
            raise ConfigError(
                f"a preference list of {n} nodes needs a ring of at least {n} nodes; this "
                f"one has {len(self.nodes)} ({', '.join(self.nodes)})")
        return self.walk(key)[:n]

    def owner(self, key: str) -> str:
        """The first node of ``key``'s preference list (its coordinator in Dynamo)."""
        return self.walk(key)[0]

    def __repr__(self) -> str:
        return f"HashRing({list(self.nodes)!r}, vnodes={self.vnodes})"
