"""A server of a replica group: Raft, the group's state machine, and the service.

The service (:class:`ShardService`, a component named ``"shardkv"``) does four things,
the last three only on the group's leader, each on its own timer:

* **serve clients**: a request for a key whose shard the group does not serve now is
  answered ``wrong group`` at once; the others go through the log, and are answered with
  what the state machine computed (which checks the shard again, at apply time);
* **poll the controller** (``poll``, every ``poll`` seconds): once every shard has
  settled, ask for configuration ``num + 1`` and, when it exists, propose it to the log.
  One configuration at a time, in order, never skipping one;
* **pull** (``migrate``): for each shard ``pulling``, ask the group that held it in the
  previous configuration for it, and propose what comes back (``install``) to the log;
  for each shard ``deleting``, tell the old owner it may delete its copy, and once it
  says it did, propose ``deleted``;
* **hand off**: answer another group's pull with a copy of a shard ``handing off`` (from
  the applied state: frozen since the configuration that took it away), and a delete by
  proposing ``delete`` to the log (answered ``ok`` once applied: the asker asks again).

Every server notes ``("serve", gid, shard, num)`` when it applies an operation on a
shard, which :func:`~dsys.scaling.sharding.checkers.check_one_group_per_shard` reads.

Example:
    >>> from dsys import Simulation
    >>> from dsys.scaling.sharding import ShardController, ShardKVServer
    >>> sim = Simulation(seed=1)
    >>> for name in ("m1", "m2", "m3"):
    ...     sim.add_node(name, lambda: ShardController(members=("m1", "m2", "m3")))
    >>> for name in ("a1", "a2", "a3"):
    ...     sim.add_node(name, lambda: ShardKVServer("g1", ("a1", "a2", "a3"),
    ...                                              controllers=("m1", "m2", "m3")))
    >>> sim.run(until=2.0)
    >>> sim.node("a1").store.config.num  # nobody joined: still configuration 0
    0
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from dsys.core.node import Component, Node
from dsys.errors import ConfigError
from dsys.raft import Raft
from dsys.scaling.sharding.config import NSHARDS
from dsys.scaling.sharding.controller import ControllerLink
from dsys.scaling.sharding.messages import (
    NOT_READY,
    OK,
    WRONG_GROUP,
    WRONG_LEADER,
    ControllerReply,
    DeleteShard,
    DeleteShardReply,
    PullShard,
    PullShardReply,
    ShardReply,
    ShardRequest,
)
from dsys.scaling.sharding.store import DELETING, PULLING, ShardStore

#: The operations a client may ask for.
OPERATIONS = ("get", "put", "append")


class ShardService(Component):
    """The service of a replica group beside its :class:`~dsys.raft.Raft` component (see
    the module docstring).

    Args:
        raft: the Raft component of the same node.
        store: the group's state machine (the Raft component must apply to it).
        controllers: the controller's servers.
        poll: seconds between two questions to the controller, and between two rounds
            of pulls and deletes.
        max_raft_state: snapshot once Raft's log holds more than this many characters
            (None: never).
    """

    messages: ClassVar[tuple[type, ...]] = (ShardRequest, ControllerReply, PullShard,
                                            PullShardReply, DeleteShard, DeleteShardReply)
    default_name = "shardkv"

    def __init__(self, raft: Raft, store: ShardStore, controllers: Iterable[str], *,
                 poll: float = 0.1, max_raft_state: int | None = None) -> None:
        if poll <= 0:
            raise ConfigError(f"poll must be > 0 seconds, got {poll}")
        if max_raft_state is not None and max_raft_state < 1:
            raise ConfigError(f"max_raft_state must be >= 1 (or None), got {max_raft_state}")
        self.raft = raft
        self.store = store
        self.controllers = tuple(controllers)
        self.poll = poll
        self.max_raft_state = max_raft_state

    def on_start(self) -> None:
        """Start polling; no request waits for its apply yet."""
        self.link = ControllerLink(self.controllers, self.rng)
        self.waiting: dict[int, tuple[str, ShardRequest]] = {}
        self.set_timer("poll", self.poll)
        self.set_timer("migrate", self.poll)

    # ----- clients -----------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        """Dispatch by message type."""
        match msg:
            case ShardRequest():
                self.on_request(src, msg)
            case ControllerReply():
                self.on_config(src, msg)
            case PullShard():
                self.on_pull(src, msg)
            case PullShardReply():
                self.on_pulled(msg)
            case DeleteShard():
                self.on_delete(src, msg)
            case DeleteShardReply():
                self.on_deleted(msg)

    def on_request(self, src: str, msg: ShardRequest) -> None:
        """A client's request: refuse it, or propose it to the log."""
        if msg.f not in OPERATIONS or not isinstance(msg.key, str):
            self.log(f"{src} sent {msg!r}: no such operation; ignored")
        elif not self.raft.is_leader:
            self.reply(src, msg, WRONG_LEADER)
        elif not self.store.serves(msg.key):
            self.reply(src, msg, WRONG_GROUP)
        else:
            started = self.raft.start({"type": "op", "session": msg.session, "seq": msg.seq,
                                       "f": msg.f, "key": msg.key, "value": msg.value})
            if started is None:
                self.reply(src, msg, WRONG_LEADER)
            else:
                self.waiting[started[0]] = (src, msg)

    def applied(self, index: int, command: Any, result: Any) -> None:
        """Answer the client whose operation was applied at ``index``; snapshot if the log
        grew too long."""
        for skipped in [i for i in self.waiting if i < index]:  # replaced by a snapshot
            src, msg = self.waiting.pop(skipped)
            self.reply(src, msg, WRONG_LEADER)
        waiting = self.waiting.pop(index, None)
        if waiting is not None:
            src, msg = waiting
            if command.get("type") == "op" and (command["session"], command["seq"]) == (
                    msg.session, msg.seq):
                self.reply(src, msg, result["status"], result.get("value"))
            else:
                self.reply(src, msg, WRONG_LEADER)
        if (self.max_raft_state is not None and self.raft.log_bytes() > self.max_raft_state
                and self.raft.last_applied == self.raft.commit_index):
            self.raft.snapshot(index, self.store.snapshot())

    def reply(self, src: str, msg: ShardRequest, status: str, value: Any = None) -> None:
        """Answer ``msg``, naming the leader we know."""
        self.send(src, ShardReply(msg.session, msg.seq, status, value, self.raft.leader))

    # ----- configurations ----------------------------------------------------------------

    def on_timer(self, name: str) -> None:
        """``poll``: ask for the next configuration; ``migrate``: pull and delete."""
        self.set_timer(name, self.poll)
        if not self.raft.is_leader:
            return
        if name == "poll" and self.store.settled():
            target, query = self.link.query(self.store.config.num + 1, self.id)
            self.send(target, query)
            self.link.next()  # if this one is silent, the next poll asks another
        elif name == "migrate":
            self.migrate()

    def on_config(self, src: str, msg: ControllerReply) -> None:
        """The controller's answer: propose the next configuration, if that is what it is."""
        config = self.link.answer(src, msg)
        if config is not None:
            self.link.target = src  # it answered: it leads
        if (config is not None and self.raft.is_leader and self.store.settled()
                and config.num == self.store.config.num + 1):
            self.raft.start({"type": "config", "config": config.to_json()})

    # ----- migration ---------------------------------------------------------------------

    def migrate(self) -> None:
        """Ask the previous owner of each shard still arriving for it, and the previous
        owner of each shard arrived for the deletion of its copy."""
        num, previous = self.store.config.num, self.store.previous
        for number, shard in sorted(self.store.shards.items()):
            if shard.state not in (PULLING, DELETING):
                continue
            owner = previous.shards[number]
            servers = previous.groups.get(owner, ()) if owner is not None else ()
            ask = PullShard(num, number) if shard.state == PULLING else DeleteShard(num,
                                                                                   number)
            for server in servers:
                self.send(server, ask)

    def on_pull(self, src: str, msg: PullShard) -> None:
        """Another group asks for a shard we are handing off: send a copy (or "not yet",
        if we have not reached its configuration)."""
        if not self.raft.is_leader:
            return
        if msg.num > self.store.config.num:
            self.send(src, PullShardReply(msg.num, msg.shard, NOT_READY))
            return
        shard = self.store.pullable(msg.num, msg.shard)
        if shard is not None:
            copy = shard.to_json()
            self.send(src, PullShardReply(msg.num, msg.shard, OK, copy["data"],
                                          copy["sessions"]))

    def on_pulled(self, msg: PullShardReply) -> None:
        """A shard arrived: propose installing it (the log decides whether it is still
        wanted)."""
        shard = self.store.shards.get(msg.shard)
        if (msg.status == OK and self.raft.is_leader and msg.num == self.store.config.num
                and shard is not None and shard.state == PULLING):
            self.raft.start({"type": "install", "num": msg.num, "shard": msg.shard,
                             "data": msg.data, "sessions": msg.sessions})

    def on_delete(self, src: str, msg: DeleteShard) -> None:
        """The new owner has the shard: delete our copy through the log; say ``ok`` once
        it is gone (or we are past that configuration)."""
        if not self.raft.is_leader or msg.num > self.store.config.num:
            return
        if self.store.pullable(msg.num, msg.shard) is None:
            self.send(src, DeleteShardReply(msg.num, msg.shard, OK))
        else:
            self.raft.start({"type": "delete", "num": msg.num, "shard": msg.shard})

    def on_deleted(self, msg: DeleteShardReply) -> None:
        """The old owner deleted its copy: the shard has settled here."""
        shard = self.store.shards.get(msg.shard)
        if (msg.status == OK and self.raft.is_leader and msg.num == self.store.config.num
                and shard is not None and shard.state == DELETING):
            self.raft.start({"type": "deleted", "num": msg.num, "shard": msg.shard})


class ShardKVServer(Node):
    """A server of replica group ``gid``: Raft among ``members`` and the service.

    Args:
        gid: the group's name (as the controller knows it).
        members: the group's servers (its Raft group).
        controllers: the controller's servers.
        shards: how many shards the store has (the controller's number).
        poll: see :class:`ShardService`.
        max_raft_state: see :class:`ShardService`.
        raft_options: passed to :class:`~dsys.raft.Raft` (timeouts...).
    """

    #: The state machine and the service classes (a variant overrides them).
    Store: ClassVar[type[ShardStore]] = ShardStore
    Service: ClassVar[type[ShardService]] = ShardService

    def __init__(self, gid: str, members: Iterable[str], *, controllers: Iterable[str],
                 shards: int = NSHARDS, poll: float = 0.1,
                 max_raft_state: int | None = 20_000, **raft_options: Any) -> None:
        super().__init__()
        self.gid = gid
        self.store = self.Store(gid, shards, on_serve=self._served)
        # Named after the group: the Raft checkers tell groups apart by component name.
        self.raft = self.add_component(Raft(self.store, on_apply=self._applied,
                                            members=tuple(members), **raft_options),
                                       name=f"raft-{gid}")
        self.shardkv = self.add_component(self.Service(
            self.raft, self.store, controllers, poll=poll, max_raft_state=max_raft_state))

    def _applied(self, index: int, command: Any, result: Any) -> None:
        self.shardkv.applied(index, command, result)

    def _served(self, shard: int, num: int) -> None:
        self.note("serve", gid=self.gid, shard=shard, num=num)
