"""Multi-Paxos (dsys.paxos.multi): a replicated key-value store under the seeded Nemesis
(partitions, isolation, one-way links, crashes with restarts, loss, duplication,
reordering). The checkers judge every run, the clients' history must be linearizable,
replicas agree and apply each command once, and once the faults stop every client
finishes; a leader that skips recovery is caught. Then the stable leader, recovery with
no-ops, the lease and the client's redirects, one handler at a time."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import pytest

from dsys import Simulation
from dsys.paxos.multi import (
    NOOP,
    Accept,
    Accepted,
    Chosen,
    Command,
    Heartbeat,
    MultiPaxosServer,
    Nack,
    NotLeader,
    Prepare,
    Promise,
    Request,
)
from dsys.testing import NodeHarness
from tests.paxos.broken import LeaderWithoutRecovery
from tests.paxos.systems import (
    CLIENTS,
    FAULTS_END,
    OPS,
    SERVERS,
    cluster,
    faulty,
    finished,
    problems,
    replicas_agree,
)


def node(sim: Simulation, name: str) -> MultiPaxosServer:
    server = sim.node(name)
    assert isinstance(server, MultiPaxosServer)
    return server


def check_seeds(seeds: range) -> None:
    leaders = 0
    for seed in seeds:
        sim = faulty(seed)
        sim.run(until=FAULTS_END)
        assert sim.run_until(finished, timeout=20.0), f"seed {seed}: clients did not finish"
        assert problems(sim) == [] and replicas_agree(sim) == [], (
            f"seed {seed}: {problems(sim) + replicas_agree(sim)}")
        leaders += sum(e.kind == "note" and e.data["event"] == "lead" for e in sim.trace)
    assert leaders > len(seeds)  # the faults did force new leaders to recover the log


def test_linearizable_agreed_and_live_under_faults() -> None:
    check_seeds(range(8))


@pytest.mark.soak
def test_linearizable_agreed_and_live_under_faults_soak() -> None:
    check_seeds(range(8, 400))


def test_the_checkers_catch_a_leader_that_skips_recovery() -> None:
    for seed in range(10):
        sim = faulty(seed, LeaderWithoutRecovery)
        sim.run(until=FAULTS_END)
        sim.run_until(finished, timeout=5.0)
        if problems(sim):
            return
    pytest.fail("no seed in range(10) caught a leader without recovery")


def test_in_calm_weather_one_leader_runs_phase_1_once_and_then_only_phase_2() -> None:
    sim = cluster(1)
    assert sim.run_until(finished, timeout=30.0)
    leads = [e for e in sim.trace if e.kind == "note" and e.data["event"] == "lead"]
    assert len(leads) == 1
    prepares = [e for e in sim.trace if e.kind == "send" and e.message_name == "Prepare"]
    # a server may time out in the instant before the first heartbeat reaches it; the
    # lease refuses it, and from then on nobody competes
    assert prepares and max(e.time for e in prepares) < leads[0].time + 0.05
    leader = leads[0].node
    accepts = [e for e in sim.trace if e.kind == "send" and e.message_name == "Accept"]
    assert {e.node for e in accepts} == {leader}
    assert node(sim, leader).applied == len(CLIENTS) * OPS
    # phase 2 only, all in the one ballot of that phase 1
    ballots = {tuple(e.data["ballot"]) for e in sim.trace
               if e.kind == "note" and e.data["event"] == "accept"}
    assert ballots == {tuple(leads[0].data["ballot"])}
    assert problems(sim) == [] and replicas_agree(sim) == []


def test_a_crashed_leader_is_replaced_and_the_log_survives() -> None:
    sim = cluster(2)
    sim.run(until=1.0)
    (leader,) = [n for n in SERVERS if node(sim, n).is_leader]
    sim.crash(leader)
    sim.run(until=2.0)
    new = [n for n in SERVERS if n in sim.nodes and node(sim, n).is_leader]
    assert len(new) == 1 and new[0] != leader
    sim.restart(leader)
    assert sim.run_until(finished, timeout=30.0)
    sim.run(until=sim.now + 1.0)
    assert problems(sim) == [] and replicas_agree(sim) == []
    applied = {node(sim, n).applied for n in SERVERS}
    assert len(applied) == 1  # the restarted server caught up


# ----- one handler at a time -----------------------------------------------------------------

A = Command("c1-1", 1, "put", "x", "a")
C = Command("c2-1", 1, "append", "x", "c")
X = Command("c3-1", 1, "put", "x", "stale")


def server(node_id: str = "s1", **kw: float) -> NodeHarness:
    peers = tuple(s for s in SERVERS if s != node_id)
    h = NodeHarness(functools.partial(MultiPaxosServer, **kw), node_id, peers,
                    clients=CLIENTS)
    h.start()
    return h


def test_a_new_leader_recovers_every_slot_and_fills_the_gaps_with_no_ops() -> None:
    h = server()
    h.deliver("s4", Heartbeat((2, "s4"), 1))  # s1 has seen round 2
    h.fire("election")  # ... and s4 went silent
    assert [s.msg for s in h.sent(to="s2")] == [Prepare((3, "s1"), 1)]
    h.clear()
    h.deliver("s2", Promise((3, "s1"), ((1, (1, "s2"), X), (3, (2, "s4"), C))))
    assert h.sent() == [] and not h.node.is_leader  # type: ignore[attr-defined]
    h.deliver("s3", Promise((3, "s1"), ((1, (2, "s4"), A),)))  # slot 1: the higher ballot
    assert h.node.is_leader  # type: ignore[attr-defined]
    accepts = [s.msg for s in h.sent(Accept, to="s2")]
    assert accepts == [Accept((3, "s1"), 1, A), Accept((3, "s1"), 2, NOOP),
                       Accept((3, "s1"), 3, C)]
    h.clear()
    h.deliver("c1", Request(Command("c1-2", 1, "get", "x", "")))  # the next free slot: 4
    assert [s.msg.slot for s in h.sent(Accept, to="s2")] == [4]


def test_a_chosen_command_is_applied_in_order_and_answered_by_the_leader() -> None:
    h = server()
    h.fire("election")
    for peer in ("s2", "s3"):
        h.deliver(peer, Promise((1, "s1"), ()))
    h.clear()
    h.deliver("c1", Request(A))
    assert h.node.store.data == {}  # type: ignore[attr-defined]  # not chosen yet
    for peer in ("s2", "s3"):
        h.deliver(peer, Accepted((1, "s1"), 1))
    assert h.node.store.data == {"x": "a"}  # type: ignore[attr-defined]
    assert [type(s.msg).__name__ for s in h.sent(to="c1")] == ["Reply"]
    assert {s.dst for s in h.sent(Chosen)} == set(SERVERS) - {"s1"}


def test_a_follower_under_a_live_leader_refuses_other_ballots_and_redirects_clients() -> None:
    h = server("s3", election_timeout=0.2)
    h.deliver("s1", Heartbeat((1, "s1"), 1))
    h.deliver("s2", Prepare((2, "s2"), 1))  # the lease: s1 was heard just now
    assert [s.msg for s in h.sent(to="s2")] == [Nack((2, "s2"), (0, ""))]
    h.deliver("c1", Request(A))
    assert [s.msg for s in h.sent(to="c1")] == [NotLeader("c1-1", 1, "s1")]
    h.advance(0.3)  # the leader is silent for longer than the timeout: promise
    h.clear()
    h.deliver("s2", Prepare((2, "s2"), 1))
    assert [type(s.msg).__name__ for s in h.sent(to="s2")] == ["Promise"]


def test_an_acceptor_keeps_its_promise_and_acceptances_across_a_crash() -> None:
    h = server("s2")
    h.deliver("s1", Accept((3, "s1"), 1, A))
    h.crash()
    h.recover()
    h.clear()
    h.deliver("s4", Prepare((2, "s4"), 1))
    assert [s.msg for s in h.sent(to="s4")] == [Nack((2, "s4"), (3, "s1"))]
    h.deliver("s4", Prepare((4, "s4"), 1))
    assert [s.msg for s in h.sent(to="s4")][-1] == Promise((4, "s4"), ((1, (3, "s1"), A),))


def test_bad_timeouts_are_refused() -> None:
    with pytest.raises(Exception, match="must be larger than heartbeat"):
        MultiPaxosServer(heartbeat=0.1, election_timeout=0.05)


def test_the_same_seed_gives_the_same_trace_under_any_hash_seed() -> None:
    code = ("from tests.paxos.systems import faulty;"
            "sim = faulty(3); sim.run(until=2.0); print(sim.trace.digest())")
    digests = set()
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, timeout=120, check=True)
        digests.add(done.stdout.strip())
    assert len(digests) == 1, digests
