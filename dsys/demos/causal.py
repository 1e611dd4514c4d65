"""A reply that overtakes its question: allowed by FIFO broadcast, prevented by causal.

Three people chat in a group. Alice asks "lunch?"; Bob, having read it, answers "yes!".
Alice's link to Carol is slow (200 ms), and Bob's link to Carol loses everything from
90 to 120 ms, so Bob's relay of the question is lost and has to be re-sent, while his
answer gets through at once.

Every node runs the same chat twice, over two broadcast components side by side:

* with **FIFO broadcast** Carol reads "yes!" before "lunch?". Nothing is wrong with each
  sender's order (Alice sent one message, Bob one), so FIFO order holds; but the answer
  came before the question it answers: a violation of *causal* order.
* with **causal broadcast** Bob's answer carries his vector clock, which says "I had read
  one message of Alice's". Carol holds the answer back until she has read the question.

``scenario(seed, until, protocols=("fifo",))`` runs one protocol only (the docs draw each).
"""

from __future__ import annotations

from collections.abc import Sequence

from dsys import Network, Node, Simulation
from dsys.messaging import Broadcast, CausalBroadcast, Delivery, FifoBroadcast
from dsys.messaging.broadcast import DeliverCallback

SUMMARY = "a reply overtakes its question under FIFO broadcast, never under causal broadcast"
KINDS = ["log", "block", "heal"]
UNTIL = 0.5

THINK = 0.02  # how long Bob takes to answer
PROTOCOLS: dict[str, type[Broadcast]] = {"fifo": FifoBroadcast, "causal": CausalBroadcast}


class Chatter(Node):
    """Runs the chat over each protocol in ``protocols``; logs what it reads."""

    def __init__(self, protocols: Sequence[str]) -> None:
        super().__init__()
        self.chats = {
            name: self.add_component(PROTOCOLS[name](self._reader(name)), name)
            for name in protocols
        }

    def on_start(self) -> None:
        if self.id == "alice":
            self.set_timer("ask", 0.1)

    def on_timer(self, name: str) -> None:
        if name == "ask":
            for chat in self.chats.values():
                chat.broadcast("lunch?")
        elif name.startswith("answer-"):
            self.chats[name.removeprefix("answer-")].broadcast("yes!")

    def _reader(self, protocol: str) -> DeliverCallback:
        def read(d: Delivery) -> None:
            self.log(f"{protocol}: read {d.payload!r} from {d.origin}")
            if self.id == "bob" and d.payload == "lunch?":
                self.set_timer(f"answer-{protocol}", THINK)

        return read


def scenario(seed: int = 1, until: float = UNTIL,
             protocols: Sequence[str] = ("fifo", "causal")) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=(0.001, 0.010)))
    sim.network.set_link("alice", "carol", latency=0.2)  # a slow link
    for name in ("alice", "bob", "carol"):
        sim.add_node(name, lambda: Chatter(protocols))
    sim.at(0.09, sim.block, "bob", "carol")  # Bob's first relay to Carol is lost...
    sim.at(0.12, sim.heal)  # ...and re-sent 50 ms later; his answer goes straight through
    return sim
