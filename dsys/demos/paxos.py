"""Single-decree Paxos: three servers agree on one value that two clients propose.

Paxos (Lamport, "The Part-Time Parliament", 1998; explained in "Paxos Made Simple",
2001) lets a set of servers choose one value even when messages are late, duplicated,
reordered or lost, and servers crash and restart. Each server here plays all three roles
of the paper. As a *proposer* it takes a client's value and picks a ballot
``(round, server id)``, higher than any it has promised. Phase 1: it sends
``Prepare(ballot)`` (1a); an *acceptor* that has promised nothing higher promises to
ignore lower ballots and answers ``Promise`` (1b) with the highest ballot and value it has
accepted. Phase 2: with promises from a majority, the proposer sends those acceptors
``Accept(ballot, value)`` (2a), where ``value`` is the value of the highest accepted ballot
among the promises, or its client's value if there is none: so a value that may already
have been chosen is never replaced. An acceptor accepts unless it has promised a higher
ballot, and answers ``Accepted`` (2b). With a majority of ``Accepted`` the value is chosen:
the proposer tells every *learner* with ``Decided``, and the servers tell their clients.
Any two majorities share an acceptor, which is what makes two different values impossible.
Acceptors and learners write their state to storage (synced) before they answer, so a
crash and restart cannot make them forget a promise.

This module is small on purpose, for the model checker (``dsys.search``) to explore every
interleaving: no timers (unless ``retry`` is given), one ballot per client request, ballot
numbers chosen without randomness, and a server's messages to itself handled at once
rather than sent. The cluster mirrors Stateright's Paxos example: servers
``s1``, ``s2``, ``s3``; client ``c1`` proposes ``"A"`` to ``s1`` while ``c2`` proposes
``"B"`` to ``s2``. :func:`agreement` and :func:`validity` are the safety properties,
:func:`all_decided` the goal; each reads only ``view.nodes`` (live server id -> node), so
it works on a :class:`~dsys.Simulation` and on a model checker's state alike.

Example:
    >>> sim = scenario(seed=1)
    >>> sim.run()
    >>> all_decided(sim) and agreement(sim) and validity(sim)
    True
    >>> sorted((node_id, node.decided) for node_id, node in sim.nodes.items())
    [('s1', 'B'), ('s2', 'B'), ('s3', 'B')]
    >>> [(e["client"], e["type"], e["value"]) for e in sim.history]
    [('c1', 'invoke', 'A'), ('c2', 'invoke', 'B'), ('c2', 'ok', 'B'), ('c1', 'ok', 'B')]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from random import Random
from typing import Any, Protocol

from dsys import Client, Network, Node, Simulation, message

SUMMARY = "three servers run single-decree Paxos on two clients' proposals"
KINDS = ["recv", "log"]
UNTIL = 1.0

#: A ballot: (round, id of the proposing server). Tuples compare round first, then id, so
#: two servers never use the same ballot.
Ballot = tuple[int, str]
#: Lower than every real ballot (rounds start at 1).
NO_BALLOT: Ballot = (0, "")

#: The cluster of the scenario, as in Stateright's Paxos example.
SERVERS = ("s1", "s2", "s3")
#: Client id -> (the server it asks, the value it proposes).
CLIENTS = {"c1": ("s1", "A"), "c2": ("s2", "B")}


# ----- messages ----------------------------------------------------------------------------


@message
class Propose:
    """A client asks a server to get ``value`` chosen."""

    value: str


@message
class Prepare:
    """Phase 1a: a proposer asks the acceptors to promise ``ballot``."""

    ballot: Ballot


@message
class Promise:
    """Phase 1b: an acceptor promises ``ballot`` and reports what it accepted last
    (``accepted`` is the ballot, ``NO_BALLOT`` if none, and ``value`` its value)."""

    ballot: Ballot
    accepted: Ballot
    value: str | None


@message
class Accept:
    """Phase 2a: a proposer asks the acceptors to accept ``value`` in ``ballot``."""

    ballot: Ballot
    value: str


@message
class Accepted:
    """Phase 2b: an acceptor accepted the proposal of ``ballot``."""

    ballot: Ballot


@message
class Decided:
    """``value`` is chosen: sent to every learner (server), and by a server to its clients."""

    value: str


# ----- the server: proposer, acceptor and learner ---------------------------------------------


class PaxosServer(Node):
    """One Paxos server: proposer, acceptor and learner (see the module docstring).

    ``retry`` (seconds; None: never) makes a proposer whose ballot has not decided try
    again with a higher ballot, for simulator runs that lose messages. The model checker
    leaves it off, which keeps the state space finite.
    """

    def __init__(self, retry: float | None = None) -> None:
        super().__init__()
        self.retry = retry
        # Acceptor (durable: an acceptor must remember its promises across a crash).
        self.promised: Ballot = _ballot(self.storage.get("promised", NO_BALLOT))
        stored = self.storage.get("accepted")
        self.accepted: Ballot = NO_BALLOT if stored is None else _ballot(stored[0])
        self.accepted_value: str | None = None if stored is None else stored[1]
        # Learner (durable too: nobody would tell it again).
        self.decided: str | None = self.storage.get("decided")
        # Proposer: the client requests it took, sorted (client, value) pairs (durable, so
        # that it still answers its clients after a restart), and its ballot in progress
        # with the promises (1b) and acceptances (2b) it collected.
        self.requests: tuple[tuple[str, str], ...] = tuple(
            (client, value) for client, value in self.storage.get("requests", ()))
        self.ballot: Ballot | None = None
        self.value: str | None = None  # what it will propose in phase 2
        self.highest: Ballot = NO_BALLOT  # the highest accepted ballot reported in promises
        self.promises: tuple[str, ...] = ()
        self.accepts: tuple[str, ...] = ()

    @property
    def majority(self) -> int:
        """How many servers make a majority (2 of 3)."""
        return (len(self.peers) + 1) // 2 + 1

    # ----- handlers ----------------------------------------------------------------------

    def on_message(self, src: str, msg: object) -> None:
        """Route each message to the handler of its phase."""
        match msg:
            case Propose(value=value):
                self.on_propose(src, value)
            case Prepare(ballot=ballot):
                self.on_prepare(src, ballot)
            case Promise(ballot=ballot, accepted=accepted, value=value):
                self.on_promise(src, ballot, accepted, value)
            case Accept(ballot=ballot, value=value):
                self.on_accept(src, ballot, value)
            case Accepted(ballot=ballot):
                self.on_accepted(src, ballot)
            case Decided(value=value):
                self.on_decided(value)

    def on_propose(self, client: str, value: str) -> None:
        """A client's request: start phase 1 with a new ballot (once per request)."""
        if self.decided is not None:
            self.send(client, Decided(self.decided))
        elif (client, value) not in self.requests:  # not a duplicate
            self.requests = tuple(sorted({*self.requests, (client, value)}))
            self.persist()
            self.start_ballot(value)

    def on_prepare(self, src: str, ballot: Ballot) -> None:
        """Phase 1b (acceptor): promise a ballot higher than any promised before."""
        if ballot > self.promised:
            self.promised = ballot
            self.persist()
            self.tell(src, Promise(ballot, self.accepted, self.accepted_value))

    def on_promise(self, src: str, ballot: Ballot, accepted: Ballot, value: str | None
                   ) -> None:
        """Phase 2a (proposer): with promises from a majority, ask those acceptors to accept
        the value of the highest ballot accepted among the promises, or else our client's."""
        if ballot != self.ballot or src in self.promises:
            return  # an old ballot of ours, or a duplicate
        self.promises = tuple(sorted({*self.promises, src}))
        if accepted > self.highest and value is not None:
            self.highest, self.value = accepted, value
        if len(self.promises) == self.majority:
            assert self.value is not None
            for acceptor in self.promises:  # "to each of those acceptors", as in the paper
                self.tell(acceptor, Accept(ballot, self.value))

    def on_accept(self, src: str, ballot: Ballot, value: str) -> None:
        """Phase 2b (acceptor): accept unless a higher ballot was promised."""
        if ballot >= self.promised:
            self.promised = ballot
            self.accepted, self.accepted_value = ballot, value
            self.persist()
            self.tell(src, Accepted(ballot))

    def on_accepted(self, src: str, ballot: Ballot) -> None:
        """Chosen (proposer): a majority accepted our ballot; tell every learner."""
        if ballot != self.ballot or src in self.accepts:
            return
        self.accepts = tuple(sorted({*self.accepts, src}))
        if len(self.accepts) == self.majority:
            assert self.value is not None
            self.log(f"ballot {ballot} chose {self.value!r}")
            self.tell_servers(Decided(self.value))

    def on_decided(self, value: str) -> None:
        """Learner: remember the chosen value and tell the clients that asked us."""
        if self.decided is not None:
            return  # a duplicate notice
        self.decided = value
        self.persist()
        self.log(f"DECIDED {value!r}")
        if self.retry is not None:
            self.cancel_timer("retry")
        for client in sorted({client for client, _ in self.requests}):
            self.send(client, Decided(value))

    def on_timer(self, name: str) -> None:
        """With ``retry``: a ballot that has not decided yet starts over, higher."""
        if name == "retry" and self.decided is None and self.value is not None:
            self.start_ballot(self.value)  # perhaps a value adopted in phase 2a: still valid

    # ----- helpers ---------------------------------------------------------------------

    def start_ballot(self, value: str) -> None:
        """Phase 1a (proposer): pick a ballot above every one promised, ask for promises."""
        self.ballot = (self.promised[0] + 1, self.id)
        self.value, self.highest = value, NO_BALLOT
        self.promises, self.accepts = (), ()
        self.log(f"ballot {self.ballot} for {value!r}")
        if self.retry is not None:
            self.set_timer("retry", self.rng.uniform(self.retry, 2 * self.retry))
        self.tell_servers(Prepare(self.ballot))

    def tell_servers(self, msg: object) -> None:
        """Send ``msg`` to every server, this one included, in id order."""
        for server in sorted((*self.peers, self.id)):
            self.tell(server, msg)

    def tell(self, dst: str, msg: object) -> None:
        """Send ``msg`` to ``dst``; a server's message to itself (it is one of its own
        acceptors and learners) is handled at once, without crossing the network."""
        if dst == self.id:
            self.on_message(dst, msg)
        else:
            self.send(dst, msg)

    def persist(self) -> None:
        """Write the durable state, synced before any message that depends on it leaves."""
        accepted = None if self.accepted == NO_BALLOT else [self.accepted, self.accepted_value]
        self.storage.update({"promised": self.promised, "accepted": accepted,
                             "decided": self.decided, "requests": self.requests})
        self.storage.sync()


def _ballot(stored: Any) -> Ballot:
    """A ballot read back from storage (JSON makes the tuple a list)."""
    return (int(stored[0]), str(stored[1]))


# ----- the client ----------------------------------------------------------------------------


class PaxosClient(Client):
    """Proposes its operation's value to one server and completes ``ok`` with the value
    that was chosen (which may be another client's).

    ``server`` is the server it asks; by default the one numbered like the client
    (``c2`` asks ``s2``).
    """

    def __init__(self, server: str | None = None) -> None:
        super().__init__()
        self.server = server or "s" + self.id.lstrip("c")

    def on_invoke(self, op: dict[str, Any]) -> None:
        """Send the proposal (no retry: the server does not lose it unless it crashes)."""
        self.send(self.server, Propose(op["value"]))

    def on_message(self, src: str, msg: object) -> None:
        """The decided value completes the operation."""
        if isinstance(msg, Decided) and self.current_op is not None:
            self.ok(msg.value)


# ----- properties ----------------------------------------------------------------------------


class View(Protocol):
    """What the properties read: the live servers by id (a Simulation has it)."""

    @property
    def nodes(self) -> Mapping[str, object]:
        """Live node id -> node object (crashed nodes are absent)."""
        ...


def _servers(view: View) -> list[PaxosServer]:
    return [node for _, node in sorted(view.nodes.items()) if isinstance(node, PaxosServer)]


def agreement(view: View) -> bool:
    """Safety: no two servers decided different values."""
    return len({s.decided for s in _servers(view) if s.decided is not None}) <= 1


def validity(view: View) -> bool:
    """Safety: every value accepted or decided was proposed by a client.

    Judged while every server is up: the client requests a server took are durable, but
    out of sight while it is crashed (it may be the only one that knows a value)."""
    servers = _servers(view)
    if not servers or len(servers) < len(servers[0].peers) + 1:
        return True
    proposed = {value for s in servers for _, value in s.requests}
    used = {s.decided for s in servers} | {s.accepted_value for s in servers}
    return used - {None} <= proposed


def all_decided(view: View) -> bool:
    """The goal: every live server has decided."""
    servers = _servers(view)
    return bool(servers) and all(s.decided is not None for s in servers)


# ----- the scenario ---------------------------------------------------------------------------


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


def _proposal(value: str, rng: Random) -> dict[str, Any]:
    """A client's one operation: propose ``value``."""
    return {"f": "propose", "value": value}
