"""Merkle trees: find the keys two replicas disagree on by exchanging a few hashes.

Two replicas of a key range want to know which keys differ between them. Sending every
key with a digest of its value works, and costs the whole key list every time, even when
the replicas agree on all but one key. A Merkle tree (Merkle, *A digital signature based
on a conventional encryption function*, CRYPTO 1987; used for anti-entropy by Dynamo,
SOSP 2007 §4.7, and Cassandra) makes the cost follow the *differences* instead:

* keys are spread over ``fanout ** depth`` *leaves* by the hash of the key (so both
  replicas put a key in the same leaf); a leaf's hash covers its keys and their digests;
* each inner node's hash covers its ``fanout`` children's hashes, up to one *root*;
* two replicas compare roots: equal roots mean equal contents (up to a hash collision),
  and nothing more is sent. Otherwise they compare the children of the differing nodes
  only, level by level, and finally exchange the entries of the differing leaves.

With ``d`` differing keys out of ``K``, that is about ``d * fanout * depth`` hashes and
``d * K / leaves`` entries instead of ``K`` entries: :func:`compare` simulates the
descent between two trees and counts what it would exchange, :func:`compare_all` counts
the full comparison. :class:`~dsys.replication.quorum.AntiEntropy` runs the same descent
as messages between replicas.

Example:
    >>> ours = MerkleTree({"a": digest("1"), "b": digest("2"), "c": digest("3")})
    >>> theirs = MerkleTree({"a": digest("1"), "b": digest("two"), "c": digest("3")})
    >>> ours.root == theirs.root
    False
    >>> compare(ours, theirs).keys
    ('b',)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

import attrs

from dsys.errors import ConfigError
from dsys.replication.ring import RING_SIZE, stable_hash

#: Hex characters of every hash and digest (64 bits: collisions are not a worry here).
DIGEST_CHARS = 16


def digest(text: str) -> str:
    """A short hex digest of ``text`` (the first 64 bits of its SHA-256).

    >>> digest("hello")
    '2cf24dba5fb0a30e'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:DIGEST_CHARS]


#: The hash of a leaf that holds no key.
EMPTY = digest("[]")


class MerkleTree:
    """A Merkle tree over ``items`` (key -> digest of its value) with ``fanout ** depth``
    leaves. ``depth=0`` is a single leaf (the root) holding every key.

    Nodes are addressed by ``(level, index)``: level 0 is the root, level ``depth`` the
    leaves; node ``(l, i)`` has children ``(l + 1, i * fanout + j)`` for ``j`` in
    ``range(fanout)``. The tree is built once and not changed: build a new one when the
    data changes.

    Example:
        >>> tree = MerkleTree({"x": digest("1"), "y": digest("2")}, depth=2, fanout=2)
        >>> tree.leaves, len(tree.hash(0, 0))
        (4, 16)
        >>> sorted(key for leaf in range(tree.leaves) for key, _ in tree.leaf(leaf))
        ['x', 'y']
        >>> MerkleTree({}, fanout=1)
        Traceback (most recent call last):
          ...
        dsys.errors.ConfigError: a Merkle tree needs fanout >= 2 and depth >= 0, got
        fanout=1, depth=4
    """

    def __init__(self, items: Mapping[str, str], *, depth: int = 4, fanout: int = 4) -> None:
        if (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0
                or isinstance(fanout, bool) or not isinstance(fanout, int) or fanout < 2):
            raise ConfigError(f"a Merkle tree needs fanout >= 2 and depth >= 0, got "
                              f"fanout={fanout!r}, depth={depth!r}")
        self.depth = depth
        self.fanout = fanout
        self.leaves = fanout ** depth
        # Sparse: only the subtrees that hold keys are stored; every other node has the
        # hash of an empty subtree of its level (so the cost follows the keys, not the
        # leaves).
        buckets: dict[int, list[tuple[str, str]]] = {}
        for key in sorted(items):
            buckets.setdefault(self.bucket_of(key), []).append((key, items[key]))
        self._buckets = {index: tuple(bucket) for index, bucket in buckets.items()}
        level = {index: digest(json.dumps(bucket)) for index, bucket in buckets.items()}
        empty = EMPTY
        levels, empties = [level], [empty]
        for _ in range(depth):
            below, below_empty = level, empty
            empty = digest(below_empty * fanout)
            level = {parent: digest("".join(below.get(child, below_empty)
                                            for child in self.children(parent)))
                     for parent in sorted({index // fanout for index in below})}
            levels.append(level)
            empties.append(empty)
        levels.reverse()  # levels[0] is the root
        empties.reverse()
        self._levels = levels
        self._empty = empties

    def bucket_of(self, key: str) -> int:
        """The leaf ``key`` belongs to: its ring position, scaled to the number of leaves
        (so neighbouring keys on the ring share a leaf, as a key range does)."""
        return stable_hash(key) * self.leaves // RING_SIZE

    @property
    def root(self) -> str:
        """The root hash: equal for two trees of equal items (and equal shape)."""
        return self.hash(0, 0)

    def hash(self, level: int, index: int) -> str:
        """The hash of node ``index`` of ``level``."""
        return self._levels[level].get(index, self._empty[level])

    def children(self, index: int) -> range:
        """The indices (one level down) of node ``index``'s children."""
        return range(index * self.fanout, (index + 1) * self.fanout)

    def leaf(self, index: int) -> tuple[tuple[str, str], ...]:
        """The ``(key, digest)`` entries of leaf ``index``, sorted by key."""
        return self._buckets.get(index, ())

    def entries(self, leaves: Iterable[int] | None = None) -> tuple[tuple[str, str], ...]:
        """The entries of the given leaves (default: all), in leaf then key order."""
        chosen = sorted(self._buckets) if leaves is None else sorted(set(leaves))
        return tuple(entry for index in chosen for entry in self.leaf(index))

    def __repr__(self) -> str:
        count = sum(len(bucket) for bucket in self._buckets.values())
        return (f"<MerkleTree of {count} keys, depth {self.depth}, fanout {self.fanout}, "
                f"root {self.root}>")


@attrs.frozen
class Comparison:
    """What comparing two replicas found and cost.

    ``keys``: the keys whose digests differ, or that one side lacks (sorted);
    ``hashes``: tree hashes sent; ``entries``: ``(key, digest)`` entries sent;
    ``rounds``: messages in sequence (round trips count two); ``bytes``: the payload,
    counted as :data:`DIGEST_CHARS` per hash and ``len(key) + DIGEST_CHARS`` per entry.
    """

    keys: tuple[str, ...]
    hashes: int
    entries: int
    rounds: int
    bytes: int


def _differing(ours: Iterable[tuple[str, str]], theirs: Iterable[tuple[str, str]]
               ) -> tuple[str, ...]:
    mine, other = dict(ours), dict(theirs)
    return tuple(sorted(key for key in mine.keys() | other.keys()
                        if mine.get(key) != other.get(key)))


def _entry_bytes(entries: Iterable[tuple[str, str]]) -> int:
    return sum(len(key) + DIGEST_CHARS for key, _ in entries)


def compare(ours: MerkleTree, theirs: MerkleTree) -> Comparison:
    """Descend two trees of one shape from the root into differing subtrees only, as two
    replicas would by messages, and say which keys differ and what it cost.

    Each step sends the hashes of the children of the nodes that differed one level up
    (the first step sends the root); at the leaves, the entries of the differing leaves
    are sent. Equal roots cost one hash.

    Example:
        >>> items = {f"k{i}": digest(str(i)) for i in range(1000)}
        >>> changed = dict(items, k7=digest("new"))
        >>> found = compare(MerkleTree(items), MerkleTree(changed))
        >>> found.keys, found.bytes < compare_all(items, changed).bytes
        (('k7',), True)
    """
    if (ours.depth, ours.fanout) != (theirs.depth, theirs.fanout):
        raise ConfigError(f"cannot compare a tree of depth {ours.depth}, fanout {ours.fanout} "
                          f"with one of depth {theirs.depth}, fanout {theirs.fanout}: both "
                          "replicas must build trees of one shape")
    hashes, rounds = 1, 1
    frontier = [0] if ours.root != theirs.root else []
    for level in range(1, ours.depth + 1):
        if not frontier:
            break
        below = [child for index in frontier for child in ours.children(index)]
        hashes += len(below)
        rounds += 1
        frontier = [i for i in below if ours.hash(level, i) != theirs.hash(level, i)]
    if not frontier:
        return Comparison((), hashes, 0, rounds, hashes * DIGEST_CHARS)
    mine, other = ours.entries(frontier), theirs.entries(frontier)
    # Their entries of the differing leaves come over; we answer with ours for the keys
    # that differ (the data itself is the next step, and is not counted here).
    keys = _differing(mine, other)
    differ = set(keys)
    sent = other + tuple((key, d) for key, d in mine if key in differ)
    return Comparison(keys, hashes, len(sent), rounds + 2,
                      hashes * DIGEST_CHARS + _entry_bytes(sent))


def compare_all(ours: Mapping[str, str], theirs: Mapping[str, str]) -> Comparison:
    """The full comparison: every ``(key, digest)`` entry of one replica is sent over,
    and the other answers with its own entries for the keys that differ.

    Example:
        >>> compare_all({"a": digest("1")}, {"a": digest("1"), "b": digest("2")})
        Comparison(keys=('b',), hashes=0, entries=2, rounds=2, bytes=34)
    """
    keys = _differing(ours.items(), theirs.items())
    sent = tuple(sorted(theirs.items())) + tuple(
        (key, ours[key]) for key in keys if key in ours)
    return Comparison(keys, 0, len(sent), 2, _entry_bytes(sent))
