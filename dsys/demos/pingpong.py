"""Ping-pong over a lossy link: a pinger retransmits until each ping is answered.

The network drops 20% of messages and duplicates 10%; at t=0.3 s the two nodes are
partitioned for 0.2 s. The pinger still gets all its pongs, because it retransmits on a
timer and ignores stale answers.
"""

from __future__ import annotations

from dsys import Network, Node, Simulation, message

SUMMARY = "two nodes, a lossy link and a partition; retransmission gets every ping through"
KINDS = ["send", "recv", "drop", "duplicate", "timer_fire", "partition", "heal", "log"]
UNTIL = 1.0

PINGS = 10
RETRY = 0.03


@message
class Ping:
    seq: int


@message
class Pong:
    seq: int


class Pinger(Node):
    def on_start(self) -> None:
        self.next_seq = 0
        self.send_ping()

    def send_ping(self) -> None:
        self.send("b", Ping(self.next_seq))
        self.set_timer("retry", RETRY)  # re-arming replaces the previous deadline

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Pong(seq=n) if n == self.next_seq:
                self.next_seq += 1
                if self.next_seq == PINGS:
                    self.cancel_timer("retry")
                    self.log(f"all {PINGS} pongs received")
                else:
                    self.send_ping()

    def on_timer(self, name: str) -> None:
        self.log(f"no pong for ping {self.next_seq}: retransmit")
        self.send_ping()


class Ponger(Node):
    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Ping(seq=n):
                self.send(src, Pong(n))


def scenario(seed: int = 0, until: float = UNTIL) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=(0.002, 0.010), drop=0.2, duplicate=0.1))
    sim.add_node("a", Pinger)
    sim.add_node("b", Ponger)
    sim.at(0.3, sim.partition, ["a"], ["b"])
    sim.at(0.5, sim.heal)
    return sim
