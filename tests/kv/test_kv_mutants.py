"""Rules of dsys.kv that a mutation sample found unpinned (issue 21): the client's retry
*rate* after a redirect and its handling of an expired session (a rarely taken branch),
and the service's bookkeeping of waiting writes after a leader change, which the fault
tests reach too rarely to pin: it is driven here with a scripted stand-in for Raft."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from dsys import Network, Simulation
from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.kv import KVClient, KVStore
from dsys.kv.messages import EXPIRED, OK, WRONG_LEADER, KVReply, KVRequest
from dsys.kv.server import KVService

# ----- the client ---------------------------------------------------------------------------


class Redirecting(Node):
    """A server that is never the leader and always names ``s2``; ``s2`` itself says
    nothing (it is cut off)."""

    def on_message(self, src: str, msg: Any) -> None:
        if self.id != "s2" and isinstance(msg, KVRequest):
            self.send(src, KVReply(msg.session, msg.seq, WRONG_LEADER, None, "s2"))


def client_sends(sim: Simulation, client: str = "c1") -> list[tuple[float, str]]:
    return [(e.time, str(e.data["to"])) for e in sim.trace
            if e.kind == "send" and e.node == client]


def test_after_a_redirect_the_client_waits_a_full_retry_before_moving_on() -> None:
    # 30 ms each way: a redirect takes 60 ms, most of a 100 ms retry period.
    sim = Simulation(seed=5, network=Network(latency=0.03))
    for name in ("s1", "s2", "s3"):
        sim.add_node(name, Redirecting)
    sim.add_client("c1", lambda: KVClient(retry=0.1, op_timeout=10.0),
                   workload=lambda rng: {"f": "get", "key": "x", "value": None}, ops=1)
    sim.run(until=1.5)
    sends = client_sends(sim)
    after_s2 = [later - at for (at, to), (later, _) in itertools.pairwise(sends) if to == "s2"]
    assert len(after_s2) >= 5, sends
    # s2 is silent: the next try comes one retry period after the request to s2, whether
    # that request followed a timeout or a redirect.
    assert all(gap == pytest.approx(0.1, abs=1e-9) for gap in after_s2), after_s2
    # and every redirect is followed at once (no waiting for the timer)
    redirected = [later - at for (at, to), (later, _) in itertools.pairwise(sends) if to != "s2"]
    assert all(gap == pytest.approx(0.06, abs=1e-9) for gap in redirected), redirected


class Expiring(Node):
    """A leader whose session table lost the first session: the first write in it is
    answered ``session expired``, everything else ``ok``; it records every request."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[KVRequest] = []
        self.expired: str | None = None

    def on_message(self, src: str, msg: Any) -> None:
        if not isinstance(msg, KVRequest):
            return
        self.requests.append(msg)
        if msg.f != "register" and self.expired in (None, msg.session):
            self.expired = msg.session
            status = EXPIRED
        else:
            status = OK
        self.send(src, KVReply(msg.session, msg.seq, status, None, self.id))


def test_an_expired_session_gives_info_and_a_new_session() -> None:
    sim = Simulation(seed=5)
    sim.add_node("s1", Expiring)
    ops = iter([{"f": "put", "key": "x", "value": "1"}, {"f": "put", "key": "x", "value": "2"},
                {"f": "append", "key": "x", "value": "3"}])
    sim.add_client("c1", KVClient, workload=lambda rng: next(ops), ops=3)
    sim.run(until=1.0)
    assert [(e["type"], e["value"]) for e in sim.history if e["type"] != "invoke"] == [
        ("info", "1"), ("ok", "2"), ("ok", "3")]
    server = sim.node("s1")
    assert isinstance(server, Expiring)
    asked = [(r.session, r.seq, r.f) for r in server.requests]
    sessions = list(dict.fromkeys(session for session, _, _ in asked))
    assert len(sessions) == 2, asked  # a new session after the expiry, numbered from 1
    assert asked == [(sessions[0], 0, "register"), (sessions[0], 1, "put"),
                     (sessions[1], 0, "register"), (sessions[1], 1, "put"),
                     (sessions[1], 2, "append")]
    assert all(s.startswith("c1-") for s in sessions)


# ----- the service's waiting writes ---------------------------------------------------------


class ScriptedRaft:
    """Stands in for :class:`~dsys.raft.Raft` beside a :class:`KVService`: always the
    leader, ``start`` returns the next scripted ``(index, term)`` (or None), and it records
    the snapshots the service asks for."""

    def __init__(self, starts: list[tuple[int, int] | None], log_bytes: int = 0) -> None:
        self.starts = list(starts)
        self.is_leader = True
        self.leader = "s1"
        self.commands: list[dict[str, Any]] = []
        self.snapshots: list[int] = []
        self.bytes = log_bytes
        self.last_applied = self.commit_index = 0

    def start(self, command: dict[str, Any]) -> tuple[int, int] | None:
        self.commands.append(command)
        return self.starts.pop(0)

    def read(self, callback: Any) -> None:  # pragma: no cover - no gets here
        callback(True)

    def log_bytes(self) -> int:
        return self.bytes

    def snapshot(self, index: int, data: Any) -> None:
        self.snapshots.append(index)


class Host(Node):
    def __init__(self, raft: ScriptedRaft, max_raft_state: int | None = None) -> None:
        super().__init__()
        self.kv = self.add_component(KVService(raft, KVStore(),  # type: ignore[arg-type]
                                               max_raft_state=max_raft_state))


class Asker(Node):
    """A client that records the replies it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.replies: list[tuple[float, KVReply]] = []

    def on_message(self, src: str, msg: Any) -> None:
        self.replies.append((self.now, msg))


def service(raft: ScriptedRaft, max_raft_state: int | None = None) -> Simulation:
    sim = Simulation(seed=1, network=Network(latency=0.001))
    sim.add_node("s1", lambda: Host(raft, max_raft_state))
    for name in ("a", "b", "c"):
        sim.add_node(name, Asker)
    return sim


def request(sim: Simulation, at: float, client: str, seq: int) -> None:
    def send() -> None:
        node = sim.node(client)
        assert node is not None
        node.send("s1", KVRequest(client, seq, "put", "k", client))

    sim.at(at, send)


def apply(sim: Simulation, at: float, index: int, session: str, seq: int) -> None:
    def call() -> None:
        host = sim.node("s1")
        assert isinstance(host, Host)
        command = {"session": session, "seq": seq, "f": "put", "key": "k", "value": session,
                   "time": sim.now}
        host.kv.applied(index, command, {"status": OK, "value": f"result of {session}"})

    sim.at(at, call)


def replies(sim: Simulation) -> dict[str, list[tuple[float, str, Any]]]:
    found = {}
    for name in ("a", "b", "c"):
        node = sim.node(name)
        assert isinstance(node, Asker)
        found[name] = [(round(t, 1), r.status, r.value) for t, r in node.replies]
    return found


def after_a_leader_change(sim: Simulation) -> None:
    """a and b's writes went in at 5 and 6 (term 1); the leader lost those entries with
    its leadership and, leader again, puts c's write at index 4 (term 3)."""
    request(sim, 0.1, "a", 1)
    request(sim, 0.1, "b", 1)
    request(sim, 0.2, "c", 1)


def test_a_write_at_a_lower_index_after_a_leader_change_gets_its_result() -> None:
    sim = service(ScriptedRaft([(5, 1), (6, 1), (4, 3)]))
    after_a_leader_change(sim)
    apply(sim, 0.3, 4, "c", 1)   # c's write applied at 4
    apply(sim, 0.4, 5, "x", 9)   # another leader's entry at 5: a's write is lost
    apply(sim, 0.5, 7, "x", 10)  # 6 came in a snapshot: b's write is lost too
    sim.run(until=1.0)
    assert replies(sim) == {"a": [(0.4, WRONG_LEADER, None)],
                            "b": [(0.5, WRONG_LEADER, None)],
                            "c": [(0.3, OK, "result of c")]}


def test_a_write_skipped_by_a_snapshot_is_answered_at_the_next_apply() -> None:
    sim = service(ScriptedRaft([(5, 1), (6, 1), (4, 3)]))
    after_a_leader_change(sim)
    apply(sim, 0.3, 5, "a", 1)   # index 4 came in a snapshot; a's write is at 5
    sim.run(until=1.0)
    assert replies(sim) == {"a": [(0.3, OK, "result of a")], "b": [],
                            "c": [(0.3, WRONG_LEADER, None)]}


def test_a_write_refused_by_raft_is_sent_to_the_leader() -> None:
    raft = ScriptedRaft([None])
    sim = service(raft)
    request(sim, 0.1, "a", 1)
    sim.run(until=0.5)
    assert replies(sim)["a"] == [(0.1, WRONG_LEADER, None)]
    assert [c["session"] for c in raft.commands] == ["a"]


@pytest.mark.parametrize(("log_bytes", "caught_up", "snapshots"), [
    (101, True, [1]), (100, True, []), (101, False, [])])
def test_a_snapshot_once_the_log_passes_the_bound_and_the_applies_caught_up(
        log_bytes: int, caught_up: bool, snapshots: list[int]) -> None:
    raft = ScriptedRaft([(1, 1)], log_bytes=log_bytes)
    raft.commit_index = 1
    raft.last_applied = 1 if caught_up else 0
    sim = service(raft, max_raft_state=100)
    request(sim, 0.1, "a", 1)
    apply(sim, 0.2, 1, "a", 1)
    sim.run(until=0.5)
    assert raft.snapshots == snapshots
    assert replies(sim)["a"] == [(0.2, OK, "result of a")]


@pytest.mark.parametrize(("options", "match"), [
    ({"reads": "lease"}, "reads must be 'index' or 'log'"),
    ({"max_raft_state": 0}, "max_raft_state must be >= 1"),
])
def test_the_service_refuses_bad_options(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        KVService(ScriptedRaft([]), KVStore(), **options)  # type: ignore[arg-type]
