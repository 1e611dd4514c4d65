"""The TCP transport's connection loops, on a socket pair: framing, limits, and which
errors end a connection."""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import trio

from dsys.runtime.groups import unwrap_group
from dsys.runtime.transport import TcpTransport, _Outbox

TIMEOUT = 20


class Trickle:
    """A socket that hands over at most ``piece`` bytes per ``recv``: the worst case of a
    slow link, where a big frame arrives in many small pieces (and a length prefix may be
    cut anywhere)."""

    def __init__(self, sock: socket.socket, piece: int) -> None:
        self.sock = sock
        self.piece = piece

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv(self, size: int) -> bytes:
        return self.sock.recv(min(size, self.piece))


class Frames:
    """A Receiver that keeps what it is given."""

    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.frames: list[bytes] = []
        self.rejected: list[tuple[str, str]] = []
        self.fail_with = fail_with
        self.arrived = trio.Event()

    async def frame_received(self, data: bytes, reply_path: Any, peer: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.frames.append(data)
        self.arrived.set()

    def frame_rejected(self, reason: str, detail: str, peer: str) -> None:
        self.rejected.append((reason, detail))
        self.arrived.set()

    def transport_log(self, text: str) -> None:
        pass


@contextmanager
def socket_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        b.setblocking(False)
        yield a, b


async def write_all(sock: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    sent = 0
    while sent < len(data):
        await trio.lowlevel.wait_writable(sock)
        with contextlib.suppress(BlockingIOError):
            sent += sock.send(view[sent:sent + 65536])


def framed(*frames: bytes) -> bytes:
    return b"".join(len(f).to_bytes(4, "big") + f for f in frames)


async def read_until(transport: TcpTransport, source: Trickle, writer: socket.socket,
                     data: bytes, receiver: Frames, done: Callable[[], bool]) -> None:
    """Run the read loop on ``source`` while ``data`` is written at the other end, until
    ``done()``."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(transport._read_loop, source, receiver, None, "peer")
        nursery.start_soon(write_all, writer, data)
        while not done():
            await receiver.arrived.wait()
            receiver.arrived = trio.Event()
        nursery.cancel_scope.cancel()


async def test_a_large_frame_in_small_pieces_is_read_in_linear_time() -> None:
    # 8 MiB in 1 KiB pieces: 8192 reads. Growing bytes with `pending + chunk` copied the
    # frame once per piece (about 24 s here); a bytearray takes a fraction of a second.
    size = 8 << 20
    frame = bytes(range(256)) * (size // 256)
    transport = TcpTransport(None, {}, max_frame=size)
    receiver = Frames()
    with socket_pair() as (a, b), trio.fail_after(5):
        await read_until(transport, Trickle(b, 1024), a, framed(frame), receiver,
                         lambda: bool(receiver.frames))
    assert receiver.frames == [frame] and not receiver.rejected


@pytest.mark.parametrize("piece", [1, 3, 7, 4096])
async def test_frames_cut_anywhere_come_out_whole_and_in_order(piece: int) -> None:
    frames = [bytes([i % 256]) * (i * 37 % 300) for i in range(150)]  # sizes 0..299
    transport = TcpTransport(None, {}, max_frame=1024)
    receiver = Frames()
    with socket_pair() as (a, b), trio.fail_after(TIMEOUT):
        await read_until(transport, Trickle(b, piece), a, framed(*frames), receiver,
                         lambda: len(receiver.frames) == len(frames))
    assert receiver.frames == frames and all(type(f) is bytes for f in receiver.frames)


async def test_a_too_large_frame_is_refused_from_its_length_prefix_alone() -> None:
    # The prefix announces 1 GiB and no body follows: the refusal must not wait for it
    # (nor keep any of it).
    transport = TcpTransport(None, {}, max_frame=1024)
    receiver = Frames()
    with socket_pair() as (a, b), trio.fail_after(TIMEOUT):
        a.send(framed(b"fine") + (1 << 30).to_bytes(4, "big") + b"xx")
        await transport._read_loop(Trickle(b, 3), receiver, None, "peer")  # returns
    assert receiver.frames == [b"fine"]
    assert receiver.rejected == [("too large", "length prefix announces 1073741824 bytes, "
                                               "limit 1024; closing the connection")]


async def test_a_connection_closed_mid_frame_is_reported_truncated() -> None:
    transport = TcpTransport(None, {}, max_frame=1024)
    receiver = Frames()
    with socket_pair() as (a, b), trio.fail_after(TIMEOUT):
        a.send(framed(b"one") + (10).to_bytes(4, "big") + b"abc")
        a.shutdown(socket.SHUT_WR)
        await transport._read_loop(Trickle(b, 2), receiver, None, "peer")
    assert receiver.frames == [b"one"]
    assert receiver.rejected == [("truncated", "connection closed 7 bytes into a frame")]


async def test_an_error_of_the_receiver_is_not_taken_for_a_lost_connection() -> None:
    # The receiver runs the node; its OSError (a full disk, say) is not the peer going
    # away. (It used to be swallowed here, and the connection silently closed.)
    transport = TcpTransport(None, {}, max_frame=1024)
    receiver = Frames(fail_with=OSError(errno.ENOSPC, "No space left on device"))
    with socket_pair() as (a, b), trio.fail_after(TIMEOUT):
        a.send(framed(b"hello"))
        with pytest.raises(BaseExceptionGroup) as info:
            await transport._run_connection(b, _Outbox(8), receiver, None, "peer")
    error = unwrap_group(info.value)
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC


async def test_a_connection_reset_by_the_peer_just_ends_the_connection() -> None:
    transport = TcpTransport(None, {}, max_frame=1024)
    receiver = Frames()
    with trio.fail_after(TIMEOUT):
        listener = socket.create_server(("127.0.0.1", 0))
        with listener, socket.create_connection(listener.getsockname()) as peer:
            served, _ = listener.accept()
            with served:
                served.setblocking(False)
                # A linger time of 0 makes close() send a reset instead of a goodbye.
                peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                peer.close()
                outbox = _Outbox(8)
                outbox.put(b"to nobody")  # queued: the writer meets the reset too
                await transport._run_connection(served, outbox, receiver, None, "peer")
    assert receiver.frames == [] and receiver.rejected == []


def held_link(transport: TcpTransport, sock: socket.socket) -> _Outbox:
    """A connected outbound link to "peer" on ``sock``."""
    box = transport._outbox()
    box.sock = sock
    transport._links["peer"] = box
    transport._peers["peer"] = None  # type: ignore[assignment]  # never dialled here
    return box


def readable(sock: socket.socket) -> bytes:
    try:
        return sock.recv(1 << 16)
    except BlockingIOError:
        return b""


async def test_frames_sent_while_held_leave_together_on_release() -> None:
    """What one handler sends (the host holds while it runs) is written when it returns,
    in order, in one write; not held, a frame leaves at once."""
    transport = TcpTransport(None, {}, max_frame=1000)
    with socket_pair() as (a, b):
        box = held_link(transport, a)
        transport.hold()
        for i in range(3):
            assert transport.send("peer", b"m%d" % i) is None
        assert readable(b) == b"" and len(box.frames) == 3
        transport.release()
        assert readable(b) == framed(b"m0", b"m1", b"m2")
        assert not box.frames and box.bytes == 0 and transport._budget.queued == 0
        assert transport.send("peer", b"now") is None
        assert readable(b) == framed(b"now")


async def test_a_held_batch_is_written_as_soon_as_it_is_full() -> None:
    from dsys.runtime.transport import _BATCH

    transport = TcpTransport(None, {}, max_frame=1000)
    with socket_pair() as (a, b):
        held_link(transport, a)
        transport.hold()
        for i in range(_BATCH + 1):
            assert transport.send("peer", b"%d" % i) is None
        assert readable(b) == framed(*[b"%d" % i for i in range(_BATCH)])
        transport.release()
        assert readable(b) == framed(b"%d" % _BATCH)


async def test_held_frames_for_an_unconnected_link_wait_for_its_writer() -> None:
    transport = TcpTransport(None, {}, max_frame=1000)
    box = transport._outbox()
    transport._links["peer"] = box
    transport._peers["peer"] = None  # type: ignore[assignment]
    box.frames.append(b"queued")  # a frame already waits for the connection
    box.bytes = len(b"queued")
    transport.hold()
    assert transport.send("peer", b"next") is None
    transport.release()
    assert list(box.frames) == [b"queued", framed(b"next")]
    assert box._wakeup.is_set()  # the link task connects and writes them
