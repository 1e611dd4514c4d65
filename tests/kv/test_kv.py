"""The key-value service on Raft, judged by linearizability under faults.

Every run checks Raft's invariants after every event; at the end the clients' history
must be linearizable (``dsys.check``, model ``kv``), no value may be in the store twice
(exactly once), and once the faults stop every client finishes its workload."""

from __future__ import annotations

import pytest

from dsys import Network, Simulation
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

FEW = range(3)
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


# ----- the MIT 6.5840 lab 4 scenarios, in virtual time ------------------------------------------


def scenario(seed: int, *, clients: int = 1, ops: int = 30, unreliable: bool = False,
             crash: bool = False, partitions: bool = False, max_raft_state: int | None = None,
             servers: tuple[str, ...] = ("s1", "s2", "s3", "s4", "s5"), until: float = 5.0
             ) -> Simulation:
    """One of lab 4's tests: the clients' workloads, on a reliable or unreliable network,
    with crashes (all unsynced writes lost) and/or partitions until ``until``; then the
    history must be linearizable, exactly once, and the replicas must agree."""
    network = Network(drop=0.1, duplicate=0.05, reorder=0.2) if unreliable else Network()
    sim = kv_cluster(seed, servers=servers, clients=clients, ops=ops, network=network,
                     server=lambda: KVServer(max_raft_state=max_raft_state))
    faults = (("crash",) if crash else ()) + (("partition", "isolate") if partitions else ())
    if faults:
        hostile(sim, until, faults)
        if crash:  # besides the nemesis's seeded coin flips: a disk that kept nothing
            sim.at(until / 2, sim.crash, servers[0], unsynced="lost")
            sim.at(until / 2 + 0.3, sim.restart, servers[0])
    assert sim.run_until(all_done(clients * ops), timeout=until + 30.0), (
        f"seed {seed}: the clients did not finish")
    linearizable(sim)
    applied_once(sim)
    replicas_agree(sim)
    return sim


SCENARIOS = {
    "basic": {},
    "concurrent": {"clients": 5},
    "unreliable": {"clients": 5, "unreliable": True},
    "crash": {"clients": 5, "crash": True},
    "partition": {"clients": 5, "partitions": True},
    "unreliable-crash-partition": {"clients": 5, "unreliable": True, "crash": True,
                                   "partitions": True},
    "snapshots-crash-partition": {"clients": 5, "unreliable": True, "crash": True,
                                  "partitions": True, "max_raft_state": 1000},
}


def lab4_scenario(name: str, seed: int) -> None:
    sim = scenario(seed, **SCENARIOS[name])  # type: ignore[arg-type]
    oks = sum(1 for e in sim.history if e["type"] == "ok")
    assert oks >= len(sim.client_ids) * 30 // 2, f"seed {seed}: only {oks} operations ok"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_lab4_scenario(name: str) -> None:
    lab4_scenario(name, 0)


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(1, 50))
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_lab4_scenario_soak(name: str, seed: int) -> None:
    lab4_scenario(name, seed)


def test_the_log_stays_under_max_raft_state_and_snapshots_keep_the_sessions() -> None:
    sim = scenario(1, clients=3, ops=60, max_raft_state=800)
    for name, node in sim.nodes.items():
        raft = node.raft  # type: ignore[attr-defined]
        # A snapshot is taken at the apply that crosses the bound: one entry over it.
        assert raft.log_bytes() <= 800 + 400, (name, raft.log_bytes())
        assert raft.snapshot_index > 0
        snapshot = raft.snapshot_data
        assert snapshot["sessions"], "the session table is in the snapshot"


def test_sessions_expire_after_their_timeout_of_log_time() -> None:
    from dsys.kv import KVStore

    store = KVStore(session_timeout=1.0)
    store.apply(1, {"session": "a", "seq": 0, "f": "register", "key": "", "value": None,
                    "time": 0.0})
    store.apply(2, {"session": "b", "seq": 0, "f": "register", "key": "", "value": None,
                    "time": 0.9})
    assert store.apply(3, {"session": "a", "seq": 1, "f": "put", "key": "k", "value": "v",
                           "time": 0.95})["status"] == "ok"
    # A leader whose clock is behind stamps an earlier time: log time never goes back.
    store.apply(4, {"session": "b", "seq": 1, "f": "put", "key": "k", "value": "w",
                    "time": 0.1})
    assert store.clock == 0.95
    # 2 s of log time later, a's last use (0.95) and b's (0.95) are more than 1 s ago.
    result = store.apply(5, {"session": "a", "seq": 2, "f": "append", "key": "k",
                             "value": "x", "time": 2.96})
    assert result == {"status": "session expired", "value": None}
    assert store.sessions == {} and store.data == {"k": "w"}


@pytest.mark.parametrize("restored", [False, True])
def test_only_the_idle_session_expires_whatever_order_they_registered_in(restored: bool
                                                                          ) -> None:
    """a registers first but stays in use; b, registered later, goes idle: b expires and
    a does not (also after a restart from a snapshot, whose table lists sessions by
    name, not by use)."""
    from dsys.kv import KVStore

    def op(session: str, seq: int, f: str, time: float) -> dict[str, object]:
        return {"session": session, "seq": seq, "f": f, "key": "k", "value": session,
                "time": time}

    store = KVStore(session_timeout=1.0)
    store.apply(1, op("a", 0, "register", 0.0))
    store.apply(2, op("b", 0, "register", 0.1))
    store.apply(3, op("a", 1, "put", 0.9))
    if restored:
        fresh = KVStore(session_timeout=1.0)
        fresh.restore(3, store.snapshot())
        store = fresh
    # At 1.5: b was last used at 0.1 (idle 1.4 s), a at 0.9 (idle 0.6 s).
    assert store.apply(4, op("a", 2, "append", 1.5))["status"] == "ok"
    assert list(store.sessions) == ["a"]
    assert store.apply(5, op("b", 1, "append", 1.5))["status"] == "session expired"
    assert store.data == {"k": "aa"}


def test_a_read_right_after_a_snapshot_at_the_commit_index_is_served() -> None:
    """A snapshot at every apply (max_raft_state=1): the commit index is the snapshot's
    index, whose term ReadIndex must still see as this leader's."""
    from dsys.kv import KVClient

    sim = Simulation(seed=2)
    for name in ("s1", "s2", "s3"):
        sim.add_node(name, lambda: KVServer(max_raft_state=1))
    ops = iter([{"f": "put", "key": "x", "value": "1"}, {"f": "get", "key": "x", "value": None}])
    sim.add_client("c1", KVClient, workload=lambda rng: next(ops), ops=2)
    assert sim.run_until(all_done(2), timeout=5.0)
    assert [(e["type"], e["value"]) for e in sim.history if e["type"] != "invoke"] == [
        ("ok", "1"), ("ok", "1")]
