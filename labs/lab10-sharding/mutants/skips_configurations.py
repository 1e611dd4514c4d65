"""Mutant: a group asks the controller for the *latest* configuration, not the next one,
and moves straight to it.

A group that jumps from configuration n to n + 2 asks the owners of n for shards that
belonged to someone else in n + 1, and a group that joins late never passes through the
configurations in between. Caught by ``join_then_leave`` (a server's configurations jump
ahead by more than one).
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module
from dsys.scaling.sharding import Config

lab10 = reference_module("lab10")
ShardKVClient = lab10.ShardKVClient

__all__ = ["ShardKVClient", "ShardKVServer"]


class ShardKVServer(lab10.ShardKVServer):
    def on_timer(self, name: str) -> None:
        if name == "poll" and self.raft.is_leader and self.state.settled():
            target, query = self.link.query(-1, self.id)  # BUG: the latest, not num + 1
            self.send(target, query)
            self.link.next()
            self.set_timer(name, lab10.POLL)
            return
        super().on_timer(name)

    def on_config(self, src: str, msg: Any) -> None:
        config = self.link.answer(src, msg)
        if (config is not None and self.raft.is_leader and self.state.settled()
                and config.num > self.state.config.num):  # BUG: any newer one
            self.raft.start({"type": "config", "config": config.to_json()})

    def next_config(self, new: Config) -> dict[str, Any]:
        if new.num > self.state.config.num + 1 and self.state.settled():
            current = self.state.config  # BUG: pretend the current one came just before
            self.state.config = Config(new.num - 1, current.shards, current.groups)
        result: dict[str, Any] = super().next_config(new)
        return result
