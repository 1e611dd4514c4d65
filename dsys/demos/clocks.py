"""Logical clocks: Lamport timestamps and vector clocks on three chatting nodes.

Three nodes do a few things each at random moments: a local event, or a message to a
random peer. Every node carries a Lamport clock and a vector clock as *layers*
(``add_layer``), so its protocol code never touches a timestamp: the layers stamp each
message and advance on each receipt. Each node logs the timestamps of its events.

Read the log to see the rules at work: a receipt's Lamport time is one more than the
larger of the node's time and the message's; its vector is the entry-wise maximum of the
two, with the node's own entry one higher. Two events are concurrent exactly when neither
vector is below the other, even though their Lamport times are always ordered.
``dsys.clocks.check_lamport`` and ``check_vector`` confirm both clocks on the trace.
"""

from __future__ import annotations

from collections.abc import Callable

from dsys import Network, Node, Simulation, message
from dsys.clocks import LamportLayer, VectorClock, VectorClockLayer

SUMMARY = "three nodes stamp every event with a Lamport time and a vector clock"
KINDS = ["log"]
UNTIL = 0.5

ACTIONS = 5  # things each node does on its own initiative
PAUSE = (0.02, 0.08)  # seconds between them


@message
class Hello:
    pass


def show(vector: VectorClock) -> str:
    """A vector as [a, b, c] entries (zeros included), easier to compare by eye."""
    return "[" + ",".join(str(vector.get(n)) for n in ("a", "b", "c")) + "]"


class Chatter(Node):
    def __init__(self, lamport: LamportLayer | None = None) -> None:
        super().__init__()
        self.lamport = self.add_layer(lamport or LamportLayer())
        self.vector = self.add_layer(VectorClockLayer())

    def on_start(self) -> None:
        self.actions_left = ACTIONS
        self.set_timer("act", self.rng.uniform(*PAUSE))

    def stamps(self) -> str:
        return f"L={self.lamport.time} V={show(self.vector.time)}"

    def on_timer(self, name: str) -> None:
        if self.rng.random() < 0.3:
            self.lamport.tick("local")
            self.vector.tick("local")
            self.log(f"local event: {self.stamps()}")
        else:
            peer = self.rng.choice(self.peers)
            self.send(peer, Hello())  # the layers stamp it and advance
            self.log(f"send to {peer}: {self.stamps()}")
        self.actions_left -= 1
        if self.actions_left:
            self.set_timer("act", self.rng.uniform(*PAUSE))

    def on_message(self, src: str, msg: object) -> None:
        # The layers have already applied the receive rules.
        self.log(f"recv from {src}: {self.stamps()}")


def scenario(seed: int = 0, until: float = UNTIL, *,
             lamport: Callable[[], LamportLayer] = LamportLayer) -> Simulation:
    """The demo's simulation; ``lamport`` makes each node's Lamport layer (to try a
    broken one)."""
    sim = Simulation(seed=seed, network=Network(latency=(0.005, 0.040)))
    for node in ("a", "b", "c"):
        sim.add_node(node, lambda: Chatter(lamport()))
    return sim
