"""What a hostile frame, line or setting could do to a node, and what it does now (issue 10,
items 1, 5, 6, 7, 9, 10, 11, 12). Loopback only.

Each test states the attack first, then what the node must still do.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from dsys import Node, Trace, message
from dsys.clocks import LamportLayer
from dsys.errors import CodecError, ConfigError
from dsys.runtime import ClusterConfig, DataDir, NodeHost, open_client, parse_cluster
from dsys.runtime.host import ECHO_LIMIT, TRACED_REFUSALS, TraceWriter, printable
from tests.runtime import maelstrom_app
from tests.runtime.apps import Echo, EchoOk
from tests.runtime.conftest import running
from tests.runtime.helpers import child_env, cluster_text, dsys_command, wait_until

TIMEOUT = 20


@message(name="hostile:Sample")
class Sample:
    value: float
    extra: Any = None


class Target(Node):
    """Answers ``Echo(text)`` with ``EchoOk(text)``, with a Lamport clock on every message.

    ``Echo("note nan")`` first notes an event the trace cannot hold (a NaN); an Echo whose
    text starts with ``fail:`` logs its text and raises with it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.clock = self.add_layer(LamportLayer(record=False))

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Echo(text="note nan"):
                self.note("odd", value=float("nan"))
                self.send(src, EchoOk("note nan"))
            case Echo(text=text) if text.startswith("fail:"):
                self.log(f"failing on {text[:60]}")
                raise ValueError(text)
            case Echo(text=text):
                self.send(src, EchoOk(text))
            case Sample(value=value):
                self.send(src, EchoOk(repr(value)))


def frame(payload: Any, *, codec_name: str = "json") -> bytes:
    """An unauthenticated frame with ``payload`` as given (JSON text or msgpack)."""
    if codec_name == "json":
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return b"\x01j\x00" + body
    import msgpack  # type: ignore[import-untyped]

    return b"\x01m\x00" + msgpack.packb(payload, use_bin_type=True)


def payload(msg: Any, *, src: str = "mallory", seq: int = 1) -> dict[str, Any]:
    return {"src": src, "dst": "a", "boot": 1, "seq": seq, "msg": msg}


@asynccontextmanager
async def raw_tcp(cluster: ClusterConfig) -> AsyncIterator[trio.SocketStream]:
    stream = await trio.open_tcp_stream("127.0.0.1", cluster.nodes["a"].port)
    try:
        yield stream
    finally:
        await stream.aclose()


async def send_frames(cluster: ClusterConfig, *frames: bytes) -> None:
    async with raw_tcp(cluster) as stream:
        await stream.send_all(b"".join(len(f).to_bytes(4, "big") + f for f in frames))


async def refused(host: NodeHost, reason: str, count: int = 1) -> None:
    await wait_until(lambda: host.statistics().rejected.get(reason, 0) >= count, TIMEOUT,
                     f"{count} refusal(s) {reason!r}", lambda: str(host.statistics()))


async def answers(cluster: ClusterConfig, host: NodeHost, text: str = "still there?") -> None:
    async with open_client(cluster) as client:
        with trio.fail_after(5):
            assert await client.request("a", Echo(text), resend_every=0.5) == EchoOk(text)


# ----- 1. non-finite floats; the trace and the log never stop a node ----------------------

@pytest.mark.parametrize(("codec_name", "data", "reason"), [
    # A NaN token in JSON (Python's json reads it; the codec must not).
    ("json", b'{"src": "mallory", "dst": "a", "boot": 1, "seq": 1, "msg": '
             b'{"type": "hostile:Sample", "body": {"value": NaN}}}', "malformed"),
    # 1e999 is valid JSON for infinity.
    ("json", b'{"src": "mallory", "dst": "a", "boot": 1, "seq": 1, "msg": '
             b'{"type": "hostile:Sample", "body": {"value": 1e999}}}', "invalid message"),
    ("json", b'{"src": "mallory", "dst": "a", "boot": 1, "seq": 1, "msg": '
             b'{"type": "hostile:Sample", "body": {"value": 1, "extra": [-Infinity]}}}',
     "malformed"),
    # msgpack carries a NaN float natively: a normal client could send one.
    ("msgpack", payload({"type": "hostile:Sample", "body": {"value": math.nan}}),
     "invalid message"),
    ("msgpack", payload({"type": "hostile:Sample", "body": {"value": 1.0,
                                                            "extra": {"x": math.inf}}}),
     "invalid message"),
])
async def test_a_non_finite_float_is_refused_and_a_traced_node_keeps_serving(
        tmp_path: Path, codec_name: str, data: Any, reason: str) -> None:
    # Before: the frame was accepted, writing its recv event to the trace raised outside
    # the handler's error handling, and the node stopped.
    extra = f'codec = "{codec_name}"'
    cluster = parse_cluster(cluster_text({"a": None}, extra=extra))
    trace = tmp_path / "a.jsonl"
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Target}, trace=trace) as hosts:
            await send_frames(cluster, frame(data, codec_name=codec_name))
            await refused(hosts["a"], reason)
            await answers(cluster, hosts["a"])
            stats = hosts["a"].statistics()
            assert stats.handler_errors == 0 and stats.trace_errors == 0
    assert any(e.kind == "recv" for e in Trace.load(trace))  # the trace is whole JSON


async def test_sending_a_non_finite_float_fails_at_the_sender_with_either_codec() -> None:
    for codec_name in ("msgpack", "json"):  # (msgpack would carry it; JSON refused it)
        cluster = parse_cluster(cluster_text({"a": None}, extra=f'codec = "{codec_name}"'))
        async with open_client(cluster) as client:
            with pytest.raises(CodecError, match="not a finite number"):
                client.send("a", Sample(math.nan))


async def test_a_trace_event_that_cannot_be_written_is_counted_and_the_node_keeps_serving(
        tmp_path: Path) -> None:
    # Before: the note's NaN made the trace writer raise inside the handler, which then
    # failed (a handler error) before it could answer.
    cluster = parse_cluster(cluster_text({"a": None}))
    stderr = io.StringIO()
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Target}, trace=tmp_path / "a.jsonl",
                           stderr=stderr) as hosts:
            await answers(cluster, hosts["a"], "note nan")
            stats = hosts["a"].statistics()
            assert stats.trace_errors == 1 and stats.handler_errors == 0
    assert "cannot write an event to the trace file" in stderr.getvalue()
    assert "the node keeps serving (1 trace write error(s) so far)" in stderr.getvalue()


def test_the_trace_writer_never_raises_on_data_it_cannot_encode(tmp_path: Path) -> None:
    errors: list[Exception] = []
    writer = TraceWriter(tmp_path / "t.jsonl", on_error=errors.append)

    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    circular: dict[str, Any] = {}
    circular["self"] = circular
    for data in ({"x": math.nan}, {"x": Unprintable()}, circular, {"ok": 1}):
        writer.record(1.0, "a", "note", data)
    writer.close()
    assert writer.errors == 3 and [type(e) for e in errors] == [ValueError, RuntimeError,
                                                                RecursionError]
    assert [json.loads(line)["data"] for line in (tmp_path / "t.jsonl").read_text().splitlines()
            ] == [{"ok": 1}]


class BrokenLog(io.StringIO):
    """A log stream that refuses every line (a closed pipe, a full disk, a bad encoding)."""

    def write(self, text: str) -> int:
        raise ValueError("I/O operation on closed file")


async def test_a_log_that_cannot_be_written_is_counted_and_the_node_keeps_serving() -> None:
    # Before: only OSError was caught, and the first line (listening on...) stopped the
    # node at start.
    cluster = parse_cluster(cluster_text({"a": None}))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Target}, stderr=BrokenLog(),
                           echo_logs=True) as hosts:
            await send_frames(cluster, frame(payload({"type": "nope:Nope", "body": {}})))
            await refused(hosts["a"], "unknown type")
            async with open_client(cluster) as client:
                client.send("a", Echo("fail: logged and raised"))
                assert await client.request("a", Echo("hi")) == EchoOk("hi")
            stats = hosts["a"].statistics()
            assert stats.log_errors >= 4 and stats.handler_errors == 1


# ----- 5. huge integers ---------------------------------------------------------------------

@pytest.mark.parametrize("where", ["stamps", "body"])
async def test_a_huge_integer_is_refused_and_the_node_keeps_sending(where: str) -> None:
    # Before: a Lamport stamp of 4,300 digits was accepted; the node's clock then could
    # not be encoded and every later send raised (the node answered nobody again).
    cluster = parse_cluster(cluster_text({"a": None}))
    huge = int("9" * 4300)
    msg: dict[str, Any] = {"type": "rt:Echo", "body": {"text": "x"}, "stamps": {"lamport": huge}}
    if where == "body":
        msg = {"type": "hostile:Sample", "body": {"value": 1.0, "extra": [2 ** 64]}}
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Target}) as hosts:
            await send_frames(cluster, frame(payload(msg)))
            await refused(hosts["a"], "invalid message")
            await answers(cluster, hosts["a"])
            assert hosts["a"].node.clock.time < 100  # type: ignore[union-attr]
            assert hosts["a"].statistics().handler_errors == 0


async def test_a_64_bit_unsigned_msgpack_integer_is_refused() -> None:
    cluster = parse_cluster(cluster_text({"a": None}, extra='codec = "msgpack"'))
    msg = {"type": "rt:Echo", "body": {"text": "x"}, "stamps": {"lamport": 2 ** 64 - 1}}
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Target}) as hosts:
            await send_frames(cluster, frame(payload(msg), codec_name="msgpack"))
            await refused(hosts["a"], "invalid message")
            await answers(cluster, hosts["a"])


def test_the_simulator_refuses_a_huge_integer_even_after_the_shape_was_checked() -> None:
    from dsys import Simulation

    @message(name="hostile:Count")
    class Count:
        n: int

    class Counter(Node):
        def on_start(self) -> None:
            if self.id == "a":
                self.send("b", Count(1))  # checked once: the fast path knows (Count, int)
                self.set_timer("big", 0.1)

        def on_timer(self, name: str) -> None:
            self.send("b", Count(2 ** 64))

    sim = Simulation(seed=1)
    sim.add_node("a", Counter)
    sim.add_node("b", Counter)
    with pytest.raises(Exception, match="out of range"):
        sim.run(until=1.0)


# ----- 6. refusals: counted, sampled in the trace, their text cut ----------------------------

async def test_a_flood_of_refusals_is_counted_but_sampled_in_the_trace_and_cut_short(
        tmp_path: Path) -> None:
    # Before: every refused frame was written to the trace with its whole detail (400 kB of
    # empty frames made 16.9 MB of trace), and echoed attacker text into the log at length.
    cluster = parse_cluster(cluster_text({"a": None}))
    trace, stderr = tmp_path / "a.jsonl", io.StringIO()
    flood = 300
    bad = frame(payload({"type": "t" * 20_000, "body": {}}))  # an unknown, very long type
    started = time.monotonic()
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Target}, trace=trace, stderr=stderr) as hosts:
            await send_frames(cluster, *[bad] * flood)
            await refused(hosts["a"], "unknown type", flood)
            seconds = time.monotonic() - started
            await answers(cluster, hosts["a"])
    assert hosts["a"].statistics().rejected["unknown type"] == flood  # every one counted
    events = Trace.load(trace)
    drops = [e for e in events if e.kind == "drop"]
    assert 1 <= len(drops) <= TRACED_REFUSALS * (math.ceil(seconds) + 1)
    left_out = [e for e in events if e.kind == "note" and e.data["event"] == "refusals not traced"]
    assert len(drops) + sum(e.data.get("suppressed", 0) for e in drops) + \
        sum(e.data["count"] for e in left_out) == flood  # ...and every one accounted for
    assert all(len(e.data["detail"]) <= ECHO_LIMIT + 30 for e in drops)
    assert trace.stat().st_size < 50_000
    lines = stderr.getvalue().splitlines()
    assert lines and max(map(len, lines)) < 2 * ECHO_LIMIT + 100


# ----- 7. log injection ------------------------------------------------------------------------

FORGED = "evil\n\x1b[31mdsys[a]: forged line"


async def test_a_sender_id_that_is_not_a_node_id_is_refused() -> None:
    # Before: any non-empty string was taken as the sender, learned as a route and printed.
    cluster = parse_cluster(cluster_text({"a": None}))
    stderr = io.StringIO()
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Target}, stderr=stderr, echo_logs=True) as hosts:
            for src in (FORGED, "../escaped", "x" * 10_000):
                await send_frames(cluster, frame(payload({"type": "rt:Echo",
                                                          "body": {"text": "hi"}}, src=src)))
            await refused(hosts["a"], "bad sender", 3)
            await answers(cluster, hosts["a"])
    log = stderr.getvalue()
    assert "\x1b" not in log and not any(line.startswith("dsys[a]: forged") or len(line) > 600
                                         for line in log.splitlines())


async def test_what_a_handler_error_prints_is_escaped_and_cannot_forge_a_line() -> None:
    # Before: the exception's text went to stderr raw: a newline began a line of the
    # attacker's choosing ("dsys[a]: forged line") and an ANSI escape reached the terminal.
    cluster = parse_cluster(cluster_text({"a": None}))
    stderr = io.StringIO()
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Target}, stderr=stderr, echo_logs=True) as hosts:
            async with open_client(cluster) as client:
                client.send("a", Echo(f"fail: {FORGED}" + "y" * 5000))
                assert await client.request("a", Echo("hi")) == EchoOk("hi")
            assert hosts["a"].statistics().handler_errors == 1
    log = stderr.getvalue()
    assert "\x1b" not in log
    assert not any(line.startswith(("dsys[a]: forged", "\x1b")) for line in log.splitlines())
    assert "a: failing on fail: evil\\n\\x1b[31mdsys[a]: forged line" in log  # the node's log
    assert "raised ValueError: fail: evil\\n\\x1b[31mdsys[a]: forged line" in log
    assert max(map(len, log.splitlines())) < 1500  # cut short, not 5,000 y's per line


def test_printable_escapes_control_characters_and_cuts_long_text() -> None:
    assert printable("plain text, é ü") == "plain text, é ü"
    assert printable("a\nb\x1b[0m\x00\u2028\ud800") == "a\\nb\\x1b[0m\\x00\\u2028\\ud800"
    assert printable("\x1b" * 1000, 20) == "\\x1b\\x1b\\x1b\\x1b\\x1b... (1000 characters)"


# ----- 9. insecure settings ------------------------------------------------------------------

def test_a_secret_shorter_than_16_bytes_is_refused() -> None:
    with pytest.raises(ConfigError, match="the secret is 9 bytes, shorter than 16"):
        parse_cluster('[cluster]\nsecret = "change-me"\n[nodes]\na = "127.0.0.1:7001"')
    assert parse_cluster('[cluster]\nsecret = "sixteen bytes ok"\n[nodes]\na = "127.0.0.1:1"'
                         ).secret == b"sixteen bytes ok"


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_a_secret_file_every_user_can_read_gets_a_warning(tmp_path: Path) -> None:
    secret = tmp_path / "cluster.secret"
    secret.write_text("a long enough random secret\n")
    cluster_file = tmp_path / "cluster.toml"
    cluster_file.write_text('[cluster]\nsecret_file = "cluster.secret"\n'
                            '[nodes]\na = "127.0.0.1:7001"\n')
    from dsys.runtime import load_cluster

    secret.chmod(0o644)
    warnings = load_cluster(cluster_file).check_secure()
    assert len(warnings) == 1 and "readable by every user of this machine (mode 644)" in \
        warnings[0] and f"chmod 600 {secret}" in warnings[0]
    secret.chmod(0o600)
    assert load_cluster(cluster_file).check_secure() == ()


def test_no_secret_beyond_loopback_is_refused_unless_insecure_and_then_warned() -> None:
    remote = parse_cluster('[nodes]\na = "192.0.2.1:7001"\nb = "127.0.0.1:7002"',
                           source="c.toml")
    with pytest.raises(ConfigError, match=r"c.toml has no secret, and listens beyond this "
                                          r"machine \(a on 192.0.2.1:7001\).*--insecure"):
        remote.check_secure()
    [warning] = remote.check_secure(insecure=True)
    assert warning.startswith("WARNING: running WITHOUT A SECRET (--insecure)")
    everywhere = parse_cluster('[nodes]\na = { address = "127.0.0.1:1", bind = "0.0.0.0:1" }')
    with pytest.raises(ConfigError, match=r"a on 0.0.0.0:1"):
        everywhere.check_secure()
    [note] = parse_cluster('[nodes]\na = "127.0.0.1:7001"').check_secure()
    assert note.startswith("note: no secret") and "\n" not in note
    secret = '[cluster]\nsecret = "a long enough random secret"\n'
    assert parse_cluster(secret + '[nodes]\na = "192.0.2.1:7001"').check_secure() == ()


def test_dsys_run_refuses_an_open_cluster_beyond_loopback_and_warns_with_insecure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster_file = tmp_path / "cluster.toml"
    cluster_file.write_text('[nodes]\na = "192.0.2.1:7001"\n')  # TEST-NET-1: never bound
    result = subprocess.run(dsys_command("run", "tests.runtime.apps:Server", "--node", "a",
                                         "--cluster", str(cluster_file)),
                            capture_output=True, text=True, timeout=60, env=child_env(),
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "has no secret, and listens beyond this machine" in \
        result.stderr and "pass --insecure" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr

    from dsys.runtime import load_cluster
    from dsys.runtime.cli import _say_security

    _say_security(load_cluster(cluster_file), argparse.Namespace(node="a", insecure=True))
    assert capsys.readouterr().err.startswith("dsys[a]: WARNING: running WITHOUT A SECRET")
    loopback = tmp_path / "loopback.toml"
    loopback.write_text('[nodes]\na = "127.0.0.1:7001"\n')
    _say_security(load_cluster(loopback), argparse.Namespace(node="a", insecure=False))
    assert capsys.readouterr().err.count("\n") == 1  # one line: a note, not a warning


# ----- 10. temporary files after SIGKILL -------------------------------------------------------

def test_temporaries_of_a_killed_write_are_removed_when_the_data_directory_opens(
        tmp_path: Path) -> None:
    storage, _ = DataDir(tmp_path, "a").open()
    storage["k"] = 1
    storage.sync()
    dead = 4_194_304 + 12345  # above Linux's largest pid: no process has it
    stale = [tmp_path / f".storage.json.{dead}.tmp", tmp_path / f".node.json.{dead}.tmp",
             tmp_path / f".storage.json.{os.getpid()}.tmp"]
    for path in stale:
        path.write_text("half a write")
    alive = tmp_path / f".storage.json.{os.getppid()}.tmp"  # a process that runs: kept
    alive.write_text("being written")
    other = tmp_path / ".storage.json.notes.tmp"  # not a name atomic_write makes: kept
    other.write_text("mine")
    again, recovered = DataDir(tmp_path, "a").open()
    assert recovered and again["k"] == 1
    assert not any(path.exists() for path in stale)
    assert alive.exists() and other.exists()


# ----- 11. Maelstrom: ids as paths, msg ids that are not integers ------------------------------

MAELSTROM_APP = Path(maelstrom_app.__file__)


async def test_maelstrom_refuses_ids_that_are_paths_and_msg_ids_that_are_not_integers(
        tmp_path: Path) -> None:
    from tests.runtime.test_maelstrom import Session

    traces, data = tmp_path / "traces", tmp_path / "data"
    with trio.fail_after(TIMEOUT), (tmp_path / "stderr.txt").open("wb") as err:
        process = await trio.lowlevel.open_process(
            dsys_command("maelstrom", f"{MAELSTROM_APP}:EchoNode", "--trace-dir", str(traces),
                         "--data-dir", str(data)),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=child_env())
        try:
            s = Session(process)
            # Before: the node became "../escaped", writing tmp/escaped.jsonl and
            # tmp/escaped/ (outside the trace and data directories).
            for node_id, node_ids in (("../escaped", ["../escaped"]), ("n1", ["n1", ".."])):
                await s.send("c0", {"type": "init", "msg_id": 1, "node_id": node_id,
                                    "node_ids": node_ids})
                body = (await s.receive())["body"]
                assert (body["type"], body["code"], body["in_reply_to"]) == ("error", 12, 1)
            # Before: msg_id true came back as in_reply_to true.
            for msg_id in (True, "1", 1.5, 2 ** 64):
                await s.send("c0", {"type": "init", "msg_id": msg_id, "node_id": "n1",
                                    "node_ids": ["n1"]})
                assert await s.silent()
            await s.send("c0\x1b[31m", {"type": "echo", "msg_id": 2, "echo": "x"})
            assert await s.silent()
            await s.send("c0", {"type": "init", "msg_id": 3, "node_id": "n1",
                                "node_ids": ["n1"]})
            assert (await s.receive())["body"]["type"] == "init_ok"
            await s.send("c1", {"type": "echo", "msg_id": True, "echo": "x"})
            assert await s.silent()
            assert process.stdin is not None
            await process.stdin.aclose()
            assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "stderr.txt", "traces"]
    assert [p.name for p in traces.iterdir()] == ["n1.jsonl"]


# ----- 12. the Maelstrom error message only where Maelstrom is ---------------------------------

def test_dsys_run_does_not_accept_maelstroms_error_message() -> None:
    # Before: importing dsys.runtime registered dsys.maelstrom:error, so every `dsys run`
    # built it from the wire.
    script = """
import dsys.cli, dsys.runtime, dsys.runtime.cli, dsys.runtime.host
from dsys.core import codec
from dsys.core.messages import lookup_message
from dsys.runtime.wire import Rejected, Wire
assert lookup_message("dsys.maelstrom:error") is None
envelope = {"type": "dsys.maelstrom:error", "body": {"code": 13}}
data = Wire("mallory").seal("a", envelope)
try:
    Wire("a").open(data)
except Rejected as r:
    assert r.reason == "unknown type", r
else:
    raise AssertionError("accepted")
from dsys.runtime.maelstrom import MaelstromCodec, MaelstromError
MaelstromCodec()  # what a Maelstrom host makes: now it is a message
assert lookup_message("dsys.maelstrom:error") is MaelstromError
assert Wire("a").open(data).msg == MaelstromError(13)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, env=child_env())
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr
