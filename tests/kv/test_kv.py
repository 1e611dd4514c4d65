"""The key-value service on Raft, judged by linearizability under faults.

Every run checks Raft's invariants after every event; at the end the clients' history
must be linearizable (``dsys.check``, model ``kv``), no value may be in the store twice
(exactly once), and once the faults stop every client finishes its workload."""

from __future__ import annotations

import pytest

from dsys import Network
from dsys.kv import KVServer
from tests.kv.systems import (
    all_done,
    applied_once,
    hostile,
    kv_cluster,
    linearizable,
    no_session_expired,
    replicas_agree,
)

FEW = range(4)
MANY = range(1000)


def under_faults(seed: int, *, reads: str = "index", until: float = 6.0) -> dict[str, int]:
    sim = kv_cluster(seed, network=Network(drop=0.05, duplicate=0.05, reorder=0.1),
                     server=lambda: KVServer(reads=reads, max_raft_state=2000))
    hostile(sim, until)
    assert sim.run_until(all_done(4 * 40), timeout=until + 30.0), (
        f"seed {seed}: the clients did not finish after the faults")
    linearizable(sim)
    applied_once(sim)
    replicas_agree(sim)
    no_session_expired(sim)
    kinds = [e["type"] for e in sim.history]
    return {"ok": kinds.count("ok"), "info": kinds.count("info"),
            "snapshots": sum(1 for e in sim.trace if e.kind == "note"
                             and e.data.get("event") == "snapshot")}


@pytest.mark.parametrize("seed", FEW)
def test_linearizable_and_exactly_once_under_every_fault(seed: int) -> None:
    figures = under_faults(seed)
    assert figures["ok"] >= 100 and figures["snapshots"] > 0, figures


@pytest.mark.parametrize("seed", range(2))
def test_reads_through_the_log_are_linearizable_too(seed: int) -> None:
    under_faults(seed, reads="log")


@pytest.mark.soak
@pytest.mark.parametrize("seed", MANY)
def test_linearizable_soak(seed: int) -> None:
    under_faults(seed)


def caught(server: object, seeds: range = range(6), **kw: object) -> bool:
    """True if some seed's run fails a judge."""
    for seed in seeds:
        sim = kv_cluster(seed, network=Network(drop=0.05, duplicate=0.05, reorder=0.1),
                         server=server, check=False)  # type: ignore[arg-type]
        hostile(sim, 6.0)
        if not sim.run_until(all_done(4 * 40), timeout=36.0):
            return True
        try:
            linearizable(sim)
            applied_once(sim)
            replicas_agree(sim)
            no_session_expired(sim)
        except AssertionError:
            return True
    return False


def deposed_leader_read(server: object, seed: int) -> None:
    """The leader is cut off from the other servers (not from clients) and, without
    check-quorum, keeps believing it leads; a write goes through the new leader, then a
    client that only knows the old leader reads."""
    from dsys import Simulation
    from dsys.kv import KVClient

    sim = Simulation(seed=seed)
    for name in ("s1", "s2", "s3"):
        sim.add_node(name, server)  # type: ignore[arg-type]
    sim.run_until(lambda s: any(n.raft.is_leader for n in s.nodes.values()),  # type: ignore
                  timeout=2.0)
    old = next(n for n, node in sim.nodes.items() if node.raft.is_leader)  # type: ignore
    sim.partition({old}, {"s1", "s2", "s3"} - {old})
    writes = iter([{"f": "put", "key": "x", "value": "new"}])
    sim.add_client("w", KVClient, workload=lambda rng: next(writes), ops=1)
    assert sim.run_until(all_done(1), timeout=5.0) and sim.history[-1]["type"] == "ok"
    reads = iter([{"f": "get", "key": "x", "value": None}])
    sim.add_client("r", lambda: KVClient(servers=(old,)), workload=lambda rng: next(reads),
                   ops=1)
    sim.run_until(all_done(2), timeout=5.0)
    linearizable(sim)


@pytest.mark.parametrize("seed", range(3))
def test_a_deposed_leader_never_serves_a_stale_read(seed: int) -> None:
    deposed_leader_read(lambda: KVServer(check_quorum=False), seed)


def test_serving_reads_without_read_index_is_caught_by_the_deposed_leader() -> None:
    from tests.kv.broken import StaleReads

    with pytest.raises(AssertionError, match="not-linearizable"):
        deposed_leader_read(lambda: StaleReads(check_quorum=False), 0)


@pytest.mark.parametrize("name", ["NoDedupStore", "ForgetsSessionsInSnapshots",
                                  "RepliesBeforeCommit"])
def test_each_classic_bug_is_caught(name: str) -> None:
    from tests.kv import broken

    thing = getattr(broken, name)
    if isinstance(thing, type) and issubclass(thing, KVServer):
        server = lambda: thing(max_raft_state=2000)  # noqa: E731
    else:
        server = broken.with_store(thing, max_raft_state=2000)
    assert caught(server), f"{name} passed every seed"
