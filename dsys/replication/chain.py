"""Chain replication (van Renesse & Schneider, OSDI 2004), with CRAQ reads (Terrace &
Freedman, USENIX ATC 2009) as an option: a key-value store on a chain of servers.

The rules of this file:

1. **The chain.** Servers form a chain, head to tail, that only the :class:`ChainMaster`
   changes; each version of it is numbered. Servers ping the master every
   ``ping_interval``; one silent for ``dead_pings`` ticks, or pinging from a new
   incarnation (it restarted, empty), is removed, unless no member holding the state
   would remain: then the master waits (a partition around the master looks like every
   server failing; the service stops rather than start over empty). It adds an idle server only at
   the tail, one at a time, when every member holds the state. A chain member keeps its
   state across versions only if it has been a member without a break (its ``since``).
2. **Writes** enter at the head, which numbers them (§2 of the paper). Each server applies
   them in number order, keeps the ones not yet known committed in its *Sent* list, and
   passes them on; the tail's apply commits a write: the tail answers the client and an
   acknowledgement flows back up the chain, emptying the Sent lists. A server takes writes
   only from its predecessor in the chain it knows.
3. **Reads** go to the tail, which holds exactly the committed state. With ``craq=True``
   any member answers: a key with no write in flight at that member (*clean*) is read
   there; for a *dirty* key the member asks the tail which version is committed and
   answers with that version (CRAQ §2.3).
4. **Repair** (§3 of the paper). Head removed: its successor becomes the head (writes
   it never received are lost and the clients retry them; none was answered). Tail
   removed: its predecessor becomes the tail and commits its whole Sent list, answering
   those clients. Middle removed: its predecessor resends its Sent list to its new
   successor, which ignores what it already has. New tail: its predecessor sends it the
   whole store and its Sent list, then the writes that follow; the old tail stops
   answering at once, the new one starts once it has the state.
5. **Reads need a lease.** The paper assumes servers fail by stopping; a partition makes
   a removed tail that does not know it a liar. A server answers reads only while it
   holds a lease: the master's answer to a ping sent at most ``lease_pings`` of its ticks
   ago, naming it a member. The master removes a member only after ``dead_pings`` ticks of
   silence, longer than any lease, so the old tail has stopped before a new one answers.
   Time is counted in ticks of the node's own timers, never read from a clock, so a clock
   jump cannot stretch a lease (a fast or slow clock *rate* could, by its drift).

Exactly once: the head applies each request in a session of :class:`~dsys.kv.KVStore`;
every server applies the same numbered commands, so a retry is recognized everywhere.

On a real network the tail answers clients it may never have heard from (they wrote to
the head), so clients need an address every server knows: list them in the cluster
file's ``[clients]`` table.

Example:
    >>> from dsys import Simulation
    >>> from dsys.replication import ChainClient, ChainMaster, ChainServer
    >>> sim = Simulation(seed=1)
    >>> sim.add_node("master", ChainMaster)
    >>> for name in ("s1", "s2", "s3"):
    ...     sim.add_node(name, ChainServer)
    >>> ops = iter([{"f": "put", "key": "x", "value": "1"},
    ...             {"f": "append", "key": "x", "value": "2"},
    ...             {"f": "get", "key": "x", "value": None}])
    >>> sim.add_client("c1", ChainClient, workload=lambda rng: next(ops), ops=3, start=1.0)
    >>> sim.run(until=3.0)
    >>> sim.node("master").config.chain
    ('s1', 's2', 's3')
    >>> [(e["type"], e["f"], e["value"]) for e in sim.history if e["type"] != "invoke"]
    [('ok', 'put', '1'), ('ok', 'append', '2'), ('ok', 'get', '12')]
"""

from __future__ import annotations

from typing import Any

from dsys.check.report import Report, Violation
from dsys.core.messages import message
from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.kv.messages import OK, WRONG_LEADER, KVReply, KVRequest
from dsys.kv.store import OPERATIONS, READS, KVStore
from dsys.replication.routed_client import RoutedClient, check_server_options
from dsys.trace.events import Trace

__all__ = ["ChainAck", "ChainClient", "ChainConfig", "ChainMaster", "ChainPing", "ChainServer",
           "ConfigReply", "GetConfig", "Snapshot", "Update", "VersionQuery", "VersionReply",
           "check_configs"]

#: Seconds between a server's pings (and the master's ticks).
PING_INTERVAL = 0.1
#: Master ticks without a ping after which a member is removed.
DEAD_PINGS = 5
#: A server's ticks a read lease lasts after the ping that earned it (< DEAD_PINGS - 1).
LEASE_PINGS = 3
#: Seconds before a server resends what its successor has not acknowledged.
RETRY = 0.05
#: Most writes in one update message.
BATCH = 64
#: The operations that change a key (and so make a new version of it).
WRITES = frozenset({"put", "append", "cas"})


# ----- messages ------------------------------------------------------------------------------


@message(name="chain:Config")
class ChainConfig:
    """Version ``version`` of the chain: its members head first, the incarnation
    (``boots``) of each when it joined, and the version since which each has been a member
    without a break (``since``)."""

    version: int
    chain: tuple[str, ...] = ()
    boots: tuple[int, ...] = ()
    since: tuple[int, ...] = ()

    @property
    def head(self) -> str | None:
        """The head, or None (no chain)."""
        return self.chain[0] if self.chain else None

    @property
    def tail(self) -> str | None:
        """The tail, or None (no chain)."""
        return self.chain[-1] if self.chain else None


@message(name="chain:Ping")
class ChainPing:
    """A server is alive, in incarnation ``boot``, at its tick ``tick``, and holds the
    state in chain version ``ready`` (0: it holds none)."""

    boot: int
    tick: int
    ready: int


@message(name="chain:ConfigReply")
class ConfigReply:
    """The master's chain; in answer to the ping of incarnation ``boot`` sent at ``tick``
    (the read lease counts from that tick), or pushed (``tick`` -1)."""

    config: ChainConfig
    tick: int = -1
    boot: int = 0


@message(name="chain:GetConfig")
class GetConfig:
    """A client asks for the chain."""


@message(name="chain:Update")
class Update:
    """Predecessor to successor: writes numbered ``start``, ``start + 1``... (commands of
    :meth:`~dsys.kv.KVStore.apply`, with the ``client`` to answer), in chain ``version``."""

    version: int
    start: int
    commands: tuple[dict[str, Any], ...]


@message(name="chain:Ack")
class ChainAck:
    """Successor to predecessor: I applied every write up to ``received``; every write up to
    ``committed`` reached the tail. ``ready=False``: I hold no state, send it to me."""

    received: int
    committed: int
    ready: bool = True


@message(name="chain:Snapshot")
class Snapshot:
    """Predecessor to a successor without state: the whole store after write ``applied``
    (:meth:`~dsys.kv.KVStore.snapshot`), what is committed, the Sent list (``pending``:
    ``seq``, ``command``, ``result`` of each write not yet committed), and the number of
    the latest write of each key (``versions``, for CRAQ)."""

    version: int
    applied: int
    committed: int
    state: dict[str, Any]
    pending: tuple[dict[str, Any], ...]
    versions: dict[str, int]


@message(name="chain:VersionQuery")
class VersionQuery:
    """CRAQ: a member asks the tail which version of ``key`` is committed, for the read
    ``seq`` of ``session`` by ``client``."""

    key: str
    client: str
    session: str
    seq: int


@message(name="chain:VersionReply")
class VersionReply:
    """CRAQ: the tail's answer: ``version`` (the number of the committed write of ``key``,
    0: none) for the read it names."""

    key: str
    version: int
    client: str
    session: str
    seq: int


# ----- the master ------------------------------------------------------------------------------


class ChainMaster(Node):
    """The chain's master: forms the chain, removes failed members, adds new tails
    (rule 1), and tells everyone. Its chain is on its storage, synced before it answers.

    Args:
        replicas: the chain's length to keep (new tails are added up to it).
        servers: the servers to wait for before forming the first chain (default: form it
            once ``replicas`` servers pinged, or after ``dead_pings`` ticks with any).
        ping_interval: seconds between ticks.
        dead_pings: ticks without a ping before a member is removed.
    """

    def __init__(self, *, replicas: int = 3, servers: tuple[str, ...] | None = None,
                 ping_interval: float = PING_INTERVAL, dead_pings: int = DEAD_PINGS) -> None:
        super().__init__()
        if not isinstance(replicas, int) or replicas < 1:
            raise ConfigError(f"replicas must be an int >= 1, got {replicas!r}")
        if not ping_interval > 0:
            raise ConfigError(f"ping_interval must be > 0, got {ping_interval!r}")
        if not isinstance(dead_pings, int) or dead_pings < LEASE_PINGS + 2:
            raise ConfigError(f"dead_pings must be an int >= {LEASE_PINGS + 2} (longer than "
                              f"a read lease), got {dead_pings!r}")
        self.replicas = replicas
        self.servers = servers
        self.ping_interval = ping_interval
        self.dead_pings = dead_pings

    def on_start(self) -> None:
        """Load the chain from storage (version 0, empty, on a first start); tick."""
        saved = self.storage.get("config", {"version": 0, "chain": [], "boots": [],
                                            "since": [], "ready": []})
        self.config = ChainConfig(saved["version"], tuple(saved["chain"]), tuple(saved["boots"]),
                                  tuple(saved["since"]))
        self.ready: list[bool] = list(saved["ready"])  # does each member hold the state?
        self.tick = 0
        # server -> the tick of its latest ping, its incarnation, the version it holds.
        self.last_ping: dict[str, int] = {s: 0 for s in self.config.chain}
        self.boots: dict[str, int] = dict(zip(self.config.chain, self.config.boots,
                                              strict=True))
        self.holds: dict[str, int] = {}
        self.set_timer("tick", self.ping_interval)

    def on_message(self, src: str, msg: Any) -> None:
        """A ping: note it, maybe change the chain, answer with it (a lease). A client's
        ``GetConfig``: answer."""
        if isinstance(msg, ChainPing):
            self.last_ping[src] = self.tick
            self.boots[src] = msg.boot
            self.holds[src] = msg.ready
            self.reconfigure()
            self.send(src, ConfigReply(self.config, msg.tick, msg.boot))
        elif isinstance(msg, GetConfig):
            self.send(src, ConfigReply(self.config))

    def on_timer(self, name: str) -> None:
        """``tick``: count time; remove members that stopped pinging."""
        if name == "tick":
            self.tick += 1
            self.reconfigure()
            self.set_timer("tick", self.ping_interval)

    def alive(self, server: str) -> bool:
        """True if ``server`` pinged within the last ``dead_pings`` ticks."""
        return server in self.last_ping and self.tick - self.last_ping[server] < self.dead_pings

    def reconfigure(self) -> None:
        """Form the first chain, note members that got the state, remove failed members,
        add a tail: whichever applies (rule 1)."""
        config = self.config
        if config.version == 0:
            self.form()
            return
        changed = False
        for i, server in enumerate(config.chain):  # a new member reports it has the state
            if (not self.ready[i] and self.boots.get(server) == config.boots[i]
                    and self.holds.get(server, 0) >= config.since[i]):
                self.ready[i] = changed = True
        keep = [i for i, server in enumerate(config.chain)
                if self.alive(server) and self.boots.get(server) == config.boots[i]]
        if len(keep) < len(config.chain) and any(self.ready[i] for i in keep):
            self.change([config.chain[i] for i in keep], [config.boots[i] for i in keep],
                        [config.since[i] for i in keep], [self.ready[i] for i in keep])
        elif len(config.chain) < self.replicas and config.chain and all(self.ready):
            idle = [s for s in sorted(self.last_ping) if s not in config.chain and self.alive(s)]
            if idle:
                self.change([*config.chain, idle[0]], [*config.boots, self.boots[idle[0]]],
                            [*config.since, config.version + 1], [*self.ready, False])
        elif changed:
            self.save()

    def form(self) -> None:
        """The first chain: the live servers (by id, up to ``replicas``), all holding the
        empty state."""
        alive = [s for s in sorted(self.last_ping) if self.alive(s)]
        expected = self.servers
        if expected is not None:
            enough = all(s in self.last_ping for s in expected) or self.tick >= self.dead_pings
        else:
            enough = len(alive) >= self.replicas or (alive != [] and self.tick >= self.dead_pings)
        if enough and alive:
            chain = alive[:self.replicas]
            self.change(chain, [self.boots[s] for s in chain], [1] * len(chain),
                        [True] * len(chain))

    def change(self, chain: list[str], boots: list[int], since: list[int],
               ready: list[bool]) -> None:
        """Make the next version of the chain, store it (synced), note it, and push it to
        every server heard from."""
        self.config = ChainConfig(self.config.version + 1, tuple(chain), tuple(boots),
                                  tuple(since))
        self.ready = ready
        self.save()
        self.note("config", version=self.config.version, chain=list(chain), boots=list(boots))
        for server in sorted(self.last_ping):
            self.send(server, ConfigReply(self.config))

    def save(self) -> None:
        """Store the chain and who holds the state, synced."""
        config = self.config
        self.storage["config"] = {"version": config.version, "chain": list(config.chain),
                                  "boots": list(config.boots), "since": list(config.since),
                                  "ready": list(self.ready)}
        self.storage.sync()


# ----- the servers -------------------------------------------------------------------------------


class ChainServer(Node):
    """A server of chain replication: head, middle or tail, as the master's chain says
    (see the module docstring for the rules).

    Args:
        master: the master's node id.
        craq: serve reads at every member (CRAQ), not only at the tail.
        ping_interval: seconds between pings (and ticks of the lease).
        lease_pings: ticks a read lease lasts after the ping that earned it.
        retry: seconds before resending what the successor has not acknowledged.
        batch: most writes per update message.
        session_timeout: see :class:`~dsys.kv.KVStore`.
    """

    def __init__(self, *, master: str = "master", craq: bool = False,
                 ping_interval: float = PING_INTERVAL, lease_pings: int = LEASE_PINGS,
                 retry: float = RETRY, batch: int = BATCH,
                 session_timeout: float = 60.0) -> None:
        super().__init__()
        check_server_options(ping_interval, retry, batch)
        if not isinstance(lease_pings, int) or lease_pings < 1:
            raise ConfigError(f"lease_pings must be an int >= 1, got {lease_pings!r}")
        self.master = master
        self.craq = craq
        self.ping_interval = ping_interval
        self.lease_pings = lease_pings
        self.retry = retry
        self.batch = batch
        self.session_timeout = session_timeout

    def on_start(self) -> None:
        """Start with nothing: no chain, no state, a new incarnation."""
        self.boot = self.rng.getrandbits(31)
        self.config = ChainConfig(0)
        self.fresh()
        self.tick = 0
        self.lease_until = 0  # reads are answered while tick < lease_until (rule 5)
        self.ping()

    def fresh(self) -> None:
        """Forget the state (and the Sent list)."""
        self.store = KVStore(self.session_timeout)
        self.ready = False  # holds the whole state for its place in the chain
        self.applied = 0  # writes applied, numbered by the head
        self.committed = 0  # writes known to have reached the tail
        # The Sent list: write number -> (command, result), applied but not committed.
        self.sent: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.early: dict[int, dict[str, Any]] = {}  # writes ahead of a missing one
        self.succ_received = 0  # what the successor says it applied
        # CRAQ: key -> the number of its latest write applied here; and for keys with a
        # write in flight, [(number, value)] from the latest committed version on.
        self.last_write: dict[str, int] = {}
        self.dirty: dict[str, list[tuple[int, str]]] = {}
        self.clean_from = 0  # after a snapshot, every key is dirty until this commits
        self.snapshot_sent = -1  # the tick we last sent the successor a snapshot

    # ----- where we are in the chain ----------------------------------------------------------

    @property
    def position(self) -> int | None:
        """Our index in the chain (None: not a member in this incarnation)."""
        config = self.config
        for i, (server, boot) in enumerate(zip(config.chain, config.boots, strict=True)):
            if server == self.id and boot == self.boot:
                return i
        return None

    @property
    def pred(self) -> str | None:
        """The predecessor (None: we are the head, or no member)."""
        i = self.position
        return self.config.chain[i - 1] if i else None

    @property
    def succ(self) -> str | None:
        """The successor (None: we are the tail, or no member)."""
        i = self.position
        chain = self.config.chain
        return chain[i + 1] if i is not None and i + 1 < len(chain) else None

    @property
    def is_head(self) -> bool:
        """True if we are the head and hold the state."""
        return self.ready and self.position == 0

    @property
    def is_tail(self) -> bool:
        """True if we are the tail and hold the state."""
        return self.ready and self.position == len(self.config.chain) - 1

    @property
    def has_lease(self) -> bool:
        """True while the read lease from the master lasts (rule 5)."""
        return self.tick < self.lease_until

    # ----- the master ----------------------------------------------------------------------------

    def ping(self) -> None:
        """Tick, ping the master, and arm the next ping. A member without the state asks
        its predecessor for it."""
        self.tick += 1
        self.send(self.master, ChainPing(self.boot, self.tick,
                                         self.config.version if self.ready else 0))
        self.set_timer("ping", self.ping_interval)
        if not self.ready and self.pred is not None:
            self.send(self.pred, ChainAck(0, 0, ready=False))

    def on_timer(self, name: str) -> None:
        """``ping``: ping; ``resend``: resend what the successor has not acknowledged."""
        if name == "ping":
            self.ping()
        elif name == "resend" and self.ready and self.succ is not None and self.sent:
            self.forward(max(self.succ_received, self.committed) + 1)
            self.set_timer("resend", self.retry)

    def learn(self, reply: ConfigReply) -> None:
        """The master's chain: take a newer one (repair, rule 4), and the lease if this
        answers our ping of this incarnation and names us."""
        if reply.config.version > self.config.version:
            self.reconfigure(reply.config)
        if (reply.boot == self.boot and reply.tick >= 0 and self.position is not None
                and reply.config.version == self.config.version):
            self.lease_until = max(self.lease_until, reply.tick + self.lease_pings)

    def reconfigure(self, config: ChainConfig) -> None:
        """Move to chain ``config``: keep the state if we have been a member without a
        break (rule 1), else drop it; repair our links (rule 4)."""
        old, old_succ, was_tail = self.config, self.succ, self.is_tail
        self.config = config
        i = self.position
        if i is None:
            if self.ready or self.applied:
                self.fresh()
            return
        if config.version == 1:
            self.ready = self.applied == 0  # the first chain starts empty
        elif not (self.ready and config.since[i] <= old.version) and (self.ready
                                                                      or self.applied):
            self.fresh()  # a break in our membership: what we hold may lack writes
        if not self.ready:
            return
        if i == 0:
            self.early = {}  # the old head's numbering ends here: we number from now on
        if self.is_tail and not was_tail:
            self.commit(self.applied)  # the old tail is gone: our Sent list is committed
        if self.succ != old_succ:
            # A new successor (a middle server removed, or a new tail): resend the Sent
            # list; it ignores what it has, and asks for the state if it has none.
            self.succ_received = self.committed
            if self.succ is not None:
                self.forward(self.committed + 1)
                self.set_timer("resend", self.retry)

    # ----- messages ------------------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        """Dispatch by message type."""
        match msg:
            case ConfigReply() if src == self.master:
                self.learn(msg)
            case KVRequest():
                self.on_request(src, msg)
            case Update():
                self.on_update(src, msg)
            case ChainAck():
                self.on_ack(src, msg)
            case Snapshot():
                self.on_snapshot(src, msg)
            case VersionQuery():
                self.on_version_query(src, msg)
            case VersionReply():
                self.on_version_reply(msg)

    def on_request(self, src: str, msg: KVRequest) -> None:
        """A client's request: a write at the head, a read at the tail (any member with
        CRAQ); elsewhere ``wrong leader``."""
        if msg.f not in OPERATIONS or not isinstance(msg.key, str):
            self.log(f"{src} sent {msg!r}: no such operation; ignored")
            return
        if msg.f in READS:
            self.read(src, msg)
        elif self.is_head:
            self.applied += 1
            command = {"session": msg.session, "seq": msg.seq, "f": msg.f, "key": msg.key,
                       "value": msg.value, "time": self.now, "client": src}
            self.apply(self.applied, command)
            if self.succ is not None:
                self.forward(self.applied)
                self.set_timer("resend", self.retry)
        else:
            self.send(src, KVReply(msg.session, msg.seq, WRONG_LEADER, None, self.config.head))

    def read(self, src: str, msg: KVRequest) -> None:
        """A read: answered here if we are the tail (or, with CRAQ, a member and the key
        is clean), sent to the tail's version if dirty, refused without a lease."""
        member = self.ready and self.has_lease
        if member and (self.is_tail or (self.craq and msg.key not in self.dirty
                                        and self.committed >= self.clean_from)):
            self.send(src, KVReply(msg.session, msg.seq, OK, self.store.read(msg.key)))
        elif member and self.craq:
            self.send(self.config.tail,  # type: ignore[arg-type]
                      VersionQuery(msg.key, src, msg.session, msg.seq))
        else:
            self.send(src, KVReply(msg.session, msg.seq, WRONG_LEADER, None, self.config.tail))

    def on_update(self, src: str, msg: Update) -> None:
        """Writes from the predecessor: apply them in order and pass them on (rule 2)."""
        if src != self.pred:
            if msg.version > self.config.version:
                self.ping()  # we are behind: ask the master now
            return
        if not self.ready:
            self.send(src, ChainAck(0, 0, ready=False))
            return
        first = self.applied + 1
        for offset, command in enumerate(msg.commands):
            if msg.start + offset > self.applied:
                self.early[msg.start + offset] = command
        while self.applied + 1 in self.early:
            self.applied += 1
            self.apply(self.applied, self.early.pop(self.applied))
        if self.succ is not None and self.applied >= first:
            self.forward(first)
            self.set_timer("resend", self.retry)
        self.send(src, ChainAck(self.applied, self.committed))

    def apply(self, seq: int, command: dict[str, Any]) -> None:
        """Apply write ``seq``: on the tail it commits (answer the client), elsewhere it
        joins the Sent list and, for CRAQ, makes a dirty version of its key."""
        key, writes = command["key"], command["f"] in WRITES
        before = self.store.read(key) if writes else ""
        result = self.store.apply(seq, command)
        if writes:
            if not self.is_tail:
                # No entry: every earlier version is committed, so the one before this is.
                versions = self.dirty.setdefault(key, [(self.last_write.get(key, 0), before)])
                versions.append((seq, self.store.read(key)))
            self.last_write[key] = seq
        if self.is_tail:
            self.committed = seq
            self.answer(command, result)
        else:
            self.sent[seq] = (command, result)

    def forward(self, start: int) -> None:
        """Send the successor the Sent list from ``start`` (at most ``batch`` writes)."""
        commands = []
        for seq in range(start, start + self.batch):
            entry = self.sent.get(seq)
            if entry is None:
                break
            commands.append(entry[0])
        if commands and self.succ is not None:
            self.send(self.succ, Update(self.config.version, start, tuple(commands)))

    def on_ack(self, src: str, msg: ChainAck) -> None:
        """The successor's acknowledgement: commit what reached the tail, pass it up;
        or send it the state it lacks."""
        if src != self.succ or not self.ready:
            return
        if not msg.ready:
            if self.snapshot_sent != self.tick:  # at most one per tick: it is the whole store
                self.snapshot_sent = self.tick
                pending = tuple({"seq": s, "command": c, "result": r}
                                for s, (c, r) in self.sent.items())
                self.send(src, Snapshot(self.config.version, self.applied, self.committed,
                                        self.store.snapshot(), pending,
                                        dict(self.last_write)))
            return
        self.succ_received = max(self.succ_received, msg.received)
        if msg.committed > self.committed:
            self.commit(min(msg.committed, self.applied))

    def commit(self, upto: int) -> None:
        """Writes up to ``upto`` reached the tail: drop them from the Sent list (answer
        their clients if we are the tail), clean their versions, tell the predecessor."""
        if upto <= self.committed:
            return
        self.committed = max(self.committed, upto)
        for seq in [s for s in self.sent if s <= upto]:
            command, result = self.sent.pop(seq)
            if self.is_tail:
                self.answer(command, result)
        for key in list(self.dirty):
            versions = self.dirty[key]
            while len(versions) > 1 and versions[1][0] <= upto:
                versions.pop(0)
            if len(versions) == 1:
                del self.dirty[key]
        if self.pred is not None:
            self.send(self.pred, ChainAck(self.applied, self.committed))

    def answer(self, command: dict[str, Any], result: dict[str, Any]) -> None:
        """The tail answers the client of a committed write."""
        client = command.get("client")
        if client:
            self.send(client, KVReply(command["session"], command["seq"], result["status"],
                                      result["value"], self.config.head))

    def on_snapshot(self, src: str, msg: Snapshot) -> None:
        """The predecessor's state, for a member that has none (rule 4, a new tail)."""
        if src != self.pred or self.ready:
            return
        self.store.restore(msg.applied, msg.state)
        self.applied = msg.applied
        self.committed = msg.committed
        self.sent = {p["seq"]: (p["command"], p["result"]) for p in msg.pending}
        self.last_write, self.dirty, self.early = dict(msg.versions), {}, {}
        self.clean_from = msg.applied
        self.ready = True
        self.note("snapshot", version=msg.version, applied=msg.applied)
        if self.is_tail:
            self.commit(self.applied)  # we hold its Sent list: committed, answer them
        self.send(src, ChainAck(self.applied, self.committed))

    def on_version_query(self, src: str, msg: VersionQuery) -> None:
        """CRAQ, at the tail: which version of the key is committed."""
        if self.is_tail and self.has_lease:
            self.send(src, VersionReply(msg.key, self.last_write.get(msg.key, 0), msg.client,
                                        msg.session, msg.seq))

    def on_version_reply(self, msg: VersionReply) -> None:
        """CRAQ: the tail's committed version of a dirty key: answer with our copy of it."""
        versions = self.dirty.get(msg.key)
        if versions is None:
            if self.last_write.get(msg.key, 0) < msg.version:
                return  # we have not seen that version (we are behind): the client retries
            value = self.store.read(msg.key)  # clean since; committed after the query
        else:
            older = [v for seq, v in versions if seq <= msg.version]
            if not older and versions[-1][0] < msg.version:
                return
            value = older[-1] if older else versions[0][1]
        self.send(msg.client, KVReply(msg.session, msg.seq, OK, value))


# ----- the client ------------------------------------------------------------------------------


class ChainClient(RoutedClient):
    """A client of chain replication: asks the master for the chain, sends writes to the
    head and reads to the tail (with ``craq=True``, reads to members in turn), retries.

    Args:
        master: the master's node id.
        craq: spread reads over the chain's members.
        retry: seconds before asking the master again and resending.
        op_timeout: seconds before giving up on an operation (``info``).
    """

    def __init__(self, *, master: str = "master", craq: bool = False, retry: float = 0.1,
                 op_timeout: float = 2.0) -> None:
        super().__init__(master, retry=retry, op_timeout=op_timeout)
        self.craq = craq
        self.config = ChainConfig(0)

    def on_start(self) -> None:
        super().on_start()
        self.spread = self.rng.randrange(1 << 16)  # where this client's reads start

    def ask(self) -> object:
        return GetConfig()

    def learn(self, msg: Any) -> bool:
        if not isinstance(msg, ConfigReply):
            return False
        if msg.config.version > self.config.version:
            self.config = msg.config
        return True

    def route(self, request: KVRequest) -> str | None:
        chain = self.config.chain
        if not chain:
            return None
        if request.f not in READS:
            return chain[0]
        if self.craq:
            return chain[(self.spread + request.seq) % len(chain)]
        return chain[-1]


# ----- a checker -----------------------------------------------------------------------------


def check_configs(trace: Trace) -> Report:
    """Judge the master's chains from its trace notes (``config``): versions are numbered
    1, 2, 3...; a new chain keeps its surviving members in their order and adds new ones
    only at the tail; once a chain existed, it never starts over from servers that hold
    nothing of it. A member is a server in one incarnation (``boots``, when noted): a
    server that restarted is a new server.

    Example:
        >>> from dsys.trace import Trace, TraceEvent
        >>> def config(t, version, chain):
        ...     return TraceEvent(t, "master", "note", {"event": "config",
        ...                                              "version": version, "chain": chain})
        >>> trace = Trace([config(0.1, 1, ["a", "b", "c"]), config(0.5, 2, ["a", "c"]),
        ...                config(0.9, 3, ["d", "a", "c"])])
        >>> print(check_configs(trace).explain())
        configs: 1 violation(s) (3 configs checked)
          t=0.900000: version 3 (d, a, c) adds d before the tail of version 2 (a, c)
    """
    violations: list[Violation] = []
    previous: list[tuple[str, Any]] | None = None
    version = 0
    judged = 0
    for event in trace:
        if event.kind != "note" or event.data.get("event") != "config":
            continue
        judged += 1
        data = event.data
        chain = list(zip(data["chain"], data.get("boots") or [None] * len(data["chain"]),
                         strict=True))
        where = (event.node,)
        if data["version"] != version + 1:
            violations.append(Violation(event.time, where,
                                        f"version {data['version']} follows version {version}"))
        version = data["version"]
        if previous is not None:
            names = f"version {version} ({', '.join(s for s, _ in chain)})"
            before = f"version {version - 1} ({', '.join(s for s, _ in previous)})"
            kept = [m for m in chain if m in previous]
            if kept != [m for m in previous if m in chain]:
                violations.append(Violation(event.time, where,
                                            f"{names} reorders the members of {before}"))
            if chain[:len(kept)] != kept:
                new = next(s for s, boot in chain if (s, boot) not in previous)
                violations.append(Violation(event.time, where,
                                            f"{names} adds {new} before the tail of {before}"))
            if previous and chain and not kept:
                violations.append(Violation(event.time, where,
                                            f"{names} starts over from servers that hold "
                                            f"nothing of {before}"))
        previous = chain
    return Report("configs", tuple(violations), judged, "configs")
