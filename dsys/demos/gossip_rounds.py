"""Measure gossip: how many rounds a rumor takes to reach every node, in the simulator.

:func:`spread_rumor` runs one rumor from ``n0`` through ``N`` nodes that only gossip
(:class:`~dsys.messaging.Gossip`) and returns a :class:`RumorRun`: the rounds until everyone
knew, the messages it cost, and how many nodes knew after each round. Compare the rounds
with the theory, e.g. :func:`~dsys.messaging.gossip.expected_push_rounds` for push gossip;
``bench/gossip_rounds.py`` tabulates them for 10 to 1,000 nodes and the three modes.

(This harness runs the protocol in the simulator, so it lives in :mod:`dsys.demos`, not
beside the protocol: protocol packages never import the simulator.)

Example:
    >>> from dsys.demos.gossip_rounds import spread_rumor
    >>> run = spread_rumor(100, "push-pull", seed=1)
    >>> run.complete, run.rounds <= 12
    (True, True)
"""

from __future__ import annotations

import attrs

from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.messaging.gossip import Gossip, Mode
from dsys.sim.network import Network
from dsys.sim.simulation import Simulation


class _Gossiper(Node):
    """A node that only gossips (used by :func:`spread_rumor`)."""

    def __init__(self, mode: Mode, fanout: int, origin: str, rounds_to_live: int | None) -> None:
        super().__init__()
        self.gossip = self.add_component(Gossip(mode, fanout=fanout,
                                                rounds_to_live=rounds_to_live))
        self.origin = origin

    def on_start(self) -> None:
        if self.id == self.origin:
            self.gossip.spread("rumor", 1)


@attrs.frozen
class RumorRun:
    """The measurements of one :func:`spread_rumor` run."""

    nodes: int
    mode: str
    fanout: int
    seed: int
    #: rounds until every node knew the rumor (or ``max_rounds`` if it never happened).
    rounds: int
    complete: bool
    #: messages sent per node until then (requests and replies both count).
    messages_per_node: float
    #: how many nodes knew the rumor after each round (index 0: before the first round).
    informed: tuple[int, ...]


def spread_rumor(nodes: int, mode: Mode = "push", *, seed: int = 0, fanout: int = 1,
                 drop: float = 0.0, rounds_to_live: int | None = None,
                 max_rounds: int = 200) -> RumorRun:
    """Simulate one rumor spreading from ``n0`` through ``nodes`` nodes; measure it.

    Rounds last 1 s and messages take 1 to 10 ms, so every round's messages arrive before
    the next round (the synchronous model of the analyses); ``drop`` is the probability
    that the network loses a message; ``rounds_to_live`` is passed to
    :class:`~dsys.messaging.Gossip` (a run where the rumor dies out stops at
    ``max_rounds``). The simulation records no trace, so 1,000 nodes take well under a
    second per run.
    """
    if nodes < 2:
        raise ConfigError(f"spread_rumor needs at least 2 nodes, got {nodes}")
    sim = Simulation(seed=seed, network=Network(latency=(0.001, 0.010), drop=drop),
                     trace=False)
    ids = [f"n{i}" for i in range(nodes)]
    for node_id in ids:
        sim.add_node(node_id, lambda: _Gossiper(mode, fanout, "n0", rounds_to_live))
    sim.run(until=0.5)  # everyone has started; the first round is at t = 1
    members = [sim.node(i) for i in ids]
    informed = [sum(1 for m in members if isinstance(m, _Gossiper) and m.gossip.known)]
    rounds = 0
    while informed[-1] < nodes and rounds < max_rounds:
        rounds += 1
        sim.run(until=rounds + 0.5)  # round `rounds` fires at t = rounds; its messages land
        informed.append(sum(1 for m in members if isinstance(m, _Gossiper) and m.gossip.known))
    return RumorRun(nodes=nodes, mode=mode, fanout=fanout, seed=seed, rounds=rounds,
                    complete=informed[-1] == nodes,
                    messages_per_node=sim.statistics().sent / nodes, informed=tuple(informed))
