"""A test harness for Raft, in virtual time: what MIT 6.5840's ``config.go`` is to its labs.

:class:`RaftCluster` runs ``n`` Raft servers (named ``s0`` .. ``s{n-1}``) in a
:class:`~dsys.Simulation` and gives a test the tester's vocabulary: ``disconnect``,
``connect``, ``crash``, ``restart``, ``set_unreliable``; ``check_one_leader``,
``check_terms``, ``check_no_leader``; ``one`` (agree on a command), ``n_committed``,
``wait``; ``rpc_count`` and ``bytes_sent``. The scenarios of MIT's public Raft tests are
written on it in :mod:`dsys.testing.raft_scenarios`.

A :class:`RaftAdapter` says how the harness talks to one kind of Raft node: the dsys
reference (:meth:`RaftAdapter.for_component`, a service node holding a
:class:`dsys.raft.Raft`) or a student's ``RaftNode`` (:meth:`RaftAdapter.for_lab`).

Rules of this file:

* Every wait is in **virtual** seconds and runs the simulation (through ``run_until``,
  the simulation's own or a grader's ``trial.run_until``, which also bounds the number
  of events); nothing here reads the wall clock or the global ``random``: the harness's
  own choices come from :attr:`RaftCluster.rng`, seeded from the simulation's seed.
* What a server applied is read from the trace, never from the node's insides: a server
  notes ``note("apply", index=i, command=c)`` for each entry it applies, in order
  (``noop=True`` for a leader's no-op entry: it takes an index but is no command), and
  ``note("restore", index=i)`` when a snapshot replaces its state.
* The safety properties are checked after **every** event (``sim.add_invariant``):
  election safety (two servers never lead one term, polled through the adapter),
  state machine safety (two servers never apply different commands at one index),
  applies in increasing index order with no gap but where a snapshot was restored, and
  restored snapshot data equal to the canonical state at its index. A violation stops
  the run with an :class:`~dsys.sim.report.InvariantViolation` that says in words which
  server did what, at which index, in which term, at what virtual time. (A restart runs
  the server's ``on_start`` outside any event: it is checked at once, and a violation
  there is an ``AssertionError`` with the same words.)
* Failures of the tester's checks are ``AssertionError`` with a sentence that says what
  was expected and what was seen.

Example:
    >>> from dsys import Simulation
    >>> from dsys.testing.raft import RaftAdapter, RaftCluster
    >>> cluster = RaftCluster(Simulation(seed=3), RaftAdapter.for_component(), 3)
    >>> leader = cluster.check_one_leader()
    >>> index = cluster.one(101, expected_servers=3)
    >>> cluster.n_committed(index)
    (3, 101)
    >>> cluster.disconnect(leader)
    >>> new = cluster.check_one_leader()
    >>> new != leader and cluster.one(102, expected_servers=2) > index
    True
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Generator, Iterable, Mapping
from random import Random
from typing import Any

import attrs

from dsys.core import codec
from dsys.core.node import Node
from dsys.errors import ConfigError, UsageError
from dsys.raft import Raft
from dsys.sim.network import Latency, LinkSettings, Uniform
from dsys.sim.simulation import Simulation

__all__ = [
    "NOOP",
    "Process",
    "RaftAdapter",
    "RaftCluster",
    "RaftServer",
    "RunUntil",
    "Service",
    "Steps",
    "canonical_data",
    "chain_digest",
]

#: ``run_until(sim, predicate, *, timeout) -> bool``: how the cluster runs its
#: simulation (a grader passes ``trial.run_until``, which bounds the events).
RunUntil = Callable[..., bool]


class _NoOp:
    """The marker of a leader's no-op entry in :attr:`RaftCluster.log`."""

    def __repr__(self) -> str:
        return "NOOP"


#: What :attr:`RaftCluster.log` holds at the index of a leader's no-op entry.
NOOP: Any = _NoOp()


# ----- the canonical service state ---------------------------------------------------------


def chain_digest(digest: str, command: Any) -> str:
    """The next link of the hash chain of applied commands: SHA-256 (hex) of the previous
    digest and the command's canonical JSON. The chain starts from ``""``.

    Example:
        >>> d = chain_digest(chain_digest("", 1), "x")
        >>> d == chain_digest(chain_digest("", 1), "x") != chain_digest(chain_digest("", "x"), 1)
        True
    """
    text = json.dumps(command, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(f"{digest}\n{text}".encode()).hexdigest()


def canonical_data(index: int, commands: Iterable[Any]) -> dict[str, Any]:
    """The snapshot data a correct service has after applying ``commands`` (in index
    order, no-ops left out) through log index ``index``: ``{"index": index, "digest":
    <hash chain of the commands>}``.

    Example:
        >>> canonical_data(2, [7, 8]) == {"index": 2,
        ...     "digest": chain_digest(chain_digest("", 7), 8)}
        True
    """
    digest = ""
    for command in commands:
        digest = chain_digest(digest, command)
    return {"index": index, "digest": digest}


class Service:
    """The service the harness puts on top of a Raft server: it applies commands to a
    hash chain, asks Raft for a snapshot every ``snapshot_every`` commands (through
    ``take_snapshot(index, data)``), and resets itself when a snapshot is restored.

    Every restore is kept in :attr:`restores` (``(index, data)``) until the harness
    checks it against the canonical state.

    Example:
        >>> taken = []
        >>> service = Service(snapshot_every=2, take_snapshot=lambda i, d: taken.append(i))
        >>> for index, command in [(1, "a"), (2, "b"), (3, "c")]:
        ...     _ = service.apply(index, command)
        >>> taken, service.index
        ([2], 3)
        >>> service.restore(2, canonical_data(2, ["a", "b"]))
        >>> service.index, service.restores[0][0]
        (2, 2)
    """

    def __init__(self, *, snapshot_every: int | None = None,
                 take_snapshot: Callable[[int, Any], Any] | None = None) -> None:
        self.snapshot_every = snapshot_every
        self.take_snapshot = take_snapshot
        self.index = 0
        self.digest = ""
        self.since_snapshot = 0
        self.restores: list[tuple[int, Any]] = []

    @property
    def data(self) -> dict[str, Any]:
        """The service's state, as snapshot data."""
        return {"index": self.index, "digest": self.digest}

    def apply(self, index: int, command: Any) -> int:
        """Apply ``command`` at ``index``; snapshot if ``snapshot_every`` commands were
        applied since the last snapshot (or restore). Returns ``index``."""
        self.index = index
        self.digest = chain_digest(self.digest, command)
        self.since_snapshot += 1
        if (self.snapshot_every is not None and self.take_snapshot is not None
                and self.since_snapshot >= self.snapshot_every):
            self.since_snapshot = 0
            self.take_snapshot(index, self.data)
        return index

    def restore(self, index: int, data: Any) -> None:
        """A snapshot replaced the state: keep it for the harness's check, and adopt it."""
        self.restores.append((index, data))
        self.index = index
        self.digest = data.get("digest", "") if isinstance(data, dict) else ""
        self.since_snapshot = 0


# ----- adapters --------------------------------------------------------------------------------


class RaftServer(Node):
    """The service node of :meth:`RaftAdapter.for_component`: a :class:`dsys.raft.Raft`
    (as ``self.raft``) applying to a :class:`Service` (``self.service``)."""

    def __init__(self, raft_options: Mapping[str, Any] | None = None,
                 snapshot_every: int | None = None, raft_class: type[Raft] = Raft) -> None:
        super().__init__()
        self.service = Service(snapshot_every=snapshot_every, take_snapshot=self._snapshot)
        self.raft = self.add_component(raft_class(self.service, **dict(raft_options or {})))

    def _snapshot(self, index: int, data: Any) -> None:
        self.raft.snapshot(index, data)


def _lab_service(node_class: type[Node], snapshot_every: int | None) -> type[Node]:
    """A subclass of the student's node that acts as the service above it."""

    def service(self: Any) -> Service:
        found = self.__dict__.get("_dsys_service")
        if found is None:
            found = self.__dict__["_dsys_service"] = Service(
                snapshot_every=snapshot_every, take_snapshot=lambda i, d: self.snapshot(i, d))
        return found

    def apply(self: Any, index: int, command: Any) -> None:
        node_class.apply(self, index, command)  # type: ignore[attr-defined]
        service(self).apply(index, command)

    def restore(self: Any, index: int, data: Any) -> None:
        parent = getattr(node_class, "restore", None)
        if parent is not None:
            parent(self, index, data)
        service(self).restore(index, data)

    return type(node_class.__name__, (node_class,), {
        "apply": apply, "restore": restore, "service": property(service),
        "__module__": node_class.__module__, "__qualname__": node_class.__qualname__})


@attrs.frozen
class RaftAdapter:
    """How the harness talks to one kind of Raft node.

    Attributes:
        factory: builds a node (passed to ``sim.add_node``; called again on restarts).
        state: ``(term, is_leader)`` of a running node.
        start: proposes a command on a node: ``(index, term)``, or None if it does not
            lead (needed from the log-replication scenarios on).
        log_bytes: the size of the Raft state a node keeps (default: the bytes of its
            synced storage, keys and JSON values): the snapshot scenarios bound it.
        service: the :class:`Service` of a node, whose restored snapshots the harness
            checks (None: snapshots are not checked).
        election_timeout: MIT's ``RaftElectionTimeout`` in virtual seconds: the
            scenarios sleep multiples of it, and expect a new leader within it.
        heartbeat: the shortest interval between a leader's heartbeats the
            implementation uses (MIT requires at most ten per second): the bounds on
            message counts are derived from it.
        noops: the implementation appends a no-op entry when it becomes leader (so a
            command's index may be one past the next free index).
        snapshot_every: the service snapshots every this many commands (None: never).

    Example:
        >>> adapter = RaftAdapter.for_component(heartbeat=0.05)
        >>> adapter.heartbeat, adapter.noops
        (0.05, True)
    """

    factory: Callable[[], Node]
    state: Callable[[Node], tuple[int, bool]]
    start: Callable[[Node, Any], tuple[int, int] | None] | None = None
    log_bytes: Callable[[Node], int] | None = None
    service: Callable[[Node], Service | None] | None = None
    election_timeout: float = 1.0
    heartbeat: float = 0.1
    noops: bool = False
    snapshot_every: int | None = None

    @classmethod
    def for_component(cls, *, snapshot_every: int | None = None,
                      raft_class: type[Raft] = Raft, **raft_options: Any) -> RaftAdapter:
        """The dsys reference: a :class:`RaftServer` holding ``Raft(**raft_options)``
        under a hash-chain :class:`Service` that snapshots every ``snapshot_every``
        commands (``Raft.snapshot``). ``raft_class`` replaces :class:`~dsys.raft.Raft`
        by a subclass (a variant, or a deliberately broken one)."""
        options = dict(raft_options)
        heartbeat = float(options.get("heartbeat", 0.05))
        high = float(options.get("election_timeout", (0.15, 0.3))[1])

        def log_bytes(node: Node) -> int:
            raft: Any = node.raft  # type: ignore[attr-defined]
            if hasattr(raft, "log_bytes"):
                return int(raft.log_bytes())
            return _storage_bytes(node)

        return cls(
            factory=functools.partial(RaftServer, options, snapshot_every, raft_class),
            state=_component_state,
            start=_component_start,
            log_bytes=log_bytes,
            service=lambda node: node.service,  # type: ignore[attr-defined]
            election_timeout=max(1.0, 3 * high),
            heartbeat=heartbeat,
            noops=True,
            snapshot_every=snapshot_every,
        )

    @classmethod
    def for_lab(cls, node_class: type[Node], *, snapshot_every: int | None = None,
                election_timeout: float = 1.0, heartbeat: float = 0.1) -> RaftAdapter:
        """A student's ``RaftNode``: ``get_state() -> (term, is_leader)``,
        ``start(command) -> (index, term) | None``, and ``self.apply(index, command)``
        called for each committed command in order (the starter's ``apply`` notes it).

        The harness runs a subclass whose ``apply`` also feeds a hash-chain
        :class:`Service`; with ``snapshot_every`` that service calls
        ``self.snapshot(index, data)`` every that many commands, and the node's
        ``self.restore(index, data)`` (called when it installs a snapshot, from its
        leader or at restart) is checked against the canonical state and resets it.
        """
        if not (isinstance(node_class, type) and issubclass(node_class, Node)):
            raise ConfigError(f"for_lab needs a Node subclass, got {node_class!r}")
        if not callable(getattr(node_class, "get_state", None)):
            raise ConfigError(f"{node_class.__name__} has no get_state() method: it must "
                              "return (term, is_leader)")
        if not callable(getattr(node_class, "apply", None)):
            raise ConfigError(f"{node_class.__name__} has no apply(index, command) method: "
                              "keep the starter's, and call it for each committed command")
        if snapshot_every is not None and not callable(getattr(node_class, "snapshot", None)):
            raise ConfigError(f"{node_class.__name__} has no snapshot(index, data) method: "
                              "the service hands it its state every "
                              f"{snapshot_every} commands")
        return cls(
            factory=_lab_service(node_class, snapshot_every),
            state=_lab_state,
            start=_lab_start,
            log_bytes=_storage_bytes,
            service=lambda node: node.service,  # type: ignore[attr-defined]
            election_timeout=election_timeout,
            heartbeat=heartbeat,
            noops=False,
            snapshot_every=snapshot_every,
        )


def _lab_state(node: Node) -> tuple[int, bool]:
    state = node.get_state()  # type: ignore[attr-defined]
    if (not isinstance(state, tuple | list) or len(state) != 2
            or not isinstance(state[0], int) or not isinstance(state[1], bool)):
        raise AssertionError(f"{node.id}.get_state() returned {state!r}: it must return "
                             "(term, is_leader), an int and a bool")
    return state[0], state[1]


def _lab_start(node: Node, command: Any) -> tuple[int, int] | None:
    answer = node.start(command)  # type: ignore[attr-defined]
    if answer is None:
        return None
    if (not isinstance(answer, tuple | list) or len(answer) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in answer)):
        raise AssertionError(f"{node.id}.start({command!r}) returned {answer!r}: it must "
                             "return (index, term), or None when it does not lead")
    return answer[0], answer[1]


def _component_state(node: Node) -> tuple[int, bool]:
    raft: Raft = node.raft  # type: ignore[attr-defined]
    return raft.term, raft.is_leader


def _component_start(node: Node, command: Any) -> tuple[int, int] | None:
    raft: Raft = node.raft  # type: ignore[attr-defined]
    return raft.start(command)


def _storage_bytes(node: Node) -> int:
    """The bytes of a node's synced storage: keys and JSON values."""
    return sum(len(k) + len(v) for k, v in node.storage.durable_snapshot().items())


@attrs.frozen
class _HeldBack:
    """A latency that holds some messages back for long (MIT's long reordering)."""

    latency: Latency
    probability: float = 0.42

    def sample(self, rng: Random) -> float:
        delay = self.latency.sample(rng)
        if rng.random() < self.probability:
            delay += 0.2 + rng.uniform(0.0, rng.uniform(0.0, 2.0))
        return delay


# ----- processes: MIT's goroutines, in virtual time ------------------------------------------


#: A process's steps: a generator that yields how long to sleep (virtual seconds) and
#: returns its result.
Steps = Generator[float, None, Any]


class Process:
    """Something a test does over virtual time beside the servers (MIT's ``go ...``),
    started with :meth:`RaftCluster.spawn`: ``done``, then ``result`` or ``error``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.done = False
        self.result: Any = None
        self.error: AssertionError | None = None

    def __repr__(self) -> str:
        state = ("failed" if self.error else "done") if self.done else "running"
        return f"Process({self.name!r}, {state})"


# ----- the cluster ------------------------------------------------------------------------------


class RaftCluster:
    """``n`` Raft servers, ``s0`` .. ``s{n-1}``, in ``sim``, with the tester's vocabulary
    and the safety invariants checked after every event (see the module docstring).

    Args:
        sim: a simulation that records its trace (the harness reads the servers' notes).
        adapter: how to build and talk to a server.
        n: the number of servers.
        run_until: ``run_until(sim, predicate, *, timeout) -> bool``; default
            ``sim.run_until``; a grader passes ``trial.run_until``.
        reliable: False starts the network unreliable (see :meth:`set_unreliable`).

    Servers start at the current virtual time. :attr:`applied` maps each server to
    ``{index: command}`` of the commands it applied (across its restarts, and those a
    restored snapshot holds); :attr:`log` is the one agreed log (``NOOP`` at the indexes
    of no-op entries).

    Example:
        >>> cluster = RaftCluster(Simulation(seed=1), RaftAdapter.for_component(), 3)
        >>> cluster.names
        ('s0', 's1', 's2')
        >>> cluster.one("x", expected_servers=3)  # index 1 holds the leader's no-op
        2
        >>> cluster.log
        {1: NOOP, 2: 'x'}
    """

    def __init__(self, sim: Simulation, adapter: RaftAdapter, n: int, *,
                 run_until: RunUntil | None = None, reliable: bool = True) -> None:
        if not sim.trace.enabled:
            raise ConfigError("RaftCluster reads the servers' notes from the trace: build the "
                              "Simulation with trace=True")
        if n < 1:
            raise ConfigError(f"a Raft cluster needs at least one server, got n={n}")
        self.sim = sim
        self.adapter = adapter
        self.names: tuple[str, ...] = tuple(f"s{i}" for i in range(n))
        self.rng = Random(f"{sim.seed}/raft-harness")
        self._run_until: RunUntil = run_until or (
            lambda s, predicate, *, timeout: s.run_until(predicate, timeout=timeout))
        self.applied: dict[str, dict[int, Any]] = {name: {} for name in self.names}
        self.log: dict[int, Any] = {}  # index -> command (or NOOP), as first applied
        self._first: dict[int, tuple[str, float]] = {}  # index -> who applied it first, when
        self._last: dict[str, int] = dict.fromkeys(self.names, 0)  # per incarnation
        self._leaders: dict[int, tuple[str, float]] = {}  # term -> (leader, since)
        self._cursor = 0  # trace events read so far
        self._bytes_cursor = 0
        self._bytes = 0
        self._cut: set[str] = set()
        self._failures: list[AssertionError] = []
        #: What a check noticed without failing (MIT's "warning: ..."), in order.
        self.warnings: list[str] = []
        self._reliable: LinkSettings = sim.network.default
        self._unreliable = False
        self._long_reordering = False
        for name in self.names:
            sim.add_node(name, adapter.factory)
        sim.add_invariant(self._invariant, name="raft safety")
        if not reliable:
            self.set_unreliable(True)

    # ----- faults --------------------------------------------------------------------

    def crash(self, name: str, unsynced: str = "seeded") -> None:
        """Crash server ``name`` (``sim.crash``: its unsynced writes survive by the seed's
        coin flips, or ``"lost"``/``"kept"``). Its connections are unchanged."""
        self._check_name(name)
        self.sim.crash(name, unsynced=unsynced)

    def restart(self, name: str) -> None:
        """Restart server ``name`` from its durable storage (MIT's ``start1``: a running
        server is crashed first). Its connections are unchanged."""
        self._check_name(name)
        if self.sim.is_up(name):
            self.sim.crash(name)
        self.sim.restart(name)
        self._invariant(self.sim)  # it ran on_start outside any event: check it now

    def disconnect(self, name: str) -> None:
        """Cut server ``name`` off from every other server, both ways (messages in
        flight to or from it are lost too)."""
        self._check_name(name)
        self._cut.add(name)
        self._partition()

    def connect(self, name: str) -> None:
        """Undo :meth:`disconnect` for ``name``."""
        self._check_name(name)
        self._cut.discard(name)
        self._partition()

    def is_connected(self, name: str) -> bool:
        """True unless ``name`` is disconnected (a crashed server may be "connected")."""
        return name not in self._cut

    def is_up(self, name: str) -> bool:
        """True while server ``name`` runs (not crashed)."""
        return self.sim.is_up(name)

    def set_unreliable(self, flag: bool) -> None:
        """MIT's unreliable network: each message lost with probability 0.1, latency
        1-27 ms (so messages overtake each other). False restores the network the
        cluster was built with."""
        self._unreliable = flag
        self._apply_network()

    def set_long_reordering(self, flag: bool) -> None:
        """MIT's long reordering: some messages are held back by 0.2 to 2.2 extra
        seconds (most by well under one), so very old messages keep arriving. MIT delays
        two replies in three; a message here does not know whether it is a reply, so
        each is held back with probability 0.42: a request and its reply together, with
        probability 2/3."""
        self._long_reordering = flag
        self._apply_network()

    def _apply_network(self) -> None:
        settings = self._reliable
        if self._unreliable:
            settings = attrs.evolve(settings, drop=0.1, latency=Uniform(0.001, 0.027))
        if self._long_reordering:
            settings = attrs.evolve(settings, latency=_HeldBack(settings.latency))
        self.sim.network.default = settings

    def _partition(self) -> None:
        if self._cut:
            self.sim.partition(*([name] for name in sorted(self._cut)))
        else:
            self.sim.heal()

    # ----- running ---------------------------------------------------------------------

    def run(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass."""
        self.run_until(lambda: False, timeout=seconds)

    def run_until(self, predicate: Callable[[], bool], *, timeout: float) -> bool:
        """Run until ``predicate()`` holds (True) or ``timeout`` virtual seconds pass
        (False). A failure of a spawned process is raised here."""
        self._raise_failures()
        done = bool(self._run_until(self.sim, lambda s: predicate(), timeout=timeout))
        self._raise_failures()
        return done

    def spawn(self, steps: Steps, name: str = "process") -> Process:
        """Run ``steps`` beside the servers (MIT's ``go f()``): the generator runs until
        it yields a delay, sleeps that long in virtual time, and so on until it returns
        (``process.result``). An AssertionError it raises stops the run and is raised by
        the cluster's next (or current) wait.

        Example:
            >>> cluster = RaftCluster(Simulation(seed=2), RaftAdapter.for_component(), 3)
            >>> def sleeper() -> Steps:
            ...     yield 1.5
            ...     return cluster.sim.now
            >>> cluster.join(cluster.spawn(sleeper()), timeout=2.0)
            1.5
        """
        process = Process(name)
        self.sim.after(0.0, self._step, process, steps)
        return process

    def _step(self, process: Process, steps: Steps) -> None:
        try:
            delay = next(steps)
        except StopIteration as stop:
            process.done, process.result = True, stop.value
            return
        except AssertionError as exc:
            process.done, process.error = True, exc
            self._failures.append(exc)
            self.sim.stop()
            return
        self.sim.after(delay, self._step, process, steps)

    def _raise_failures(self) -> None:
        if self._failures:
            raise self._failures.pop(0)

    def join(self, process: Process, timeout: float) -> Any:
        """Wait (at most ``timeout`` virtual seconds) for ``process`` to finish; its
        result."""
        if not self.run_until(lambda: process.done, timeout=timeout):
            raise AssertionError(f"{process.name} did not finish within {timeout} s "
                                 f"(virtual time t={self.sim.now:.6f})")
        if process.error is not None:
            raise process.error
        return process.result

    # ----- the tester's checks ------------------------------------------------------------

    def state(self, name: str) -> tuple[int, bool] | None:
        """``(term, is_leader)`` of server ``name``, or None while it is down."""
        node = self.sim.node(name)
        return None if node is None else self.adapter.state(node)

    def _live(self) -> list[str]:
        """Connected running servers, in order."""
        return [n for n in self.names if n not in self._cut and self.sim.is_up(n)]

    def _leader_now(self) -> str | None:
        best: tuple[int, str] | None = None
        for name in self._live():
            state = self.state(name)
            if state is not None and state[1] and (best is None or state[0] > best[0]):
                best = (state[0], name)
        return None if best is None else best[1]

    def check_one_leader(self, within: float | None = None) -> str:
        """MIT's ``checkOneLeader``: let about half an election timeout pass (0.45 to
        0.55 of it: a server that just reconnected hears the current term meanwhile),
        then look for a leader among the connected running servers, again and again for
        at most ``within`` virtual seconds (default five election timeouts); return the
        leader of the highest term. Two leaders of one term fail at once (an invariant).
        """
        timeout = self.adapter.election_timeout
        within = 5 * timeout if within is None else within
        deadline = self.sim.now + within
        while True:
            pause = self.rng.uniform(0.45, 0.55) * timeout
            self.run(max(0.0, min(pause, deadline - self.sim.now)))
            leader = self._leader_now()
            if leader is not None:
                return leader
            if self.sim.now >= deadline:
                raise AssertionError(
                    f"expected one leader among the connected servers "
                    f"{self._describe_live()}, got none within {within:g} s (virtual time "
                    f"t={self.sim.now:.6f})")

    def check_terms(self) -> int:
        """MIT's ``checkTerms``: every connected running server is in the same term;
        return it."""
        terms = {name: self.state(name)[0] for name in self._live()}  # type: ignore[index]
        if len(set(terms.values())) > 1:
            raise AssertionError(f"servers disagree on the term at t={self.sim.now:.6f}: "
                                 + ", ".join(f"{n} in term {t}" for n, t in terms.items()))
        return next(iter(terms.values()), -1)

    def check_no_leader(self) -> None:
        """MIT's ``checkNoLeader``: no connected running server claims to lead."""
        for name in self._live():
            state = self.state(name)
            if state is not None and state[1]:
                raise AssertionError(
                    f"expected no leader among the connected servers, but {name} claims to "
                    f"lead term {state[0]} (virtual time t={self.sim.now:.6f})")

    def n_committed(self, index: int) -> tuple[int, Any]:
        """MIT's ``nCommitted``: how many servers applied a command at ``index`` (over
        their restarts), and which (None if none did; no-op entries are not commands)."""
        self._ingest()
        count, command = 0, None
        for name in self.names:
            applied = self.applied[name]
            if index in applied:
                count += 1
                command = applied[index]
        return count, command

    def start(self, name: str, command: Any) -> tuple[int, int] | None:
        """Propose ``command`` at server ``name``: ``(index, term)``, or None if it is
        down or does not lead."""
        if self.adapter.start is None:
            raise UsageError("this RaftAdapter has no start: it cannot propose commands")
        node = self.sim.node(name)
        if node is None:
            return None
        return self.adapter.start(node, command)

    def one(self, command: Any, expected_servers: int, retry: bool = False, *,
            tries: int = 10) -> int:
        """MIT's ``cfg.one``: have ``command`` committed and applied by at least
        ``expected_servers`` servers, and return its index. Tries each connected
        running server until one accepts it; waits two election timeouts for agreement;
        with ``retry`` tries again until ``tries`` election timeouts have passed (MIT:
        ten)."""
        process = self.submit(command, expected_servers, retry, tries=tries)
        return self.join(process, timeout=(tries + 3) * self.adapter.election_timeout)

    def submit(self, command: Any, expected_servers: int, retry: bool = False, *,
               tries: int = 10) -> Process:
        """:meth:`one` as a :class:`Process` (MIT's ``go cfg.one(...)``)."""
        return self.spawn(self._one(command, expected_servers, retry, tries),
                          name=f"one({command!r})")

    def _one(self, command: Any, expected: int, retry: bool, tries: int = 10) -> Steps:
        timeout = self.adapter.election_timeout
        began = self.sim.now
        starts = 0
        tried: list[str] = []
        while self.sim.now - began < tries * timeout:
            index = None
            for _ in self.names:
                starts = (starts + 1) % len(self.names)
                name = self.names[starts]
                if self.is_connected(name) and self.sim.is_up(name):
                    answer = self.start(name, command)
                    if answer is not None:
                        index = answer[0]
                        tried.append(f"{name} took it at index {index} in term {answer[1]}")
                        break
            if index is None:
                yield 0.05
                continue
            since = self.sim.now
            while self.sim.now - since < 2 * timeout:
                count, applied = self.n_committed(index)
                if count > 0 and count >= expected and applied == command:
                    return index
                yield 0.02
            if not retry:
                raise AssertionError(
                    f"one({command!r}) failed to reach agreement: {tried[-1]}, but after "
                    f"{2 * timeout:g} s {self._describe_index(index)} (wanted {expected} "
                    f"servers; virtual time t={self.sim.now:.6f})")
        raise AssertionError(
            f"one({command!r}) failed to reach agreement within {tries * timeout:g} s: "
            + ("; ".join(tried[-3:]) if tried else "no connected server accepted it")
            + f" (virtual time t={self.sim.now:.6f})")

    def wait(self, index: int, n: int, start_term: int = -1) -> Any:
        """MIT's ``cfg.wait``: wait until at least ``n`` servers applied ``index`` and
        return the command. Returns None early if some server moved to a term past
        ``start_term`` (when it is not -1): the command may never commit."""
        def settled() -> bool:
            if self.n_committed(index)[0] >= n:
                return True
            return start_term > -1 and any(
                s is not None and s[0] > start_term for s in map(self.state, self.names))

        self.run_until(settled, timeout=25 * self.adapter.election_timeout)
        count, command = self.n_committed(index)
        if count >= n:
            return command
        if start_term > -1 and any(
                s is not None and s[0] > start_term for s in map(self.state, self.names)):
            return None
        raise AssertionError(f"only {count} servers applied index {index}; wanted {n} "
                             f"({self._describe_index(index)}; virtual time "
                             f"t={self.sim.now:.6f})")

    # ----- counting -----------------------------------------------------------------------

    def rpc_count(self, name: str | None = None) -> int:
        """Messages sent by server ``name`` (all servers if None) since the start; a
        request and its reply count as two."""
        by_node = self.sim.statistics().by_node
        names = self.names if name is None else (name,)
        return sum(by_node.get(n, {}).get("sent", 0) for n in names)

    def bytes_sent(self) -> int:
        """Bytes of every message the servers sent so far, as encoded on the wire (JSON,
        with its stamps)."""
        trace = self.sim.trace
        servers = set(self.names)
        for position in range(self._bytes_cursor, len(trace)):
            event = trace[position]
            if event.kind == "send" and event.node in servers:
                envelope = codec.encode(event.data["msg"], event.data.get("stamps"))
                self._bytes += len(codec.dumps(envelope))
        self._bytes_cursor = len(trace)
        return self._bytes

    def log_size(self, name: str) -> int:
        """The size of the Raft state server ``name`` keeps (see
        :attr:`RaftAdapter.log_bytes`); 0 while it is down."""
        node = self.sim.node(name)
        if node is None:
            return 0
        measure = self.adapter.log_bytes or _storage_bytes
        return measure(node)

    def warn(self, text: str) -> None:
        """Record a warning (something odd that does not fail the test)."""
        self.warnings.append(f"t={self.sim.now:.6f}: {text}")

    def peer(self, name: str, offset: int) -> str:
        """The server ``offset`` places after ``name`` (MIT's ``(leader + k) % n``)."""
        return self.names[(self.names.index(name) + offset) % len(self.names)]

    # ----- the invariants ------------------------------------------------------------------

    def _invariant(self, sim: Simulation) -> None:
        self._ingest()
        leaders = self._leaders
        adapter = self.adapter
        state = adapter.state
        nodes = sim.nodes
        for name in self.names:
            node = nodes.get(name)
            if node is None:
                continue
            term, leading = state(node)
            if leading:
                first = leaders.get(term)
                if first is None:
                    leaders[term] = (name, sim.now)
                elif first[0] != name:
                    raise AssertionError(
                        f"election safety: {name} and {first[0]} both lead term {term} "
                        f"({first[0]} since t={first[1]:.6f}; {name} at t={sim.now:.6f})")
            if adapter.service is not None and adapter.snapshot_every is not None:
                service = adapter.service(node)
                if service is not None and service.restores:
                    restores, service.restores = service.restores, []
                    for index, data in restores:
                        self._check_restore(name, index, data)

    def _ingest(self) -> None:
        """Read the servers' apply and restore notes (and starts) since the last call."""
        trace = self.sim.trace
        end = len(trace)
        if self._cursor == end:
            return
        servers = self._last
        position = self._cursor
        # The trace's own tuples (time, node, kind, data), as the simulator records them:
        # building a TraceEvent for each (trace[i]) cost 15% of the wall time of the churn
        # scenarios (measured with bench/raft.py), where this runs after every event.
        raw = trace.raw()
        try:
            while position < end:
                _time, node, kind, data = raw[position]
                position += 1  # past it even if it fails a check: it is reported once
                if kind == "note":
                    if node in servers:
                        what = data.get("event")
                        if what == "apply":
                            self._on_apply(node, data, _time)
                        elif what == "restore":
                            self._on_restore_note(node, data, _time)
                elif (kind == "start" or kind == "restart") and node in servers:
                    servers[node] = 0
        finally:
            self._cursor = position

    def _on_apply(self, name: str, data: Mapping[str, Any], time: float) -> None:
        index = data.get("index")
        if not isinstance(index, int):
            raise AssertionError(f"{name} noted an apply without an integer index "
                                 f"({dict(data)!r}) at t={time:.6f}")
        last = self._last[name]
        if index != last + 1:
            what = ("again, or went back" if index <= last
                    else f"skipping {last + 1}..{index - 1}")
            raise AssertionError(
                f"{name} applied index {index} after index {last} ({what}) in term "
                f"{self._term_of(name, data)} at t={time:.6f}: a server applies every index "
                "in order, except where a snapshot was restored")
        self._last[name] = index
        command = NOOP if data.get("noop") else data.get("command")
        agreed = self.log.get(index, _MISSING)
        if agreed is _MISSING:
            self.log[index] = command
            self._first[index] = (name, time)
        elif agreed != command:
            other, when = self._first[index]
            raise AssertionError(
                f"state machine safety: {name} applied {command!r} at index {index} "
                f"(in term {self._term_of(name, data)}, t={time:.6f}), but {other} applied "
                f"{agreed!r} there at t={when:.6f}")
        if command is not NOOP:
            self.applied[name][index] = command

    def _term_of(self, name: str, data: Mapping[str, Any]) -> Any:
        """The term of an apply: noted with it, or the server's current term."""
        if "term" in data:
            return data["term"]
        state = self.state(name)
        return "?" if state is None else state[0]

    def _on_restore_note(self, name: str, data: Mapping[str, Any], time: float) -> None:
        index = data.get("index")
        if not isinstance(index, int):
            raise AssertionError(f"{name} noted a restore without an integer index "
                                 f"({dict(data)!r}) at t={time:.6f}")
        last = self._last[name]
        if index < last:
            raise AssertionError(
                f"{name} restored a snapshot of index {index} in term "
                f"{self._term_of(name, data)} at t={time:.6f} after applying up to index "
                f"{last}: its state went back")
        self._last[name] = index
        # The snapshot holds the commands through ``index`` (its data is checked against
        # them): the server counts as having applied them (MIT's ingestSnap).
        applied = self.applied[name]
        for position in range(index, 0, -1):
            if position in applied:
                break
            command = self.log.get(position, NOOP)
            if command is not NOOP:
                applied[position] = command

    def _check_restore(self, name: str, index: int, data: Any) -> None:
        expected = self.canonical(index)
        if data != expected:
            raise AssertionError(
                f"{name} restored a snapshot at index {index} in term "
                f"{self._term_of(name, {})} whose data {data!r} is not the state after "
                f"applying indexes 1..{index}, {expected!r} (virtual time "
                f"t={self.sim.now:.6f})")

    def canonical(self, index: int) -> dict[str, Any]:
        """The snapshot data of a correct service at ``index`` (see
        :func:`canonical_data`), from the agreed log."""
        self._ingest()
        commands = []
        for i in range(1, index + 1):
            command = self.log.get(i, _MISSING)
            if command is _MISSING:
                raise AssertionError(f"a snapshot of index {index} was restored, but no "
                                     f"server ever applied index {i}")
            if command is not NOOP:
                commands.append(command)
        return canonical_data(index, commands)

    # ----- descriptions -----------------------------------------------------------------------

    def _describe_live(self) -> str:
        live = self._live()
        return "(" + ", ".join(live) + ")" if live else "(none)"

    def _describe_index(self, index: int) -> str:
        holders = [f"{n}: {self.applied[n][index]!r}" for n in self.names
                   if index in self.applied[n]]
        if not holders:
            return f"no server applied index {index}"
        return f"index {index} was applied by {len(holders)} ({', '.join(holders)})"

    def _check_name(self, name: str) -> None:
        if name not in self._last:
            raise UsageError(f"no server named {name!r} in this cluster; servers: "
                             + ", ".join(self.names))


_MISSING: Any = object()
