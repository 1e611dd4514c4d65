"""The sharded store's client: routes each key by the configuration it knows, and asks
the controller again when a group says the key is not its own.

A :class:`ShardKVClient` starts by asking the controller for the latest configuration. For
each operation it finds the key's shard (:func:`~dsys.scaling.sharding.config.shard_of`),
the group serving it and that group's servers, and sends the request to the one it
believes leads; on ``wrong leader`` it follows the hint (or tries the next server of the
group), on ``wrong group`` — or when a whole round of the group's servers stayed silent —
it asks the controller for the latest configuration and sends again. Operations are
numbered in a session, 1, 2, 3..., one at a time, and a retry keeps its number: the
groups' session tables (which move with their shards) apply it once. After
``op_timeout`` seconds without an answer it gives up (``info``).

Operations (the ``kv`` model of :mod:`dsys.check`): ``get``, ``put`` and ``append``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dsys.core.client import Client
from dsys.scaling.sharding.config import Config, shard_of
from dsys.scaling.sharding.controller import ControllerLink
from dsys.scaling.sharding.messages import (
    OK,
    WRONG_GROUP,
    WRONG_LEADER,
    ControllerReply,
    ShardReply,
    ShardRequest,
)

#: Seconds without an answer before trying the next server.
RETRY = 0.1

#: Seconds before giving up on an operation (``info``).
OP_TIMEOUT = 3.0


class ShardKVClient(Client):
    """A client of the sharded key-value store (see the module docstring).

    Args:
        controllers: the controller's servers.
        retry: seconds before trying the next server.
        op_timeout: seconds before giving up on an operation.
    """

    def __init__(self, *, controllers: Iterable[str], retry: float = RETRY,
                 op_timeout: float = OP_TIMEOUT) -> None:
        super().__init__()
        self.controllers = tuple(controllers)
        self.retry = retry
        self.op_timeout = op_timeout

    def on_start(self) -> None:
        """A session for this incarnation; no configuration known yet."""
        self.link = ControllerLink(self.controllers, self.rng)
        self.session = f"{self.id}-{self.rng.getrandbits(48):012x}"
        self.seq = 0
        self.config: Config | None = None
        self.request: ShardRequest | None = None
        self.target: str | None = None  # the server of the key's group we try next
        self.tried = 0  # servers of the group tried since the last configuration
        self.asking = False  # waiting for the controller's answer

    def on_invoke(self, op: dict[str, Any]) -> None:
        """Number ``op`` and send it (after asking for a configuration if we have none)."""
        self.seq += 1
        self.request = ShardRequest(self.session, self.seq, op["f"], str(op.get("key", "")),
                                    op.get("value"))
        self.set_timer("give up", self.op_timeout)
        self.target, self.tried, self.asking = None, 0, False
        self.route()

    def route(self) -> None:
        """Send the request to a server of the key's group, or ask the controller first."""
        request = self.request
        if request is None:
            return
        servers = self.group_servers(request.key)
        if not servers or self.tried >= len(servers):
            self.ask_controller()
            return
        if self.target not in servers:
            self.target = servers[self.rng.randrange(len(servers))]
        self.tried += 1
        self.send(self.target, request)
        self.set_timer("retry", self.retry)

    def group_servers(self, key: str) -> tuple[str, ...]:
        """The servers of the group serving ``key`` in the configuration we know."""
        if self.config is None:
            return ()
        gid = self.config.shards[shard_of(key, len(self.config.shards))]
        return tuple(self.config.groups.get(gid, ())) if gid is not None else ()

    def ask_controller(self) -> None:
        """Ask for the latest configuration (the answer routes the request again)."""
        self.asking = True
        target, query = self.link.query(-1, self.session)
        self.send(target, query)
        self.set_timer("retry", self.retry)

    def on_message(self, src: str, msg: Any) -> None:
        """A configuration, or an answer from a group."""
        if isinstance(msg, ControllerReply) and msg.session == self.session:
            if not self.asking or self.request is None:
                return
            config = self.link.answer(src, msg)
            if config is None:  # not the controller's leader: ask the one it named
                self.ask_controller()
                return
            if self.config is None or config.num >= self.config.num:
                self.config, self.tried, self.target = config, 0, None
            if self.group_servers(self.request.key):
                self.asking = False
                self.route()
            # else no group serves the key yet: the retry timer asks again
            return
        request = self.request
        if not isinstance(msg, ShardReply) or request is None or (
                msg.session, msg.seq) != (request.session, request.seq):
            return  # a late answer to an operation we are done with
        if msg.status == WRONG_LEADER:
            servers = self.group_servers(request.key)
            self.target = msg.leader if msg.leader in servers and msg.leader != src \
                else self.next_server(servers, src)
            self.route()
        elif msg.status == WRONG_GROUP:
            self.cancel_timer("retry")
            self.ask_controller()
        elif msg.status == OK:
            self.request = None
            self.cancel_timer("retry")
            self.cancel_timer("give up")
            self.ok(msg.value if request.f == "get" else request.value)

    def on_timer(self, name: str) -> None:
        """``retry``: the next server (or the controller); ``give up``: unknown outcome."""
        if name == "retry" and self.request is not None:
            if self.asking:  # the controller server we asked is silent: the next one
                self.link.next()
                self.ask_controller()
                return
            servers = self.group_servers(self.request.key)
            if self.target is not None and servers:
                self.target = self.next_server(servers, self.target)
            self.route()
        elif name == "give up" and self.request is not None:
            self.request = None
            self.cancel_timer("retry")
            self.info()

    @staticmethod
    def next_server(servers: tuple[str, ...], after: str) -> str:
        """The server after ``after`` in ``servers`` (round robin)."""
        index = servers.index(after) if after in servers else -1
        return servers[(index + 1) % len(servers)]
