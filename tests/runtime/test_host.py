"""The node host in this process: request/reply, handler errors, timers, traces, routing."""

from __future__ import annotations

import errno
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from dsys import Node, Trace
from dsys.demos.pingpong import Pinger, Ponger
from dsys.errors import ConfigError, UsageError
from dsys.runtime import NodeHost, open_client, parse_cluster
from tests.runtime.apps import Boom, Echo, EchoOk, Get, Put, PutOk, Relay, Server, Value
from tests.runtime.conftest import running
from tests.runtime.helpers import cluster_text, wait_until

TIMEOUT = 20


@pytest.mark.parametrize(("transport", "extra"), [
    ("tcp", ""), ("udp", ""), ("tcp", 'codec = "msgpack"'), ("udp", 'secret = "sixteen bytes ok"'),
    ("tcp", 'secret = "sixteen bytes ok"\ncodec = "msgpack"'),
])
async def test_a_client_request_gets_its_reply(transport: str, extra: str) -> None:
    cluster = parse_cluster(cluster_text({"a": None}, transport, extra=extra))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}) as hosts, open_client(cluster) as client:
            for i in range(5):
                reply = await client.request("a", Echo(f"hi {i}"), match=EchoOk,
                                             resend_every=0.5)
                assert reply == EchoOk(f"hi {i}")
            assert await client.request("a", Put("k", 7), match=PutOk) == PutOk("k")
            assert await client.request("a", Get("k"), match=Value) == Value("k", 7)
            stats = hosts["a"].statistics()
            assert stats.messages_in >= 7 and stats.handler_errors == 0 and not stats.rejected


async def test_a_handler_that_raises_is_logged_counted_and_the_node_keeps_serving(
        tmp_path: Path) -> None:
    cluster = parse_cluster(cluster_text({"a": None}))
    stderr = io.StringIO()
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}, trace=tmp_path / "a.jsonl",
                           stderr=stderr) as hosts, open_client(cluster, "tester") as client:
            client.send("a", Boom())
            client.send("a", Boom())
            assert await client.request("a", Echo("still there?")) == EchoOk("still there?")
            assert hosts["a"].statistics().handler_errors == 2
    errors = [e for e in Trace.load(tmp_path / "a.jsonl") if e.kind == "error"]
    assert [e.data["error"] for e in errors] == ["RuntimeError: boom, as asked"] * 2
    assert errors[0].data["event"] == "on_message: Boom() from tester"
    log = stderr.getvalue()
    assert "dsys[a]: on_message: Boom() from tester raised RuntimeError: boom, as asked; the " \
           "node keeps serving (1 handler error(s) so far)" in log
    assert "Traceback" in log and 'raise RuntimeError("boom, as asked")' in log


class Timers(Node):
    """Arms, re-arms and cancels timers; records when each fired."""

    def on_start(self) -> None:
        self.fired: list[tuple[str, float]] = []
        self.start = self.now
        self.set_timer("slow", 2.0)
        self.set_timer("fast", 0.5)
        self.set_timer("cancelled", 1.0)
        self.set_timer("rearmed", 0.2)
        self.set_timer("rearmed", 3.0)  # only the new deadline counts
        self.cancel_timer("cancelled")

    def on_timer(self, name: str) -> None:
        self.fired.append((name, round(self.now - self.start, 3)))
        if name == "fast":
            self.set_timer("again", 0.25)


async def test_timers_fire_in_deadline_order_on_trios_clock(
        autojump_clock: trio.testing.MockClock) -> None:
    cluster = parse_cluster(cluster_text({"a": None}))
    async with running(cluster, {"a": Timers}) as hosts:
        await trio.sleep(10)
        node: Any = hosts["a"].node
        assert node.fired == [("fast", 0.5), ("again", 0.75), ("slow", 2.0), ("rearmed", 3.0)]
        assert hosts["a"].statistics().timers_fired == 4


class SelfSender(Node):
    def on_start(self) -> None:
        self.order: list[str] = []
        self.send(self.id, Echo("to myself"))
        self.order.append("on_start returned")

    def on_message(self, src: str, msg: Any) -> None:
        self.order.append(f"got {msg.text} from {src}")


async def test_a_message_to_itself_arrives_after_the_handler_returns() -> None:
    cluster = parse_cluster(cluster_text({"a": None}))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": SelfSender}) as hosts:
            node: Any = hosts["a"].node
            await wait_until(lambda: len(node.order) == 2, TIMEOUT, "the self-message")
            assert node.order == ["on_start returned", "got to myself from a"]


async def test_two_nodes_leave_traces_in_the_simulators_schema(tmp_path: Path) -> None:
    cluster = parse_cluster(cluster_text({"a": None, "b": None}))
    before = time.time()
    # One trace file per node, as `dsys run --trace` writes them.
    hosts = {n: NodeHost(f, n, cluster, trace=tmp_path / f"{n}.jsonl", echo_logs=False)
             for n, f in {"b": Ponger, "a": Pinger}.items()}
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            for host in hosts.values():
                await nursery.start(host.run)
            pinger: Any = hosts["a"].node
            await wait_until(lambda: pinger.next_seq == 10, TIMEOUT, "all pongs")
            nursery.cancel_scope.cancel()
    a, b = Trace.load(tmp_path / "a.jsonl"), Trace.load(tmp_path / "b.jsonl")
    assert a[0].kind == "start" and a[0].data == {"incarnation": 0}
    assert any(e.kind == "log" and e.data["text"] == "all 10 pongs received" for e in a)
    assert {"send", "recv", "timer_set", "timer_cancel"} <= {e.kind for e in a}
    sent = {e.data["id"]: e for e in a if e.kind == "send"}
    delivered = [e for e in b if e.kind == "recv"]
    assert len(delivered) >= 10 and all(e.data["id"] in sent for e in delivered)
    first = delivered[0]
    assert first.data["msg"] == {"type": "dsys.demos.pingpong:Ping", "body": {"seq": 0}}
    assert before <= sent[first.data["id"]].time <= first.time <= time.time()


async def test_a_message_to_nobody_is_the_same_usage_error_as_in_the_simulator(
        tmp_path: Path) -> None:
    # One rule, one home (dsys.core.rules): the handler that sends to an id the cluster
    # does not have raises the simulator's UsageError; here it is a handler error, counted
    # and traced, and the node keeps serving.
    from dsys.core.rules import check_destination

    cluster = parse_cluster(cluster_text({"a": None, "b": None}, clients=("alice",)))
    stderr = io.StringIO()
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}, trace=tmp_path / "a.jsonl",
                           stderr=stderr) as hosts, open_client(cluster, "tester") as client:
            client.send("a", Relay(to="nobody", text="lost"))
            assert await client.request("a", Echo("ok")) == EchoOk("ok")
            stats = hosts["a"].statistics()
            assert stats.handler_errors == 1 and not stats.dropped
    with pytest.raises(UsageError) as expected:
        check_destination("a", "nobody", "Echo", ("a", "alice", "b"))
    text = str(expected.value)
    assert text == "node a sent Echo to 'nobody', which is not a node of this cluster " \
                   "(nodes: a, alice, b)"
    errors = [e for e in Trace.load(tmp_path / "a.jsonl") if e.kind == "error"]
    assert [e.data["error"] for e in errors] == [f"UsageError: {text}"]
    assert text in stderr.getvalue()


async def test_a_node_may_answer_an_ephemeral_client_it_has_heard_from() -> None:
    cluster = parse_cluster(cluster_text({"a": None}))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}) as hosts, \
                open_client(cluster, "passer-by") as client:
            # "passer-by" is in no file, but a has heard from it: a may send to it.
            client.send("a", Relay(to="passer-by", text="hello"))
            _, msg = await client.receive(match=Echo)
            assert msg == Echo("hello")
            assert hosts["a"].statistics().handler_errors == 0


async def test_a_message_too_big_for_the_wire_is_a_handler_error() -> None:
    from tests.runtime.apps import Blob

    cluster = parse_cluster(cluster_text({"a": None}, extra="max_frame = 2048"))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}) as hosts, open_client(cluster) as client:
            client.send("a", Blob("x" * 1500))  # the answer would be 3000 bytes
            assert await client.request("a", Echo("ok")) == EchoOk("ok")
            assert hosts["a"].statistics().handler_errors == 1
            with pytest.raises(Exception, match="over the cluster's limit of 2048"):
                client.send("a", Blob("x" * 3000))


class Collector(Node):
    def on_start(self) -> None:
        self.got: list[object] = []

    def on_message(self, src: str, msg: object) -> None:
        self.got.append(msg)


async def test_tcp_frames_for_a_peer_not_up_yet_wait_and_are_delivered_when_it_is() -> None:
    cluster = parse_cluster(cluster_text({"a": None, "b": None}))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}) as hosts, open_client(cluster) as client:
            for i in range(3):
                client.send("a", Relay(to="b", text=f"early {i}"))
            assert await client.request("a", Echo("ok")) == EchoOk("ok")
            await trio.sleep(0.3)  # a few failed connection attempts, with backoff
            async with running(cluster, {"b": Collector}) as late:
                node: Any = late["b"].node
                await wait_until(lambda: len(node.got) == 3, TIMEOUT, "the queued frames")
                assert node.got == [Echo("early 0"), Echo("early 1"), Echo("early 2")]
            assert not hosts["a"].statistics().dropped


async def test_a_dead_peer_costs_a_bounded_queue_then_messages_are_dropped() -> None:
    cluster = parse_cluster(cluster_text({"a": None, "b": None}, extra="send_queue = 4"))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}) as hosts, open_client(cluster) as client:
            await client.request("a", Echo("connect first"))  # the client's queue is small too
            for i in range(10):
                client.send("a", Relay(to="b", text=f"m{i}"))
            assert await client.request("a", Echo("ok")) == EchoOk("ok")
            assert hosts["a"].statistics().dropped == {"queue full": 6}


class FullDisk(io.StringIO):
    """A trace file on a full disk: every write (and flush) fails."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


async def test_a_trace_write_error_is_counted_and_the_node_keeps_serving(
        tmp_path: Path) -> None:
    # Writing the trace happens while a frame is being handled: its OSError used to be
    # taken for the connection failing, which was closed, and the request never answered.
    cluster = parse_cluster(cluster_text({"a": None}))
    stderr = io.StringIO()
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}, trace=tmp_path / "a.jsonl",
                           stderr=stderr) as hosts, open_client(cluster) as client:
            assert await client.request("a", Echo("before")) == EchoOk("before")
            trace = hosts["a"]._trace
            assert trace is not None
            trace._file.close()
            trace._file = FullDisk()  # the disk fills up
            for i in range(3):
                with trio.fail_after(2):
                    assert await client.request("a", Echo(f"hi {i}")) == EchoOk(f"hi {i}")
            stats = hosts["a"].statistics()
            assert stats.trace_errors >= 6  # a deliver and a send each time, at least
            assert stats.to_json()["trace_errors"] == stats.trace_errors
            assert stats.handler_errors == 0 and stats.messages_in == 4
    log = stderr.getvalue()
    assert f"dsys[a]: cannot write the trace file {tmp_path / 'a.jsonl'}: No space left on " \
           "device; the node keeps serving" in log
    assert "Traceback" not in log


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
async def test_a_node_whose_trace_is_on_a_full_disk_starts_and_serves() -> None:
    cluster = parse_cluster(cluster_text({"a": None}))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}, trace="/dev/full") as hosts, \
                open_client(cluster) as client:
            assert await client.request("a", Echo("hi")) == EchoOk("hi")
            assert hosts["a"].statistics().trace_errors >= 1


async def test_a_listed_client_is_answered_at_its_own_address() -> None:
    cluster = parse_cluster(cluster_text({"a": None}, clients=("alice",)))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}), open_client(cluster, "alice") as client:
            assert await client.request("a", Echo("hi")) == EchoOk("hi")
            assert client.id == "alice"


async def test_client_waits_are_bounded_by_the_callers_cancel_scope() -> None:
    # trio's style: no timeout= parameters (the old request gave up after its default 1 s
    # with a TimeoutError); the caller's scope decides how long a wait may take.
    cluster = parse_cluster(cluster_text({"a": None, "b": None}))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}), open_client(cluster) as client:
            with trio.move_on_after(1.5) as scope:
                await client.request("b", Echo("anyone?"))  # b is down: no reply, ever
            assert scope.cancelled_caught and client.sent == 1
            with pytest.raises(trio.TooSlowError):
                with trio.fail_after(0.1):
                    await client.receive(src="a")
            with trio.move_on_after(0.5):
                await client.request("b", Echo("anyone?"), resend_every=0.1)
            assert 5 <= client.sent - 1 <= 7  # sent again every 0.1 s until cancelled
            with pytest.raises(TypeError, match="timeout"):
                await client.request("a", Echo("x"), timeout=1.0)  # type: ignore[call-arg]
            with pytest.raises(UsageError, match="resend_every must be"):
                await client.request("a", Echo("x"), resend_every=0)


async def test_client_mistakes_are_clear() -> None:
    cluster = parse_cluster(cluster_text({"a": None, "b": None}))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}), open_client(cluster) as client:
            with pytest.raises(ConfigError, match="'zz' is not an endpoint"):
                client.send("zz", Echo("x"))
    with pytest.raises(ConfigError, match="is a node of"):
        async with open_client(cluster, "a"):
            pass


async def test_a_port_in_use_is_a_one_line_error() -> None:
    cluster = parse_cluster(cluster_text({"a": None}))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}):
            with pytest.raises(ConfigError, match=r"cannot listen on tcp 127\.0\.0\.1:\d+ for a"):
                await NodeHost(Server, "a", cluster, echo_logs=False).run()


async def test_the_status_file_follows_the_node(tmp_path: Path) -> None:
    cluster = parse_cluster(cluster_text({"a": None}))
    status = tmp_path / "a.status.json"
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Server}, status_file=status), \
                open_client(cluster) as client:
            await client.request("a", Echo("hi"))
            up = json.loads(status.read_text())
            assert up["state"] == "up" and up["node"] == "a" and up["transport"] == "tcp"
            # The transport's statistics, too: the client's connection shows at the next
            # rewrite (twice a second).
            while up["network"]["connections"] != 1:
                await trio.sleep(0.05)
                up = json.loads(status.read_text())
            assert up["network"]["queued_bytes"] == 0
            assert set(up["network"]) == {"connections", "pending", "queued_frames",
                                          "queued_bytes", "closed"}
    final = json.loads(status.read_text())
    assert final["state"] == "stopped" and final["messages_in"] == 1


class Slow(Node):
    """A handler that takes 20 ms; a timer falls due while messages wait their turn."""

    def on_start(self) -> None:
        self.fired = 0
        self.handled = 0
        self.set_timer("tick", 0.01)

    def on_message(self, src: str, msg: object) -> None:
        time.sleep(0.02)  # a slow handler blocks its node, as on any real machine
        self.handled += 1

    def on_timer(self, name: str) -> None:
        self.fired += 1


async def test_a_timer_due_while_the_node_is_busy_fires_once() -> None:
    cluster = parse_cluster(cluster_text({"a": None}))
    with trio.fail_after(TIMEOUT):
        async with running(cluster, {"a": Slow}) as hosts, open_client(cluster) as client:
            for i in range(10):
                client.send("a", Echo(f"{i}"))
            node: Any = hosts["a"].node
            await wait_until(lambda: node.handled == 10 and node.fired == 1, TIMEOUT,
                             "ten slow messages and the timer")
            await trio.sleep(0.1)
            assert node.fired == 1 and hosts["a"].statistics().timers_fired == 1


class Noter(Node):
    """Notes an event from itself and from a component, at start."""

    def __init__(self) -> None:
        super().__init__()
        from dsys.core.node import Component

        self.part = self.add_component(Component(), "part")

    def on_start(self) -> None:
        self.note("node event", n=1)
        self.part.note("part event", n=2)


@pytest.mark.parametrize("traced", [True, False])
async def test_notes_reach_a_trace_file_and_nothing_is_built_without_one(
        tmp_path: Path, traced: bool) -> None:
    cluster = parse_cluster(cluster_text({"a": None}))
    trace = tmp_path / "a.jsonl" if traced else None
    host = NodeHost(Noter, "a", cluster, trace=trace, echo_logs=False)
    recorded: list[tuple[str, dict[str, Any]]] = []
    record = host._record
    host._record = lambda kind, data: (recorded.append((kind, data)),  # type: ignore
                                       record(kind, data))[-1]
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            await nursery.start(host.run)
            nursery.cancel_scope.cancel()
    notes = [data for kind, data in recorded if kind == "note"]
    if traced:
        assert notes == [{"event": "node event", "n": 1},
                         {"event": "part event", "component": "part", "n": 2}]
        assert [e.data for e in Trace.load(tmp_path / "a.jsonl") if e.kind == "note"] == notes
    else:
        assert notes == []  # dropped before any event was built
