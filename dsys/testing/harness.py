"""A harness for unit tests: one node, no simulator, no network; events in, effects out.

A node is sans-IO (see :mod:`dsys.core.node`), so it can be tested the way h11 tests
HTTP: build it, feed it one event at a time, and look at what it asked for. The harness
is a host like the simulator and the trio runtime (it builds the node with
:func:`~dsys.core.node.construct` and drives it through the host entry points), but it
does nothing on its own: no message travels, no timer fires and no time passes unless
the test says so.

Rules of this file:

* Every call that feeds the node an event (``start``, ``deliver``, ``fire``, ``advance``,
  ``advance_to``, ``invoke``, ``crash``, ``recover``, ``call``) returns the effects that
  event produced, in order, as small frozen records; ``h.effects`` keeps them all, also
  those of anything the test does to the node directly (``h.node.lock.request()``,
  ``h.storage["k"] = 1``).
* The node's requests are checked by the rules every host applies
  (:mod:`dsys.core.rules`): a send to an unknown node, a negative timer delay, a bad node
  id raise the same :class:`~dsys.errors.UsageError` as in the simulator.
* A handler that raises raises into the test, unchanged; the effects it produced before
  raising stay in ``h.effects``, and the harness stays usable.
* Nothing reads the wall clock or the global ``random``: the node's ``rng`` is seeded as
  the simulator seeds it (``f"{seed}/node/{node_id}/{incarnation}"``), and time is
  ``h.now``, which moves only when the test moves it.

Example:
    >>> from dsys import Node, message
    >>> from dsys.testing import NodeHarness
    >>> @message(name="doc:harness.Ping")
    ... class Ping:
    ...     seq: int
    >>> @message(name="doc:harness.Pong")
    ... class Pong:
    ...     seq: int
    >>> class Ponger(Node):
    ...     def on_start(self) -> None:
    ...         self.set_timer("idle", 1.0)
    ...     def on_message(self, src: str, msg: Ping) -> None:
    ...         self.send(src, Pong(msg.seq))
    ...     def on_timer(self, name: str) -> None:
    ...         self.log("nobody pinged")
    >>> h = NodeHarness(Ponger)
    >>> h.start()
    [TimerSet(name='idle', delay=1.0, deadline=1.0)]
    >>> h.deliver("b", Ping(7))
    [Sent(dst='b', msg=Pong(seq=7), stamps=None)]
    >>> h.advance(1.5)
    [TimerFired(name='idle', time=1.0), Log(text='nobody pinged')]
    >>> h.now
    1.5
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from random import Random
from typing import Any, Literal

import attrs

from dsys.core import codec
from dsys.core.client import SAME, Client, normalize_op
from dsys.core.messages import short_name
from dsys.core.node import ROUTE_KEY, Node, construct, sorted_ids
from dsys.core.rules import check_destination, check_node_id, check_timer
from dsys.core.storage import Storage
from dsys.errors import CodecError, ConfigError, UsageError

# ----- effects ---------------------------------------------------------------------------


@attrs.frozen
class Effect:
    """Base class of the records a :class:`NodeHarness` returns (for ``isinstance``)."""


@attrs.frozen
class Sent(Effect):
    """The node sent ``msg`` to ``dst``, with its layers' ``stamps`` (None if it has no
    layers and the sender was not a component).

    With the harness's ``codec`` on (the default), ``msg`` and ``stamps`` are what would
    arrive: the message went through the wire codec.
    """

    dst: str
    msg: Any
    stamps: dict[str, Any] | None = None

    @property
    def component(self) -> str | None:
        """The name of the component that sent it (None: the node itself)."""
        return None if not self.stamps else self.stamps.get(ROUTE_KEY)


@attrs.frozen
class TimerSet(Effect):
    """The node armed (or re-armed) timer ``name``: it fires at ``deadline`` (``h.now``
    when it was set, plus ``delay``). Component timers are named ``"<component>/<name>"``."""

    name: str
    delay: float
    deadline: float


@attrs.frozen
class TimerCancelled(Effect):
    """The node cancelled timer ``name``, which was armed (cancelling a timer that is not
    armed does nothing, and is not recorded)."""

    name: str


@attrs.frozen
class TimerFired(Effect):
    """Timer ``name`` fired at ``time`` (its deadline under ``advance``; ``h.now`` under
    ``fire``). The effects of its handler follow this record."""

    name: str
    time: float


@attrs.frozen
class StorageWrite(Effect):
    """The node wrote ``value`` under ``key`` in its storage (not durable until a sync)."""

    key: str
    value: Any


@attrs.frozen
class StorageDelete(Effect):
    """The node deleted ``key`` from its storage (not durable until a sync)."""

    key: str


@attrs.frozen
class StorageSync(Effect):
    """The node synced its storage: the writes and deletes of ``keys`` became durable."""

    keys: tuple[str, ...]


@attrs.frozen
class Log(Effect):
    """The node wrote ``text`` to its log."""

    text: str


@attrs.frozen
class Note(Effect):
    """The node recorded the protocol-level event ``event`` with ``data`` (see
    :meth:`~dsys.core.node.Node.note`; a component's notes carry its name as
    ``data["component"]``)."""

    event: str
    data: dict[str, Any]


@attrs.frozen
class Crashed(Effect):
    """The node crashed; its unsynced writes to ``lost`` were lost."""

    lost: tuple[str, ...]


@attrs.frozen
class Invoked(Effect):
    """The test invoked operation ``op`` on the client under test."""

    op: dict[str, Any]


@attrs.frozen
class Completed(Effect):
    """The client completed its operation: ``kind`` is ``"ok"``, ``"fail"`` or ``"info"``,
    ``value`` its result (the invoked value when the client passed none)."""

    kind: str
    value: Any


#: What ``crash(lose_unsynced=...)`` accepts; see :meth:`NodeHarness.crash`.
LoseUnsynced = Literal["all", "none", "random"]

# A timer handler that re-arms itself with delay 0 would keep `advance` at one instant
# forever; past this many fires in one call the harness stops and says so.
_MAX_FIRES = 100_000


# ----- the host context ----------------------------------------------------------------------


class _RecordingStorage(Storage):
    """The node's storage, reporting every write, delete and sync to the harness."""

    __slots__ = ("_report",)

    def __init__(self, durable: Mapping[str, str], report: Callable[[Effect], None]) -> None:
        super().__init__(durable)
        self._report = report

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._report(StorageWrite(key, self.get(key)))  # a copy: what was stored

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._report(StorageDelete(key))

    def sync(self) -> None:
        keys = self.dirty
        super().sync()
        self._report(StorageSync(keys))


class _HarnessContext:
    """The :class:`~dsys.core.client.ClientContext` (a
    :class:`~dsys.core.node.NodeContext` that also serves clients) of one incarnation of
    the node under test."""

    notes_dropped = False  # every note is an effect a test may look for

    def __init__(self, harness: NodeHarness, incarnation: int, storage: Storage) -> None:
        self.harness = harness
        self.node_id = harness.node_id
        self.peers = harness.peers
        self.incarnation = incarnation
        self.rng = Random(f"{harness.seed}/node/{harness.node_id}/{incarnation}")
        self.storage = storage
        self.retired = False

    def _alive(self) -> NodeHarness:
        if self.retired:
            raise UsageError(
                f"node {self.node_id} (incarnation {self.incarnation}) has crashed; a "
                "crashed node can do nothing (use h.node after h.recover() for the new one)"
            )
        return self.harness

    def now(self) -> float:
        return self.harness._now

    def send(self, dst: str, msg: object, stamps: dict[str, Any] | None) -> None:
        self._alive()._on_send(dst, msg, stamps)

    def set_timer(self, name: str, delay: float) -> None:
        self._alive()._on_set_timer(name, delay)

    def cancel_timer(self, name: str) -> None:
        self._alive()._on_cancel_timer(name)

    def log(self, text: str) -> None:
        self._alive()._record(Log(text))

    def note(self, event: str, data: dict[str, Any]) -> None:
        self._alive()._record(Note(event, dict(data)))

    # What a Client needs besides: the ClientContext of dsys.core.client.

    def current_op(self) -> dict[str, Any] | None:
        op = self.harness._op
        return None if op is None else dict(op)

    def complete(self, kind: str, value: Any) -> None:
        self._alive()._on_complete(kind, value)


# ----- the harness -----------------------------------------------------------------------------


class NodeHarness:
    """One node under test, driven event by event, with its effects as plain data.

    Args:
        factory: what builds the node (a :class:`~dsys.Node` subclass, or a function
            returning one); called again by :meth:`recover`.
        node_id: the node's id.
        peers: the ids of the other nodes of the cluster (``self.peers``, sorted).
        clients: ids of other nodes the node may send to without them being peers
            (clients, typically: in the simulator clients are not in ``peers``).
        seed: seeds the node's ``rng`` as the simulator does, and the coin flips of
            ``crash(lose_unsynced="random")``.
        time: the node's clock at the start (``h.now``).
        storage: the node's initial durable storage, as a dict of JSON values.
        codec: pass every message delivered or sent through the wire codec, as the
            simulator does, so a message that could not cross a network fails here too;
            turn it off to deliver objects that are not registered messages.

    The node is built at once (``h.node``), and started by :meth:`start`. Every method that
    feeds it an event returns the list of effects that event produced; :attr:`effects`
    keeps them all. See :mod:`dsys.testing.harness` for the rules.

    Example:
        Storage writes, syncs and what a crash keeps:

        >>> from dsys import Node
        >>> from dsys.testing import NodeHarness
        >>> class Counter(Node):
        ...     def on_start(self) -> None:
        ...         self.storage["boots"] = self.storage.get("boots", 0) + 1
        ...         self.storage.sync()
        ...         self.storage["unsaved"] = True
        >>> h = NodeHarness(Counter, storage={"boots": 4})
        >>> h.start()
        [StorageWrite(key='boots', value=5), StorageSync(keys=('boots',)),
         StorageWrite(key='unsaved', value=True)]
        >>> h.crash()
        [Crashed(lost=('unsaved',))]
        >>> dict(h.storage)
        {'boots': 5}
        >>> h.recover()[0]
        StorageWrite(key='boots', value=6)
    """

    def __init__(
        self,
        factory: Callable[[], Node],
        node_id: str = "a",
        peers: Iterable[str] = ("b", "c"),
        *,
        clients: Iterable[str] = (),
        seed: int = 0,
        time: float = 0.0,
        storage: Mapping[str, Any] | None = None,
        codec: bool = True,
    ) -> None:
        if not callable(factory):
            raise ConfigError(f"the node factory must be callable (a Node class), got "
                              f"{factory!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"seed must be an int, got {seed!r}")
        if isinstance(peers, str):
            raise ConfigError(f"peers must be a list of node ids, got the string {peers!r}")
        self.node_id = check_node_id(node_id)
        self.peers = sorted_ids(check_node_id(p) for p in peers)
        self.clients = sorted_ids(check_node_id(c) for c in clients)
        everyone = (self.node_id, *self.peers, *self.clients)
        if len(set(everyone)) != len(everyone):
            raise ConfigError(f"node ids must be distinct: node {self.node_id!r}, peers "
                              f"{list(self.peers)}, clients {list(self.clients)}")
        self._known = frozenset(everyone)
        self.seed = seed
        self.factory = factory
        self._codec = codec
        self._now = self._check_time(time, "time")
        self._effects: list[Effect] = []
        self._current: list[Effect] | None = None  # effects of the event in progress
        # name -> (deadline, arming number): ties fire in arming order.
        self._timers: dict[str, tuple[float, int]] = {}
        self._armings = 0
        self._op: dict[str, Any] | None = None
        self._disk_rng = Random(f"{seed}/disk")
        self._incarnation = 1
        self._started = False
        self._node: Node | None = None
        self._storage = self._new_storage(self._initial(storage or {}))
        self._ctx: _HarnessContext | None = None
        with self._event():
            self._build()

    # ----- reading the node and its effects -----------------------------------------------

    @property
    def node(self) -> Node:
        """The live node object (a fresh one after :meth:`recover`)."""
        if self._node is None:
            raise UsageError(f"node {self.node_id} has crashed; call h.recover() to bring "
                             "up a new incarnation")
        return self._node

    @property
    def storage(self) -> Storage:
        """The node's storage; while the node is down, what survived the crash."""
        return self._storage

    @property
    def crashed(self) -> bool:
        """True between :meth:`crash` and :meth:`recover`."""
        return self._node is None

    @property
    def incarnation(self) -> int:
        """1 for the first node object, one more after each :meth:`recover`."""
        return self._incarnation

    @property
    def effects(self) -> list[Effect]:
        """Every effect so far, in order (since the last :meth:`clear`)."""
        return list(self._effects)

    @property
    def logs(self) -> list[str]:
        """The node's log lines so far."""
        return [e.text for e in self._effects if isinstance(e, Log)]

    @property
    def notes(self) -> list[Note]:
        """The node's notes so far."""
        return [e for e in self._effects if isinstance(e, Note)]

    @property
    def timers(self) -> dict[str, float]:
        """The armed timers: name -> deadline, in the order they will fire."""
        order = sorted(self._timers.items(), key=lambda item: item[1])
        return {name: deadline for name, (deadline, _) in order}

    @property
    def current_op(self) -> dict[str, Any] | None:
        """The client's operation in progress (see :meth:`invoke`), or None."""
        return None if self._op is None else dict(self._op)

    def sent(self, type: type | tuple[type, ...] | None = None, to: str | None = None,
             component: str | None = None) -> list[Sent]:
        """The messages sent so far, optionally only those of ``type`` (a class or a tuple
        of classes), to node ``to``, or from the component named ``component``."""
        return [
            e for e in self._effects
            if isinstance(e, Sent)
            and (type is None or isinstance(e.msg, type))
            and (to is None or e.dst == to)
            and (component is None or e.component == component)
        ]

    def clear(self) -> None:
        """Forget the effects recorded so far (armed timers stay armed)."""
        self._effects.clear()

    # ----- time ------------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The node's clock. Setting it fires nothing: a timer whose deadline has passed
        fires at the next :meth:`advance` (or with :meth:`fire`)."""
        return self._now

    @now.setter
    def now(self, value: float) -> None:
        self._now = self._check_time(value, "h.now")

    def advance(self, dt: float) -> list[Effect]:
        """Move the clock ``dt`` seconds forward, firing every timer that comes due."""
        if isinstance(dt, bool) or not isinstance(dt, int | float) or not 0 <= dt < math.inf:
            raise UsageError(f"advance(dt): dt must be a number of seconds >= 0, got {dt!r}")
        return self.advance_to(self._now + dt)

    def advance_to(self, t: float) -> list[Effect]:
        """Move the clock to ``t``, firing every timer whose deadline is ``<= t``.

        Timers fire in deadline order (ties in the order they were armed), each with the
        clock at its deadline (or at ``h.now``, if that deadline has passed already);
        timers their handlers arm fire too if they come due by ``t``.
        """
        t = self._check_time(t, "advance_to(t)")
        if t < self._now:
            raise UsageError(f"advance_to({t}): the clock is already at {self._now}; time "
                             "only moves forward here (set h.now to move it back)")
        with self._event() as effects:
            fires = 0
            while self._timers:  # (a crashed node has none: time just passes)
                name, (deadline, _) = min(self._timers.items(), key=lambda item: item[1])
                if deadline > t:
                    break
                fires += 1
                if fires > _MAX_FIRES:
                    raise UsageError(
                        f"more than {_MAX_FIRES} timers fired without the clock reaching {t} "
                        "(a timer that re-arms itself with delay 0?)")
                self._now = max(self._now, deadline)
                self._fire(name)
            self._now = t
        return effects

    def fire(self, name: str) -> list[Effect]:
        """Fire the armed timer ``name`` now, whatever its deadline (the clock stays)."""
        self._alive("fire a timer of")
        if name not in self._timers:
            armed = ", ".join(repr(n) for n in self.timers) or "none"
            raise UsageError(f"timer {name!r} of node {self.node_id} is not armed (armed "
                             f"timers: {armed})")
        with self._event() as effects:
            self._fire(name)
        return effects

    # ----- events ------------------------------------------------------------------------------

    def start(self) -> list[Effect]:
        """Start the node: its components' and its own ``on_start`` (then ``on_started``)."""
        self._alive("start")
        if self._started:
            raise UsageError(f"node {self.node_id} has started already (after a crash, use "
                             "h.recover())")
        self._started = True
        with self._event() as effects:
            self.node._dispatch_start(False)
        return effects

    def deliver(self, src: str, msg: object, *, component: str | None = None,
                stamps: Mapping[str, Any] | None = None) -> list[Effect]:
        """Deliver ``msg`` from ``src`` to the node.

        ``stamps``: what the sender's layers stamped (``{"lamport": 4}``), by layer name.
        ``component``: the name of the component that sent it, so that it goes to the
        component of that name here (as a message a component sends does).
        """
        node = self._alive("deliver a message to", need_start=True)
        if src not in self._known:
            raise UsageError(f"deliver({src!r}, ...): {src!r} is not a node the harness knows "
                             f"(nodes: {', '.join(sorted(self._known))}); add it to peers or "
                             "clients")
        carried: dict[str, Any] | None = dict(stamps) if stamps else None
        if component is not None:
            if component not in node.components:
                raise UsageError(
                    f"deliver(..., component={component!r}): node {self.node_id} has no "
                    f"component of that name (components: "
                    f"{', '.join(map(repr, node.components)) or 'none'})")
            carried = {**(carried or {}), ROUTE_KEY: component}
        if self._codec:
            msg, carried = self._through_wire(src, self.node_id, msg, carried)
        with self._event() as effects:
            node._dispatch_message(src, msg, carried)
        return effects

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Effect]:
        """Run ``fn(*args, **kwargs)`` as an event and return its effects: an application
        call into the node, e.g. ``h.call(h.node.rb.broadcast, "hello")``."""
        self._alive("call into")
        with self._event() as effects:
            fn(*args, **kwargs)
        return effects

    def invoke(self, op: Mapping[str, Any]) -> list[Effect]:
        """Invoke operation ``op`` (``f``, ``value``, maybe ``key``) on the client under
        test, as the simulator does with the next operation of a workload."""
        node = self._alive("invoke an operation on", need_start=True)
        if not isinstance(node, Client):
            raise UsageError(f"node {self.node_id} is a {type(node).__name__}, not a dsys "
                             "Client: only clients take operations")
        normalized = normalize_op(self.node_id, op)
        if self._op is not None:
            raise UsageError(f"client {self.node_id} is still running {self._op}; complete "
                             "it (ok, fail or info) before invoking another")
        self._op = normalized
        with self._event() as effects:
            self._record(Invoked(dict(self._op)))
            node.on_invoke(dict(self._op))
        return effects

    def crash(self, lose_unsynced: LoseUnsynced = "all") -> list[Effect]:
        """Crash the node: the object, its timers and its operation in progress are gone.

        ``lose_unsynced`` says what happens to the storage writes not yet synced:
        ``"all"`` (the default): all are lost, the worst a disk may do, so a test shows at
        once what a missing ``sync`` costs; ``"none"``: all survive; ``"random"``: each
        survives or not by a coin flip (from the harness's seed, as in the simulator).
        """
        self._alive("crash")
        storage = self._storage
        if lose_unsynced == "all":
            survived, lost = storage.durable_snapshot(), list(storage.dirty)
        elif lose_unsynced == "none":
            survived, lost = storage.durable_snapshot(), []
            for key in storage.dirty:
                if key in storage:
                    survived[key] = json.dumps(storage[key], separators=(",", ":"))
                else:
                    survived.pop(key, None)
        elif lose_unsynced == "random":
            survived, lost = storage.crash(self._disk_rng)
        else:
            raise UsageError(f"crash(lose_unsynced={lose_unsynced!r}): say 'all', 'none' or "
                             "'random'")
        assert self._ctx is not None
        self._ctx.retired = True
        self._ctx = None
        self._node = None
        self._timers.clear()
        self._op = None
        self._storage = self._new_storage(survived)
        with self._event() as effects:
            self._record(Crashed(tuple(lost)))
        return effects

    def recover(self) -> list[Effect]:
        """Bring the crashed node back: a fresh object from the factory, with the storage
        that survived, then its ``on_recover`` (and its components')."""
        if self._node is not None:
            raise UsageError(f"node {self.node_id} is up; crash it (h.crash()) before "
                             "recovering it")
        self._incarnation += 1
        self._storage = self._new_storage(self._storage.durable_snapshot())
        with self._event() as effects:
            node = self._build()
            self._started = True
            node._dispatch_start(True)
        return effects

    # ----- what the node asks for (called by its context) -------------------------------------

    def _on_send(self, dst: str, msg: object, stamps: dict[str, Any] | None) -> None:
        check_destination(self.node_id, dst, type(msg).__name__, self._known)
        if self._codec:
            msg, stamps = self._through_wire(self.node_id, dst, msg, stamps)
        else:
            stamps = dict(stamps) if stamps else None
        self._record(Sent(dst, msg, stamps))

    def _on_set_timer(self, name: str, delay: float) -> None:
        check_timer(self.node_id, name, delay)
        self._armings += 1
        deadline = self._now + delay
        self._timers[name] = (deadline, self._armings)
        self._record(TimerSet(name, delay, deadline))

    def _on_cancel_timer(self, name: str) -> None:
        if self._timers.pop(name, None) is not None:
            self._record(TimerCancelled(name))

    def _on_complete(self, kind: str, value: Any) -> None:
        if self._op is None:
            raise UsageError(f"client {self.node_id} completed an operation ({kind}) but none "
                             "is in progress; complete each operation exactly once")
        self._record(Completed(kind, self._op["value"] if value is SAME else value))
        self._op = None

    # ----- helpers ---------------------------------------------------------------------------

    def _record(self, effect: Effect) -> None:
        self._effects.append(effect)
        if self._current is not None:
            self._current.append(effect)

    @contextmanager
    def _event(self) -> Iterator[list[Effect]]:
        if self._current is not None:
            raise UsageError("the harness is already running an event: do not call it from "
                             "inside a node's handler")
        effects: list[Effect] = []
        self._current = effects
        try:
            yield effects
        finally:
            self._current = None

    def _alive(self, doing: str, need_start: bool = False) -> Node:
        if self._node is None:
            raise UsageError(f"cannot {doing} node {self.node_id}: it has crashed; call "
                             "h.recover() first")
        if need_start and not self._started:
            raise UsageError(f"cannot {doing} node {self.node_id}: it has not started; call "
                             "h.start() first")
        return self._node

    def _build(self) -> Node:
        ctx = _HarnessContext(self, self._incarnation, self._storage)
        node = construct(self.factory, ctx)
        self._ctx, self._node, self._started = ctx, node, False
        return node

    def _fire(self, name: str) -> None:
        del self._timers[name]
        self._record(TimerFired(name, self._now))
        self.node._dispatch_timer(name)

    def _new_storage(self, durable: Mapping[str, str]) -> _RecordingStorage:
        return _RecordingStorage(durable, self._record)

    @staticmethod
    def _initial(values: Mapping[str, Any]) -> dict[str, str]:
        if not isinstance(values, Mapping):
            raise ConfigError(f"storage must be a dict of JSON values, got {values!r}")
        staging = Storage()
        staging.update(values)  # checks keys and values as the node's storage would
        staging.sync()
        return staging.durable_snapshot()

    @staticmethod
    def _check_time(value: object, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise UsageError(f"{what} must be a finite number of seconds, got {value!r}")
        return float(value)

    def _through_wire(self, src: str, dst: str, msg: object, stamps: dict[str, Any] | None
                      ) -> tuple[object, dict[str, Any] | None]:
        """What arrives when ``msg`` crosses a network (the simulator's check, uncached)."""
        try:
            arrived = codec.loads(codec.dumps(codec.encode(msg, stamps)))
            copy = codec.decode(arrived)
        except CodecError as exc:
            raise CodecError(f"{src} cannot send {short_name(msg)} to {dst}: {exc}") from None
        if copy != msg:
            raise CodecError(
                f"{src} sent {msg!r} to {dst}, but it would arrive as {copy!r}: a field holds "
                "a value of another type than declared (a list where the class says tuple?). "
                "Make field values match their annotations.")
        return copy, arrived.get("stamps")

    def __repr__(self) -> str:
        node = self._node
        state = ("crashed" if node is None else
                 f"{type(node).__name__}, {'running' if self._started else 'not started'}")
        return f"<NodeHarness {self.node_id}: {state}, t={self._now}>"
