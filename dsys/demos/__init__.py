"""Small, complete example systems, runnable with ``dsys demo NAME``.

Each demo module defines its nodes and a ``scenario(seed, until)`` function that returns
a ready-to-run :class:`~dsys.Simulation`, plus ``SUMMARY`` (one line) and ``KINDS`` (the
event kinds the terminal view shows by default).
"""

DEMOS = {
    "election": "dsys.demos.election",
    "pingpong": "dsys.demos.pingpong",
    "broadcast": "dsys.demos.broadcast",
    "mutex": "dsys.demos.mutex",
    "clocks": "dsys.demos.clocks",
    "causal": "dsys.demos.causal",
    "gossip": "dsys.demos.gossip",
}
