"""Run your MapReduce once: a word count on four workers, w2 crashes, w4 is slow.

    python try_it.py [SEED]

Prints what the coordinator noted (tasks handed out, leases expired, tasks done), then
the checker's verdict: output equal to the sequential run, every task completed, no
output written twice, the job done once. The trace is saved to try_it.jsonl (see it with
`dsys trace show try_it.jsonl`).
"""

from __future__ import annotations

import functools
import sys

import attrs
from mapreduce import Coordinator, Worker

from dsys import Network, Simulation
from dsys.mapreduce import WORD_COUNT, MemoryStore, check_job, sample_documents

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
job = attrs.evolve(WORD_COUNT, record_cost=5e-4)       # a map task of about 0.5 s
inputs = sample_documents(8, 1000, seed)
store = MemoryStore(read_cost=1e-7, write_cost=2e-7)
for name, text in inputs.items():
    store.write(name, text, by="input")

sim = Simulation(seed=seed, network=Network(latency=(0.001, 0.005)))
sim.add_node("coordinator", functools.partial(Coordinator, job, list(inputs), store))
for n, speed in ((1, 1.0), (2, 1.0), (3, 1.0), (4, 0.2)):
    sim.add_node(f"w{n}", functools.partial(Worker, job, store, speed=speed))
sim.at(0.7, sim.crash, "w2")
sim.at(3.0, sim.restart, "w2")
sim.run_until(lambda s: store.exists(f"{job.name}/_SUCCESS"), timeout=30.0)
sim.run(until=sim.now + 1.0)

for e in sim.trace:
    if e.kind in ("crash", "restart"):
        print(f"{e.time:7.3f}  {e.node} {e.kind}")
    elif e.kind == "note":
        details = " ".join(f"{k}={v}" for k, v in e.data.items() if k != "event")
        print(f"{e.time:7.3f}  {e.node} {e.data['event']} {details}")
print(check_job(sim.trace, store, job, inputs).explain())
sim.trace.save("try_it.jsonl")
