"""What the key-value tests share: a workload with values that tell operations apart, a
cluster builder with the Raft invariants on, and the judges."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from random import Random
from typing import Any

from dsys import Nemesis, Network, Simulation
from dsys.check import Verdict, check_linearizable
from dsys.kv import KVClient, KVServer
from dsys.raft import run_invariants

SERVERS = ("s1", "s2", "s3", "s4", "s5")
KEYS = ("x", "y", "z")


def workload(client: str, keys: tuple[str, ...] = KEYS, *, cas: bool = True
             ) -> Callable[[Random], dict[str, Any]]:
    """gets, puts, appends and cases; every value written is unique (``c2.7;``)."""
    numbers = itertools.count(1)

    def next_op(rng: Random) -> dict[str, Any]:
        n, key, draw = next(numbers), rng.choice(keys), rng.random()
        value = f"{client}.{n};"
        if draw < 0.35:
            return {"f": "get", "key": key, "value": None}
        if draw < 0.5:
            return {"f": "put", "key": key, "value": value}
        if draw < 0.6 and cas:
            return {"f": "cas", "key": key, "value": ["", value]}
        return {"f": "append", "key": key, "value": value}

    return next_op


def kv_cluster(seed: int, *, servers: tuple[str, ...] = SERVERS, clients: int = 4,
               ops: int = 40, network: Network | None = None,
               server: Callable[[], KVServer] = KVServer, check: bool = True,
               **client_options: Any) -> Simulation:
    sim = Simulation(seed=seed, network=network or Network())
    for name in servers:
        sim.add_node(name, server)
    for i in range(1, clients + 1):
        name = f"c{i}"
        sim.add_client(name, lambda: KVClient(**client_options), workload=workload(name),
                       ops=ops, think=0.01)
    if check:
        for invariant in run_invariants():
            sim.add_invariant(invariant)
    return sim


def hostile(sim: Simulation, until: float, faults: tuple[str, ...] = (
        "partition", "isolate", "oneway", "crash", "clock")) -> None:
    Nemesis(faults=faults, interval=(0.3, 1.0), duration=(0.2, 1.0), stop=until).install(sim)


def all_done(total: int) -> Callable[[Simulation], bool]:
    """A predicate: ``total`` operations have completed."""
    return lambda sim: sum(1 for e in sim.history if e["type"] != "invoke") >= total


def linearizable(sim: Simulation) -> None:
    result = check_linearizable(sim.history, "kv", max_steps=2_000_000)
    assert result.verdict is Verdict.LINEARIZABLE, (
        f"seed {sim.seed}: {result.verdict}\n{result.explain()}")


def applied_once(sim: Simulation) -> None:
    """No value written is in the store twice, on any running server."""
    for name, node in sim.nodes.items():
        store = getattr(node, "store", None)
        if store is None:
            continue
        for key, value in store.data.items():
            parts = [p for p in value.split(";") if p]
            assert len(parts) == len(set(parts)), (
                f"seed {sim.seed}: {name} holds a write twice in {key}: {value!r}")


def replicas_agree(sim: Simulation) -> None:
    """Servers that applied the same log prefix hold the same state: data and sessions."""
    by_index: dict[int, tuple[str, Any]] = {}
    for name, node in sorted(sim.nodes.items()):
        store = getattr(node, "store", None)
        if store is None:
            continue
        state = store.snapshot()
        seen = by_index.setdefault(store.applied_index, (name, state))
        assert seen[1] == state, (
            f"seed {sim.seed}: {seen[0]} and {name} applied through index "
            f"{store.applied_index} but hold different states:\n{seen[1]}\n{state}")


def no_session_expired(sim: Simulation) -> None:
    """No client was told its session expired (the runs are shorter than the timeout)."""
    for e in sim.trace:
        if e.kind == "send" and type(e.data.get("msg")).__name__ == "KVReply" \
                and e.data["msg"].status == "session expired":
            raise AssertionError(f"seed {sim.seed}: t={e.time:.6f} {e.node} told "
                                 f"{e.data['to']} its session expired")
