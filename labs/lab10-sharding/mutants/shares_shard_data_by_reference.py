"""Mutant: installing a pulled shard copies its session table but keeps the log entry's
own dictionary (the command's) as the shard's data.

Later writes to the shard change the ``install`` entry inside the leader's Raft log too: a
replica that receives that entry late (it was cut off) installs the shard *with* those
later writes, then applies them again (its copy of the session table has not seen them).
Caught by ``a_lagging_replica_catches_up_on_a_move``.
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab10 = reference_module("lab10")
ShardKVClient = lab10.ShardKVClient

__all__ = ["ShardKVClient", "ShardKVServer"]


class ShardKVServer(lab10.ShardKVServer):
    def migration_step(self, kind: str, command: dict[str, Any]) -> dict[str, Any]:
        shard = self.state.shards.get(command["shard"])
        if (kind == "install" and shard is not None and shard["state"] == lab10.PULLING
                and command["num"] == self.state.config.num):
            # BUG: the command's own data dict, shared with the log entry
            self.state.shards[command["shard"]] = {"state": lab10.DELETING,
                                                   "data": command["data"],
                                                   "sessions": dict(command["sessions"])}
            return {"status": lab10.OK}
        result: dict[str, Any] = super().migration_step(kind, command)
        return result
