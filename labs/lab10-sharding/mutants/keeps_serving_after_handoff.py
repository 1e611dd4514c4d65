"""Mutant: a group keeps answering for a shard it is handing off to another group.

A client that still has the old configuration writes through the old owner, while the new
owner serves the shard too: two groups serve one shard in one configuration, and the
write made at the old owner is lost or seen by some reads only. Caught by
``a_shard_in_flight_is_served_by_nobody`` (the "one group per shard" check, or
linearizability).
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab10 = reference_module("lab10")
ShardKVClient = lab10.ShardKVClient

__all__ = ["ShardKVClient", "ShardKVServer"]


class LingeringState(lab10.GroupState):
    def serving(self, number: int) -> dict[str, Any] | None:
        shard = self.shards.get(number)
        # BUG: a shard handed off is still served
        return shard if shard is not None and shard["state"] != lab10.PULLING else None


class ShardKVServer(lab10.ShardKVServer):
    def __init__(self, gid: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(gid, *args, **kwargs)
        self.state = LingeringState(gid, len(self.state.config.shards))
