"""Which node holds a key: consistent hashing, rendezvous hashing, and naive mod-N hashing.

A flat name (a key, a file name, a user id) says nothing about where its data lives, so a
cluster needs a rule that every node and client can apply on its own and that agrees
everywhere. Three rules, each a *placement* with the same small interface (``nodes``,
``owner``, ``walk``, ``preference_list``, ``add``, ``remove``):

* :class:`ModuloHash`, the naive rule: node number ``hash(key) mod N``. Balanced, but when
  ``N`` changes almost every key changes node: about ``N/(N+1)`` of them on a join;
* :class:`ConsistentHashRing` (Karger et al., *Consistent hashing and random trees*, STOC
  1997): nodes and keys are hashed onto one circle, and a key belongs to the first node
  met walking clockwise from it. A join or leave moves only the keys of the arcs that
  change hands, about ``K/N`` of ``K`` keys. Each node sits at ``vnodes`` positions
  (*virtual nodes*, as in Dynamo), so that the arcs even out: with ``v`` virtual nodes a
  node's share of the circle has a relative spread of about ``1/sqrt(v)``;
* :class:`RendezvousHash`, *highest random weight* (Thaler and Ravishankar, 1998): every
  node scores every key with a hash of the pair, and the key belongs to the highest score.
  No circle and no virtual nodes; balanced like a perfect hash; a join moves exactly the
  keys the newcomer now wins (about ``K/(N+1)``), a leave exactly the leaver's keys. It
  costs ``O(N)`` hashes per lookup where the ring costs ``O(log(N·v))``.

Every hash is SHA-256 (:func:`stable_hash`), never Python's ``hash()``, whose value for a
string changes from one process to the next (``PYTHONHASHSEED``): two nodes, or two runs,
must agree on where every key lives.

:class:`ConsistentHashRing` places tokens exactly as :class:`dsys.replication.HashRing`
does (node ``x``'s tokens are the hashes of ``"x#0"``, ``"x#1"``...), so a ring of the
same nodes and ``vnodes`` gives the same preference lists; it adds membership changes,
per-node weights, ownership shares and key counts. :mod:`dsys.naming.measure` measures
balance and movement.

Example:
    >>> ring = ConsistentHashRing(["n1", "n2", "n3", "n4", "n5"])
    >>> ring.preference_list("cart", 3)
    ('n3', 'n5', 'n2')
    >>> before = ring.owner("cart")
    >>> ring.add("n6")
    >>> ring.owner("cart") in (before, "n6")      # a key moves only to the newcomer
    True
    >>> RendezvousHash(["n1", "n2", "n3"]).owner("cart")
    'n1'
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Iterable, Mapping
from typing import Protocol

from dsys.errors import ConfigError, UsageError

#: Positions on the ring, and hash values, are integers in ``[0, RING_SIZE)``.
RING_SIZE = 1 << 64


def stable_hash(text: str) -> int:
    """A 64-bit hash of ``text``: the first 8 bytes of its SHA-256, as an integer.

    The same in every process and under every ``PYTHONHASHSEED``.

    >>> stable_hash("cart")
    2036433798905437221
    """
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


class Placement(Protocol):
    """What every placement rule offers (see the module docstring)."""

    @property
    def nodes(self) -> tuple[str, ...]:
        """The nodes, sorted."""
        ...

    def owner(self, key: str) -> str:
        """The node that holds ``key``."""
        ...

    def walk(self, key: str) -> tuple[str, ...]:
        """Every node, each once, in ``key``'s order of preference."""
        ...

    def preference_list(self, key: str, n: int) -> tuple[str, ...]:
        """The first ``n`` nodes of :meth:`walk`: where ``n`` replicas of ``key`` go."""
        ...

    def add(self, node: str) -> None:
        """A node joins."""
        ...

    def remove(self, node: str) -> None:
        """A node leaves."""
        ...


# ----- checks shared by the three rules ------------------------------------------------


def _check_node(node: object) -> str:
    if not isinstance(node, str) or not node:
        raise ConfigError(f"a node must be a non-empty string, got {node!r}")
    return node


def _check_count(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be an int >= 1, got {value!r}")
    return value


def _check_key(key: object) -> str:
    if not isinstance(key, str):
        raise UsageError(f"keys are strings, got {type(key).__name__} {key!r}")
    return key


def _preference(walk: tuple[str, ...], n: int) -> tuple[str, ...]:
    _check_count("n", n)
    if n > len(walk):
        raise ConfigError(f"a preference list of {n} nodes needs at least {n} nodes; there "
                          f"are {len(walk)} ({', '.join(sorted(walk))})")
    return walk[:n]


def _empty(kind: str) -> UsageError:
    return UsageError(f"the {kind} has no nodes: add one before looking a key up")


# ----- consistent hashing ----------------------------------------------------------------


class ConsistentHashRing:
    """A consistent-hashing ring of ``nodes``, each at ``vnodes`` positions (tokens).

    Node ``x``'s tokens are the hashes of ``"x#0"``, ``"x#1"``...; a key's position is the
    hash of the key; the key belongs to the node of the first token at or after that
    position (wrapping round). :meth:`add` can give a node more tokens than the default
    (``vnodes=``), so it takes a larger share: a weight. Nodes are kept sorted, and ties
    of positions (never seen with SHA-256) are broken by node id, so every process that
    adds the same nodes builds the same ring, in any order.

    Example:
        >>> ring = ConsistentHashRing(["a", "b", "c"], vnodes=4)
        >>> len(ring.tokens), ring.nodes
        (12, ('a', 'b', 'c'))
        >>> ring.owner("x") in ring.nodes
        True
        >>> ring.add("d", vnodes=8)                   # twice the share of the others
        >>> sorted(ring.ownership()) == ["a", "b", "c", "d"]
        True
        >>> ring.remove("a")
        >>> ring.nodes
        ('b', 'c', 'd')
        >>> ConsistentHashRing().owner("x")
        Traceback (most recent call last):
          ...
        dsys.errors.UsageError: the ring has no nodes: add one before looking a key up
    """

    def __init__(self, nodes: Iterable[str] = (), vnodes: int = 64) -> None:
        self.vnodes = _check_count("vnodes", vnodes)
        self._vnodes: dict[str, int] = {}
        self._positions: list[int] = []
        self._owners: list[str] = []
        for node in sorted(set(nodes)):
            self.add(node)

    @property
    def nodes(self) -> tuple[str, ...]:
        """The nodes on the ring, sorted."""
        return tuple(sorted(self._vnodes))

    @property
    def tokens(self) -> tuple[tuple[int, str], ...]:
        """Every ``(position, node)`` token, in ring order."""
        return tuple(zip(self._positions, self._owners, strict=True))

    def add(self, node: str, *, vnodes: int | None = None) -> None:
        """Put ``node`` on the ring at ``vnodes`` positions (default: the ring's)."""
        _check_node(node)
        if node in self._vnodes:
            raise ConfigError(f"{node} is on the ring already")
        count = self.vnodes if vnodes is None else _check_count("vnodes", vnodes)
        self._vnodes[node] = count
        positions, owners = self._positions, self._owners
        for i in range(count):
            position = self.token(node, i)
            at = bisect.bisect_left(positions, position)
            while at < len(positions) and positions[at] == position and owners[at] < node:
                at += 1  # a tie of positions: ordered by node id
            positions.insert(at, position)
            owners.insert(at, node)

    def remove(self, node: str) -> None:
        """Take ``node`` and its tokens off the ring."""
        if node not in self._vnodes:
            raise ConfigError(f"{node!r} is not on the ring (nodes: {', '.join(self.nodes)})")
        del self._vnodes[node]
        kept = [(p, o) for p, o in zip(self._positions, self._owners, strict=True) if o != node]
        self._positions = [p for p, _ in kept]
        self._owners = [o for _, o in kept]

    def token(self, node: str, index: int) -> int:
        """The position of ``node``'s token number ``index``: the hash of
        ``"<node>#<index>"``."""
        return stable_hash(f"{node}#{index}")

    def position(self, key: str) -> int:
        """Where ``key`` sits on the ring: its hash."""
        return stable_hash(_check_key(key))

    def owner(self, key: str) -> str:
        """The node of the first token at or after ``key``'s position."""
        return self.owner_at(self.position(key))

    def owner_at(self, position: int) -> str:
        """The node of the first token at or after ``position`` (a key's position: a
        measurement that hashes its keys once can look them up in many rings)."""
        if not self._positions:
            raise _empty("ring")
        at = bisect.bisect_left(self._positions, position)
        return self._owners[at % len(self._owners)]

    def walk(self, key: str) -> tuple[str, ...]:
        """Every node, each once, in the order met walking clockwise from ``key``."""
        if not self._positions:
            raise _empty("ring")
        start = bisect.bisect_left(self._positions, self.position(key))
        seen: dict[str, None] = {}
        count, wanted = len(self._owners), len(self._vnodes)
        for step in range(count):
            seen.setdefault(self._owners[(start + step) % count])
            if len(seen) == wanted:
                break
        return tuple(seen)

    def preference_list(self, key: str, n: int) -> tuple[str, ...]:
        """The ``n`` nodes that store ``key``: the first ``n`` distinct nodes of
        :meth:`walk` (Dynamo's preference list).

        >>> ConsistentHashRing(["a", "b"]).preference_list("k", 3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
          ...
        dsys.errors.ConfigError: a preference list of 3 nodes needs at least 3 nodes; ...
        """
        return _preference(self.walk(key), n)

    def ownership(self) -> dict[str, float]:
        """Each node's share of the ring (the arcs that end at its tokens), summing to 1.

        >>> shares = ConsistentHashRing(["a", "b"], vnodes=1).ownership()
        >>> round(sum(shares.values()), 12)
        1.0
        """
        shares = dict.fromkeys(self.nodes, 0)
        positions = self._positions
        for i, node in enumerate(self._owners):
            # the arc from the previous token (exclusive) to this one (inclusive)
            shares[node] += (positions[i] - positions[i - 1]) % RING_SIZE
        if len(positions) == 1:
            shares[self._owners[0]] = RING_SIZE
        return {node: arc / RING_SIZE for node, arc in shares.items()}

    def __len__(self) -> int:
        return len(self._vnodes)

    def __contains__(self, node: object) -> bool:
        return node in self._vnodes

    def __repr__(self) -> str:
        return f"ConsistentHashRing({list(self.nodes)!r}, vnodes={self.vnodes})"


# ----- rendezvous hashing ----------------------------------------------------------------


class RendezvousHash:
    """Highest random weight: ``key`` belongs to the node with the highest score for it.

    A node's score for a key is ``-weight / ln(u)``, where ``u`` in ``(0, 1)`` is the
    hash of the pair (Schindelhauer and Schomaker's weighted form, 2005): with equal
    weights that ranks nodes exactly as the hashes do, and a node of weight ``w`` wins a
    share ``w / sum(weights)`` of the keys. Ties (never seen) go to the smaller node id.

    Example:
        >>> hrw = RendezvousHash(["a", "b", "c"])
        >>> hrw.walk("cart")
        ('c', 'a', 'b')
        >>> hrw.remove("c")
        >>> hrw.owner("cart")                        # the next in its order; no other key moves
        'a'
        >>> RendezvousHash(["a"], weights={"a": 0})
        Traceback (most recent call last):
          ...
        dsys.errors.ConfigError: the weight of a must be a positive number, got 0
    """

    def __init__(self, nodes: Iterable[str] = (), *,
                 weights: Mapping[str, float] | None = None) -> None:
        self._weights: dict[str, float] = {}
        for node in sorted(set(nodes)):
            self.add(node, weight=(weights or {}).get(node, 1.0))

    @property
    def nodes(self) -> tuple[str, ...]:
        """The nodes, sorted."""
        return tuple(sorted(self._weights))

    def add(self, node: str, *, weight: float = 1.0) -> None:
        """Add ``node`` with ``weight`` (a positive number; 1 by default)."""
        _check_node(node)
        if node in self._weights:
            raise ConfigError(f"{node} is a node already")
        if isinstance(weight, bool) or not isinstance(weight, int | float) \
                or not 0 < weight < math.inf:
            raise ConfigError(f"the weight of {node} must be a positive number, got {weight!r}")
        self._weights[node] = float(weight)

    def remove(self, node: str) -> None:
        """Remove ``node``."""
        if node not in self._weights:
            raise ConfigError(f"{node!r} is not a node (nodes: {', '.join(self.nodes)})")
        del self._weights[node]

    def score(self, node: str, key: str) -> float:
        """``node``'s score for ``key``: the higher, the more ``node`` wants it."""
        return -self._weights[node] / math.log(self._uniform(node, _check_key(key)))

    @staticmethod
    def _uniform(node: str, key: str) -> float:
        # u in (0, 1) from the hash of the pair; NUL cannot occur in a node id (ids are
        # printable), so two pairs never hash the same text; the half step avoids 0.
        return (stable_hash(f"{node}\x00{key}") + 0.5) / RING_SIZE

    def _ranks(self, key: str) -> list[tuple[float, str]]:
        """``(rank, node)`` for every node, highest first (ties: smaller id first)."""
        _check_key(key)
        weights = self._weights
        if not weights:
            raise _empty("rendezvous hash")
        ranks: list[tuple[float, str]]  # (an int, exact, when the weights are equal)
        if len(set(weights.values())) == 1:
            # Equal weights: -w/ln(u) grows with u, so the raw hash ranks the nodes the
            # same way, without a logarithm per node (20,000 keys on 10 nodes: 0.59 s
            # against 0.82 s).
            ranks = [(-stable_hash(f"{node}\x00{key}"), node) for node in weights]
        else:
            ranks = [(weights[node] / math.log(self._uniform(node, key)), node)
                     for node in weights]
        return sorted(ranks)

    def walk(self, key: str) -> tuple[str, ...]:
        """Every node, from the highest score for ``key`` to the lowest."""
        return tuple(node for _, node in self._ranks(key))

    def owner(self, key: str) -> str:
        """The node with the highest score for ``key``."""
        return self._ranks(key)[0][1]

    def preference_list(self, key: str, n: int) -> tuple[str, ...]:
        """The ``n`` nodes with the highest scores for ``key``."""
        return _preference(self.walk(key), n)

    def __len__(self) -> int:
        return len(self._weights)

    def __contains__(self, node: object) -> bool:
        return node in self._weights

    def __repr__(self) -> str:
        return f"RendezvousHash({list(self.nodes)!r})"


# ----- the naive rule ----------------------------------------------------------------------


class ModuloHash:
    """Node number ``hash(key) mod N``, nodes numbered in the order they joined.

    The rule a first design reaches for, and the one the other two improve on: a join or
    a leave changes ``N``, and with it the node of almost every key.

    Example:
        >>> naive = ModuloHash(["a", "b", "c"])
        >>> naive.owner("z"), naive.walk("z")
        ('c', ('c', 'a', 'b'))
        >>> naive.add("d")                  # N = 4 now: z moves, and so do most keys
        >>> naive.owner("z")
        'd'
    """

    def __init__(self, nodes: Iterable[str] = ()) -> None:
        self._order: list[str] = []
        for node in nodes:
            self.add(node)

    @property
    def nodes(self) -> tuple[str, ...]:
        """The nodes, sorted."""
        return tuple(sorted(self._order))

    def add(self, node: str) -> None:
        """``node`` joins as number ``N``."""
        _check_node(node)
        if node in self._order:
            raise ConfigError(f"{node} is a node already")
        self._order.append(node)

    def remove(self, node: str) -> None:
        """``node`` leaves; the nodes after it are renumbered."""
        if node not in self._order:
            raise ConfigError(f"{node!r} is not a node (nodes: {', '.join(self.nodes)})")
        self._order.remove(node)

    def walk(self, key: str) -> tuple[str, ...]:
        """The owner, then the nodes numbered after it (wrapping round)."""
        if not self._order:
            raise _empty("modulo hash")
        first = stable_hash(_check_key(key)) % len(self._order)
        return tuple(self._order[first:] + self._order[:first])

    def owner(self, key: str) -> str:
        """Node number ``hash(key) mod N``."""
        if not self._order:
            raise _empty("modulo hash")
        return self._order[stable_hash(_check_key(key)) % len(self._order)]

    def preference_list(self, key: str, n: int) -> tuple[str, ...]:
        """The owner and the ``n - 1`` nodes numbered after it."""
        return _preference(self.walk(key), n)

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, node: object) -> bool:
        return node in self._order

    def __repr__(self) -> str:
        return f"ModuloHash({self._order!r})"


# ----- counting ----------------------------------------------------------------------------


def key_counts(placement: Placement, keys: Iterable[str]) -> dict[str, int]:
    """How many of ``keys`` each node holds (every node listed, sorted, zeros included).

    >>> key_counts(ModuloHash(["a", "b"]), ["k1", "k2", "k3", "k4", "k5", "k6"])
    {'a': 4, 'b': 2}
    """
    counts = dict.fromkeys(placement.nodes, 0)
    for key in keys:
        counts[placement.owner(key)] += 1
    return counts


def imbalance(counts: Mapping[str, int | float]) -> float:
    """The load of the most loaded node over the mean load (1.0 is perfect balance).

    >>> imbalance({"a": 30, "b": 10})
    1.5
    """
    if not counts:
        raise UsageError("no nodes to measure the balance of")
    mean = sum(counts.values()) / len(counts)
    if mean == 0:
        raise UsageError("no load to measure the balance of: count some keys")
    return max(counts.values()) / mean


def owners(placement: Placement, keys: Iterable[str]) -> dict[str, str]:
    """Each key's owner: compare two calls (before and after a change) with
    :func:`moved_keys`."""
    return {key: placement.owner(key) for key in keys}


def moved_keys(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """The keys whose owner differs between two :func:`owners` maps, in key order.

    >>> ring = ConsistentHashRing(["a", "b", "c"])
    >>> keys = [f"k{i}" for i in range(1000)]
    >>> before = owners(ring, keys)
    >>> ring.add("d")
    >>> after = owners(ring, keys)
    >>> moved = moved_keys(before, after)
    >>> all(after[key] == "d" for key in moved), 150 < len(moved) < 350   # about K/4
    (True, True)
    """
    if before.keys() != after.keys():
        raise UsageError("compare the owners of the same keys before and after")
    return sorted(key for key in before if before[key] != after[key])
