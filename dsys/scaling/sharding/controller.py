"""The shard controller: the numbered configurations, replicated on Raft.

Like :mod:`dsys.kv`'s server, the controller is a replicated state machine
(:class:`ControllerStore`) behind a :class:`~dsys.raft.Raft` component:

* ``join``, ``leave`` and ``move`` go through the log; each applied change appends a new
  configuration (``join``/``leave`` rebalance with
  :func:`~dsys.scaling.sharding.config.rebalance`, ``move`` moves one shard and nothing
  else); a retried change (same session and number) is not applied twice;
* ``query`` is a read, served by ReadIndex (thesis §6.4): configuration ``n``, or the
  latest for ``-1`` (or any number past the latest);
* a change that makes no sense (a group that is already there, the last group leaving, a
  move to an unknown group) is refused with the reason, and changes nothing.

:class:`ControllerClient` is the administrator's client (operations ``join``, ``leave``,
``move``, ``query``); :class:`ControllerLink` is how the store's servers and clients ask
for configurations.

Example:
    >>> from dsys import Simulation
    >>> from dsys.scaling.sharding import ControllerClient, ShardController
    >>> sim = Simulation(seed=1)
    >>> for name in ("m1", "m2", "m3"):
    ...     sim.add_node(name, ShardController)
    >>> ops = iter([{"f": "join", "value": {"g1": ["a1"], "g2": ["b1"]}},
    ...             {"f": "move", "value": [0, "g2"]},
    ...             {"f": "query", "value": -1}])
    >>> sim.add_client("admin", ControllerClient, workload=lambda rng: next(ops), ops=3)
    >>> sim.run(until=3.0)
    >>> latest = sim.history[-1]["value"]
    >>> latest["num"], latest["shards"]
    (2, ['g2', 'g1', 'g1', 'g1', 'g1', 'g2', 'g2', 'g2', 'g2', 'g2'])
"""

from __future__ import annotations

from collections.abc import Iterable
from random import Random
from typing import Any, ClassVar

from dsys.core.client import Client
from dsys.core.node import Component, Node
from dsys.errors import ConfigError
from dsys.raft import Raft
from dsys.scaling.sharding.config import NSHARDS, Config, rebalance
from dsys.scaling.sharding.messages import (
    OK,
    REFUSED,
    WRONG_LEADER,
    ControllerReply,
    ControllerRequest,
)

#: The controller's operations; all but ``query`` change the configuration.
CHANGES = ("join", "leave", "move")

#: Seconds without an answer before asking the next controller server.
RETRY = 0.1


class ControllerStore:
    """The controller's state machine: every configuration so far, and the latest
    operation number per administrator session (exactly once).

    Args:
        shards: how many shards the store has.

    Example:
        >>> store = ControllerStore(shards=4)
        >>> store.apply(1, {"session": "s", "seq": 1, "f": "join", "value": {"g1": ["a"]}})
        {'status': 'ok', 'value': {'num': 1, 'shards': ['g1', 'g1', 'g1', 'g1'], 'groups': {'g1': ['a']}}}
        >>> store.apply(2, {"session": "s", "seq": 2, "f": "leave", "value": ["g1"]})
        {'status': 'refused', 'value': 'the last group cannot leave: its shards would have nowhere to go'}
        >>> len(store.configs)  # configuration 0 and 1
        2
    """  # noqa: E501

    def __init__(self, shards: int = NSHARDS) -> None:
        self.configs: list[Config] = [Config.empty(shards)]
        self.sessions: dict[str, int] = {}
        self.results: dict[str, dict[str, Any]] = {}

    @property
    def latest(self) -> Config:
        """The latest configuration."""
        return self.configs[-1]

    def query(self, num: int) -> Config:
        """Configuration ``num`` (the latest if ``num`` is -1 or past it)."""
        return self.configs[num] if 0 <= num < len(self.configs) else self.latest

    def apply(self, index: int, command: dict[str, Any]) -> dict[str, Any]:
        """Apply a committed change; a retry is answered from the session table."""
        session, seq = command["session"], command["seq"]
        if self.sessions.get(session, 0) >= seq:
            return dict(self.results.get(session, {"status": OK, "value": None}))
        result = self.change(command["f"], command["value"])
        self.sessions[session], self.results[session] = seq, result
        return dict(result)

    def change(self, f: str, value: Any) -> dict[str, Any]:
        """Run one change; a refused one changes nothing."""
        latest = self.latest
        if f == "join":
            joining = {str(g): tuple(servers) for g, servers in dict(value).items()}
            again = sorted(set(joining) & set(latest.groups))
            if again or not joining:
                return {"status": REFUSED, "value": f"already joined: {again}" if again
                        else "join names no group"}
            new = rebalance(latest, {**latest.groups, **joining})
        elif f == "leave":
            leaving = sorted(str(g) for g in value)
            unknown = [g for g in leaving if g not in latest.groups]
            if unknown:
                return {"status": REFUSED, "value": f"no such group: {unknown}"}
            staying = {g: s for g, s in latest.groups.items() if g not in leaving}
            if not staying:
                return {"status": REFUSED, "value": "the last group cannot leave: its shards "
                        "would have nowhere to go"}
            new = rebalance(latest, staying)
        elif f == "move":
            shard, gid = int(value[0]), str(value[1])
            if gid not in latest.groups or not 0 <= shard < len(latest.shards):
                return {"status": REFUSED, "value": f"cannot move shard {shard} to {gid}: "
                        "no such shard or group"}
            shards = list(latest.shards)
            shards[shard] = gid
            new = Config(latest.num + 1, tuple(shards), dict(latest.groups))
        else:
            return {"status": REFUSED, "value": f"no operation {f!r}"}
        self.configs.append(new)
        return {"status": OK, "value": new.to_json()}

    def snapshot(self) -> dict[str, Any]:
        """Everything, as JSON values."""
        return {"configs": [c.to_json() for c in self.configs],
                "sessions": [[s, self.sessions[s], self.results[s]]
                             for s in sorted(self.sessions)]}

    def restore(self, index: int, data: dict[str, Any] | None) -> None:
        """Replace everything with a snapshot (Raft calls it)."""
        if not data:
            return
        self.configs = [Config.of(c) for c in data["configs"]]
        self.sessions = {s: seq for s, seq, _ in data["sessions"]}
        self.results = {s: dict(result) for s, _, result in data["sessions"]}


class ControllerService(Component):
    """Takes the controller's requests beside a :class:`~dsys.raft.Raft` component:
    changes through the log, queries by ReadIndex, "ask the leader" from followers."""

    messages: ClassVar[tuple[type, ...]] = (ControllerRequest,)
    default_name = "controller"

    def __init__(self, raft: Raft, store: ControllerStore) -> None:
        self.raft = raft
        self.store = store

    def on_start(self) -> None:
        """Start with no change waiting for its apply."""
        self.waiting: dict[int, tuple[str, ControllerRequest]] = {}

    def on_message(self, src: str, msg: ControllerRequest) -> None:
        """A change goes through the log; a query waits for ReadIndex."""
        if msg.f not in (*CHANGES, "query"):
            self.reply(src, msg, REFUSED, f"no operation {msg.f!r}")
        elif not self.raft.is_leader:
            self.reply(src, msg, WRONG_LEADER)
        elif msg.f == "query":
            self.raft.read(lambda ok: self.on_read(src, msg, ok))
        else:
            started = self.raft.start({"session": msg.session, "seq": msg.seq, "f": msg.f,
                                       "value": msg.value})
            if started is None:
                self.reply(src, msg, WRONG_LEADER)
            else:
                self.waiting[started[0]] = (src, msg)

    def on_read(self, src: str, msg: ControllerRequest, ok: bool) -> None:
        """ReadIndex's answer: the configuration asked for, or "ask the leader"."""
        if not ok:
            self.reply(src, msg, WRONG_LEADER)
            return
        num = msg.value if isinstance(msg.value, int) else -1
        self.reply(src, msg, OK, self.store.query(num).to_json())

    def applied(self, index: int, command: Any, result: Any) -> None:
        """Answer the administrator whose change was applied at ``index``."""
        for skipped in [i for i in self.waiting if i < index]:
            src, msg = self.waiting.pop(skipped)
            self.reply(src, msg, WRONG_LEADER)
        waiting = self.waiting.pop(index, None)
        if waiting is not None:
            src, msg = waiting
            if (command["session"], command["seq"]) == (msg.session, msg.seq):
                self.reply(src, msg, result["status"], result["value"])
            else:
                self.reply(src, msg, WRONG_LEADER)
        if self.raft.log_bytes() > 64_000 and self.raft.last_applied == self.raft.commit_index:
            self.raft.snapshot(index, self.store.snapshot())

    def reply(self, src: str, msg: ControllerRequest, status: str, value: Any = None) -> None:
        """Answer ``msg``, naming the leader we know."""
        self.send(src, ControllerReply(msg.session, msg.seq, status, value, self.raft.leader))


class ShardController(Node):
    """A server of the shard controller: Raft and :class:`ControllerService`.

    Args:
        shards: how many shards the store has.
        raft_options: passed to :class:`~dsys.raft.Raft` (``members``: the controller's
            servers, when other nodes share the network).
    """

    def __init__(self, *, shards: int = NSHARDS, **raft_options: Any) -> None:
        super().__init__()
        self.store = ControllerStore(shards)
        self.raft = self.add_component(Raft(self.store, on_apply=self._applied,
                                            **raft_options))
        self.controller = self.add_component(ControllerService(self.raft, self.store))

    def _applied(self, index: int, command: Any, result: Any) -> None:
        self.controller.applied(index, command, result)


class ControllerLink:
    """How a node asks the controller for a configuration: which controller server to
    try, following "ask the leader" hints and moving on when one is silent.

    The owner sends what :meth:`query` returns, and feeds each
    :class:`~dsys.scaling.sharding.messages.ControllerReply` to :meth:`answer`.

    Args:
        servers: the controller's servers.
        rng: where the first server to try is drawn from (the node's ``rng``).
    """

    def __init__(self, servers: Iterable[str], rng: Random) -> None:
        self.servers = tuple(sorted(servers))
        if not self.servers:
            raise ConfigError("name the controller's servers (controllers=...)")
        self.target = self.servers[rng.randrange(len(self.servers))]

    def query(self, num: int, session: str = "", seq: int = 0) -> tuple[str, ControllerRequest]:
        """Where to send a query for configuration ``num`` (-1: the latest), and what."""
        return self.target, ControllerRequest(session, seq, "query", num)

    def answer(self, src: str, reply: ControllerReply) -> Config | None:
        """The configuration in ``reply``; None (and the next server chosen) if it was
        not answered by a leader."""
        if reply.status == OK and isinstance(reply.value, dict):
            return Config.of(reply.value)
        self.next(reply.leader if reply.leader in self.servers and reply.leader != src
                  else None)
        return None

    def next(self, hint: str | None = None) -> None:
        """Try ``hint`` next, or the server after the current one."""
        if hint is not None:
            self.target = hint
            return
        index = self.servers.index(self.target)
        self.target = self.servers[(index + 1) % len(self.servers)]


class ControllerClient(Client):
    """The administrator's client: runs ``join``, ``leave``, ``move`` and ``query``
    operations (``value`` as in :class:`~dsys.scaling.sharding.messages.ControllerRequest`)
    and completes each with the configuration it made or read (``fail`` with the reason
    if the controller refused it; ``info`` if no answer came within ``op_timeout``).

    Args:
        controllers: the controller's servers (default: every server, ``peers``).
        retry: seconds before trying the next server.
        op_timeout: seconds before giving up on an operation.
    """

    def __init__(self, *, controllers: Iterable[str] | None = None, retry: float = RETRY,
                 op_timeout: float = 5.0) -> None:
        super().__init__()
        self._controllers = tuple(controllers) if controllers is not None else None
        self.retry = retry
        self.op_timeout = op_timeout

    def on_start(self) -> None:
        """A session for this incarnation."""
        self.link = ControllerLink(self._controllers or self.peers, self.rng)
        self.session = f"{self.id}-{self.rng.getrandbits(48):012x}"
        self.seq = 0
        self.request: ControllerRequest | None = None

    def on_invoke(self, op: dict[str, Any]) -> None:
        """Send ``op`` as the next operation of the session."""
        self.seq += 1
        self.request = ControllerRequest(self.session, self.seq, op["f"], op.get("value"))
        self.set_timer("give up", self.op_timeout)
        self.resend()

    def resend(self) -> None:
        """(Re)send the operation in progress to the server we believe leads."""
        if self.request is not None:
            self.send(self.link.target, self.request)
            self.set_timer("retry", self.retry)

    def on_message(self, src: str, msg: Any) -> None:
        """An answer to the operation in progress completes it; "ask the leader" moves on."""
        request = self.request
        if not isinstance(msg, ControllerReply) or request is None or (
                msg.session, msg.seq) != (request.session, request.seq):
            return
        if msg.status == WRONG_LEADER:
            self.link.answer(src, msg)
            self.resend()
            return
        self.request = None
        self.cancel_timer("retry")
        self.cancel_timer("give up")
        if msg.status == OK:
            self.ok(msg.value)
        else:
            self.fail(msg.value)

    def on_timer(self, name: str) -> None:
        """``retry``: the next server; ``give up``: the outcome is unknown."""
        if name == "retry":
            self.link.next()
            self.resend()
        elif name == "give up" and self.request is not None:
            self.request = None
            self.cancel_timer("retry")
            self.info()
