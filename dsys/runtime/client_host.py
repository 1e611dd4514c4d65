"""The client host: a :class:`~dsys.core.client.Client` node as a real process.

The same client class that ``sim.add_client`` runs in the simulator runs here against a
real cluster, and records the same history. A :class:`ClientHost` is a
:class:`~dsys.runtime.host.NodeHost` (the same node task, timers, trace, handler-error
handling and transport; every rule of :mod:`dsys.runtime.host` holds), with three
differences:

* its id is not a node of the cluster file: it is listed under ``[clients]`` (it listens
  on that address) or *ephemeral* (any other id; the servers answer it over the
  connection, or to the port, it writes from), as for :func:`~dsys.runtime.open_client`.
  Its ``peers`` are every node of the cluster, and it has no storage on disk;
* it provides the :class:`~dsys.core.client.ClientContext`: a driver task draws the next
  operation from ``workload(rng)`` (``rng`` seeded with ``"<seed>/workload/<client id>"``,
  the simulator's label), waits ``think`` seconds, and hands it to ``on_invoke`` as a job
  of the node, so it runs one at a time with the client's other handlers. The next
  operation starts only once the client completed this one (``ok``, ``fail``, ``info``);
* it records every invocation and completion (:func:`~dsys.core.client.normalize_op` and
  :func:`~dsys.core.client.history_event`, the simulator's rules) in ``host.history``, in
  its trace (``invoke`` and ``complete`` events) and, line by line, in the history file
  (:mod:`dsys.runtime.history` has the format and the process-number rule).

How a client times out is its own business, with its own timers, exactly as in the
simulator: the host adds no deadline. An operation the client never completes keeps the
run waiting (stop it with Ctrl-C or SIGTERM: the history so far stays valid, and the open
operation counts as ``info``). The host stops once the last of ``ops`` operations has
completed.

Example (what ``dsys run client.py:Client --node c1 --cluster cluster.toml --workload
workload.py:next_op --ops 20 --history c1.jsonl`` does)::

    import trio
    from dsys.runtime import run_client

    history = trio.run(partial(run_client, Client, "cluster.toml", "c1",
                               workload=next_op, ops=20, history="c1.jsonl"))
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Mapping
from random import Random
from typing import IO, Any

import trio

from dsys.core.client import Client, check_completion, history_event, normalize_op
from dsys.errors import DsysError, UsageError
from dsys.runtime.config import ClusterConfig, load_cluster
from dsys.runtime.groups import unwrap_group
from dsys.runtime.history import HistoryWriter
from dsys.runtime.host import NodeHost, _Context

#: A workload: ``workload(rng)`` returns the next operation (``f``, ``value``, ``key``).
Workload = Callable[[Random], Mapping[str, Any]]


class _ClientContext(_Context):
    """The :class:`~dsys.core.client.ClientContext` a client host gives its client."""

    __slots__ = ()

    _host: ClientHost

    def current_op(self) -> dict[str, Any] | None:
        op = self._host.op
        return None if op is None else dict(op)

    def complete(self, kind: str, value: Any) -> None:
        self._host._complete(kind, value)


class _ClientFactory:
    """Calls the user's factory and insists on a :class:`Client` (before ``on_start``)."""

    def __init__(self, factory: Callable[[], Any], client_id: str) -> None:
        self.factory = factory
        self.client_id = client_id

    def __call__(self) -> Client:
        node = self.factory()
        if not isinstance(node, Client):
            raise UsageError(
                f"{_name(self.factory)} built {type(node).__name__}, not a dsys Client: "
                f"only a Client (a Node with on_invoke) can run operations as "
                f"{self.client_id}; run a server node without --workload"
            )
        return node

    def __repr__(self) -> str:
        return repr(self.factory)


class ClientHost(NodeHost):
    """Runs one :class:`~dsys.core.client.Client` of a cluster: operations from a
    workload, a history as they complete (see the module docstring).

    Args:
        factory: the client class (or a function returning a client); called once.
        client_id: the client's id: under ``[clients]`` of ``cluster``, or any id that
            is not a node's (ephemeral).
        cluster: the parsed cluster file.
        workload: ``workload(rng)`` returns the next operation, a dict with ``f``,
            ``value`` and optionally ``key``.
        ops: how many operations to run (None: until stopped).
        think: seconds to wait before each operation.
        seed: seeds the workload's ``rng`` and ``node.rng``, with the simulator's labels.
        history: write the history to this file (JSON Lines), line by line.
        trace: append the client's trace events to this file (as for :class:`NodeHost`).
        handle_signals: stop cleanly on SIGINT / SIGTERM (what ``dsys run`` does).
        echo_logs: print the client's log lines on stderr.
        stderr: where the host's own lines go (default: ``sys.stderr``).

    ``await host.run()`` returns once the last operation has completed (or the host is
    stopped); ``host.history`` then holds the events.
    """

    _context_class = _ClientContext

    def __init__(self, factory: Callable[[], Any], client_id: str, cluster: ClusterConfig,
                 *, workload: Workload, ops: int | None, think: float = 0.0, seed: int = 0,
                 history: str | os.PathLike[str] | None = None,
                 trace: str | os.PathLike[str] | None = None, handle_signals: bool = False,
                 echo_logs: bool = True, stderr: IO[str] | None = None) -> None:
        if isinstance(factory, type) and not issubclass(factory, Client):
            raise UsageError(f"{_name(factory)} is not a dsys Client: only a Client (a Node "
                             f"with on_invoke) can run operations as {client_id}")
        if not callable(workload):
            raise UsageError(f"the workload of client {client_id} must be a function "
                             "workload(rng) -> operation dict")
        if ops is not None and (isinstance(ops, bool) or not isinstance(ops, int) or ops < 0):
            raise UsageError(f"ops of client {client_id} must be an int >= 0 or None, "
                             f"got {ops!r}")
        if (isinstance(think, bool) or not isinstance(think, int | float)
                or not 0 <= think < math.inf):
            raise UsageError(f"think of client {client_id} must be a number of seconds >= 0, "
                             f"got {think!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise UsageError(f"seed must be an int, got {seed!r}")
        super().__init__(_ClientFactory(factory, client_id), client_id, cluster, trace=trace,
                         handle_signals=handle_signals, echo_logs=echo_logs, seed=seed,
                         stderr=stderr)
        self._workload = workload
        self._workload_rng = Random(f"{seed}/workload/{client_id}")
        self.ops = ops
        self.think = float(think)
        #: The history so far: the events written to the history file, in order.
        self.history: list[dict[str, Any]] = []
        #: Completions so far, by kind (``ok``, ``fail``, ``info``).
        self.completions: Counter[str] = Counter()
        #: The operation in progress, or None.
        self.op: dict[str, Any] | None = None
        #: The process the next history line is written as (see dsys.runtime.history).
        self.process = 0
        self._completed = trio.Event()
        self._writer = HistoryWriter(history) if history is not None else None
        self._fatal: DsysError | None = None

    @property
    def finished(self) -> bool:
        """True once every one of ``ops`` operations has completed."""
        return self.ops is not None and sum(self.completions.values()) >= self.ops

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Run the client until its last operation completes, or it is stopped."""
        try:
            await super().run(task_status=task_status)
        finally:
            if self._writer is not None:
                self._writer.close()
        if self._fatal is not None:
            raise self._fatal

    # ----- the ways a client host differs from a node host -------------------------------

    def _check_id(self, cluster: ClusterConfig, node_id: str) -> None:
        cluster.check_client_id(node_id)

    def _peers(self) -> tuple[str, ...]:
        return self.cluster.node_ids

    def _hello(self) -> str:
        where = ("an ephemeral client" if self.node_id not in self.cluster.clients
                 else f"listening on {self.address}")
        return (f"client of {self.cluster.source} over {self.cluster.transport}, {where} "
                f"(pid {os.getpid()})")

    def _start_tasks(self, nursery: trio.Nursery) -> None:
        nursery.start_soon(self._drive)

    # ----- the driver: one operation at a time -------------------------------------------

    async def _drive(self) -> None:
        started = 0
        while self.ops is None or started < self.ops:
            if self.think:
                await trio.sleep(self.think)
            self._completed = trio.Event()
            started += 1
            await self._submit(self._invoke)
            await self._completed.wait()
        self.stop()

    def _invoke(self) -> None:
        """A job of the node: draw the next operation, record it, hand it to the client."""
        node = self.node
        assert isinstance(node, Client)
        try:
            raw = self._workload(self._workload_rng)
        except Exception as exc:
            raise UsageError(f"the workload of client {self.node_id} raised "
                             f"{type(exc).__name__}: {exc}") from None
        op = normalize_op(self.node_id, raw)
        self._record_history("invoke", op, op["value"])
        self.op = op
        try:
            node.on_invoke(dict(op))
        except Exception as exc:
            self._handler_failed(exc, f"on_invoke: {op!r}")

    def _complete(self, kind: str, value: Any) -> None:
        """What ``ok``, ``fail`` and ``info`` of the client call (from its handlers)."""
        op = self.op
        check_completion(self.node_id, kind, op)
        assert op is not None
        self._record_history(kind, op, value)
        self.op = None
        self.completions[kind] += 1
        if kind == "info":
            self.process += 1  # the old operation may still take effect: a new process
        self._completed.set()

    def _record_history(self, kind: str, op: dict[str, Any], value: Any) -> None:
        event = history_event(self.process, kind, op, value)
        line = {**event, "time": self.now(), "client": self.node_id}
        text = HistoryWriter.line(line)  # a UsageError for a value JSON cannot hold
        if self._writer is not None:
            self._writer.write(text)
            if self._writer.error is not None and self._fatal is None:
                error = self._writer.error
                self._fatal = UsageError(f"cannot write the history file {self._writer.path}: "
                                         f"{error.strerror or error}")
                self.stop()
        self.history.append(line)
        self._record("invoke" if kind == "invoke" else "complete", {"op": event})


async def run_client(factory: Callable[[], Any], cluster: ClusterConfig | str | os.PathLike[str],
                     client_id: str, *, workload: Workload, ops: int | None,
                     think: float = 0.0, seed: int = 0,
                     history: str | os.PathLike[str] | None = None,
                     trace: str | os.PathLike[str] | None = None,
                     handle_signals: bool = False, echo_logs: bool = True,
                     stderr: IO[str] | None = None) -> list[dict[str, Any]]:
    """Run the client ``factory`` builds as ``client_id`` of ``cluster`` (a parsed config
    or a cluster-file path) for ``ops`` operations of ``workload``, and return its history.

    A trio coroutine: the history (a list of event dicts, also written to the file
    ``history`` line by line) is returned once the last operation has completed. See
    :class:`ClientHost` for the arguments. Bound the whole run with a cancel scope if you
    need to (``with trio.fail_after(10): ...``); the client's own timers are what time out
    its operations.
    """
    if not isinstance(cluster, ClusterConfig):
        cluster = load_cluster(cluster)
    host = ClientHost(factory, client_id, cluster, workload=workload, ops=ops, think=think,
                      seed=seed, history=history, trace=trace, handle_signals=handle_signals,
                      echo_logs=echo_logs, stderr=stderr)
    try:
        await host.run()
    except BaseExceptionGroup as group:
        # One error from inside the host's nursery (a workload that returns garbage, say):
        # give it back as itself, not as a group of one.
        single = unwrap_group(group)
        if single is group:
            raise
        raise single from None
    return host.history


def _name(factory: Any) -> str:
    return getattr(factory, "__qualname__", None) or repr(factory)
