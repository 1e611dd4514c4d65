"""Mutant: a shard moves with its data but without its session table.

A client whose append was applied by the old owner, but whose answer was lost, retries at
the new owner, which has never heard of that operation number and applies it again.
Caught by ``a_retried_append_is_applied_once_across_a_move`` (the value appears twice: not
linearizable).
"""

from __future__ import annotations

from dsys.labs import reference_module
from dsys.scaling.sharding.messages import PullShardReply

lab10 = reference_module("lab10")
ShardKVClient = lab10.ShardKVClient

__all__ = ["ShardKVClient", "ShardKVServer"]


class ShardKVServer(lab10.ShardKVServer):
    def send(self, dst: str, msg: object) -> None:
        if isinstance(msg, PullShardReply) and msg.data is not None:
            msg = PullShardReply(msg.num, msg.shard, msg.status, msg.data, {})  # BUG
        super().send(dst, msg)
