"""Dynamo-style quorums, drawn: a partition, a sloppy quorum, siblings, and convergence.

Five nodes (``n1`` to ``n5``) run :class:`~dsys.replication.QuorumNode` with N=3, R=2,
W=2, sloppy quorums, read repair, hinted handoff and Merkle anti-entropy. Two shoppers
share one cart (the key ``cart``): alice always talks to one home node of the cart, bob to
another, and the partition puts those two on opposite sides.

* alice puts ``milk`` in the cart; alice and bob read it (the same context);
* the network splits so that each side lacks some of the cart's home nodes (alice's
  side has one, bob's two): each coordinator's *sloppy quorum* sends the put to the first
  N healthy nodes of the ring, and a node standing in for an unreachable home node keeps
  the version aside with a *hint* naming it. Both puts are acknowledged (W=2): alice adds
  ``eggs``, bob adds ``bread``, neither seeing the other's;
* the partition heals; the failure detectors trust everyone again and the hint holders
  *hand off* the versions to their owners; a background writer's keys that missed a
  replica meanwhile are repaired by *anti-entropy*;
* alice reads the cart: two *siblings*, ``milk,eggs`` and ``milk,bread`` (concurrent
  vector clocks: neither put saw the other); *read repair* writes both to any replica
  that lacked one; alice puts the merged cart with the context of that read, which
  reconciles the siblings.

:func:`present` draws what every node holds for the cart (data, and hints) at a few
moments, what the clients did, and a closing summary of the checkers' verdicts.

The module also holds the simulated-cluster builders that tests, the docs and
``bench/replication.py`` use: :func:`cluster`, :func:`add_clients`, :func:`workload`,
:func:`measure_quorum` (latency percentiles and stale-read rate for given N, R, W),
:func:`sweep_quorums` (that for every R and W, under :data:`PLOT`, the conditions of the
quorums page's plot), :func:`measure_anti_entropy` (convergence time and bytes, Merkle
trees vs the full comparison), :func:`workload_cluster` and :func:`measure_workload` (the
workload of :func:`dsys.demos.pb_chain.measure` against a quorum store, measured the same
way).

Example:
    >>> sim = scenario(seed=1)
    >>> sim.run(until=UNTIL)
    >>> from dsys.replication import check_replicas_agree
    >>> check_replicas_agree(sim.nodes).ok
    True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from random import Random
from typing import Any

import attrs
from rich.console import Console
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from dsys.clocks.vector import VectorClock
from dsys.demos import pb_chain
from dsys.errors import ConfigError
from dsys.replication.quorum import (
    QuorumClient,
    QuorumConfig,
    QuorumNode,
    Version,
    check_fresh_reads,
    check_no_lost_writes,
    check_replicas_agree,
    context_of,
    pending_hints,
    replicas_of,
    sibling_reads,
)
from dsys.replication.ring import HashRing
from dsys.sim.network import Exponential, Network
from dsys.sim.simulation import Simulation

SUMMARY = ("five nodes, N=3: a partition makes a sloppy quorum with hints, two shoppers' "
           "puts become siblings, then handoff, read repair and anti-entropy converge")
KINDS = ["partition", "heal", "invoke", "complete", "note"]
UNTIL = 12.0

#: The demo's nodes, and the key the shoppers share.
NODES = ("n1", "n2", "n3", "n4", "n5")
CART = "cart"
#: When the network splits and heals.
SPLIT, HEAL = 3.5, 6.0
#: When :func:`present` draws what every node holds.
MOMENTS = (2.8, 5.6, 6.8, 7.9, 12.0)


# ----- builders ----------------------------------------------------------------------------


def names(count: int) -> tuple[str, ...]:
    """Node ids ``n1``... ``n<count>``."""
    if count < 1:
        raise ConfigError(f"a cluster needs at least one node, got {count}")
    return tuple(f"n{i}" for i in range(1, count + 1))


def cluster(*, nodes: int = 5, seed: int = 1, network: Network | None = None,
            trace: bool = True, codec: bool = True, sim: Simulation | None = None,
            **options: Any) -> Simulation:
    """A simulation of ``nodes`` :class:`~dsys.replication.QuorumNode` servers (``n1``...).

    ``options`` go to :class:`~dsys.replication.QuorumNode` (``n``, ``r``, ``w``,
    ``sloppy``, ``read_repair``, ``hinted_handoff``, ``anti_entropy``, ``merkle``,
    ``detector``, ``replica``...). ``trace`` and ``codec`` as for
    :class:`~dsys.Simulation`.

    Example:
        >>> sim = cluster(nodes=3, n=3, r=2, w=2, anti_entropy=None)
        >>> sim.node_ids
        ('n1', 'n2', 'n3')
    """
    if sim is None:
        sim = Simulation(seed=seed, network=network or Network(latency=(0.001, 0.010)),
                         trace=trace, codec=codec)
    factory = functools.partial(QuorumNode, **options)
    for node_id in names(nodes):
        sim.add_node(node_id, factory)
    return sim


def workload(client: str, keys: Sequence[str], *, reads: float = 0.5
             ) -> Callable[[Random], dict[str, Any]]:
    """A workload of gets and puts on ``keys`` (uniformly), ``reads`` of them gets; every
    put writes a value of its own (``"<client>-<n>"``), so a history can be judged.

    >>> ops = workload("c1", ["x"], reads=0.0)
    >>> rng = Random(1)
    >>> ops(rng), ops(rng)
    ({'f': 'put', 'key': 'x', 'value': 'c1-1'}, {'f': 'put', 'key': 'x', 'value': 'c1-2'})
    """
    if not keys:
        raise ConfigError("a workload needs at least one key")
    count = 0

    def next_op(rng: Random) -> dict[str, Any]:
        nonlocal count
        key = keys[rng.randrange(len(keys))]
        if rng.random() < reads:
            return {"f": "get", "key": key, "value": None}
        count += 1
        return {"f": "put", "key": key, "value": f"{client}-{count}"}

    return next_op


def add_clients(sim: Simulation, count: int, *, keys: Sequence[str] = ("k1", "k2", "k3"),
                ops: int | None = 30, reads: float = 0.5, think: Any = (0.0, 0.02),
                n: int = 3, timeout: float = 1.0, start: float | None = None) -> None:
    """Add ``count`` :class:`~dsys.replication.QuorumClient` clients (``c1``...) running
    :func:`workload` (``n`` must be the servers' ``n``, for the preference lists).

    Example:
        >>> sim = cluster(nodes=3, anti_entropy=None)
        >>> add_clients(sim, 2, ops=5)
        >>> sim.run(until=2.0)
        >>> from dsys.replication import check_fresh_reads
        >>> sim.client_ids, len(sim.history), check_fresh_reads(sim.history).ok
        (('c1', 'c2'), 20, True)
    """
    for i in range(1, count + 1):
        client_id = f"c{i}"
        sim.add_client(client_id, functools.partial(QuorumClient, n=n, timeout=timeout),
                       workload=workload(client_id, keys, reads=reads), ops=ops, think=think,
                       start=start)


def preload(sim: Simulation, keys: Iterable[str], *, writer: str = "loader") -> None:
    """Store one version of each of ``keys`` on every replica of its preference list, as
    if written long ago (call it once the nodes have started)."""
    replicas = replicas_of(sim.nodes)
    for i, key in enumerate(keys):
        version = Version.of(f"v{i}", VectorClock({writer: i + 1}))
        for node in next(iter(replicas.values())).homes(key):
            replicas[node].store(key, (version,))


# ----- measurements ------------------------------------------------------------------------


@attrs.frozen
class Percentiles:
    """Latency percentiles in seconds (nearest rank), over ``count`` operations."""

    p50: float
    p95: float
    p99: float
    count: int

    @classmethod
    def of(cls, samples: Iterable[float]) -> Percentiles:
        """The percentiles of ``samples`` (all zero if there are none).

        >>> Percentiles.of([0.003, 0.001, 0.002])
        Percentiles(p50=0.002, p95=0.003, p99=0.003, count=3)
        """
        ordered = sorted(samples)
        if not ordered:
            return cls(0.0, 0.0, 0.0, 0)

        def rank(q: float) -> float:
            return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

        return cls(rank(0.50), rank(0.95), rank(0.99), len(ordered))


@attrs.frozen
class QuorumMeasurement:
    """What :func:`measure_quorum` measured for one N, R, W over its seeds."""

    n: int
    r: int
    w: int
    get_latency: Percentiles
    put_latency: Percentiles
    reads: int
    stale_reads: int
    sibling_reads: int

    @property
    def stale_rate(self) -> float:
        """The fraction of gets that missed a put acknowledged before they began."""
        return self.stale_reads / self.reads if self.reads else 0.0


def latencies(history: Iterable[Mapping[str, Any]], f: str) -> list[float]:
    """Seconds from invoke to ``ok`` completion of every ``f`` operation of a simulated
    history (which records ``time`` and ``client``)."""
    started: dict[Any, float] = {}
    found = []
    for event in history:
        if event["f"] != f:
            continue
        if event["type"] == "invoke":
            started[event["process"]] = event["time"]
        elif event["type"] == "ok":
            found.append(event["time"] - started.pop(event["process"]))
    return found


def measure_quorum(n: int, r: int, w: int, *, seeds: Iterable[int] = range(3),
                   nodes: int = 5, clients: int = 4, ops: int = 40,
                   keys: Sequence[str] = ("k1", "k2"), reads: float = 0.5,
                   network: Network | None = None, until: float = 30.0,
                   **options: Any) -> QuorumMeasurement:
    """Run ``clients`` clients of gets and puts on ``keys`` against ``nodes`` servers with
    ``n``, ``r``, ``w`` (a strict quorum unless ``sloppy=True`` is among ``options``),
    once per seed, and measure latency percentiles, stale reads
    (:func:`~dsys.replication.check_fresh_reads`) and reads that returned siblings.

    Example:
        >>> m = measure_quorum(3, 1, 1, seeds=[1], ops=10)
        >>> m.reads > 0, 0.0 <= m.stale_rate <= 1.0
        (True, True)
    """
    QuorumConfig(n=n, r=r, w=w)  # a clear error for a bad combination, before running
    options.setdefault("trace", False)  # (the checker needs the history only)
    options.setdefault("codec", False)
    options.setdefault("sloppy", False)
    options.setdefault("anti_entropy", None)
    if not options["sloppy"]:
        options.setdefault("detector", None)  # only a sloppy quorum asks the detector
    expected = 2 * clients * ops
    gets: list[float] = []
    puts: list[float] = []
    judged = stale = siblings = 0
    for seed in seeds:
        sim = cluster(nodes=nodes, seed=seed, network=network, n=n, r=r, w=w, **options)
        add_clients(sim, clients, keys=keys, ops=ops, reads=reads, n=n)
        sim.run_until(lambda sim: len(sim.history) == expected, timeout=until)
        report = check_fresh_reads(sim.history)
        judged += report.judged
        stale += len(report.violations)
        siblings += sibling_reads(sim.history)
        gets += latencies(sim.history, "get")
        puts += latencies(sim.history, "put")
    return QuorumMeasurement(n, r, w, Percentiles.of(gets), Percentiles.of(puts), judged,
                             stale, siblings)


@attrs.frozen
class AntiEntropyMeasurement:
    """What :func:`measure_anti_entropy` measured: seconds until every replica agreed
    (None: not within the limit), and the anti-entropy bytes sent until then."""

    keys: int
    divergent: int
    merkle: bool
    time: float | None
    bytes: int


def measure_anti_entropy(keys: int, divergent: int, *, merkle: bool = True, seed: int = 0,
                         interval: float = 0.5, depth: int = 4, fanout: int = 4,
                         limit: float = 30.0, step: float = 0.01) -> AntiEntropyMeasurement:
    """Three replicas (N=3) hold ``keys`` keys; one of them has a newer version of
    ``divergent`` of them. Anti-entropy alone (no clients, no read repair) runs every
    ``interval`` seconds: measure the time until every replica agrees and the bytes the
    anti-entropy messages took until then, with Merkle trees or the full comparison.

    Example:
        >>> merkle = measure_anti_entropy(200, 2, merkle=True)
        >>> full = measure_anti_entropy(200, 2, merkle=False)
        >>> merkle.time is not None and full.time is not None, merkle.bytes < full.bytes
        (True, True)
    """
    if not 0 <= divergent <= keys:
        raise ConfigError(f"divergent must be between 0 and keys={keys}, got {divergent}")
    sim = cluster(nodes=3, seed=seed, trace=False, codec=False, n=3, r=2, w=2, sloppy=False,
                  read_repair=False, hinted_handoff=False, detector=None,
                  anti_entropy=interval, merkle=merkle, depth=depth, fanout=fanout)
    all_keys = [f"key{i:05d}" for i in range(keys)]
    changed = Random(f"{seed}/divergent").sample(all_keys, divergent)

    def diverge() -> None:
        preload(sim, all_keys)
        newer = replicas_of(sim.nodes)["n1"]
        for i, key in enumerate(changed):
            old = newer.versions(key)
            newer.store(key, (Version.of(f"new{i}", context_of(old).increment("fixer")),))

    sim.at(0.0, diverge)
    sim.run(until=step)
    engines = [node.anti_entropy for node in _quorum_nodes(sim) if node.anti_entropy]
    agreed, seen = bool(check_replicas_agree(sim.nodes)), 0
    while not agreed and sim.now < limit:
        sim.run(until=sim.now + step)
        repaired = sum(engine.keys_repaired for engine in engines)
        if repaired != seen:  # (only a repair can make the replicas agree: check then)
            agreed, seen = bool(check_replicas_agree(sim.nodes)), repaired
    sent = sum(engine.bytes_sent for engine in engines)
    return AntiEntropyMeasurement(keys, divergent, merkle, sim.now if agreed else None, sent)


def _quorum_nodes(sim: Simulation) -> list[QuorumNode]:
    return [node for _, node in sorted(sim.nodes.items()) if isinstance(node, QuorumNode)]


# ----- the R/W trade-off, and the workload of dsys.demos.pb_chain ----------------------------


@attrs.frozen
class SweepConditions:
    """The world of an R/W sweep (:func:`sweep_quorums`): ``clients`` clients each run
    ``ops`` gets and puts (a fraction ``reads`` of gets, 0 to 20 ms apart) on ``keys``
    keys, against ``nodes`` nodes keeping ``n`` replicas of each key, over a network where
    every message takes ``minimum`` seconds plus an exponential delay of mean ``mean``
    (a long tail: the stale reads of a small quorum live in it).

    Example:
        >>> for part in SweepConditions().describe().split("; "):
        ...     print(part)
        N=3 on 3 nodes
        4 clients x 40 operations (50% gets) on 1 key
        a message takes 1 ms + an exponential delay of mean 20 ms
    """

    n: int = 3
    nodes: int = 3
    clients: int = 4
    ops: int = 40
    keys: int = 1
    reads: float = 0.5
    minimum: float = 0.001
    mean: float = 0.020

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.n <= self.nodes or min(self.clients, self.ops, self.keys) < 1:
            raise ConfigError(f"a sweep needs 1 <= n <= nodes and at least one client, "
                              f"operation and key, got {self}")
        if not 0.0 <= self.reads <= 1.0 or self.minimum < 0 or self.mean <= 0:
            raise ConfigError(f"a sweep needs reads in [0, 1], minimum >= 0 and mean > 0, "
                              f"got {self}")

    def network(self) -> Network:
        """A new network with these latencies."""
        return Network(latency=Exponential(self.mean, self.minimum))

    def describe(self) -> str:
        """The conditions in words (the plot's caption and the bench's heading)."""
        return (f"N={self.n} on {self.nodes} nodes; {self.clients} clients x {self.ops} "
                f"operations ({self.reads:.0%} gets) on {self.keys} "
                f"key{'s' if self.keys != 1 else ''}; a message takes "
                f"{self.minimum * 1000:g} ms + an exponential delay of mean "
                f"{self.mean * 1000:g} ms")


#: The conditions of the R/W plot on the quorums page (and of the first table of
#: ``bench/replication.py``, over more seeds).
PLOT = SweepConditions()
#: The seeds the page's plot is measured over (a few seconds of CPU in all).
PLOT_SEEDS = range(6)


def sweep_quorums(conditions: SweepConditions = PLOT, seeds: Iterable[int] = PLOT_SEEDS
                  ) -> list[QuorumMeasurement]:
    """:func:`measure_quorum` for every R and W from 1 to N under ``conditions`` (no sloppy
    quorum, no failures), over ``seeds``: ``(1, 1), (1, 2), ... (N, N)``, in that order.

    Example:
        >>> found = sweep_quorums(SweepConditions(n=2, nodes=2, ops=5), seeds=[1])
        >>> [(m.r, m.w) for m in found], all(m.stale_reads == 0 for m in found if m.r + m.w > 2)
        ([(1, 1), (1, 2), (2, 1), (2, 2)], True)
    """
    seeds = list(seeds)
    keys = tuple(f"k{i}" for i in range(1, conditions.keys + 1))
    return [measure_quorum(conditions.n, r, w, seeds=seeds, nodes=conditions.nodes,
                           clients=conditions.clients, ops=conditions.ops, keys=keys,
                           reads=conditions.reads, network=conditions.network())
            for r in range(1, conditions.n + 1) for w in range(1, conditions.n + 1)]


def workload_cluster(r: int = 2, w: int = 2, *, n: int = 3, seed: int = 1,
                     clients: int = 8, ops: int = 100, servers: int = 3, reads: float = 0.5,
                     keys: int = 3, network: Network | None = None) -> Simulation:
    """A quorum store under :func:`dsys.demos.pb_chain.measure`'s workload: ``servers``
    nodes with ``n``, ``r``, ``w`` (not sloppy, read repair on; no failure detector, no
    anti-entropy: no background messages), and ``clients`` closed-loop clients ``c1``...
    that each run ``ops`` operations of :func:`dsys.demos.pb_chain.workload` on the keys
    ``k0``... from t=1, its appends sent as puts (a quorum store has no append). Each
    client draws the same operations as in ``pb_chain.measure`` with the same ``seed``.

    Example:
        >>> sim = workload_cluster(clients=1, ops=3, reads=0.0, keys=1)
        >>> sim.run(until=2.0)
        >>> [(e["f"], e["key"], e["value"]) for e in sim.history if e["type"] == "ok"]
        [('put', 'k0', 'c1.1;'), ('put', 'k0', 'c1.2;'), ('put', 'k0', 'c1.3;')]
    """
    if servers < n or keys < 1 or clients < 0 or ops < 1:
        raise ConfigError(f"need servers >= n={n}, keys >= 1, clients >= 0 and ops >= 1, "
                          f"got {servers}, {keys}, {clients} and {ops}")
    sim = cluster(nodes=servers, seed=seed, network=network, trace=False, codec=False, n=n,
                  r=r, w=w, sloppy=False, detector=None, anti_entropy=None)
    key_names = tuple(f"k{i}" for i in range(keys))
    for i in range(1, clients + 1):
        client_id = f"c{i}"
        operations = pb_chain.workload(client_id, key_names, reads=reads)

        def next_op(rng: Random, operations: Callable[[Random], dict[str, Any]] = operations
                    ) -> dict[str, Any]:
            op = operations(rng)
            return {**op, "f": "put"} if op["f"] == "append" else op

        sim.add_client(client_id, functools.partial(QuorumClient, n=n), workload=next_op,
                       ops=ops, think=0.0, start=pb_chain.CLIENTS_START)
    return sim


def measure_workload(r: int = 2, w: int = 2, *, n: int = 3, seed: int = 1, clients: int = 8,
                     ops: int = 100, servers: int = 3, reads: float = 0.5, keys: int = 3,
                     network: Network | None = None) -> pb_chain.Measurement:
    """:func:`dsys.demos.pb_chain.measure` for a quorum store: run
    :func:`workload_cluster` until every operation completed and measure it the same
    way (latencies leave out each client's first operation, as there), so the designs
    share one table. Returns a :class:`~dsys.demos.pb_chain.Measurement` (design
    ``"quorum"``).

    Example:
        >>> m = measure_workload(clients=2, ops=20)
        >>> m.design, m.ok, m.info, 0 < m.p50 <= m.p99
        ('quorum', 40, 0, True)
    """
    sim = workload_cluster(r, w, n=n, seed=seed, clients=clients, ops=ops, servers=servers,
                           reads=reads, keys=keys, network=network)
    sim.run_until(pb_chain.finished(clients * ops),
                  timeout=pb_chain.CLIENTS_START + 60.0 + clients * ops)
    return pb_chain.summarize("quorum", sim, names(servers))


# ----- the demo ----------------------------------------------------------------------------


def scheduled(sim: Simulation, plan: Sequence[tuple[float, Mapping[str, Any]]]
              ) -> tuple[Callable[[Random], dict[str, Any]], Callable[[Random], float]]:
    """A workload and a think time that run ``plan`` (``(time, op)`` pairs): each
    operation starts at its time, or as soon as the one before it completed.

    Use both: ``sim.add_client(id, factory, workload=w, think=t, ops=len(plan))``.

    Example:
        >>> sim = cluster(nodes=3, anti_entropy=None)
        >>> ops, think = scheduled(sim, [(0.5, {"f": "put", "key": "x", "value": "1"}),
        ...                              (1.0, {"f": "get", "key": "x", "value": None})])
        >>> sim.add_client("c", QuorumClient, workload=ops, think=think, ops=2)
        >>> sim.run(until=2.0)
        >>> [(round(e["time"], 1), e["f"]) for e in sim.history if e["type"] == "invoke"]
        [(0.5, 'put'), (1.0, 'get')]
    """
    steps = sorted(plan, key=lambda step: step[0])
    position = 0

    def think(rng: Random) -> float:
        return max(0.0, steps[position][0] - sim.now) if position < len(steps) else 0.0

    def next_op(rng: Random) -> dict[str, Any]:
        nonlocal position
        op = dict(steps[position][1])
        position += 1
        return op

    return next_op, think


class QuorumDemo(Simulation):
    """The demo's simulation, with what it recorded at each of :data:`MOMENTS`:
    ``holdings[t][node]`` is ``(data, hints)``: the cart's versions in the node's data,
    and ``(owner, version)`` pairs of the cart's hints it holds."""

    homes: tuple[str, ...]
    sides: tuple[tuple[str, ...], tuple[str, ...]]
    holdings: dict[float, dict[str, tuple[tuple[Version, ...], tuple[tuple[str, Version], ...]]]]


def _record(sim: QuorumDemo, at: float) -> None:
    table = {}
    for node_id, replica in replicas_of(sim.nodes).items():
        hints = tuple((owner, version) for owner, keys in sorted(replica.hints.items())
                      for version in keys.get(CART, ()))
        table[node_id] = (replica.versions(CART), hints)
    sim.holdings[at] = table


def scenario(seed: int = 1, until: float = UNTIL) -> QuorumDemo:
    """The demo's simulation, ready to run."""
    sim = QuorumDemo(seed=seed, network=Network(latency=(0.001, 0.010)))
    sim.holdings = {}
    cluster(nodes=len(NODES), sim=sim, n=3, r=2, w=2, anti_entropy=1.0)
    ring = HashRing(NODES)
    sim.homes = ring.preference_list(CART, 3)
    # alice's coordinator and the first node after the cart's home nodes on one side,
    # everyone else (bob's coordinator among them) on the other
    stand_in = next(node for node in ring.walk(CART) if node not in sim.homes)
    left = tuple(sorted((sim.homes[0], stand_in)))
    sim.sides = (left, tuple(node for node in NODES if node not in left))
    shoppers: dict[str, tuple[str, list[tuple[float, dict[str, Any]]]]] = {
        "alice": (sim.homes[0], [
            (1.0, {"f": "put", "key": CART, "value": "milk"}),
            (2.0, {"f": "get", "key": CART, "value": None}),
            (4.5, {"f": "put", "key": CART, "value": "milk,eggs"}),
            (7.0, {"f": "get", "key": CART, "value": None}),
            (7.5, {"f": "put", "key": CART, "value": "milk,eggs,bread"}),
            (11.0, {"f": "get", "key": CART, "value": None})]),
        "bob": (sim.homes[1], [
            (2.2, {"f": "get", "key": CART, "value": None}),
            (5.0, {"f": "put", "key": CART, "value": "milk,bread"}),
            (11.2, {"f": "get", "key": CART, "value": None})]),
    }
    for name, (coordinator, plan) in shoppers.items():
        ops, think = scheduled(sim, plan)
        sim.add_client(name, functools.partial(QuorumClient, coordinators=(coordinator,)),
                       workload=ops, think=think, ops=len(plan))
    # a background writer on other keys, whose writes during the split leave replicas
    # behind for anti-entropy
    sim.add_client("carol", QuorumClient, workload=workload(
        "carol", [f"item{i}" for i in range(8)], reads=0.2), think=(0.1, 0.3), ops=40)
    sim.at(SPLIT, sim.partition, *sim.sides)
    sim.at(HEAL, sim.heal)
    for moment in MOMENTS:
        if moment <= until:
            sim.at(moment - 1e-9, _record, sim, moment)
    return sim


def _clock_text(version: Version) -> str:
    # (an actor is a client session, "alice.5451c": the client's name says enough here)
    return ",".join(f"{actor.split('.')[0]}:{count}" for actor, count in version.clock)


def _versions_text(versions: Iterable[Version]) -> Text:
    text = Text()
    for i, version in enumerate(versions):
        if i:
            text.append("  |  ", style="dim")
        text.append(version.value, style="bold")
        text.append(f" [{_clock_text(version)}]", style="cyan")
    return text


def holdings_table(sim: QuorumDemo, moment: float) -> Table:
    """One row per node: is it a home of the cart, which side of the split, what its
    data holds for the cart (siblings separated by ``|``), and the hints it holds."""
    table = Table(show_header=True, box=None, padding=(0, 2, 0, 0))
    for column in ("node", "cart home?", "side", "cart: data", "cart: hints held"):
        table.add_column(column)
    split = SPLIT <= moment < HEAL
    for node in NODES:
        data, hints = sim.holdings[moment].get(node, ((), ()))
        side = ("A" if node in sim.sides[0] else "B") if split else ""
        held = Text()
        for i, (owner, version) in enumerate(hints):
            if i:
                held.append("  ")
            held.append(f"for {owner}: ", style="yellow")
            held.append(version.value)
        table.add_row(node, "yes" if node in sim.homes else "", side,
                      _versions_text(data) if data else Text("-", style="dim"), held)
    return table


def present(sim: Simulation, console: Console, *, everything: bool = False) -> None:
    """Draw what every node holds for the cart at each of :data:`MOMENTS`, the
    shoppers' operations, and the checkers' verdicts."""
    assert isinstance(sim, QuorumDemo)
    a, b = (", ".join(side) for side in sim.sides)
    homes = ", ".join(sim.homes)
    stories = {
        2.8: f"The cart's preference list is {homes}. alice (through {sim.homes[0]}) put "
             f"'milk'; alice and bob read it: both now hold its clock as their context.",
        5.6: f"Split at t={SPLIT} s into A = {a} and B = {b}. alice's put reached only "
             f"one home node, bob's two; each coordinator's sloppy quorum stored the "
             "version on the next node of the ring too, with a hint naming the home node "
             "it stands in for. Both puts were acknowledged (W=2); their clocks are "
             "concurrent: neither saw the other.",
        6.8: f"Healed at t={HEAL} s. The detectors trust everyone again; the hint holders "
             "handed their versions to the owners and deleted them. Home nodes now hold "
             "both versions: siblings.",
        7.9: "alice read the cart at t=7.0 s and got both siblings (read repair wrote them "
             "to any replica that lacked one); her next put, with that read's context, "
             "descends from both: the siblings are reconciled.",
        12.0: "The end: every replica of every key agrees (read repair, hinted handoff and "
              "Merkle anti-entropy), and no hint is left.",
    }
    for moment in sorted(sim.holdings):
        console.print(Rule(f"t = {moment:.1f} s"))
        console.print(Padding(stories.get(moment, ""), (0, 2)))
        console.print(Padding(holdings_table(sim, moment), (1, 2, 1, 2)))
    console.print(Rule("what the shoppers did"))
    ops = Table(show_header=True, box=None, padding=(0, 2, 0, 0))
    for column in ("t", "client", "operation", "result"):
        ops.add_column(column)
    for event in sim.history:
        if event["client"] == "carol" or event["type"] == "invoke":
            continue
        put = event["f"] == "put"
        result = Text(event["type"], style="green" if event["type"] == "ok" else "red")
        if not put and event["type"] == "ok":
            result.append(f" {event['value']}")
            if len(event["value"]) > 1:
                result.append("  siblings!", style="bold yellow")
        ops.add_row(f"{event['time']:.2f}", event["client"],
                    f"put {event['key']} {event['value']!r}" if put else f"get {event['key']}",
                    result)
    console.print(Padding(ops, (0, 2)))
    if everything:
        from dsys.trace import terminal
        console.print(terminal.render(sim.trace.filter(kinds=KINDS), nodes=list(sim.node_ids)))
    console.print(Rule("summary"))
    for line in summary(sim):
        console.print(Padding(line, (0, 2)))


def summary(sim: Simulation) -> list[Text]:
    """The closing lines: what each mechanism did (from the trace notes) and the
    checkers' verdicts."""
    notes: dict[str, int] = {}
    repaired = 0
    for event in sim.trace:
        if event.kind == "note":
            notes[event.data["event"]] = notes.get(event.data["event"], 0) + 1
            if event.data["event"] == "anti-entropy":
                repaired += event.data["keys"]
    sent = sum(node.anti_entropy.bytes_sent for node in _quorum_nodes(sim)
               if node.anti_entropy is not None)
    lines = [Text(f"versions made: {notes.get('version', 0)}; hints stored: "
                  f"{notes.get('hint', 0)}, handed off: {notes.get('handoff', 0)}; read "
                  f"repairs: {notes.get('read-repair', 0)}; keys repaired by anti-entropy: "
                  f"{repaired} ({sent:,} bytes of Merkle exchanges); gets that returned "
                  f"siblings: {sibling_reads(sim.history)}")]
    left = pending_hints(sim.nodes)
    for report in (check_replicas_agree(sim.nodes), check_no_lost_writes(sim.history, sim.nodes)):
        line = Text("checker: ", style="bold")
        line.append(report.explain(), style="green" if report.ok else "bold red")
        lines.append(line)
    line = Text("hints left: ", style="bold")
    line.append("none" if not left else str(left), style="green" if not left else "bold red")
    lines.append(line)
    return lines
