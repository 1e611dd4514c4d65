"""KVShell (the client of `dsys kv` and bench/kv.py) with many sessions at once: requests
that are ready together leave in one KVBatch, every operation is applied once, and a
request too large for a frame fails its own caller only. Servers run in this process,
on 127.0.0.1; every test is bounded by trio.fail_after."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from dsys.errors import CodecError, UsageError
from dsys.kv import KVServer
from dsys.kv.messages import OK, KVBatch, KVReplies, KVReply, KVRequest
from dsys.runtime import open_client, parse_cluster
from dsys.runtime.kv_cli import KVShell
from tests.runtime.conftest import running
from tests.runtime.helpers import cluster_text

DEADLINE = 60
SERVERS = ("s1", "s2", "s3")


async def test_many_sessions_share_frames_and_every_append_is_applied_once() -> None:
    cluster = parse_cluster(cluster_text(dict.fromkeys(SERVERS)))
    sessions, rounds = 24, 5
    with trio.fail_after(DEADLINE):
        async with running(cluster, dict.fromkeys(SERVERS, KVServer)) as hosts, \
                open_client(cluster) as client, trio.open_nursery() as nursery:
            shell = KVShell(client, retry=1.0)
            nursery.start_soon(shell.dispatch)
            await shell.session().call("put", "k", "")  # a leader is elected
            sent_before = client.sent

            async def appender(n: int) -> None:
                session = shell.session()
                for r in range(rounds):
                    reply = await session.call("append", "k", f"<{n}.{r}>")
                    assert reply.status == OK, reply

            async with trio.open_nursery() as workers:
                for n in range(sessions):
                    workers.start_soon(appender, n)
            value = (await shell.session().call("get", "k")).value
            frames = client.sent - sent_before
            nursery.cancel_scope.cancel()
        leader = hosts[shell.leader or ""].node
    # Each append exactly once, each session's in its order.
    for n in range(sessions):
        mine = [value.index(f"<{n}.{r}>") for r in range(rounds)]
        assert all(value.count(f"<{n}.{r}>") == 1 for r in range(rounds)), value
        assert mine == sorted(mine), value
    # 24 registers + 120 appends + a get: far fewer frames than requests.
    assert frames <= (sessions * (rounds + 1) + 1) // 2, frames
    assert leader is not None and leader.store.read("k") == value  # type: ignore[attr-defined]


class FakeClient:
    """Stands in for a ClusterClient: records what is sent; refuses messages over
    ``limit`` requests as a frame too large; replies only when the test says."""

    def __init__(self, limit: int = 1000) -> None:
        self.id = "client-test"
        self.cluster = parse_cluster(cluster_text(dict.fromkeys(SERVERS)))
        self.sent: list[tuple[str, Any]] = []
        self.limit = limit
        self.inbox: trio.MemorySendChannel[tuple[str, Any]]
        self.inbox, self._out = trio.open_memory_channel[tuple[str, Any]](100)

    def send(self, dst: str, msg: Any) -> None:
        requests = msg.requests if isinstance(msg, KVBatch) else (msg,)
        if len(requests) > self.limit or any(r.value == "huge" for r in requests):
            raise CodecError("too many bytes on the wire")
        self.sent.append((dst, msg))

    async def receive(self, *, match: Any = None) -> tuple[str, Any]:
        return await self._out.receive()


async def test_requests_ready_together_leave_in_one_batch_and_replies_come_back() -> None:
    fake = FakeClient()
    shell = KVShell(fake, batch=4)  # type: ignore[arg-type]
    shell.leader = "s2"
    results: dict[str, KVReply] = {}
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(shell.dispatch)

            async def ask(session: str) -> None:
                results[session] = await shell.request(KVRequest(session, 1, "put", "k", "v"))

            for session in "abcdef":
                nursery.start_soon(ask, session)
            while len(fake.sent) < 2:
                await trio.sleep(0.001)
            # Six at once, at most four per message: a batch of four and one of two.
            assert [(dst, len(msg.requests)) for dst, msg in fake.sent] == [("s2", 4),
                                                                           ("s2", 2)]
            sent = [r.session for _, msg in fake.sent for r in msg.requests]
            assert sorted(sent) == list("abcdef")
            await fake.inbox.send(("s2", KVReplies(tuple(
                KVReply(s, 1, OK, None, "s2") for s in "abcdef"))))
            while len(results) < 6:
                await trio.sleep(0.001)
            nursery.cancel_scope.cancel()
    assert {s: r.status for s, r in results.items()} == dict.fromkeys("abcdef", OK)


async def test_a_batch_too_large_is_split_and_a_request_too_large_fails_alone() -> None:
    fake = FakeClient(limit=2)
    shell = KVShell(fake)  # type: ignore[arg-type]
    shell.leader = "s1"
    outcome: dict[str, Any] = {}
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(shell.dispatch)

            async def ask(session: str, value: str) -> None:
                try:
                    outcome[session] = await shell.request(
                        KVRequest(session, 1, "put", "k", value))
                except CodecError as exc:
                    outcome[session] = exc

            for session in "abcd":
                nursery.start_soon(ask, session, "huge" if session == "c" else "v")
            while "c" not in outcome:
                await trio.sleep(0.001)
            assert isinstance(outcome["c"], CodecError)
            # The others went out, in messages of at most two requests.
            sent = [[r.session for r in (msg.requests if isinstance(msg, KVBatch) else (msg,))]
                    for _, msg in fake.sent]
            assert sorted(s for group in sent for s in group) == ["a", "b", "d"], sent
            assert len(sent) == 2, sent  # a batch of 4 in halves; c's half in halves again
            assert all(len(group) <= 2 for group in sent), sent
            nursery.cancel_scope.cancel()


def test_a_shell_refuses_a_batch_below_one() -> None:
    with pytest.raises(UsageError, match="batch must be at least 1"):
        KVShell(FakeClient(), batch=0)  # type: ignore[arg-type]


async def test_a_silent_server_is_given_up_after_retry_for_the_next_one() -> None:
    fake = FakeClient()
    shell = KVShell(fake, retry=0.2)  # type: ignore[arg-type]
    shell.leader = "s1"  # believed to lead, but silent
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(shell.dispatch)
            started = trio.current_time()
            result: list[KVReply] = []

            async def ask() -> None:
                result.append(await shell.request(KVRequest("a", 1, "put", "k", "v")))

            nursery.start_soon(ask)
            while len(fake.sent) < 2:
                await trio.sleep(0.001)
            waited = trio.current_time() - started
            assert [dst for dst, _ in fake.sent] == ["s1", "s2"]
            assert 0.2 <= waited <= 0.2 + 0.2 / 4 + 0.05, waited  # retry, plus a tick
            assert shell.leader is None  # the silent leader is forgotten
            await trio.sleep(0.3)  # s2 is silent too: then s3
            assert [dst for dst, _ in fake.sent] == ["s1", "s2", "s3"]
            await fake.inbox.send(("s3", KVReply("a", 1, OK, None, "s3")))
            while not result:
                await trio.sleep(0.001)
            nursery.cancel_scope.cancel()
    assert result[0].status == OK and shell.leader == "s3"
