"""Mutant: a group answers for any key, whether or not it serves the key's shard (a
shard it does not hold is created empty).

Two groups then serve one shard, and a client with an old configuration writes where
nobody will ever read. Caught by ``join_then_leave`` (two groups serve one shard in one
configuration, or a read misses a write).
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab10 = reference_module("lab10")
ShardKVClient = lab10.ShardKVClient

__all__ = ["ShardKVClient", "ShardKVServer"]


class ForeignState(lab10.GroupState):
    def serving(self, number: int) -> dict[str, Any] | None:
        # BUG: no ownership check at all
        return self.shards.setdefault(number, {"state": lab10.SERVING, "data": {},
                                               "sessions": {}})


class ShardKVServer(lab10.ShardKVServer):
    def __init__(self, gid: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(gid, *args, **kwargs)
        self.state = ForeignState(gid, len(self.state.config.shards))
