"""Single-decree Paxos: servers that are proposers, acceptors and learners choose one value.

Paxos (Lamport, "The Part-Time Parliament", 1998; explained in "Paxos Made Simple",
2001) lets a set of servers choose one value even when messages are late, duplicated,
reordered or lost, and servers crash and restart. Each :class:`PaxosServer` plays all three
roles of the paper, in three marked sections of the class:

* **proposer**: it takes a client's value and picks a ballot ``(round, server id)`` higher
  than any it has promised. Phase 1: it sends ``Prepare(ballot)`` (1a) to every acceptor.
  With ``Promise`` answers (1b) from a majority it sends those acceptors
  ``Accept(ballot, value)`` (2a), where ``value`` is the value of the highest ballot
  accepted among the promises, or its client's value if there is none: so a value that
  may already have been chosen is never replaced (Paxos Made Simple, P2c). With ``retry``
  set, a ballot that has not decided after a timeout starts over, higher, after a random
  backoff that doubles at each attempt (from the node's seeded ``rng``), so two dueling
  proposers soon stop preempting each other;
* **acceptor**: it promises a ballot higher than any promised before, reporting what it
  accepted last, and accepts a ballot at least as high as its promise. Its promise and its
  accepted ``(ballot, value)`` are written to storage **and synced before it answers**: a
  crash and restart cannot make it forget a promise or an acceptance;
* **learner**: a proposer whose ballot a majority accepted tells every learner with
  ``Decided``; a learner keeps the value (durably) and tells its clients.

Any two majorities share an acceptor, which is what makes two different values
impossible.

Rules of this file: no randomness but the backoff (none without ``retry``); a server's
messages to itself are handled at once rather than sent (it is one of its own acceptors
and learners), and ballots are chosen without randomness, which keeps the state space of
the model checker (``dsys.search``) small; protocol steps are trace notes the checkers of
:mod:`dsys.paxos.checkers` read: ``propose`` (``value``), ``accept`` (``slot`` 0,
``ballot``, ``value``) and ``learn`` (``slot`` 0, ``value``).

Example:
    >>> from dsys import Simulation
    >>> from dsys.paxos import PaxosServer, check_agreement
    >>> sim = Simulation(seed=1)
    >>> for name in ("s1", "s2", "s3"):
    ...     sim.add_node(name, PaxosServer)
    >>> sim.run(until=0.1)
    >>> sim.node("s1").propose("A")  # as if a client asked s1
    >>> sim.run(until=0.5)
    >>> [sim.node(name).decided for name in ("s1", "s2", "s3")]
    ['A', 'A', 'A']
    >>> print(check_agreement(sim.trace).explain())
    agreement: ok (1 slots checked)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from dsys.core.client import Client
from dsys.core.messages import message
from dsys.core.node import Node
from dsys.errors import ConfigError

#: A ballot: (round, id of the proposing server). Tuples compare round first, then id, so
#: two servers never use the same ballot.
Ballot = tuple[int, str]
#: Lower than every real ballot (rounds start at 1).
NO_BALLOT: Ballot = (0, "")


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

    Args:
        retry: seconds (None: never) after which a proposer whose ballot has not decided
            tries again with a higher ballot, backing off at random; for runs that lose
            messages or crash servers. The model checker leaves it off, which keeps the
            state space finite.

    Example:
        >>> PaxosServer(retry=0).retry
        Traceback (most recent call last):
        ...
        dsys.errors.ConfigError: retry must be a number of seconds > 0 or None, got 0
    """

    def __init__(self, retry: float | None = None) -> None:
        super().__init__()
        if retry is not None and (not isinstance(retry, int | float) or retry <= 0):
            raise ConfigError(f"retry must be a number of seconds > 0 or None, got {retry!r}")
        self.retry = retry
        # Acceptor (durable: an acceptor must remember its promises across a crash).
        self.promised: Ballot = NO_BALLOT
        self.accepted: Ballot = NO_BALLOT
        self.accepted_value: str | None = None
        # Learner (durable too: nobody would tell it again).
        self.decided: str | None = None
        # Proposer: the client requests it took, sorted (client, value) pairs (durable, so
        # that it still answers its clients after a restart), and its ballot in progress
        # with the promises (1b) and acceptances (2b) it collected.
        self.requests: tuple[tuple[str, str], ...] = ()
        self.ballot: Ballot | None = None
        self.value: str | None = None  # what it will propose in phase 2
        self.highest: Ballot = NO_BALLOT  # the highest accepted ballot reported in promises
        self.promises: tuple[str, ...] = ()
        self.accepts: tuple[str, ...] = ()
        self.attempts = 0  # ballots started since the last request: the backoff exponent

    @property
    def majority(self) -> int:
        """How many servers make a majority (2 of 3)."""
        return (len(self.peers) + 1) // 2 + 1

    def on_start(self) -> None:
        """Read the durable state back (empty on a first start)."""
        storage = self.storage
        self.promised = _ballot(storage.get("promised") or NO_BALLOT)
        stored = storage.get("accepted")
        if stored is not None:
            self.accepted, self.accepted_value = _ballot(stored[0]), str(stored[1])
        self.decided = storage.get("decided")
        self.requests = tuple((str(c), str(v)) for c, v in storage.get("requests", ()))

    def on_recover(self) -> None:
        """After a crash: reload, and (with ``retry``) take up an undecided request again,
        since the proposer's ballot in progress was lost."""
        self.on_start()
        if self.retry is not None and self.decided is None and self.requests:
            self.start_ballot(self.requests[0][1])

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

    def on_timer(self, name: str) -> None:
        """With ``retry``: a ballot that has not decided yet starts over, higher."""
        if name == "retry" and self.decided is None and self.value is not None:
            self.attempts += 1
            self.start_ballot(self.value)  # perhaps a value adopted in phase 2a: still valid

    # ----- proposer ----------------------------------------------------------------------

    def propose(self, value: str, client: str = "") -> None:
        """Take ``value`` to propose (for ``client``, told the outcome; "" for none)."""
        if self.decided is not None:
            if client:
                self.send(client, Decided(self.decided))
        elif (client, value) not in self.requests:  # not a duplicate
            self.requests = tuple(sorted({*self.requests, (client, value)}))
            self.persist()
            self.note("propose", value=value)
            self.attempts = 0
            self.start_ballot(value)

    def on_propose(self, client: str, value: str) -> None:
        """A client's request: start phase 1 with a new ballot (once per request)."""
        self.propose(value, client)

    def start_ballot(self, value: str) -> None:
        """Phase 1a: pick a ballot above every one promised, ask every acceptor to promise."""
        self.ballot = (self.promised[0] + 1, self.id)
        self.value, self.highest = value, NO_BALLOT
        self.promises, self.accepts = (), ()
        self.log(f"ballot {self.ballot} for {value!r}")
        if self.retry is not None:  # randomized exponential backoff, capped at 2^4
            low = self.retry * 2 ** min(self.attempts, 4)
            self.set_timer("retry", self.rng.uniform(low, 2 * low))
        self.tell_servers(Prepare(self.ballot))

    def on_promise(self, src: str, ballot: Ballot, accepted: Ballot, value: str | None
                   ) -> None:
        """Phase 2a: with promises from a majority, ask those acceptors to accept the value
        of the highest ballot accepted among the promises, or else our client's."""
        if ballot != self.ballot or src in self.promises or len(self.promises) >= self.majority:
            return  # an old ballot of ours, a duplicate, or phase 2 has begun: a late
            # promise must not change the value already sent in Accept
        self.promises = tuple(sorted({*self.promises, src}))
        if accepted > self.highest and value is not None:
            self.highest, self.value = accepted, value
        if len(self.promises) == self.majority:
            assert self.value is not None
            for acceptor in self.promises:  # "to each of those acceptors", as in the paper
                self.tell(acceptor, Accept(ballot, self.value))

    def on_accepted(self, src: str, ballot: Ballot) -> None:
        """Chosen: a majority accepted our ballot; tell every learner."""
        if ballot != self.ballot or src in self.accepts:
            return
        self.accepts = tuple(sorted({*self.accepts, src}))
        if len(self.accepts) == self.majority:
            assert self.value is not None
            self.log(f"ballot {ballot} chose {self.value!r}")
            self.tell_servers(Decided(self.value))

    # ----- acceptor ----------------------------------------------------------------------

    def on_prepare(self, src: str, ballot: Ballot) -> None:
        """Phase 1b: promise a ballot higher than any promised before (synced first)."""
        if ballot > self.promised:
            self.promised = ballot
            self.persist()
            self.tell(src, Promise(ballot, self.accepted, self.accepted_value))

    def on_accept(self, src: str, ballot: Ballot, value: str) -> None:
        """Phase 2b: accept unless a higher ballot was promised (synced first)."""
        if ballot >= self.promised:
            self.promised = ballot
            self.accepted, self.accepted_value = ballot, value
            self.persist()
            self.note("accept", slot=0, ballot=list(ballot), value=value)
            self.tell(src, Accepted(ballot))

    # ----- learner -----------------------------------------------------------------------

    def on_decided(self, value: str) -> None:
        """Remember the chosen value (synced) and tell the clients that asked us."""
        if self.decided is not None:
            return  # a duplicate notice
        self.decided = value
        self.persist()
        self.note("learn", slot=0, value=value)
        self.log(f"DECIDED {value!r}")
        if self.retry is not None:
            self.cancel_timer("retry")
        for client in sorted({client for client, _ in self.requests if client}):
            self.send(client, Decided(value))

    # ----- helpers -----------------------------------------------------------------------

    def tell_servers(self, msg: object) -> None:
        """Send ``msg`` to every server, this one included, in id order."""
        for server in sorted((*self.peers, self.id)):
            self.tell(server, msg)

    def tell(self, dst: str, msg: object) -> None:
        """Send ``msg`` to ``dst``; a server's message to itself is handled at once."""
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
    (``c2`` asks ``s2``). With ``retry`` (seconds) it sends the proposal again until it
    hears the outcome (a server that crashed before it stored the request forgets it).
    """

    def __init__(self, server: str | None = None, retry: float | None = None) -> None:
        super().__init__()
        self.server = server or "s" + self.id.lstrip("c")
        self.retry = retry

    def on_invoke(self, op: dict[str, Any]) -> None:
        """Send the proposal."""
        self.send(self.server, Propose(op["value"]))
        if self.retry is not None:
            self.set_timer("retry", self.retry)

    def on_timer(self, name: str) -> None:
        """Send the proposal again (a duplicate is harmless)."""
        op = self.current_op
        if name == "retry" and op is not None and self.retry is not None:
            self.send(self.server, Propose(op["value"]))
            self.set_timer("retry", self.retry)

    def on_message(self, src: str, msg: object) -> None:
        """The decided value completes the operation."""
        if isinstance(msg, Decided) and self.current_op is not None:
            if self.retry is not None:
                self.cancel_timer("retry")
            self.ok(msg.value)


# ----- properties on live servers (invariants) ---------------------------------------------


class View(Protocol):
    """What the properties read: the live servers by id (a Simulation has it, and so does a
    model checker's state)."""

    @property
    def nodes(self) -> Mapping[str, object]:
        """Live node id -> node object (crashed nodes are absent)."""
        ...


def _servers(view: View) -> list[PaxosServer]:
    return [node for _, node in sorted(view.nodes.items()) if isinstance(node, PaxosServer)]


def agreement(view: View) -> bool:
    """Safety, as an invariant: no two live servers decided different values.

    Example:
        >>> from types import SimpleNamespace
        >>> a, b = PaxosServer(), PaxosServer()
        >>> a.decided, b.decided = "A", "B"
        >>> agreement(SimpleNamespace(nodes={"s1": a, "s2": b}))
        False
    """
    return len({s.decided for s in _servers(view) if s.decided is not None}) <= 1


def validity(view: View) -> bool:
    """Safety, as an invariant: every value accepted or decided was proposed by a client.

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
