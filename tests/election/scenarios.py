"""Simulated runs of the election modules with faults, shared by the scenario tests."""

from __future__ import annotations

from random import Random
from typing import Any

from dsys import Nemesis, Network, Simulation
from dsys.demos.election import cluster

#: Faults stop here; then the network is made reliable and the run goes on to SETTLED.
FAULTS_STOP = 4.0
SETTLED = 8.0


def faulty_run(algorithm: str, seed: int, *, nodes: int = 5,
               faults: tuple[str, ...] = ("crash", "partition", "isolate"),
               drop: float = 0.05, duplicate: float = 0.02, **options: Any) -> Simulation:
    """``nodes`` nodes under a nemesis (crashes and restarts, partitions) and a lossy,
    duplicating network until FAULTS_STOP, then a quiet network until SETTLED."""
    sim = cluster(algorithm, nodes, seed,
                  network=Network(latency=(0.001, 0.010), drop=drop, duplicate=duplicate),
                  **options)
    Nemesis(faults=faults, interval=(0.2, 0.6), duration=(0.2, 0.8),
            stop=FAULTS_STOP).install(sim)
    sim.run(until=FAULTS_STOP)
    sim.network.update(drop=0.0, duplicate=0.0)
    sim.run(until=SETTLED)
    return sim


def drifting_clocks(sim: Simulation, seed: int, max_drift: float) -> None:
    """Give every node a random offset and a random rate error within ``max_drift``
    (call before the run starts: a rate change later makes the clock jump)."""
    rng = Random(f"{seed}/clocks")
    for node_id in sim.node_ids:
        sim.set_clock(node_id, offset=rng.uniform(-5.0, 5.0),
                      drift=rng.uniform(-max_drift, max_drift))


def change_rate(sim: Simulation, node_id: str, drift: float) -> None:
    """Make ``node_id``'s clock run at ``1 + drift`` from now on, without a jump."""
    node = sim.node(node_id)
    assert node is not None
    reading = node.now
    sim.set_clock(node_id, offset=reading - sim.now * (1.0 + drift), drift=drift)
