"""Broken variants of the sharded store, each with one classic bug the tests must catch."""

from __future__ import annotations

from typing import Any

from dsys.scaling.sharding import Config, ShardKVClient, ShardKVServer, ShardService, ShardStore
from dsys.scaling.sharding.messages import PullShardReply
from dsys.scaling.sharding.store import HANDING_OFF, PULLING, Shard


class ServesBeforeArrivalStore(ShardStore):
    """Answers for a shard it gained as soon as the configuration says so, before its
    data arrived (reads miss earlier writes; writes are lost when the data lands)."""

    def serving(self, number: int) -> Shard | None:
        shard = self.shards.get(number)
        return shard if shard is not None and shard.state != HANDING_OFF else None

    def apply(self, index: int, command: dict[str, Any]) -> dict[str, Any]:
        if command["type"] == "install":  # keep what was written meanwhile, too
            shard = self.shards.get(command["shard"])
            if shard is not None and shard.state == PULLING and command["num"] == self.config.num:
                command = {**command, "data": {**command["data"], **shard.data}}
        return super().apply(index, command)


class ServesBeforeArrival(ShardKVServer):
    Store = ServesBeforeArrivalStore


class KeepsServingStore(ShardStore):
    """Keeps answering for a shard it is handing off."""

    def serving(self, number: int) -> Shard | None:
        shard = self.shards.get(number)
        return shard if shard is not None and shard.state != PULLING else None


class KeepsServingAfterHandoff(ShardKVServer):
    Store = KeepsServingStore


class SkipsStore(ShardStore):
    """Takes any newer configuration, not only the next one."""

    def next_config(self, new: Config) -> dict[str, Any]:
        if new.num > self.config.num + 1 and self.settled():
            # Pretend the current one is the one just before: pulls ask the owners of
            # ``num`` for shards of ``new``, skipping every configuration between.
            self.config = Config(new.num - 1, self.config.shards, self.config.groups)
        return super().next_config(new)


class SkipsService(ShardService):
    def on_timer(self, name: str) -> None:
        if name == "poll" and self.raft.is_leader and self.store.settled():
            target, query = self.link.query(-1, self.id)  # the latest, not the next
            self.send(target, query)
            self.link.next()
            self.set_timer(name, self.poll)
            return
        super().on_timer(name)

    def on_config(self, src: str, msg: Any) -> None:
        config = self.link.answer(src, msg)
        if config is not None and self.raft.is_leader and self.store.settled() \
                and config.num > self.store.config.num:
            self.raft.start({"type": "config", "config": config.to_json()})


class SkipsConfigurations(ShardKVServer):
    Store = SkipsStore
    Service = SkipsService


class NoSessionsService(ShardService):
    """Sends a shard's data without its session table: a retried append applies twice."""

    def send(self, dst: str, msg: object) -> None:
        if isinstance(msg, PullShardReply) and msg.sessions is not None:
            msg = PullShardReply(msg.num, msg.shard, msg.status, msg.data, {})
        super().send(dst, msg)


class MigratesWithoutSessions(ShardKVServer):
    Service = NoSessionsService


class InstallsOutsideTheLogService(ShardService):
    """Installs a pulled shard on the leader only, without the log: the followers never
    get it (and a new leader finds it missing)."""

    def on_pulled(self, msg: PullShardReply) -> None:
        shard = self.store.shards.get(msg.shard)
        if (msg.status == "ok" and self.raft.is_leader and msg.num == self.store.config.num
                and shard is not None and shard.state == PULLING):
            self.store.apply(0, {"type": "install", "num": msg.num, "shard": msg.shard,
                                 "data": msg.data, "sessions": msg.sessions})


class InstallsOutsideTheLog(ShardKVServer):
    Service = InstallsOutsideTheLogService


class AcceptsForeignStore(ShardStore):
    """Answers for any key, owned or not: a shard it does not hold is created empty."""

    def serving(self, number: int) -> Shard | None:
        shard = self.shards.get(number)
        if shard is None:
            shard = self.shards[number] = Shard("serving")
        return shard if shard.state != PULLING else None


class AcceptsForeignKeys(ShardKVServer):
    Store = AcceptsForeignStore


class NeverRequeries(ShardKVClient):
    """On ``wrong group``, tries the same group again instead of asking the controller."""

    def ask_controller(self) -> None:
        if self.config is None:
            super().ask_controller()
            return
        self.tried = 0  # round the same group again, after a pause
        self.set_timer("retry", self.retry)
