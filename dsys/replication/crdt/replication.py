"""Named CRDT objects on a node, kept in storage and gossiped to random peers.

:class:`CrdtReplication` is a component (default name ``"crdts"``) that holds any number
of named state-based CRDTs. The application updates them locally, through handles, with
no coordination and no waiting::

    self.crdts = self.add_component(CrdtReplication())
    ...
    self.crdts.counter("likes").increment()
    self.crdts.orset("guests").add("ann")
    self.crdts.register("title").assign("Minutes")

and the component makes every replica converge, whatever the network does:

* **anti-entropy by gossip**: every ``interval`` seconds it sends the state of every
  object to ``fanout`` peers chosen at random (push); a peer merges what it receives,
  and if it knew something the sender did not, it answers with its own states (pull),
  once. Lost, duplicated, reordered or late states do no harm: merge is idempotent,
  commutative and associative, and a state is never "too old" to merge. (This is the
  anti-entropy of Demers et al., *Epidemic algorithms for replicated database
  maintenance*, 1987, with merge in place of "newest timestamp wins". The rumor
  spreading of :class:`dsys.messaging.Gossip` does not fit: a rumor is learned once,
  while a CRDT's state keeps growing and must be sent again.)
* **durability**: every local update is written to ``storage`` and synced before the
  update returns, so an update that returned survives a crash; merged states are written
  too, unsynced (what a crash loses of them, gossip brings back). A restarted replica
  reloads its objects and carries on.
* **LWW timestamps** come from a hybrid logical clock (:class:`~dsys.clocks.HLCLayer`,
  used here as a clock, not as a layer) that has *observed* every timestamp this replica
  has seen (in merged states and after a restart, in its storage), so a write always
  wins over every write this replica has seen; the writer's id breaks ties.

Every local update is recorded as a trace note (``note("crdt", object=..., type=...,
op=..., ...)``) that :func:`~dsys.replication.crdt.check_crdt_convergence` reads to explain
the values the replicas end with.

The component uses only the node's public API (``send``, timers, ``rng``, ``storage``),
so it runs unchanged in the simulator and on the trio runtime.

Example:
    >>> from dsys import Network, Node, Simulation
    >>> from dsys.replication.crdt import CrdtReplication
    >>> class Replica(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.crdts = self.add_component(CrdtReplication(interval=0.1))
    ...     def on_start(self) -> None:
    ...         self.crdts.counter("likes").increment()
    ...         self.crdts.orset("seen-by").add(self.id)
    >>> sim = Simulation(seed=1, network=Network(drop=0.3))
    >>> for name in ("a", "b", "c"):
    ...     sim.add_node(name, Replica)
    >>> sim.run(until=2.0)
    >>> crdts = sim.node("c").crdts
    >>> crdts.counter("likes").value, crdts.orset("seen-by").value
    (3, ('a', 'b', 'c'))
"""

from __future__ import annotations

from typing import Any, TypeVar

from dsys.clocks.hlc import HLCLayer, HLCTimestamp
from dsys.core.messages import message
from dsys.core.node import Component
from dsys.errors import CodecError, ConfigError, UsageError
from dsys.replication.crdt.base import Crdt, Scalar
from dsys.replication.crdt.counters import GCounter, PNCounter
from dsys.replication.crdt.registers import LWWRegister, MVRegister
from dsys.replication.crdt.sets import Element, ORSet

C = TypeVar("C", bound=Crdt)

# ----- messages ----------------------------------------------------------------------------


@message
class CrdtState:
    """One named object's state on the wire (``state`` is :meth:`Crdt.to_json`)."""

    name: str
    state: Any


@message
class CrdtGossip:
    """"Here are my states": a push, or (``reply=True``) the answer to one."""

    objects: tuple[CrdtState, ...]
    reply: bool = False


# ----- the component -------------------------------------------------------------------------


class CrdtReplication(Component):
    """Named state-based CRDTs on a node, replicated by gossip; see the module docstring.

    Args:
        interval: seconds between two gossip rounds of this node.
        fanout: how many random peers each round sends to.
        group: the replicas to gossip with (default: every peer).

    The objects are created on first use, by the handle methods (:meth:`counter`,
    :meth:`gcounter`, :meth:`register`, :meth:`mvregister`, :meth:`orset`); an object
    has one type, on every replica.
    """

    messages = (CrdtGossip,)
    default_name = "crdts"

    objects: dict[str, Crdt]
    clock: HLCLayer

    def __init__(self, *, interval: float = 0.1, fanout: int = 1,
                 group: tuple[str, ...] | list[str] | None = None) -> None:
        if not interval > 0 or isinstance(fanout, bool) or not isinstance(fanout, int) \
                or fanout < 1:
            raise ConfigError(f"CrdtReplication needs interval > 0 and fanout >= 1, got "
                              f"interval={interval!r}, fanout={fanout!r}")
        self.interval = interval
        self.fanout = fanout
        self._group = tuple(sorted(group)) if group is not None else None

    def on_start(self) -> None:
        """Load the objects from storage (empty on a first start) and start gossiping.

        Also runs on recovery: whatever storage holds is this replica's state."""
        self.objects = {}
        self.clock = HLCLayer(record=False)
        self.clock.node = self.node  # a clock read from the node's time, not a layer
        prefix = self._key("")
        for key in self.storage:  # sorted: a deterministic order
            if key.startswith(prefix):
                state = Crdt.from_json(self.storage[key])
                self.objects[key[len(prefix):]] = state
                self._observe(state)
        # The first round at a random moment, so that replicas do not all talk at once.
        self.set_timer("gossip", self.rng.uniform(0.0, self.interval))

    # ----- the handles ---------------------------------------------------------------------

    def counter(self, name: str) -> CounterHandle:
        """The PN-Counter ``name`` (increments and decrements)."""
        return CounterHandle(self, name, PNCounter)

    def gcounter(self, name: str) -> GCounterHandle:
        """The G-Counter ``name`` (increments only)."""
        return GCounterHandle(self, name, GCounter)

    def register(self, name: str) -> RegisterHandle:
        """The last-writer-wins register ``name``."""
        return RegisterHandle(self, name, LWWRegister)

    def mvregister(self, name: str) -> MVRegisterHandle:
        """The multi-value register ``name``."""
        return MVRegisterHandle(self, name, MVRegister)

    def orset(self, name: str) -> ORSetHandle:
        """The add-wins observed-remove set ``name``."""
        return ORSetHandle(self, name, ORSet)

    # ----- reading ---------------------------------------------------------------------------

    def names(self) -> tuple[str, ...]:
        """The names of the objects this replica holds, sorted."""
        return tuple(sorted(self.objects))

    def state(self, name: str) -> Crdt | None:
        """The state of object ``name`` here (None if this replica has not heard of it)."""
        return self.objects.get(name)

    def states(self) -> dict[str, Crdt]:
        """Every object's state, by name (sorted)."""
        return {name: self.objects[name] for name in self.names()}

    @property
    def group(self) -> tuple[str, ...]:
        """The other replicas this one gossips with, sorted."""
        if self._group is None:
            return self.peers
        return tuple(r for r in self._group if r != self.id)

    # ----- updates (called by the handles) -------------------------------------------------

    def current(self, name: str, kind: type[C]) -> C:
        """The state of ``name`` as a ``kind`` (its empty state if new here)."""
        if not isinstance(name, str) or not name:
            raise UsageError(f"a CRDT object's name is a non-empty string, got {name!r}")
        state = self.objects.get(name)
        if state is None:
            return kind()
        if not isinstance(state, kind):
            raise UsageError(f"{name!r} is a {type(state).__name__} on {self.id}, not a "
                             f"{kind.__name__}: an object has one type on every replica")
        return state

    def update(self, name: str, state: Crdt, op: str, **details: Any) -> None:
        """Install ``state`` (the result of a local update) as ``name``, make it durable,
        and record the update for the checkers."""
        self.objects[name] = state
        self.storage[self._key(name)] = state.to_json()
        self.storage.sync()  # an update that returned survives a crash
        self._observe(state)
        self.note("crdt", object=name, type=state.type_name, op=op, **details)

    def timestamp(self) -> HLCTimestamp:
        """A new HLC timestamp, later than every one this replica has seen."""
        return self.clock.tick()

    # ----- gossip --------------------------------------------------------------------------

    def on_timer(self, name: str) -> None:
        """A gossip round: push every object's state to ``fanout`` random peers."""
        if name != "gossip":
            return
        self.set_timer("gossip", self.interval)
        group = self.group
        if not group or not self.objects:
            return
        push = CrdtGossip(self._wire(self.names()))
        for peer in self.rng.sample(group, min(self.fanout, len(group))):
            self.send(peer, push)

    def on_message(self, src: str, msg: Any) -> None:
        """Merge the states received; answer a push with the states the sender is
        behind on (or lacks)."""
        if not isinstance(msg, CrdtGossip):
            return
        behind: list[str] = []  # objects the sender knows less of than we do
        conflicts: set[str] = set()
        for entry in msg.objects:
            try:
                theirs = Crdt.from_json(entry.state)
            except CodecError as exc:
                self.log(f"ignored the state of {entry.name!r} from {src}: {exc}")
                conflicts.add(entry.name)
                continue
            mine = self.objects.get(entry.name)
            if mine is not None and type(mine) is not type(theirs):
                self.log(f"{src} holds {entry.name!r} as a {type(theirs).__name__}, this "
                         f"replica as a {type(mine).__name__}: not merged")
                conflicts.add(entry.name)
                continue
            merged = theirs if mine is None else mine.merge(theirs)
            if merged != mine:
                self.objects[entry.name] = merged
                self.storage[self._key(entry.name)] = merged.to_json()  # synced lazily
                self._observe(merged)
            if merged != theirs:
                behind.append(entry.name)
        if msg.reply:
            return
        sent = {entry.name for entry in msg.objects}
        answer = sorted((set(behind) | (set(self.objects) - sent)) - conflicts)
        if answer:
            self.send(src, CrdtGossip(self._wire(answer), reply=True))

    # ----- helpers ---------------------------------------------------------------------------

    def _key(self, name: str) -> str:
        return f"{self.name}/object/{name}"

    def _wire(self, names: Any) -> tuple[CrdtState, ...]:
        return tuple(CrdtState(name, self.objects[name].to_json()) for name in names)

    def _observe(self, state: Crdt) -> None:
        """Move the HLC past an LWW timestamp (the receive rule of the HLC paper)."""
        if isinstance(state, LWWRegister) and state.stamp is not None:
            l, c, _ = state.stamp  # noqa: E741 - the HLC paper's name
            self.clock.on_receive(self.id, None, [l, c])


# ----- handles: what the application holds ---------------------------------------------------


class _Handle:
    """A named object of one replica, with the update operations of its type."""

    def __init__(self, replication: CrdtReplication, name: str, kind: type[Crdt]) -> None:
        self.replication = replication
        self.name = name
        self.kind = kind
        replication.current(name, kind)  # checks the name and the type now

    @property
    def state(self) -> Any:
        """The object's current state on this replica."""
        return self.replication.current(self.name, self.kind)

    @property
    def value(self) -> Any:
        """The object's current value on this replica."""
        return self.state.value

    @property
    def replica(self) -> str:
        return self.replication.id

    def __repr__(self) -> str:
        return f"<{self.kind.__name__} {self.name!r} on {self.replica}: {self.value!r}>"


class GCounterHandle(_Handle):
    """A G-Counter of a replica: ``increment(by)``, ``value``."""

    @property
    def value(self) -> int:
        """The count, as this replica knows it."""
        return int(self.state.value)

    def increment(self, by: int = 1) -> int:
        """Count ``by`` (>= 1) more here; returns the new value."""
        state = self.state.increment(self.replica, by)
        self.replication.update(self.name, state, "increment", by=by)
        return int(state.value)


class CounterHandle(GCounterHandle):
    """A PN-Counter of a replica: ``increment(by)``, ``decrement(by)``, ``value``."""

    def decrement(self, by: int = 1) -> int:
        """Count ``by`` (>= 1) less here; returns the new value."""
        state = self.state.decrement(self.replica, by)
        self.replication.update(self.name, state, "decrement", by=by)
        return int(state.value)


class RegisterHandle(_Handle):
    """A last-writer-wins register of a replica: ``assign(value)``, ``value``."""

    def assign(self, value: Scalar) -> None:
        """Write ``value`` (a JSON scalar), stamped later than every write seen here."""
        time = self.replication.timestamp()
        state = self.state.assign(value, time, self.replica)
        self.replication.update(self.name, state, "assign", value=value,
                                stamp=[time.l, time.c, self.replica])


class MVRegisterHandle(_Handle):
    """A multi-value register of a replica: ``assign(value)``; ``value`` is the tuple of
    siblings' values."""

    @property
    def value(self) -> tuple[Scalar, ...]:
        """The siblings' values, sorted (one value unless writes were concurrent)."""
        return tuple(self.state.value)

    def assign(self, value: Scalar) -> None:
        """Write ``value``: it replaces every sibling seen here."""
        state = self.state.assign(value, self.replica)
        self.replication.update(self.name, state, "assign", value=value,
                                version=dict(state.siblings[0].version))


class ORSetHandle(_Handle):
    """An add-wins observed-remove set of a replica: ``add``, ``remove``, ``value``,
    ``in``."""

    @property
    def value(self) -> tuple[Element, ...]:
        """The elements, sorted."""
        return tuple(self.state.value)

    def __contains__(self, item: object) -> bool:
        return item in self.state

    def add(self, item: Element) -> None:
        """Add ``item`` (a string or an integer)."""
        before = self.state
        state = before.add(item, self.replica)
        self.replication.update(self.name, state, "add", element=item,
                                tag=list(state.dots(item)[0]),
                                removes=[list(d) for d in before.dots(item)])

    def remove(self, item: Element) -> bool:
        """Remove ``item`` (the adds of it observed here); False if it is not here."""
        before = self.state
        observed = before.dots(item)
        if not observed:
            return False
        self.replication.update(self.name, before.remove(item), "remove", element=item,
                                removes=[list(d) for d in observed])
        return True
