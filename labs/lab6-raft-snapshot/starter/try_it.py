"""Run your Raft once: three servers, a snapshot every 10 commands, a follower left behind.

    python try_it.py [SEED]

It has 30 commands agreed while one follower is cut off (the others take snapshots and
trim their logs), reconnects the follower, and has one more command agreed by all three:
the follower can only catch up by InstallSnapshot. It prints the InstallSnapshot messages
sent, what each server restored and applied, and each server's storage size. The trace
is saved to try_it.jsonl (see it with `dsys trace show try_it.jsonl`).

The harness of the grader (dsys.testing.raft) plays the service, and checks safety after
every event: a failure stops the run with an AssertionError that says what went wrong.
"""

from __future__ import annotations

import sys

from raft import RaftNode

from dsys import Simulation
from dsys.testing.raft import RaftAdapter, RaftCluster

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
sim = Simulation(seed=seed, trace=True)
cluster = RaftCluster(sim, RaftAdapter.for_lab(RaftNode, snapshot_every=10), 3)
try:
    cluster.one(100, expected_servers=3, retry=True)
    leader = cluster.check_one_leader()
    follower = cluster.peer(leader, 1)
    print(f"t={sim.now:.2f}: leader {leader}; cutting {follower} off")
    cluster.disconnect(follower)
    for command in range(101, 131):
        cluster.one(command, expected_servers=2, retry=True)
    print(f"t={sim.now:.2f}: reconnecting {follower}")
    cluster.connect(follower)
    index = cluster.one(131, expected_servers=3, retry=True)
    print(f"t={sim.now:.2f}: command 131 agreed by all three at index {index}")
finally:
    chunks = [(e.time, e.node, e.data["to"], e.data["msg"]) for e in sim.trace
              if e.kind == "send" and type(e.data["msg"]).__name__ == "InstallSnapshot"]
    print(f"{len(chunks)} InstallSnapshot messages sent; the first few:")
    for time, src, dst, msg in chunks[:6]:
        print(f"  t={time:.3f} {src}->{dst} index={msg.last_included_index} "
              f"offset={msg.offset} {len(msg.data)} chars done={msg.done}")
    for name in cluster.names:
        notes = [e.data for e in sim.trace
                 if e.node == name and e.kind == "note" and e.data.get("event") == "restore"]
        applied = sorted(cluster.applied[name])
        span = f"{applied[0]}..{applied[-1]}" if applied else "nothing"
        print(f"{name}: restored {[n['index'] for n in notes]}, applied {span}, "
              f"storage {cluster.log_size(name)} bytes")
    sim.trace.save("try_it.jsonl")
