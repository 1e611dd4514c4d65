"""Measure the placement rules of :mod:`dsys.naming.hashing`: balance and movement.

Two questions decide between them:

* **balance**: how unevenly are keys spread? :func:`measure_balance` builds rings of
  ``nodes`` nodes with more and more virtual nodes and reports the key load of the most
  loaded node over the mean (``max/mean``), and the relative spread of the nodes' shares
  of the ring against the spread the math predicts. A node's share of a ring with ``v``
  tokens per node is a sum of ``v`` of the ``M = N·v`` gaps between random points on a
  circle, a Beta(v, M - v) variable of mean ``1/N``, so its relative standard deviation is
  ``sqrt((N - 1) / (N·v + 1))``, about ``1/sqrt(v)``;
* **movement**: how many keys change node when one node joins or leaves?
  :func:`measure_movement` counts them for the three rules. A join should move only the
  newcomer's keys, ``K/(N+1)`` of ``K`` on average, and a leave only the leaver's, ``K/N``;
  consistent and rendezvous hashing do, mod-N moves ``N/(N+1)`` of all keys on a join.

Neither runs a simulation: placement is a pure function of names, measured directly.

Example:
    >>> [round(row.max_over_mean, 2) for row in measure_balance((1, 64), keys=5000)]
    [3.75, 1.24]
    >>> [(m.scheme, m.join, m.leave) for m in measure_movement(nodes=4, keys=2000)]
    [('mod-N', 1585, 1471), ('consistent', 372, 495), ('rendezvous', 403, 467)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import attrs

from dsys.errors import ConfigError
from dsys.naming.hashing import (
    ConsistentHashRing,
    ModuloHash,
    Placement,
    RendezvousHash,
    imbalance,
    moved_keys,
    owners,
    stable_hash,
)


def node_names(count: int, prefix: str = "n") -> tuple[str, ...]:
    """``count`` node ids, ``n01``... (zero-padded so that they sort in number order).

    >>> node_names(3)
    ('n01', 'n02', 'n03')
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"need at least one node, got {count!r}")
    width = max(2, len(str(count)))
    return tuple(f"{prefix}{i:0{width}d}" for i in range(1, count + 1))


def key_names(count: int) -> list[str]:
    """``count`` keys, ``key0``, ``key1``..."""
    return [f"key{i}" for i in range(count)]


def expected_spread(nodes: int, vnodes: int) -> float:
    """The relative standard deviation of a node's share of a ring of ``nodes`` nodes with
    ``vnodes`` tokens each (see the module docstring).

    >>> round(expected_spread(10, 1), 3), round(expected_spread(10, 100), 3)
    (0.905, 0.095)
    """
    return math.sqrt((nodes - 1) / (nodes * vnodes + 1))


@attrs.frozen
class Balance:
    """The balance of rings of ``nodes`` nodes with ``vnodes`` tokens each, over
    ``trials`` rings (each with other node names).

    ``max_over_mean``: the key load of the most loaded node over the mean, averaged over
    the trials. ``spread``: the measured relative standard deviation of the nodes' shares
    of the ring (all trials pooled); ``expected``: the predicted one.
    """

    vnodes: int
    nodes: int
    keys: int
    trials: int
    max_over_mean: float
    spread: float
    expected: float


def measure_balance(vnodes: Iterable[int] = (1, 4, 16, 64, 256), *, nodes: int = 10,
                    keys: int = 50_000, trials: int = 1) -> list[Balance]:
    """The balance of consistent-hashing rings with each number of virtual nodes in
    ``vnodes``: ``keys`` keys on ``nodes`` nodes, over ``trials`` sets of node names.

    >>> row = measure_balance([16], nodes=10, keys=2000, trials=3)[0]
    >>> row.vnodes, row.trials, 0.1 < row.spread < 0.4, round(row.expected, 3)
    (16, 3, True, 0.236)
    """
    if keys < 1 or trials < 1:
        raise ConfigError(f"need keys >= 1 and trials >= 1, got {keys} and {trials}")
    positions = [stable_hash(key) for key in key_names(keys)]  # hashed once, for every ring
    rows = []
    for v in vnodes:
        loads, deviations = [], []
        for trial in range(trials):
            ring = ConsistentHashRing(node_names(nodes, f"t{trial}-n"), vnodes=v)
            counts = dict.fromkeys(ring.nodes, 0)
            for position in positions:
                counts[ring.owner_at(position)] += 1
            loads.append(imbalance(counts))
            deviations += [(share * nodes - 1) ** 2 for share in ring.ownership().values()]
        rows.append(Balance(v, nodes, keys, trials, sum(loads) / trials,
                            math.sqrt(sum(deviations) / len(deviations)),
                            expected_spread(nodes, v)))
    return rows


@attrs.frozen
class Movement:
    """Keys that changed node under one placement rule (``scheme``) when node ``N + 1``
    joined ``nodes`` = N nodes (``join``), and when the first of the N nodes left
    (``leave``), out of ``keys`` keys."""

    scheme: str
    nodes: int
    keys: int
    join: int
    leave: int

    @property
    def minimal_join(self) -> float:
        """The fewest keys a join can move on average: the newcomer's share, ``K/(N+1)``."""
        return self.keys / (self.nodes + 1)

    @property
    def minimal_leave(self) -> float:
        """The fewest keys a leave can move on average: the leaver's share, ``K/N``."""
        return self.keys / self.nodes


#: The rules :func:`measure_movement` compares, by name: a factory of an empty placement.
SCHEMES: dict[str, Callable[[int], Placement]] = {
    "mod-N": lambda vnodes: ModuloHash(),
    "consistent": lambda vnodes: ConsistentHashRing(vnodes=vnodes),
    "rendezvous": lambda vnodes: RendezvousHash(),
}


def movement(placement: Placement, keys: Sequence[str], *, join: str, leave: str
             ) -> tuple[list[str], list[str]]:
    """The keys that move when ``join`` joins ``placement``, and then when ``leave``
    leaves it again (``placement`` is left as it was at the start, but for the order of a
    :class:`~dsys.naming.hashing.ModuloHash`'s nodes).

    >>> ring = ConsistentHashRing(["a", "b", "c"])
    >>> joined, left = movement(ring, key_names(100), join="d", leave="a")
    >>> len(joined) > 0, len(left) > 0, ring.nodes
    (True, True, ('a', 'b', 'c'))
    """
    start = owners(placement, keys)
    placement.add(join)
    joined = moved_keys(start, owners(placement, keys))
    placement.remove(join)
    placement.remove(leave)
    left = moved_keys(start, owners(placement, keys))
    placement.add(leave)
    return joined, left


def measure_movement(*, nodes: int = 10, keys: int = 10_000, vnodes: int = 100,
                     schemes: Iterable[str] = tuple(SCHEMES),
                     prefix: str = "n") -> list[Movement]:
    """For each placement rule of :data:`SCHEMES` (consistent hashing with ``vnodes``
    tokens per node), the keys moved when an ``N + 1``-th node joins ``nodes`` nodes and
    when the first node leaves, out of ``keys`` keys.

    Example:
        >>> [m.scheme for m in measure_movement(nodes=3, keys=100)]
        ['mod-N', 'consistent', 'rendezvous']
    """
    names = node_names(nodes + 1, prefix)
    all_keys = key_names(keys)
    rows = []
    for scheme in schemes:
        if scheme not in SCHEMES:
            raise ConfigError(f"no placement rule named {scheme!r}; choose from "
                              f"{', '.join(SCHEMES)}")
        placement = SCHEMES[scheme](vnodes)
        for node in names[:-1]:
            placement.add(node)
        joined, left = movement(placement, all_keys, join=names[-1], leave=names[0])
        rows.append(Movement(scheme, nodes, keys, len(joined), len(left)))
    return rows
