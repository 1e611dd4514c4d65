"""Broken key-value servers: each is the real one with one rule changed; the tests must
catch each (they are also the classic bugs of the key-value lab)."""

from __future__ import annotations

from typing import Any

from dsys.kv import KVServer, KVStore
from dsys.kv.messages import OK, KVRequest


class NoDedupStore(KVStore):
    """Applies every copy of an operation: a retry after a lost reply runs twice."""

    def apply(self, index: int, command: dict[str, Any]) -> dict[str, Any]:
        if command["f"] != "register" and command["session"] in self.sessions:
            self.sessions[command["session"]][0] = -1  # forget what we saw
        return super().apply(index, command)


class ForgetsSessionsInSnapshots(KVStore):
    """Leaves the session table out of its snapshots."""

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "sessions": {}}


class StaleReads(KVServer):
    """Serves gets from its own state whenever it believes it leads, with no round of
    heartbeats: a deposed leader answers from an old state."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        kv = self.kv
        original = kv.on_message

        def on_message(src: str, msg: KVRequest) -> None:
            if msg.f == "get" and self.raft.is_leader:
                kv.reply(src, msg, OK, self.store.read(msg.key))
                return
            original(src, msg)

        kv.on_message = on_message  # type: ignore[method-assign]


class RepliesBeforeCommit(KVServer):
    """Answers a write as soon as the leader appends it, before it commits."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        kv = self.kv
        original = kv.on_message

        def on_message(src: str, msg: KVRequest) -> None:
            original(src, msg)
            if msg.f in ("put", "append") and self.raft.is_leader:
                kv.reply(src, msg, OK)

        kv.on_message = on_message  # type: ignore[method-assign]


def with_store(store: type[KVStore], **options: Any) -> Any:
    def make() -> KVServer:
        server = KVServer(**options)
        fresh = store(server.store.session_timeout)
        server.store = fresh
        server.raft.state_machine = fresh
        server.kv.store = fresh
        return server
    return make
