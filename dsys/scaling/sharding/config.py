"""Configurations of a sharded store: which replica group serves which shard.

Keys are split into a fixed number of *shards* by a stable hash (:func:`shard_of`: the
same key gives the same shard in every process, whatever ``PYTHONHASHSEED``). A
:class:`Config` is one numbered assignment of every shard to a group (or to none, in
configuration 0, before any group joined). The controller changes the configuration with
:func:`rebalance`, which spreads the shards as evenly as possible and **moves the fewest
shards** to get there; it never iterates over a set or a hashed order, so every replica of
the controller computes the same configuration.

Example:
    >>> from dsys.scaling.sharding.config import Config, rebalance, shard_of
    >>> shard_of("x", 10), shard_of("x", 10) == shard_of("x", 10)
    (3, True)
    >>> first = Config.empty(6)
    >>> one = rebalance(first, {"g1": ("a1", "a2", "a3")})
    >>> one.num, one.shards
    (1, ('g1', 'g1', 'g1', 'g1', 'g1', 'g1'))
    >>> two = rebalance(one, {**one.groups, "g2": ("b1", "b2", "b3")})
    >>> two.shards  # g2 takes three shards from g1; the other three stay where they are
    ('g1', 'g1', 'g1', 'g2', 'g2', 'g2')
    >>> two.moved_from(one)
    (3, 4, 5)
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import attrs

from dsys.errors import ConfigError

#: How many shards a store has unless told otherwise (as in MIT 6.5840's shardkv).
NSHARDS = 10


def shard_of(key: str, shards: int = NSHARDS) -> int:
    """The shard of ``key``: CRC-32 of its UTF-8 bytes, modulo ``shards`` (stable across
    processes, unlike Python's ``hash`` of a string)."""
    return zlib.crc32(key.encode("utf-8")) % shards


@attrs.frozen
class Config:
    """Configuration ``num``: ``shards[i]`` is the group serving shard ``i`` (None: no
    group), ``groups`` maps each group's name to its servers.

    Stored in Raft logs and sent on the wire as :meth:`to_json` (JSON values only).
    """

    num: int
    shards: tuple[str | None, ...]
    groups: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    @classmethod
    def empty(cls, shards: int = NSHARDS) -> Config:
        """Configuration 0: no group, no shard assigned."""
        if shards < 1:
            raise ConfigError(f"a store needs at least one shard, got {shards}")
        return cls(0, (None,) * shards, {})

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> Config:
        """From :meth:`to_json`'s form."""
        return cls(int(value["num"]), tuple(value["shards"]),
                   {gid: tuple(servers) for gid, servers in sorted(value["groups"].items())})

    def to_json(self) -> dict[str, Any]:
        """``{"num", "shards", "groups"}``, JSON values only (groups in sorted order)."""
        return {"num": self.num, "shards": list(self.shards),
                "groups": {gid: list(self.groups[gid]) for gid in sorted(self.groups)}}

    def shards_of(self, gid: str) -> tuple[int, ...]:
        """The shards group ``gid`` serves in this configuration."""
        return tuple(i for i, owner in enumerate(self.shards) if owner == gid)

    def moved_from(self, previous: Config) -> tuple[int, ...]:
        """The shards whose group differs from ``previous``'s."""
        return tuple(i for i, (a, b) in enumerate(zip(previous.shards, self.shards,
                                                      strict=True)) if a != b)


def rebalance(config: Config, groups: Mapping[str, tuple[str, ...]]) -> Config:
    """The next configuration after ``config`` when the groups become ``groups``.

    Every group ends with ``len(shards) // len(groups)`` shards or one more; the groups
    that already hold the most keep the extra ones; a group only gives up shards above
    its share, and only shards of groups that left or of groups above their share move.
    Ties are broken by group name, freed shards are taken in shard order: deterministic.
    """
    shards = list(config.shards)
    names = sorted(groups)
    if not names:
        return Config(config.num + 1, (None,) * len(shards), {})
    held = {gid: [i for i, owner in enumerate(shards) if owner == gid] for gid in names}
    free = [i for i, owner in enumerate(shards) if owner not in held]
    base, extra = divmod(len(shards), len(names))
    # The groups holding the most get the ``extra`` shares of base + 1: fewest moves.
    ranked = sorted(names, key=lambda gid: (-len(held[gid]), gid))
    target = {gid: base + (1 if rank < extra else 0) for rank, gid in enumerate(ranked)}
    for gid in ranked:
        while len(held[gid]) > target[gid]:
            free.append(held[gid].pop())  # give up its highest-numbered shards
    free.sort()
    for gid in ranked:
        while len(held[gid]) < target[gid]:
            shard = free.pop(0)
            held[gid].append(shard)
            shards[shard] = gid
    return Config(config.num + 1, tuple(shards), {gid: tuple(groups[gid]) for gid in names})
