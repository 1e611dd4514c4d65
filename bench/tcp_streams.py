"""The TCP transport on trio streams: the design dsys measured and did not take.

:class:`StreamTcpTransport` offers the interface of :mod:`dsys.runtime.transport` (same
framing, same routes, same bounded queues) but moves bytes with ``trio.SocketStream``:
``receive_some`` to read, and one writer task per connection that ``send_all``s what a
handler queued (a handler cannot await, so it cannot write to a stream itself). The
raw-socket transport instead hands a frame to the kernel from inside the handler when
the connection is idle: no task switch, no stream machinery on the way.

``python bench/runtime_rtt.py --transports tcp --streams`` runs the dsys round trips both
ways, side by side; the figure is quoted in :mod:`dsys.runtime.transport`'s docstring.
This file is also the launcher of a node on streams:
``python bench/tcp_streams.py run TARGET --node ID --cluster FILE ...`` is ``dsys run``
with this transport in place of the raw-socket one.
"""

from __future__ import annotations

import sys
from collections import OrderedDict, deque
from collections.abc import Mapping
from typing import Any

import trio

from dsys.runtime.config import ClusterConfig, Endpoint
from dsys.runtime.transport import BACKOFF_MAX, BACKOFF_MIN, MAX_LEARNED, Receiver

_LENGTH = 4
_BATCH = 64


class _Link:
    """Frames waiting for one connection's writer task."""

    def __init__(self, limit: int) -> None:
        self.frames: deque[bytes] = deque()
        self.limit = limit
        self.up = False
        self.closed = False
        self._wakeup = trio.Event()

    def put(self, data: bytes) -> str | None:
        if self.closed:
            return "connection closed"
        if len(self.frames) >= self.limit:
            return "queue full"
        self.frames.append(data)
        self._wakeup.set()
        return None

    async def wait_for_frames(self) -> None:
        while not self.frames:
            self._wakeup = trio.Event()
            await self._wakeup.wait()


class StreamTcpTransport:
    """Length-prefixed frames over ``trio.SocketStream`` (see the module docstring)."""

    name = "tcp"

    def __init__(self, local: Endpoint | None, peers: Mapping[str, Endpoint], *,
                 max_frame: int, send_queue: int = 1024) -> None:
        self.max_frame = max_frame
        self._local = local
        self._peers = dict(peers)
        self._send_queue = send_queue
        self._links = {peer_id: _Link(send_queue) for peer_id in self._peers}
        self._learned: OrderedDict[str, _Link] = OrderedDict()
        self._listeners: list[trio.SocketListener] = []
        self._receiver: Receiver | None = None

    @property
    def address(self) -> str:
        return self._local.bind_address if self._local is not None else "(no listener)"

    async def open(self, receiver: Receiver) -> None:
        self._receiver = receiver
        if self._local is not None:
            self._listeners = await trio.open_tcp_listeners(self._local.bind_port,
                                                            host=self._local.bind_host)

    async def serve(self) -> None:
        receiver = self._receiver
        assert receiver is not None, "call open() first"
        try:
            async with trio.open_nursery() as nursery:
                if self._listeners:
                    nursery.start_soon(trio.serve_listeners, self._serve_inbound,
                                       self._listeners)
                for peer_id, link in self._links.items():
                    nursery.start_soon(self._run_link, self._peers[peer_id], link, receiver)
        finally:
            self.close()

    def close(self) -> None:
        for listener in self._listeners:
            listener.socket.close()
        self._listeners = []

    def send(self, dst: str, frame: bytes) -> str | None:
        data = len(frame).to_bytes(_LENGTH, "big") + frame
        link = self._links.get(dst)
        if link is not None and (link.up or link.frames):
            return link.put(data)
        inbound = self._learned.get(dst)
        if inbound is not None:
            return inbound.put(data)
        if link is not None:
            return link.put(data)
        return "no route"

    def hold(self) -> None:
        """Streams write through their writer tasks: nothing to keep."""

    def release(self) -> None:
        """Nothing was kept."""

    def learn(self, src: str, reply_path: Any) -> None:
        if not isinstance(reply_path, _Link) or self._learned.get(src) is reply_path:
            return
        self._learned[src] = reply_path
        self._learned.move_to_end(src)
        if len(self._learned) > MAX_LEARNED:
            self._learned.popitem(last=False)

    async def _run_link(self, peer: Endpoint, link: _Link, receiver: Receiver) -> None:
        backoff = BACKOFF_MIN
        while True:
            await link.wait_for_frames()
            try:
                stream = await trio.open_tcp_stream(peer.host, peer.port)
            except OSError:
                await trio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            backoff = BACKOFF_MIN
            link.up = True
            try:
                await self._run_connection(stream, link, receiver, None, peer.address)
            finally:
                link.up = False

    async def _serve_inbound(self, stream: trio.SocketStream) -> None:
        receiver = self._receiver
        assert receiver is not None
        link = _Link(self._send_queue)
        link.up = True
        try:
            await self._run_connection(stream, link, receiver, link, "inbound")
        finally:
            link.closed = True
            for src in [s for s, path in self._learned.items() if path is link]:
                del self._learned[src]

    async def _run_connection(self, stream: trio.SocketStream, link: _Link,
                              receiver: Receiver, reply_path: Any, peer: str) -> None:
        async with stream, trio.open_nursery() as nursery:

            async def write_then_stop() -> None:
                try:
                    while True:
                        await link.wait_for_frames()
                        batch = [link.frames.popleft()
                                 for _ in range(min(_BATCH, len(link.frames)))]
                        await stream.send_all(b"".join(batch))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
                finally:
                    nursery.cancel_scope.cancel()

            nursery.start_soon(write_then_stop)
            try:
                await self._read_loop(stream, receiver, reply_path, peer)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            finally:
                nursery.cancel_scope.cancel()

    async def _read_loop(self, stream: trio.SocketStream, receiver: Receiver,
                         reply_path: Any, peer: str) -> None:
        pending = bytearray()
        while True:
            chunk = await stream.receive_some(65536)
            if not chunk:
                return
            pending += chunk
            start = 0
            while len(pending) - start >= _LENGTH:
                size = int.from_bytes(pending[start:start + _LENGTH], "big")
                if size > self.max_frame:
                    receiver.frame_rejected("too large", f"{size} bytes", peer)
                    return
                end = start + _LENGTH + size
                if end > len(pending):
                    break
                frame = bytes(pending[start + _LENGTH:end])
                start = end
                await receiver.frame_received(frame, reply_path, peer)
            del pending[:start]


def make_stream_transport(cluster: ClusterConfig, local_id: str | None) -> Any:
    """What :func:`dsys.runtime.transport.make_transport` does, with streams for TCP."""
    endpoints = cluster.endpoints()
    local = endpoints.get(local_id) if local_id is not None else None
    peers = {i: e for i, e in endpoints.items() if i != local_id}
    return StreamTcpTransport(local, peers, max_frame=cluster.frame_limit,
                              send_queue=cluster.send_queue)


def main(argv: list[str]) -> int:
    """``dsys`` with the TCP transport on streams."""
    import dsys.runtime.host
    from dsys.cli import main as dsys_main

    dsys.runtime.host.make_transport = make_stream_transport  # type: ignore[assignment]
    return dsys_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
