"""Group members with a scripted workload, and simulations of them under faults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dsys import Nemesis, Network, Node, Simulation
from dsys.messaging import Broadcast, Delivery

#: Builds a broadcast component given the member's delivery callback.
Protocol = Callable[[Callable[[Delivery], None]], Broadcast]

#: A network that loses, duplicates and reorders a lot.
HOSTILE = dict(latency=(0.001, 0.010), drop=0.2, duplicate=0.2, reorder=0.4,
               reorder_delay=0.05)


class Member(Node):
    """Broadcasts ``count`` messages at random times in ``[0, spread]``, and answers a
    delivered message of another member with probability ``reply`` (at most ``count``
    answers), which makes causal chains ("re:a.0" depends on "a.0")."""

    def __init__(self, protocol: Protocol, count: int, spread: float, reply: float) -> None:
        super().__init__()
        self.bcast = self.add_component(protocol(self.delivered))
        self.count = count
        self.spread = spread
        self.reply = reply
        self.replies = 0
        self.sent = 0

    def on_start(self) -> None:
        for k in range(self.count):
            self.set_timer(f"send-{k}", self.rng.uniform(0.0, self.spread))

    def on_timer(self, name: str) -> None:
        self.bcast.broadcast(f"{self.id}.{self.sent}")  # payloads say who and in what order
        self.sent += 1

    def delivered(self, d: Delivery) -> None:
        if d.origin != self.id and self.replies < self.count and self.rng.random() < self.reply:
            self.replies += 1
            self.bcast.broadcast(f"re:{d.payload}")


def run_group(protocol: Protocol, seed: int, *, nodes: int = 4, count: int = 3,
              spread: float = 0.3, reply: float = 0.0, network: dict[str, Any] | None = None,
              until: float = 3.0, nemesis: Nemesis | None = None,
              scenario: Callable[[Simulation], None] | None = None) -> Simulation:
    """A group of ``nodes`` members ``n1..nN`` running ``protocol``, run until ``until``."""
    sim = Simulation(seed=seed, network=Network(**(network or {})))
    for i in range(1, nodes + 1):
        sim.add_node(f"n{i}", lambda: Member(protocol, count, spread, reply))
    if nemesis is not None:
        nemesis.install(sim)
    if scenario is not None:
        scenario(sim)
    sim.run(until=until)
    return sim
