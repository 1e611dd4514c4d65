"""Simulated primary-backup and chain clusters, a workload for them, and a measurement.

* :func:`pb_cluster`: a view service, servers and key-value clients of
  :mod:`dsys.replication.primary_backup` in a :class:`~dsys.Simulation`;
* :func:`chain_cluster`: a master, servers and clients of :mod:`dsys.replication.chain`
  (``craq=True`` for CRAQ reads);
* :func:`workload`: gets, puts and appends whose written values are all distinct, so a
  history says which write a read saw;
* :func:`finished`: a predicate for ``sim.run_until``: so many operations completed;
* :func:`measure`: one fixed workload against a cluster of either design, returning
  throughput and latency percentiles (:class:`Measurement`), for ``bench/replication.py``
  and the docs.

(These run the protocols in the simulator, so they live here: a protocol package never
imports the simulator.)

Example:
    >>> from dsys.demos.pb_chain import finished, pb_cluster
    >>> from dsys.check import check_linearizable
    >>> sim = pb_cluster(3, clients=2, ops=10)
    >>> sim.run_until(finished(20), timeout=30.0)
    True
    >>> check_linearizable(sim.history, "kv").linearizable
    True
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from random import Random
from typing import Any

import attrs

from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.replication.chain import ChainClient, ChainMaster, ChainServer
from dsys.replication.primary_backup import PBClient, PBServer, ViewService
from dsys.sim.network import Network
from dsys.sim.simulation import Simulation

__all__ = ["DESIGNS", "Measurement", "chain_cluster", "finished", "measure", "pb_cluster",
           "workload"]

#: The designs :func:`measure` knows.
DESIGNS = ("primary-backup", "chain", "craq")

#: When the clients start: the first view (or chain) is up well before.
CLIENTS_START = 1.0


def workload(client: str, keys: tuple[str, ...] = ("x", "y", "z"), *, reads: float = 0.4,
             cas: bool = False) -> Callable[[Random], dict[str, Any]]:
    """Operations for ``client``: a fraction ``reads`` of gets, the rest puts and appends
    (and cases, with ``cas=True``); each written value is unique (``c2.7;``).

    >>> next_op = workload("c1", ("x",), reads=0.0)
    >>> next_op(Random(1))["value"]
    'c1.1;'
    """
    if not 0.0 <= reads <= 1.0:
        raise ConfigError(f"reads must be a fraction in [0, 1], got {reads!r}")
    numbers = itertools.count(1)

    def next_op(rng: Random) -> dict[str, Any]:
        n, key, draw = next(numbers), rng.choice(keys), rng.random()
        value = f"{client}.{n};"
        if draw < reads:
            return {"f": "get", "key": key, "value": None}
        rest = (draw - reads) / (1.0 - reads) if reads < 1.0 else 0.0
        if cas and rest < 0.15:
            return {"f": "cas", "key": key, "value": ["", value]}
        if rest < 0.4:
            return {"f": "put", "key": key, "value": value}
        return {"f": "append", "key": key, "value": value}

    return next_op


def finished(total: int) -> Callable[[Simulation], bool]:
    """A predicate: ``total`` operations have completed (ok, fail or info)."""
    return lambda sim: sum(1 for e in sim.history if e["type"] != "invoke") >= total


def _cluster(seed: int, coordinator: tuple[str, Callable[[], Node]], servers: tuple[str, ...],
             server: Callable[[], Node], client: Callable[[], Any], clients: int, ops: int,
             network: Network | None, think: Any, reads: float, cas: bool,
             sim: Simulation | None, keys: tuple[str, ...] = ("x", "y", "z")) -> Simulation:
    if clients < 0 or ops < 1:
        raise ConfigError(f"need clients >= 0 and ops >= 1, got {clients} and {ops}")
    if sim is None:
        sim = Simulation(seed=seed, network=network or Network())
    sim.add_node(coordinator[0], coordinator[1])
    for name in servers:
        sim.add_node(name, server)
    for i in range(1, clients + 1):
        name = f"c{i}"
        sim.add_client(name, client, workload=workload(name, keys, reads=reads, cas=cas),
                       ops=ops, think=think, start=CLIENTS_START)
    return sim


def pb_cluster(seed: int, *, servers: tuple[str, ...] = ("s1", "s2", "s3"), clients: int = 3,
               ops: int = 30, network: Network | None = None,
               server: Callable[[], Node] = PBServer,
               view_service: Callable[[], Node] = ViewService,
               client: Callable[[], Any] = PBClient, think: Any = 0.01,
               reads: float = 0.4, cas: bool = False, sim: Simulation | None = None
               ) -> Simulation:
    """A simulation of primary-backup: the view service ``"vs"``, ``servers``, and
    ``clients`` clients ``c1``, ``c2``... that each run ``ops`` operations of
    :func:`workload` from t=1. ``server``, ``view_service`` and ``client`` are the
    factories (a broken variant, say). ``sim``: add them to this simulation (made by the
    pytest plugin's ``simulation`` fixture, say; ``seed`` and ``network`` are then its
    own) instead of a new one."""
    return _cluster(seed, ("vs", view_service), servers, server, client, clients, ops,
                    network, think, reads, cas, sim)


def chain_cluster(seed: int, *, servers: tuple[str, ...] = ("s1", "s2", "s3"),
                  clients: int = 3, ops: int = 30, network: Network | None = None,
                  craq: bool = False, server: Callable[[], Node] | None = None,
                  master: Callable[[], Node] | None = None,
                  client: Callable[[], Any] | None = None, think: Any = 0.01,
                  reads: float = 0.4, cas: bool = False, sim: Simulation | None = None
                  ) -> Simulation:
    """A simulation of chain replication: the master ``"master"`` (keeping a chain of
    ``len(servers)``), ``servers``, and clients as in :func:`pb_cluster`. ``craq=True``:
    servers and clients read with CRAQ."""
    server = server or (lambda: ChainServer(craq=craq))
    master = master or (lambda: ChainMaster(replicas=len(servers), servers=servers))
    client = client or (lambda: ChainClient(craq=craq))
    return _cluster(seed, ("master", master), servers, server, client, clients, ops, network,
                    think, reads, cas, sim)


@attrs.frozen
class Measurement:
    """What :func:`measure` found: completed (``ok`` or ``fail``) and unknown (``info``)
    operations, the virtual seconds from the first invocation to the last completion,
    throughput (completed operations per virtual second), latency percentiles (virtual
    seconds, each client's first operation left out), messages sent
    per ok operation, and the messages the busiest server received per ok operation
    (``busiest``: where the load concentrates)."""

    design: str
    ok: int
    info: int
    duration: float
    throughput: float
    p50: float
    p90: float
    p99: float
    messages_per_op: float
    busiest: float


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(design: str, *, seed: int = 1, clients: int = 8, ops: int = 100,
            servers: int = 3, reads: float = 0.5, keys: int = 3,
            network: Network | None = None) -> Measurement:
    """Run a fixed workload against a simulated ``design`` (one of :data:`DESIGNS`) and
    measure it: ``clients`` closed-loop clients (no think time) run ``ops`` operations each
    (a fraction ``reads`` of gets, over ``keys`` keys) on ``servers`` servers, over
    ``network`` (default: 1-10 ms latency, no faults). Latencies leave out each client's
    first operation, which also asks where to go and opens the client's session.

    The simulator charges no time for handling a message, so with closed-loop clients the
    throughput is ``clients`` over the latency: it measures the length of each design's
    paths, not how loaded its busiest server is; messages per operation (pings included)
    say more about load.

    >>> m = measure("chain", clients=2, ops=20)
    >>> m.ok, m.info
    (40, 0)
    >>> 0 < m.p50 <= m.p99
    True
    """
    if design not in DESIGNS:
        raise ConfigError(f"design must be one of {', '.join(DESIGNS)}, got {design!r}")
    if servers < 1 or keys < 1:
        raise ConfigError(f"servers and keys must be >= 1, got {servers} and {keys}")
    names = tuple(f"s{i}" for i in range(1, servers + 1))
    key_names = tuple(f"k{i}" for i in range(keys))
    if design == "primary-backup":
        sim = _cluster(seed, ("vs", ViewService), names, PBServer, PBClient, clients, ops,
                       network, 0.0, reads, False, None, key_names)
    else:
        craq = design == "craq"
        sim = _cluster(seed, ("master", lambda: ChainMaster(replicas=servers, servers=names)),
                       names, lambda: ChainServer(craq=craq), lambda: ChainClient(craq=craq),
                       clients, ops, network, 0.0, reads, False, None, key_names)
    sim.run_until(finished(clients * ops), timeout=CLIENTS_START + 60.0 + clients * ops)
    return summarize(design, sim, names)


def summarize(design: str, sim: Simulation, servers: tuple[str, ...]) -> Measurement:
    """What a finished workload run measured: completed operations and their throughput,
    latency percentiles (each client's first operation left out: it finds the service),
    messages per operation, and the busiest of ``servers``' deliveries per operation."""
    started: dict[int, float] = {}
    warm: set[str] = set()  # clients past their first operation
    latencies: list[float] = []
    first, last, ok, info = float("inf"), 0.0, 0, 0
    for event in sim.history:
        if event["type"] == "invoke":
            started[event["process"]] = event["time"]
            first = min(first, event["time"])
            continue
        last = max(last, event["time"])
        if event["type"] == "info":
            info += 1
            continue
        ok += 1
        if event["client"] in warm:
            latencies.append(event["time"] - started[event["process"]])
        warm.add(event["client"])
    duration = last - first if ok else 0.0
    statistics = sim.statistics()
    busiest = max(statistics.by_node.get(name, {}).get("delivered", 0) for name in servers)
    return Measurement(design, ok, info, duration, ok / duration if duration else 0.0,
                       _percentile(latencies, 0.5), _percentile(latencies, 0.9),
                       _percentile(latencies, 0.99), statistics.sent / ok if ok else 0.0,
                       busiest / ok if ok else 0.0)
