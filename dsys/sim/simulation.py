"""The deterministic simulator.

Rules of this file:

* All state changes happen in *events* popped from one priority queue ordered by
  (virtual time, sequence number). The sequence number breaks ties in scheduling order,
  so the run is a pure function of (code, seed, scenario).
* Every random choice comes from a ``random.Random`` seeded from the simulation seed and a
  fixed label (``"<seed>/network"``, ``"<seed>/node/a/1"``...). String seeds are hashed
  with SHA-512 by ``random``, never with ``hash()``, so ``PYTHONHASHSEED`` does not matter.
* Iteration over nodes is always in sorted id order.
* A node's handler runs to completion inside one event; its effects (sends, timers) become
  later events.
"""

from __future__ import annotations

import functools
import gc
import heapq
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from random import Random
from types import MappingProxyType
from typing import Any

import attrs

from dsys.core import codec
from dsys.core.messages import short_name
from dsys.core.node import Node, construct
from dsys.core.storage import Storage
from dsys.errors import CodecError, ConfigError, UsageError
from dsys.sim.clients import SAME, Client
from dsys.sim.network import Latency, LinkSettings, Network, as_latency
from dsys.sim.report import (
    HandlerError,
    InvariantViolation,
    SimulationError,
    WireError,
    replay_command,
)
from dsys.trace.events import Trace

NodeFactory = Callable[[], Node]
#: A queue entry: (virtual time, sequence number, function, arguments).
_Entry = tuple[float, int, Callable[..., Any], tuple[Any, ...]]


@attrs.frozen
class Clock:
    """A node-local clock: it reads ``offset + t * (1 + drift)`` at virtual time ``t``.

    ``drift`` is the rate error (``1e-4`` = 100 ppm fast). Timers run on this clock: a
    timer of ``d`` seconds fires after ``d / (1 + drift)`` seconds of virtual time.
    """

    offset: float = 0.0
    drift: float = 0.0

    def __attrs_post_init__(self) -> None:
        if self.drift <= -1:
            raise ConfigError(
                f"clock drift must be > -1 (the clock must move forward), got {self.drift}"
            )

    def read(self, t: float) -> float:
        """What this clock shows at virtual time ``t``."""
        return self.offset + t * (1.0 + self.drift)


@attrs.frozen
class Statistics:
    """An immutable snapshot of what a simulation has done so far."""

    time: float
    events: int
    sent: int
    delivered: int
    dropped: int
    duplicated: int
    timers_fired: int
    dropped_by_reason: Mapping[str, int]
    by_node: Mapping[str, Mapping[str, int]]
    by_type: Mapping[str, Mapping[str, int]]


class _ClientState:
    __slots__ = ("op", "ops_left", "process", "rng", "stride", "think", "workload")

    def __init__(self, workload: Callable[[Random], Any], ops: int | None, think: Latency,
                 process: int, rng: Random) -> None:
        self.workload = workload
        self.ops_left = ops
        self.think = think
        self.process = process
        self.stride = 1
        self.op: dict[str, Any] | None = None
        self.rng = rng


class _Slot:
    """Everything the simulator keeps about one node id, across its incarnations."""

    __slots__ = (
        "booted",
        "client",
        "clock",
        "ctx",
        "durable",
        "factory",
        "id",
        "incarnation",
        "node",
        "storage",
        "timers",
    )

    def __init__(self, node_id: str, factory: NodeFactory, clock: Clock,
                 client: _ClientState | None) -> None:
        self.id = node_id
        self.factory = factory
        self.node: Node | None = None
        self.incarnation = 0
        self.durable: dict[str, str] = {}
        self.storage: Storage | None = None
        self.timers: dict[str, int] = {}
        self.clock = clock
        self.ctx: _SimContext | None = None
        self.client = client
        self.booted = False


class _SimContext:
    """The :class:`~dsys.core.node.NodeContext` of one incarnation of a simulated node."""

    __slots__ = ("incarnation", "node_id", "peers", "rng", "send", "sim", "slot", "storage")

    def __init__(self, sim: Simulation, slot: _Slot, peers: tuple[str, ...],
                 storage: Storage) -> None:
        self.sim = sim
        self.slot = slot
        self.node_id = slot.id
        self.peers = peers
        self.incarnation = slot.incarnation
        self.rng = Random(f"{sim.seed}/node/{slot.id}/{slot.incarnation}")
        self.storage = storage
        # send(dst, msg, stamps) goes straight to the simulator (the hottest call there is);
        # when this incarnation crashes, it is replaced by one that raises (see ``retire``).
        self.send: Callable[[str, object, dict[str, Any] | None], None] = functools.partial(
            sim._send, slot.id)

    def retire(self) -> None:
        """This incarnation crashed: anything it still tries to send is an error."""
        def crashed(dst: str, msg: object, stamps: dict[str, Any] | None) -> None:
            self._alive()

        self.send = crashed

    def _alive(self) -> None:
        if self.slot.incarnation != self.incarnation or self.slot.node is None:
            raise UsageError(
                f"node {self.node_id} (incarnation {self.incarnation}) has crashed; "
                "a crashed node can do nothing"
            )

    def now(self) -> float:
        return self.slot.clock.read(self.sim._now)

    def set_timer(self, name: str, delay: float) -> None:
        self._alive()
        self.sim._set_timer(self.slot, name, delay)

    def cancel_timer(self, name: str) -> None:
        self._alive()
        self.sim._cancel_timer(self.slot, name)

    def log(self, text: str) -> None:
        self.sim._record(self.node_id, "log", {"text": text})

    def note(self, event: str, data: dict[str, Any]) -> None:
        self.sim._record(self.node_id, "note", {"event": event, **data})

    def current_op(self) -> dict[str, Any] | None:
        client = self.slot.client
        return None if client is None or client.op is None else dict(client.op)

    def complete(self, kind: str, value: Any) -> None:
        self._alive()
        self.sim._complete(self.slot, kind, value)


class Simulation:
    """A deterministic simulation of nodes on a simulated network.

    Args:
        seed: fixes every random choice of the run.
        network: the :class:`~dsys.sim.network.Network` model (default: 1-10 ms uniform
            latency, no loss).
        trace: record a trace (turn off for benchmarks).
        codec: round-trip every message through the wire codec, as a real network would;
            a message that could not cross a real network fails here with a clear error.

    Example:
        >>> from dsys import Node, Simulation, message
        >>> @message(name="doc:Tick")
        ... class Tick:
        ...     n: int
        >>> class Echo(Node):
        ...     def on_start(self) -> None:
        ...         if self.id == "a":
        ...             self.send("b", Tick(0))
        ...     def on_message(self, src: str, msg: Tick) -> None:
        ...         if msg.n < 3:
        ...             self.send(src, Tick(msg.n + 1))
        >>> sim = Simulation(seed=1)
        >>> sim.add_node("a", Echo)
        >>> sim.add_node("b", Echo)
        >>> sim.run(until=1.0)
        >>> sim.statistics().delivered
        4
    """

    def __init__(
        self,
        seed: int = 0,
        network: Network | None = None,
        *,
        trace: bool = True,
        codec: bool = True,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"seed must be an int, got {seed!r}")
        self.seed = seed
        self.network = network if network is not None else Network()
        self.trace = Trace(enabled=trace)
        self._rec = self.trace.appender() if trace else None
        self._codec = codec
        self._verified_shapes: set[Any] = set()
        self.history: list[dict[str, Any]] = []
        self._now = 0.0
        self._queue: list[_Entry] = []
        self._seq = 0
        self._msg_seq = 0
        self._timer_seq = 0
        self._slots: dict[str, _Slot] = {}
        self._start_batches: dict[float, list[_Slot]] = {}
        self._servers: tuple[str, ...] = ()
        self._net_rng = Random(f"{seed}/network")
        self._disk_rng = Random(f"{seed}/disk")
        self._groups: dict[str, int] = {}
        self._oneway: set[tuple[str, str]] = set()
        self._cut = False
        self._last_arrival: dict[tuple[str, str], float] = {}
        self._invariants: list[tuple[str, Callable[[Simulation], Any]]] = []
        # (what, node, message type) -> count; a plain dict is the cheapest counter.
        self._counts: dict[tuple[str, str, str], int] = {}
        self._drop_reasons: Counter[str] = Counter()
        self._timers_fired = 0
        self._events = 0
        self._in_flight = 0
        self._stop = False
        self._replay = replay_command.get()

    # ----- building the cluster ------------------------------------------------------

    def add_node(self, node_id: str, factory: NodeFactory, *, clock: Clock | None = None,
                 start: float | None = None) -> None:
        """Add a server node. ``factory()`` builds it, now and on every restart.

        The node starts (``on_start``) at virtual time ``start`` (default: now).
        """
        self._add(node_id, factory, clock, None, start)
        self._servers = tuple(sorted(s.id for s in self._slots.values() if s.client is None))

    def add_client(
        self,
        client_id: str,
        factory: Callable[[], Client],
        *,
        workload: Callable[[Random], Mapping[str, Any]],
        ops: int | None = 10,
        think: Any = 0.0,
        start: float | None = None,
    ) -> None:
        """Add a simulated client that runs ``ops`` operations drawn from ``workload``.

        ``workload(rng)`` returns the next operation: a dict with ``f``, ``value`` and
        optionally ``key``. After each completion the client waits ``think`` seconds
        (any latency specification) before invoking the next. ``ops=None``: no limit.
        Clients never take part in partitions unless named, and are not in ``peers``.
        """
        process = sum(1 for s in self._slots.values() if s.client is not None)
        state = _ClientState(workload, ops, as_latency(think), process,
                             Random(f"{self.seed}/workload/{client_id}"))
        self._add(client_id, factory, None, state, start)
        count = process + 1
        for slot in self._slots.values():
            if slot.client is not None:
                slot.client.stride = count

    def _add(self, node_id: str, factory: Any, clock: Clock | None,
             client: _ClientState | None, start: float | None) -> None:
        if not isinstance(node_id, str) or not node_id or "/" in node_id:
            raise ConfigError(f"node ids must be non-empty strings without '/', got {node_id!r}")
        if node_id in self._slots:
            raise ConfigError(f"there is already a node named {node_id!r}")
        if not callable(factory):
            raise ConfigError(f"the factory of node {node_id!r} must be callable (a Node class)")
        slot = _Slot(node_id, factory, clock or Clock(), client)
        self._slots[node_id] = slot
        # Nodes that start at the same instant start together, in one event: all are built
        # first, then each runs on_start, so no handler, invariant or predicate ever sees a
        # half-started cluster.
        when = self._now if start is None else start
        batch = self._start_batches.get(when)
        if batch is None:
            batch = self._start_batches[when] = []
            self._schedule(when, self._start_batch, when)
        batch.append(slot)

    def set_clock(self, node_id: str, *, offset: float | None = None,
                  drift: float | None = None) -> None:
        """Change a node's clock (it takes effect at once)."""
        slot = self._slot(node_id)
        slot.clock = attrs.evolve(
            slot.clock,
            **{k: v for k, v in (("offset", offset), ("drift", drift)) if v is not None},
        )
        self._record(node_id, "clock", {"offset": slot.clock.offset, "drift": slot.clock.drift})

    def add_invariant(self, check: Callable[[Simulation], Any], name: str | None = None) -> None:
        """Check ``check(sim)`` after every event. It fails by returning False or by
        raising AssertionError (whose message is reported); the run then stops with an
        :class:`~dsys.sim.report.InvariantViolation`."""
        self._invariants.append((name or str(getattr(check, "__name__", "invariant")), check))

    # ----- observing -------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The current virtual time, in seconds."""
        return self._now

    @property
    def node_ids(self) -> tuple[str, ...]:
        """Every server node id, sorted."""
        return self._servers

    @property
    def client_ids(self) -> tuple[str, ...]:
        """Every client id, sorted."""
        return tuple(sorted(s.id for s in self._slots.values() if s.client is not None))

    def node(self, node_id: str) -> Node | None:
        """The running node object, or None while it is crashed (or not yet started)."""
        return self._slot(node_id).node

    @property
    def nodes(self) -> dict[str, Node]:
        """The running server nodes by id (crashed ones are absent)."""
        return {i: n for i in self._servers if (n := self._slots[i].node) is not None}

    @property
    def crashed(self) -> tuple[str, ...]:
        """Ids of the nodes (servers and clients) that started and are crashed now, sorted."""
        return tuple(sorted(i for i, s in self._slots.items() if s.booted and s.node is None))

    def is_up(self, node_id: str) -> bool:
        """True if ``node_id`` is running."""
        return self._slot(node_id).node is not None

    def durable_storage(self, node_id: str) -> dict[str, Any]:
        """What a crash of ``node_id`` right now would certainly keep: its synced storage."""
        slot = self._slot(node_id)
        durable = slot.storage.durable_snapshot() if slot.storage is not None else slot.durable
        return {k: json.loads(v) for k, v in sorted(durable.items())}

    @property
    def in_flight(self) -> int:
        """Messages sent and not yet delivered or dropped."""
        return self._in_flight

    def statistics(self) -> Statistics:
        """An immutable snapshot of counters: messages by node and by type, drops by reason."""
        by_node: dict[str, Counter[str]] = {}
        by_type: dict[str, Counter[str]] = {}
        totals: Counter[str] = Counter()
        for (what, node, mtype), n in sorted(self._counts.items()):
            by_node.setdefault(node, Counter())[what] += n
            by_type.setdefault(mtype, Counter())[what] += n
            totals[what] += n
        freeze = lambda d: MappingProxyType({k: MappingProxyType(dict(v)) for k, v in d.items()})  # noqa: E731
        return Statistics(
            time=self._now,
            events=self._events,
            sent=totals["sent"],
            delivered=totals["delivered"],
            dropped=totals["dropped"],
            duplicated=totals["duplicated"],
            timers_fired=self._timers_fired,
            dropped_by_reason=MappingProxyType(dict(sorted(self._drop_reasons.items()))),
            by_node=freeze(by_node),
            by_type=freeze(by_type),
        )

    def save_history(self, path: Any) -> None:
        """Write ``history`` as JSON Lines (the format ``dsys check lin`` reads)."""
        Path(path).write_text("".join(json.dumps(e) + "\n" for e in self.history))

    # ----- faults and scenarios ----------------------------------------------------------

    def at(self, time: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``fn(*args, **kwargs)`` at virtual time ``time``.

        Example: ``sim.at(1.0, sim.crash, "a")``, ``sim.at(2.0, sim.network.update, drop=0.5)``.
        """
        if time < self._now:
            raise UsageError(f"cannot schedule at {time}: the simulation is already at {self._now}")
        self._schedule(time, functools.partial(fn, **kwargs) if kwargs else fn, *args)

    def after(self, delay: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``fn(*args, **kwargs)`` ``delay`` seconds from now."""
        self.at(self._now + delay, fn, *args, **kwargs)

    def crash(self, node_id: str) -> None:
        """Crash ``node_id``: its state, timers and unsynced writes are gone (each unsynced
        write survives or not by a coin flip from the seed). No-op if it is down."""
        slot = self._slot(node_id)
        if not slot.booted:
            # Crashed before it started: it will not start until restarted.
            slot.booted = True
            self._record(node_id, "crash", {"before_start": True})
            return
        if slot.node is None:
            return
        assert slot.storage is not None
        slot.durable, lost = slot.storage.crash(self._disk_rng)
        slot.node = None
        slot.storage = None
        if slot.ctx is not None:
            slot.ctx.retire()
        slot.ctx = None
        slot.timers.clear()
        if slot.client is not None and slot.client.op is not None:
            # Its operation stays open in the history (indeterminate); a new process goes on.
            slot.client.op = None
            slot.client.process += slot.client.stride
        self._record(node_id, "crash", {"lost_writes": lost} if lost else {})

    def restart(self, node_id: str) -> None:
        """Restart a crashed node: a fresh object from its factory, with its durable
        storage, then ``on_recover``. No-op if it is up."""
        slot = self._slot(node_id)
        if slot.node is not None or not slot.booted:
            return
        slot.incarnation += 1
        self._boot(slot, True)

    def partition(self, *groups: Iterable[str]) -> None:
        """Split the servers into ``groups`` that cannot talk to each other.

        Servers not named form one more group together. Clients talk to everyone unless
        named. Replaces any earlier partition (one-way blocks stay).
        """
        listed: dict[str, int] = {}
        group_lists = []
        for index, group in enumerate(groups):
            members = sorted(group) if not isinstance(group, str) else [group]
            for node_id in members:
                self._slot(node_id)
                if node_id in listed:
                    raise UsageError(f"node {node_id!r} is in two partition groups")
                listed[node_id] = index
            group_lists.append(members)
        rest = [n for n in self._servers if n not in listed]
        for node_id in rest:
            listed[node_id] = len(groups)
        if rest:
            group_lists.append(rest)
        self._groups = listed
        self._cut = True
        self._record("", "partition", {"groups": group_lists})

    def isolate(self, node_id: str) -> None:
        """Cut ``node_id`` off from every other server (a partition of one)."""
        self.partition([node_id])

    def block(self, src: str, dst: str) -> None:
        """Cut the one-way link ``src -> dst`` (``dst -> src`` still works)."""
        self._slot(src), self._slot(dst)
        self._oneway.add((src, dst))
        self._cut = True
        self._record("", "block", {"from": src, "to": dst})

    def heal(self) -> None:
        """Remove every partition and one-way block."""
        self._groups = {}
        self._oneway = set()
        self._cut = False
        self._record("", "heal", {})

    def blocked(self, src: str, dst: str) -> bool:
        """True if a message from ``src`` to ``dst`` would be cut by a partition now."""
        if not self._cut:
            return False
        if (src, dst) in self._oneway:
            return True
        groups = self._groups
        g1 = groups.get(src)
        if g1 is None:
            return False
        g2 = groups.get(dst)
        return g2 is not None and g1 != g2

    # ----- running -------------------------------------------------------------------------

    def run(self, until: float | None = None, *, max_events: int | None = None) -> None:
        """Process events up to virtual time ``until`` (then the clock stands at
        ``until``), or until no events are left, or ``max_events`` were processed."""
        self._loop(until, None, max_events)
        queue = self._queue
        pending = bool(queue) and until is not None and queue[0][0] <= until
        if until is not None and self._now < until and not self._stop and not pending:
            self._now = until  # (time never jumps over events still waiting)
        self._stop = False

    def run_until(self, predicate: Callable[[Simulation], bool], *,
                  timeout: float | None = None) -> bool:
        """Run until ``predicate(sim)`` holds (checked after every event). Returns True if
        it did, False if ``timeout`` virtual seconds from now passed first."""
        if not self._start_batches and predicate(self):
            return True
        until = None if timeout is None else self._now + timeout
        done = self._loop(until, predicate, None)
        if not done and until is not None and self._now < until:
            self._now = until
        self._stop = False
        return done

    def run_until_quiet(self, *, timeout: float | None = None) -> bool:
        """Run until no message is in flight and no client operation is pending
        (timers may still be armed). Returns False if ``timeout`` passed first."""
        return self.run_until(lambda s: s._quiet(), timeout=timeout)

    def stop(self) -> None:
        """Stop the current ``run*`` call after the event in progress."""
        self._stop = True

    def _quiet(self) -> bool:
        if self._in_flight:
            return False
        for slot in self._slots.values():
            if not slot.booted:
                return False
            c = slot.client
            if c is not None and slot.node is not None and (c.op is not None or c.ops_left):
                return False
        return True

    def _loop(self, until: float | None, predicate: Callable[[Simulation], bool] | None,
              max_events: int | None) -> bool:
        queue = self._queue
        pop = heapq.heappop
        invariants = self._invariants
        limit = float("inf") if until is None else until
        budget = -1 if max_events is None else max_events
        # A recorded trace grows by millions of small objects that live as long as the
        # simulation. Python's collector would rescan them again and again; freezing what
        # exists every few thousand events keeps that cost flat. (Frozen objects are still
        # freed by reference counting; the freeze is undone when the run returns.)
        freeze = self._rec is not None
        try:
            return self._loop_events(queue, pop, invariants, limit, budget, predicate, freeze)
        finally:
            if freeze:
                gc.unfreeze()

    def _loop_events(self, queue: list[_Entry], pop: Callable[[list[_Entry]], _Entry],
                     invariants: list[Any], limit: float, budget: int,
                     predicate: Callable[[Simulation], bool] | None, freeze: bool) -> bool:
        events = 0
        while queue and queue[0][0] <= limit and budget != 0:
            events += 1
            if freeze and not events & 0x3FFF:
                gc.freeze()
            entry = pop(queue)
            self._now = entry[0]
            try:
                entry[2](*entry[3])
            except SimulationError:
                raise
            except Exception as exc:
                raise self._failure(HandlerError, entry, exc) from exc
            self._events += 1
            budget -= 1
            if invariants:
                self._check_invariants(entry)
            if predicate is not None and predicate(self):
                return True
            if self._stop:
                return False
        return False

    # ----- internals: scheduling, messages, timers, clients ----------------------------

    def _schedule(self, time: float, fn: Callable[..., Any], *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (time, self._seq, fn, args))

    def _slot(self, node_id: str) -> _Slot:
        slot = self._slots.get(node_id)
        if slot is None:
            known = ", ".join(sorted(self._slots)) or "(none yet)"
            raise UsageError(f"no node named {node_id!r} in this simulation; nodes: {known}")
        return slot

    def _record(self, node: str, kind: str, data: dict[str, Any]) -> None:
        if self._rec is not None:
            self._rec((self._now, node, kind, data))

    def _start_batch(self, when: float) -> None:
        slots = [s for s in self._start_batches.pop(when) if not s.booted]  # not crashed early
        nodes = [(slot, self._construct(slot, False)) for slot in slots]
        for slot, node in nodes:
            if slot.node is node:  # an earlier on_start in this batch may have crashed it
                self._start(slot, node, False)

    def _boot(self, slot: _Slot, recovered: bool) -> None:
        self._start(slot, self._construct(slot, recovered), recovered)

    def _construct(self, slot: _Slot, recovered: bool) -> Node:
        slot.booted = True
        storage = Storage(slot.durable)
        peers = self._servers if slot.client is not None else tuple(
            p for p in self._servers if p != slot.id)
        ctx = _SimContext(self, slot, peers, storage)
        slot.storage = storage
        slot.ctx = ctx
        slot.timers.clear()
        self._record(slot.id, "restart" if recovered else "start",
                     {"incarnation": slot.incarnation})
        try:
            node = construct(slot.factory, ctx)
        except Exception as exc:
            raise self._failure(HandlerError, None, exc, node=slot.id,
                                event=f"building node {slot.id} with its factory") from exc
        slot.node = node
        return node

    def _start(self, slot: _Slot, node: Node, recovered: bool) -> None:
        try:
            node._dispatch_start(recovered)
        except SimulationError:
            raise
        except Exception as exc:
            raise self._failure(HandlerError, None, exc, node=slot.id,
                                event="on_recover (restart)" if recovered else "on_start") from exc
        if slot.client is not None and slot.node is node:
            self._schedule_next_op(slot)

    def _send(self, src: str, dst: str, msg: object, stamps: dict[str, Any] | None) -> None:
        slots = self._slots
        if dst not in slots:
            raise UsageError(
                f"node {src} sent {short_name(msg)} to {dst!r}, which is not a node of this "
                f"simulation (nodes: {', '.join(sorted(slots))})"
            )
        self._msg_seq += 1
        mid = self._msg_seq
        mtype = type(msg).__name__
        check = None
        if self._codec:
            msg, stamps, check = self._through_wire(src, dst, msg, stamps)
        rec = self._rec
        if rec is not None:
            data = {"to": dst, "id": mid, "msg": msg}
            if stamps:
                data["stamps"] = stamps
            rec((self._now, src, "send", data))
        counts = self._counts
        key = ("sent", src, mtype)
        counts[key] = counts.get(key, 0) + 1
        if self._cut and self.blocked(src, dst):
            self._drop(src, dst, mid, mtype, "partition")
            return
        network = self.network
        links = network._links
        link = links.get((src, dst), network.default) if links else network.default
        rng = self._net_rng
        if link.drop and rng.random() < link.drop:
            self._drop(src, dst, mid, mtype, "loss")
            return
        if link.duplicate and rng.random() < link.duplicate:
            key = ("duplicated", src, mtype)
            counts[key] = counts.get(key, 0) + 1
            if rec is not None:
                rec((self._now, src, "duplicate", {"to": dst, "id": mid, "msg": msg}))
            self._transmit(link, src, dst, (mid, src, dst, msg, stamps, check))
        self._transmit(link, src, dst, (mid, src, dst, msg, stamps, check))

    def _transmit(self, link: LinkSettings, src: str, dst: str, delivery: tuple[Any, ...]) -> None:
        """Put one copy of a message on the wire: it arrives after the link's delay."""
        rng = self._net_rng
        arrival = self._now + link.latency.sample(rng)
        if link.reorder and rng.random() < link.reorder:
            arrival += link.reorder_delay * rng.random()
        if self.network.fifo:
            arrival = max(arrival, self._last_arrival.get((src, dst), 0.0))
            self._last_arrival[src, dst] = arrival
        self._in_flight += 1
        self._seq += 1
        heapq.heappush(self._queue, (arrival, self._seq, self._deliver, delivery))

    def _through_wire(self, src: str, dst: str, msg: object, stamps: dict[str, Any] | None
                      ) -> tuple[object, dict[str, Any] | None, tuple[object, bytes] | None]:
        """Encode and decode ``msg`` as a real network would; return what arrives.

        A message made only of immutable JSON primitives (see ``codec.wire_shape``) arrives
        equal to what was sent once its class and value types crossed the wire once, so
        later messages of that shape skip the round trip: the check stays exact, and the
        receiver may share the (immutable) object.
        """
        shape = codec.wire_shape(msg, stamps)
        if shape is not None and shape in self._verified_shapes:
            return msg, stamps, None
        try:
            envelope = codec.encode(msg, stamps)
            data = codec.dumps(envelope)
            arrived = codec.loads(data)
            copy = codec.decode(arrived)
        except CodecError as exc:
            raise CodecError(f"node {src} cannot send {short_name(msg)} to {dst}: {exc}") from None
        if copy != msg:
            raise CodecError(
                f"node {src} sent {msg!r} to {dst}, but it would arrive as {copy!r}: a field "
                "holds a value of another type than declared (a list where the class says "
                "tuple?). Make field values match their annotations."
            )
        if shape is not None:
            self._verified_shapes.add(shape)
        check = (msg, data) if codec.holds_mutable(msg) else None
        return copy, arrived.get("stamps"), check

    def _drop(self, src: str, dst: str, mid: int, mtype: str, reason: str) -> None:
        key = ("dropped", src, mtype)
        self._counts[key] = self._counts.get(key, 0) + 1
        self._drop_reasons[reason] += 1
        self._record(src, "drop",
                     {"from": src, "to": dst, "id": mid, "type": mtype, "reason": reason})

    def _deliver(self, mid: int, src: str, dst: str, msg: object, stamps: dict[str, Any] | None,
                 check: tuple[object, bytes] | None) -> None:
        self._in_flight -= 1
        slot = self._slots[dst]
        node = slot.node
        mtype = type(msg).__name__
        if node is None:
            self._drop(src, dst, mid, mtype, "crashed")
            return
        if self._cut and self.blocked(src, dst):
            self._drop(src, dst, mid, mtype, "partition")
            return
        if check is not None:
            self._check_unchanged(mid, src, dst, check, stamps)
        key = ("delivered", dst, mtype)
        self._counts[key] = self._counts.get(key, 0) + 1
        rec = self._rec
        if rec is not None:
            rec((self._now, dst, "deliver", {"from": src, "id": mid, "msg": msg}))
        if node._layers or node._components:
            node._dispatch_message(src, msg, stamps)
        else:  # the common case, without the composition machinery
            node.on_message(src, msg)

    def _check_unchanged(self, mid: int, src: str, dst: str, check: tuple[object, bytes],
                         stamps: dict[str, Any] | None) -> None:
        original, sent = check
        if codec.dumps(codec.encode(original, stamps)) != sent:
            raise self._failure(
                WireError,
                None,
                None,
                headline=(
                    f"message #{mid} {short_name(original)} from {src} to {dst} was changed "
                    "after it was sent: the sender kept a reference to a mutable list, dict or "
                    "set inside it and modified it. On a real network the receiver would never "
                    "see that change. Send a copy, or use tuples / frozensets in messages."
                ),
                node=src,
            )

    def _set_timer(self, slot: _Slot, name: str, delay: float) -> None:
        if not isinstance(name, str):
            raise UsageError(f"timer names must be strings, got {name!r}")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not delay >= 0:
            raise UsageError(
                f"timer {name!r} on {slot.id}: delay must be a number >= 0, got {delay!r}"
            )
        self._timer_seq += 1
        slot.timers[name] = self._timer_seq
        rec = self._rec
        if rec is not None:
            rec((self._now, slot.id, "timer_set", {"name": name, "delay": delay}))
        self._seq += 1
        heapq.heappush(self._queue, (self._now + delay / (1.0 + slot.clock.drift), self._seq,
                                     self._fire_timer, (slot, name, self._timer_seq)))

    def _cancel_timer(self, slot: _Slot, name: str) -> None:
        if slot.timers.pop(name, None) is not None:
            self._record(slot.id, "timer_cancel", {"name": name})

    def _fire_timer(self, slot: _Slot, name: str, generation: int) -> None:
        if slot.timers.get(name) != generation:
            return  # cancelled, re-armed, or the node crashed since
        del slot.timers[name]
        self._timers_fired += 1
        rec = self._rec
        if rec is not None:
            rec((self._now, slot.id, "timer_fire", {"name": name}))
        node = slot.node
        assert node is not None
        node._dispatch_timer(name)

    def _schedule_next_op(self, slot: _Slot) -> None:
        client = slot.client
        assert client is not None
        if client.ops_left is not None and client.ops_left <= 0:
            return
        delay = client.think.sample(client.rng)
        self._schedule(self._now + delay, self._invoke, slot, slot.incarnation)

    def _invoke(self, slot: _Slot, incarnation: int) -> None:
        client = slot.client
        assert client is not None
        node = slot.node
        if node is None or slot.incarnation != incarnation or client.op is not None:
            return
        raw = client.workload(client.rng)
        if not isinstance(raw, Mapping) or not isinstance(raw.get("f"), str):
            raise UsageError(
                f"the workload of client {slot.id} returned {raw!r}; it must return a dict "
                "with a string 'f' (and 'value', optionally 'key')"
            )
        op = {"f": raw["f"], **({"key": raw["key"]} if "key" in raw else {}),
              "value": raw.get("value")}
        if client.ops_left is not None:
            client.ops_left -= 1
        client.op = op
        self._history_event(slot, "invoke", op["value"])
        assert isinstance(node, Client)
        node.on_invoke(dict(op))

    def _complete(self, slot: _Slot, kind: str, value: Any) -> None:
        client = slot.client
        if client is None:
            raise UsageError(f"{slot.id} is not a client; only clients complete operations")
        if client.op is None:
            raise UsageError(
                f"client {slot.id} completed an operation ({kind}) but none is in progress; "
                "complete each operation exactly once"
            )
        self._history_event(slot, kind, client.op["value"] if value is SAME else value)
        client.op = None
        if kind == "info":
            client.process += client.stride
        self._schedule_next_op(slot)

    def _history_event(self, slot: _Slot, kind: str, value: Any) -> None:
        client = slot.client
        assert client is not None and client.op is not None
        event: dict[str, Any] = {"process": client.process, "type": kind, "f": client.op["f"]}
        if "key" in client.op:
            event["key"] = client.op["key"]
        event["value"] = value
        event["time"] = self._now
        event["client"] = slot.id
        self.history.append(event)
        op = {k: event[k] for k in ("process", "type", "f", "key", "value") if k in event}
        self._record(slot.id, "invoke" if kind == "invoke" else "complete", {"op": op})

    # ----- invariants and failure reports ---------------------------------------------------

    def _check_invariants(self, entry: _Entry) -> None:
        for name, check in self._invariants:
            try:
                ok = check(self)
                problem = None if ok is None or ok else "returned False"
            except AssertionError as exc:
                problem = str(exc) or "assertion failed"
            if problem is not None:
                self._record("", "violation", {"invariant": name, "problem": problem})
                raise self._failure(InvariantViolation, entry, None,
                                    headline=f"invariant {name!r} violated: {problem}")

    def _describe(self, entry: _Entry | None) -> tuple[str | None, str]:
        if entry is None:
            return None, "processing an event"
        fn, args = entry[2], entry[3]
        name = getattr(fn, "__name__", repr(fn))
        if name == "_deliver":
            mid, src, dst, msg = args[:4]
            return dst, f"on_message: delivery of {msg!r} from {src} (message #{mid})"
        if name == "_fire_timer":
            return args[0].id, f"on_timer: timer {args[1]!r} fired"
        if name == "_boot":
            return args[0].id, "on_recover (restart)" if args[1] else "on_start"
        if name == "_start_batch":
            return None, "starting nodes"
        if name == "_invoke":
            return args[0].id, "on_invoke: a client operation started"
        return None, f"scheduled call {name}{args!r}"

    def _failure(self, kind: type[SimulationError], entry: Any, exc: BaseException | None, *,
                 headline: str | None = None, node: str | None = None,
                 event: str | None = None) -> SimulationError:
        described_node, described_event = self._describe(entry)
        node = node or described_node
        event = event or described_event
        if headline is None:
            assert exc is not None
            where = f"node {node!r}" if node else "the simulation"
            headline = f"{where} raised {type(exc).__name__}: {exc}"
            self._record(node or "", "error", {"error": f"{type(exc).__name__}: {exc}"})
        replay = replay_command.get() or self._replay or (
            f"re-run the same code with Simulation(seed={self.seed}) (same scenario, same result)"
        )
        return kind(headline, node=node, event=event, time=self._now, seed=self.seed,
                    trace_tail=self.trace.tail(15) if self.trace.enabled else "",
                    replay=replay)
