"""Bad input over a real socket: every bad frame is refused and counted, with its reason,
and a valid request afterwards still gets its answer."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsys.core import codec
from dsys.runtime import ClusterConfig, NodeHost, Wire, open_client, parse_cluster
from dsys.runtime.wire import CHALLENGE_SIZE, Handshake
from tests.runtime.apps import Echo, EchoOk, Server
from tests.runtime.conftest import running
from tests.runtime.helpers import cluster_text, wait_until

TIMEOUT = 20
SECRET = "the cluster secret"


class Raw:
    """A hand-made connection (TCP) or socket (UDP) to a node: send any bytes at all."""

    def __init__(self, transport: str, port: int) -> None:
        self.transport = transport
        self.port = port
        self.stream: trio.SocketStream | None = None
        self.sock: Any = None

    async def open(self) -> None:
        if self.transport == "tcp":
            self.stream = await trio.open_tcp_stream("127.0.0.1", self.port)
        else:
            self.sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            await self.sock.bind(("127.0.0.1", 0))

    async def close(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()
        if self.sock is not None:
            self.sock.close()

    async def handshake(self, secret: bytes, as_id: str) -> None:
        """Answer the node's handshake challenge (TCP with a secret), as ``as_id``."""
        assert self.stream is not None
        challenge = b""
        while len(challenge) < 4 + CHALLENGE_SIZE:
            chunk = await self.stream.receive_some(4 + CHALLENGE_SIZE - len(challenge))
            assert chunk, "closed before the handshake challenge"
            challenge += chunk
        await self.send_frame(Handshake(secret, as_id).answer(challenge[4:]))

    async def send_frame(self, frame: bytes) -> None:
        """``frame`` as the transport carries it (TCP: after its length)."""
        if self.transport == "tcp":
            await self.send_bytes(len(frame).to_bytes(4, "big") + frame)
        else:
            await self.send_bytes(frame)

    async def send_bytes(self, data: bytes) -> None:
        """Exactly ``data`` (TCP: on the stream; UDP: as one datagram)."""
        if self.stream is not None:
            await self.stream.send_all(data)
        else:
            await self.sock.sendto(data, ("127.0.0.1", self.port))

    async def receive_frame(self, timeout: float = 2.0) -> bytes | None:
        with trio.move_on_after(timeout):
            if self.stream is None:
                return bytes(await self.sock.recv(65536))
            data = b""
            while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
                chunk = await self.stream.receive_some(65536)
                if not chunk:
                    return None
                data += chunk
            return data[4:]
        return None

    async def closed_by_peer(self, timeout: float = 2.0) -> bool:
        assert self.stream is not None
        with trio.move_on_after(timeout):
            return await self.stream.receive_some(100) == b""
        return False


@asynccontextmanager
async def raw(transport: str, port: int) -> AsyncIterator[Raw]:
    endpoint = Raw(transport, port)
    await endpoint.open()
    try:
        yield endpoint
    finally:
        await endpoint.close()


def frame(payload: dict[str, Any] | Any, *, codec_byte: bytes = b"j") -> bytes:
    return b"\x01" + codec_byte + b"\x00" + codec.dumps(payload)


def envelope_frame(msg: Any, **changes: Any) -> bytes:
    return frame({"src": "mallory", "dst": "a", "boot": 1, "seq": 1, "msg": msg, **changes})


async def still_answers(cluster: ClusterConfig, host: NodeHost) -> None:
    async with open_client(cluster) as client:
        reply = await client.request("a", Echo("still there?"), resend_every=0.5)
        assert reply == EchoOk("still there?")
    assert host.statistics().handler_errors == 0


def port_of(cluster: ClusterConfig) -> int:
    return cluster.nodes["a"].port


BAD_FRAMES = {
    "unknown type": envelope_frame({"type": "rt:NotAClass", "body": {}}),
    "invalid message": envelope_frame({"type": "rt:Echo", "body": {"text": 42}}),
    "malformed": envelope_frame({"type": "rt:Echo", "body": {"text": "x"}}, extra="key"),
}


@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize(("expected", "data"), [
    ("unknown type", BAD_FRAMES["unknown type"]),
    ("invalid message", BAD_FRAMES["invalid message"]),
    ("invalid message", envelope_frame({"type": "rt:Echo", "body": {"text": "x", "spy": 1}})),
    ("malformed", BAD_FRAMES["malformed"]),
    ("malformed", b"\x01j\x00{\"src\": "),
    ("wrong destination", envelope_frame({"type": "rt:Echo", "body": {"text": "x"}}, dst="b")),
    ("unexpected tag", b"\x01j\x01" + b"\x00" * 40),
    ("bad version", b"\x07j\x00{}"),
])
async def test_a_bad_frame_is_refused_counted_and_the_node_keeps_serving(
        transport: str, expected: str, data: bytes) -> None:
    cluster = parse_cluster(cluster_text({"a": None}, transport))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}) as hosts, raw(transport, port_of(cluster)) as r:
            await r.send_frame(data)
            await wait_until(lambda: hosts["a"].statistics().rejected.get(expected) == 1,
                             TIMEOUT, f"a {expected!r} rejection",
                             lambda: str(hosts["a"].statistics().rejected))
            assert await r.receive_frame(timeout=0.2) is None  # no answer to a bad frame
            await still_answers(cluster, hosts["a"])


async def test_a_truncated_tcp_frame_and_a_4_gib_length_prefix_are_refused() -> None:
    cluster = parse_cluster(cluster_text({"a": None}))
    port = port_of(cluster)
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}) as hosts:
            async with raw("tcp", port) as r:
                await r.send_bytes((100).to_bytes(4, "big") + b"only ten b")
            async with raw("tcp", port) as r:
                await r.send_bytes(b"\xff\xff\xff\xff" + b"x" * 1000)
                assert await r.closed_by_peer()  # hung up without reading 4 GiB
            stats = hosts["a"].statistics
            await wait_until(lambda: stats().rejected == {"truncated": 1, "too large": 1},
                             TIMEOUT, "two rejections", lambda: str(stats().rejected))
            await still_answers(cluster, hosts["a"])


async def test_short_and_oversized_datagrams_are_refused() -> None:
    cluster = parse_cluster(cluster_text({"a": None}, "udp", extra="max_frame = 1000"))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}) as hosts, raw("udp", port_of(cluster)) as r:
            await r.send_bytes(b"\x01j")
            await r.send_bytes(b"")
            await r.send_bytes(b"\x01j\x00" + b" " * 2000)
            stats = hosts["a"].statistics
            await wait_until(lambda: stats().rejected == {"truncated": 2, "too large": 1},
                             TIMEOUT, "three rejections", lambda: str(stats().rejected))
            await still_answers(cluster, hosts["a"])


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_with_a_secret_unauthenticated_forged_and_replayed_frames_are_refused(
        transport: str) -> None:
    cluster = parse_cluster(cluster_text({"a": None}, transport, secret=SECRET))
    echo = codec.encode(Echo("hi"))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}) as hosts, raw(transport, port_of(cluster)) as r:
            if transport == "tcp":  # a connection carries frames once its handshake is done
                await r.handshake(SECRET.encode(), "carol")
            await r.send_frame(Wire("mallory").seal("a", echo))  # no tag at all
            await r.send_frame(Wire("mallory", secret=b"a guess").seal("a", echo))  # bad tag
            honest = Wire("carol", secret=SECRET.encode())
            recorded = honest.seal("a", echo)
            await r.send_frame(recorded)
            answer = await r.receive_frame()
            assert answer is not None and honest.open(answer).msg == EchoOk("hi")
            await r.send_frame(recorded)  # the same bytes again: a replay
            assert await r.receive_frame(timeout=0.3) is None
            await r.send_frame(honest.seal("a", echo))  # a fresh frame from carol is fine
            answer = await r.receive_frame()
            assert answer is not None and honest.open(answer).msg == EchoOk("hi")
            assert hosts["a"].statistics().rejected == {"unauthenticated": 1, "bad tag": 1,
                                                        "replayed": 1}
            await still_answers(cluster, hosts["a"])


TCP_CLUSTER = parse_cluster(cluster_text({"a": None}, "tcp"))
UDP_CLUSTER = parse_cluster(cluster_text({"a": None}, "udp"))


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(transport=st.sampled_from(["tcp", "udp"]),
       garbage=st.lists(st.binary(max_size=120), min_size=1, max_size=6))
async def test_random_garbage_is_refused_and_counted(transport: str, garbage: list[bytes]) -> None:
    cluster = TCP_CLUSTER if transport == "tcp" else UDP_CLUSTER
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}) as hosts:
            async with raw(transport, port_of(cluster)) as r:
                for blob in garbage:
                    await r.send_frame(blob)  # each a whole frame of garbage
            stats = hosts["a"].statistics
            await wait_until(lambda: sum(stats().rejected.values()) == len(garbage), TIMEOUT,
                             "every frame refused", lambda: str(stats().rejected))
            if transport == "tcp":  # and raw garbage on a stream, length prefix included
                async with raw("tcp", port_of(cluster)) as r:
                    await r.send_bytes(b"".join(garbage) + b"\x00" * 4)
                await wait_until(lambda: sum(stats().rejected.values()) > len(garbage), TIMEOUT,
                                 "the stream refused", lambda: str(stats().rejected))
            await still_answers(cluster, hosts["a"])


async def test_connections_beyond_the_limit_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from dsys.runtime import transport

    monkeypatch.setattr(transport, "DEFAULT_LIMITS", transport.Limits(max_connections=2))
    cluster = parse_cluster(cluster_text({"a": None}))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}) as hosts:
            port = port_of(cluster)
            async with raw("tcp", port) as first, raw("tcp", port) as second:
                # Both send a frame: neither is pending, so neither can be evicted.
                await first.send_frame(BAD_FRAMES["unknown type"])
                await second.send_frame(BAD_FRAMES["unknown type"])
                stats = hosts["a"].statistics
                await wait_until(lambda: stats().rejected.get("unknown type") == 2, TIMEOUT,
                                 "both connections served")
                async with raw("tcp", port) as third:
                    assert await third.closed_by_peer()
            assert hosts["a"].statistics().rejected["too many connections"] == 1
            await still_answers(cluster, hosts["a"])
