"""Primary-backup replication with a view service (MIT 6.824's viewservice/pbservice,
DSLabs lab 2): a key-value store kept on two servers, with no split brain.

The rules of this file, each enforced in one place:

1. **Views.** A *view* is a numbered pair (primary, backup); only the
   :class:`ViewService` makes them, one at a time, numbered 1, 2, 3... Servers ping it
   every ``ping_interval``; one that has not pinged for ``dead_pings`` of its ticks is
   dead, and one whose ping carries a new incarnation has restarted and lost its state
   (MIT's servers ping 0 to say so; a late or duplicated ping 0 on a network that
   reorders would look like a restart, an incarnation number cannot).
2. **The ack rule.** The view service moves from view *v* to *v + 1* only after the
   primary of *v* acknowledged *v* (pinged with *v*), and the primary of *v + 1* is always
   the primary or the backup of *v*. A primary acknowledges a view only once it holds the
   whole state *and* its backup (if any) holds it too. So the primary of every view holds
   every write any earlier view completed, and the service never jumps to a view that
   nobody in it can serve. If the primary dies before acknowledging, the view service
   waits forever: the service stops rather than lose data.
3. **Forward, then answer.** The primary applies each client operation (reads too) in
   one order, forwards it to the backup, and answers the client only once the backup has
   applied it. The backup takes forwarded operations only from the primary of its own
   view, with that view's number. A deposed primary that does not know it yet can
   therefore complete nothing: the new primary (its old backup) refuses it. No split brain.
4. **State transfer.** A new backup gets the primary's whole store, data *and* session
   table (:class:`~dsys.kv.KVStore`), before it takes forwarded operations; without the
   session table, a retry the old primary had applied would be applied again.
5. **Only a server that holds the state serves.** A server acts as primary of view *v*
   only if it held the whole state in view *v - 1* (as its primary, or as its backup after
   the transfer), in this incarnation; the exception is view 1, which starts empty. This
   covers what the view service cannot see in time: a backup that restarted with an
   empty memory just before being promoted. It serves nothing, and the service stops.

Clients (:class:`PBClient`) ask the view service for the primary and retry there; each
operation is numbered in a session (:mod:`dsys.kv`), so a retry is applied once.

Example:
    >>> from dsys import Simulation
    >>> from dsys.replication import PBClient, PBServer, ViewService
    >>> sim = Simulation(seed=1)
    >>> sim.add_node("vs", ViewService)
    >>> for name in ("s1", "s2", "s3"):
    ...     sim.add_node(name, PBServer)
    >>> ops = iter([{"f": "put", "key": "x", "value": "1"},
    ...             {"f": "append", "key": "x", "value": "2"},
    ...             {"f": "get", "key": "x", "value": None}])
    >>> sim.add_client("c1", PBClient, workload=lambda rng: next(ops), ops=3, start=1.0)
    >>> sim.run(until=3.0)
    >>> sim.node("vs").view
    View(num=2, primary='s1', backup='s2')
    >>> [(e["type"], e["f"], e["value"]) for e in sim.history if e["type"] != "invoke"]
    [('ok', 'put', '1'), ('ok', 'append', '2'), ('ok', 'get', '12')]
    >>> sim.node("s2").store.data    # the backup holds the same
    {'x': '12'}
"""

from __future__ import annotations

from typing import Any

from dsys.check.report import Report, Violation
from dsys.core.messages import message
from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.kv.messages import WRONG_LEADER, KVReply, KVRequest
from dsys.kv.store import OPERATIONS, KVStore
from dsys.replication.routed_client import RoutedClient, check_server_options
from dsys.trace.events import Trace

__all__ = ["BackupAck", "Forward", "GetView", "PBClient", "PBServer", "Ping", "StateTransfer",
           "View", "ViewReply", "ViewService", "check_views"]

#: Seconds between a server's pings (and the view service's ticks).
PING_INTERVAL = 0.1
#: Ticks without a ping after which the view service considers a server dead.
DEAD_PINGS = 5
#: Seconds before the primary resends what its backup has not acknowledged.
RETRY = 0.05
#: Most operations in one forward.
BATCH = 64


# ----- messages ------------------------------------------------------------------------------


@message(name="pb:View")
class View:
    """View ``num``: its ``primary`` and ``backup`` (None: no such server yet)."""

    num: int
    primary: str | None = None
    backup: str | None = None


@message(name="pb:Ping")
class Ping:
    """A server is alive, in incarnation ``boot`` (a random number drawn at each start),
    and has taken on view ``view``. From the primary of the current view, with that view's
    number, it is the acknowledgement of rule 2."""

    view: int
    boot: int


@message(name="pb:GetView")
class GetView:
    """A client asks for the current view."""


@message(name="pb:ViewReply")
class ViewReply:
    """The view service's current ``view``, and whether its primary acknowledged it."""

    view: View
    acked: bool


@message(name="pb:Forward")
class Forward:
    """Primary to backup: the operations numbered ``start``, ``start + 1``... of view
    ``view``, each a command of :meth:`~dsys.kv.KVStore.apply`."""

    view: int
    start: int
    commands: tuple[dict[str, Any], ...]


@message(name="pb:StateTransfer")
class StateTransfer:
    """Primary to a new backup: the whole store (:meth:`~dsys.kv.KVStore.snapshot`) after
    operation ``applied``, in view ``view``."""

    view: int
    applied: int
    state: dict[str, Any]


@message(name="pb:BackupAck")
class BackupAck:
    """Backup to primary: in view ``view`` I hold the state (``ready``) and have applied
    every operation up to ``applied``. ``ready=False``: send me the state first (or, with
    another view number, we disagree on the view: ask the view service)."""

    view: int
    applied: int
    ready: bool


# ----- the view service ------------------------------------------------------------------


class ViewService(Node):
    """The view service: makes views and enforces the ack rule (rule 2).

    It ticks every ``ping_interval`` and counts a server dead after ``dead_pings`` ticks
    without a ping; counting ticks instead of reading clocks keeps it deterministic and
    immune to clock jumps. Its view and whether that view was acknowledged are on its
    storage, synced before it answers, so it survives its own crash.

    Args:
        ping_interval: seconds between ticks.
        dead_pings: ticks without a ping before a server counts as dead.
        ack_rule: False breaks rule 2 (the view advances without the acknowledgement);
            for demonstrations and tests only.
    """

    def __init__(self, *, ping_interval: float = PING_INTERVAL, dead_pings: int = DEAD_PINGS,
                 ack_rule: bool = True) -> None:
        super().__init__()
        if not ping_interval > 0:
            raise ConfigError(f"ping_interval must be > 0, got {ping_interval!r}")
        if not isinstance(dead_pings, int) or dead_pings < 2:
            raise ConfigError(f"dead_pings must be an int >= 2, got {dead_pings!r}")
        self.ping_interval = ping_interval
        self.dead_pings = dead_pings
        self.ack_rule = ack_rule

    def on_start(self) -> None:
        """Load the view from storage (view 0, no servers, on a first start); tick."""
        num, primary, backup, boots = self.storage.get("view", [0, None, None, {}])
        self.view = View(num, primary, backup)
        self.acked: bool = self.storage.get("acked", False)
        # The incarnations of the primary and the backup when the view was made: another
        # one means the server restarted and lost what it held.
        self.role_boots: dict[str, int] = dict(boots)
        self.tick = 0
        # server -> the tick of its latest ping, and the incarnation that sent it. Servers
        # in the view count as just heard from (after a restart of the view service).
        self.last_ping: dict[str, int] = {s: 0 for s in (primary, backup) if s is not None}
        self.boots: dict[str, int] = dict(boots)
        self.set_timer("tick", self.ping_interval)

    def on_message(self, src: str, msg: Any) -> None:
        """A ping: note the server alive (and the primary's acknowledgement), maybe move
        to a new view, answer with the view. A client's ``GetView``: answer."""
        if isinstance(msg, Ping):
            self.last_ping[src] = self.tick
            self.boots[src] = msg.boot
            if self.view.num == 1 and not self.acked and src == self.view.primary:
                # The first view starts empty and served nothing before its acknowledgement:
                # a restarted primary may take it on as well as the incarnation it named.
                self.role_boots[src] = msg.boot
            if (src == self.view.primary and msg.view == self.view.num and not self.acked
                    and msg.boot == self.role_boots.get(src)):
                self.acked = True
                self.storage["acked"] = True
                self.storage.sync()
                self.note("acked", num=self.view.num, primary=src)
            self.advance(first=src)
        elif not isinstance(msg, GetView):
            return
        self.send(src, ViewReply(self.view, self.acked))

    def on_timer(self, name: str) -> None:
        """``tick``: count time, and move to a new view if a server died."""
        if name == "tick":
            self.tick += 1
            self.advance()
            self.set_timer("tick", self.ping_interval)

    def alive(self, server: str | None) -> bool:
        """True if ``server`` (the primary or the backup) pinged within the last
        ``dead_pings`` ticks, in the incarnation it had when the view was made."""
        return (server is not None and server in self.last_ping
                and self.tick - self.last_ping[server] < self.dead_pings
                and self.boots.get(server) == self.role_boots.get(server))

    def idle(self, *exclude: str | None) -> str | None:
        """A live server that is in no role (the first by id), or None."""
        for server in sorted(self.last_ping):
            if server not in exclude and self.tick - self.last_ping[server] < self.dead_pings:
                return server
        return None

    def advance(self, first: str | None = None) -> None:
        """Move to view + 1 if the current view must change and rule 2 allows it."""
        view = self.view
        if view.num == 0:
            if first is not None:  # the first server to ping is the first primary
                self.change(first, None)
            return
        if not self.acked and self.ack_rule:
            return  # rule 2: wait for the primary's acknowledgement, even forever
        if not self.alive(view.primary):
            if self.alive(view.backup):
                self.change(view.backup, self.idle(view.primary, view.backup))
            # Else nobody holds the state: the service stops rather than lose it.
            return
        if view.backup is not None and not self.alive(view.backup):
            self.change(view.primary, self.idle(view.primary, view.backup))
        elif view.backup is None:
            candidate = self.idle(view.primary)
            if candidate is not None:
                self.change(view.primary, candidate)

    def change(self, primary: str | None, backup: str | None) -> None:
        """Make view + 1, store it (synced) and note it in the trace."""
        self.view = View(self.view.num + 1, primary, backup)
        self.acked = False
        self.role_boots = {s: self.boots[s] for s in (primary, backup) if s is not None}
        self.storage.update({"view": [self.view.num, primary, backup, self.role_boots],
                             "acked": False})
        self.storage.sync()
        self.note("view", num=self.view.num, primary=primary, backup=backup)


# ----- the servers -------------------------------------------------------------------------


class PBServer(Node):
    """A key-value server of primary-backup replication: idle, backup or primary,
    as the view service says (see the module docstring for the rules).

    Args:
        view_service: the view service's node id.
        ping_interval: seconds between pings.
        retry: seconds before resending what the backup has not acknowledged.
        batch: most operations per forward.
        session_timeout: see :class:`~dsys.kv.KVStore`.
    """

    def __init__(self, *, view_service: str = "vs", ping_interval: float = PING_INTERVAL,
                 retry: float = RETRY, batch: int = BATCH,
                 session_timeout: float = 60.0) -> None:
        super().__init__()
        check_server_options(ping_interval, retry, batch)
        self.view_service = view_service
        self.ping_interval = ping_interval
        self.retry = retry
        self.batch = batch
        self.session_timeout = session_timeout

    def on_start(self) -> None:
        """Start with nothing: no view, no state, a new incarnation."""
        self.store = KVStore(self.session_timeout)
        self.view = View(0)
        self.view_acked = False
        self.boot = self.rng.getrandbits(31)  # this incarnation (rule 1)
        self.state_view = 0  # the view in which this server holds the whole state (rule 5)
        self.applied = 0  # operations applied, numbered 1, 2, 3...
        # As primary: operations not yet acknowledged by the backup (number -> command),
        # and the clients waiting for them (number -> client, request, result).
        self.pending: dict[int, dict[str, Any]] = {}
        self.waiting: dict[int, tuple[str, KVRequest, dict[str, Any]]] = {}
        self.backup_ready = False
        self.backup_acked = 0
        # As backup: forwarded operations that arrived ahead of a missing one.
        self.early: dict[int, dict[str, Any]] = {}
        self.ping()

    @property
    def is_primary(self) -> bool:
        """True if this server acts as the primary of the view it knows."""
        return self.view.primary == self.id and self.state_view == self.view.num > 0

    @property
    def serving(self) -> bool:
        """True if it takes client operations: the primary, once view 1 (which starts
        empty) is acknowledged."""
        return self.is_primary and (self.view.num > 1 or self.view_acked)

    # ----- the view ------------------------------------------------------------------------

    def ping(self) -> None:
        """Ping the view service with the view taken on, and arm the next ping.

        A primary takes on its view (acknowledges it, rule 2) once it holds the state and
        its backup does too; until then it pings the number before. Other servers ping
        the view they know: the view service reads only the primary's number.
        """
        view = self.view
        acknowledged = view.primary != self.id or (self.is_primary and self.backup_ready)
        self.send(self.view_service, Ping(view.num if acknowledged else view.num - 1,
                                          self.boot))
        self.set_timer("ping", self.ping_interval)

    def on_timer(self, name: str) -> None:
        """``ping``: ping; ``forward``: resend what the backup has not acknowledged."""
        if name == "ping":
            self.ping()
        elif name == "forward" and self.is_primary and self.view.backup is not None:
            if not self.backup_ready:
                self.send_state()
            elif self.pending:
                self.send_forward(self.backup_acked + 1)
            if not self.backup_ready or self.pending:
                self.set_timer("forward", self.retry)

    def learn(self, reply: ViewReply) -> None:
        """The view service's answer: take on a newer view (roles change), or note that
        the current one was acknowledged."""
        view = reply.view
        if view.num < self.view.num:
            return
        if view.num == self.view.num:
            self.view_acked = self.view_acked or reply.acked
            if self.serving:
                self.release()
            return
        self.view, self.view_acked = view, reply.acked
        if view.primary == self.id:
            self.become_primary()
        elif view.backup == self.id:
            self.state_view = 0  # a new backup takes only the primary's state (rule 4)
            self.pending, self.waiting, self.early = {}, {}, {}
        else:
            self.become_idle()

    def become_primary(self) -> None:
        """Act as primary of the new view if this server holds the state (rule 5)."""
        view = self.view
        if view.num == 1:  # the first view starts empty, unless we are a restarted primary
            holds_state = not self.view_acked and self.applied == 0
        else:
            holds_state = self.state_view == view.num - 1 > 0
        if not holds_state:
            self.state_view = 0
            self.pending, self.waiting = {}, {}
            self.log("primary of view", view.num, "without the state: serving nothing")
            return
        self.state_view = view.num
        self.note("primary", view=view.num, backup=view.backup)
        self.backup_acked = 0
        self.backup_ready = view.backup is None
        self.pending = {}  # the state transfer covers every operation applied so far
        if view.backup is None:
            self.release()
        else:
            self.send_state()
            self.set_timer("forward", self.retry)

    def become_idle(self) -> None:
        """Neither primary nor backup: forget the state and every waiting client."""
        if self.state_view or self.applied:
            self.store = KVStore(self.session_timeout)
        self.state_view = self.applied = 0
        self.pending, self.waiting, self.early = {}, {}, {}

    # ----- client operations (primary) ------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        """Dispatch by message type."""
        match msg:
            case ViewReply() if src == self.view_service:
                self.learn(msg)
            case KVRequest():
                self.on_request(src, msg)
            case Forward():
                self.on_forward(src, msg)
            case StateTransfer():
                self.on_state(src, msg)
            case BackupAck():
                self.on_backup_ack(src, msg)

    def on_request(self, src: str, msg: KVRequest) -> None:
        """A client's operation: apply it, log it for the backup, answer once the backup
        has it (rule 3). Not the serving primary: ``wrong leader``."""
        if msg.f not in OPERATIONS or not isinstance(msg.key, str):
            self.log(f"{src} sent {msg!r}: no such operation; ignored")
            return
        if not self.serving:
            self.send(src, KVReply(msg.session, msg.seq, WRONG_LEADER, None, self.view.primary))
            return
        self.applied += 1
        seq = self.applied
        command = {"session": msg.session, "seq": msg.seq, "f": msg.f, "key": msg.key,
                   "value": msg.value, "time": self.now}
        result = self.store.apply(seq, command)
        self.waiting[seq] = (src, msg, result)
        if self.view.backup is None:
            self.release()
            return
        self.pending[seq] = command
        if self.backup_ready:
            self.send_forward(seq)
            self.set_timer("forward", self.retry)

    def send_forward(self, start: int) -> None:
        """Forward the logged operations from ``start`` (at most ``batch``)."""
        commands = []
        for seq in range(start, start + self.batch):
            command = self.pending.get(seq)
            if command is None:
                break
            commands.append(command)
        if commands:
            self.send(self.view.backup, Forward(self.view.num, start, tuple(commands)))  # type: ignore[arg-type]

    def send_state(self) -> None:
        """Send the whole store to the backup (rule 4)."""
        self.send(self.view.backup,  # type: ignore[arg-type]
                  StateTransfer(self.view.num, self.applied, self.store.snapshot()))

    def on_backup_ack(self, src: str, msg: BackupAck) -> None:
        """The backup's answer: it needs the state, or it applied up to ``applied``."""
        if msg.view > self.view.num:
            self.ping()  # we are behind: ask the view service now
            return
        if not self.is_primary or src != self.view.backup or msg.view != self.view.num:
            return
        if not msg.ready:
            self.backup_ready = False
            self.send_state()
            self.set_timer("forward", self.retry)
            return
        if not self.backup_ready:
            self.backup_ready = True
            self.ping()  # acknowledge the view at once
        if msg.applied > self.backup_acked:
            self.backup_acked = min(msg.applied, self.applied)
            for seq in [s for s in self.pending if s <= self.backup_acked]:
                del self.pending[seq]
            if self.pending:
                self.send_forward(self.backup_acked + 1)
        self.release()

    def release(self) -> None:
        """Answer every client whose operation the backup holds (all of them when there
        is no backup), if this server serves."""
        if not self.serving:
            return
        done = self.applied if self.view.backup is None else self.backup_acked
        for seq in [s for s in self.waiting if s <= done]:
            src, request, result = self.waiting.pop(seq)
            self.send(src, KVReply(request.session, request.seq, result["status"],
                                   result["value"], self.id))

    # ----- the backup -------------------------------------------------------------------------

    def is_backup_of(self, src: str, view: int) -> bool:
        """True if we are the backup of ``view`` (our view) and ``src`` is its primary."""
        return (view == self.view.num and self.view.backup == self.id
                and self.view.primary == src)

    def on_state(self, src: str, msg: StateTransfer) -> None:
        """The primary's state: take it if we are its backup in that view (and it is newer
        than what we hold), then acknowledge."""
        if msg.view > self.view.num:
            self.ping()
            return
        if not self.is_backup_of(src, msg.view):
            return
        if self.state_view != msg.view or msg.applied > self.applied:
            self.store.restore(msg.applied, msg.state)
            self.applied = msg.applied
            self.early = {s: c for s, c in self.early.items() if s > msg.applied}
            self.state_view = msg.view
            self.note("state", view=msg.view, applied=msg.applied)
            self.apply_early()
        self.send(src, BackupAck(msg.view, self.applied, True))

    def on_forward(self, src: str, msg: Forward) -> None:
        """Forwarded operations: apply them in order if they come from the primary of our
        view (rule 3), else refuse."""
        if msg.view > self.view.num:
            self.ping()
            return
        if not self.is_backup_of(src, msg.view):
            # A deposed primary (or one ahead of us): say which view we are in.
            self.send(src, BackupAck(self.view.num, 0, False))
            return
        if self.state_view != msg.view:
            self.send(src, BackupAck(msg.view, 0, False))  # send me the state first
            return
        for offset, command in enumerate(msg.commands):
            if msg.start + offset > self.applied:
                self.early[msg.start + offset] = command
        self.apply_early()
        self.send(src, BackupAck(msg.view, self.applied, True))

    def apply_early(self) -> None:
        """Apply the forwarded operations that are next in order."""
        while self.applied + 1 in self.early:
            self.applied += 1
            self.store.apply(self.applied, self.early.pop(self.applied))


# ----- the client ------------------------------------------------------------------------------


class PBClient(RoutedClient):
    """A client of the primary-backup service: asks the view service for the primary,
    sends every operation there, retries (see :class:`RoutedClient
    <dsys.replication.routed_client.RoutedClient>`).

    Args:
        view_service: the view service's node id.
        retry: seconds before asking the view service again and resending.
        op_timeout: seconds before giving up on an operation (``info``).
    """

    def __init__(self, *, view_service: str = "vs", retry: float = 0.1,
                 op_timeout: float = 2.0) -> None:
        super().__init__(view_service, retry=retry, op_timeout=op_timeout)
        self.view = View(0)

    def ask(self) -> object:
        return GetView()

    def learn(self, msg: Any) -> bool:
        if not isinstance(msg, ViewReply):
            return False
        if msg.view.num > self.view.num:
            self.view = msg.view
        return True

    def route(self, request: KVRequest) -> str | None:
        return self.view.primary


# ----- a checker -----------------------------------------------------------------------------


def check_views(trace: Trace) -> Report:
    """Judge the view service's sequence of views from its trace notes (``view`` and
    ``acked``): views are numbered 1, 2, 3...; the service moves past a view only after
    its primary acknowledged it (rule 2); the primary of each view after the first was
    the primary or the backup of the view before.

    Example:
        >>> from dsys.trace import Trace, TraceEvent
        >>> def view(t, num, primary, backup):
        ...     return TraceEvent(t, "vs", "note", {"event": "view", "num": num,
        ...                                          "primary": primary, "backup": backup})
        >>> trace = Trace([view(0.1, 1, "a", None),
        ...                TraceEvent(0.2, "vs", "note", {"event": "acked", "num": 1}),
        ...                view(0.3, 2, "a", "b"), view(0.9, 3, "c", None)])
        >>> print(check_views(trace).explain())
        views: 2 violation(s) (3 views checked)
          t=0.900000: view 3 made before view 2 was acknowledged by its primary a
          t=0.900000: view 3's primary c was neither the primary nor the backup of view 2
    """
    violations: list[Violation] = []
    previous: dict[str, Any] | None = None
    acked: set[int] = set()
    views = 0
    for event in trace:
        if event.kind != "note":
            continue
        data = event.data
        if data.get("event") == "acked":
            acked.add(data["num"])
        elif data.get("event") == "view":
            views += 1
            num = data["num"]
            expected = 1 if previous is None else previous["num"] + 1
            if num != expected:
                violations.append(Violation(event.time, (event.node,),
                                            f"view {num} follows view {expected - 1}"))
            if previous is not None:
                if previous["num"] not in acked:
                    violations.append(Violation(
                        event.time, (event.node,),
                        f"view {num} made before view {previous['num']} was acknowledged "
                        f"by its primary {previous['primary']}"))
                if data["primary"] not in (previous["primary"], previous["backup"]):
                    violations.append(Violation(
                        event.time, (event.node,),
                        f"view {num}'s primary {data['primary']} was neither the primary nor "
                        f"the backup of view {previous['num']}"))
            previous = data
    return Report("views", tuple(violations), views, "views")
