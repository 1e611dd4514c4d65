"""Mutant (written for the lab by its author, without a test in mind): a group counts a
shard that has arrived but whose old copy is not deleted yet as settled, and moves on to
the next configuration.

Its "you may delete" messages then go to the owner named by the *new* previous
configuration, not to the group that still holds the old copy: that group keeps the shard
"handing off" forever, and stops at that configuration (it waits for every shard to
settle), so the shards it should later receive or give never move.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab10 = reference_module("lab10")
ShardKVClient = lab10.ShardKVClient

__all__ = ["ShardKVClient", "ShardKVServer"]


class HastyState(lab10.GroupState):
    def settled(self) -> bool:
        # BUG: "deleting" counts as settled
        return all(shard["state"] in (lab10.SERVING, lab10.DELETING)
                   for shard in self.shards.values())


class ShardKVServer(lab10.ShardKVServer):
    def __init__(self, gid: str, *args: object, **kwargs: object) -> None:
        super().__init__(gid, *args, **kwargs)
        self.state = HastyState(gid, len(self.state.config.shards))
