"""Run your detector and election once: eight members, the coordinator crashes, a
partition comes and goes, the coordinator comes back; print what everyone believes.

    python try_it.py [SEED]

Every second of virtual time it prints, for each member: whom it holds dead, whom it
suspects, and whom it follows. Then the checkers' verdicts. The trace is saved to
try_it.jsonl (see it with `dsys trace show try_it.jsonl`).
"""

from __future__ import annotations

import sys

from swim_bully import BullyElection, SwimDetector

from dsys import Network, Node, Simulation
from dsys.election import check_agreement, check_one_leader_per_epoch
from dsys.failure import check_accuracy, check_completeness, check_convergence


class Member(Node):
    """A member of the group, as the grader builds it."""

    def __init__(self) -> None:
        super().__init__()
        self.detector = self.add_component(SwimDetector())
        self.election = self.add_component(BullyElection(self.detector))


seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
sim = Simulation(seed=seed, network=Network(drop=0.02))
names = [f"m{i}" for i in range(8)]
for name in names:
    sim.add_node(name, Member)
sim.at(2.0, sim.crash, "m7")                       # the coordinator
sim.at(5.0, sim.partition, names[:3], names[3:7])  # (m7 is down)
sim.at(8.0, sim.heal)
sim.at(9.0, sim.restart, "m7")


def show() -> None:
    print(f"t={sim.now:4.1f}")
    for name in names:
        node = sim.nodes.get(name)
        if not isinstance(node, Member):
            print(f"  {name}: down")
            continue
        view = getattr(node.detector, "view", {})
        dead = [m for m, (status, _) in sorted(view.items()) if status == "dead"]
        suspect = [m for m, (status, _) in sorted(view.items()) if status == "suspect"]
        print(f"  {name}: dead {dead or '-'}, suspects {suspect or '-'}, "
              f"follows {node.election.leader} (epoch {node.election.epoch})")


for second in range(1, 13):
    sim.run(until=float(second))
    show()
trace = sim.trace
print(check_completeness(trace, within=2.0).explain())
# (During the partition each side holds the other dead: that is all a detector can see.
# Accuracy is judged once it has healed.)
print(check_accuracy(trace, after=9.0, tolerance=1.0).explain())
print(check_convergence(trace, by=11.0).explain())
print(check_one_leader_per_epoch(trace).explain())
print(check_agreement(trace).explain())
trace.save("try_it.jsonl")
