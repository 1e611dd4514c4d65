"""Mutant: a group checks that it serves a key's shard when the request arrives, but not
again when the operation is applied.

Between the two, the group may apply a configuration that takes the shard away: the write
lands on the frozen copy being handed off (lost if the new owner already pulled it), or a
read answers from it. Caught by ``changes_under_partitions_and_crashes``.
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab10 = reference_module("lab10")
ShardKVClient = lab10.ShardKVClient

__all__ = ["ShardKVClient", "ShardKVServer"]


class ShardKVServer(lab10.ShardKVServer):
    def operate(self, command: dict[str, Any]) -> dict[str, Any]:
        number = lab10.shard_of(command["key"], len(self.state.config.shards))
        shard = self.state.shards.get(number)  # BUG: any state, handed off included
        if shard is None:
            return {"status": lab10.WRONG_GROUP, "value": None}
        self.note("serve", gid=self.gid, shard=number, num=self.state.config.num)
        key, data, sessions = command["key"], shard["data"], shard["sessions"]
        current = data.get(key, "")
        if command["f"] == "get":
            return {"status": lab10.OK, "value": current}
        if sessions.get(command["session"], 0) >= command["seq"]:
            return {"status": lab10.OK, "value": None}
        sessions[command["session"]] = command["seq"]
        data[key] = command["value"] if command["f"] == "put" else current + command["value"]
        return {"status": lab10.OK, "value": None}
