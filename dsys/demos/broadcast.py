"""Reliable broadcast by eager relay, under loss, a partition and a crash.

Five nodes. Node ``n1`` broadcasts a few values; every node that receives a value for the
first time relays it to everyone (eager reliable broadcast), and re-sends values its peers
have not acknowledged. The network drops 15% of messages, ``n4`` is cut off for a while
and ``n2`` crashes. At the end every live node has every value.
"""

from __future__ import annotations

from dsys import Network, Node, Simulation, message

SUMMARY = "five nodes relay broadcasts through loss, a partition and a crash"
KINDS = ["crash", "restart", "partition", "heal", "log"]
UNTIL = 3.0

RESEND = 0.1


@message
class Value:
    value: int


@message
class Ack:
    value: int


class Relay(Node):
    def on_start(self) -> None:
        self.seen: set[int] = set(self.storage.get("seen", []))
        self.unacked: dict[int, set[str]] = {}
        if self.id == "n1" and not self.seen:
            for v in range(3):
                self.accept(v)
        self.set_timer("resend", RESEND)

    def accept(self, value: int) -> None:
        self.seen.add(value)
        self.storage["seen"] = sorted(self.seen)
        self.storage.sync()
        self.log(f"delivered {value}")
        self.unacked[value] = set(self.peers)
        self.broadcast(Value(value))

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Value(value=v):
                self.send(src, Ack(v))
                if v not in self.seen:
                    self.accept(v)
            case Ack(value=v):
                self.unacked.get(v, set()).discard(src)

    def on_timer(self, name: str) -> None:
        for value, waiting in sorted(self.unacked.items()):
            for peer in sorted(waiting):
                self.send(peer, Value(value))
        self.set_timer("resend", RESEND)


def scenario(seed: int = 0, until: float = UNTIL) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=(0.005, 0.020), drop=0.15))
    for i in range(1, 6):
        sim.add_node(f"n{i}", Relay)
    sim.at(0.0, sim.isolate, "n4")
    sim.at(0.02, sim.crash, "n2")
    sim.at(1.0, sim.heal)
    sim.at(1.5, sim.restart, "n2")
    return sim
