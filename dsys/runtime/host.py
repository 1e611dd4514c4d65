"""The node host: one node, real time, a real network.

Rules of this file (the same semantics as the simulator, on a real clock):

* A node's handlers run **one at a time, in order, to completion**. Every delivery and
  every timer firing is a *job*. Jobs wait in the node's inbox, and the node task runs
  them one after another. When the node is idle (nothing queued, no handler running),
  the task that has the next job (a connection's reader, the clock) runs it itself:
  exactly what the node task would do next, one task switch sooner. That is safe
  because a handler never awaits, so nothing else of the node can run while one does;
  and it matters, because a task switch costs about as much as decoding a message.
* Effects of a handler never re-enter the node: a message to itself is queued, and runs
  after the handler returns.
* The network side (transports, decoding, checks) never calls a handler directly; it
  submits jobs (:meth:`HostBase._submit`).
* Timers are deadlines on trio's clock. Setting a timer re-arms it; a cancelled or
  re-armed timer never fires with its old deadline.
* ``node.now`` reads seconds since the Unix epoch, moving with trio's clock: it can be
  compared across the machines of a cluster (up to their clock error) and never jumps
  back while the process runs. Trace timestamps are the same clock.
* A handler that raises is **logged** (with the node, the event and the traceback),
  **counted**, recorded in the trace as an ``error`` event, and the node **keeps
  serving**: a server should not die because one request tripped a bug. (The simulator
  stops instead, because there a reproducible report is worth more.)
* A message goes to a node the host knows (the rule of :mod:`dsys.core.rules`, the
  simulator's too): the nodes and ``[clients]`` of the cluster file, and the ids this
  node has heard from (ephemeral clients). Any other destination raises
  :class:`~dsys.errors.UsageError` in the handler, which then counts as a handler error.
* The trace and the log are the node's own record, not part of its service: a trace
  event that cannot be written (disk full, say, or data that is not JSON) is **logged**
  (at most once a second) and **counted** (``trace_errors``); a log line that cannot be
  written is counted (``log_errors``); either way the node **keeps serving**. Such an
  error never reaches the network side, where it could pass for a lost connection.
* What comes from the network is never trusted in a log or the trace: a sender id is
  checked with the core's node-id rule (:func:`dsys.core.rules.is_node_id`) before it is
  used; text echoed from a frame (a refusal's detail, a message in an error) is cut to
  :data:`ECHO_LIMIT` characters; every line printed has its control characters escaped
  (no newline, no terminal escape: one line cannot pass for another). Refused frames are
  all counted, but at most :data:`TRACED_REFUSALS` a second per reason are written to
  the trace (the next one written says how many were left out), so a flood of garbage
  cannot fill a disk.

Example (what ``dsys run app.py:Hello --node a --cluster cluster.toml`` does)::

    import trio
    from dsys.runtime import NodeHost, load_cluster

    host = NodeHost(Hello, "a", load_cluster("cluster.toml"), handle_signals=True)
    trio.run(host.run)                     # serves until Ctrl-C or SIGTERM
    print(host.statistics())
"""

from __future__ import annotations

import heapq
import json
import math
import os
import signal
import sys
import time
import traceback
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Mapping
from functools import partial
from pathlib import Path
from random import Random
from typing import IO, Any, TextIO

import attrs
import trio

from dsys.core import codec
from dsys.core.messages import short_name
from dsys.core.node import Node, construct
from dsys.core.rules import check_destination, is_node_id
from dsys.core.storage import Storage
from dsys.errors import CodecError, StorageError, UsageError
from dsys.runtime.config import ClusterConfig
from dsys.runtime.storage import DataDir, atomic_write
from dsys.runtime.transport import cluster_limits, make_transport
from dsys.runtime.wire import Frame, Rejected, Wire
from dsys.trace.events import TraceEvent, event_line

NodeFactory = Callable[[], Node]

#: Jobs run back to back before the node task lets other tasks (the network) run.
_BURST = 64
#: Seconds between two stderr lines about the same kind of problem (the trace has all).
_LOG_INTERVAL = 1.0
#: Ids outside the cluster file a host remembers having heard from (ephemeral clients it
#: may answer); beyond this many, the least recently heard are forgotten.
MAX_HEARD = 65536
#: Characters of text from the network (a refused frame's detail, a message shown in an
#: error) copied into a log line or a trace event; the rest is cut off.
ECHO_LIMIT = 200
#: Refused frames of one reason written to the trace per second (all are counted).
TRACED_REFUSALS = 10


def printable(text: str, limit: int | None = None) -> str:
    """``text`` safe to print as (part of) one line: control characters (newlines,
    terminal escapes, lone surrogates) escaped, and cut to about ``limit`` characters.

    >>> printable("n1\\n\\x1b[31mdsys[n2]: forged")
    'n1\\\\n\\\\x1b[31mdsys[n2]: forged'
    >>> printable("x" * 1000, 10)
    'xxxxxxxxxx... (1000 characters)'
    """
    size = len(text)
    cut = limit is not None and size > limit
    if cut:
        text = text[:limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                       for c in text)
        if limit is not None and len(text) > limit:
            text, cut = text[:limit], True
    return f"{text}... ({size} characters)" if cut else text


@attrs.frozen
class HostStatistics:
    """An immutable snapshot of what a host has done so far.

    ``rejected`` counts incoming frames refused, by reason (``"bad tag"``,
    ``"replayed"``, ``"unknown type"``...); ``dropped`` counts outgoing messages not
    sent, by reason (``"queue full"``, ``"no route"``...); ``trace_errors`` counts trace
    events that could not be written (they are lost; the node went on), ``log_errors``
    the lines the log (stderr) did not take.
    """

    node: str
    uptime: float
    messages_in: int
    messages_out: int
    timers_fired: int
    handler_errors: int
    rejected: Mapping[str, int]
    dropped: Mapping[str, int]
    trace_errors: int = 0
    log_errors: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``--status`` files hold)."""
        return {"node": self.node, "uptime": round(self.uptime, 3),
                "messages_in": self.messages_in, "messages_out": self.messages_out,
                "timers_fired": self.timers_fired, "handler_errors": self.handler_errors,
                "rejected": dict(self.rejected), "dropped": dict(self.dropped),
                "trace_errors": self.trace_errors, "log_errors": self.log_errors}


class TraceWriter:
    """Appends trace events to a JSON Lines file (the simulator's schema).

    Appending means a restarted node continues its file after a ``restart`` event.
    Lines are buffered and written out every 0.1 s (and at the end), so a node killed
    with SIGKILL loses at most its last tenth of a second of trace.

    Writing never raises: any error (a full disk, a file that went away, event data that
    is not JSON, such as a NaN) is counted in ``errors`` and handed to ``on_error``, and
    the writer goes on (the node's service matters more than its record of it). Opening
    the file may raise, at start.
    """

    def __init__(self, path: str | os.PathLike[str], *,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = self.path.open("a", encoding="utf-8")
        self._on_error = on_error
        self.errors = 0

    def record(self, time_: float, node: str, kind: str, data: dict[str, Any]) -> None:
        """Write one event."""
        try:
            line = event_line(TraceEvent(time_, node, kind, data))
            self._file.write(line + "\n")
        except Exception as exc:  # data that is not JSON; a full buffer not written out
            self.failed(exc)

    def flush(self) -> None:
        """Push buffered lines to the file."""
        try:
            self._file.flush()
        except Exception as exc:
            self.failed(exc)

    def close(self) -> None:
        """Flush and close the file."""
        try:
            self._file.close()
        except Exception as exc:
            self.failed(exc)

    def failed(self, exc: Exception) -> None:
        """Count an event that could not be written, and report ``exc``."""
        self.errors += 1
        if self._on_error is not None:
            self._on_error(exc)


class _Timers:
    """Named timers as a heap of deadlines; re-arming leaves a stale entry to skip."""

    def __init__(self) -> None:
        self._armed: dict[str, int] = {}  # name -> generation of its live deadline
        self._heap: list[tuple[float, int, str]] = []
        self._generation = 0

    def arm(self, name: str, deadline: float) -> None:
        self._generation += 1
        self._armed[name] = self._generation
        heapq.heappush(self._heap, (deadline, self._generation, name))
        if len(self._heap) > 2 * len(self._armed) + 64:
            # Mostly stale entries (a timer re-armed very often): rebuild the heap.
            self._heap = [e for e in self._heap if self._armed.get(e[2]) == e[1]]
            heapq.heapify(self._heap)

    def cancel(self, name: str) -> bool:
        return self._armed.pop(name, None) is not None

    def next_deadline(self) -> float:
        heap, armed = self._heap, self._armed
        while heap and armed.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)
        return heap[0][0] if heap else math.inf

    def pop_due(self, now: float) -> str | None:
        if self.next_deadline() > now:
            return None
        _, _, name = heapq.heappop(self._heap)
        del self._armed[name]
        return name


class _Context:
    """The :class:`~dsys.core.node.NodeContext` a host gives its node."""

    __slots__ = ("_host", "node_id", "notes_dropped", "peers", "rng", "storage")

    def __init__(self, host: HostBase, node_id: str, peers: tuple[str, ...], rng: Random,
                 storage: Storage) -> None:
        self._host = host
        self.notes_dropped = host._trace is None  # notes go only to a trace file
        self.node_id = node_id
        self.peers = peers
        self.rng = rng
        self.storage = storage

    def now(self) -> float:
        return self._host.now()

    def send(self, dst: str, msg: object, stamps: dict[str, Any] | None) -> None:
        self._host._send(dst, msg, stamps)

    def set_timer(self, name: str, delay: float) -> None:
        self._host._set_timer(name, delay)

    def cancel_timer(self, name: str) -> None:
        self._host._cancel_timer(name)

    def log(self, text: str) -> None:
        self._host._node_log(text)

    def note(self, event: str, data: dict[str, Any]) -> None:
        self._host._record("note", {"event": event, **data})


class HostBase:
    """What every real-time host shares: the node task, timers, trace, storage, counters.

    Subclasses provide the I/O: :meth:`_send` (how a message leaves, after
    :meth:`_check_destination`) and a ``run`` coroutine that boots the node with
    :meth:`_boot` and then awaits :meth:`_run_node`.
    """

    #: The context class given to the node (a client host gives a ClientContext).
    _context_class: type[_Context] = _Context

    def __init__(self, factory: NodeFactory, *, trace: str | os.PathLike[str] | None = None,
                 echo_logs: bool = True, seed: int | None = None, inbox_size: int = 1024,
                 stderr: IO[str] | None = None) -> None:
        self.node_id = ""
        self.peers: tuple[str, ...] = ()
        self.node: Node | None = None
        self.incarnation = 0
        self._factory = factory
        self._trace = self._open_trace(trace) if trace is not None else None
        self._echo_logs = echo_logs
        self._seed = seed
        self._stderr = stderr
        self._timers = _Timers()
        self._inbox_send, self._inbox_receive = trio.open_memory_channel[Callable[[], None]](
            inbox_size)
        self._cancel_scope: trio.CancelScope | None = None
        self._clock_scope: trio.CancelScope | None = None
        self._idle = False  # the node task waits on an empty queue
        self._running = False  # a handler is running
        self._epoch = time.time()
        self._started_at = 0.0
        self._stopped_at: float | None = None
        self.messages_in = 0
        self.messages_out = 0
        self.timers_fired = 0
        self.handler_errors = 0
        self._rejected: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()
        self.log_errors = 0
        self._last_warned: dict[str, tuple[float, int]] = {}
        # reason -> [start of its one-second window, refusals traced in it, not traced]
        self._refusal_windows: dict[str, list[float]] = {}
        # Who the node may send to (see the module docstring): the ids a host knows from
        # its configuration, and the ids it has heard from.
        self._known: Collection[str] = frozenset()
        self._heard: OrderedDict[str, None] = OrderedDict()

    # ----- observing -------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the Unix epoch, moving with trio's clock (see the module doc)."""
        return self._epoch + trio.current_time()

    def statistics(self) -> HostStatistics:
        """An immutable snapshot of the counters."""
        if self._stopped_at is not None:
            uptime = self._stopped_at - self._started_at
        else:
            uptime = trio.current_time() - self._started_at if self._started_at else 0.0
        return HostStatistics(
            node=self.node_id, uptime=uptime, messages_in=self.messages_in,
            messages_out=self.messages_out, timers_fired=self.timers_fired,
            handler_errors=self.handler_errors, rejected=dict(sorted(self._rejected.items())),
            dropped=dict(sorted(self._dropped.items())),
            trace_errors=self._trace.errors if self._trace is not None else 0,
            log_errors=self.log_errors)

    def stop(self) -> None:
        """Stop the host (its ``run`` returns after the job in progress)."""
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    # ----- booting and the node task ------------------------------------------------

    def _start_clock(self) -> None:
        # Anchor trio's clock to the wall clock once; from then on only trio's clock moves.
        self._started_at = trio.current_time()
        self._epoch = time.time() - self._started_at

    def _boot(self, node_id: str, peers: tuple[str, ...], data_dir: Path | None) -> None:
        """Build the node (with its storage) and run ``on_start`` / ``on_recover``."""
        self.node_id = node_id
        self.peers = peers
        recovered = False
        if data_dir is not None:
            data = DataDir(data_dir, node_id)
            storage, recovered = data.open()
            self.incarnation = data.starts - 1
        else:
            storage = Storage()
        self._before_sync(storage)
        if self._seed is None:
            rng = Random()
        else:  # the simulator's labels, so a seeded run is reproducible where it can be
            rng = Random(f"{self._seed}/node/{node_id}/{self.incarnation}")
        ctx = self._context_class(self, node_id, peers, rng, storage)
        self._record("restart" if recovered else "start", {"incarnation": self.incarnation})
        try:
            self.node = construct(self._factory, ctx)
        except UsageError:
            raise
        except Exception as exc:
            self._print(f"building the node raised {type(exc).__name__}: {exc}", exc)
            raise UsageError(f"cannot build node {node_id} with {self._factory!r}: "
                             f"{type(exc).__name__}: {exc}") from None
        try:
            self.node._dispatch_start(recovered)
        except StorageError:
            raise  # its stored state cannot be trusted: stop, naming the file and field
        except Exception as exc:
            self._handler_failed(exc, "on_recover" if recovered else "on_start")

    async def _run_node(self) -> None:
        """The node task: run queued jobs, one at a time, in order, until cancelled."""
        receive = self._inbox_receive
        burst = 0
        while True:
            try:
                job = receive.receive_nowait()
            except trio.WouldBlock:
                self._idle = True  # whoever has the next job may run it (see _submit)
                job = await receive.receive()
                burst = 0
            self._run_job(job)
            burst += 1
            if burst >= _BURST:  # busy: let the network tasks run too
                burst = 0
                await trio.lowlevel.checkpoint()

    def _run_job(self, job: Callable[[], None]) -> None:
        self._running = True
        try:
            job()
        finally:
            self._running = False

    def _before_sync(self, storage: Storage) -> None:
        """Hook: a host may act before each ``storage.sync()`` writes (see NodeHost)."""

    async def _submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` (a delivery, due timers) after every job already submitted.

        If the node is idle (nothing queued, no handler running), the job runs right
        here, in the calling task: that is exactly what the node task would do next, one
        task switch sooner. Handlers never await, so nothing else of the node can run
        meanwhile. Otherwise it joins the queue; waiting when the queue is full slows
        the sender down (TCP flow control).
        """
        if self._idle and not self._running:
            self._run_job(job)
            return
        self._idle = False
        await self._inbox_send.send(job)

    def _post(self, job: Callable[[], None]) -> bool:
        """Queue ``job`` without waiting (from inside a handler); False if the queue is
        full. Never runs it at once: a handler's effects must not re-enter the node."""
        try:
            self._inbox_send.send_nowait(job)
        except trio.WouldBlock:
            return False
        self._idle = False
        return True

    async def _run_clock(self) -> None:
        """Sleep until the earliest timer deadline, then have the due timers fired.

        The sleep's deadline moves earlier when a handler arms an earlier timer (see
        :meth:`_set_timer`); a deadline that turns out stale just wakes it for nothing.
        """
        while True:
            with trio.CancelScope(deadline=self._timers.next_deadline()) as scope:
                self._clock_scope = scope
                await trio.sleep_forever()
            self._clock_scope = None
            # Wait for the firing job to run (the node may be busy) before looking at
            # the deadlines again: until then the same timers would still look due.
            fired = trio.Event()
            await self._submit(partial(self._fire_due_timers, fired))
            await fired.wait()

    async def _run_flusher(self) -> None:
        """Write buffered trace lines out a few times a second."""
        while True:
            await trio.sleep(0.1)
            self._flush()

    def _fire_due_timers(self, fired: trio.Event) -> None:
        now = trio.current_time()
        try:
            for _ in range(_BURST):  # more still due wake the clock again at once
                name = self._timers.pop_due(now)
                if name is None:
                    return
                self._fire(name)
        finally:
            fired.set()

    def _deliver(self, src: str, msg: object, stamps: dict[str, Any] | None,
                 describe: Callable[[], dict[str, Any]]) -> None:
        """Run ``on_message``; ``describe()`` gives the trace event's data (only called
        when tracing: formatting ids costs time on every message)."""
        node = self.node
        if node is None:
            return
        self.messages_in += 1
        if self._trace is not None:
            try:
                data = describe()
            except Exception as exc:  # the record must never stop the delivery
                self._trace.failed(exc)
            else:
                self._record("recv", data)
        try:
            node._dispatch_message(src, msg, stamps)
        except Exception as exc:
            self._handler_failed(exc, f"on_message: {printable(repr(msg), ECHO_LIMIT)} "
                                      f"from {src}")

    def _fire(self, name: str) -> None:
        node = self.node
        if node is None:
            return
        self.timers_fired += 1
        self._record("timer_fire", {"name": name})
        try:
            node._dispatch_timer(name)
        except Exception as exc:
            self._handler_failed(exc, f"on_timer: timer {name!r} fired")

    def _handler_failed(self, exc: Exception, event: str) -> None:
        self.handler_errors += 1
        try:
            error = printable(f"{type(exc).__name__}: {exc}", 1000)
        except Exception:  # str() of the exception raised too
            error = type(exc).__name__
        self._record("error", {"error": error, "event": event})
        self._print(f"{event} raised {error}; the node keeps serving "
                    f"({self.handler_errors} handler error(s) so far)", exc)

    # ----- what the node's context calls ---------------------------------------------

    def _send(self, dst: str, msg: object, stamps: dict[str, Any] | None) -> None:
        raise NotImplementedError  # pragma: no cover - each host sends its own way

    def _heard_from(self, src: str) -> None:
        """Remember ``src``, an id not in the configuration, as one the node may answer."""
        heard = self._heard
        heard[src] = None
        heard.move_to_end(src)
        if len(heard) > MAX_HEARD:
            heard.popitem(last=False)

    def _check_destination(self, dst: object, msg: object) -> None:
        """Raise the core's :class:`UsageError` unless ``dst`` is known (see the module
        docstring). Hosts call it only when the fast test (``dst in self._known``) fails."""
        if isinstance(dst, str) and dst in self._heard:
            return
        check_destination(self.node_id, dst, short_name(msg), self._known)

    def _set_timer(self, name: str, delay: float) -> None:
        if not isinstance(name, str):
            raise UsageError(f"timer names must be strings, got {name!r}")
        if (isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0
                or delay != delay):
            raise UsageError(f"timer {name!r} on {self.node_id}: delay must be a number >= 0, "
                             f"got {delay!r}")
        deadline = trio.current_time() + delay
        self._timers.arm(name, deadline)
        clock = self._clock_scope
        if clock is not None and deadline < clock.deadline:
            clock.deadline = deadline  # wake the clock task earlier
        if self._trace is not None:
            self._record("timer_set", {"name": name, "delay": delay})

    def _cancel_timer(self, name: str) -> None:
        if self._timers.cancel(name):
            self._record("timer_cancel", {"name": name})

    def _node_log(self, text: str) -> None:
        self._record("log", {"text": text})
        if self._echo_logs:
            self._write_stderr(f"{self.node_id}: {printable(str(text))}")

    # ----- counting and reporting ---------------------------------------------------

    def _open_trace(self, path: str | os.PathLike[str]) -> TraceWriter:
        return TraceWriter(path, on_error=self._trace_failed)

    def _trace_failed(self, exc: Exception) -> None:
        """A trace write failed: say so (once a second at most) and keep serving."""
        assert self._trace is not None
        if isinstance(exc, OSError):
            why = f"cannot write the trace file {self._trace.path}: {exc.strerror or exc}"
        else:
            why = (f"cannot write an event to the trace file {self._trace.path}: "
                   f"{type(exc).__name__}: {printable(str(exc), ECHO_LIMIT)}")
        self._warn("trace", f"{why}; the node keeps serving "
                            f"({self._trace.errors} trace write error(s) so far)")

    def _reject(self, reason: str, detail: str, peer: str) -> None:
        """Count, trace (sampled) and log (rate-limited) an incoming frame that was
        refused; its ``detail`` and ``peer`` come from the network and are cut short."""
        self._rejected[reason] += 1
        detail, peer = printable(detail, ECHO_LIMIT), printable(peer, ECHO_LIMIT)
        if self._trace is not None:
            self._trace_refusal(reason, detail, peer)
        self._warn(reason, f"refused a frame from {peer}: {reason} ({detail})")

    def _trace_refusal(self, reason: str, detail: str, peer: str) -> None:
        # At most TRACED_REFUSALS events a second per reason; the next one written says
        # how many were left out, and _close writes what is still left out at the end.
        now = time.monotonic()
        window = self._refusal_windows.get(reason)
        if window is None or now - window[0] >= 1.0:
            window = [now, 0, window[2] if window is not None else 0]
            self._refusal_windows[reason] = window
        if window[1] >= TRACED_REFUSALS:
            window[2] += 1
            return
        window[1] += 1
        data: dict[str, Any] = {"from": peer, "to": self.node_id, "reason": reason,
                                "detail": detail}
        if window[2]:
            data["suppressed"] = int(window[2])
            window[2] = 0
        self._record("drop", data)

    def _trace_untraced_refusals(self) -> None:
        for reason, window in sorted(self._refusal_windows.items()):
            if window[2]:
                self._record("note", {"event": "refusals not traced", "reason": reason,
                                      "count": int(window[2])})
                window[2] = 0

    def _drop(self, dst: str, mid: str, msg: object, reason: str) -> None:
        """Count and log an outgoing message that could not be sent."""
        self._dropped[reason] += 1
        self._record("drop", {"from": self.node_id, "to": dst, "id": mid,
                              "type": short_name(msg), "reason": reason})
        self._warn(f"{reason}/{dst}", f"dropped {short_name(msg)} to {dst}: {reason}")

    def _warn(self, key: str, text: str) -> None:
        # Every event goes to the trace; stderr gets at most one line per second per kind
        # of problem, so a flood of garbage cannot flood the log.
        now = time.monotonic()
        last, suppressed = self._last_warned.get(key, (-math.inf, 0))
        if now - last < _LOG_INTERVAL:
            self._last_warned[key] = (last, suppressed + 1)
            return
        self._last_warned[key] = (now, 0)
        more = f" (and {suppressed} more like it)" if suppressed else ""
        self._print(text + more)

    def _record(self, kind: str, data: dict[str, Any]) -> None:
        if self._trace is not None:
            self._trace.record(self.now(), self.node_id, kind, data)

    def _flush(self) -> None:
        if self._trace is not None:
            self._trace.flush()

    def _print(self, text: str, exc: BaseException | None = None) -> None:
        """Log one line (escaped: see the module docstring), then ``exc``'s traceback,
        each of its lines escaped and indented, so no line of it can pass for a header."""
        lines = [f"dsys[{printable(self.node_id) or '?'}]: {printable(text)}"]
        if exc is not None:
            try:
                chunks = traceback.format_exception(exc)
            except Exception:  # a traceback that cannot be formatted: the header says it
                chunks = []
            lines.extend(f"  {printable(line, 1000)}"
                         for chunk in chunks for line in chunk.splitlines())
        self._write_stderr("\n".join(lines))

    def _write_stderr(self, text: str) -> None:
        stream = self._stderr or sys.stderr
        try:
            print(text, file=stream, flush=True)
        except Exception:  # a log that cannot be written must not stop us: count it
            self.log_errors += 1

    def _close(self) -> None:
        if self._trace is not None:
            self._trace_untraced_refusals()
            self._trace.close()


class NodeHost(HostBase):
    """Runs one node of a cluster file as a real network endpoint.

    Args:
        factory: the node class (or a function returning a node); called once.
        node_id: which node of ``cluster`` this is.
        cluster: the parsed cluster file (:func:`~dsys.runtime.config.load_cluster`).
        trace: append trace events (JSON Lines, the simulator's schema) to this file.
        data_dir: keep ``node.storage`` in this directory (atomic writes, fsync); without
            it storage lives in memory and nothing survives a restart.
        status_file: rewrite this JSON file with :meth:`statistics` twice a second.
        handle_signals: stop cleanly on SIGINT / SIGTERM (what ``dsys run`` does).
        echo_logs: print the node's log lines on stderr.
        seed: seed ``node.rng`` (default: fresh randomness).

    ``await host.run()`` binds the node's address (a :class:`~dsys.errors.ConfigError`
    if it cannot), starts the node and serves until cancelled, :meth:`stop` ped or
    signalled. With ``nursery.start(host.run)`` it reports ready once the node started.
    """

    def __init__(self, factory: NodeFactory, node_id: str, cluster: ClusterConfig, *,
                 trace: str | os.PathLike[str] | None = None,
                 data_dir: str | os.PathLike[str] | None = None,
                 status_file: str | os.PathLike[str] | None = None,
                 handle_signals: bool = False, echo_logs: bool = True,
                 seed: int | None = None, stderr: IO[str] | None = None) -> None:
        self._check_id(cluster, node_id)  # a one-line error for an id of the wrong kind
        super().__init__(factory, trace=trace, echo_logs=echo_logs, seed=seed, stderr=stderr)
        self.node_id = node_id
        self.cluster = cluster
        self._known = frozenset(cluster.endpoints()) | {node_id}
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._status_file = Path(status_file) if status_file is not None else None
        self._handle_signals = handle_signals
        self._wire = Wire(node_id, codec=cluster.codec, secret=cluster.secret,
                          max_frame=cluster.frame_limit, replay_window=cluster.replay_window)
        self._transport = make_transport(cluster, node_id, limits=cluster_limits(cluster))
        self.stopped_by: str | None = None

    @property
    def address(self) -> str:
        """The address this node listens on."""
        return self._transport.address

    def _before_sync(self, storage: Storage) -> None:
        # What a handler sent before it syncs leaves before the sync blocks, as if it had
        # not been held: Raft's leader sends AppendEntries and then writes its log, so
        # that the followers write theirs meanwhile (thesis §10.2.1).
        write = storage.on_sync
        if write is None:  # in memory: a sync costs nothing, there is nothing to overlap
            return
        transport = self._transport

        def on_sync(synced: Storage) -> None:
            if self._running:
                transport.release()
                transport.hold()
            write(synced)

        storage.on_sync = on_sync

    def _run_job(self, job: Callable[[], None]) -> None:
        # What a handler sends leaves when it returns, one write per connection (the
        # replies to a batch of commits, say), instead of one system call per frame.
        transport = self._transport
        transport.hold()
        try:
            super()._run_job(job)
        finally:
            transport.release()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Serve until cancelled, stopped or signalled; see the class docstring."""
        self._start_clock()
        # Bind and boot outside any nursery, so that a problem (port in use, a data
        # directory of another node, a factory that raises) is one plain error.
        await self._transport.open(self)
        self._print(self._hello())
        try:
            self._boot(self.node_id, self._peers(), self._data_dir)
            self._flush()  # the start is on disk, even if the node is killed at once
            async with trio.open_nursery() as nursery:
                self._cancel_scope = nursery.cancel_scope
                nursery.start_soon(self._transport.serve)
                nursery.start_soon(self._run_clock)
                if self._trace is not None:
                    nursery.start_soon(self._run_flusher)
                if self._handle_signals:
                    nursery.start_soon(self._watch_signals)
                if self._status_file is not None:
                    self._write_status("up")
                    nursery.start_soon(self._status_loop)
                self._start_tasks(nursery)
                task_status.started()
                await self._run_node()
        finally:
            self._stopped_at = trio.current_time()
            self._transport.close()
            if self._status_file is not None:
                self._write_status("stopped")
            self._close()

    # ----- what a subclass may change (a client host does) -------------------------------

    def _check_id(self, cluster: ClusterConfig, node_id: str) -> None:
        cluster.node(node_id)

    def _peers(self) -> tuple[str, ...]:
        return self.cluster.peers_of(self.node_id)

    def _hello(self) -> str:
        return f"listening on {self.cluster.transport} {self.address} (pid {os.getpid()})"

    def _start_tasks(self, nursery: trio.Nursery) -> None:
        """Start more tasks beside the node's (called once the node has started)."""

    # ----- the network side: frames in -----------------------------------------------

    async def frame_received(self, data: bytes, reply_path: Any, peer: str) -> None:
        """Check a frame from the transport and queue its delivery (see Receiver)."""
        try:
            frame = self._wire.open(data)
        except Rejected as rejected:
            self._reject(rejected.reason, rejected.detail, peer)
            return
        src = frame.src
        if src not in self._known:
            if src not in self._heard and not is_node_id(src):
                # An id goes into routes, the trace and the log: it must be a valid one.
                self._reject("bad sender", f"sender id {src!r} is not a valid node id", peer)
                return
            self._heard_from(src)  # an ephemeral client: the node may answer it
        self._transport.learn(src, reply_path)  # how to answer it (see the transport)
        await self._submit(partial(self._deliver_frame, frame))

    def frame_rejected(self, reason: str, detail: str, peer: str) -> None:
        """Count bytes the transport refused before they made a frame (see Receiver)."""
        self._reject(reason, detail, peer)

    def transport_log(self, text: str) -> None:
        """Log a line from the transport (see Receiver)."""
        self._print(text)

    def _deliver_frame(self, frame: Frame) -> None:
        self._deliver(frame.src, frame.msg, frame.stamps, partial(_deliver_event, frame))

    # ----- the node side: messages out -------------------------------------------------

    def _send(self, dst: str, msg: object, stamps: dict[str, Any] | None) -> None:
        if dst.__class__ is not str or dst not in self._known:
            self._check_destination(dst, msg)  # raises for an id it has not heard from
        envelope = codec.encode(msg, stamps)  # CodecError for an unregistered message
        data = self._wire.seal(dst, envelope)
        if len(data) > self._wire.max_frame:
            raise CodecError(f"{short_name(msg)} to {dst} is {len(data)} bytes on the wire, "
                             f"over this cluster's limit of {self._wire.max_frame}; send "
                             "smaller messages (or raise max_frame in the cluster file)")
        self.messages_out += 1
        if self._trace is not None:
            event: dict[str, Any] = {"to": dst, "id": self._wire.last_id,
                                     "msg": _message_json(envelope)}
            if stamps:
                event["stamps"] = stamps
            self._record("send", event)
        if dst == self.node_id:
            # To itself: through the same checks as any frame, but not over a socket.
            frame = self._wire.open(data)
            if not self._post(partial(self._deliver_frame, frame)):
                self._drop(dst, self._wire.last_id, msg, "inbox full")
            return
        reason = self._transport.send(dst, data)
        if reason is not None:
            self._drop(dst, self._wire.last_id, msg, reason)

    # ----- signals and status ---------------------------------------------------------

    async def _watch_signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                self.stopped_by = signal.Signals(signum).name
                self._print(f"stopping ({self.stopped_by})")
                self.stop()
                return

    async def _status_loop(self) -> None:
        while True:
            await trio.sleep(0.5)
            self._write_status("up")

    def _write_status(self, state: str) -> None:
        assert self._status_file is not None
        status = {"state": state, "pid": os.getpid(), "address": self.address,
                  "transport": self.cluster.transport, **self.statistics().to_json(),
                  "network": attrs.asdict(self._transport.statistics())}
        try:
            atomic_write(self._status_file, json.dumps(status).encode(), durable=False)
        except OSError as exc:  # a status file is a convenience: never stop the node
            self._warn("status", f"cannot write status file {self._status_file}: {exc}")


def _deliver_event(frame: Frame) -> dict[str, Any]:
    return {"from": frame.src, "id": frame.id, "msg": _message_json(frame.envelope)}


def _message_json(envelope: dict[str, Any]) -> dict[str, Any]:
    # Traces carry the message as {"type", "body"}; stamps go in their own field.
    return {"type": envelope["type"], "body": envelope.get("body", {})}
