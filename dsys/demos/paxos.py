"""Single-decree Paxos: three servers agree on one value that two clients propose.

The protocol lives in :mod:`dsys.paxos` (see the concept page "Paxos"); this module builds
the cluster that the demo, the tests and the model checker's benchmark use. It mirrors
Stateright's Paxos example: servers ``s1``, ``s2``, ``s3`` (each proposer, acceptor and
learner); client ``c1`` proposes ``"A"`` to ``s1`` while ``c2`` proposes ``"B"`` to ``s2``.

* :func:`scenario` runs it in the simulator, with :func:`~dsys.paxos.agreement` and
  :func:`~dsys.paxos.validity` checked after every event;
* :func:`search` builds the same cluster for the model checker (``dsys.search``), with the
  same two properties as invariants: ``search().bfs()`` explores every interleaving.

Both take ``server``, a factory of the servers, so a broken variant runs in the same
configuration.

Example:
    >>> sim = scenario(seed=1)
    >>> sim.run()
    >>> all_decided(sim) and agreement(sim) and validity(sim)
    True
    >>> sorted((node_id, node.decided) for node_id, node in sim.nodes.items())
    [('s1', 'B'), ('s2', 'B'), ('s3', 'B')]
    >>> [(e["client"], e["type"], e["value"]) for e in sim.history]
    [('c1', 'invoke', 'A'), ('c2', 'invoke', 'B'), ('c2', 'ok', 'B'), ('c1', 'ok', 'B')]
    >>> search().bfs(max_depth=6).verdict
    'ok'
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from random import Random
from typing import Any

from dsys import Network, Simulation
from dsys.paxos.single import (
    NO_BALLOT,
    Accept,
    Accepted,
    Ballot,
    Decided,
    PaxosClient,
    PaxosServer,
    Prepare,
    Promise,
    Propose,
    View,
    agreement,
    all_decided,
    validity,
)
from dsys.search import Search

__all__ = [
    "CLIENTS",
    "NO_BALLOT",
    "SERVERS",
    "Accept",
    "Accepted",
    "Ballot",
    "Decided",
    "PaxosClient",
    "PaxosServer",
    "Prepare",
    "Promise",
    "Propose",
    "View",
    "agreement",
    "all_decided",
    "scenario",
    "search",
    "validity",
]

SUMMARY = "three servers run single-decree Paxos on two clients' proposals"
KINDS = ["recv", "log"]
UNTIL = 1.0

#: The cluster of the scenario, as in Stateright's Paxos example.
SERVERS = ("s1", "s2", "s3")
#: Client id -> (the server it asks, the value it proposes).
CLIENTS = {"c1": ("s1", "A"), "c2": ("s2", "B")}


def scenario(seed: int = 0, until: float = UNTIL, *, network: Network | None = None,
             server: Callable[[], PaxosServer] = PaxosServer) -> Simulation:
    """The 3-server, 2-client cluster with :func:`agreement` and :func:`validity` checked
    after every event. ``server`` builds each server (a broken variant, say); ``until`` is
    unused (``dsys demo`` passes it): the run ends when nothing is left to happen."""
    sim = Simulation(seed=seed, network=network or Network())
    for server_id in SERVERS:
        sim.add_node(server_id, server)
    for client_id, (server_id, value) in CLIENTS.items():
        sim.add_client(client_id, functools.partial(PaxosClient, server_id),
                       workload=functools.partial(_proposal, value), ops=1)
    sim.add_invariant(agreement)
    sim.add_invariant(validity)
    return sim


def search(server: Callable[[], PaxosServer] = PaxosServer, **options: Any) -> Search:
    """The same cluster for the model checker, :func:`agreement` and :func:`validity` as
    its invariants; ``options`` go to :class:`~dsys.search.Search` (budgets of duplicates,
    drops, crashes...)."""
    clients = {cid: functools.partial(PaxosClient, server_id)
               for cid, (server_id, _) in CLIENTS.items()}
    workload = {cid: functools.partial(_proposal, value)
                for cid, (_, value) in CLIENTS.items()}
    checker = Search(dict.fromkeys(SERVERS, server), clients=clients, workload=workload,
                     ops=1, **options)
    checker.add_invariant(agreement)
    checker.add_invariant(validity)
    return checker


def _proposal(value: str, rng: Random) -> dict[str, Any]:
    """A client's one operation: propose ``value``."""
    return {"f": "propose", "value": value}
