"""What the sharding tests share: a cluster of a controller and replica groups, clients
with unique values, an administrator running joins/leaves/moves, and the judges."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from random import Random
from typing import Any

from dsys import Nemesis, Network, Simulation
from dsys.check import Verdict
from dsys.raft import run_invariants
from dsys.scaling.sharding import (
    ControllerClient,
    ShardController,
    ShardKVClient,
    ShardKVServer,
    check_linearizable_per_key,
    check_one_group_per_shard,
    check_writes_applied_once,
)

CONTROLLERS = ("m1", "m2", "m3")
GROUPS = {"g1": ("a1", "a2", "a3"), "g2": ("b1", "b2", "b3"), "g3": ("d1", "d2", "d3")}
KEYS = tuple(f"k{i}" for i in range(10))

ServerFactory = Callable[..., ShardKVServer]
ClientFactory = Callable[..., ShardKVClient]


def workload(client: str, keys: tuple[str, ...] = KEYS, *, gets: float = 0.4
             ) -> Callable[[Random], dict[str, Any]]:
    """gets, puts and appends; every value written is unique (``c2.7;``), so a write
    applied twice shows in the data."""
    numbers = itertools.count(1)

    def next_op(rng: Random) -> dict[str, Any]:
        n, key, draw = next(numbers), rng.choice(keys), rng.random()
        if draw < gets:
            return {"f": "get", "key": key, "value": None}
        if draw < gets + 0.1:
            return {"f": "put", "key": key, "value": f"{client}.{n};"}
        return {"f": "append", "key": key, "value": f"{client}.{n};"}

    return next_op


def join(*gids: str) -> dict[str, Any]:
    return {"f": "join", "value": {gid: list(GROUPS[gid]) for gid in gids}}


def leave(*gids: str) -> dict[str, Any]:
    return {"f": "leave", "value": list(gids)}


def move(shard: int, gid: str) -> dict[str, Any]:
    return {"f": "move", "value": [shard, gid]}


def cluster(seed: int, *, groups: Iterable[str] = ("g1", "g2", "g3"), clients: int = 3,
            ops: int = 40, network: Network | None = None,
            server: ServerFactory = ShardKVServer, client: ClientFactory = ShardKVClient,
            max_raft_state: int | None = 3000, invariants: bool = False,
            first: Iterable[str] = ("g1",), start: float = 0.5) -> Simulation:
    """A controller, the named groups, and ``clients`` clients starting at ``start``.
    The groups in ``first`` are joined (by a setup administrator) at the beginning."""
    sim = Simulation(seed=seed, network=network or Network())
    for name in CONTROLLERS:
        sim.add_node(name, lambda: ShardController(members=CONTROLLERS))
    for gid in groups:
        members = GROUPS[gid]
        for name in members:
            sim.add_node(name, lambda gid=gid, members=members: server(
                gid, members, controllers=CONTROLLERS, max_raft_state=max_raft_state))
    first = tuple(first)
    if first:
        setup = iter([join(*first)])
        sim.add_client("setup", lambda: ControllerClient(controllers=CONTROLLERS),
                       workload=lambda rng: next(setup), ops=1)
    for i in range(1, clients + 1):
        name = f"c{i}"
        sim.add_client(name, lambda: client(controllers=CONTROLLERS),
                       workload=workload(name), ops=ops, think=0.01, start=start)
    if invariants:
        for invariant in run_invariants():
            sim.add_invariant(invariant)
    return sim


def admin(sim: Simulation, changes: list[dict[str, Any]], *, start: float = 1.0,
          every: float = 0.5, name: str = "admin") -> None:
    """An administrator that runs ``changes`` one after the other, ``every`` seconds apart."""
    plan = iter(changes)
    sim.add_client(name, lambda: ControllerClient(controllers=CONTROLLERS),
                   workload=lambda rng: next(plan), ops=len(changes), think=every,
                   start=start)


def hostile(sim: Simulation, until: float, faults: tuple[str, ...] = (
        "partition", "isolate", "crash")) -> Nemesis:
    return Nemesis(faults=faults, interval=(0.3, 1.0), duration=(0.2, 1.0),
                   stop=until).install(sim)


def completed(sim: Simulation, clients: Iterable[str] | None = None) -> int:
    """Operations completed by the named clients (default: the key-value clients)."""
    names = set(clients) if clients is not None else {
        c for c in sim.client_ids if c.startswith("c")}
    return sum(1 for e in sim.history if e["type"] != "invoke" and e.get("client") in names)


def finish(sim: Simulation, total: int, timeout: float) -> bool:
    """Run until every client (key-value and administrators) has completed its ops."""
    return sim.run_until(lambda s: sum(1 for e in s.history if e["type"] != "invoke")
                         >= total, timeout=timeout)


def kv_history(sim: Simulation) -> list[dict[str, Any]]:
    """The key-value clients' part of the history (administrators' operations have no key)."""
    return [e for e in sim.history if "key" in e]


def stores(sim: Simulation) -> Mapping[str, Any]:
    return {name: node.store for name, node in sim.nodes.items()
            if isinstance(node, ShardKVServer)}


def judge(sim: Simulation) -> None:
    """Linearizable per key, every write applied once, one group per shard."""
    result = check_linearizable_per_key(kv_history(sim))
    assert result.verdict is Verdict.LINEARIZABLE, (
        f"seed {sim.seed}: {result.verdict}\n{result.explain()}")
    once = check_writes_applied_once(stores(sim))
    assert once.ok, f"seed {sim.seed}: {once.explain()}"
    one = check_one_group_per_shard(sim.trace)
    assert one.ok, f"seed {sim.seed}: {one.explain()}"


def configs(sim: Simulation) -> dict[str, int]:
    """The configuration number each running group server is in."""
    return {name: store.config.num for name, store in stores(sim).items()}
