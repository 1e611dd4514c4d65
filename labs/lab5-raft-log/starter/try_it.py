"""Run your Raft once: five servers, commands, a leader crash, a restart.

    python try_it.py [SEED]

It proposes commands to the leader, crashes it, proposes more to the new leader,
restarts the old one, and prints what each server applied. The trace is saved to
try_it.jsonl (see it with `dsys trace show try_it.jsonl`).
"""

from __future__ import annotations

import sys

from raft import RaftNode

from dsys import Network, Simulation

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
sim = Simulation(seed=seed, network=Network(drop=0.05))
names = ["a", "b", "c", "d", "e"]
for name in names:
    sim.add_node(name, RaftNode)


def leader() -> str | None:
    for name in names:
        if sim.is_up(name) and sim.node(name).get_state()[1]:  # type: ignore[union-attr]
            return name
    return None


def propose(commands: range) -> str | None:
    sim.run_until(lambda s: leader() is not None, timeout=5.0)
    who = leader()
    print(f"t={sim.now:.2f}: leader {who}")
    for command in commands:
        if who is not None:
            print(f"  start({command}) -> {sim.node(who).start(command)}")  # type: ignore
    sim.run(until=sim.now + 1.0)
    return who


first = propose(range(1, 6))
if first is not None:
    print(f"crashing {first}")
    sim.crash(first)
    propose(range(6, 9))
    print(f"restarting {first}")
    sim.restart(first)
sim.run(until=sim.now + 2.0)
for name in names:
    applied = [(e.data["index"], e.data["command"]) for e in sim.trace
               if e.node == name and e.kind == "note" and e.data.get("event") == "apply"]
    print(f"{name} applied {applied}")
sim.trace.save("try_it.jsonl")
