"""Mutant: the leader installs a pulled shard into its own state directly, instead of
putting it through the group's Raft log.

Only that server has the shard: its followers never get it, a snapshot taken by a
follower lacks it, and after a crash or a new election the shard is gone (or the group
waits for it forever). Caught by ``snapshots_and_restarts``.
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab10 = reference_module("lab10")
ShardKVClient = lab10.ShardKVClient

__all__ = ["ShardKVClient", "ShardKVServer"]


class ShardKVServer(lab10.ShardKVServer):
    def on_pulled(self, msg: Any) -> None:
        shard = self.state.shards.get(msg.shard)
        if (msg.status == lab10.OK and self.raft.is_leader
                and msg.num == self.state.config.num and shard is not None
                and shard["state"] == lab10.PULLING):
            # BUG: straight into this server's state, not through the log
            self.migration_step("install", {"num": msg.num, "shard": msg.shard,
                                            "data": msg.data, "sessions": msg.sessions})
