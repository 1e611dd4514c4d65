"""Random message patterns for the logical clock tests, and deliberately broken clocks.

A :class:`Chatter` node wakes up at random times and does one of three things: a local
event, a message to a random peer, or nothing; on receipt it sometimes forwards the
message on. Which peers it talks to comes from a random topology, so runs differ in shape
as well as timing. The clock layers it carries are chosen per run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from random import Random
from typing import Any

from dsys import Clock, Layer, Network, Node, Simulation, message
from dsys.clocks import HLCLayer, LamportLayer, VectorClock, VectorClockLayer
from dsys.clocks.timestamps import record_receive


@message(name="clocktest:Chat")
class Chat:
    hops: int


class Chatter(Node):
    """Talks to its neighbours at random; every clock in ``layers`` stamps its messages."""

    def __init__(self, layers: Sequence[Callable[[], Layer]], neighbours: Sequence[str],
                 steps: int) -> None:
        super().__init__()
        self.clocks = [self.add_layer(make()) for make in layers]
        self.neighbours = list(neighbours)
        self.steps = steps

    def on_start(self) -> None:
        self.set_timer("wake", self.rng.uniform(0.0, 0.01))

    def on_timer(self, name: str) -> None:
        self.steps -= 1
        roll = self.rng.random()
        if roll < 0.25:
            for clock in self.clocks:
                tick = getattr(clock, "tick", None)
                if tick is not None:
                    tick(f"step {self.steps}")
        elif roll < 0.85 and self.neighbours:
            self.send(self.rng.choice(self.neighbours), Chat(0))
        else:
            self.log("idle")
        if self.steps > 0:
            self.set_timer("wake", self.rng.expovariate(1 / 0.005))

    def on_message(self, src: str, msg: Any) -> None:
        if msg.hops < 3 and self.neighbours and self.rng.random() < 0.4:
            self.send(self.rng.choice(self.neighbours), Chat(msg.hops + 1))


def random_run(seed: int, layers: Sequence[Callable[[], Layer]], *, nodes: int | None = None,
               steps: int = 12, duplicate: float = 0.1, reorder: float = 0.3,
               drop: float = 0.05, clocks: bool = False, crashes: bool = False) -> Simulation:
    """A finished simulation of Chatter nodes on a random topology (seeded by ``seed``).

    ``clocks``: skewed, drifting node clocks; ``crashes``: one node crashes and restarts.
    """
    rng = Random(f"clocks-test/{seed}")
    count = nodes or rng.randint(2, 5)
    ids = [f"n{i}" for i in range(count)]
    # A random directed topology: each node talks to a random non-empty set of others
    # (sometimes itself too, to exercise messages to self).
    topology = {
        i: sorted(rng.sample([j for j in ids if j != i], rng.randint(1, count - 1))
                  + ([i] if rng.random() < 0.2 else []))
        for i in ids
    }
    network = Network(latency=(0.001, 0.02), drop=drop, duplicate=duplicate, reorder=reorder,
                      reorder_delay=0.03)
    sim = Simulation(seed=seed, network=network)
    for i in ids:
        clock = None
        if clocks:
            clock = Clock(offset=rng.uniform(-0.05, 0.05), drift=rng.uniform(-1e-3, 1e-3))
        sim.add_node(i, lambda i=i: Chatter(layers, topology[i], steps), clock=clock)
    if crashes:
        victim = rng.choice(ids)
        sim.at(rng.uniform(0.0, 0.03), sim.crash, victim)
        sim.at(rng.uniform(0.03, 0.06), sim.restart, victim)
    sim.run(until=2.0)
    return sim


# ----- broken clocks: the checkers must catch them ------------------------------------


class ForgetfulLamport(LamportLayer):
    """Forgets IR2's max on receipt: just ticks, ignoring the stamp."""

    name = "lamport"  # a Layer subclass would otherwise be named after its class

    def on_receive(self, src: str, msg: object, stamp: Any) -> None:
        self._set(self.time + 1)
        record_receive(self, src, self.time)


class NonMergingVector(VectorClockLayer):
    """Never merges the sender's vector on receipt: only ticks its own entry."""

    name = "vector"

    def on_receive(self, src: str, msg: object, stamp: Any) -> None:
        self.time = self.time.increment(self.node.id)
        record_receive(self, src, self.time.to_json())


class LazyVector(VectorClockLayer):
    """Merges on receipt but forgets to tick its own entry, so a receipt can get the
    same vector as the node's previous event."""

    name = "vector"

    def on_receive(self, src: str, msg: object, stamp: Any) -> None:
        self.time = self.time.merge(VectorClock.from_json(stamp))
        record_receive(self, src, self.time.to_json())


class PhysicalOnlyHLC(HLCLayer):
    """Ignores the carried timestamp: just the send rule, i.e. physical time + counter."""

    name = "hlc"

    def on_receive(self, src: str, msg: object, stamp: Any) -> None:
        pt = self._send_or_local()
        record_receive(self, src, self.time.to_json(), pt=pt)
