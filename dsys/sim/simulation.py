"""The deterministic simulator: one event loop over a queue of events.

Rules of this file:

* All state changes happen in *events* popped from one priority queue ordered by
  (virtual time, sequence number). The sequence number breaks ties in scheduling order,
  so the run is a pure function of (code, seed, scenario). Events are small records
  (:mod:`dsys.sim.events`) that describe themselves; ``pending()`` lists them and
  ``fire(event)`` runs a chosen one, for model checking.
* Every random choice comes from a ``random.Random`` seeded from the simulation seed and a
  fixed label (``"<seed>/network"``, ``"<seed>/node/a/1"``...). String seeds are hashed
  with SHA-512 by ``random``, never with ``hash()``, so ``PYTHONHASHSEED`` does not matter.
* Iteration over nodes is always in sorted id order.
* A node's handler runs to completion inside one event; its effects (sends, timers) become
  later events.

What is not the event loop lives beside it: partitions (:mod:`dsys.sim.partitions`),
clients and their history (:mod:`dsys.sim.clients`), counters
(:mod:`dsys.sim.statistics`), the network model (:mod:`dsys.sim.network`) and failure
reports (:mod:`dsys.sim.report`).
"""

from __future__ import annotations

import functools
import gc
import heapq
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from random import Random
from typing import Any

import attrs

from dsys.core import codec
from dsys.core.client import Client
from dsys.core.messages import short_name
from dsys.core.node import Node, construct
from dsys.core.rules import check_destination, check_node_id, check_timer
from dsys.core.storage import Storage
from dsys.errors import CodecError, ConfigError, UsageError
from dsys.sim import schedule as _schedule
from dsys.sim.clients import ClientDriver, ClientState
from dsys.sim.events import FAULTS, Call, Deliver, Event, Fault, Invoke, Start, Timer
from dsys.sim.network import LinkSettings, Network
from dsys.sim.partitions import Partitions
from dsys.sim.report import (
    HandlerError,
    InvariantViolation,
    SimulationError,
    WireError,
    replay_command,
)
from dsys.sim.statistics import Counters, Statistics
from dsys.trace.events import Trace

__all__ = ["Clock", "NodeFactory", "Simulation", "Statistics"]

NodeFactory = Callable[[], Node]
#: A queue entry: (virtual time, sequence number, handler, event); the loop calls
#: ``handler(event)``. Entries compare by (time, seq) only: seq is unique. The event is a
#: record of ``dsys.sim.events``, except for the two kinds that make nearly every event of
#: a run, deliveries and timers: those are queued as plain tuples and turned into their
#: records (``Deliver``, ``Timer``) only when asked (``pending()``, a failure report).
#: Measured with bench/sim_throughput.py (CPU time per delivery, ring of 10): records
#: cost 4.62 us against 4.21 us for tuples with full recording (+10%: each record is one
#: more object for the cyclic collector to track), 3.07 against 2.90 with the trace off.
_Entry = tuple[float, int, Callable[[Any], None], Any]
_INFINITY = float("inf")


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
                 client: ClientState | None) -> None:
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
    """The host protocol (:class:`~dsys.core.client.ClientContext`, which extends
    :class:`~dsys.core.node.NodeContext`) for one incarnation of a simulated node."""

    __slots__ = ("incarnation", "node_id", "peers", "rng", "send", "sim", "slot", "storage")
    notes_dropped = False  # the trace keeps every note: checkers read them

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
        if self.slot.client is None:
            return None
        return self.sim._clients.current_op(self.node_id)

    def complete(self, kind: str, value: Any) -> None:
        self._alive()
        if self.slot.client is None:
            raise UsageError(f"{self.node_id} is not a client; only clients complete operations")
        self.sim._clients.complete(self.node_id, self.incarnation, kind, value)


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
        self._now = 0.0
        self._queue: list[_Entry] = []
        self._seq = 0
        self._msg_seq = 0
        self._timer_seq = 0
        self._slots: dict[str, _Slot] = {}
        self._start_batches: dict[float, Start] = {}
        self._servers: tuple[str, ...] = ()
        self._net_rng = Random(f"{seed}/network")
        self._disk_rng = Random(f"{seed}/disk")
        self._cuts = Partitions()
        self._clients = ClientDriver(self)
        self._last_arrival: dict[tuple[str, str], float] = {}
        self._invariants: list[tuple[str, Callable[[Simulation], Any]]] = []
        self._counters = Counters()
        # (what, node, message type) -> count, read and written inline on the hot path.
        self._counts = self._counters.counts
        self._events = 0
        self._in_flight = 0
        self._stop = False
        self._replay = replay_command.get()
        # Recording or replaying a schedule (dsys.sim.schedule): None in an ordinary run.
        self._tape = _schedule.attach(self)

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
        check_node_id(client_id)
        if client_id in self._slots:
            raise ConfigError(f"there is already a node named {client_id!r}")
        if self._tape is not None:
            ops = self._tape.ops(client_id, ops)
        state = self._clients.add(client_id, workload, ops, think)
        self._add(client_id, factory, None, state, start)

    def _add(self, node_id: str, factory: Any, clock: Clock | None,
             client: ClientState | None, start: float | None) -> None:
        check_node_id(node_id)
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
            batch = self._start_batches[when] = Start([])
            self._schedule(when, self._start_batch, batch)
        batch.nodes.append(node_id)

    def set_clock(self, node_id: str, *, offset: float | None = None,
                  drift: float | None = None) -> None:
        """Change a node's clock (it takes effect at once)."""
        slot = self._slot(node_id)
        if self._tape is not None and not self._tape.allow("clock", node_id):
            return
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
        return tuple(sorted(self._clients.clients))

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every client invocation and completion so far, in Jepsen's vocabulary, with the
        virtual ``time`` and the ``client`` id (the format ``dsys check lin`` reads)."""
        return self._clients.history

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
        return self._counters.snapshot(self._now, self._events)

    def save_history(self, path: Any) -> None:
        """Write ``history`` as JSON Lines (the format ``dsys check lin`` reads)."""
        Path(path).write_text("".join(json.dumps(e) + "\n" for e in self.history))

    def pending(self) -> list[Event]:
        """The events that could happen next, in the order the run would take them.

        Each is a record from :mod:`dsys.sim.events` (a delivery, a timer, a start, a
        client invocation, a scripted fault or call) with its ``time`` and ``seq``; a
        timer that was cancelled or re-armed since is left out. Pass any of them to
        :meth:`fire` to make it happen next: a model checker explores the orders the
        network and the timers allow this way.
        """
        listed = []
        for entry in sorted(self._queue, key=lambda e: (e[0], e[1])):
            event = self._record_of(entry)
            if isinstance(event, Timer) and self._slots[event.target].timers.get(
                    event.name) != event.generation:
                continue
            listed.append(event)
        return listed

    def _record_of(self, entry: _Entry) -> Event:
        """The event record of a queue entry (built for a delivery or a timer tuple)."""
        payload = entry[3]
        if isinstance(payload, Event):
            event = payload
        elif entry[2] == self._deliver:
            event = Deliver(*payload)
            event.source = payload
        else:
            slot, name, generation = payload
            event = Timer(slot.id, name, generation)
            event.source = payload
        event.time, event.seq = entry[0], entry[1]
        return event

    def fire(self, event: Event) -> None:
        """Make one pending ``event`` (from :meth:`pending`) happen now, out of turn.

        Virtual time moves to the event's time if that is later (it never goes back: an
        event fired early happens at the current time). Invariants are checked after it,
        as in a run.
        """
        entry = self._take(event)
        self._now = max(self._now, entry[0])
        self._run_entry(entry)

    def drop(self, event: Deliver) -> None:
        """Lose one pending delivery (from :meth:`pending`), as the network could: it is
        recorded as a drop with reason ``"chosen"``. A model checker's lossy step."""
        if not isinstance(event, Deliver):
            raise UsageError(f"only a pending delivery can be dropped, not {event!r}")
        self._take(event)
        self._in_flight -= 1
        self._drop(event.src, event.dst, event.id, type(event.msg).__name__, "chosen")


    def duplicate(self, event: Deliver) -> Deliver:
        """Add a second copy of a pending delivery, due at the same time; returns it."""
        if not isinstance(event, Deliver):
            raise UsageError(f"only a pending delivery can be duplicated, not {event!r}")
        entry = next((e for e in self._queue if e[3] is event or e[3] is event.source), None)
        if entry is None:
            raise UsageError(f"{event!r} is not pending in this simulation")
        copy = (event.id, event.src, event.dst, event.msg, event.stamps, event.check)
        self._counters.add("duplicated", event.src, type(event.msg).__name__)
        self._record(event.src, "duplicate", {"to": event.dst, "id": event.id, "msg": event.msg})
        self._in_flight += 1
        self._seq += 1
        heapq.heappush(self._queue, (entry[0], self._seq, self._deliver, copy))
        record = Deliver(*copy)
        record.source, record.time, record.seq = copy, entry[0], self._seq
        return record

    def _take(self, event: Event) -> _Entry:
        """Remove ``event`` from the queue and return its entry."""
        queue = self._queue
        source = event.source
        index = next((i for i, entry in enumerate(queue)
                      if entry[3] is event or (source is not None and entry[3] is source)),
                     None)
        if index is None:
            raise UsageError(f"{event!r} is not pending in this simulation (it already "
                             "happened, or comes from another one): pick one from pending()")
        entry = queue[index]
        queue[index] = queue[-1]
        queue.pop()
        heapq.heapify(queue)
        return entry

    # ----- faults and scenarios ----------------------------------------------------------

    def at(self, time: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``fn(*args, **kwargs)`` at virtual time ``time``.

        Example: ``sim.at(1.0, sim.crash, "a")``, ``sim.at(2.0, sim.network.update, drop=0.5)``.
        The simulator's own faults (``crash``, ``restart``, ``partition``, ``isolate``,
        ``block``, ``heal``, ``set_clock``) become :class:`~dsys.sim.events.Fault` events.
        """
        if time < self._now:
            raise UsageError(f"cannot schedule at {time}: the simulation is already at {self._now}")
        name = getattr(fn, "__name__", "")
        if getattr(fn, "__self__", None) is self and name in FAULTS:
            event: Call = Fault(name, fn, args, kwargs)
        else:
            event = Call(fn, args, kwargs)
        self._schedule(time, self._call, event)

    def after(self, delay: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``fn(*args, **kwargs)`` ``delay`` seconds from now."""
        self.at(self._now + delay, fn, *args, **kwargs)

    def crash(self, node_id: str, *, unsynced: str = "seeded") -> None:
        """Crash ``node_id``: its state and timers are gone, and its unsynced writes
        survive or not: each by a coin flip from the seed (``unsynced="seeded"``, the
        default), none of them (``"lost"``, the worst case a model checker explores) or all
        (``"kept"``). No-op if it is down."""
        if unsynced not in ("seeded", "lost", "kept"):
            raise UsageError(f"unsynced must be 'seeded', 'lost' or 'kept', got {unsynced!r}")
        slot = self._slot(node_id)
        if not slot.booted:
            # Crashed before it started: it will not start until restarted.
            slot.booted = True
            self._record(node_id, "crash", {"before_start": True})
            return
        if slot.node is None:
            return
        if self._tape is not None and not self._tape.allow("crash", node_id):
            return
        assert slot.storage is not None
        if unsynced == "seeded" and self._tape is not None:
            lose = self._tape.lost_writes(self.seed, node_id, slot.storage.dirty,
                                          self._disk_rng)
            slot.durable, lost = slot.storage.crash(Random(0), lose=lose)
        elif unsynced == "seeded":
            slot.durable, lost = slot.storage.crash(self._disk_rng)
        else:
            slot.durable, lost = slot.storage.crash(Random(0 if unsynced == "kept" else 1),
                                                    keep=1.0 if unsynced == "kept" else 0.0)
        slot.node = None
        slot.storage = None
        if slot.ctx is not None:
            slot.ctx.retire()
        slot.ctx = None
        slot.timers.clear()
        if slot.client is not None:
            self._clients.crashed(node_id)
        self._record(node_id, "crash", {"lost_writes": lost} if lost else {})

    def restart(self, node_id: str) -> None:
        """Restart a crashed node: a fresh object from its factory, with its durable
        storage, then ``on_recover``. No-op if it is up."""
        slot = self._slot(node_id)
        if slot.node is not None or not slot.booted:
            return
        slot.incarnation += 1
        self._start(slot, self._construct(slot, True), True)

    def partition(self, *groups: Iterable[str]) -> None:
        """Split the servers into ``groups`` that cannot talk to each other.

        Servers not named form one more group together. Clients talk to everyone unless
        named. Replaces any earlier partition (one-way blocks stay).
        """
        group_lists = []
        for group in groups:
            members = sorted(group) if not isinstance(group, str) else [group]
            for node_id in members:
                self._slot(node_id)
            group_lists.append(members)
        named = {n for g in group_lists for n in g}
        rest = [n for n in self._servers if n not in named]
        if rest:
            group_lists.append(rest)
        if self._tape is not None and not self._tape.allow(
                "partition", "|".join(sorted(",".join(g) for g in group_lists))):
            return
        self._cuts.split(group_lists)
        self._record("", "partition", {"groups": group_lists})

    def isolate(self, node_id: str) -> None:
        """Cut ``node_id`` off from every other server (a partition of one)."""
        self.partition([node_id])

    def block(self, src: str, dst: str) -> None:
        """Cut the one-way link ``src -> dst`` (``dst -> src`` still works)."""
        self._slot(src), self._slot(dst)
        if self._tape is not None and not self._tape.allow("block", f"{src}->{dst}"):
            return
        self._cuts.block(src, dst)
        self._record("", "block", {"from": src, "to": dst})

    def heal(self) -> None:
        """Remove every partition and one-way block."""
        self._cuts.heal()
        self._record("", "heal", {})

    def blocked(self, src: str, dst: str) -> bool:
        """True if a message from ``src`` to ``dst`` would be cut by a partition now."""
        return self._cuts.blocked(src, dst)

    # ----- running -------------------------------------------------------------------------

    def run(self, until: float | None = None, *, max_events: int | None = None) -> None:
        """Process events up to virtual time ``until`` (then the clock stands at
        ``until``), or until no events are left, or ``max_events`` were processed."""
        if self._tape is not None:
            until = self._tape.until(until, self._now)  # a schedule may stop the clock
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
        if self._tape is not None:
            until = self._tape.until(until, self._now)  # a schedule may stop the clock
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
            if slot.client is not None and slot.node is not None and slot.client.busy:
                return False
        return True

    def _loop(self, until: float | None, predicate: Callable[[Simulation], bool] | None,
              max_events: int | None) -> bool:
        limit = _INFINITY if until is None else until
        budget = -1 if max_events is None else max_events
        # Garbage collection, scoped to this run. A recorded trace grows by millions of
        # small objects that live as long as the simulation, and Python's cyclic collector
        # would rescan them again and again. So while a traced run goes on, what exists is
        # moved to the collector's permanent generation every 16,384 events (gc.freeze), and
        # moved back when the run returns (gc.unfreeze), so the process is left as it was.
        # Frozen objects are still freed by reference counting. If something else in the
        # process had frozen objects before the run, the simulator does not freeze at all:
        # unfreezing at the end would undo that other freeze too.
        # Measured (bench/sim_throughput.py, full recording): without it, throughput falls as
        # the trace grows.
        freeze = self._rec is not None and gc.get_freeze_count() == 0
        try:
            return self._loop_events(limit, budget, predicate, freeze)
        finally:
            if freeze:
                gc.unfreeze()

    def _loop_events(self, limit: float, budget: int,
                     predicate: Callable[[Simulation], bool] | None, freeze: bool) -> bool:
        # The hot loop. Local names for what it touches on every event: each saves an
        # attribute lookup per event (about 4% of simulator throughput, bench/sim_throughput).
        queue = self._queue
        pop = heapq.heappop
        invariants = self._invariants
        events = 0
        try:
            while queue and queue[0][0] <= limit and budget != 0:
                events += 1
                if freeze and not events & 0x3FFF:
                    gc.freeze()
                entry = pop(queue)
                self._now = entry[0]
                try:
                    entry[2](entry[3])
                except SimulationError:
                    raise
                except Exception as exc:
                    raise self._failure(HandlerError, self._record_of(entry), exc) from exc
                budget -= 1
                if invariants:
                    self._events += events
                    events = 0
                    self._check_invariants(entry)
                if predicate is not None and predicate(self):
                    return True
                if self._stop:
                    return False
            return False
        finally:
            self._events += events

    def _run_entry(self, entry: _Entry) -> None:
        """Run one event outside the loop (``fire``), with the loop's error handling."""
        try:
            entry[2](entry[3])
        except SimulationError:
            raise
        except Exception as exc:
            raise self._failure(HandlerError, self._record_of(entry), exc) from exc
        self._events += 1
        if self._invariants:
            self._check_invariants(entry)

    # ----- internals: scheduling, starting nodes, scripted calls --------------------------

    def _schedule(self, time: float, handler: Callable[[Any], None], event: Event) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (time, self._seq, handler, event))

    def _slot(self, node_id: str) -> _Slot:
        slot = self._slots.get(node_id)
        if slot is None:
            known = ", ".join(sorted(self._slots)) or "(none yet)"
            raise UsageError(f"no node named {node_id!r} in this simulation; nodes: {known}")
        return slot

    def _record(self, node: str, kind: str, data: dict[str, Any]) -> None:
        if self._rec is not None:
            self._rec((self._now, node, kind, data))

    def _call(self, event: Call) -> None:
        event.fn(*event.args, **event.kwargs)

    def _start_batch(self, event: Start) -> None:
        for when, batch in list(self._start_batches.items()):
            if batch is event:
                del self._start_batches[when]
        slots = [s for s in map(self._slots.__getitem__, event.nodes) if not s.booted]
        nodes = [(slot, self._construct(slot, False)) for slot in slots]
        for slot, node in nodes:
            if slot.node is node:  # an earlier on_start in this batch may have crashed it
                self._start(slot, node, False)

    def _construct(self, slot: _Slot, recovered: bool) -> Node:
        slot.booted = True
        storage = Storage(slot.durable)
        storage.origin = f"the simulated storage of node {slot.id}"
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
                                what=f"building node {slot.id} with its factory") from exc
        slot.node = node
        return node

    def _start(self, slot: _Slot, node: Node, recovered: bool) -> None:
        try:
            node._dispatch_start(recovered)
        except SimulationError:
            raise
        except Exception as exc:
            raise self._failure(HandlerError, None, exc, node=slot.id,
                                what="on_recover (restart)" if recovered else "on_start") from exc
        if slot.client is not None and slot.node is node:
            self._clients.started(slot.id, slot.incarnation)

    # ----- internals: messages -----------------------------------------------------------

    def _send(self, src: str, dst: str, msg: object, stamps: dict[str, Any] | None) -> None:
        slots = self._slots
        if dst not in slots:
            check_destination(src, dst, short_name(msg), slots)  # raises, with the rule's text
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
        if self._cuts.active and self._cuts.blocked(src, dst):
            self._drop(src, dst, mid, mtype, "partition")
            return
        network = self.network
        links = network._links
        link = links.get((src, dst), network.default) if links else network.default
        rng = self._net_rng
        if self._tape is not None:
            self._send_taped(link, src, dst, mtype, (mid, src, dst, msg, stamps, check))
            return
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

    def _transmit(self, link: LinkSettings, src: str, dst: str,
                  delivery: tuple[Any, ...]) -> None:
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

    def _send_taped(self, link: LinkSettings, src: str, dst: str, mtype: str,
                    delivery: tuple[Any, ...]) -> None:
        """``_send``'s network choices when a schedule is recorded or replayed: the same
        draws in the same order as the untaped path when recording (so the run is the
        same), the schedule's when replaying."""
        assert self._tape is not None
        fate = self._tape.fate(self.seed, src, dst, mtype, link, self._net_rng)
        if not fate:
            self._drop(src, dst, delivery[0], mtype, "loss")
            return
        for index, (latency, extra) in enumerate(fate):
            if index:
                self._counters.add("duplicated", src, mtype)
                self._record(src, "duplicate", {"to": dst, "id": delivery[0],
                                                "msg": delivery[3]})
            arrival = self._now + latency
            if extra:
                arrival += extra
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
        self._counters.drop(src, mtype, reason)
        self._record(src, "drop",
                     {"from": src, "to": dst, "id": mid, "type": mtype, "reason": reason})

    def _deliver(self, delivery: tuple[Any, ...]) -> None:
        """A message arrives (the queue holds a tuple: see ``_Entry``)."""
        self._in_flight -= 1
        mid, src, dst, msg, stamps, check = delivery
        slot = self._slots[dst]
        node = slot.node
        mtype = type(msg).__name__
        if node is None:
            self._drop(src, dst, mid, mtype, "crashed" if slot.booted else "not started")
            return
        if self._cuts.active and self._cuts.blocked(src, dst):
            self._drop(src, dst, mid, mtype, "partition")
            return
        if check is not None:
            self._check_unchanged(mid, src, dst, check, stamps)
        key = ("delivered", dst, mtype)
        self._counts[key] = self._counts.get(key, 0) + 1
        rec = self._rec
        if rec is not None:
            rec((self._now, dst, "recv", {"from": src, "id": mid, "msg": msg}))
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

    # ----- internals: timers and clients ----------------------------------------------------

    def _set_timer(self, slot: _Slot, name: str, delay: float) -> None:
        kind = type(delay)
        if type(name) is not str or (kind is not float and kind is not int) or not (
                0 <= delay < _INFINITY):
            check_timer(slot.id, name, delay)  # the fast test above is stricter: the rule
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

    def _fire_timer(self, timer: tuple[_Slot, str, int]) -> None:
        """A timer comes due (the queue holds a tuple: see ``_Entry``)."""
        slot, name, generation = timer
        if slot.timers.get(name) != generation:
            return  # cancelled, re-armed, or the node crashed since
        del slot.timers[name]
        self._counters.timers_fired += 1
        rec = self._rec
        if rec is not None:
            rec((self._now, slot.id, "timer_fire", {"name": name}))
        node = slot.node
        assert node is not None
        node._dispatch_timer(name)

    def _invoke(self, event: Invoke) -> None:
        slot = self._slots[event.client]
        node = slot.node
        assert node is None or isinstance(node, Client)
        self._clients.invoke(event, node, slot.incarnation)

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
                raise self._failure(InvariantViolation, self._record_of(entry), None,
                                    headline=f"invariant {name!r} violated: {problem}")

    def _failure(self, kind: type[SimulationError], event: Event | None,
                 exc: BaseException | None, *, headline: str | None = None,
                 node: str | None = None, what: str | None = None) -> SimulationError:
        node = node or (event.node if event is not None else None)
        what = what or (event.handler() if event is not None else "processing an event")
        if headline is None:
            assert exc is not None
            where = f"node {node!r}" if node else "the simulation"
            headline = f"{where} raised {type(exc).__name__}: {exc}"
            self._record(node or "", "error", {"error": f"{type(exc).__name__}: {exc}"})
        replay = replay_command.get() or self._replay or (
            f"re-run the same code with Simulation(seed={self.seed}) (same scenario, same result)"
        )
        return kind(headline, node=node, event=what, time=self._now, seed=self.seed,
                    trace_tail=self.trace.tail(15) if self.trace.enabled else "",
                    replay=replay)
