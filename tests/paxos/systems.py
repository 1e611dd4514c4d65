"""Multi-Paxos clusters for the tests: servers, clients with a key-value workload, the
Nemesis, and the judges (the checkers, linearizability, replicas that agree)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from random import Random
from typing import Any

from dsys import Network, Simulation
from dsys.check import Verdict, check_linearizable
from dsys.paxos import check_agreement, check_stability, check_validity
from dsys.paxos.multi import NOOP_VALUE, MultiPaxosClient, MultiPaxosServer
from dsys.sim import Nemesis

SERVERS = ("s1", "s2", "s3", "s4", "s5")
CLIENTS = ("c1", "c2", "c3")
OPS = 30  # per client
FAULTS_END = 4.0


def workload(rng: Random) -> dict[str, Any]:
    """get, put or append on one of two keys; written values are unique (for ``applied
    once``: a value twice in a key is a command applied twice)."""
    f = rng.choice(("get", "put", "append", "append"))
    key = rng.choice(("x", "y"))
    return {"f": f, "key": key, "value": None if f == "get" else f"{rng.getrandbits(24)};"}


def cluster(seed: int, server: Callable[[], MultiPaxosServer] = MultiPaxosServer,
            network: Network | None = None, servers: tuple[str, ...] = SERVERS,
            ops: int = OPS) -> Simulation:
    sim = Simulation(seed=seed, network=network or Network())
    for server_id in servers:
        sim.add_node(server_id, server)
    for client_id in CLIENTS:
        sim.add_client(client_id, functools.partial(MultiPaxosClient, servers), workload=workload,
                       ops=ops, think=(0.05, 0.2))
    return sim


def faulty(seed: int, server: Callable[[], MultiPaxosServer] = MultiPaxosServer) -> Simulation:
    """A cluster on a lossy, duplicating, reordering network, under the Nemesis until
    ``FAULTS_END``: partitions, isolation, one-way links, crashes with restarts."""
    sim = cluster(seed, server, Network(drop=0.05, duplicate=0.05, reorder=0.2))
    Nemesis(faults=("partition", "isolate", "oneway", "crash"), interval=(0.05, 0.3),
            duration=(0.1, 0.6), stop=FAULTS_END).install(sim)
    return sim


def finished(sim: Simulation) -> bool:
    """Every client completed every operation."""
    return sum(e["type"] != "invoke" for e in sim.history) >= len(CLIENTS) * OPS


def problems(sim: Simulation, servers: int = len(SERVERS)) -> list[str]:
    """What the checkers say is wrong with the run (empty: nothing)."""
    reports = (check_agreement(sim.trace), check_validity(sim.trace, noop=NOOP_VALUE),
               check_stability(sim.trace, acceptors=servers))
    found = [r.explain() for r in reports if not r]
    result = check_linearizable(sim.history, "kv", max_steps=2_000_000)
    if result.verdict is not Verdict.LINEARIZABLE:
        found.append(f"history {result.verdict}: {result.explain()}")
    return found


def replicas_agree(sim: Simulation) -> list[str]:
    """Servers that applied the same prefix of the log hold the same data; no written
    value is in a key twice (applied once)."""
    found = []
    by_prefix: dict[int, tuple[str, dict[str, str]]] = {}
    for name, node in sorted(sim.nodes.items()):
        if not isinstance(node, MultiPaxosServer):
            continue
        seen = by_prefix.setdefault(node.applied, (name, node.store.data))
        if seen[1] != node.store.data:
            found.append(f"{name} and {seen[0]} applied {node.applied} slots but differ")
        for key, value in node.store.data.items():
            parts = [p for p in value.split(";") if p]
            if len(parts) != len(set(parts)):
                found.append(f"{name} holds a write twice in {key}: {value!r}")
    return found
