"""Batches of requests (KVBatch) and of replies (KVReplies): each request of a batch is
handled as if it came alone (exactly once, redirected when sent to a follower), and the
answers that are ready together leave together."""

from __future__ import annotations

from typing import Any

from dsys import Network, Simulation
from dsys.core.node import Node
from dsys.kv import KVServer
from dsys.kv.messages import OK, WRONG_LEADER, KVBatch, KVReplies, KVReply, KVRequest

SESSIONS = ("a", "b", "c", "d", "e")
SERVERS = ("s1", "s2", "s3")


class Batcher(Node):
    """Sends the batches a test hands it; records every message it gets, as is."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[Any] = []

    def on_message(self, src: str, msg: Any) -> None:
        self.got.append((src, msg))


def cluster(seed: int = 1, **network: Any) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=0.002, **network))
    for name in ("s1", "s2", "s3"):
        sim.add_node(name, lambda: KVServer(max_raft_state=None, members=SERVERS))
    sim.add_node("x", Batcher)
    sim.run(until=1.0)  # a leader is elected
    return sim


def leader(sim: Simulation) -> str:
    (name,) = [n for n in ("s1", "s2", "s3") if sim.node(n).raft.is_leader]  # type: ignore[union-attr]
    return name


def send(sim: Simulation, dst: str, requests: list[KVRequest], run: float = 0.3) -> list[Any]:
    """Send one KVBatch of ``requests`` to ``dst`` now; what came back meanwhile."""
    batcher = sim.node("x")
    assert isinstance(batcher, Batcher)
    batcher.got.clear()
    sim.at(sim.now, lambda: batcher.send(dst, KVBatch(tuple(requests))))
    sim.run(until=sim.now + run)
    return list(batcher.got)


def replies(got: list[Any]) -> list[KVReply]:
    found: list[KVReply] = []
    for _, msg in got:
        found.extend(msg.replies if isinstance(msg, KVReplies) else (msg,))
    return found


def batch(f: str, seq: int, value: Any = None, key: str = "k") -> list[KVRequest]:
    return [KVRequest(s, seq, f, key, value if value is None else f"{value}{s}")
            for s in SESSIONS]


def test_a_batch_is_answered_in_one_message_with_each_request_applied() -> None:
    sim = cluster()
    first = leader(sim)
    # The batch's writes travel in one AppendEntries (Raft.replicate after the starts),
    # commit in one run of applies, and their answers leave in one message.
    got = send(sim, first, batch("register", 0))
    assert [type(msg) for _, msg in got] == [KVReplies], got
    assert [(r.session, r.seq, r.status) for r in replies(got)] == [
        (s, 0, OK) for s in SESSIONS]
    got = send(sim, first, batch("append", 1, "v"))
    assert [type(msg) for _, msg in got] == [KVReplies], got
    assert [(r.session, r.status, r.leader) for r in replies(got)] == [
        (s, OK, first) for s in SESSIONS]
    follower_gets = [e.data["msg"] for e in sim.trace if e.kind == "recv"
                     and e.node != first and type(e.data["msg"]).__name__ == "AppendEntries"
                     and e.data["msg"].entries]
    assert [len(m.entries) for m in follower_gets][-2:] == [5, 5], follower_gets
    # Every append applied once, in the batch's order, on every server.
    for name in ("s1", "s2", "s3"):
        assert sim.node(name).store.read("k") == "".join(  # type: ignore[union-attr]
            f"v{s}" for s in SESSIONS)


def test_a_batch_sent_again_is_applied_once_and_answered_again() -> None:
    sim = cluster()
    first = leader(sim)
    send(sim, first, batch("register", 0))
    once = replies(send(sim, first, batch("append", 1, "v")))
    again = replies(send(sim, first, batch("append", 1, "v")))  # a retry of the same batch
    assert [(r.session, r.status) for r in again] == [(r.session, r.status) for r in once]
    assert sim.node(first).store.read("k") == "".join(  # type: ignore[union-attr]
        f"v{s}" for s in SESSIONS)


def test_gets_in_a_batch_are_answered_with_the_values_written() -> None:
    sim = cluster()
    first = leader(sim)
    send(sim, first, batch("register", 0))
    send(sim, first, [KVRequest(s, 1, "put", s, f"value of {s}") for s in SESSIONS])
    got = replies(send(sim, first, [KVRequest(s, 2, "get", s, None) for s in SESSIONS]))
    assert sorted((r.session, r.status, r.value) for r in got) == [
        (s, OK, f"value of {s}") for s in SESSIONS]


def test_a_batch_sent_to_a_follower_is_redirected_request_by_request() -> None:
    sim = cluster()
    first = leader(sim)
    follower = next(n for n in ("s1", "s2", "s3") if n != first)
    got = send(sim, follower, batch("register", 0))
    assert len(got) == 1 and isinstance(got[0][1], KVReplies), got  # all at once
    assert [(r.session, r.status, r.leader) for r in got[0][1].replies] == [
        (s, WRONG_LEADER, first) for s in SESSIONS]


def test_a_bad_request_in_a_batch_is_skipped_and_the_others_answered() -> None:
    sim = cluster()
    first = leader(sim)
    requests = batch("register", 0)
    requests[2] = KVRequest("c", 0, "explode", "k", None)
    got = replies(send(sim, first, requests))
    assert sorted(r.session for r in got) == ["a", "b", "d", "e"]
    logged = [e.data for e in sim.trace if e.kind == "log" and e.node == first]
    assert any("no such operation" in str(data) for data in logged), logged


def test_a_lone_answer_to_a_batch_goes_as_a_plain_reply() -> None:
    sim = cluster()
    first = leader(sim)
    got = send(sim, first, [KVRequest("a", 0, "register", "", None)])
    assert [type(msg) for _, msg in got] == [KVReply], got


def test_after_a_run_of_applies_the_gathered_answers_leave() -> None:
    # KVServer hands its service's flush to Raft (after_applies): answers gathered while
    # applying leave once the run of applies ends, even when it ends on an entry that is
    # not a command (a no-op, a configuration), where the service's own check misses it.
    server = KVServer()
    sent: list[tuple[str, Any]] = []
    server.kv.send = lambda dst, msg: sent.append((dst, msg))  # type: ignore[method-assign]
    server.kv.on_start()
    server.kv.gathered["x"] = [KVReply("a", 1, OK), KVReply("b", 1, OK)]
    assert server.raft.after_applies is not None
    server.raft.after_applies()
    assert sent == [("x", KVReplies((KVReply("a", 1, OK), KVReply("b", 1, OK))))]
    assert server.kv.gathered == {}


def test_batches_under_loss_and_copies_apply_each_append_once() -> None:
    # Lost and copied messages: the batcher sends the same batch until each session has
    # its answer; every append is applied exactly once.
    sim = cluster(seed=3, drop=0.2, duplicate=0.2)
    first = leader(sim)
    for seq, f in ((0, "register"), (1, "append"), (2, "append")):
        pending = set(SESSIONS)
        for _ in range(30):
            if not pending:
                break
            requests = [r for r in batch(f, seq, f"{seq}:" if f == "append" else None)
                        if r.session in pending]
            for r in replies(send(sim, first, requests)):
                if r.seq == seq and r.status == OK:
                    pending.discard(r.session)
        assert not pending, (f, pending)
    value = sim.node(first).store.read("k")  # type: ignore[union-attr]
    for s in SESSIONS:
        for seq in (1, 2):
            assert value.count(f"{seq}:{s}") == 1, value
