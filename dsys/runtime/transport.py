"""Transports: moving frames (bytes) between endpoints over TCP or UDP.

A transport knows addresses and bytes, nothing about messages: the host seals and opens
frames (:mod:`dsys.runtime.wire`). Both transports offer the same small interface:

* ``await open(receiver)`` binds the endpoint's address (a one-line ConfigError if it
  cannot), then ``await serve()`` hands every incoming frame to
  ``receiver.frame_received(data, reply_path, peer)`` and reports refused ones to
  ``receiver.frame_rejected(reason, detail, peer)`` until cancelled;
* ``send(dst, frame)`` never blocks: it hands the frame to the kernel, or (TCP, when the
  connection is busy or not up yet) queues it, and returns None; or it returns why it
  could not (``"queue full"``, ``"no route"``);
* ``learn(src, reply_path)`` remembers how to answer ``src``: over the connection its
  frame came on (TCP; for a peer too, so that a request and its reply share a connection)
  or, for an endpoint not in the cluster file (an ephemeral client), to the address its
  datagrams come from (UDP).

**TCP.** Each frame is preceded by its length (4 bytes, big-endian). The length is checked
against the limit *before* the body is read; a frame that announces more is refused and
the connection closed (there is no way to find the next frame without reading this one).
Connections to peers are opened on demand, when the first frame for them is queued, and
re-opened with exponential backoff (50 ms doubling up to 2 s, with jitter) when they fail.
A frame goes to the kernel at once if the connection is idle; otherwise it waits in the
peer's bounded queue. While a peer is unreachable its frames wait there, and once the
queue is full new frames are dropped, so a dead peer costs a fixed amount of memory.

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
the lossy network of the simulator. Frames are limited to 65,507 bytes (IPv4).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections import OrderedDict, deque
from collections.abc import Mapping
from random import Random
from typing import Any, Protocol

import trio

from dsys.errors import ConfigError
from dsys.runtime.config import UDP_MAX_DATAGRAM, ClusterConfig, Endpoint

BACKOFF_MIN = 0.05
BACKOFF_MAX = 2.0
CONNECT_TIMEOUT = 2.0
#: Inbound TCP connections served at once; more are refused (each holds a task and buffers).
MAX_INBOUND = 256
#: Return paths remembered (connections peers opened to us; addresses of ephemeral
#: clients): beyond this many, the oldest are forgotten.
MAX_LEARNED = 4096
_READ_SIZE = 65536
_BATCH = 64
_LENGTH = 4


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

    def learn(self, src: str, reply_path: Any) -> None:
        """Remember how a checked frame from ``src`` arrived, to answer it that way."""


def make_transport(cluster: ClusterConfig, local_id: str | None) -> Transport:
    """The transport the cluster file asks for, for endpoint ``local_id``.

    ``local_id`` None (or an id not in the file) is an ephemeral endpoint: it listens on
    no fixed address and is answered over the connections (or from the port) it uses.
    """
    endpoints = cluster.endpoints()
    local = endpoints.get(local_id) if local_id is not None else None
    peers = {i: e for i, e in endpoints.items() if i != local_id}
    ephemeral_host = "127.0.0.1" if cluster.on_loopback else "0.0.0.0"
    if cluster.transport == "udp":
        return UdpTransport(local, peers, max_frame=cluster.frame_limit,
                            ephemeral_host=ephemeral_host)
    return TcpTransport(local, peers, max_frame=cluster.frame_limit,
                        send_queue=cluster.send_queue)


class _Outbox:
    """Frames for one TCP connection, in order: handed to the kernel at once when nothing
    waits ahead of them, else queued (up to ``limit`` frames) for the connection's writer.
    """

    def __init__(self, limit: int) -> None:
        self.frames: deque[bytes] = deque()
        self.limit = limit
        self.sock: socket.socket | None = None  # the live connection, if any
        self.closed = False
        # True when frames[0] is the tail of a frame whose head is already on the wire.
        self.head_is_partial = False
        self._wakeup = trio.Event()

    def put(self, data: bytes) -> str | None:
        if self.closed:
            return "connection closed"
        if not self.frames and self.sock is not None:
            # Nothing queued ahead: try to write now (never blocks: the socket is
            # non-blocking). This saves a task switch on every message.
            try:
                sent = self.sock.send(data)
            except OSError:  # would block, or broken: the writer sorts it out
                sent = 0
            if sent == len(data):
                return None
            if sent:
                # Part of the frame is on the wire: the rest must follow, whatever the limit.
                self.frames.append(data[sent:])
                self.head_is_partial = True
                self._wakeup.set()
                return None
        if len(self.frames) >= self.limit:
            return "queue full"
        self.frames.append(data)
        self._wakeup.set()
        return None

    async def wait_for_frames(self) -> None:
        while not self.frames:
            self._wakeup = trio.Event()
            await self._wakeup.wait()

    def connection_lost(self) -> None:
        """Forget the connection; a frame half-written to it can never be completed."""
        self.sock = None
        if self.head_is_partial:
            self.frames.popleft()
            self.head_is_partial = False


class TcpTransport:
    """Length-prefixed frames over TCP; see the module docstring.

    It works on plain non-blocking sockets, waiting with ``trio.lowlevel.wait_readable``
    and ``wait_writable``: that way a frame can be handed to the kernel from inside a
    handler, without waking another task, whenever the connection is idle (the module
    docstring has the measured gain over trio streams).
    """

    name = "tcp"

    def __init__(self, local: Endpoint | None, peers: Mapping[str, Endpoint], *,
                 max_frame: int, send_queue: int = 1024) -> None:
        self.max_frame = max_frame
        self._local = local
        self._peers = dict(peers)
        self._send_queue = send_queue
        self._links = {peer_id: _Outbox(send_queue) for peer_id in self._peers}
        self._learned: OrderedDict[str, _Outbox] = OrderedDict()
        self._inbound = 0
        self._address = "(no listener)"
        self._receiver: Receiver | None = None
        self._listener: socket.socket | None = None
        # Jitter only: it keeps peers that lost the same node from retrying in lockstep.
        self._rng = Random()

    @property
    def address(self) -> str:
        """Where this endpoint listens, or ``(no listener)`` for an ephemeral one."""
        return self._address

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
        if link is not None and (link.sock is not None or link.frames):
            return link.put(data)
        inbound = self._learned.get(dst)
        if inbound is not None:
            return inbound.put(data)
        if link is not None:
            return link.put(data)
        return "no route"

    def learn(self, src: str, reply_path: Any) -> None:
        """Remember the connection a checked frame from ``src`` came on (see send)."""
        if not isinstance(reply_path, _Outbox) or self._learned.get(src) is reply_path:
            return
        self._learned[src] = reply_path
        self._learned.move_to_end(src)
        if len(self._learned) > MAX_LEARNED:
            self._learned.popitem(last=False)

    # ----- outbound: one link per peer, connected on demand -------------------------

    async def _run_link(self, peer: Endpoint, outbox: _Outbox, receiver: Receiver) -> None:
        backoff = BACKOFF_MIN
        unreachable = False
        while True:
            await outbox.wait_for_frames()  # connect on demand
            try:
                with trio.fail_after(CONNECT_TIMEOUT):
                    sock = await _connect(peer.host, peer.port)
            except (OSError, trio.TooSlowError) as exc:
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

    # ----- inbound: one reader and one writer per accepted connection ---------------

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
            nursery.start_soon(self._serve_inbound, receiver, sock, f"{address[0]}:{address[1]}")

    async def _serve_inbound(self, receiver: Receiver, sock: socket.socket, peer: str) -> None:
        if self._inbound >= MAX_INBOUND:
            receiver.frame_rejected("too many connections",
                                    f"{MAX_INBOUND} already open; closing this one", peer)
            _close(sock)
            return
        self._inbound += 1
        reply_path = _Outbox(self._send_queue)
        reply_path.sock = sock
        try:
            await self._run_connection(sock, reply_path, receiver, reply_path, peer)
        finally:
            self._inbound -= 1
            reply_path.closed = True
            reply_path.connection_lost()
            for src in [s for s, path in self._learned.items() if path is reply_path]:
                del self._learned[src]
            _close(sock)

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
        frames = outbox.frames
        while True:
            await outbox.wait_for_frames()
            try:
                await trio.lowlevel.wait_writable(sock)
            except (OSError, trio.ClosedResourceError):
                return
            # Write what is queued (up to a batch) in one system call. Nothing awaits
            # between taking the frames out and putting back what was not written, so
            # put() never sees an empty queue while frames are in hand.
            batch = [frames.popleft() for _ in range(min(_BATCH, len(frames)))]
            data = b"".join(batch)
            try:
                sent = sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                outbox.head_is_partial = False  # the whole batch is lost with the connection
                return
            if sent < len(data):
                frames.appendleft(data[sent:])
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
        """
        pending = bytearray()
        limit = self.max_frame
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
                await receiver.frame_received(frame, reply_path, peer)
                handled += 1
                if handled % _BATCH == 0:  # a chunk of many frames: let others run too
                    await trio.lowlevel.checkpoint()
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
