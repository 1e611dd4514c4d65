"""Mutant: a group answers for a shard it gained as soon as the configuration says so,
before the shard's data has arrived from its previous owner.

Reads of the shard see it empty, and writes made meanwhile are overwritten when the data
lands. Caught by ``a_shard_in_flight_is_served_by_nobody`` (a read that misses an append
that completed before it: not linearizable).
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab10 = reference_module("lab10")
ShardKVClient = lab10.ShardKVClient

__all__ = ["ShardKVClient", "ShardKVServer"]


class EagerState(lab10.GroupState):
    def serving(self, number: int) -> dict[str, Any] | None:
        shard = self.shards.get(number)
        # BUG: a shard still pulling is served too
        return shard if shard is not None and shard["state"] != lab10.HANDING_OFF else None


class ShardKVServer(lab10.ShardKVServer):
    def __init__(self, gid: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(gid, *args, **kwargs)
        self.state = EagerState(gid, len(self.state.config.shards))
