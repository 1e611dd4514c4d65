"""Mutual exclusion with Ricart-Agrawala, and what one crash does to it.

Four nodes share a critical section. Each thinks for a while, asks everyone for
permission (a request stamped with a Lamport timestamp), enters once all have replied,
stays a little, and leaves, sending the replies it deferred. The invariant "at most one
node inside" is checked after every event, and each node logs when it asks, enters (with
its request's timestamp: ties go to the smaller node id) and leaves.

At t=0.6 s node ``n4`` crashes. Ricart-Agrawala needs a reply from *every* other node, so
from then on every request waits forever: the rest of the run shows requests and no
entries. (The docs page "Mutual exclusion" explains why, and what the other algorithms do.)
"""

from __future__ import annotations

from dsys import Network, Simulation
from dsys.demos.mutex_workload import Workload
from dsys.mutex import RicartAgrawala, safety_invariant

SUMMARY = "four nodes share a lock with Ricart-Agrawala, until one crashes and all wait"
KINDS = ["log", "crash", "restart", "violation"]
UNTIL = 1.0

THINK = (0.05, 0.25)  # seconds between leaving and asking again
HOLD = (0.01, 0.03)  # seconds inside the critical section
CRASH_AT = 0.6


class Narrator(Workload):
    """A workload node that says in its log what it does (the trace has the same as
    ``request`` / ``enter`` / ``exit`` notes, which the checkers read)."""

    def __init__(self) -> None:
        super().__init__(RicartAgrawala, think=THINK, hold=HOLD, requests=None)

    def on_timer(self, name: str) -> None:
        if name == "think":
            self.log("asks to enter")
        elif name == "hold":
            self.log("leaves")
        super().on_timer(name)

    def on_enter(self) -> None:
        assert isinstance(self.mutex, RicartAgrawala)
        self.log(f"ENTERS with timestamp {self.mutex.our_sequence_number}")
        super().on_enter()


def scenario(seed: int = 0, until: float = UNTIL) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=(0.002, 0.010)))
    for i in range(1, 5):
        sim.add_node(f"n{i}", Narrator)
    sim.add_invariant(safety_invariant)
    sim.at(CRASH_AT, sim.crash, "n4")
    return sim
