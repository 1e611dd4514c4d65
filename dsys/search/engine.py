"""The model checker: every interleaving of a small system of ordinary dsys nodes.

A *state* is every node's state (see :mod:`dsys.search.state`), the multiset of messages
in flight, the armed timers, the virtual time and the faults used so far. A *step* goes
from one state to the next:

* ``deliver``: any message in flight arrives (to a crashed node: it is lost);
* ``timer``: a node's armed timer fires. A node's timers fire in deadline order (a 10 s
  timer never beats a 0.1 s one set with it); timers of different nodes, and messages,
  interleave freely. Time moves to the deadline if that is later, never back;
* ``invoke``: an idle client starts its next operation;
* within budgets the user sets: ``drop`` or ``duplicate`` a message in flight, ``crash`` a
  node (its unsynced writes are lost: the worst case) and ``restart`` it.

Messages take no time (the network's latency is a choice of order, which the search
makes), so a path replays exactly in the simulator on a zero-latency network by firing
the same events in the same order (:meth:`SearchResult.replay`): a counterexample is an
ordinary dsys trace.

Example: a reply that must not be counted twice, searched with duplication allowed.

    >>> from dsys import Node, message
    >>> from dsys.search import Search
    >>> @message(name="doc:Vote")
    ... class Vote:
    ...     pass
    >>> class Counter(Node):
    ...     def on_start(self) -> None:
    ...         self.votes = 0
    ...     def on_message(self, src: str, msg: Vote) -> None:
    ...         self.votes += 1                      # a duplicate counts twice: the bug
    >>> class Voter(Node):
    ...     def on_start(self) -> None:
    ...         self.send("counter", Vote())
    >>> search = Search({"counter": Counter, "v1": Voter, "v2": Voter}, duplicates=1)
    >>> def one_vote_each(view) -> bool:
    ...     return view.node("counter").votes <= 2
    >>> search.add_invariant(one_vote_each)
    >>> result = search.bfs()
    >>> result.verdict, result.problem
    ('violation', "invariant 'one_vote_each' returned False")
    >>> for step in result.path:                  # a shortest path to the bug
    ...     print(step.describe())
    deliver Vote() v1 -> counter
    duplicate Vote() v2 -> counter
    deliver Vote() v2 -> counter
    deliver Vote() v2 -> counter
    >>> sim = result.replay()                     # the same path in the simulator
    >>> sim.node("counter").votes
    3
"""

from __future__ import annotations

import itertools
import os
import random
import re
import time as wallclock
from bisect import insort
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from dsys.core import codec
from dsys.core.client import Client, check_completion, normalize_op
from dsys.core.node import Node, construct
from dsys.core.rules import check_destination, check_node_id, check_timer
from dsys.core.storage import Storage
from dsys.errors import ConfigError, UsageError
from dsys.search.state import Copier, canonical, sorted_set
from dsys.sim.events import Deliver, Invoke, Start, Timer
from dsys.sim.network import Network
from dsys.sim.simulation import Simulation

Factory = Callable[[], Node]
Predicate = Callable[[Any], Any]

__all__ = ["Search", "SearchResult", "StateView", "Step"]


# ----- steps ------------------------------------------------------------------------------


@attrs.frozen
class Step:
    """One step of a path: what happened, at which node.

    ``kind`` is ``deliver``, ``drop``, ``duplicate``, ``timer``, ``invoke``, ``crash`` or
    ``restart``; message steps name the sender ``src`` and carry the message's wire form
    ``data``; timer steps name the timer.
    """

    kind: str
    node: str
    src: str = ""
    data: bytes = b""
    name: str = ""

    def message(self) -> Any:
        """The message of a message step (decoded from its wire form)."""
        return codec.decode(codec.loads(self.data))

    def describe(self) -> str:
        """One line, as a trace would say it."""
        if self.data:
            return f"{self.kind} {self.message()!r} {self.src} -> {self.node}"
        if self.kind == "timer":
            return f"timer {self.name!r} of {self.node}"
        if self.kind == "invoke":
            return f"invoke the next operation of {self.node}"
        return f"{self.kind} {self.node}"


# ----- states ------------------------------------------------------------------------------


class _Key:
    """A key that hashes once: node keys recur in many states, so their hash is kept."""

    __slots__ = ("hash", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.hash = hash(value)

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and self.hash == other.hash and self.value == other.value

    def __repr__(self) -> str:
        return repr(self.value)


class _NodeState:
    """One node in one state: its frozen copy (None while crashed) and its key."""

    __slots__ = ("client", "durable", "frozen", "incarnation", "key", "live", "rng", "timers")

    def __init__(self, frozen: tuple[Any, ...] | None, incarnation: int,
                 timers: tuple[tuple[str, float], ...], client: tuple[int, Any] | None,
                 durable: dict[str, str], key: Any, rng: str | tuple[Any, ...] = "") -> None:
        self.frozen = frozen
        self.rng = rng                # the generator's seed label, or its state once used
        self.incarnation = incarnation
        self.timers = timers          # ((name, deadline), ...) sorted by name
        self.client = client          # (next op index, op in progress) for a client
        self.durable = durable        # what a crash keeps (only used while crashed)
        self.key = key
        self.live: Any = None         # a thawed copy for invariants (read only), lazily


#: Pickle opcodes that build a set or frozenset (protocol 4+): their order in the bytes
#: would follow PYTHONHASHSEED, so a pickle holding them is not a canonical key. (The
#: bytes may also occur inside a string: then the slower canonical key is used, no harm.)
_EMPTY_SET = b"\x8f"
_FROZENSET = b"\x91"


#: Attributes every Node has that the host owns or that hold composition.
_NODE_INTERNALS = frozenset({"_ctx", "_components", "_layers", "_routes"})
_ATOMS = frozenset({int, str, float, bool, type(None), bytes})


def _immutable(value: Any) -> bool:
    """True if ``value`` can never change: atoms, and tuples, frozensets and registered
    (frozen) messages made of them. Such values can be shared between states."""
    kind = type(value)
    if kind in _ATOMS:
        return True
    if kind is tuple or kind is frozenset:
        return all(_immutable(v) for v in value)
    getter = getattr(kind, "__dsys_getter__", None)
    return getter is not None and all(_immutable(v) for v in getter(value))


def _flat(node: Node, known: set[Any]) -> tuple[tuple[str, Any], ...] | None:
    """A node's attributes as a tuple, if it has no components or layers and every
    attribute is immutable (then a shallow copy is a copy, and the tuple is its key).

    ``known`` remembers composite values already found immutable (looked up by hash, in C,
    instead of walked again: the same tuples recur from state to state)."""
    if node._components or node._layers:
        return None
    items = []
    for name, value in node.__dict__.items():
        if name in _NODE_INTERNALS:
            continue
        if type(value) not in _ATOMS:
            try:
                if value not in known:
                    if not _immutable(value):
                        return None
                    known.add(value)
            except TypeError:  # unhashable: a list, a dict...
                return None
        items.append((name, value))
    return tuple(items)


def _thaw(frozen: tuple[Any, ...]) -> tuple[Node, Storage]:
    """A fresh node and storage from a frozen node state."""
    storage = Storage.__new__(Storage)
    storage.syncs = 0
    storage.on_sync = None
    if frozen[0] == "flat":  # (flat, class, attributes, durable, pending)
        _, cls, items, durable, pending = frozen
        node = cls.__new__(cls)
        node.__dict__.update(items)
        storage._durable = dict(durable)
        storage._pending = dict(pending)
    else:
        node, storage._durable, storage._pending = Copier.thaw(frozen[1:])
    return node, storage


class _State:
    """A whole system state; ``key`` is what de-duplication compares."""

    __slots__ = ("budget", "key", "network", "nodes", "time")

    def __init__(self, nodes: tuple[_NodeState, ...], network: tuple[tuple[str, str, bytes], ...],
                 time: float, budget: tuple[int, int, int], key: Any) -> None:
        self.nodes = nodes
        self.network = network
        self.time = time
        self.budget = budget  # (drops, duplicates, crashes) used
        self.key = key


class _Context:
    """The host protocol during one step: effects are collected, not performed."""

    __slots__ = ("_rng", "client", "completed", "known", "node_id", "peers", "rng_seed",
                 "sent", "storage", "time", "timers")
    notes_dropped = False

    def __init__(self, node_id: str, peers: tuple[str, ...], known: frozenset[str],
                 rng: str | tuple[Any, ...], storage: Storage, time: float,
                 timers: dict[str, float], client: list[Any] | None) -> None:
        self.node_id = node_id
        self.peers = peers
        self.known = known
        # The node's random generator is made when first used (seeding one costs more than
        # most handlers): from its seed label, or from the state it was left in.
        self.rng_seed = rng
        self._rng: random.Random | None = None
        self.storage = storage
        self.time = time
        self.timers = timers
        self.client = client  # [next op index, op in progress]
        self.sent: list[tuple[str, object, dict[str, Any] | None]] = []
        self.completed: list[tuple[str, Any]] = []

    @property
    def rng(self) -> random.Random:
        if self._rng is None:
            seed = self.rng_seed
            if isinstance(seed, str):
                self._rng = random.Random(seed)
            else:
                self._rng = random.Random()
                self._rng.setstate(seed)
        return self._rng

    def rng_state(self) -> str | tuple[Any, ...]:
        """What to keep of the generator: its seed label if it was never used."""
        return self.rng_seed if self._rng is None else self._rng.getstate()

    def now(self) -> float:
        return self.time

    def send(self, dst: str, msg: object, stamps: dict[str, Any] | None) -> None:
        if dst not in self.known:
            check_destination(self.node_id, dst, type(msg).__name__, self.known)
        self.sent.append((dst, msg, stamps))

    def set_timer(self, name: str, delay: float) -> None:
        check_timer(self.node_id, name, delay)
        self.timers[name] = self.time + delay

    def cancel_timer(self, name: str) -> None:
        self.timers.pop(name, None)

    def log(self, text: str) -> None:
        pass

    def note(self, event: str, data: dict[str, Any]) -> None:
        pass

    def current_op(self) -> dict[str, Any] | None:
        op = self.client[1] if self.client is not None else None
        return None if op is None else dict(op)

    def complete(self, kind: str, value: Any) -> None:
        if self.client is None:
            raise UsageError(f"{self.node_id} is not a client; only clients complete operations")
        check_completion(self.node_id, kind, self.client[1])
        self.completed.append((kind, value))
        self.client[1] = None


class StateView:
    """What invariants, goals and prune predicates see: the read side of a simulation.

    It has the names a ``sim.add_invariant`` function uses (``nodes``, ``node(id)``,
    ``node_ids``, ``client_ids``, ``crashed``, ``is_up``, ``now``, ``in_flight``,
    ``durable_storage``), so one invariant serves the simulator and the search. Nodes are
    copies: do not change them.
    """

    def __init__(self, search: Search, state: _State) -> None:
        self._search = search
        self._state = state

    def _live(self, index: int) -> Node | None:
        snap = self._state.nodes[index]
        if snap.frozen is None:
            return None
        if snap.live is None:
            node, storage = _thaw(snap.frozen)
            # A context of its own, so node.id, node.now... work; what it does is discarded.
            node._ctx = self._search._context(
                self._search._ids[index], snap.rng, storage, self._state.time, dict(snap.timers),
                list(snap.client) if snap.client is not None else None)
            snap.live = node
        live: Node = snap.live
        return live

    @property
    def nodes(self) -> dict[str, Node]:
        """The running server nodes by id."""
        out = {}
        for index, node_id in enumerate(self._search._ids):
            if node_id in self._search._servers and (node := self._live(index)) is not None:
                out[node_id] = node
        return out

    def node(self, node_id: str) -> Node | None:
        """The node (server or client), or None while it is crashed."""
        return self._live(self._search._index(node_id))

    @property
    def node_ids(self) -> tuple[str, ...]:
        """Every server id, sorted."""
        return tuple(sorted(self._search._servers))

    @property
    def client_ids(self) -> tuple[str, ...]:
        """Every client id, sorted."""
        return tuple(sorted(self._search._clients))

    @property
    def crashed(self) -> tuple[str, ...]:
        """The ids of crashed nodes, sorted."""
        return tuple(sorted(i for i, n in zip(self._search._ids, self._state.nodes, strict=True)
                            if n.frozen is None))

    def is_up(self, node_id: str) -> bool:
        """True if ``node_id`` is running."""
        return self._state.nodes[self._search._index(node_id)].frozen is not None

    @property
    def now(self) -> float:
        """The virtual time of this state."""
        return self._state.time

    @property
    def in_flight(self) -> int:
        """Messages in flight."""
        return len(self._state.network)

    def durable_storage(self, node_id: str) -> dict[str, Any]:
        """What a crash of ``node_id`` now would keep (its synced storage)."""
        import json

        snap = self._state.nodes[self._search._index(node_id)]
        durable = (snap.durable if snap.frozen is None
                   else _thaw(snap.frozen)[1].durable_snapshot())
        return {k: json.loads(v) for k, v in sorted(durable.items())}

    def __getattr__(self, name: str) -> Any:
        # Only for names a StateView lacks: say why, instead of a bare AttributeError.
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"a search state has no {name!r}: the search keeps no trace, history or "
            "statistics, only the state. An invariant for a search reads the nodes "
            "(view.nodes, view.node(id)), view.now, view.crashed, view.in_flight, "
            "view.durable_storage(id)")

    @property
    def clients_done(self) -> bool:
        """True when every client has completed all its operations."""
        search = self._search
        for client_id, ops in search._clients.items():
            snap = self._state.nodes[search._index(client_id)]
            if snap.client is None or snap.client[1] is not None or snap.client[0] < len(ops):
                return False
        return True


# ----- results -----------------------------------------------------------------------------


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system that says
        return None


_PHYSICAL = _physical_memory()

#: The default memory limit of a breadth-first search: half the machine's memory.
MEMORY_LIMIT: int | None = _PHYSICAL // 2 if _PHYSICAL else None


class _MemoryGuard:
    """Says, every few hundred calls, whether the process holds more than ``limit`` bytes
    (its resident set, read from /proc where there is one; a guard that cannot read it
    never trips)."""

    EVERY = 256

    def __init__(self, limit: int | None) -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit <= 0):
            raise ConfigError(f"memory_limit must be a number of bytes > 0 or None, "
                              f"got {limit!r}")
        self.limit = limit
        self.calls = 0
        self.problem = ""

    def __call__(self) -> bool:
        if self.limit is None:
            return False
        self.calls += 1
        if self.calls % self.EVERY:
            return False
        held = _resident()
        if held is None or held <= self.limit:
            return False
        self.problem = (f"memory: the search holds {held / 2**30:.1f} GiB, over its limit "
                        f"of {self.limit / 2**30:.1f} GiB; bound it with a depth, fewer "
                        "fault budgets or iterative deepening")
        return True


def _resident() -> int | None:
    """This process's resident memory in bytes, or None where /proc cannot say."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@attrs.frozen
class SearchResult:
    """What a search found.

    ``verdict``: ``"ok"`` (every reachable state within the bounds was checked),
    ``"violation"`` (``path`` leads to a state that breaks ``problem``), ``"goal"`` (``path``
    leads to a state where a goal holds), ``"no goal"`` (exhausted, no goal reached),
    ``"limit"`` (a state or time limit stopped it first) or ``"interrupted"`` (Ctrl-C).
    """

    verdict: str
    strategy: str
    states: int
    transitions: int
    depth: int
    seconds: float
    path: tuple[Step, ...] = ()
    problem: str = ""
    search: Any = attrs.field(default=None, repr=False, eq=False)

    @property
    def ok(self) -> bool:
        """True unless a violation was found."""
        return self.verdict != "violation"

    @property
    def states_per_second(self) -> float:
        """Unique states found per second of search."""
        return self.states / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> str:
        """One line: the verdict and the figures."""
        what = {"ok": "no violation", "violation": f"VIOLATION: {self.problem}",
                "goal": f"goal reached: {self.problem}", "no goal": "no goal reachable",
                "limit": "stopped at a limit" + (f" ({self.problem})" if self.problem else ""),
                "interrupted": "interrupted"}[self.verdict]
        return (f"{self.strategy}: {what} ({self.states:,} states, {self.transitions:,} "
                f"transitions, depth {self.depth}, {self.seconds:.2f} s, "
                f"{self.states_per_second:,.0f} states/s)")

    def replay(self, *, check: bool = False) -> Simulation:
        """Run ``path`` in the simulator (zero-latency network, same seed) and return the
        simulation: its ``trace`` is the counterexample, drawn and shown like any other.
        With ``check=True`` the search's invariants are added, so the violation is raised
        as the simulator's usual report.

        For a search made by :meth:`Search.from_simulation`, the simulation comes from its
        ``rebuild`` (the run up to the branch point), then takes the path's steps: its
        trace is the whole run, prefix and branch (see :mod:`dsys.search.branch`)."""
        if self.search is None:
            raise UsageError("this result has no search to replay")
        return self.search.replay(self.path, check=check)

    def report(self) -> str:
        """The summary, the path step by step, and the replayed trace."""
        lines = [self.summary()]
        if self.path:
            lines.append("path:")
            lines += [f"  {i:3d}. {step.describe()}" for i, step in enumerate(self.path, 1)]
            try:
                sim = self.replay()
                lines.append("trace of the path, replayed in the simulator:")
                lines.append(sim.trace.tail(40))
            except Exception as exc:  # the report must not hide the finding
                lines.append(f"(the replay failed: {type(exc).__name__}: {exc})")
        return "\n".join(lines)

    def assert_ok(self) -> None:
        """Raise AssertionError with :meth:`report` if a violation was found (for tests)."""
        if not self.ok:
            raise AssertionError(self.report())


# ----- the search ----------------------------------------------------------------------------


class Search:
    """A model checker for a small system of dsys nodes.

    Args:
        nodes: server id -> factory (a Node class), as for ``sim.add_node``.
        clients: client id -> factory of a :class:`~dsys.core.client.Client`.
        workload: ``workload(rng) -> op`` for every client, or a mapping client id ->
            workload; the operations are drawn as the simulator draws them (same seeds).
        ops: operations per client.
        seed: seeds the nodes' ``rng`` and the workloads, as in ``Simulation(seed=...)``.
        drops: how many messages a path may lose.
        duplicates: how many messages a path may duplicate.
        crashes: how many crashes a path may contain (a crashed node may restart).
        symmetry: groups of interchangeable node ids (e.g. ``[("s1", "s2", "s3")]``):
            states equal up to renaming them count once (ids are renamed where they appear
            as whole strings).
    """

    def __init__(self, nodes: Mapping[str, Factory], *,
                 clients: Mapping[str, Callable[[], Client]] | None = None,
                 workload: Callable[[random.Random], Mapping[str, Any]]
                 | Mapping[str, Callable[[random.Random], Mapping[str, Any]]] | None = None,
                 ops: int = 1, seed: int = 0, drops: int = 0, duplicates: int = 0,
                 crashes: int = 0, symmetry: Sequence[Sequence[str]] = ()) -> None:
        clients = dict(clients or {})
        if not nodes:
            raise ConfigError("a search needs at least one node")
        for node_id in [*nodes, *clients]:
            check_node_id(node_id)
        overlap = set(nodes) & set(clients)
        if overlap:
            raise ConfigError(f"ids used for both a node and a client: {sorted(overlap)}")
        for name, value in (("drops", drops), ("duplicates", duplicates), ("crashes", crashes),
                            ("ops", ops)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an int >= 0, got {value!r}")
        if clients and workload is None:
            raise ConfigError("clients need a workload: workload=lambda rng: {'f': ..., ...}")
        self.seed = seed
        self._factories: dict[str, Any] = {**nodes, **clients}
        self._servers = tuple(nodes)
        self._ids = (*self._servers, *clients)
        self._position = {node_id: i for i, node_id in enumerate(self._ids)}
        self._workloads: dict[str, Any] = {}
        self._clients: dict[str, list[dict[str, Any]]] = {}
        for client_id in clients:
            flow = workload[client_id] if isinstance(workload, Mapping) else workload
            self._workloads[client_id] = flow
            rng = random.Random(f"{seed}/workload/{client_id}")
            assert flow is not None
            self._clients[client_id] = [normalize_op(client_id, flow(rng)) for _ in range(ops)]
        self._ops = ops
        self._limits = (drops, duplicates, crashes)
        sorted_servers = tuple(sorted(self._servers))
        self._peers = {i: tuple(p for p in sorted_servers if p != i) if i in nodes
                       else sorted_servers for i in self._ids}
        self._known = frozenset(self._ids)
        self._copier = Copier()
        self._messages: dict[bytes, tuple[object, dict[str, Any] | None]] = {}
        self._encoded: dict[tuple[Any, object], bytes] = {}
        self._immutables: set[Any] = set()
        self._invariants: list[tuple[str, Predicate]] = []
        self._goals: list[tuple[str, Predicate]] = []
        self._prunes: list[Predicate] = []
        self._symmetry = self._permutations(symmetry)
        # Set by from_simulation: the state to start from, and how to get its prefix back.
        self._root: _State | None = None
        self._rebuild: Callable[[], Simulation] | None = None
        self._inherited = 0  # how many of the invariants are the simulation's own
        self._branched_at: int | None = None  # trace events of the run branched from

    @classmethod
    def from_simulation(cls, sim: Simulation, *, drops: int = 0, duplicates: int = 0,
                        crashes: int = 0, symmetry: Sequence[Sequence[str]] = (),
                        rebuild: Callable[[], Simulation] | None = None,
                        invariants: Sequence[Predicate] | None = None,
                        ops: int | None = None) -> Search:
        """A search that starts from ``sim``'s state *now*: branch from a run.

        See :mod:`dsys.search.branch` for what is carried over (nodes, storage, random
        generators, timers, messages in flight, crashes, clients, invariants) and what is
        not (pending scripted calls and faults, the nemesis, partitions, latencies).

        Args:
            sim: a simulation whose nodes have started (its Start event fired).
            drops: as for :class:`Search`; the fault budgets count from the branch point.
            duplicates: as for :class:`Search`.
            crashes: as for :class:`Search`.
            symmetry: as for :class:`Search`.
            rebuild: ``rebuild()`` returns a fresh Simulation in the same state (the same
                deterministic run, re-run to the same point); :meth:`SearchResult.replay`
                needs it, to have the run's prefix before the path.
            invariants: checked in every state; default: ``sim``'s own invariants (each
                must be a function of the state it is shown, see the module).
            ops: at most this many further operations per client (required for a
                client added with ``ops=None``).

        Example: see :mod:`dsys.search.branch`.
        """
        from dsys.search.branch import branch  # (branch.py builds on this module)

        return branch(cls, sim, drops=drops, duplicates=duplicates, crashes=crashes,
                      symmetry=symmetry, rebuild=rebuild, invariants=invariants, ops=ops)

    # ----- properties ----------------------------------------------------------------------

    def add_invariant(self, check: Predicate, name: str | None = None) -> None:
        """Check ``check(view)`` in every state; it fails by returning False or raising
        AssertionError, as for ``sim.add_invariant`` (the same functions work)."""
        self._invariants.append((name or str(getattr(check, "__name__", "invariant")), check))

    def add_goal(self, goal: Predicate, name: str | None = None) -> None:
        """A state where ``goal(view)`` is true ends the search with verdict ``goal``
        (reachability). With ``deadlock=True`` goals say instead which quiescent states are
        fine: the search goes on, and a state where nothing can happen and no goal holds is
        a violation."""
        self._goals.append((name or str(getattr(goal, "__name__", "goal")), goal))

    def add_prune(self, prune: Predicate) -> None:
        """States where ``prune(view)`` is true are checked but not explored further."""
        self._prunes.append(prune)

    def _index(self, node_id: str) -> int:
        index = self._position.get(node_id)
        if index is None:
            raise UsageError(f"no node named {node_id!r} in this search; nodes: "
                             f"{', '.join(self._ids)}")
        return index

    # ----- strategies ------------------------------------------------------------------------

    def bfs(self, *, max_depth: int | None = None, max_states: int | None = None,
            time_limit: float | None = None, deadlock: bool = False,
            progress: Callable[[dict[str, Any]], None] | None = None,
            memory_limit: int | None = MEMORY_LIMIT) -> SearchResult:
        """Breadth-first search: the first violation found has a shortest path.

        It keeps every state of its frontier, so it stops (verdict ``"limit"``) once the
        process holds more than ``memory_limit`` bytes (default: half the machine's
        memory; ``None``: no limit) rather than be killed by the system; iterative
        deepening finds paths as short in far less memory."""
        started = wallclock.perf_counter()
        too_big = _MemoryGuard(memory_limit)
        root = self._initial()
        seen: dict[Any, tuple[Any, Step | None]] = {root.key: (None, None)}
        counts = [1, 0, 0]  # states, transitions, depth

        def path_to(key: Any) -> tuple[Step, ...]:
            steps: list[Step] = []
            while True:
                parent, step = seen[key]
                if step is None:
                    return tuple(reversed(steps))
                steps.append(step)
                key = parent

        def finish(verdict: str, key: Any = None, problem: str = "") -> SearchResult:
            return SearchResult(verdict, "bfs", counts[0], counts[1], counts[2],
                                wallclock.perf_counter() - started,
                                path_to(key) if key is not None else (), problem, self)

        verdict = self._judge(root, deadlock)
        if verdict is not None:
            return finish(verdict[0], root.key, verdict[1])
        frontier: deque[tuple[_State, int]] = deque([(root, 0)])
        try:
            while frontier:
                state, depth = frontier.popleft()
                if max_depth is not None and depth >= max_depth:
                    continue
                if self._pruned(state):
                    continue
                for step in self._steps(state):
                    child = self._apply(state, step)
                    counts[1] += 1
                    if isinstance(child, str):
                        seen.setdefault(("error", counts[1]), (state.key, step))
                        return finish("violation", ("error", counts[1]), child)
                    size = len(seen)
                    seen.setdefault(child.key, (state.key, step))  # one lookup, one hash
                    if len(seen) == size:
                        continue
                    counts[0] += 1
                    counts[2] = max(counts[2], depth + 1)
                    verdict = self._judge(child, deadlock)
                    if verdict is not None:
                        return finish(verdict[0], child.key, verdict[1])
                    frontier.append((child, depth + 1))
                    if max_states is not None and counts[0] >= max_states:
                        return finish("limit")
                if progress is not None and counts[1] % 64 == 0:
                    progress({"states": counts[0], "transitions": counts[1],
                              "depth": depth, "queue": len(frontier),
                              "seconds": wallclock.perf_counter() - started})
                if time_limit is not None and \
                        wallclock.perf_counter() - started > time_limit:
                    return finish("limit")
                if too_big():
                    return finish("limit", problem=too_big.problem)
        except KeyboardInterrupt:
            return finish("interrupted")
        return finish("no goal" if self._goals and not deadlock else "ok")

    def dfs(self, *, max_depth: int, max_states: int | None = None,
            time_limit: float | None = None, deadlock: bool = False) -> SearchResult:
        """Depth-first search to ``max_depth`` steps (a state seen at a smaller depth is
        not explored again)."""
        return self._dfs("dfs", max_depth, max_states, time_limit, deadlock, time_start=None)

    def iterative_deepening(self, *, max_depth: int, max_states: int | None = None,
                            time_limit: float | None = None,
                            deadlock: bool = False) -> SearchResult:
        """Depth-first searches with bounds 1, 2, ... ``max_depth``: paths as short as BFS
        finds, in the memory of DFS."""
        started = wallclock.perf_counter()
        result: SearchResult | None = None
        for bound in range(1, max_depth + 1):
            result = self._dfs("iterative deepening", bound, max_states, time_limit, deadlock,
                               time_start=started)
            if result.verdict not in ("ok", "no goal") or result.depth < bound:
                return result  # found something, or the space ends before the bound
        assert result is not None
        return result

    def random_walks(self, *, walks: int, max_depth: int, seed: int = 0,
                     deadlock: bool = False) -> SearchResult:
        """``walks`` random paths of at most ``max_depth`` steps, chosen with ``seed``."""
        started = wallclock.perf_counter()
        chooser = random.Random(f"{seed}/walks")
        seen: set[Any] = set()
        transitions = deepest = 0
        root = self._initial()
        verdict = self._judge(root, deadlock)
        if verdict is not None:
            return SearchResult(verdict[0], "random walks", 1, 0, 0,
                                wallclock.perf_counter() - started, (), verdict[1], self)
        seen.add(root.key)
        try:
            for _ in range(walks):
                state, path = root, []
                for _depth in range(max_depth):
                    steps: list[Step] = list(self._steps(state))
                    if not steps or self._pruned(state):
                        break
                    step = chooser.choice(steps)
                    child = self._apply(state, step)
                    transitions += 1
                    path.append(step)
                    if isinstance(child, str):
                        return SearchResult("violation", "random walks", len(seen), transitions,
                                            deepest, wallclock.perf_counter() - started,
                                            tuple(path), child, self)
                    deepest = max(deepest, len(path))
                    state = child
                    if child.key in seen:
                        continue
                    seen.add(child.key)
                    verdict = self._judge(child, deadlock)
                    if verdict is not None:
                        return SearchResult(verdict[0], "random walks", len(seen), transitions,
                                            deepest, wallclock.perf_counter() - started,
                                            tuple(path), verdict[1], self)
        except KeyboardInterrupt:
            return SearchResult("interrupted", "random walks", len(seen), transitions, deepest,
                                wallclock.perf_counter() - started, (), "", self)
        return SearchResult("no goal" if self._goals and not deadlock else "ok",
                            "random walks", len(seen),
                            transitions, deepest, wallclock.perf_counter() - started, (), "",
                            self)

    def _dfs(self, strategy: str, bound: int, max_states: int | None,
             time_limit: float | None, deadlock: bool, time_start: float | None
             ) -> SearchResult:
        started = time_start if time_start is not None else wallclock.perf_counter()
        root = self._initial()
        best: dict[Any, int] = {root.key: 0}  # state -> smallest depth it was explored at
        transitions = deepest = 0

        def result(verdict: str, path: Sequence[Step] = (), problem: str = "") -> SearchResult:
            return SearchResult(verdict, strategy, len(best), transitions, deepest,
                                wallclock.perf_counter() - started, tuple(path), problem, self)

        verdict = self._judge(root, deadlock)
        if verdict is not None:
            return result(verdict[0], (), verdict[1])
        path: list[Step] = []
        stack: list[Iterator[Step]] = [iter(self._steps(root))]
        states = [root]
        try:
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    stack.pop()
                    states.pop()
                    if path:
                        path.pop()
                    continue
                child = self._apply(states[-1], step)
                transitions += 1
                if isinstance(child, str):
                    return result("violation", [*path, step], child)
                depth = len(path) + 1
                if best.get(child.key, bound + 1) <= depth:
                    continue
                new = child.key not in best
                best[child.key] = depth
                deepest = max(deepest, depth)
                if new:
                    verdict = self._judge(child, deadlock)
                    if verdict is not None:
                        return result(verdict[0], [*path, step], verdict[1])
                if max_states is not None and len(best) >= max_states:
                    return result("limit")
                if time_limit is not None and wallclock.perf_counter() - started > time_limit:
                    return result("limit")
                if depth < bound and not self._pruned(child):
                    path.append(step)
                    states.append(child)
                    stack.append(iter(self._steps(child)))
        except KeyboardInterrupt:
            return result("interrupted")
        return result("no goal" if self._goals and not deadlock else "ok")

    # ----- judging states ----------------------------------------------------------------------

    def _judge(self, state: _State, deadlock: bool) -> tuple[str, str] | None:
        if not (self._invariants or self._goals or deadlock):
            return None
        view = StateView(self, state)
        for name, check in self._invariants:
            try:
                ok = check(view)
                problem = None if ok is None or ok else f"invariant {name!r} returned False"
            except AssertionError as exc:
                problem = f"invariant {name!r} violated: {exc or 'assertion failed'}"
            if problem is not None:
                return "violation", problem
        if not deadlock:
            for name, goal in self._goals:
                if goal(view):
                    return "goal", name
        elif not any(step.kind in ("deliver", "timer", "invoke")
                     for step in self._steps(state)) and \
                not any(goal(view) for _, goal in self._goals):
            # Quiescent: acceptable only where a goal holds (with no goals, never).
            return "violation", ("deadlock: nothing can happen any more and no goal holds"
                                 if self._goals else "deadlock: nothing can happen any more")
        return None

    def _pruned(self, state: _State) -> bool:
        if not self._prunes:
            return False
        view = StateView(self, state)
        return any(prune(view) for prune in self._prunes)

    # ----- the transition relation -----------------------------------------------------------

    def _steps(self, state: _State) -> Iterator[Step]:
        drops, dups, crashes = state.budget
        max_drops, max_dups, max_crashes = self._limits
        previous = None
        for src, dst, data in state.network:
            if (src, dst, data) == previous:
                continue  # identical copies: delivering either leads to the same state
            previous = (src, dst, data)
            yield Step("deliver", dst, src, data)
            if drops < max_drops:
                yield Step("drop", dst, src, data)
            if dups < max_dups:
                yield Step("duplicate", dst, src, data)
        for node_id, snap in zip(self._ids, state.nodes, strict=True):
            if snap.frozen is None:
                continue
            if snap.timers:
                first = min(deadline for _, deadline in snap.timers)
                for name, deadline in snap.timers:
                    if deadline == first:
                        yield Step("timer", node_id, name=name)
            if snap.client is not None and snap.client[1] is None and \
                    snap.client[0] < len(self._clients[node_id]):
                yield Step("invoke", node_id)
        for node_id, snap in zip(self._ids, state.nodes, strict=True):
            if snap.frozen is not None and crashes < max_crashes and \
                    node_id in self._servers:
                yield Step("crash", node_id)
            elif snap.frozen is None:
                yield Step("restart", node_id)

    def _apply(self, state: _State, step: Step) -> _State | str:
        """The state after ``step``, or a description of the error a handler raised."""
        kind = step.kind
        network = state.network
        budget = state.budget
        if kind in ("deliver", "drop", "duplicate"):
            entry = (step.src, step.node, step.data)
            if kind == "duplicate":
                moved = list(network)
                insort(moved, entry)
                return self._state(state.nodes, tuple(moved), state.time,
                                   (budget[0], budget[1] + 1, budget[2]))
            moved = list(network)
            moved.remove(entry)
            network = tuple(moved)
            if kind == "drop":
                return self._state(state.nodes, network, state.time,
                                   (budget[0] + 1, budget[1], budget[2]))
        index = self._position[step.node]
        snap = state.nodes[index]
        if kind == "crash":
            return self._replace(state, index, self._crashed(step.node, snap), network,
                                 state.time, (budget[0], budget[1], budget[2] + 1))
        if kind == "restart":
            return self._run(state, index, network, state.time, budget, None, step)
        if snap.frozen is None:  # a delivery to a crashed node: lost
            return self._state(state.nodes, network, state.time, budget)
        time = state.time
        if kind == "timer":
            time = max(time, dict(snap.timers)[step.name])
        return self._run(state, index, network, time, budget, snap, step)

    def _run(self, state: _State, index: int, network: tuple[tuple[str, str, bytes], ...],
             time: float, budget: tuple[int, int, int], snap: _NodeState | None,
             step: Step) -> _State | str:
        """Run one handler of node ``index`` (from ``snap``; None: restart it)."""
        node_id = self._ids[index]
        timers: dict[str, float]
        if snap is None:  # restart: a fresh object with the surviving storage
            old = state.nodes[index]
            incarnation = old.incarnation + 1
            storage = Storage(old.durable)
            rng: str | tuple[Any, ...] = f"{self.seed}/node/{node_id}/{incarnation}"
            timers = {}
            client: list[Any] | None = [old.client[0], None] if old.client is not None else None
            ctx = self._context(node_id, rng, storage, time, timers, client)
            try:
                node = construct(self._factories[node_id], ctx)
                node._dispatch_start(True)
            except Exception as exc:
                return f"node {node_id!r} raised {type(exc).__name__}: {exc} while restarting"
        else:
            incarnation = snap.incarnation
            assert snap.frozen is not None
            node, storage = _thaw(snap.frozen)
            rng = snap.rng
            timers = dict(snap.timers)
            client = list(snap.client) if snap.client is not None else None
            ctx = self._context(node_id, rng, storage, time, timers, client)
            node._ctx = ctx
            kind = step.kind
            try:
                if kind == "deliver":
                    msg, stamps = self._messages[step.data]
                    node._dispatch_message(step.src, msg, stamps)
                elif kind == "timer":
                    del timers[step.name]
                    node._dispatch_timer(step.name)
                else:  # invoke
                    assert client is not None and isinstance(node, Client)
                    op = self._clients[node_id][client[0]]
                    client[0] += 1
                    client[1] = op
                    node.on_invoke(dict(op))
            except Exception as exc:
                return (f"node {node_id!r} raised {type(exc).__name__}: {exc} "
                        f"({step.describe()})")
        if ctx.sent:
            moved = list(network)
            for dst, msg, stamps in ctx.sent:
                insort(moved, (node_id, dst, self._wire(msg, stamps)))
            network = tuple(moved)
        new = self._freeze(node, storage, ctx.rng_state(), incarnation, timers,
                           (client[0], client[1]) if client is not None else None)
        # The object the handler changed is this state's node from now on (each step
        # thaws its own copy): invariants read it without thawing another.
        new.live = node
        return self._replace(state, index, new, network, time, budget)

    def _context(self, node_id: str, rng: str | tuple[Any, ...], storage: Storage, time: float,
                 timers: dict[str, float], client: list[Any] | None) -> Any:
        # (Any: a _Context implements NodeContext and ClientContext, with rng read-only.)
        return _Context(node_id, self._peers[node_id], self._known, rng, storage, time,
                        timers, client)

    def _wire(self, msg: object, stamps: dict[str, Any] | None) -> bytes:
        """The message's wire form (its identity in the state), decoded copy cached."""
        shape = codec.wire_shape(msg) if stamps is None else None
        if shape is not None:
            # Equal messages of equal shape (the same types inside, so 1 and True differ)
            # have the same wire form: encode each once.
            cached = self._encoded.get((shape, msg))
            if cached is not None:
                return cached
        data = codec.dumps(codec.encode(msg, stamps))
        if shape is not None:
            self._encoded[(shape, msg)] = data
        if data not in self._messages:
            arrived = codec.loads(data)
            self._messages[data] = (codec.decode(arrived), arrived.get("stamps"))
        return data

    def _freeze(self, node: Node, storage: Storage, rng: str | tuple[Any, ...],
                incarnation: int, timers: dict[str, float], client: tuple[int, Any] | None
                ) -> _NodeState:
        durable, pending = storage._durable, storage._pending
        flat = _flat(node, self._immutables) if not self._symmetry else None
        frozen: tuple[Any, ...]
        if flat is not None:
            # The fast path: a node of immutable attributes is copied shallowly, and its
            # key is those attributes (with their types: 1 and True differ).
            frozen = ("flat", type(node), flat, tuple(durable.items()), tuple(pending.items()))
            node_key: Any = (type(node), flat, tuple([type(v) for _, v in flat]),
                             tuple(sorted(durable.items())), frozen[4])
        else:
            ctx = node._ctx
            node._ctx = None
            try:
                # The storage's contents, not its object (its sync counter is not state).
                pickled, data = self._copier.freeze((node, durable, pending))
                frozen = ("copy", pickled, data)
                if pickled and not self._symmetry and _EMPTY_SET not in data and \
                        _FROZENSET not in data:
                    # No set inside: the pickle is already canonical (dicts keep their
                    # order, which is state), and comparing bytes is far cheaper than
                    # walking objects.
                    node_key = data
                else:
                    node_key = (canonical(node), tuple(sorted(durable.items())),
                                tuple(pending.items()))
            finally:
                node._ctx = ctx
        timer_items = tuple(sorted(timers.items()))
        # An unused generator's seed label is implied by the node and its incarnation.
        key = _Key((node_key, timer_items, incarnation,
                    canonical(client) if client is not None else None,
                    None if isinstance(rng, str) else rng))
        return _NodeState(frozen, incarnation, timer_items, client, {}, key, rng)

    def _crashed(self, node_id: str, snap: _NodeState) -> _NodeState:
        assert snap.frozen is not None
        storage = _thaw(snap.frozen)[1]
        durable = storage.durable_snapshot()  # unsynced writes are lost: the worst case
        client = (snap.client[0], None) if snap.client is not None else None
        return self._down(durable, snap.incarnation, client)

    @staticmethod
    def _down(durable: dict[str, str], incarnation: int, client: tuple[int, Any] | None
              ) -> _NodeState:
        """A crashed node: what its storage kept, its incarnation, its client position."""
        key = _Key(("crashed", tuple(sorted(durable.items())), incarnation,
                    canonical(client) if client is not None else None))
        return _NodeState(None, incarnation, (), client, durable, key)

    def _replace(self, state: _State, index: int, snap: _NodeState,
                 network: tuple[tuple[str, str, bytes], ...], time: float,
                 budget: tuple[int, int, int]) -> _State:
        nodes = (*state.nodes[:index], snap, *state.nodes[index + 1:])
        return self._state(nodes, network, time, budget)

    def _state(self, nodes: tuple[_NodeState, ...], network: tuple[tuple[str, str, bytes], ...],
               time: float, budget: tuple[int, int, int]) -> _State:
        key: Any = ([n.key for n in nodes], network, time, budget)
        if self._symmetry:
            key = self._symmetric_key(key)
        else:
            key = _Key((tuple(key[0]), network, time, budget))
        return _State(nodes, network, time, budget, key)

    def _initial(self) -> _State:
        """Every node built, then every node started, in order (as the simulator's start);
        or, for a search made by :meth:`from_simulation`, the simulation's state."""
        if self._root is not None:
            return self._root
        built = []
        for node_id in self._ids:
            storage = Storage()
            rng = f"{self.seed}/node/{node_id}/0"
            timers: dict[str, float] = {}
            client: list[Any] | None = [0, None] if node_id in self._clients else None
            ctx = self._context(node_id, rng, storage, 0.0, timers, client)
            node = construct(self._factories[node_id], ctx)
            built.append((node_id, node, ctx))
        network: list[tuple[str, str, bytes]] = []
        snaps = []
        for _, node, _ in built:
            node._dispatch_start(False)
        for node_id, node, ctx in built:
            for dst, msg, stamps in ctx.sent:
                insort(network, (node_id, dst, self._wire(msg, stamps)))
            state = (ctx.client[0], ctx.client[1]) if ctx.client is not None else None
            snaps.append(self._freeze(node, ctx.storage, ctx.rng_state(), 0, ctx.timers,
                                      state))
        return self._state(tuple(snaps), tuple(network), 0.0, (0, 0, 0))

    # ----- symmetry ----------------------------------------------------------------------------

    def _permutations(self, groups: Sequence[Sequence[str]]) -> list[_Renaming]:
        if not groups:
            return []
        for group in groups:
            for node_id in group:
                if node_id not in self._servers and node_id not in self._clients:
                    raise ConfigError(f"symmetry names {node_id!r}, which is not a node")
        per_group = [[dict(zip(g, p, strict=True)) for p in itertools.permutations(g)]
                     for g in groups]
        maps = []
        for combo in itertools.product(*per_group):
            mapping: dict[str, str] = {}
            for part in combo:
                mapping.update(part)
            if any(k != v for k, v in mapping.items()):
                maps.append(_Renaming(mapping, [self._position[mapping.get(i, i)]
                                                for i in self._ids]))
        return maps

    def _symmetric_key(self, key: Any) -> Any:
        """The same representative for every state of one symmetry orbit."""
        node_keys, network, time, budget = key
        node_keys = [k.value for k in node_keys]
        candidates = [(tuple(node_keys), network, time, budget)]
        for renaming in self._symmetry:
            renamed_nodes: list[Any] = [None] * len(node_keys)
            for old_index, node_key in enumerate(node_keys):
                renamed_nodes[renaming.order[old_index]] = _rename(node_key, renaming.mapping)
            renamed_net = sorted((renaming.id(s), renaming.id(d), renaming.text(data))
                                 for s, d, data in network)
            candidates.append((tuple(renamed_nodes), tuple(renamed_net), time, budget))
        return min(candidates, key=lambda k: (hash(k), repr(k)))

    # ----- replay ----------------------------------------------------------------------------

    def replay(self, path: Iterable[Step], *, check: bool = False) -> Simulation:
        """Run ``path`` in the simulator and return it (see :meth:`SearchResult.replay`)."""
        if self._root is not None:
            from dsys.search.branch import replay_branch

            return replay_branch(self, path, check=check)
        sim = Simulation(seed=self.seed, network=Network(latency=0.0))
        for node_id in self._servers:
            sim.add_node(node_id, self._factories[node_id])
        for client_id, ops in self._clients.items():
            # The very operations the search drew (a workload may not be a pure function
            # of its rng: drawing again could give others).
            sim.add_client(client_id, self._factories[client_id],
                           workload=_Replayed(ops), ops=len(ops))
        if check:
            for name, invariant in self._invariants:
                sim.add_invariant(invariant, name)
        start = next(e for e in sim.pending() if isinstance(e, Start))
        sim.fire(start)
        self._follow(sim, path)
        return sim

    def _follow(self, sim: Simulation, path: Iterable[Step]) -> None:
        """Make ``sim`` take the steps of ``path``, one event each."""
        for step in path:
            if step.kind == "crash":
                sim.crash(step.node, unsynced="lost")
            elif step.kind == "restart":
                sim.restart(step.node)
            else:
                event = self._match(sim, step)
                if step.kind == "drop":
                    sim.drop(event)
                elif step.kind == "duplicate":
                    sim.duplicate(event)
                else:
                    sim.fire(event)

    def _match(self, sim: Simulation, step: Step) -> Any:
        for event in sim.pending():
            if step.kind == "timer":
                if isinstance(event, Timer) and event.target == step.node and \
                        event.name == step.name:
                    return event
            elif step.kind == "invoke":
                # (An invocation left from before a crash of the client does nothing.)
                if isinstance(event, Invoke) and event.client == step.node and \
                        event.incarnation == sim._slots[event.client].incarnation:
                    return event
            elif isinstance(event, Deliver) and event.src == step.src and \
                    event.dst == step.node and \
                    codec.dumps(codec.encode(event.msg, event.stamps)) == step.data:
                return event
        raise UsageError(f"the replay diverged from the search at {step.describe()}: the "
                         "simulator has no such pending event (does a node use the wall "
                         "clock, the global random, or set order?)")


class _Replayed:
    """A workload that gives the operations drawn before, in order."""

    def __init__(self, ops: Sequence[Mapping[str, Any]]) -> None:
        self._ops = iter(ops)

    def __call__(self, rng: random.Random) -> Mapping[str, Any]:
        return next(self._ops)


class _Renaming:
    """One permutation of interchangeable ids: in keys, node positions and wire text."""

    __slots__ = ("_pattern", "mapping", "order")

    def __init__(self, mapping: dict[str, str], order: list[int]) -> None:
        self.mapping = mapping
        self.order = order  # new position of the node at each old position
        self._pattern = re.compile(
            b'"(' + b"|".join(re.escape(k.encode()) for k in mapping) + b')"')

    def id(self, node_id: str) -> str:
        return self.mapping.get(node_id, node_id)

    def text(self, data: bytes) -> bytes:
        """JSON text with every id that is a whole JSON string renamed."""
        mapping = self.mapping
        return self._pattern.sub(
            lambda m: b'"' + mapping[m.group(1).decode()].encode() + b'"', data)


def _rename(value: Any, mapping: Mapping[str, str]) -> Any:
    """``value`` (a key) with node ids renamed by ``mapping`` where they are whole strings
    (sets re-sorted, so the result is a canonical key again)."""
    kind = type(value)
    if kind is str:
        return mapping.get(value, value)
    if kind is tuple:
        renamed = tuple(_rename(v, mapping) for v in value)
        if len(renamed) == 2 and renamed[0] == "s" and type(renamed[1]) is tuple:
            return sorted_set(renamed[1])
        return renamed
    return value

