"""Small, complete example systems, runnable with ``dsys demo NAME``, and the harnesses
that run protocols in the simulator to measure them.

Each demo module (listed in :data:`DEMOS`) defines its nodes and a
``scenario(seed, until)`` function that returns a ready-to-run :class:`~dsys.Simulation`,
plus ``SUMMARY`` (one line) and ``KINDS`` (the event kinds the terminal view shows by
default). A demo that tells a story in parts may define
``present(sim, console, everything=)`` to draw itself instead (``dsys demo raft`` does).
:mod:`dsys.demos.cli` is the ``dsys demo`` command.

The harnesses build simulations of a protocol and measure them; tests, docs and benchmarks
use them:

* :mod:`dsys.demos.chord`: Chord rings, installed or built by joins; lookup hops
  against ½·log₂N, and lookups while nodes join and crash;
* :mod:`dsys.demos.clock_sync`: the error Cristian's and Berkeley's algorithms achieve
  against the bound they claim (``python -m dsys.demos.clock_sync``);
* :mod:`dsys.demos.detector_tradeoff`: a failure detector's detection time and false
  suspicions under loss, slow members and crashes, its sensitivity knob swept;
* :mod:`dsys.demos.gossip_rounds`: the rounds a rumor takes to reach every node;
* :mod:`dsys.demos.mutex_workload`: nodes that use a distributed lock at random times.
* :mod:`dsys.demos.mapreduce`: a coordinator and workers on a shared store, workers
  crashed at random, and a job's completion time against the number of workers, a
  straggler and backup tasks.
* :mod:`dsys.demos.naming`: a tree of DNS-like zones, and the messages iterative and
  recursive resolution take with cold and warm caches.
* :mod:`dsys.demos.pb_chain`: primary-backup and chain replication clusters, and one
  fixed workload's throughput and latency percentiles against either.
* :mod:`dsys.demos.quorum`: Dynamo-style clusters, a workload's latency percentiles and
  stale-read rate for given N, R, W, and anti-entropy's convergence time and bytes.
* :mod:`dsys.demos.sharding`: a sharded key-value store whose groups join and leave
  under load, and its latency window by window while shards migrate.
* :mod:`dsys.demos.scaling`: servers behind a load balancer: routing policies against
  utilization, throughput against the number of servers, p99 latency while the pool
  changes, and capacity following demand under an autoscaler.

They live here, not beside their protocols, because a protocol package never imports the
simulator (see "Layer rules" in the design); this package may.
"""

#: The demos by name: ``dsys demo NAME`` runs the module's scenario.
DEMOS = {
    "election": "dsys.demos.election",
    "pingpong": "dsys.demos.pingpong",
    "broadcast": "dsys.demos.broadcast",
    "mutex": "dsys.demos.mutex",
    "clocks": "dsys.demos.clocks",
    "causal": "dsys.demos.causal",
    "gossip": "dsys.demos.gossip",
    "paxos": "dsys.demos.paxos",
    "2pc": "dsys.demos.two_phase_commit",
    "raft": "dsys.demos.raft",
    "swim": "dsys.demos.swim",
    "crdt": "dsys.demos.crdt",
    "quorum": "dsys.demos.quorum",
    "naming": "dsys.demos.naming",
    "scaling": "dsys.demos.scaling",
    "mapreduce": "dsys.demos.mapreduce",
    "sharding": "dsys.demos.sharding",
}
