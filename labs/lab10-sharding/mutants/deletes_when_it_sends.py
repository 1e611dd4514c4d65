"""Mutant: the old owner deletes its copy of a shard as soon as it has sent it, without
waiting for the new owner to say it has it.

If that one reply is lost (or the new owner's leader crashes before the install is
committed), the shard is gone: the new owner pulls forever. Caught by
``unreliable_network``.
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab10 = reference_module("lab10")
ShardKVClient = lab10.ShardKVClient

__all__ = ["ShardKVClient", "ShardKVServer"]


class ShardKVServer(lab10.ShardKVServer):
    def on_pull(self, src: str, msg: Any) -> None:
        super().on_pull(src, msg)
        if self.raft.is_leader and self.state.pullable(msg.num, msg.shard) is not None:
            # BUG: delete now, trusting the reply to arrive
            self.raft.start({"type": "delete", "num": msg.num, "shard": msg.shard})
