"""A rumor spreads by push-pull gossip, round by round, despite loss and a crash.

Eight nodes. Every 100 ms each node calls one random peer: it pushes the rumors it knows
and asks for the ones it does not (push-pull gossip, Karp et al. 2000). Node ``n0``
starts a rumor at t = 0.05 s. The network loses 20% of messages and ``n5`` is down from
0.1 s to 0.4 s, yet within a handful of rounds every node knows: no node is needed, and
no message is, because each round is a new chance.

Each node logs the round in which it learned the rumor (``n5`` counts its rounds from its
restart). For rounds against the theory
from 10 to 1,000 nodes see ``bench/gossip_rounds.py``.
"""

from __future__ import annotations

from dsys import Network, Node, Simulation
from dsys.messaging import Gossip

SUMMARY = "eight nodes spread a rumor by push-pull gossip through loss and a crash"
KINDS = ["log", "crash", "restart"]
UNTIL = 1.5

ROUND = 0.1
NODES = 8


class Gossiper(Node):
    def __init__(self) -> None:
        super().__init__()
        self.gossip = self.add_component(
            Gossip("push-pull", interval=ROUND, on_learn=self.learned))

    def on_start(self) -> None:
        if self.id == "n0":
            self.set_timer("start rumor", 0.05)

    def on_timer(self, name: str) -> None:
        self.gossip.spread("news", "cake in the kitchen")

    def learned(self, key: str, value: object) -> None:
        self.log(f"knows it (round {self.gossip.round})")


def scenario(seed: int = 1, until: float = UNTIL) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=(0.001, 0.010), drop=0.2))
    for i in range(NODES):
        sim.add_node(f"n{i}", Gossiper)
    sim.at(0.1, sim.crash, "n5")
    sim.at(0.4, sim.restart, "n5")
    return sim
