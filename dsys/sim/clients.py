"""Simulated clients: operations from a seeded workload, and the history they make.

The :class:`~dsys.core.client.Client` node class lives in the core (it runs on every
host); this module is the simulator's side of it. For each client added with
``sim.add_client`` the :class:`ClientDriver` draws the next operation from the client's
*workload* after a *think* time, hands it to the client's ``on_invoke``, and records every
invocation and completion in ``sim.history`` (Jepsen's vocabulary, the format
``dsys check lin`` reads). After an ``info`` completion, or a crash in the middle of an
operation, the client goes on as a new *process*: its old operation stays open, because it
may still take effect at any time.

Example:
    >>> from dsys import Client, Node, Simulation, message
    >>> @message(name="doc:Incr")
    ... class Incr:
    ...     pass
    >>> @message(name="doc:Count")
    ... class Count:
    ...     n: int
    >>> class Counter(Node):
    ...     def on_start(self) -> None:
    ...         self.n = 0
    ...     def on_message(self, src: str, msg: object) -> None:
    ...         self.n += 1
    ...         self.send(src, Count(self.n))
    >>> class Adder(Client):
    ...     def on_invoke(self, op: dict) -> None:
    ...         self.send("counter", Incr())
    ...     def on_message(self, src: str, msg: Count) -> None:
    ...         self.ok(msg.n)
    >>> sim = Simulation(seed=1)
    >>> sim.add_node("counter", Counter)
    >>> sim.add_client("c", Adder, workload=lambda rng: {"f": "incr", "value": None}, ops=2)
    >>> sim.run(until=1.0)
    >>> [(e["type"], e["value"]) for e in sim.history]
    [('invoke', None), ('ok', 1), ('invoke', None), ('ok', 2)]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from random import Random
from typing import TYPE_CHECKING, Any

from dsys.core.client import SAME, Client, check_completion, history_event, normalize_op
from dsys.errors import UsageError
from dsys.sim.events import Invoke
from dsys.sim.network import Latency, as_latency

if TYPE_CHECKING:
    from dsys.sim.simulation import Simulation

__all__ = ["SAME", "Client", "ClientDriver", "ClientState"]

#: A workload: ``workload(rng)`` returns the next operation (``f``, ``value``, ``key``).
Workload = Callable[[Random], Mapping[str, Any]]


class ClientState:
    """What the driver keeps about one client across its incarnations."""

    __slots__ = ("id", "op", "ops_left", "process", "rng", "stride", "think", "workload")

    def __init__(self, client_id: str, workload: Workload, ops: int | None, think: Latency,
                 process: int, rng: Random) -> None:
        self.id = client_id
        self.workload = workload
        self.ops_left = ops
        self.think = think
        self.process = process
        self.stride = 1
        self.op: dict[str, Any] | None = None
        self.rng = rng

    @property
    def busy(self) -> bool:
        """An operation is in progress, or more are to come."""
        return self.op is not None or bool(self.ops_left)


class ClientDriver:
    """Runs the simulation's clients: workloads, invocations, completions, history."""

    def __init__(self, sim: Simulation) -> None:
        self._sim = sim
        self.clients: dict[str, ClientState] = {}
        self.history: list[dict[str, Any]] = []

    def add(self, client_id: str, workload: Workload, ops: int | None, think: Any
            ) -> ClientState:
        """Register a client; processes are numbered so that no two clients share one."""
        if ops is not None and (isinstance(ops, bool) or not isinstance(ops, int) or ops < 0):
            raise UsageError(f"ops of client {client_id} must be an int >= 0 or None, "
                             f"got {ops!r}")
        if not callable(workload):
            raise UsageError(f"the workload of client {client_id} must be a function "
                             "workload(rng) -> operation dict")
        process = len(self.clients)
        state = ClientState(client_id, workload, ops, as_latency(think), process,
                            Random(f"{self._sim.seed}/workload/{client_id}"))
        self.clients[client_id] = state
        for other in self.clients.values():
            other.stride = len(self.clients)
        return state

    def started(self, client_id: str, incarnation: int) -> None:
        """A client (re)started: schedule its next operation."""
        self._schedule_next(self.clients[client_id], incarnation)

    def crashed(self, client_id: str) -> None:
        """A client crashed: its open operation stays open; a new process goes on."""
        state = self.clients[client_id]
        if state.op is not None:
            state.op = None
            state.process += state.stride

    def current_op(self, client_id: str) -> dict[str, Any] | None:
        """A copy of the operation in progress."""
        op = self.clients[client_id].op
        return None if op is None else dict(op)

    def _schedule_next(self, state: ClientState, incarnation: int) -> None:
        if state.ops_left is not None and state.ops_left <= 0:
            return
        sim = self._sim
        sim._schedule(sim.now + state.think.sample(state.rng), sim._invoke,
                      Invoke(state.id, incarnation))

    def invoke(self, event: Invoke, node: Client | None, incarnation: int) -> None:
        """Run an :class:`~dsys.sim.events.Invoke` event: the next operation starts."""
        state = self.clients[event.client]
        if node is None or incarnation != event.incarnation or state.op is not None:
            return
        op = normalize_op(state.id, state.workload(state.rng))
        if state.ops_left is not None:
            state.ops_left -= 1
        state.op = op
        self._record(state, "invoke", op["value"])
        node.on_invoke(dict(op))

    def complete(self, client_id: str, incarnation: int, kind: str, value: Any) -> None:
        """The client finished its operation (``ok``, ``fail`` or ``info``)."""
        state = self.clients[client_id]
        check_completion(client_id, kind, state.op)
        self._record(state, kind, value)
        state.op = None
        if kind == "info":
            state.process += state.stride
        self._schedule_next(state, incarnation)

    def _record(self, state: ClientState, kind: str, value: Any) -> None:
        assert state.op is not None
        op = history_event(state.process, kind, state.op, value)
        sim = self._sim
        self.history.append({**op, "time": sim.now, "client": state.id})
        sim._record(state.id, "invoke" if kind == "invoke" else "complete", {"op": op})
