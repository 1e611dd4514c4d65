"""A fuzz test of a `dsys run` node: random and mutated frames over TCP and UDP.

The node runs as its own process (with a trace, so writing what it refuses is fuzzed
too). A seeded generator throws at it random bytes, well-formed authenticated frames
mutated field by field (and sealed again, so that the mutation reaches the checks past
the tag), non-finite floats, huge integers, long strings, bad ids, deep nesting, bad
headers, flipped bits, replays; over TCP also connections that never answer the
handshake and streams of garbage. Every so often a valid request must get its answer.
At the end the node must still be up, answer a client, and its peak memory (RSS) must
stay within the bound the security page states (queued bytes, plus a frame being read per
connection) over what it used at start.

By default a short run (``FRAMES``); ``pytest --soak`` runs ``SOAK_FRAMES`` per transport
and prints the figures (frames, refusals by reason, peak RSS).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from dsys.core import codec
from dsys.runtime import load_cluster, open_client
from dsys.runtime.transport import DEFAULT_LIMITS
from dsys.runtime.wire import CHALLENGE_SIZE, Handshake, Rejected, Wire
from tests.runtime.apps import Echo, EchoOk
from tests.runtime.helpers import cluster_text, nodes_of, read_json

SECRET = "the fuzzed cluster's secret"
FRAMES = 2_500  # per transport: 5,000 in the default run
SOAK_FRAMES = 100_000  # per transport, with --soak
PING_EVERY = 250  # frames between two requests that must be answered
SEED = 20240610
MAX_FRAME = 1 << 20
UDP_MAX = 65_000
ME = "fuzzer"
MUTANT = "mutant"
HEADER = b"\x01j\x01"


def rss(pid: int) -> tuple[int, int]:
    """(current, peak) resident memory of process ``pid``, in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return int(fields["VmRSS"][0]) * 1024, int(fields["VmHWM"][0]) * 1024


# ----- the frames -------------------------------------------------------------------------

class Mutator:
    """Frames for node ``a``: each call of :meth:`next` returns ``(kind, frame)``."""

    def __init__(self, rng: random.Random, *, max_size: int) -> None:
        self.rng = rng
        self.key = SECRET.encode()
        self.max_size = max_size
        self.boot = time.time_ns()
        self.seq = 0
        self.sent_valid: list[bytes] = []
        self.kinds: list[tuple[str, Callable[[], bytes], int]] = [
            ("random bytes", self.random_bytes, 10),
            ("header", self.header, 5),
            ("flipped bits", self.flipped, 10),
            ("truncated", self.truncated, 5),
            ("payload field", self.payload_field, 20),
            ("message body", self.message_body, 20),
            ("stamps", self.stamps, 8),
            ("raw json", self.raw_json, 12),
            ("replay", self.replay, 5),
            ("valid", self.valid, 5),
        ]
        self._weights = [w for _, _, w in self.kinds]

    def next(self) -> tuple[str, bytes]:
        name, make, _ = self.rng.choices(self.kinds, self._weights)[0]
        frame = make()
        if len(frame) > self.max_size:
            return "random bytes", self.random_bytes()
        return name, frame

    # -- helpers

    def seal(self, payload: bytes) -> bytes:
        return HEADER + hmac.digest(self.key, HEADER + payload, hashlib.sha256) + payload

    def payload(self, msg: Any = None, **changes: Any) -> dict[str, Any]:
        self.seq += 1
        if msg is None:
            msg = codec.encode(Echo(f"e{self.seq}"))
        return {"src": ME, "dst": "a", "boot": self.boot, "seq": self.seq, "msg": msg,
                **changes}

    def dumps(self, obj: Any, raw: dict[str, str] | None = None) -> bytes:
        """JSON with NaN and Infinity allowed, and ``raw`` texts put in place of their
        placeholder strings (numbers JSON cannot hold otherwise, deep nesting)."""
        text = json.dumps(obj, allow_nan=True)
        for placeholder, value in (raw or {}).items():
            text = text.replace(json.dumps(placeholder), value)
        return text.encode("utf-8", "surrogatepass")

    def nasty(self) -> Any:
        rng = self.rng
        return rng.choice([
            float("nan"), float("inf"), float("-inf"), 2**63, 2**64, -(2**63) - 1, 10**30,
            -1, 0, 1.5, True, None, [], {}, "", "x" * rng.choice([1_000, 50_000, 500_000]),
            "a/b", "..", ".", "n1\x1b[31m", "dsys[n1]: forged\nline", "\ud800", "é" * 200,
            {"type": "rt:Echo"}, [1, [2, [3]]], {"nested": {"deeper": [float("nan")]}},
        ])

    def raw_number(self) -> str:
        return self.rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e999",
                                "1" + "0" * self.rng.choice([20, 400, 4_300, 5_000]),
                                "[" * 5_000 + "]" * 5_000, "1.0e-400", "-0"])

    # -- the kinds

    def random_bytes(self) -> bytes:
        return self.rng.randbytes(self.rng.randrange(0, 300))

    def valid(self) -> bytes:
        frame = self.seal(self.dumps(self.payload()))
        self.sent_valid.append(frame)
        del self.sent_valid[:-50]
        return frame

    def header(self) -> bytes:
        frame = bytearray(self.valid())
        frame[self.rng.randrange(3)] = self.rng.randrange(256)
        return bytes(frame)

    def flipped(self) -> bytes:
        frame = bytearray(self.valid())
        for _ in range(self.rng.randint(1, 3)):
            frame[self.rng.randrange(len(frame))] ^= 1 << self.rng.randrange(8)
        return bytes(frame)

    def truncated(self) -> bytes:
        frame = self.valid()
        return frame[:self.rng.randrange(len(frame))]

    def payload_field(self) -> bytes:
        payload = self.payload()
        rng = self.rng
        field = rng.choice(["src", "dst", "boot", "seq", "msg", "extra", "missing"])
        if field == "extra":
            payload[rng.choice(["x", "SRC", "", "msg2"])] = self.nasty()
        elif field == "missing":
            del payload[rng.choice(list(payload))]
        else:
            payload[field] = self.nasty()
            if field in ("boot", "seq"):
                # Under another name: a boot or counter accepted from far ahead would make
                # every later frame of ours (the pings) stale or too old.
                payload["src"] = MUTANT
        return self.seal(self.dumps(payload))

    def message_body(self) -> bytes:
        rng = self.rng
        kind = rng.choice(["rt:Echo", "rt:Put", "rt:Get", "rt:Relay", "rt:Blob", "rt:Boom",
                           "rt:Nope", "", "dsys.maelstrom:error", "rt:EchoOk"])
        fields = {"rt:Echo": ["text"], "rt:Put": ["key", "value"], "rt:Get": ["key"],
                  "rt:Relay": ["to", "text"], "rt:Blob": ["data"]}.get(kind, ["x"])
        body: dict[str, Any] = {f: self.nasty() for f in fields}
        if rng.random() < 0.3:
            body[rng.choice(["spy", "", "text"])] = self.nasty()
        envelope: Any = {"type": kind, "body": body}
        if rng.random() < 0.1:
            envelope = self.nasty()
        return self.seal(self.dumps(self.payload(envelope)))

    def stamps(self) -> bytes:
        stamps = {self.rng.choice(["lamport", "vector", "route", "", "x" * 100]): self.nasty()}
        envelope = {**codec.encode(Echo("stamped")), "stamps": stamps}
        return self.seal(self.dumps(self.payload(envelope)))

    def raw_json(self) -> bytes:
        # A number or nesting JSON's encoder would never write, in any field.
        placeholder = "@@raw@@"
        payload = self.payload()
        where = self.rng.choice(["boot", "seq", "body", "stamp", "src", "put"])
        if where in ("boot", "seq", "src"):
            payload[where] = placeholder
            if where != "src":
                payload["src"] = MUTANT
        elif where == "body":
            payload["msg"] = {"type": "rt:Echo", "body": {"text": placeholder}}
        elif where == "put":
            payload["msg"] = {"type": "rt:Put", "body": {"key": "k", "value": placeholder}}
        else:
            payload["msg"] = {**codec.encode(Echo("s")), "stamps": {"lamport": placeholder}}
        return self.seal(self.dumps(payload, {placeholder: self.raw_number()}))

    def replay(self) -> bytes:
        return self.rng.choice(self.sent_valid) if self.sent_valid else self.valid()


# ----- throwing them ----------------------------------------------------------------------

class Tcp:
    """An insider's connection (handshake answered): what it sends reaches the checks
    past the tag."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.reconnects = 0

    def connect(self) -> socket.socket:
        if self.sock is None:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            challenge = _receive_exactly(sock, 4 + CHALLENGE_SIZE)
            answer = Handshake(SECRET.encode(), ME).answer(challenge[4:])
            sock.sendall(len(answer).to_bytes(4, "big") + answer)
            self.sock, self.buffer = sock, b""
            self.reconnects += 1
        return self.sock

    def send(self, frame: bytes) -> None:
        try:
            self.connect().sendall(len(frame).to_bytes(4, "big") + frame)
        except OSError:
            self.close()

    def drain(self) -> list[bytes]:
        """The frames that arrived (without waiting)."""
        if self.sock is None:
            return []
        self.sock.setblocking(False)
        try:
            while chunk := self.sock.recv(1 << 20):
                self.buffer += chunk
        except BlockingIOError:
            pass
        except OSError:
            self.close()
        finally:
            if self.sock is not None:
                self.sock.settimeout(5)
        frames = []
        while len(self.buffer) >= 4:
            size = int.from_bytes(self.buffer[:4], "big")
            if len(self.buffer) < 4 + size:
                break
            frames.append(self.buffer[4:4 + size])
            self.buffer = self.buffer[4 + size:]
        return frames

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Udp:
    def __init__(self, port: int) -> None:
        self.address = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)

    def send(self, frame: bytes) -> None:
        try:
            self.sock.sendto(frame, self.address)
        except BlockingIOError:
            time.sleep(0.001)

    def drain(self) -> list[bytes]:
        frames = []
        while True:
            try:
                frames.append(self.sock.recv(1 << 17))
            except (BlockingIOError, ConnectionRefusedError):
                return frames

    def close(self) -> None:
        self.sock.close()


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed during the handshake")
        data += chunk
    return data


def outsider(port: int, rng: random.Random, mutator: Mutator) -> int:
    """A TCP connection that never answers the handshake: garbage, a frame, or silence
    (closed at once). Returns how many frames it sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        choice = rng.randrange(4)
        with contextlib.suppress(OSError):  # the node may hang up first
            if choice == 0:  # a stream of garbage, length prefixes included
                sock.sendall(rng.randbytes(rng.randrange(1, 2000)))
            elif choice == 1:  # a frame the insiders send, but no handshake first
                frame = mutator.next()[1]
                sock.sendall(len(frame).to_bytes(4, "big") + frame)
            elif choice == 2:  # a huge announced length
                sock.sendall(rng.randrange(MAX_FRAME, 1 << 32).to_bytes(4, "big") + b"x" * 10)
            # else: connect and hang up
        return 1


def ping(channel: Tcp | Udp, wire: Wire, mutator: Mutator, nonce: int) -> float:
    """Send a valid request and wait for its answer; the seconds it took."""
    text = f"ping {nonce}"
    started = time.monotonic()
    deadline = started + 15
    while time.monotonic() < deadline:
        mutator.seq += 1
        channel.send(mutator.seal(mutator.dumps(mutator.payload(codec.encode(Echo(text))))))
        resend = time.monotonic() + 0.5
        while time.monotonic() < resend:
            for data in channel.drain():
                try:
                    if wire.open(data).msg == EchoOk(text):
                        return time.monotonic() - started
                except Rejected:
                    pass
            time.sleep(0.002)
    raise AssertionError(f"no answer to {text!r} within 15 s")


def throw(transport: str, port: int, frames: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    mutator = Mutator(rng, max_size=MAX_FRAME if transport == "tcp" else UDP_MAX)
    channel: Tcp | Udp = Tcp(port) if transport == "tcp" else Udp(port)
    wire = Wire(ME, secret=SECRET.encode(), max_frame=MAX_FRAME)
    kinds: Counter[str] = Counter()
    slowest = 0.0
    try:
        for index in range(frames):
            if transport == "tcp" and rng.random() < 0.05:
                kinds["outsider connection"] += outsider(port, rng, mutator)
            else:
                kind, frame = mutator.next()
                kinds[kind] += 1
                channel.send(frame)
            if index % 64 == 0:
                channel.drain()  # answers to valid frames: read them, as a client would
            if (index + 1) % PING_EVERY == 0:
                slowest = max(slowest, ping(channel, wire, mutator, index))
        slowest = max(slowest, ping(channel, wire, mutator, frames))
    finally:
        channel.close()
    return {"kinds": dict(kinds), "slowest ping": round(slowest, 3),
            "reconnects": getattr(channel, "reconnects", 0)}


# ----- the test ---------------------------------------------------------------------------

def fuzz(tmp_path: Path, transport: str, frames: int) -> dict[str, Any]:
    cluster_file = tmp_path / "cluster.toml"
    cluster_file.write_text(cluster_text({"a": "tests.runtime.apps:Server"}, transport,
                                         secret=SECRET, extra=f"max_frame = {MAX_FRAME}"))
    cluster = load_cluster(cluster_file)
    port = cluster.nodes["a"].port
    with nodes_of(cluster_file, tmp_path) as nodes:
        nodes.start("a", data=False)
        status = nodes.status("a")
        deadline = time.monotonic() + 30
        while read_json(status).get("state") != "up":
            assert time.monotonic() < deadline, nodes.logs()
            time.sleep(0.05)
        pid = nodes.procs["a"].pid
        started = time.monotonic()
        thrown = throw(transport, port, frames=1, seed=SEED)  # warm up: one answered ping
        baseline, _ = rss(pid)
        thrown = throw(transport, port, frames=frames, seed=SEED)
        elapsed = time.monotonic() - started
        assert nodes.procs["a"].poll() is None, nodes.logs()
        _, peak = rss(pid)

        async def client_request() -> Any:
            async with open_client(cluster) as client:
                with trio.fail_after(10):
                    return await client.request("a", Echo("after"), resend_every=0.5)

        assert trio.run(client_request) == EchoOk("after"), nodes.logs()
        nodes.procs["a"].send_signal(signal.SIGTERM)
        assert nodes.procs["a"].wait(timeout=15) == 0, nodes.logs()
        final = read_json(status)
        log_size = nodes.log("a").stat().st_size
        trace_size = nodes.trace("a").stat().st_size
    figures = {
        "transport": transport, "frames": frames, "seconds": round(elapsed, 1),
        **thrown, "rejected": final.get("rejected"), "messages_in": final.get("messages_in"),
        "handler_errors": final.get("handler_errors"), "dropped": final.get("dropped"),
        "rss at start (MiB)": round(baseline / 2**20, 1),
        "peak rss (MiB)": round(peak / 2**20, 1),
        "log bytes": log_size, "trace bytes": trace_size,
    }
    # The bound of the security page: bytes queued for sending (all connections), plus a
    # frame being read on each of the few connections this test opens at once (at most
    # 2), plus a frame being handled; the rest is Python's allocator keeping what it had.
    bound = DEFAULT_LIMITS.max_queued_bytes + 3 * (MAX_FRAME + (64 << 10))
    assert peak - baseline <= bound, figures
    assert final.get("state") == "stopped", figures
    return figures


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_a_node_survives_random_and_mutated_frames(tmp_path: Path, transport: str) -> None:
    figures = fuzz(tmp_path, transport, FRAMES)
    assert sum(figures["rejected"].values()) > FRAMES // 2, figures


@pytest.mark.soak
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_soak_a_node_survives_100000_random_and_mutated_frames(
        tmp_path: Path, transport: str, capsys: pytest.CaptureFixture[str]) -> None:
    figures = fuzz(tmp_path, transport, SOAK_FRAMES)
    with capsys.disabled():
        print("\n" + json.dumps(figures, indent=1))
    _record(figures)


def _record(figures: dict[str, Any]) -> None:
    """Append the figures to $DSYS_FUZZ_FIGURES (a JSON Lines file), if it is set."""
    path = os.environ.get("DSYS_FUZZ_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(figures) + "\n")
