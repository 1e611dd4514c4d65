"""The sharded key-value store, judged under faults while groups join, leave and move.

The main run (and its soak) checks Raft's invariants after every event; at the end of
every run the clients' history must be linearizable per key, no value may be in any
group's data twice, and no shard may be served by two groups in one configuration. The
scenarios are MIT 6.5840's shardkv tests (lab 5), in virtual time; each broken variant in
``broken.py`` must fail a judge.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from dsys import Network, Simulation
from dsys.scaling.sharding import ShardKVClient, ShardKVServer, shard_of
from dsys.scaling.sharding.store import SERVING
from tests.sharding import broken
from tests.sharding.systems import (
    CONTROLLERS,
    GROUPS,
    KEYS,
    admin,
    cluster,
    configs,
    finish,
    hostile,
    join,
    judge,
    kv_history,
    leave,
    move,
    stores,
)

#: Joins, leaves and moves that send every shard somewhere else at least once.
CHANGES = [join("g2"), join("g3"), leave("g1"), move(0, "g2"), join("g1"), leave("g3"),
           move(5, "g1")]


def oks(sim: Simulation) -> int:
    return sum(1 for e in kv_history(sim) if e["type"] == "ok")


def settled(sim: Simulation, num: int) -> bool:
    """Every group server is in configuration ``num`` with every shard settled."""
    return all(store.config.num == num and store.settled() for store in stores(sim).values())


def under_faults(seed: int, *, clients: int = 3, ops: int = 25, until: float = 6.0,
                 network: Network | None = None, server: Any = ShardKVServer,
                 client: Any = None, invariants: bool = False) -> Simulation:
    """The changes of CHANGES while the nemesis partitions, isolates and crashes; then
    every operation must complete and every group reach the last configuration."""
    options = {"client": client} if client is not None else {}
    sim = cluster(seed, clients=clients, ops=ops, server=server, invariants=invariants,
                  network=network or Network(drop=0.02), **options)
    admin(sim, CHANGES, every=0.4)
    hostile(sim, until)
    total = 1 + len(CHANGES) + clients * ops
    assert finish(sim, total, until + 30.0), f"seed {seed}: the clients did not finish"
    judge(sim)
    last = 1 + len(CHANGES)
    assert sim.run_until(lambda s: settled(s, last), timeout=10.0), (
        f"seed {seed}: groups stuck at {configs(sim)}")
    garbage_collected(sim)
    return sim


def garbage_collected(sim: Simulation) -> None:
    """Once settled, each shard is held by exactly one group (its owner), serving it: the
    groups that handed shards off deleted their copies."""
    holders: dict[int, set[str]] = {}
    for store in stores(sim).values():
        for number, shard in store.shards.items():
            assert shard.state == SERVING
            holders.setdefault(number, set()).add(store.gid)
    last = stores(sim)["a1"].config
    assert {n: sorted(g) for n, g in holders.items()} == {
        n: [gid] for n, gid in enumerate(last.shards)}, f"seed {sim.seed}: {holders}"


FEW = range(1)


@pytest.mark.parametrize("seed", FEW)
def test_linearizable_and_one_group_per_shard_while_shards_move_under_faults(
        seed: int) -> None:
    sim = under_faults(seed, invariants=True)  # Raft's invariants after every event, too
    assert oks(sim) >= 3 * 25 // 2, f"seed {seed}: only {oks(sim)} operations ok"
    pulls = sum(1 for e in sim.trace if e.kind == "send"
                and type(e.data.get("msg")).__name__ == "PullShardReply")
    assert pulls > 0, "shards moved between groups"


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(1, 300))
def test_under_faults_soak(seed: int) -> None:
    under_faults(seed, invariants=True)


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(100))
def test_unreliable_network_under_faults_soak(seed: int) -> None:
    under_faults(seed, network=Network(drop=0.1, duplicate=0.05, reorder=0.2))


# ----- the MIT 6.5840 shardkv scenarios --------------------------------------------------


def test_static_shards_a_dead_group_does_not_stop_the_others() -> None:
    """Two groups; all of g2's servers crash: operations on g1's shards still complete
    while g2 is down, those on g2's block until it returns."""
    sim = cluster(1, groups=("g1", "g2"), clients=0, first=("g1", "g2"), start=0.0)
    assert sim.run_until(lambda s: settled(s, 1), timeout=5.0)
    for name in GROUPS["g2"]:
        sim.crash(name)
    config = stores(sim)["a1"].config
    mine = [k for k in KEYS if config.shards[shard_of(k)] == "g1"]
    theirs = [k for k in KEYS if config.shards[shard_of(k)] == "g2"]
    assert mine and theirs
    plan = iter([{"f": "append", "key": k, "value": f"{k};"} for k in mine + theirs])
    sim.add_client("c1", lambda: ShardKVClient(controllers=CONTROLLERS, op_timeout=1.0),
                   workload=lambda rng: next(plan), ops=len(mine) + len(theirs))
    sim.run(until=sim.now + 1.0 * len(mine) + 3.0)
    done = [(e["key"], e["type"]) for e in kv_history(sim) if e["type"] != "invoke"]
    assert done[:len(mine)] == [(k, "ok") for k in mine], done
    assert ("info" in {t for _, t in done[len(mine):]}), "g2's keys blocked while it was down"
    for name in GROUPS["g2"]:
        sim.restart(name)
    reads = iter([{"f": "get", "key": k, "value": None} for k in KEYS])
    sim.add_client("c2", lambda: ShardKVClient(controllers=CONTROLLERS),
                   workload=lambda rng: next(reads), ops=len(KEYS))
    assert sim.run_until(lambda s: sum(1 for e in s.history if e.get("client") == "c2"
                                       and e["type"] == "ok") == len(KEYS), timeout=10.0)
    judge(sim)


def join_then_leave(client: Any = ShardKVClient) -> Simulation:
    """g1 alone, then g2 and g3 join, then g1 leaves, while clients append."""
    sim = cluster(2, clients=3, ops=40, client=client)
    admin(sim, [join("g2"), join("g3"), leave("g1")], every=0.3)
    assert finish(sim, 1 + 3 + 120, 20.0)
    judge(sim)
    return sim


def test_join_then_leave_every_operation_completes() -> None:
    """No faults, so every operation completes ok, and every shard ends in one group."""
    sim = join_then_leave()
    assert oks(sim) == 120, "every operation ok when nothing fails"
    assert sim.run_until(lambda s: settled(s, 4), timeout=5.0), configs(sim)
    assert stores(sim)["a1"].shards == {}, "g1 left: it holds nothing (garbage collected)"


def test_snapshots_then_every_server_restarts() -> None:
    """Logs bounded by snapshots (max_raft_state=1000) through many changes; then every
    server of every group crashes (unsynced writes lost) and restarts: the data is all
    there (reads after the restart are judged with the rest)."""
    sim = cluster(3, clients=2, ops=25, max_raft_state=1000)
    admin(sim, CHANGES, every=0.3)
    assert finish(sim, 1 + len(CHANGES) + 50, 20.0)
    assert all(node.raft.snapshot_index > 0 for node in stores_nodes(sim)), "snapshots taken"
    for name in [n for g in GROUPS.values() for n in g]:
        sim.crash(name, unsynced="lost")
        sim.restart(name)
    reads = iter([{"f": "get", "key": k, "value": None} for k in KEYS])
    sim.add_client("r", lambda: ShardKVClient(controllers=CONTROLLERS),
                   workload=lambda rng: next(reads), ops=len(KEYS))
    assert finish(sim, 1 + len(CHANGES) + 50 + len(KEYS), 15.0)
    judge(sim)
    assert any(e["value"] for e in kv_history(sim) if e.get("client") == "r"
               and e["type"] == "ok"), "the data survived the restarts"


def stores_nodes(sim: Simulation) -> list[ShardKVServer]:
    return [n for n in sim.nodes.values() if isinstance(n, ShardKVServer)]


def test_missing_change_a_server_down_during_changes_catches_up() -> None:
    """One server of each group is down while the configuration changes several times;
    when it returns it catches up (from its group's log or a snapshot), and the groups
    keep serving meanwhile."""
    sim = cluster(4, clients=3, ops=40, max_raft_state=1500)
    for name in ("a3", "b3", "d3"):
        sim.at(0.8, sim.crash, name)
        sim.at(4.0, sim.restart, name)
    admin(sim, CHANGES, every=0.3)
    assert finish(sim, 1 + len(CHANGES) + 120, 25.0)
    judge(sim)
    last = 1 + len(CHANGES)
    assert sim.run_until(lambda s: settled(s, last), timeout=10.0), configs(sim)
    sim.run(until=sim.now + 1.0)  # the followers learn the last commit index
    by_group: dict[str, list[dict[int, Any]]] = {}
    for _, store in sorted(stores(sim).items()):
        by_group.setdefault(store.gid, []).append({i: (s.state, s.data) for i, s in
                                                    store.shards.items()})
    for gid, replicas in by_group.items():
        assert all(r == replicas[0] for r in replicas), f"{gid}'s replicas differ"


def test_concurrent_changes_from_two_administrators_under_faults() -> None:
    """Two administrators change the configuration at the same time while the nemesis
    crashes and partitions: every change is applied once, in one order, and the store
    stays linearizable."""
    sim = cluster(5, clients=3, ops=25, network=Network(drop=0.02))
    admin(sim, [join("g2"), leave("g1"), move(3, "g2"), join("g1")], every=0.3)
    admin(sim, [join("g3"), move(7, "g1"), leave("g3")], every=0.35, name="admin2",
          start=1.1)
    hostile(sim, 5.0)
    assert finish(sim, 1 + 4 + 3 + 75, 35.0)
    judge(sim)
    oks_changes = sum(1 for e in sim.history if e.get("client", "").startswith(("admin", "setup"))
                      and e["type"] == "ok")
    controller = sim.node("m1").store  # type: ignore[union-attr]
    assert len(controller.configs) == 1 + oks_changes  # configuration 0, then one each
    assert sim.run_until(lambda s: settled(s, oks_changes), timeout=10.0), configs(sim)


def test_unreliable_network_with_changes() -> None:
    """Messages dropped, duplicated and reordered while shards move."""
    under_faults(6, clients=2, ops=12, network=Network(drop=0.1, duplicate=0.05, reorder=0.2))


def test_shards_not_moving_keep_being_served_during_a_migration() -> None:
    """g2 gets one shard of g1's, but g1 is partitioned from g2, so that shard cannot
    arrive: operations on g2's other shards still complete at once."""
    sim = cluster(7, groups=("g1", "g2"), clients=0, first=("g1", "g2"), start=0.0)
    assert sim.run_until(lambda s: settled(s, 1), timeout=5.0)
    config = stores(sim)["a1"].config
    moving = config.shards_of("g1")[0]
    staying = [k for k in KEYS if config.shards[shard_of(k)] == "g2"]
    sim.partition(GROUPS["g1"], GROUPS["g2"] + CONTROLLERS)
    admin(sim, [move(moving, "g2")], start=sim.now)
    assert sim.run_until(lambda s: stores(s)["b1"].config.num == 2, timeout=5.0)
    assert stores(sim)["b1"].states()[moving] == "pulling"
    plan = iter([{"f": "append", "key": k, "value": f"{k};"} for k in staying])
    sim.add_client("c1", lambda: ShardKVClient(controllers=CONTROLLERS),
                   workload=lambda rng: next(plan), ops=len(staying))
    start = sim.now
    assert sim.run_until(lambda s: sum(1 for e in kv_history(s) if e["type"] == "ok")
                         == len(staying), timeout=2.0), "shards not moving were served"
    assert stores(sim)["b1"].states()[moving] == "pulling", "the moving shard is still away"
    assert sim.now - start < 0.5 * len(staying)
    sim.heal()
    assert sim.run_until(lambda s: settled(s, 2), timeout=5.0)
    judge(sim)


# ----- broken variants ---------------------------------------------------------------------


def caught(seeds: range = range(3), **kw: Any) -> bool:
    """True if some seed's run fails a judge (or does not finish)."""
    for seed in seeds:
        try:
            under_faults(seed, invariants=False, **kw)
        except AssertionError:
            return True
    return False


@pytest.mark.parametrize("name", ["KeepsServingAfterHandoff",
                                  "SkipsConfigurations",
                                  "InstallsOutsideTheLog", "AcceptsForeignKeys"])
def test_each_classic_server_bug_is_caught(name: str) -> None:
    assert caught(server=getattr(broken, name)), f"{name} passed every seed"


def test_a_client_that_never_asks_the_controller_again_is_caught() -> None:
    """It keeps asking the group that lost the key's shard: it never finishes its ops."""
    with pytest.raises(AssertionError):
        assert oks(join_then_leave(broken.NeverRequeries)) == 120


def retried_across_a_move(server: Any = ShardKVServer) -> Simulation:
    """An append is applied by g1 but every answer from g1 is lost; its shard then moves
    to g2, and the client's retry reaches g2: it must not be applied a second time."""
    sim = cluster(9, groups=("g1", "g2"), clients=0, server=server)
    assert sim.run_until(lambda s: settled(s, 1), timeout=5.0)
    shard = shard_of("k0")
    ops = iter([{"f": "append", "key": "k0", "value": "c1.1;"},
                {"f": "get", "key": "k0", "value": None}])
    sim.add_client("c1", lambda: ShardKVClient(controllers=CONTROLLERS, op_timeout=10.0),
                   workload=lambda rng: next(ops), ops=2)
    for name in GROUPS["g1"]:
        sim.block(name, "c1")
    assert sim.run_until(lambda s: any(store.shards[shard].data.get("k0")
                                       for store in stores(s).values()
                                       if shard in store.shards), timeout=3.0)
    admin(sim, [join("g2"), move(shard, "g2")], start=sim.now, every=0.1)
    assert finish(sim, 1 + 2 + 2, 15.0)
    return sim


def test_a_retried_append_is_applied_once_across_a_move() -> None:
    sim = retried_across_a_move()
    judge(sim)
    assert [e["value"] for e in kv_history(sim) if e["type"] == "ok"] == ["c1.1;", "c1.1;"]


def test_moving_a_shard_without_its_session_table_is_caught() -> None:
    sim = retried_across_a_move(broken.MigratesWithoutSessions)
    with pytest.raises(AssertionError, match=r"not-linearizable|twice"):
        judge(sim)


def read_while_in_flight(server: Any = ShardKVServer) -> Simulation:
    """A key is written through g1; its shard moves to g2 while g1 and g2 cannot talk, so
    the shard is in flight; a client reads the key meanwhile, then the network heals."""
    sim = cluster(10, groups=("g1", "g2"), clients=0, first=("g1", "g2"), start=0.0,
                  server=server)
    assert sim.run_until(lambda s: settled(s, 1), timeout=5.0)
    key = next(k for k in KEYS if stores(sim)["a1"].config.shards[shard_of(k)] == "g1")
    ops = iter([{"f": "append", "key": key, "value": "c1.1;"},
                {"f": "get", "key": key, "value": None}])
    sim.add_client("c1", lambda: ShardKVClient(controllers=CONTROLLERS, op_timeout=10.0),
                   workload=lambda rng: next(ops), ops=2, think=1.0)
    assert sim.run_until(lambda s: len(kv_history(s)) == 2, timeout=3.0)
    for a, b in itertools.product(GROUPS["g1"], GROUPS["g2"]):  # both still reach the rest
        sim.block(a, b)
        sim.block(b, a)
    admin(sim, [move(shard_of(key), "g2")], start=sim.now)
    sim.after(2.0, sim.heal)
    assert finish(sim, 1 + 1 + 2, 10.0)
    return sim


def test_a_shard_in_flight_is_served_by_nobody() -> None:
    sim = read_while_in_flight()
    judge(sim)
    assert [e["value"] for e in kv_history(sim) if e["type"] == "ok"] == ["c1.1;", "c1.1;"]


def test_serving_a_shard_before_it_arrived_is_caught() -> None:
    sim = read_while_in_flight(broken.ServesBeforeArrival)
    with pytest.raises(AssertionError, match="not-linearizable"):
        judge(sim)
