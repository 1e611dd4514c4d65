"""Single-decree Paxos: three servers agree on one value that two clients propose.

The protocol lives in :mod:`dsys.paxos` (see the concept page "Paxos"); this module builds
the cluster that the demo, the tests and the model checker's benchmark use. It mirrors
Stateright's Paxos example: servers ``s1``, ``s2``, ``s3`` (each proposer, acceptor and
learner); client ``c1`` proposes ``"A"`` to ``s1`` while ``c2`` proposes ``"B"`` to ``s2``.

* :func:`scenario` runs it in the simulator, with :func:`~dsys.paxos.agreement` and
  :func:`~dsys.paxos.validity` checked after every event;
* :func:`search` builds the same cluster for the model checker (``dsys.search``), with the
  same two properties as invariants: ``search().bfs()`` explores every interleaving;
* :func:`stable_leader` runs Multi-Paxos (:class:`~dsys.paxos.MultiPaxosServer`): a
  leader elected once, then phase 2 only, a crash of the leader, a new leader that
  recovers the log. ``dsys demo paxos`` shows the scenario's duel, then this.

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

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from dsys import Network, Simulation, Trace
from dsys.check.report import Report
from dsys.paxos.checkers import check_agreement, check_stability, check_validity
from dsys.paxos.multi import NOOP_VALUE, MultiPaxosClient, MultiPaxosServer
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
from dsys.trace import terminal

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
    "stable_leader",
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


def stable_leader(seed: int = 0) -> Simulation:
    """Multi-Paxos on three servers under one client appending to a key: the leader runs
    phase 1 once, crashes at t=1 s, a new leader recovers the log; the old one restarts at
    t=2 s and catches up. Returns the simulation, run to t=3 s."""
    servers = ("s1", "s2", "s3")
    sim = Simulation(seed=seed, network=Network(drop=0.02))
    for server_id in servers:
        sim.add_node(server_id, MultiPaxosServer)
    sim.add_client("c1", functools.partial(MultiPaxosClient, servers), workload=_append,
                   ops=None, think=0.05)
    sim.run(until=1.0)
    leaders = [n for n in servers if getattr(sim.node(n), "is_leader", False)]
    for leader in leaders:
        sim.crash(leader)
    sim.run(until=2.0)
    for leader in leaders:
        sim.restart(leader)
    sim.run(until=3.0)
    return sim


def present(sim: Simulation, console: Console, *, everything: bool = False) -> None:
    """The duel of single-decree Paxos (this demo's scenario), then Multi-Paxos with a
    stable leader (:func:`stable_leader`, same seed); each with the checkers' verdict."""
    console.print(Rule("1. Single-decree Paxos: two clients, two proposers, one value"))
    shown = sim.trace if everything else sim.trace.filter(kinds=KINDS)
    console.print(terminal.render(shown, nodes=list(sim.node_ids)))
    _verdicts(console, (check_agreement(sim.trace), check_validity(sim.trace),
                        check_stability(sim.trace, acceptors=len(SERVERS))))
    multi = stable_leader(sim.seed)
    console.print(Rule("2. Multi-Paxos: a stable leader, its crash, a new leader recovers"))
    story = Trace([e for e in multi.trace if everything or e.kind in ("crash", "restart")
                   or (e.kind == "note" and e.data.get("event") == "lead")
                   or (e.kind == "log" and not str(e.data.get("text")).startswith("ballot"))])
    console.print(terminal.render(story, nodes=list(multi.node_ids), title=(
        "every event" if everything else "leaders, crashes, restarts (--all: every event)")))
    applied = {n: getattr(multi.node(n), "applied", None) for n in ("s1", "s2", "s3")}
    console.print(f"slots applied by each server at t=3 s: {applied}")
    _verdicts(console, (check_agreement(multi.trace),
                        check_validity(multi.trace, noop=NOOP_VALUE),
                        check_stability(multi.trace, acceptors=3)))


def _verdicts(console: Console, reports: tuple[Report, ...]) -> None:
    for report in reports:
        console.print(Text(report.explain(), style="green" if report.ok else "bold red"))


def _append(rng: Random) -> dict[str, Any]:
    """The stable-leader client's operation: append a digit to ``x``."""
    return {"f": "append", "key": "x", "value": str(rng.randrange(10))}
