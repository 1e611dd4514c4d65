"""Remote procedure call on top of messages: request ids, timeouts, retries, duplicate table.

RPC makes a message exchange look like a function call (Birrell and Nelson, *Implementing
Remote Procedure Calls*, ACM TOCS 2(1), 1984). A client *calls* ``method(args)`` on a
server; the server runs a handler and *replies*; the client's continuation receives the
result. In dsys handlers never block, so a call does not "return": it takes a callback
(the continuation) that runs, in a later handler, with an :class:`RpcResult`.

The hard part is failure. A call that gets no reply may have failed at any point: the
request was lost (the handler never ran), or the reply was lost (it ran), or the server
crashed (before or after running it). The client cannot tell these apart, so what an RPC
system promises depends on two choices (Tanenbaum and van Steen, *Distributed Systems*,
3rd ed., 2017, §8.3; Spector, *Performing remote operations efficiently on a local
computer network*, CACM 25(4), 1982):

* does the client **retry** after a timeout (same request id, delays growing by
  ``backoff``)? and
* does the server **remember** the requests it has executed, to recognise a retry?

The server's ``semantics`` says how it remembers:

- ``"at-least-once"``: the server keeps nothing and runs every copy of a request. A call
  that got a reply ran at least once; a call that timed out ran any number of times, zero
  included. Loss causes retries and retries run again; so do the network's duplicates.
- ``"at-most-once"``: the server keeps a *duplicate table* in memory, (client, request
  id) -> reply, and answers a retry with the remembered reply. Each call runs at most once
  under loss, duplication and reordering. **Not across a server crash**: the table is
  forgotten, and a retry that reaches the restarted server runs the handler again.
- ``"exactly-once"``: the duplicate table is in storage, synced together with the
  handler's own storage writes before the reply leaves. Each call runs exactly once *if*
  the client retries until it gets a reply (``retries=None``), the server eventually comes
  back, and the handler keeps its effects in ``storage`` (not in memory).

With ``retries=0`` (no retry) a call is executed at most once whatever the server does
("maybe" semantics), and under loss often zero times.

A timeout (``RpcResult.status == "timeout"``) never means "it did not happen": the handler
may have run, or may still run later (a delayed request), exactly like Jepsen's ``info``.

**Bounding the duplicate table.** Every request carries ``done_below``: the lowest request
id the client may still retry (its oldest unfinished call; if none, its next id). The
server deletes the replies it remembers for that client below it and ignores requests
below it (late duplicates of calls the client has finished or given up on). So the table
holds, per client, only the calls issued since the client's oldest unfinished one: one
entry for a client making one call at a time. A restarted client has a new epoch (see
:func:`~dsys.messaging.links.next_epoch`); its first request replaces the old
incarnation's entry, and requests from the old incarnation are ignored from then on.

Trace notes: the client records ``call`` and ``result``, the server ``execute`` (each
time a handler runs) and ``duplicate`` (a retry answered from the table); tests count
executions from the trace.

Example:
    >>> from dsys import Network, Node, Simulation
    >>> from dsys.messaging import Rpc, RpcResult
    >>> class Counter(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.rpc = self.add_component(Rpc("at-most-once"))
    ...         self.rpc.register("add", self.add)
    ...         self.total = 0
    ...     def add(self, caller: str, amount: int) -> int:
    ...         self.total += amount
    ...         return self.total
    >>> class Caller(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.rpc = self.add_component(Rpc(timeout=0.05))
    ...     def on_start(self) -> None:
    ...         self.rpc.call("server", "add", 5, self.done)
    ...     def done(self, result: RpcResult) -> None:     # the continuation
    ...         self.log(f"{result.status}: {result.value}")
    >>> sim = Simulation(seed=1, network=Network(drop=0.3, duplicate=0.3))
    >>> sim.add_node("server", Counter)
    >>> sim.add_node("client", Caller)
    >>> sim.run(until=2.0)
    >>> sim.node("server").total          # executed once, despite loss and duplicates
    5
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import attrs

from dsys.core.messages import message
from dsys.core.node import Component
from dsys.errors import ConfigError, UsageError
from dsys.messaging.links import next_epoch

Semantics = Literal["at-least-once", "at-most-once", "exactly-once"]
SEMANTICS: tuple[Semantics, ...] = ("at-least-once", "at-most-once", "exactly-once")

#: A server-side handler: ``handler(caller_id, args) -> result`` (JSON values).
Handler = Callable[[str, Any], Any]

# ----- messages ----------------------------------------------------------------------------


@message
class RpcRequest:
    """Client -> server: run ``method(args)``. A retry repeats the same ``epoch``/``rid``."""

    epoch: int  # the client's incarnation
    rid: int  # request id, unique within that incarnation
    method: str
    args: Any
    done_below: int  # the client will never retry a request id below this one


@message
class RpcReply:
    """Server -> client: the outcome of request ``rid`` of the client's incarnation ``epoch``."""

    epoch: int
    rid: int
    ok: bool
    value: Any
    error: str = ""


# ----- results and errors ------------------------------------------------------------------


class RpcError(Exception):
    """Raise this in a handler to make the call fail with an error message (the client
    gets ``RpcResult(status="error", error=...)``). Any other exception is a bug in the
    handler and stops the simulation."""


@attrs.frozen
class RpcResult:
    """What a call's continuation receives.

    ``status`` is ``"ok"`` (``value`` is the handler's result), ``"error"`` (the handler
    raised :class:`RpcError`, or the method does not exist; ``error`` says why) or
    ``"timeout"`` (no reply after every attempt: the call *may or may not* have run).
    """

    status: Literal["ok", "error", "timeout"]
    value: Any
    error: str
    dst: str
    method: str
    rid: int
    attempts: int

    @property
    def ok(self) -> bool:
        """True if the call completed and the handler returned normally."""
        return self.status == "ok"


@attrs.define
class PendingCall:
    """A call the client is still waiting for."""

    rid: int
    dst: str
    method: str
    args: Any
    on_result: Callable[[RpcResult], None] | None
    timeout: float
    retries: int | None
    attempts: int = 0


@attrs.define
class ClientRecord:
    """What an at-most-once server remembers about one client (its duplicate table)."""

    epoch: int
    done_below: int = 0
    replies: dict[int, RpcReply] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON form, for storage."""
        return {"epoch": self.epoch, "done_below": self.done_below,
                "replies": [[r.rid, r.ok, r.value, r.error] for r in self.replies.values()]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClientRecord:
        """Read back :meth:`to_json`."""
        epoch = int(data["epoch"])
        replies = {int(rid): RpcReply(epoch, int(rid), bool(ok), value, str(error))
                   for rid, ok, value, error in data["replies"]}
        return cls(epoch, int(data["done_below"]), replies)


# ----- the component --------------------------------------------------------------------------


class Rpc(Component):
    """RPC client and server in one component; see the module docstring.

    Args:
        semantics: how this node, as a server, treats retries: ``"at-least-once"``,
            ``"at-most-once"`` or ``"exactly-once"``.
        timeout: seconds to wait for the reply to the first attempt of a call.
        retries: attempts after the first (``None``: retry until a reply comes).
        backoff: each retry waits ``backoff`` times longer than the previous attempt...
        max_timeout: ...but never longer than this.
        jitter: add up to this fraction of random extra wait (from ``node.rng``), so that
            clients that timed out together do not retry in lockstep.
    """

    messages = (RpcRequest, RpcReply)
    default_name = "rpc"

    epoch: int
    next_rid: int
    calls: dict[int, PendingCall]
    table: dict[str, ClientRecord]

    def __init__(self, semantics: Semantics = "at-most-once", *, timeout: float = 0.1,
                 retries: int | None = 5, backoff: float = 2.0, max_timeout: float = 1.0,
                 jitter: float = 0.0) -> None:
        if semantics not in SEMANTICS:
            raise ConfigError(f"RPC semantics must be one of {SEMANTICS}, got {semantics!r}")
        if timeout <= 0 or backoff < 1 or max_timeout < timeout or jitter < 0:
            raise ConfigError(
                "RPC needs timeout > 0, backoff >= 1, max_timeout >= timeout and jitter >= 0"
            )
        self.semantics = semantics
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_timeout = max_timeout
        self.jitter = jitter
        self.handlers: dict[str, Handler] = {}

    def on_start(self) -> None:
        self.epoch = next_epoch(self.storage, f"{self.name}/epoch")
        self.next_rid = 0
        self.calls = {}
        self.table = {}
        if self.semantics == "exactly-once":
            prefix = f"{self.name}/table/"
            for key in self.storage:
                if key.startswith(prefix):
                    self.table[key[len(prefix):]] = ClientRecord.from_json(self.storage[key])

    # ----- interface: server ------------------------------------------------------------------

    def register(self, method: str, handler: Handler) -> None:
        """Serve ``method``: ``handler(caller_id, args)`` returns the result (a JSON value)
        or raises :class:`RpcError`."""
        self.handlers[method] = handler

    # ----- interface: client ------------------------------------------------------------------

    def call(self, dst: str, method: str, args: Any = None,
             on_result: Callable[[RpcResult], None] | None = None, *,
             timeout: float | None = None, retries: int | Literal["default"] | None = "default"
             ) -> int:
        """Call ``method(args)`` on node ``dst``; ``on_result`` gets the :class:`RpcResult`.

        ``timeout`` and ``retries`` override the component's settings for this call.
        Returns the request id. ``args`` must be a JSON value (lists, not tuples).
        """
        call = PendingCall(
            rid=self.next_rid, dst=dst, method=method, args=args, on_result=on_result,
            timeout=self.timeout if timeout is None else timeout,
            retries=self.retries if isinstance(retries, str) else retries,
        )
        if call.timeout <= 0:
            raise UsageError(f"RPC timeout must be > 0, got {call.timeout}")
        self.next_rid += 1
        self.calls[call.rid] = call
        self.note("call", rid=call.rid, dst=dst, method=method, args=args)
        self._attempt(call)
        return call.rid

    @property
    def outstanding(self) -> int:
        """How many calls are waiting for a reply."""
        return len(self.calls)

    # ----- handlers ----------------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case RpcRequest():
                self._serve(src, msg)
            case RpcReply():
                self._complete(src, msg)

    def on_timer(self, name: str) -> None:
        call = self.calls.get(int(name.removeprefix("call-")))
        if call is None:
            return
        if call.retries is None or call.attempts <= call.retries:
            self._attempt(call)  # same request id: the server can recognise the retry
        else:
            del self.calls[call.rid]
            self._finish(call, "timeout", None, "no reply")

    # ----- helpers: client ---------------------------------------------------------------------

    def _attempt(self, call: PendingCall) -> None:
        call.attempts += 1
        done_below = min(self.calls) if self.calls else self.next_rid
        self.send(call.dst, RpcRequest(self.epoch, call.rid, call.method, call.args, done_below))
        wait = min(call.timeout * self.backoff ** (call.attempts - 1), self.max_timeout)
        if self.jitter:
            wait *= 1.0 + self.jitter * self.rng.random()
        self.set_timer(f"call-{call.rid}", wait)

    def _complete(self, src: str, reply: RpcReply) -> None:
        if reply.epoch != self.epoch:
            return  # meant for an earlier incarnation of this node
        call = self.calls.pop(reply.rid, None)
        if call is None:
            return  # a duplicate reply, or one that came after we gave up
        self.cancel_timer(f"call-{call.rid}")
        if reply.ok:
            self._finish(call, "ok", reply.value, "")
        else:
            self._finish(call, "error", None, reply.error)

    def _finish(self, call: PendingCall, status: Literal["ok", "error", "timeout"], value: Any,
                error: str) -> None:
        result = RpcResult(status, value, error, call.dst, call.method, call.rid, call.attempts)
        self.note("result", rid=call.rid, status=status, value=value, attempts=call.attempts)
        if call.on_result is not None:
            call.on_result(result)

    # ----- helpers: server ---------------------------------------------------------------------

    def _serve(self, src: str, request: RpcRequest) -> None:
        if self.semantics == "at-least-once":
            self.send(src, self._execute(src, request))  # every copy runs
            return
        record = self.table.get(src)
        if record is None or request.epoch > record.epoch:
            record = self.table[src] = ClientRecord(request.epoch)  # a new client incarnation
        elif request.epoch < record.epoch:
            return  # from a crashed incarnation of the client: nobody waits for it
        if request.rid < record.done_below:
            return  # the client finished with this call: a late duplicate
        if request.done_below > record.done_below:
            # The client promises never to retry below done_below: forget those replies.
            record.done_below = request.done_below
            for rid in [r for r in record.replies if r < record.done_below]:
                del record.replies[rid]
        reply = record.replies.get(request.rid)
        if reply is not None:
            self.note("duplicate", client=src, rid=request.rid, method=request.method)
        else:
            reply = record.replies[request.rid] = self._execute(src, request)
        if self.semantics == "exactly-once":
            # One handler run cannot be split by a crash, so the handler's storage writes
            # and the table entry become durable together, before the reply leaves.
            self.storage[f"{self.name}/table/{src}"] = record.to_json()
            self.storage.sync()
        self.send(src, reply)

    def _execute(self, src: str, request: RpcRequest) -> RpcReply:
        self.note("execute", client=src, epoch=request.epoch, rid=request.rid,
                  method=request.method)
        handler = self.handlers.get(request.method)
        if handler is None:
            known = ", ".join(sorted(self.handlers)) or "none"
            return RpcReply(request.epoch, request.rid, False, None,
                            f"no method {request.method!r} on {self.id} (methods: {known})")
        try:
            value = handler(src, request.args)
        except RpcError as exc:
            return RpcReply(request.epoch, request.rid, False, None, str(exc))
        return RpcReply(request.epoch, request.rid, True, value)
