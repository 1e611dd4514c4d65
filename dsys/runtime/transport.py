"""Transports: moving frames (bytes) between endpoints over TCP or UDP.

A transport knows addresses and bytes, nothing about messages: the host seals and opens
frames (:mod:`dsys.runtime.wire`). Both transports offer the same small interface:

* ``await open(receiver)`` binds the endpoint's address (a one-line ConfigError if it
  cannot), then ``await serve()`` hands every incoming frame to
  ``receiver.frame_received(data, reply_path, peer)`` and reports refused ones to
  ``receiver.frame_rejected(reason, detail, peer)`` until cancelled;
* ``send(dst, frame)`` never blocks: it hands the frame to the kernel, or (TCP, when the
  connection is busy or not up yet) queues it, and returns None; or it returns why it
  could not (``"queue full"``, ``"all queues full"``, ``"no route"``);
* ``learn(src, reply_path)`` remembers how to answer ``src``: over the connection its
  frame came on (TCP; for a peer too, so that a request and its reply share a connection)
  or, for an endpoint not in the cluster file (an ephemeral client), to the address its
  datagrams come from (UDP);
* ``statistics()`` is a snapshot of its connections and queues.

**TCP.** Each frame is preceded by its length (4 bytes, big-endian). The length is checked
against the limit *before* the body is read; a frame that announces more is refused and
the connection closed (there is no way to find the next frame without reading this one).
Connections to peers are opened on demand, when the first frame for them is queued, and
re-opened with exponential backoff (50 ms doubling up to 2 s, with jitter) when they fail.
A frame goes to the kernel at once if the connection is idle; otherwise it waits in the
connection's queue.

Rules of the TCP side (each bound is a field of :class:`Limits`; the security page of the
docs lists them with their defaults):

* **Bytes waiting to be sent are bounded**, per connection (``send_queue`` frames and
  ``send_queue_bytes``) and for the whole endpoint (``max_queued_bytes``). A frame that
  would pass a bound is dropped (``queue full``, ``all queues full``) and the sender told
  so, so a dead peer, or a client that never reads its replies, costs a fixed amount of
  memory. (The one exception: when the kernel takes only the head of a frame sent at
  once, the rest of that frame is kept, whatever the total, since the next frame can only
  follow it; so the total may pass ``max_queued_bytes`` by the rest of one frame per
  connection.)
* **Inbound connections are admitted, then must prove themselves.** At most
  ``max_connections`` are open, and ``max_connections_per_address`` from one IP address.
  A connection is *pending* until its first frame: with a cluster secret, the answer to
  the handshake challenge (:class:`~dsys.runtime.wire.Handshake`), at most
  ``ANSWER_LIMIT`` bytes; without one, any whole frame. A pending connection that has not
  finished its first frame ``first_frame_timeout`` seconds after it was accepted is
  closed. When a new connection would pass a bound, the *oldest pending* connection
  (of that address, for the per-address bound) is closed to make room, and only if none
  is pending is the newcomer refused: connections that never send cannot lock anyone
  out, and a peer or client that answered once cannot be pushed out by ones that did not.
* **Idle connections are closed**: one that carried no frame, either way, for
  ``idle_timeout`` seconds. The other end re-opens it when it has something to send.
* **Routes are learned only from authenticated connections.** With a secret, a frame
  teaches the route back to its sender only if it came on a connection whose handshake
  named that sender: a frame recorded from a peer and sent again by someone else (after
  the receiver restarted and forgot it) never makes the sender's connection the route to
  that peer. (It is not even delivered: such a connection never gets past its handshake.)
* Every connection refused or closed by these rules is counted by reason in
  :meth:`TcpTransport.statistics`; all but the idle ones are refusals of an unproven
  peer's bytes, and are reported to the receiver as refused frames too, with that reason
  (``too many connections``, ``evicted``, ``handshake timeout``, ``first frame timeout``,
  ``bad handshake``).

**Why TCP runs on raw sockets, not trio streams.** A handler never awaits, so it cannot
call ``SocketStream.send_all``: on streams every frame would go to a writer task through
a queue, and wait for that task to be scheduled. On a plain non-blocking socket the
handler's ``send`` hands the frame to the kernel at once whenever the connection is idle
(the usual case for request/reply), and the connection's own tasks only take over when
the kernel pushes back. Measured on loopback with ``python bench/runtime_rtt.py
--transports tcp --streams`` (two ``dsys run`` processes, 5 rounds of 5,000 round trips
of 156-byte frames; 2 CPUs, Python 3.11, trio 0.35), the same nodes over a streams
version of this transport (``bench/tcp_streams.py``): p50 round trip **132 µs on raw
sockets against 218 µs on streams (0.61x)**, p99 244 against 388 µs, and 0.61x to 0.68x
at p50 whatever the CPU placement (``--pin same/split/none``). Throughput with 32 requests
in flight depends on placement instead (raw sockets 0.70x of streams with both processes
on one CPU, 1.53x on two), so the gain this file is built for is latency.

**UDP.** One frame per datagram, sent at once; nothing is queued or retried, exactly like
the lossy network of the simulator. Frames are limited to 65,507 bytes (IPv4). Routes to
the endpoints of the cluster file are their fixed addresses, never learned; an ephemeral
client is answered at the address its latest accepted datagram came from.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
from collections import Counter, OrderedDict, deque
from collections.abc import Mapping
from random import Random
from typing import Any, Protocol

import attrs
import trio

from dsys.errors import ConfigError
from dsys.runtime.config import UDP_MAX_DATAGRAM, ClusterConfig, Endpoint
from dsys.runtime.wire import ANSWER_LIMIT, CHALLENGE_SIZE, Handshake, Rejected

BACKOFF_MIN = 0.05
BACKOFF_MAX = 2.0
#: Seconds to connect to a peer and, with a secret, to answer its handshake challenge.
CONNECT_TIMEOUT = 2.0
#: Return paths remembered (connections peers opened to us; addresses of ephemeral
#: clients): beyond this many, the oldest are forgotten.
MAX_LEARNED = 4096
_READ_SIZE = 65536
#: Frames written in one system call, and (roughly) their bytes: joining them costs a copy.
_BATCH = 64
_BATCH_BYTES = 256 << 10
_LENGTH = 4


@attrs.frozen
class Limits:
    """The bounds of a TCP endpoint (see the module docstring for what happens at each).

    Example:
        >>> Limits().max_connections, Limits(idle_timeout=60).idle_timeout
        (256, 60)
    """

    #: Inbound connections open at once.
    max_connections: int = 256
    #: Inbound connections open at once from one IP address.
    max_connections_per_address: int = 64
    #: Seconds a new inbound connection has to deliver its first frame (with a secret:
    #: to answer the handshake challenge).
    first_frame_timeout: float = 5.0
    #: Seconds without a frame, either way, after which an inbound connection is closed.
    idle_timeout: float = 300.0
    #: Frames waiting to be sent on one connection.
    send_queue: int = 1024
    #: Bytes waiting to be sent on one connection (raised to one frame of ``max_frame``
    #: if smaller, so that any frame can wait).
    send_queue_bytes: int = 4 << 20
    #: Bytes waiting to be sent on all the connections of the endpoint together.
    max_queued_bytes: int = 64 << 20


#: The limits :func:`make_transport` uses, but for the ones the cluster file sets.
DEFAULT_LIMITS = Limits()


def cluster_limits(cluster: ClusterConfig) -> Limits:
    """:data:`DEFAULT_LIMITS` with the ones the cluster file sets (``send_queue`` and the
    optional keys of :data:`~dsys.runtime.config.LIMIT_KEYS`).

    Example:
        >>> from dsys.runtime.config import parse_cluster
        >>> limits = cluster_limits(parse_cluster(
        ...     '[cluster]\\nidle_timeout = 60\\n[nodes]\\na = "127.0.0.1:7001"'))
        >>> limits.idle_timeout, limits.max_connections
        (60, 256)
    """
    changes: dict[str, Any] = {"send_queue": cluster.send_queue, **cluster.limits}
    return attrs.evolve(DEFAULT_LIMITS, **changes)


@attrs.frozen
class TransportStatistics:
    """An immutable snapshot of a transport's connections and queues.

    ``closed`` counts inbound connections closed by the rules of the module docstring, by
    reason (``"idle"``, ``"evicted"``, ``"too many connections"``...).
    """

    connections: int
    pending: int
    queued_frames: int
    queued_bytes: int
    closed: Mapping[str, int]


class Receiver(Protocol):
    """What a transport reports to (the host or a client)."""

    async def frame_received(self, data: bytes, reply_path: Any, peer: str) -> None:
        """A whole frame arrived from ``peer`` (an address, for logs)."""

    def frame_rejected(self, reason: str, detail: str, peer: str) -> None:
        """Bytes from ``peer`` were refused before they made a frame."""

    def transport_log(self, text: str) -> None:
        """A line worth logging (a peer unreachable, then reachable again)."""


class Transport(Protocol):
    """The interface both transports offer; see the module docstring."""

    name: str
    max_frame: int

    @property
    def address(self) -> str:
        """Where this endpoint listens (``host:port``), once serving."""

    async def open(self, receiver: Receiver) -> None:
        """Bind the listening address; frames will go to ``receiver``. ConfigError if
        the address cannot be bound."""

    async def serve(self) -> None:
        """Deliver frames (and keep peer links) until cancelled."""

    def close(self) -> None:
        """Release the listening socket (if ``serve`` never ran, or to be sure)."""

    def send(self, dst: str, frame: bytes) -> str | None:
        """Send ``frame`` to ``dst`` without blocking; None, or why it was dropped."""

    def hold(self) -> None:
        """Until :meth:`release`, keep frames instead of writing each one at once."""

    def release(self) -> None:
        """Write the frames kept since :meth:`hold`, one system call per connection."""

    def learn(self, src: str, reply_path: Any) -> None:
        """Remember how a checked frame from ``src`` arrived, to answer it that way."""

    def statistics(self) -> TransportStatistics:
        """An immutable snapshot of the connections and queues."""


def make_transport(cluster: ClusterConfig, local_id: str | None, *,
                   limits: Limits | None = None) -> Transport:
    """The transport the cluster file asks for, for endpoint ``local_id``.

    ``local_id`` None (or an id not in the file) is an ephemeral endpoint: it listens on
    no fixed address and is answered over the connections (or from the port) it uses.
    ``limits`` default to :func:`cluster_limits` (UDP has none).
    """
    endpoints = cluster.endpoints()
    local = endpoints.get(local_id) if local_id is not None else None
    peers = {i: e for i, e in endpoints.items() if i != local_id}
    ephemeral_host = "127.0.0.1" if cluster.on_loopback else "0.0.0.0"
    if cluster.transport == "udp":
        return UdpTransport(local, peers, max_frame=cluster.frame_limit,
                            ephemeral_host=ephemeral_host)
    if limits is None:
        limits = cluster_limits(cluster)
    handshake = None
    if cluster.secret is not None and local_id is not None:
        handshake = Handshake(cluster.secret, local_id)
    return TcpTransport(local, peers, max_frame=cluster.frame_limit, limits=limits,
                        handshake=handshake)


class _Budget:
    """The bytes waiting in all the outboxes of one transport, against one bound."""

    __slots__ = ("limit", "queued")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.queued = 0


class _Outbox:
    """Frames for one TCP connection, in order: handed to the kernel at once when nothing
    waits ahead of them, else queued for the connection's writer, up to ``limit`` frames
    and ``byte_limit`` bytes here, and the ``budget`` of the whole transport.

    ``bytes`` counts what waits here, and the budget the same bytes: every change to
    ``frames`` goes through :meth:`_append`, :meth:`put_back` and :meth:`take`.
    """

    def __init__(self, limit: int, *, byte_limit: float = math.inf,
                 budget: _Budget | None = None) -> None:
        self.frames: deque[bytes] = deque()
        self.limit = limit
        self.byte_limit = byte_limit
        self.budget = budget if budget is not None else _Budget(math.inf)
        self.bytes = 0
        self.sock: socket.socket | None = None  # the live connection, if any
        self.closed = False
        # True when frames[0] is the tail of a frame whose head is already on the wire.
        self.head_is_partial = False
        # When a frame last went either way (trio's clock): inbound connections idle out.
        self.last_active = 0.0
        self._wakeup = trio.Event()

    def put(self, data: bytes, *, hold: bool = False) -> str | None:
        """Queue ``data`` (or write it now, if nothing waits ahead of it); None, or why
        it was dropped. ``hold``: never write now and don't wake the writer: the caller
        will :meth:`flush` (frames sent by one handler leave in one system call)."""
        if self.closed:
            return "connection closed"
        if not hold and not self.frames and self.sock is not None:
            # Nothing queued ahead: try to write now (never blocks: the socket is
            # non-blocking). This saves a task switch on every message.
            try:
                sent = self.sock.send(data)
            except OSError:  # would block, or broken: the writer sorts it out
                sent = 0
            if sent:
                self.last_active = trio.current_time()
            if sent == len(data):
                return None
            if sent:
                # Part of the frame is on the wire: the rest must follow, whatever the
                # bounds (it fits this connection's: the queue was empty).
                self._append(data[sent:])
                self.head_is_partial = True
                return None
        if len(self.frames) >= self.limit or self.bytes + len(data) > self.byte_limit:
            return "queue full"
        if self.budget.queued + len(data) > self.budget.limit:
            return "all queues full"
        self._append(data, wake=not hold)
        return None

    async def wait_for_frames(self) -> None:
        while not self.frames:
            self._wakeup = trio.Event()
            await self._wakeup.wait()

    def connection_lost(self) -> None:
        """Forget the connection; a frame half-written to it can never be completed."""
        self.sock = None
        if self.head_is_partial:
            self.take(1)
            self.head_is_partial = False

    def discard(self) -> None:
        """Drop every waiting frame (the connection is gone for good)."""
        self.take(len(self.frames))

    def _append(self, data: bytes, *, wake: bool = True) -> None:
        self.frames.append(data)
        self.bytes += len(data)
        self.budget.queued += len(data)
        if wake:
            self._wakeup.set()

    def flush(self) -> None:
        """Write what waits here now, in one system call (as much as the kernel takes);
        the writer task gets the rest. Called after frames were put with ``hold``."""
        if not self.frames:
            return
        if self.sock is None or self.head_is_partial:
            self._wakeup.set()  # not connected, or the writer is mid-frame: its job
            return
        batch = self.take(_BATCH, _BATCH_BYTES)
        data = batch[0] if len(batch) == 1 else b"".join(batch)
        try:
            sent = self.sock.send(data)
        except OSError:  # would block, or broken: the writer sorts it out
            sent = 0
        if sent:
            self.last_active = trio.current_time()
        if sent < len(data):
            self.put_back(data[sent:] if sent else data)
            self.head_is_partial = sent > 0
        if self.frames:
            self._wakeup.set()

    def put_back(self, data: bytes) -> None:
        self.frames.appendleft(data)
        self.bytes += len(data)
        self.budget.queued += len(data)

    def take(self, count: int, max_bytes: float = math.inf) -> list[bytes]:
        """Take out the first ``count`` frames, or fewer if they add up to more than
        ``max_bytes`` (but at least one, if any wait)."""
        frames = self.frames
        taken: list[bytes] = []
        size = 0
        while frames and len(taken) < count and (not taken
                                                 or size + len(frames[0]) <= max_bytes):
            data = frames.popleft()
            taken.append(data)
            size += len(data)
        self.bytes -= size
        self.budget.queued -= size
        return taken


class _Inbound(_Outbox):
    """A connection another endpoint opened to this one: its outbox (the reply path to
    whoever speaks on it) and what the rules of admission need to know about it."""

    def __init__(self, sock: socket.socket, host: str, peer: str, limits: Limits,
                 byte_limit: int, budget: _Budget) -> None:
        super().__init__(limits.send_queue, byte_limit=byte_limit, budget=budget)
        self.sock = sock
        self.socket = sock  # kept after ``sock`` is cleared, to close it
        self.host = host
        self.peer = peer
        self.pending = True  # until its first frame (the handshake's answer, with a secret)
        self.peer_id: str | None = None  # the id its handshake answered for
        self.nonce = b""
        self.opened_at = self.last_active = trio.current_time()
        self.scope = trio.CancelScope()
        self.registered = True


class TcpTransport:
    """Length-prefixed frames over TCP; see the module docstring.

    It works on plain non-blocking sockets, waiting with ``trio.lowlevel.wait_readable``
    and ``wait_writable``: that way a frame can be handed to the kernel from inside a
    handler, without waking another task, whenever the connection is idle (the module
    docstring has the measured gain over trio streams).

    ``handshake`` (given when the cluster has a secret) makes every connection start with
    the challenge and answer of :class:`~dsys.runtime.wire.Handshake`.
    """

    name = "tcp"

    def __init__(self, local: Endpoint | None, peers: Mapping[str, Endpoint], *,
                 max_frame: int, limits: Limits = DEFAULT_LIMITS,
                 handshake: Handshake | None = None) -> None:
        self.max_frame = max_frame
        self.limits = limits
        self._local = local
        self._peers = dict(peers)
        self._handshake = handshake
        self._budget = _Budget(limits.max_queued_bytes)
        # Any one frame (with its length) can always wait on a connection.
        self._queue_bytes = max(limits.send_queue_bytes, max_frame + _LENGTH)
        self._links = {peer_id: self._outbox() for peer_id in self._peers}
        self._learned: OrderedDict[str, _Outbox] = OrderedDict()
        # Connections with frames kept by hold(), to be written by release().
        self._held: list[_Outbox] | None = None
        # Inbound connections, oldest first, and how many come from each address.
        self._inbound: dict[_Inbound, None] = {}
        self._per_address: Counter[str] = Counter()
        self._closed: Counter[str] = Counter()
        self._address = "(no listener)"
        self._receiver: Receiver | None = None
        self._listener: socket.socket | None = None
        # Jitter only: it keeps peers that lost the same node from retrying in lockstep.
        self._rng = Random()

    @property
    def address(self) -> str:
        """Where this endpoint listens, or ``(no listener)`` for an ephemeral one."""
        return self._address

    def statistics(self) -> TransportStatistics:
        """An immutable snapshot of the connections and queues."""
        outboxes = [*self._links.values(), *self._inbound]
        return TransportStatistics(
            connections=len(self._inbound),
            pending=sum(1 for conn in self._inbound if conn.pending),
            queued_frames=sum(len(o.frames) for o in outboxes),
            queued_bytes=self._budget.queued, closed=dict(sorted(self._closed.items())))

    async def open(self, receiver: Receiver) -> None:
        """Start listening (if this endpoint has an address); frames go to ``receiver``.

        Raises :class:`~dsys.errors.ConfigError` if the address cannot be bound.
        """
        self._receiver = receiver
        if self._local is None:
            return
        host, port = self._local.bind_host, self._local.bind_port
        try:
            info = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            family, address = info[0][0], info[0][4]
            # create_server sets SO_REUSEADDR: a restarted node can listen again at once.
            listener = socket.create_server(address, family=family)
        except OSError as exc:
            raise ConfigError(f"cannot listen on tcp {self._local.bind_address} for "
                              f"{self._local.id}: {exc.strerror or exc} (is another "
                              "process using that port?)") from None
        listener.setblocking(False)
        self._listener = listener
        self._address = self._local.bind_address

    async def serve(self) -> None:
        """Accept connections and run one task per peer link, until cancelled."""
        receiver = self._receiver
        assert receiver is not None, "call open() first"
        try:
            async with trio.open_nursery() as nursery:
                if self._listener is not None:
                    nursery.start_soon(self._accept_loop, self._listener, receiver, nursery)
                for peer_id, outbox in self._links.items():
                    nursery.start_soon(self._run_link, self._peers[peer_id], outbox, receiver)
        finally:
            self.close()

    def close(self) -> None:
        """Stop listening (the connections close with their tasks)."""
        if self._listener is not None:
            _close(self._listener)
            self._listener = None

    def send(self, dst: str, frame: bytes) -> str | None:
        """Send (or queue) ``frame`` for ``dst``; None, or why it was dropped.

        The route: our own connection to ``dst`` if it is up (or frames already wait for
        it: they keep their order); else a connection ``dst`` opened to us (so a request
        and its reply share one connection, and TCP can acknowledge one with the other);
        else our own, opened now.
        """
        data = len(frame).to_bytes(_LENGTH, "big") + frame
        link = self._links.get(dst)
        if link is None or (link.sock is None and not link.frames):
            outbox = self._learned.get(dst) or link
            if outbox is None:
                return "no route"
        else:
            outbox = link
        held = self._held
        if held is None:
            return outbox.put(data)
        reason = outbox.put(data, hold=True)
        if reason is None:
            if outbox not in held:
                held.append(outbox)
            if len(outbox.frames) == _BATCH:  # a batch's worth: no point keeping more
                outbox.flush()
        return reason

    def hold(self) -> None:
        """Until :meth:`release`, keep the frames of idle connections instead of writing
        each at once: the host holds while one handler runs, so the replies to a batch
        of commits (say) leave in one system call per connection, not one each."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        """Write the frames kept since :meth:`hold`, one system call per connection."""
        held, self._held = self._held, None
        if held:
            for outbox in held:
                outbox.flush()

    def learn(self, src: str, reply_path: Any) -> None:
        """Remember the connection a checked frame from ``src`` came on (see send).

        With a secret, only a connection whose handshake named ``src`` is its route: any
        other frame from ``src`` proves nothing about the connection it came on.
        """
        if not isinstance(reply_path, _Inbound) or self._learned.get(src) is reply_path:
            return
        if (self._handshake is not None and reply_path.peer_id != src) or reply_path.closed:
            return
        self._learned[src] = reply_path
        self._learned.move_to_end(src)
        if len(self._learned) > MAX_LEARNED:
            self._learned.popitem(last=False)

    def _outbox(self) -> _Outbox:
        return _Outbox(self.limits.send_queue, byte_limit=self._queue_bytes,
                       budget=self._budget)

    # ----- outbound: one link per peer, connected on demand -------------------------

    async def _run_link(self, peer: Endpoint, outbox: _Outbox, receiver: Receiver) -> None:
        backoff = BACKOFF_MIN
        unreachable = False
        while True:
            await outbox.wait_for_frames()  # connect on demand
            try:
                with trio.fail_after(CONNECT_TIMEOUT):
                    sock = await self._open_link(peer)
            except (OSError, trio.TooSlowError, Rejected) as exc:
                if not unreachable:  # log the change of state, not every retry
                    receiver.transport_log(f"cannot connect to {peer.id} at {peer.address} "
                                           f"({_why(exc)}); retrying")
                    unreachable = True
                await trio.sleep(backoff * self._rng.uniform(0.5, 1.0))
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            if unreachable:
                receiver.transport_log(f"connected to {peer.id} at {peer.address}")
                unreachable = False
            outbox.sock = sock
            connected_at = trio.current_time()
            try:
                await self._run_connection(sock, outbox, receiver, None,
                                           f"{peer.id} ({peer.address})")
            finally:
                outbox.connection_lost()
                _close(sock)
            if trio.current_time() - connected_at < 1.0:
                # Closed right away (a peer refusing connections?): do not hammer it.
                await trio.sleep(backoff * self._rng.uniform(0.5, 1.0))
                backoff = min(backoff * 2, BACKOFF_MAX)
            else:
                backoff = BACKOFF_MIN

    async def _open_link(self, peer: Endpoint) -> socket.socket:
        """A connection to ``peer``, its handshake done (with a secret)."""
        sock = await _connect(peer.host, peer.port)
        try:
            if self._handshake is not None:
                challenge = await _receive_exactly(sock, _LENGTH + CHALLENGE_SIZE)
                if int.from_bytes(challenge[:_LENGTH], "big") != CHALLENGE_SIZE:
                    raise Rejected("bad handshake", "expected a handshake challenge (does "
                                                    "the other end have the cluster secret?)")
                answer = self._handshake.answer(challenge[_LENGTH:])
                await _send_all(sock, len(answer).to_bytes(_LENGTH, "big") + answer)
        except BaseException:
            _close(sock)
            raise
        return sock

    # ----- inbound: admission, then one reader, writer and watchdog per connection --

    async def _accept_loop(self, listener: socket.socket, receiver: Receiver,
                           nursery: trio.Nursery) -> None:
        while True:
            await trio.lowlevel.wait_readable(listener)
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                continue  # another accept() took it first
            except OSError as exc:  # out of file descriptors, say: wait, then go on
                receiver.transport_log(f"accept failed ({_why(exc)})")
                await trio.sleep(0.1)
                continue
            _prepare(sock)
            conn = self._admit(sock, address[0], f"{address[0]}:{address[1]}", receiver)
            if conn is not None:
                nursery.start_soon(self._serve_inbound, receiver, conn)

    def _admit(self, sock: socket.socket, host: str, peer: str,
               receiver: Receiver) -> _Inbound | None:
        """Register a new connection, making room by closing the oldest pending one if a
        bound is reached (see the module docstring); None if it is refused instead."""
        limits = self.limits
        if (self._per_address[host] >= limits.max_connections_per_address
                and not self._evict(host, receiver)):
            self._refuse(sock, peer, receiver, f"{self._per_address[host]} already open "
                         f"from {host}; closing this one")
            return None
        if len(self._inbound) >= limits.max_connections and not self._evict(None, receiver):
            self._refuse(sock, peer, receiver, f"{len(self._inbound)} already open; closing "
                         "this one")
            return None
        conn = _Inbound(sock, host, peer, limits, self._queue_bytes, self._budget)
        self._inbound[conn] = None
        self._per_address[host] += 1
        return conn

    def _refuse(self, sock: socket.socket, peer: str, receiver: Receiver,
                detail: str) -> None:
        self._closed["too many connections"] += 1
        receiver.frame_rejected("too many connections", detail, peer)
        _close(sock)

    def _evict(self, host: str | None, receiver: Receiver) -> bool:
        """Close the oldest pending connection (from ``host``, if given); False if none."""
        for conn in self._inbound:
            if conn.pending and (host is None or conn.host == host):
                self._end(conn, receiver, "evicted", "closed before its first frame, to make "
                          "room for a newer connection")
                return True
        return False

    def _end(self, conn: _Inbound, receiver: Receiver, reason: str, detail: str | None) -> None:
        """Close ``conn`` for ``reason`` (refused, if ``detail`` says why) and forget it."""
        self._closed[reason] += 1
        if detail is not None:
            receiver.frame_rejected(reason, detail, conn.peer)
        self._forget(conn)
        conn.scope.cancel()

    def _forget(self, conn: _Inbound) -> None:
        """Unregister ``conn``: its slot, its routes and its queue (at most once)."""
        if not conn.registered:
            return
        conn.registered = False
        conn.closed = True
        del self._inbound[conn]
        self._per_address[conn.host] -= 1
        if not self._per_address[conn.host]:
            del self._per_address[conn.host]
        for src in [s for s, path in self._learned.items() if path is conn]:
            del self._learned[src]
        conn.discard()

    async def _serve_inbound(self, receiver: Receiver, conn: _Inbound) -> None:
        try:
            with conn.scope:
                if self._handshake is not None:
                    conn.nonce, challenge = self._handshake.challenge()
                    # A fresh connection's send buffer takes these few bytes at once.
                    data = len(challenge).to_bytes(_LENGTH, "big") + challenge
                    try:
                        if conn.socket.send(data) != len(data):
                            return
                    except OSError:
                        return
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._watch, conn, receiver)
                    await self._run_connection(conn.socket, conn, receiver, conn, conn.peer)
                    nursery.cancel_scope.cancel()
        finally:
            self._forget(conn)
            conn.connection_lost()
            _close(conn.socket)

    async def _watch(self, conn: _Inbound, receiver: Receiver) -> None:
        """Close ``conn`` if its first frame is late, or once it has been idle too long."""
        limits = self.limits
        while True:
            if conn.pending:
                deadline = conn.opened_at + limits.first_frame_timeout
            else:
                deadline = conn.last_active + limits.idle_timeout
            if trio.current_time() >= deadline:
                break
            await trio.sleep_until(deadline)
        if not conn.pending:
            self._end(conn, receiver, "idle", None)
        elif self._handshake is not None:
            self._end(conn, receiver, "handshake timeout", "no answer to the handshake "
                      f"challenge within {limits.first_frame_timeout:g} s")
        else:
            self._end(conn, receiver, "first frame timeout", "no whole frame within "
                      f"{limits.first_frame_timeout:g} s")

    def _first_frame(self, conn: _Inbound, frame: bytes, receiver: Receiver) -> bool:
        """Check the first frame of ``conn``: True if the connection may go on (and the
        frame is to be delivered, unless it was the handshake's answer)."""
        if self._handshake is not None:
            try:
                conn.peer_id = self._handshake.check(conn.nonce, frame)
            except Rejected as rejected:
                self._closed[rejected.reason] += 1
                receiver.frame_rejected(rejected.reason, rejected.detail, conn.peer)
                return False
        conn.pending = False
        conn.last_active = trio.current_time()
        return True

    # ----- one connection -----------------------------------------------------------

    async def _run_connection(self, sock: socket.socket, outbox: _Outbox, receiver: Receiver,
                              reply_path: Any, peer: str) -> None:
        """Read and write one connection until either direction ends.

        Only the socket's own errors end a connection (the read and write loops catch them
        around their system calls). An error of the receiver's, which runs the node, is
        not the network's business: it propagates instead of passing for a lost peer.
        """
        async with trio.open_nursery() as nursery:

            async def write_then_stop() -> None:
                try:
                    await self._write_loop(sock, outbox)
                finally:
                    nursery.cancel_scope.cancel()

            nursery.start_soon(write_then_stop)
            try:
                await self._read_loop(sock, receiver, reply_path, peer)
            finally:
                nursery.cancel_scope.cancel()

    async def _write_loop(self, sock: socket.socket, outbox: _Outbox) -> None:
        """Write queued frames until the connection breaks (then return: what was in
        flight is lost, as on any network)."""
        while True:
            await outbox.wait_for_frames()
            try:
                await trio.lowlevel.wait_writable(sock)
            except (OSError, trio.ClosedResourceError):
                return
            # Write what is queued (up to a batch) in one system call. Nothing awaits
            # between taking the frames out and putting back what was not written, so
            # put() never sees an empty queue while frames are in hand.
            batch = outbox.take(_BATCH, _BATCH_BYTES)
            data = batch[0] if len(batch) == 1 else b"".join(batch)
            try:
                sent = sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                outbox.head_is_partial = False  # the whole batch is lost with the connection
                return
            if sent:
                outbox.last_active = trio.current_time()
            if sent < len(data):
                outbox.put_back(data[sent:] if sent else data)
                outbox.head_is_partial = outbox.head_is_partial or sent > 0
            else:
                outbox.head_is_partial = False

    async def _read_loop(self, sock: socket.socket, receiver: Receiver, reply_path: Any,
                         peer: str) -> None:
        """Hand each whole frame to ``receiver`` until the peer closes the connection or
        it breaks (then return).

        A chunk that holds whole frames is cut up as it is (the common case: no copy but
        the frames'). The start of a frame whose end has not arrived waits in one
        bytearray, which grows in place and drops consumed bytes from its front in
        constant time, so a large frame arriving in many small pieces costs time linear
        in its size (appending ``pending + chunk`` to bytes would copy it once per piece).
        The length prefix is checked against the limit as soon as its 4 bytes are in,
        before the body is kept.

        On an inbound connection (``reply_path``), the first frame goes through
        :meth:`_first_frame` (with a secret: it must be the handshake's answer, and it is
        limited to the size of one); a connection that fails it ends here.
        """
        pending = bytearray()
        conn = reply_path if isinstance(reply_path, _Inbound) else None
        first = conn is not None and conn.pending
        limit = ANSWER_LIMIT if first and self._handshake is not None else self.max_frame
        handled = 0
        while True:
            try:
                await trio.lowlevel.wait_readable(sock)
                chunk = sock.recv(_READ_SIZE)
            except BlockingIOError:
                continue
            except (OSError, trio.ClosedResourceError):
                return  # reset by the peer, or closed under us: the connection is gone
            if not chunk:
                if pending:
                    receiver.frame_rejected("truncated", f"connection closed {len(pending)} "
                                                         "bytes into a frame", peer)
                return
            data: bytes | bytearray
            if pending:
                pending += chunk
                data = pending
            else:
                data = chunk
            start = 0
            while len(data) - start >= _LENGTH:
                size = int.from_bytes(data[start:start + _LENGTH], "big")
                if size > limit:
                    # Refused before reading its body: and since the next frame starts
                    # after that body, the only way on is to hang up.
                    receiver.frame_rejected("too large", f"length prefix announces {size} "
                                            f"bytes, limit {limit}; closing the connection",
                                            peer)
                    return
                end = start + _LENGTH + size
                if end > len(data):
                    break  # wait for the rest of this frame
                # bytes() of a slice of bytes is that slice (no copy); of a bytearray, a copy.
                frame = bytes(data[start + _LENGTH:end])
                start = end
                if first:
                    assert conn is not None
                    if not self._first_frame(conn, frame, receiver):
                        return
                    first, limit = False, self.max_frame
                    if self._handshake is not None:
                        continue  # the answer is the transport's, not the receiver's
                await receiver.frame_received(frame, reply_path, peer)
                handled += 1
                if handled % _BATCH == 0:  # a chunk of many frames: let others run too
                    await trio.lowlevel.checkpoint()
            if conn is not None and start:
                conn.last_active = trio.current_time()
            if data is pending:
                del pending[:start]
            elif start < len(chunk):
                pending += chunk[start:]


async def _connect(host: str, port: int) -> socket.socket:
    """A connected non-blocking TCP socket to ``host:port``."""
    info = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family, kind, proto, _, address = info[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # "in progress": wait until writable
            sock.connect(address)
        await trio.lowlevel.wait_writable(sock)
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            raise OSError(error, os.strerror(error))
    except BaseException:
        sock.close()
        raise
    _prepare(sock)
    return sock


async def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    """The next ``size`` bytes of ``sock`` (not one more); OSError if it closes first."""
    data = b""
    while len(data) < size:
        await trio.lowlevel.wait_readable(sock)
        try:
            chunk = sock.recv(size - len(data))
        except BlockingIOError:
            continue
        if not chunk:
            raise ConnectionResetError("closed by the other end during the handshake "
                                       "(too many connections there?)")
        data += chunk
    return data


async def _send_all(sock: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        await trio.lowlevel.wait_writable(sock)
        with contextlib.suppress(BlockingIOError):
            view = view[sock.send(view):]


def _prepare(sock: socket.socket) -> None:
    sock.setblocking(False)
    # Send small frames at once instead of waiting to fill a packet (Nagle's algorithm):
    # a request/response protocol would otherwise wait for delayed ACKs.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # Probe an idle connection after 10 s: a peer whose machine lost power is noticed
    # within about half a minute, instead of after the system's default of two hours.
    with contextlib.suppress(OSError, AttributeError):  # the options are Linux names
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)


def _close(sock: socket.socket) -> None:
    # Tell trio first, so a task still waiting on this socket wakes up instead of
    # waiting on a file descriptor number that may be reused.
    trio.lowlevel.notify_closing(sock)
    sock.close()


class UdpTransport:
    """One frame per UDP datagram; see the module docstring."""

    name = "udp"

    def __init__(self, local: Endpoint | None, peers: Mapping[str, Endpoint], *,
                 max_frame: int = UDP_MAX_DATAGRAM, ephemeral_host: str = "127.0.0.1") -> None:
        self.max_frame = min(max_frame, UDP_MAX_DATAGRAM)
        self._local = local
        self._peers = dict(peers)
        self._ephemeral_host = ephemeral_host
        self._addresses: dict[str, Any] = {}
        self._learned: OrderedDict[str, Any] = OrderedDict()
        self._socket: socket.socket | None = None
        self._receiver: Receiver | None = None
        self._address = "(not bound)"

    @property
    def address(self) -> str:
        """Where this endpoint receives datagrams, once serving."""
        return self._address

    async def open(self, receiver: Receiver) -> None:
        """Bind the socket and resolve the peers' addresses; datagrams go to ``receiver``.

        Raises :class:`~dsys.errors.ConfigError` if the address cannot be bound.
        """
        self._receiver = receiver
        if self._local is not None:
            host, port, label = self._local.bind_host, self._local.bind_port, self._local.id
        else:
            host, port, label = self._ephemeral_host, 0, "this client"
        try:
            info = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
            family, _, _, _, sockaddr = info[0]
            std = socket.socket(family, socket.SOCK_DGRAM)
            std.setblocking(False)
            std.bind(sockaddr)
        except OSError as exc:
            raise ConfigError(f"cannot bind udp {host}:{port} for {label}: "
                              f"{exc.strerror or exc} (is another process using it?)") from None
        with contextlib.suppress(OSError):  # not every system allows it
            # A bigger receive buffer rides out bursts instead of dropping them.
            std.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        bound = std.getsockname()
        self._address = f"{bound[0]}:{bound[1]}"
        for peer_id, peer in self._peers.items():
            try:
                found = await trio.socket.getaddrinfo(peer.host, peer.port, family=family,
                                                      type=socket.SOCK_DGRAM)
                self._addresses[peer_id] = found[0][4]
            except OSError as exc:
                receiver.transport_log(f"cannot resolve {peer.id} at {peer.address} "
                                       f"({_why(exc)})")
        self._socket = std

    async def serve(self) -> None:
        """Deliver every datagram to the receiver until cancelled."""
        receiver, sock = self._receiver, self._socket
        assert receiver is not None and sock is not None, "call open() first"
        handled = 0
        try:
            while True:
                try:
                    data, sender = sock.recvfrom(UDP_MAX_DATAGRAM + 1)
                except BlockingIOError:
                    await trio.lowlevel.wait_readable(sock)  # nothing there: wait for more
                    continue
                except OSError:
                    # e.g. an ICMP "port unreachable" surfacing on some systems
                    await trio.lowlevel.checkpoint()
                    continue
                peer = f"{sender[0]}:{sender[1]}"
                if len(data) > self.max_frame:
                    receiver.frame_rejected("too large", f"datagram of {len(data)} bytes, "
                                            f"limit {self.max_frame}", peer)
                else:
                    await receiver.frame_received(data, sender, peer)
                handled += 1
                if handled % _BATCH == 0:  # a flood must not keep other tasks waiting
                    await trio.lowlevel.checkpoint()
        finally:
            self.close()

    def statistics(self) -> TransportStatistics:
        """Nothing waits and nothing connects over UDP: all zeros."""
        return TransportStatistics(connections=0, pending=0, queued_frames=0, queued_bytes=0,
                                   closed={})

    def close(self) -> None:
        """Close the socket."""
        if self._socket is not None:
            _close(self._socket)
            self._socket = None

    def send(self, dst: str, frame: bytes) -> str | None:
        """Hand ``frame`` to the kernel for ``dst``; None, or why it was dropped."""
        address = self._addresses.get(dst) or self._learned.get(dst)
        if address is None:
            return "no route"
        if self._socket is None:
            return "not started"
        try:
            # A non-blocking datagram send finishes at once: the kernel takes the whole
            # datagram or refuses it, so no task (and no queue) is needed.
            self._socket.sendto(frame, address)
        except BlockingIOError:
            return "socket buffer full"
        except OSError as exc:
            return f"send failed ({_why(exc)})"
        return None

    def hold(self) -> None:
        """Nothing to keep: a datagram leaves at once."""

    def release(self) -> None:
        """Nothing was kept."""

    def learn(self, src: str, reply_path: Any) -> None:
        """Answer ``src`` at the address its datagrams come from (if it is not a peer)."""
        if src in self._addresses or reply_path is None:
            return
        self._learned[src] = reply_path
        self._learned.move_to_end(src)
        if len(self._learned) > MAX_LEARNED:
            self._learned.popitem(last=False)


def _why(exc: BaseException) -> str:
    if isinstance(exc, trio.TooSlowError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
