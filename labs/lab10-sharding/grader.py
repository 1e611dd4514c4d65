"""Grader of lab 10: shard migration in a sharded key-value store (MIT 6.5840 shardkv).

Every test builds a shard controller (the reference ``ShardController``: ``m1`` to
``m3``), replica groups of the student's ``ShardKVServer`` (``g1``: ``a1``-``a3``,
``g2``: ``b1``-``b3``, ``g3``: ``d1``-``d3``; each on the reference Raft), clients of the
student's ``ShardKVClient`` (``c1``, ``c2``...) running gets, puts and appends whose
values are unique (``'c2.7;'``: client c2's 7th operation), and an administrator (the
reference ``ControllerClient``) that joins, leaves and moves groups and shards. Then it
puts the system under the test's faults, and judges:

(Raft's own invariants are not checked here: the groups use the reference Raft, which
``tests/raft`` checks.) At the end, after a final phase in which a fresh client reads every key:

* every operation completed (``ok``, or ``info`` only while faults were on), and every
  final read is ``ok``;
* the history is linearizable per key (``dsys.check``, model ``kv``, a budget of search
  steps: a verdict replays exactly); since every value written is unique, an append
  applied twice or a write lost shows here;
* no shard is served by two groups in one configuration (the ``serve`` notes,
  :func:`dsys.scaling.sharding.check_one_group_per_shard`);
* each server moves through the configurations in order: its ``config`` notes never jump
  ahead by more than one.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from random import Random
from typing import Any

import attrs

from dsys import Nemesis, Network, Simulation
from dsys.check import Verdict
from dsys.labs import Trial, graded
from dsys.scaling.sharding import (
    ControllerClient,
    ShardController,
    check_linearizable_per_key,
    check_one_group_per_shard,
    shard_of,
)

CONTROLLERS = ("m1", "m2", "m3")
GROUPS = {"g1": ("a1", "a2", "a3"), "g2": ("b1", "b2", "b3"), "g3": ("d1", "d2", "d3")}
KEYS = tuple(f"k{i}" for i in range(10))

#: Virtual seconds the clients get, after the last fault, to finish.
LIVENESS_TIMEOUT = 20.0

#: The note a server makes when it applies a configuration (``self.note(CONFIG_NOTE,
#: gid=..., num=...)``), and the one it makes when it applies a client's operation.
CONFIG_NOTE = "shard config"
SERVE_NOTE = "serve"

#: The linearizability checker's budget, in search steps (not seconds: a verdict replays).
CHECK_BUDGET = 2_000_000


def workload(client: str, *, gets: float = 0.4) -> Callable[[Random], dict[str, Any]]:
    """gets, puts and appends on :data:`KEYS`, each value written unique."""
    numbers = itertools.count(1)

    def next_op(rng: Random) -> dict[str, Any]:
        n, key, draw = next(numbers), rng.choice(KEYS), rng.random()
        if draw < gets:
            return {"f": "get", "key": key, "value": None}
        f = "put" if draw < gets + 0.1 else "append"
        return {"f": f, "key": key, "value": f"{client}.{n};"}

    return next_op


def appends(client: str, keys: Sequence[str]) -> Callable[[Random], dict[str, Any]]:
    """Appends only, on ``keys``, each value unique."""
    numbers = itertools.count(1)
    return lambda rng: {"f": "append", "key": rng.choice(keys),
                        "value": f"{client}.{next(numbers)};"}


def script(ops: Sequence[dict[str, Any]]) -> Callable[[Random], dict[str, Any]]:
    queue = iter(ops)
    return lambda rng: next(queue)


def join(*gids: str) -> dict[str, Any]:
    return {"f": "join", "value": {gid: list(GROUPS[gid]) for gid in gids}}


def leave(*gids: str) -> dict[str, Any]:
    return {"f": "leave", "value": list(gids)}


def move(shard: int, gid: str) -> dict[str, Any]:
    return {"f": "move", "value": [shard, gid]}


@attrs.define
class Run:
    sim: Simulation
    trial: Trial
    expected: int = 0  # operations (all clients and administrators) to complete

    def add_client(self, name: str, workload: Callable[[Random], dict[str, Any]], ops: int,
                   *, start: float | None = None, think: float = 0.01) -> None:
        impl, controllers = self.trial.impl, CONTROLLERS
        self.sim.add_client(name, lambda: impl.ShardKVClient(controllers=controllers),
                            workload=workload, ops=ops, think=think, start=start)
        self.expected += ops

    def admin(self, changes: list[dict[str, Any]], *, start: float | None = None,
              every: float = 0.4, name: str = "admin") -> None:
        self.sim.add_client(name, lambda: ControllerClient(controllers=CONTROLLERS),
                            workload=script(changes), ops=len(changes), think=every,
                            start=start)
        self.expected += len(changes)


def build(trial: Trial, *, groups: Sequence[str] = ("g1", "g2", "g3"),
          first: Sequence[str] = ("g1",), network: Network | None = None,
          max_raft_state: int | None = 4000) -> Run:
    """The controller, the groups, Raft's invariants, and ``first`` joined at once."""
    sim = trial.simulation(network=network or Network())
    impl = trial.impl
    for name in CONTROLLERS:
        sim.add_node(name, lambda: ShardController(members=CONTROLLERS))
    for gid in groups:
        members = GROUPS[gid]
        for name in members:
            sim.add_node(name, functools.partial(impl.ShardKVServer, gid, members,
                                                 controllers=CONTROLLERS,
                                                 max_raft_state=max_raft_state))
    run = Run(sim, trial)
    if first:
        run.admin([join(*first)], start=0.0, name="setup")
    return run


def done(sim: Simulation) -> int:
    return sum(1 for e in sim.history if e["type"] != "invoke")


def complete(run: Run, *, timeout: float = LIVENESS_TIMEOUT) -> None:
    """Every client and administrator finishes its operations."""
    if not run.trial.run_until(run.sim, lambda s: done(s) >= run.expected, timeout=timeout):
        stuck = sorted({e["client"] for e in run.sim.history if e["type"] == "invoke"}
                       - set())
        raise AssertionError(
            f"only {done(run.sim)} of {run.expected} operations completed by t="
            f"{run.sim.now:.3f} s (clients: {', '.join(stuck)}): is a group stuck in a "
            "configuration, a shard never pulled, or a client asking the wrong group?")


def judge(run: Run, *, all_ok: bool = False, final_read: bool = True) -> None:
    """The final reads, then the checks of the module docstring."""
    sim = run.sim
    complete(run)
    if final_read:
        run.add_client("reader", script([{"f": "get", "key": k, "value": None}
                                         for k in KEYS]), len(KEYS), start=sim.now)
        complete(run)
        reads = [e for e in sim.history if e.get("client") == "reader" and e["type"] != "invoke"]
        assert all(e["type"] == "ok" for e in reads), (
            f"a final read (no faults any more) did not complete ok: {reads}")
    history = [e for e in sim.history if "key" in e]
    if all_ok:
        bad = [e for e in history if e["type"] not in ("invoke", "ok")]
        assert not bad, f"with no faults every operation completes ok; not {bad[0]}"
    result = check_linearizable_per_key(history, max_steps=CHECK_BUDGET)
    if result.verdict is not Verdict.LINEARIZABLE:
        raise AssertionError(f"the history is {result.verdict.value}:\n{result.explain()}")
    one = check_one_group_per_shard(sim.trace)
    assert one.ok, one.explain()
    # Per server, the latest configuration it noted (0 at first; None after it restored a
    # snapshot, which may be any number of configurations ahead).
    last: dict[str, int | None] = {}
    for event in sim.trace:
        if event.kind != "note":
            continue
        if event.data.get("event") == "restore":
            last[event.node] = None
        elif event.data.get("event") == CONFIG_NOTE:
            num, before = int(event.data["num"]), last.get(event.node, 0)
            if before is not None and num > before + 1:
                raise AssertionError(
                    f"t={event.time:.6f}: {event.node} went from configuration {before} "
                    f"to {num}, skipping one")
            last[event.node] = max(num, before or 0)


def clients(run: Run, count: int, ops: int, *, start: float = 0.5,
            think: float = 0.01) -> None:
    for i in range(1, count + 1):
        run.add_client(f"c{i}", workload(f"c{i}"), ops, start=start, think=think)


def settled(sim: Simulation, gid: str, num: int) -> bool:
    """Every running server of ``gid`` noted configuration ``num``."""
    seen = {e.node for e in sim.trace if e.kind == "note" and e.data.get("event") == CONFIG_NOTE
            and e.data.get("num") == num}
    return all(name in seen for name in GROUPS[gid] if sim.is_up(name))


# ----- the graded tests ----------------------------------------------------------------------


@graded(points=8, runs=3)
def static_shards(trial: Trial) -> None:
    """Two groups, no change, no fault: every operation completes ok, linearizably."""
    run = build(trial, groups=("g1", "g2"), first=("g1", "g2"))
    clients(run, 2, 15)
    judge(run, all_ok=True)


@graded(points=10, runs=3)
def join_then_leave(trial: Trial) -> None:
    """g2 and g3 join, then g1 leaves, while clients run: every operation completes ok."""
    run = build(trial)
    clients(run, 3, 20, think=0.05)  # about 1.5 s of operations, across the changes
    run.admin([join("g2"), join("g3"), leave("g1")], start=0.7, every=0.3)
    judge(run, all_ok=True)


@graded(points=10, runs=3)
def a_shard_in_flight_is_served_by_nobody(trial: Trial) -> None:
    """A shard moves while its old and new groups cannot talk: neither serves it until it
    has arrived, and a client with an old configuration is sent to the controller."""
    run = build(trial, groups=("g1", "g2"), first=("g1", "g2"))
    sim = run.sim
    key = trial.rng.choice(KEYS[:5])
    run.add_client("c1", script([{"f": "append", "key": key, "value": "c1.1;"},
                                 {"f": "append", "key": key, "value": "c1.2;"},
                                 {"f": "get", "key": key, "value": None}]), 3, think=1.0,
                   start=0.5)
    assert trial.run_until(sim, lambda s: done(s) >= 2, timeout=5.0), "the first append"
    config = sim.history[1]["value"]  # what the setup's join made
    owner = config["shards"][shard_of(key)]
    other = "g2" if owner == "g1" else "g1"
    for a, b in itertools.product(GROUPS[owner], GROUPS[other]):
        sim.block(a, b)
        sim.block(b, a)
    run.admin([move(shard_of(key), other)], start=sim.now + 0.1)
    sim.after(2.5, sim.heal)
    judge(run)


@graded(points=10, runs=3)
def a_retried_append_is_applied_once_across_a_move(trial: Trial) -> None:
    """An append is applied but its answers are lost; its shard moves; the client's retry
    reaches the new group, which must know it was done (the session table moved too)."""
    run = build(trial, groups=("g1", "g2"))
    sim = run.sim
    assert trial.run_until(sim, lambda s: done(s) >= 1, timeout=5.0)
    key = trial.rng.choice(KEYS)
    run.add_client("c1", script([{"f": "append", "key": key, "value": "c1.1;"},
                                 {"f": "get", "key": key, "value": None}]), 2,
                   start=sim.now)
    for name in GROUPS["g1"]:
        sim.block(name, "c1")
    assert trial.run_until(sim, lambda s: any(
        e.kind == "note" and e.data.get("event") == SERVE_NOTE for e in s.trace),
        timeout=3.0)
    run.admin([join("g2"), move(shard_of(key), "g2")], start=sim.now + 0.05, every=0.1)
    judge(run)


@graded(points=8, runs=3)
def shards_not_moving_are_served_during_a_move(trial: Trial) -> None:
    """While one shard cannot arrive (its old group is cut off), the other shards of the
    new group are served without waiting."""
    run = build(trial, groups=("g1", "g2"), first=("g1", "g2"))
    sim = run.sim
    assert trial.run_until(sim, lambda s: done(s) >= 1, timeout=5.0)
    config = sim.history[1]["value"]
    moving = config["shards"].index("g1")
    staying = [k for k in KEYS if config["shards"][shard_of(k)] == "g2"]
    sim.partition(GROUPS["g1"], GROUPS["g2"] + CONTROLLERS)
    run.admin([move(moving, "g2")], start=sim.now)
    assert trial.run_until(sim, lambda s: settled(s, "g2", 2), timeout=5.0), (
        "g2 did not move to configuration 2 (it can reach the controller)")
    start = sim.now
    run.add_client("c1", script([{"f": "append", "key": k, "value": f"c1.{i};"}
                                 for i, k in enumerate(staying, 1)]), len(staying),
                   start=start)
    ok = trial.run_until(sim, lambda s: done(s) >= run.expected, timeout=0.3 * len(staying))
    assert ok, (f"g2's own shards were not all served within {0.3 * len(staying):.1f} s "
                "while another shard was on its way: are requests blocked by the move?")
    sim.heal()
    judge(run)


@graded(points=12, runs=3)
def snapshots_and_restarts(trial: Trial) -> None:
    """Logs kept short by snapshots through many changes; then every group server
    crashes, losing what it had not synced, and restarts: no shard is lost."""
    run = build(trial, max_raft_state=1000)
    sim = run.sim
    clients(run, 2, 20)
    run.admin([join("g2"), join("g3"), leave("g1"), move(0, "g3"), join("g1"),
               leave("g2")], start=1.0, every=0.3)
    complete(run)
    for name in [n for g in GROUPS.values() for n in g]:
        sim.crash(name, unsynced="lost")
        sim.restart(name)
    judge(run)


@graded(points=10, runs=3)
def missing_change(trial: Trial) -> None:
    """One server of each group is down while the configuration changes several times;
    it comes back and catches up; the groups serve meanwhile."""
    run = build(trial, max_raft_state=1500)
    sim = run.sim
    clients(run, 3, 20)
    down = [trial.rng.choice(GROUPS[g]) for g in GROUPS]
    for name in down:
        sim.at(0.8, sim.crash, name)
        sim.at(3.5, sim.restart, name)
    run.admin([join("g2"), join("g3"), leave("g1"), join("g1"), move(3, "g1")], start=1.0,
              every=0.3)
    judge(run)


@graded(points=14, runs=4)
def changes_under_partitions_and_crashes(trial: Trial) -> None:
    """Two administrators change the configuration at once while the nemesis partitions,
    isolates and crashes servers (of groups and of the controller)."""
    run = build(trial, network=Network(drop=0.02))
    clients(run, 3, 20)
    run.admin([join("g2"), leave("g1"), move(3, "g2"), join("g1")], start=1.0, every=0.3)
    run.admin([join("g3"), move(7, "g1"), leave("g3")], start=1.1, every=0.35,
              name="admin2")
    Nemesis(faults=("partition", "isolate", "crash"), interval=(0.3, 1.0),
            duration=(0.2, 1.0), stop=5.0).install(run.sim)
    judge(run)


@graded(points=10, runs=3)
def unreliable_network(trial: Trial) -> None:
    """Messages lost, copied and reordered while shards move."""
    run = build(trial, network=Network(drop=0.1, duplicate=0.05, reorder=0.2))
    clients(run, 2, 15)
    run.admin([join("g2"), join("g3"), leave("g1"), move(5, "g1"), join("g1")], start=1.0,
              every=0.4)
    judge(run)


@graded(points=10, runs=3)
def a_lagging_replica_catches_up_on_a_move(trial: Trial) -> None:
    """A replica of the new group is cut off while a shard arrives and is written to; it
    catches up from the log (no snapshots), then leads: its copy of the shard must be the
    one the others hold."""
    run = build(trial, groups=("g1", "g2"), first=("g1", "g2"), max_raft_state=None)
    sim = run.sim
    assert trial.run_until(sim, lambda s: done(s) >= 1, timeout=5.0)
    config = sim.history[1]["value"]
    key = trial.rng.choice([k for k in KEYS if config["shards"][shard_of(k)] == "g1"])
    lagging = trial.rng.choice(GROUPS["g2"])
    sim.isolate(lagging)
    run.admin([move(shard_of(key), "g2")], start=sim.now)
    run.add_client("c1", script([{"f": "append", "key": key, "value": f"c1.{i};"}
                                 for i in range(1, 5)]), 4, start=sim.now + 0.5, think=0.05)
    complete(run)
    sim.heal()

    def caught_up(s: Simulation) -> bool:
        rafts = [s.node(n).raft for n in GROUPS["g2"]]  # type: ignore[union-attr]
        leader = next((r for r in rafts if r.is_leader), None)
        return leader is not None and all(r.last_applied >= leader.commit_index
                                          for r in rafts)

    assert trial.run_until(sim, caught_up, timeout=5.0), f"{lagging} did not catch up"
    leader = next(n for n in GROUPS["g2"] if sim.node(n).raft.is_leader)  # type: ignore
    if leader != lagging:
        sim.node(leader).raft.transfer_leadership(lagging)  # type: ignore[union-attr]
    assert trial.run_until(sim, lambda s: s.node(lagging).raft.is_leader,  # type: ignore
                           timeout=3.0), f"{lagging} did not take over"
    judge(run)


@graded(points=10, runs=3)
def writes_racing_a_move(trial: Trial) -> None:
    """Clients write to two shards while the administrator moves them back and forth
    between two groups, on a slow network: a write that was accepted just before its
    group applied the move must not be applied to the copy being handed off."""
    run = build(trial, groups=("g1", "g2"), first=("g1", "g2"),
                network=Network(latency=(0.01, 0.03)))
    sim = run.sim
    assert trial.run_until(sim, lambda s: done(s) >= 1, timeout=5.0)
    config = sim.history[1]["value"]
    moving = [config["shards"].index("g1"), config["shards"].index("g2")]
    keys = [k for k in KEYS if shard_of(k) in moving] or list(KEYS)
    for i in range(1, 4):
        run.add_client(f"c{i}", appends(f"c{i}", keys), 10, start=sim.now, think=0.02)
    changes = [move(moving[0], "g2"), move(moving[1], "g1"), move(moving[0], "g1"),
               move(moving[1], "g2")]
    run.admin(changes, start=sim.now + 0.1, every=0.2)
    judge(run)
