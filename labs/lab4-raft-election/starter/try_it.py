"""Run your Raft once: five servers, a leader crash, a restart; print who leads.

    python try_it.py [SEED]

It prints each server's (term, is leader) every half second of virtual time, and saves
the trace to try_it.jsonl (see it with `dsys trace show try_it.jsonl`).
"""

from __future__ import annotations

import sys

from raft import RaftNode

from dsys import Network, Simulation

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
sim = Simulation(seed=seed, network=Network())
names = ["a", "b", "c", "d", "e"]
for name in names:
    sim.add_node(name, RaftNode)


def show() -> list[str]:
    states = {n: sim.node(n).get_state() for n in names if sim.is_up(n)}  # type: ignore
    print(f"t={sim.now:4.1f}  " + "  ".join(
        f"{n}: term {t}{' LEADER' if lead else ''}" for n, (t, lead) in states.items()))
    return [n for n, (_, lead) in states.items() if lead]


for step in range(1, 5):
    sim.run(until=0.5 * step)
    leaders = show()
if leaders:
    print(f"crashing the leader, {leaders[0]}")
    sim.crash(leaders[0])
    for step in range(5, 9):
        sim.run(until=0.5 * step)
        show()
    sim.restart(leaders[0])
    print(f"restarting {leaders[0]}")
sim.run(until=5.0)
show()
sim.trace.save("try_it.jsonl")
