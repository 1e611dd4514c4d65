"""Lab 10: a replica group of a sharded key-value store, and its client. Your
implementation goes here.

Read the handout (README.md beside this file) first. Grade your work with:

    dsys lab test lab10

What the grader relies on (keep these names): ``ShardKVServer(gid, members, *,
controllers, shards=10, max_raft_state=None)`` and ``ShardKVClient(*, controllers)``; the
notes ``self.note("serve", gid=, shard=, num=)`` when an operation on a shard is applied and
``self.note("shard config", gid=, num=)`` when a configuration is applied. Everything else
is yours to change. The code below runs, and serves clients, but no group ever leaves
configuration 0, so no group serves anything: the TODOs are numbered in the order of the
handout's steps.

"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dsys import Client, Node
from dsys.raft import Raft
from dsys.scaling.sharding import Config, ControllerLink, shard_of
from dsys.scaling.sharding.messages import (
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

#: Seconds between two polls of the controller (and two rounds of pulls and deletes).
POLL = 0.1

#: Shard states.
SERVING = "serving"  # ours, here, settled
PULLING = "pulling"  # ours in this configuration, not arrived yet
DELETING = "deleting"  # arrived; the old owner's copy not deleted yet (served meanwhile)
HANDING_OFF = "handing off"  # someone else's in this configuration; kept until pulled

SERVED = (SERVING, DELETING)


class GroupState:
    """The replicated state of one group: the configuration, the previous one, and the
    shards it holds (shard -> {"state", "data", "sessions"}). Raft applies commands to it."""

    def __init__(self, gid: str, shards: int) -> None:
        self.gid = gid
        self.config = Config.empty(shards)
        self.previous = Config.empty(shards)
        self.shards: dict[int, dict[str, Any]] = {}

    def serving(self, number: int) -> dict[str, Any] | None:
        shard = self.shards.get(number)
        return shard if shard is not None and shard["state"] in SERVED else None

    def settled(self) -> bool:
        return all(shard["state"] == SERVING for shard in self.shards.values())

    def pullable(self, num: int, number: int) -> dict[str, Any] | None:
        shard = self.shards.get(number)
        if num == self.config.num and shard is not None and shard["state"] == HANDING_OFF:
            return shard
        return None

    def snapshot(self) -> dict[str, Any]:
        return {"config": self.config.to_json(), "previous": self.previous.to_json(),
                "shards": [[n, copy_shard(s)] for n, s in sorted(self.shards.items())]}

    def restore(self, data: dict[str, Any]) -> None:
        self.config = Config.of(data["config"])
        self.previous = Config.of(data["previous"])
        self.shards = {int(n): copy_shard(s) for n, s in data["shards"]}


def copy_shard(shard: dict[str, Any]) -> dict[str, Any]:
    """A copy that shares no dict with ``shard`` (a shard moves between groups by value)."""
    return {"state": shard["state"], "data": dict(shard["data"]),
            "sessions": dict(shard["sessions"])}


class ShardKVServer(Node):
    """A server of replica group ``gid``, whose Raft group is ``members``."""

    def __init__(self, gid: str, members: Iterable[str], *, controllers: Iterable[str],
                 shards: int = 10, max_raft_state: int | None = None,
                 **raft_options: Any) -> None:
        super().__init__()
        self.gid = gid
        self.controllers = tuple(controllers)
        self.max_raft_state = max_raft_state
        self.state = GroupState(gid, shards)
        self.raft = self.add_component(Raft(self, members=tuple(members), **raft_options),
                                       name=f"raft-{gid}")

    def on_start(self) -> None:
        self.link = ControllerLink(self.controllers, self.rng)
        self.waiting: dict[int, tuple[str, ShardRequest]] = {}
        self.set_timer("poll", POLL)
        self.set_timer("migrate", POLL)

    # ----- clients ---------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
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
        if not self.raft.is_leader:
            self.reply(src, msg, WRONG_LEADER)
        elif self.state.serving(shard_of(msg.key, len(self.state.config.shards))) is None:
            self.reply(src, msg, WRONG_GROUP)
        else:
            started = self.raft.start({"type": "op", "session": msg.session, "seq": msg.seq,
                                       "f": msg.f, "key": msg.key, "value": msg.value})
            if started is None:
                self.reply(src, msg, WRONG_LEADER)
            else:
                self.waiting[started[0]] = (src, msg)

    def reply(self, src: str, msg: ShardRequest, status: str, value: Any = None) -> None:
        self.send(src, ShardReply(msg.session, msg.seq, status, value, self.raft.leader))

    # ----- the state machine -------------------------------------------------------------

    def apply(self, index: int, command: Any) -> Any:
        kind = command["type"]
        if kind == "op":
            result = self.operate(command)
        elif kind == "config":
            result = self.next_config(Config.of(command["config"]))
        else:
            result = self.migration_step(kind, command)
        self.answer(index, command, result)
        if (self.max_raft_state is not None and self.raft.log_bytes() > self.max_raft_state
                and self.raft.last_applied == self.raft.commit_index):
            self.raft.snapshot(index, self.state.snapshot())
        return result

    def operate(self, command: dict[str, Any]) -> dict[str, Any]:
        """A client's operation, if its shard is served here at this point of the log."""
        key = command["key"]
        number = shard_of(key, len(self.state.config.shards))
        shard = self.state.serving(number)
        if shard is None:
            return {"status": WRONG_GROUP, "value": None}
        self.note("serve", gid=self.gid, shard=number, num=self.state.config.num)
        data, sessions = shard["data"], shard["sessions"]
        current = data.get(key, "")
        if command["f"] == "get":
            return {"status": OK, "value": current}
        if sessions.get(command["session"], 0) >= command["seq"]:
            return {"status": OK, "value": None}  # a retry: applied once already
        sessions[command["session"]] = command["seq"]
        data[key] = command["value"] if command["f"] == "put" else current + command["value"]
        return {"status": OK, "value": None}

    def next_config(self, new: Config) -> dict[str, Any]:
        """The next configuration, once every shard of the current one has settled."""
        # TODO(step 2): only if new.num is the current number + 1 and every shard has
        # settled: for each shard, gained -> "pulling" (or "serving", empty, if nobody held
        # it before), lost -> "handing off"; then previous, config = config, new, and
        # self.note("shard config", gid=self.gid, num=new.num).
        return {"status": OK}

    def migration_step(self, kind: str, command: dict[str, Any]) -> dict[str, Any]:
        """``install``, ``delete`` or ``deleted`` of shard ``command["shard"]``."""
        # TODO(step 3): "install": if the shard is still "pulling" in this configuration,
        # it becomes "deleting" with a *copy* of the data and sessions carried.
        # TODO(step 4): "delete" (old owner): a shard "handing off" in this configuration
        # is dropped; "deleted" (new owner): a shard "deleting" becomes "serving".
        return {"status": OK}

    def answer(self, index: int, command: dict[str, Any], result: dict[str, Any]) -> None:
        """Answer the client whose request was proposed at ``index`` (or tell it to retry)."""
        for skipped in [i for i in self.waiting if i < index]:
            src, msg = self.waiting.pop(skipped)
            self.reply(src, msg, WRONG_LEADER)
        waiting = self.waiting.pop(index, None)
        if waiting is None:
            return
        src, msg = waiting
        if command["type"] == "op" and (command["session"], command["seq"]) == (
                msg.session, msg.seq):
            self.reply(src, msg, result["status"], result.get("value"))
        else:
            self.reply(src, msg, WRONG_LEADER)

    def restore(self, index: int, snapshot: Any) -> None:
        if snapshot:
            self.state.restore(snapshot)

    # ----- configurations and migration (the leader's work) ------------------------------

    def on_timer(self, name: str) -> None:
        self.set_timer(name, POLL)
        if not self.raft.is_leader:
            return
        # TODO(step 1): on "poll", once every shard has settled, ask the controller for
        # configuration num + 1: target, query = self.link.query(num + 1, self.id), send
        # it, and self.link.next() (the next poll asks another server if this one is
        # silent). TODO(step 3): on "migrate", call self.migrate().

    def on_config(self, src: str, msg: ControllerReply) -> None:
        config = self.link.answer(src, msg)  # None if that server does not lead
        if config is not None:
            self.link.target = src  # it answered: it leads; ask it first next time
        # TODO(step 1): if config is the next one (num + 1) and every shard has settled,
        # propose {"type": "config", "config": config.to_json()} to the log.

    def migrate(self) -> None:
        # TODO(step 3): for each shard "pulling", send PullShard(num, shard) to every
        # server of the group that held it in the previous configuration.
        # TODO(step 4): for each shard "deleting", send DeleteShard(num, shard) to them.
        pass

    def on_pull(self, src: str, msg: PullShard) -> None:
        # TODO(step 3): the leader answers NOT_READY (import it from
        # dsys.scaling.sharding.messages) if msg.num is ahead of its own
        # configuration, and a *copy* of a shard it is handing off in msg.num (data and
        # sessions) otherwise.
        pass

    def on_pulled(self, msg: PullShardReply) -> None:
        # TODO(step 3): the leader proposes {"type": "install", "num", "shard", "data",
        # "sessions"} if the shard is still "pulling" in that configuration.
        pass

    def on_delete(self, src: str, msg: DeleteShard) -> None:
        # TODO(step 4): the leader proposes {"type": "delete", "num", "shard"} while it
        # still holds the shard, and answers DeleteShardReply(num, shard, OK) once it no
        # longer does (or is past that configuration).
        pass

    def on_deleted(self, msg: DeleteShardReply) -> None:
        # TODO(step 4): the leader proposes {"type": "deleted", "num", "shard"} if the
        # shard is still "deleting" in that configuration.
        pass


class ShardKVClient(Client):
    """Routes each operation by the configuration it knows; asks the controller again on
    ``wrong group`` or when a whole group is silent; numbers operations in a session."""

    RETRY = 0.1
    OP_TIMEOUT = 3.0

    def __init__(self, *, controllers: Iterable[str]) -> None:
        super().__init__()
        self.controllers = tuple(controllers)

    def on_start(self) -> None:
        self.link = ControllerLink(self.controllers, self.rng)
        self.session = f"{self.id}-{self.rng.getrandbits(48):012x}"
        self.seq = 0
        self.config: Config | None = None
        self.request: ShardRequest | None = None
        self.target: str | None = None
        self.tried = 0
        self.asking = False

    def on_invoke(self, op: dict[str, Any]) -> None:
        self.seq += 1
        self.request = ShardRequest(self.session, self.seq, op["f"], str(op["key"]),
                                    op.get("value"))
        self.set_timer("give up", self.OP_TIMEOUT)
        self.target, self.tried, self.asking = None, 0, False
        self.route()

    def group_servers(self, key: str) -> tuple[str, ...]:
        if self.config is None:
            return ()
        gid = self.config.shards[shard_of(key, len(self.config.shards))]
        return tuple(self.config.groups.get(gid, ())) if gid is not None else ()

    def route(self) -> None:
        if self.request is None:
            return
        servers = self.group_servers(self.request.key)
        if not servers or self.tried >= len(servers):
            self.ask_controller()
            return
        if self.target not in servers:
            self.target = servers[self.rng.randrange(len(servers))]
        self.tried += 1
        self.send(self.target, self.request)
        self.set_timer("retry", self.RETRY)

    def ask_controller(self) -> None:
        self.asking = True
        target, query = self.link.query(-1, self.session)
        self.send(target, query)
        self.set_timer("retry", self.RETRY)

    def on_message(self, src: str, msg: Any) -> None:
        request = self.request
        if isinstance(msg, ControllerReply) and msg.session == self.session:
            if not self.asking or request is None:
                return
            config = self.link.answer(src, msg)
            if config is None:
                self.ask_controller()
                return
            if self.config is None or config.num >= self.config.num:
                self.config, self.tried, self.target = config, 0, None
            if self.group_servers(request.key):
                self.asking = False
                self.route()
            return
        if not isinstance(msg, ShardReply) or request is None or (
                msg.session, msg.seq) != (request.session, request.seq):
            return
        if msg.status == WRONG_LEADER:
            servers = self.group_servers(request.key)
            if msg.leader in servers and msg.leader != src:
                self.target = msg.leader
            elif servers:
                self.target = servers[(servers.index(src) + 1) % len(servers)
                                      if src in servers else 0]
            self.route()
        elif msg.status == WRONG_GROUP:
            # TODO(step 5): the group does not serve the key's shard now: ask the
            # controller for the latest configuration (self.ask_controller()).
            pass
        elif msg.status == OK:
            self.request = None
            self.cancel_timer("retry")
            self.cancel_timer("give up")
            self.ok(msg.value if request.f == "get" else request.value)

    def on_timer(self, name: str) -> None:
        if name == "retry" and self.request is not None:
            if self.asking:
                self.link.next()
                self.ask_controller()
                return
            servers = self.group_servers(self.request.key)
            if self.target in servers:
                self.target = servers[(servers.index(self.target) + 1) % len(servers)]
            self.route()
        elif name == "give up" and self.request is not None:
            self.request = None
            self.cancel_timer("retry")
            self.info()
