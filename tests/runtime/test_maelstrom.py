"""`dsys maelstrom`: a node speaking Maelstrom's JSON protocol on stdin and stdout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import trio

from dsys.errors import CodecError
from dsys.runtime.maelstrom import ErrorCode, MaelstromCodec, MaelstromError, maelstrom_type
from tests.runtime import maelstrom_app as app
from tests.runtime.helpers import child_env, dsys_command

APP = Path(app.__file__)
TIMEOUT = 20


class Session:
    """A `dsys maelstrom` child driven line by line, as Maelstrom drives it."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.buffer = b""

    async def send(self, src: str, body: dict[str, Any], dest: str = "n1") -> None:
        assert self.process.stdin is not None
        line = json.dumps({"src": src, "dest": dest, "body": body}) + "\n"
        await self.process.stdin.send_all(line.encode())

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        assert self.process.stdout is not None
        with trio.fail_after(timeout):
            while b"\n" not in self.buffer:
                chunk = await self.process.stdout.receive_some(65536)
                assert chunk, "the node closed its stdout"
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    async def silent(self, timeout: float = 0.3) -> bool:
        with trio.move_on_after(timeout):
            await self.receive(timeout)
            return False
        return True


def without_msg_id(message: dict[str, Any]) -> dict[str, Any]:
    body = dict(message["body"])
    assert isinstance(body.pop("msg_id"), int)  # every message the node sends has one
    return {**message, "body": body}


async def test_a_maelstrom_session_init_echo_errors_and_replies(tmp_path: Path) -> None:
    stderr = tmp_path / "stderr.txt"
    with trio.fail_after(TIMEOUT), stderr.open("wb") as err:
        process = await trio.lowlevel.open_process(
            dsys_command("maelstrom", f"{APP}:EchoNode", "--trace-dir", str(tmp_path)),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=child_env())
        try:
            s = Session(process)
            await s.send("c0", {"type": "echo", "msg_id": 1, "echo": "too early"})
            assert without_msg_id(await s.receive()) == {"src": "n1", "dest": "c0", "body": {
                "type": "error", "in_reply_to": 1, "code": ErrorCode.TEMPORARILY_UNAVAILABLE,
                "text": "this node has not received init yet"}}

            await s.send("c0", {"type": "init", "msg_id": 2, "node_id": "n1",
                                "node_ids": ["n1", "n2", "n3"]})
            assert without_msg_id(await s.receive()) == {
                "src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 2}}

            await s.send("c1", {"type": "echo", "msg_id": 3, "echo": "hello"})
            assert without_msg_id(await s.receive()) == {"src": "n1", "dest": "c1", "body": {
                "type": "echo_ok", "echo": "hello", "in_reply_to": 3}}

            for msg_id, body, code in [
                (4, {"type": "frobnicate"}, ErrorCode.NOT_SUPPORTED),
                (5, {"type": "echo", "echo": 5}, ErrorCode.MALFORMED_REQUEST),
                (6, {"type": "echo", "echo": "x", "extra": 1}, ErrorCode.MALFORMED_REQUEST),
                (7, {"type": "explode"}, ErrorCode.CRASH),
            ]:
                await s.send("c1", {**body, "msg_id": msg_id})
                error = (await s.receive())["body"]
                assert (error["type"], error["in_reply_to"], error["code"]) == (
                    "error", msg_id, code), error

            # A broadcast: gossip to both peers (not replies), then the reply to c1.
            await s.send("c1", {"type": "broadcast", "msg_id": 8, "message": 42})
            out = [without_msg_id(await s.receive()) for _ in range(3)]
            assert out == [
                {"src": "n1", "dest": "n2", "body": {"type": "gossip", "value": 42}},
                {"src": "n1", "dest": "n3", "body": {"type": "gossip", "value": 42}},
                {"src": "n1", "dest": "c1", "body": {"type": "broadcast_ok", "in_reply_to": 8}}]
            await s.send("n2", {"type": "gossip", "value": 7})  # no msg_id: no answer
            assert await s.silent()

            # A deferred reply: the node keeps msg_id itself and sets in_reply_to.
            await s.send("c2", {"type": "read", "msg_id": 9})
            assert without_msg_id(await s.receive()) == {"src": "n1", "dest": "c2", "body": {
                "type": "read_ok", "messages": [7, 42], "in_reply_to": 9}}

            await s.send("c1", {"type": "topology", "msg_id": 10,
                                "topology": {"n1": ["n2"], "n2": ["n1"]}})
            assert (await s.receive())["body"]["type"] == "topology_ok"

            assert process.stdin is not None
            await process.stdin.aclose()  # Maelstrom is done: the node exits cleanly
            assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    log = stderr.read_text()
    assert "print() from n1 goes to stderr" in log
    assert "raised RuntimeError: exploded on purpose" in log
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "n1.jsonl").read_text().splitlines()]
    assert kinds[0] == "start" and "recv" in kinds and "error" in kinds


async def test_a_message_to_nobody_is_the_usage_error_of_every_host(tmp_path: Path
                                                                    ) -> None:
    # The rule of dsys.core.rules: the node ids of init, Maelstrom's services and whoever
    # the node heard from are known; anything else is the simulator's UsageError (here a
    # handler error, so the request is answered "crash").
    stderr = tmp_path / "stderr.txt"
    with trio.fail_after(TIMEOUT), stderr.open("wb") as err:
        process = await trio.lowlevel.open_process(
            dsys_command("maelstrom", f"{APP}:EchoNode"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=child_env())
        try:
            s = Session(process)
            await s.send("c0", {"type": "init", "msg_id": 1, "node_id": "n1",
                                "node_ids": ["n1", "n2"]})
            assert (await s.receive())["body"]["type"] == "init_ok"
            for to in ("n2", "lin-kv", "c1"):  # a peer, a service, a client heard from
                await s.send("c1", {"type": "forward", "to": to, "echo": "hi"})
                out = await s.receive()
                assert (out["dest"], out["body"]["type"]) == (to, "echo"), out
            await s.send("c1", {"type": "forward", "msg_id": 2, "to": "nobody", "echo": "hi"})
            error = (await s.receive())["body"]
            assert (error["type"], error["code"]) == ("error", ErrorCode.CRASH)
            assert process.stdin is not None
            await process.stdin.aclose()
            assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert ("node n1 sent Echo to 'nobody', which is not a node of this cluster (nodes: "
            "lin-kv, lin-tso, lww-kv, n1, n2, seq-kv)") in stderr.read_text()


def test_types_are_snake_case_class_names_unless_the_class_says_otherwise() -> None:
    assert maelstrom_type(app.EchoOk) == "echo_ok"
    assert maelstrom_type(app.BroadcastOk) == "broadcast_ok"
    assert maelstrom_type(MaelstromError) == "error"
    assert maelstrom_type(type("KVReadOk", (), {})) == "kv_read_ok"


def test_the_targets_module_wins_a_clash_of_types() -> None:
    from tests.runtime import apps  # has Echo and EchoOk too: "echo", "echo_ok"

    assert maelstrom_type(apps.Echo) == maelstrom_type(app.Echo) == "echo"
    assert MaelstromCodec(prefer_module=app.__name__).classes["echo"] is app.Echo
    assert "echo" in MaelstromCodec(prefer_module="elsewhere").ambiguous


def test_the_codec_maps_fields_and_keeps_msg_id_for_classes_that_declare_it() -> None:
    codec = MaelstromCodec(prefer_module=app.__name__)
    msg, msg_id, stamps = codec.decode({"type": "read", "msg_id": 5, "dsys_stamps": {"l": 1}})
    assert msg == app.Read(msg_id=5) and msg_id == 5 and stamps == {"l": 1}
    msg, msg_id, _ = codec.decode({"type": "echo", "msg_id": 6, "in_reply_to": 2, "echo": "x"})
    assert msg == app.Echo("x") and msg_id == 6
    assert codec.encode(app.ReadOk((1, 2))) == {"type": "read_ok", "messages": [1, 2]}
    assert codec.encode(app.Echo("x"), {"lamport": 3}) == {
        "type": "echo", "echo": "x", "dsys_stamps": {"lamport": 3}}


def test_a_field_named_type_cannot_cross_to_maelstrom() -> None:
    from dsys import message

    @message(name="mt:Typed")
    class Typed:
        type: str

    with pytest.raises(CodecError, match="field named 'type'"):
        MaelstromCodec().encode(Typed("x"))
