"""Multi-Paxos with a stable leader: a replicated log of commands applied in order to a
key-value state machine.

Single-decree Paxos chooses one value; a log is a sequence of single-decree instances, one
per *slot*. Running both phases for every slot would cost two round trips per command, so
Multi-Paxos (Lamport, "Paxos Made Simple" §3; van Renesse and Altinbuken, "Paxos Made
Moderately Complex", 2015) lets one proposer, the *leader*, run phase 1 **once for all
slots** and then only phase 2 per command:

* **phase 1, once per leader**: a server that has not heard from a leader for an election
  timeout (random, from its seeded ``rng``) picks a ballot ``(round, id)`` above every one
  it has seen and sends ``Prepare(ballot, first)``, where ``first`` is its first slot not
  known to be chosen. An acceptor that promised nothing higher promises the ballot for
  *every* slot and answers with all it accepted from ``first`` on;
* **recovery**: with promises from a majority the server leads. For every slot from
  ``first`` to the highest reported, it re-proposes the value of the highest ballot any
  promise reported (it may have been chosen), and fills a slot nobody reported with a
  :data:`NOOP`, so the log has no gaps and later commands can be applied;
* **phase 2, per slot**: the leader gives each client command the next free slot and
  sends ``Accept(ballot, slot, command)``; acceptors accept unless they promised a higher
  ballot; with ``Accepted`` from a majority the command is chosen, and the leader tells
  the learners (``Chosen``);
* **a stable leader**: the leader sends a ``Heartbeat`` every ``heartbeat`` seconds with
  the length of its chosen prefix (a learner that lacks a slot asks ``CatchUp`` and gets
  the slots again). A server that heard a leader within the election timeout refuses to
  promise another proposer's ballot (a *lease*: a server that was cut off and comes back
  does not depose a leader that is doing fine), so in calm weather one leader keeps its
  ballot and nobody competes. A leader that learns of a higher ballot (``Nack``) steps
  down;
* **the state machine**: every server applies the chosen commands in slot order to a
  :class:`KVStore` (``get``, ``put``, ``append``); a command of a client session is
  applied once, whatever the retries (the store remembers each session's last number and
  result); the leader answers the client once the command is applied;
* **clients** (:class:`MultiPaxosClient`) send each operation to the server they believe
  leads, follow a ``NotLeader`` hint, try the next server on silence and give up after a
  while (outcome unknown: ``info``).

Rules of this file: an acceptor's promise and each accepted ``(ballot, command)`` are
written to storage and synced before the reply that depends on them; so is each chosen
command a learner keeps (a restarted server re-applies its chosen prefix from storage).
The leader's bookkeeping (proposals in flight, promises collected) is volatile: a new
leader rebuilds it from phase 1. Protocol steps are trace notes for
:mod:`dsys.paxos.checkers`: ``propose`` (``value``: a client's command, by the leader that
takes it), ``accept`` (``slot``, ``ballot``, ``value``) and ``learn`` (``slot``,
``value``); plus ``lead`` (``ballot``, ``first``, ``recovered``) when a server becomes
leader. Commands appear in notes as lists (:meth:`Command.as_list`), the no-op as
:data:`NOOP_VALUE`.

Example:
    >>> from dsys import Simulation
    >>> sim = Simulation(seed=5)
    >>> for name in ("s1", "s2", "s3"):
    ...     sim.add_node(name, MultiPaxosServer)
    >>> sim.run(until=1.0)
    >>> leaders = [n for n in ("s1", "s2", "s3") if sim.node(n).is_leader]
    >>> len(leaders)
    1
    >>> sim.node(leaders[0]).submit(Command("demo", 1, "append", "x", "a"))
    >>> sim.node(leaders[0]).submit(Command("demo", 2, "append", "x", "b"))
    >>> sim.run(until=1.5)
    >>> [sim.node(n).store.data for n in ("s1", "s2", "s3")]
    [{'x': 'ab'}, {'x': 'ab'}, {'x': 'ab'}]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dsys.core.client import Client
from dsys.core.messages import message
from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.paxos.single import NO_BALLOT, Ballot

# ----- commands and the state machine ------------------------------------------------------


@message
class Command:
    """One command for the state machine: operation ``f`` (``get``, ``put``, ``append``,
    or ``noop``) on ``key`` with ``value``, number ``seq`` of client session ``session``."""

    session: str
    seq: int
    f: str
    key: str
    value: str

    def as_list(self) -> list[Any]:
        """The command as a JSON list, for trace notes.

        Example:
            >>> Command("c1-7", 3, "put", "x", "v").as_list()
            ['c1-7', 3, 'put', 'x', 'v']
        """
        return [self.session, self.seq, self.f, self.key, self.value]


#: What a new leader puts in a slot nobody reported: applying it changes nothing.
NOOP = Command("", 0, "noop", "", "")
#: The no-op as it appears in trace notes (``check_validity(trace, noop=NOOP_VALUE)``).
NOOP_VALUE = NOOP.as_list()


class KVStore:
    """The state machine: string keys and values, and per client session the number and
    result of its last command, so that a retried command is applied once.

    Example:
        >>> store = KVStore()
        >>> store.apply(Command("c1", 1, "append", "x", "a"))
        'a'
        >>> store.apply(Command("c1", 1, "append", "x", "a"))  # the same command again
        'a'
        >>> store.apply(Command("c2", 1, "get", "x", "")), store.data
        ('a', {'x': 'a'})
    """

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.sessions: dict[str, tuple[int, str]] = {}  # session -> (last seq, its result)

    def apply(self, command: Command) -> str:
        """Apply ``command`` (unless its session already did) and return its result: the
        key's value after the command (what a ``get`` reads)."""
        if command.f == "noop":
            return ""
        last = self.sessions.get(command.session)
        if last is not None and command.seq <= last[0]:
            return last[1]  # a duplicate: applied before (or overtaken by a later command)
        if command.f == "put":
            self.data[command.key] = command.value
        elif command.f == "append":
            self.data[command.key] = self.data.get(command.key, "") + command.value
        result = self.data.get(command.key, "")
        self.sessions[command.session] = (command.seq, result)
        return result

    def result(self, session: str, seq: int) -> str | None:
        """The result of command ``seq`` of ``session`` if it is the last one applied."""
        last = self.sessions.get(session)
        return last[1] if last is not None and last[0] == seq else None


# ----- messages ----------------------------------------------------------------------------


@message
class Request:
    """A client asks for ``command`` to be run."""

    command: Command


@message
class Reply:
    """The command ``seq`` of ``session`` was applied; ``result`` is what a get reads."""

    session: str
    seq: int
    result: str


@message
class NotLeader:
    """The server does not lead; ``leader`` is the one it believes does (None: unknown)."""

    session: str
    seq: int
    leader: str | None


@message
class Prepare:
    """Phase 1a, for every slot from ``first`` on."""

    ballot: Ballot
    first: int


@message
class Promise:
    """Phase 1b: the acceptor promises ``ballot`` for every slot, and reports each
    ``(slot, accepted ballot, command)`` it accepted from the prepare's ``first`` on."""

    ballot: Ballot
    accepted: tuple[tuple[int, Ballot, Command], ...]


@message
class Nack:
    """The acceptor refused ``ballot``: it promised ``promised`` (or follows a leader)."""

    ballot: Ballot
    promised: Ballot


@message
class Accept:
    """Phase 2a: accept ``command`` in ``slot`` in ``ballot``."""

    ballot: Ballot
    slot: int
    command: Command


@message
class Accepted:
    """Phase 2b: the acceptor accepted ``slot`` in ``ballot``."""

    ballot: Ballot
    slot: int


@message
class Chosen:
    """To the learners: ``command`` is chosen in ``slot``."""

    slot: int
    command: Command


@message
class Heartbeat:
    """The leader of ``ballot`` is alive; it knows every slot below ``chosen`` is chosen."""

    ballot: Ballot
    chosen: int


@message
class CatchUp:
    """A learner asks the leader for the chosen commands from slot ``first`` on."""

    first: int


# ----- the server --------------------------------------------------------------------------

#: The roles of a server and the events that move it between them (drawn on the concept
#: page): every server is an acceptor and a learner in every role.
TRANSITIONS = {
    ("follower", "election timeout"): "candidate",
    ("candidate", "election timeout"): "candidate",  # a new, higher ballot
    ("candidate", "promises from a majority"): "leader",
    ("candidate", "a higher ballot"): "follower",
    ("leader", "a higher ballot"): "follower",
}

#: How many chosen commands a leader sends back per ``CatchUp``.
CATCH_UP_BATCH = 64


class MultiPaxosServer(Node):
    """One Multi-Paxos server: acceptor, learner and, when elected, leader (proposer).

    Args:
        heartbeat: seconds between the leader's heartbeats (and retransmissions).
        election_timeout: a follower that heard no leader for a random time between this
            and twice this starts phase 1.

    Example:
        >>> MultiPaxosServer(heartbeat=0.5, election_timeout=0.5)
        Traceback (most recent call last):
        ...
        dsys.errors.ConfigError: election_timeout (0.5) must be larger than heartbeat (0.5)
    """

    def __init__(self, heartbeat: float = 0.05, election_timeout: float = 0.2) -> None:
        super().__init__()
        if not isinstance(heartbeat, int | float) or heartbeat <= 0:
            raise ConfigError(f"heartbeat must be a number of seconds > 0, got {heartbeat!r}")
        if not isinstance(election_timeout, int | float) or election_timeout <= heartbeat:
            # so that a leader's heartbeats arrive before a follower times out
            raise ConfigError(f"election_timeout ({election_timeout!r}) must be larger than "
                              f"heartbeat ({heartbeat!r})")
        self.heartbeat = heartbeat
        self.election_timeout = election_timeout
        # Acceptor (durable).
        self.promised: Ballot = NO_BALLOT
        self.accepted: dict[int, tuple[Ballot, Command]] = {}
        # Learner (durable) and the state machine (rebuilt from the chosen prefix).
        self.chosen: dict[int, Command] = {}
        self.applied = 0  # every slot up to this one is applied
        self.store = KVStore()
        # Volatile: the role, who leads (as far as we know) and when we last heard it.
        self.role = "follower"
        self.leader: str | None = None
        self.heard = -1.0  # our clock when the leader last spoke; -1: never
        self.highest: Ballot = NO_BALLOT  # the highest ballot seen, for our next round
        self.ballot: Ballot = NO_BALLOT  # ours, as candidate or leader
        self.first = 1  # candidate: the first slot the prepare asked about
        self.promises: dict[str, tuple[tuple[int, Ballot, Command], ...]] = {}
        # Leader: slot -> (command, acceptors that accepted it, when last sent), until the
        # command is chosen.
        self.proposals: dict[int, tuple[Command, frozenset[str], float]] = {}
        self.next_slot = 1
        self.waiting: dict[tuple[str, int], tuple[str, int]] = {}  # (session, seq) -> client, slot

    @property
    def majority(self) -> int:
        """How many servers make a majority."""
        return (len(self.peers) + 1) // 2 + 1

    @property
    def is_leader(self) -> bool:
        """True while this server leads (it finished phase 1 and saw no higher ballot)."""
        return self.role == "leader"

    @property
    def first_unchosen(self) -> int:
        """The first slot this server does not know to be chosen."""
        slot = self.applied + 1
        while slot in self.chosen:
            slot += 1
        return slot

    # ----- start and recovery --------------------------------------------------------------

    def on_start(self) -> None:
        """Read the durable state back, re-apply the chosen prefix, wait for a leader."""
        storage = self.storage
        self.promised = _ballot(storage.get("promised") or NO_BALLOT)
        self.highest = self.promised
        for key in storage:
            kind, _, slot = key.partition("/")
            if kind == "accepted":
                ballot, command = storage[key]
                self.accepted[int(slot)] = (_ballot(ballot), Command(*command))
            elif kind == "chosen":
                self.chosen[int(slot)] = Command(*storage[key])
        self.apply_chosen()
        self.arm_election()

    # ----- messages ------------------------------------------------------------------------

    def on_message(self, src: str, msg: object) -> None:
        """Route each message to its role's handler."""
        match msg:
            case Request(command=command):
                self.on_request(src, command)
            case Prepare(ballot=ballot, first=first):
                self.on_prepare(src, ballot, first)
            case Promise(ballot=ballot, accepted=accepted):
                self.on_promise(src, ballot, accepted)
            case Nack(promised=promised):
                self.on_nack(promised)
            case Accept(ballot=ballot, slot=slot, command=command):
                self.on_accept(src, ballot, slot, command)
            case Accepted(ballot=ballot, slot=slot):
                self.on_accepted(src, ballot, slot)
            case Chosen(slot=slot, command=command):
                self.learn(slot, command)
            case Heartbeat(ballot=ballot, chosen=chosen):
                self.on_heartbeat(src, ballot, chosen)
            case CatchUp(first=first):
                self.on_catch_up(src, first)

    def on_timer(self, name: str) -> None:
        """``election``: no leader heard for a while, run phase 1; ``heartbeat``: lead."""
        if name == "election" and self.role != "leader":
            self.start_phase1()
        elif name == "heartbeat" and self.role == "leader":
            self.send_heartbeats()

    # ----- acceptor --------------------------------------------------------------------------

    def on_prepare(self, src: str, ballot: Ballot, first: int) -> None:
        """Phase 1b: promise ``ballot`` for every slot, unless a higher ballot was promised
        or (the lease) we follow a live leader other than ``src``."""
        self.see(ballot)
        leased = (self.leader not in (None, src) and self.heard >= 0
                  and self.now - self.heard < self.election_timeout)
        if ballot <= self.promised or leased:
            self.send(src, Nack(ballot, self.promised))
            return
        self.promised = ballot
        self.storage["promised"] = list(ballot)
        self.storage.sync()
        if self.role != "follower" and ballot > self.ballot:
            self.step_down()
        report = tuple((slot, b, command) for slot, (b, command)
                       in sorted(self.accepted.items()) if slot >= first)
        self.tell(src, Promise(ballot, report))

    def on_accept(self, src: str, ballot: Ballot, slot: int, command: Command) -> None:
        """Phase 2b: accept unless a higher ballot was promised; the sender leads."""
        self.see(ballot)
        if ballot < self.promised:
            self.send(src, Nack(ballot, self.promised))
            return
        self.follow(src, ballot)
        if self.accepted.get(slot) != (ballot, command):
            self.promised = ballot
            self.accepted[slot] = (ballot, command)
            self.storage.update({"promised": list(ballot),
                                 f"accepted/{slot}": [list(ballot), command.as_list()]})
            self.storage.sync()
            self.note("accept", slot=slot, ballot=list(ballot), value=command.as_list())
        self.tell(src, Accepted(ballot, slot))

    # ----- learner ---------------------------------------------------------------------------

    def learn(self, slot: int, command: Command) -> None:
        """``command`` is chosen in ``slot``: keep it (synced), apply what is now in order."""
        if slot in self.chosen or slot <= self.applied:
            return
        self.chosen[slot] = command
        self.storage[f"chosen/{slot}"] = command.as_list()
        self.storage.sync()
        self.note("learn", slot=slot, value=command.as_list())
        self.apply_chosen()

    def apply_chosen(self) -> None:
        """Apply the chosen commands in slot order, as far as there is no gap; the leader
        answers the clients waiting for them."""
        while self.applied + 1 in self.chosen:
            self.applied += 1
            command = self.chosen[self.applied]
            result = self.store.apply(command)
            waiting = self.waiting.pop((command.session, command.seq), None)
            if waiting is not None and self.role == "leader":
                self.send(waiting[0], Reply(command.session, command.seq, result))

    def on_heartbeat(self, src: str, ballot: Ballot, chosen: int) -> None:
        """The leader is alive: follow it, and ask for the chosen slots we lack."""
        self.see(ballot)
        if ballot < self.promised:
            self.send(src, Nack(ballot, self.promised))
            return
        self.follow(src, ballot)
        if self.first_unchosen < chosen:
            self.send(src, CatchUp(self.first_unchosen))

    # ----- leader (proposer) -----------------------------------------------------------------

    def start_phase1(self) -> None:
        """Become a candidate: phase 1a with a ballot above every one seen, for all slots
        from the first one we do not know to be chosen."""
        self.role, self.leader = "candidate", None
        self.ballot = (max(self.highest[0], self.promised[0]) + 1, self.id)
        self.first = self.first_unchosen
        self.promises = {}
        self.log(f"phase 1 with ballot {self.ballot} from slot {self.first}")
        self.arm_election()  # if phase 1 stalls, try again, higher
        for peer in self.peers:
            self.send(peer, Prepare(self.ballot, self.first))
        if self.majority == 1:  # alone: our own promise is the majority
            self.tell(self.id, Prepare(self.ballot, self.first))

    def on_promise(self, src: str, ballot: Ballot,
                   accepted: tuple[tuple[int, Ballot, Command], ...]) -> None:
        """Collect promises; with a majority, recover every slot and lead.

        Our own acceptor promises last, once the others' promises make a majority with
        it: a candidate that the others refuse (they follow a live leader) has promised
        nothing, so it can follow that leader again without deposing it."""
        if self.role != "candidate" or ballot != self.ballot or src in self.promises:
            return
        self.promises[src] = accepted
        if len(self.promises) == self.majority - 1 and self.id not in self.promises:
            self.tell(self.id, Prepare(self.ballot, self.first))
        elif len(self.promises) >= self.majority:
            self.become_leader()

    def become_leader(self) -> None:
        """Recovery: re-propose, in every slot from ``first`` on that a promise reported,
        the command of the highest ballot; fill the gaps below the highest such slot with
        no-ops; then lead (phase 2 only, from now on)."""
        best: dict[int, tuple[Ballot, Command]] = {}
        for report in self.promises.values():
            for slot, ballot, command in report:
                if slot not in best or ballot > best[slot][0]:
                    best[slot] = (ballot, command)
        top = max(best, default=self.first - 1)
        self.role, self.leader, self.heard = "leader", self.id, self.now
        self.proposals, self.waiting = {}, {}
        self.next_slot = max(top + 1, self.first)
        self.note("lead", ballot=list(self.ballot), first=self.first,
                  recovered=len(best))
        self.log(f"leading with ballot {self.ballot}: recovered {len(best)} slot(s), "
                 f"filling {top - self.first + 1 - len(best)} gap(s)")
        self.cancel_timer("election")
        for slot in range(self.first, top + 1):
            if slot in self.chosen:
                continue
            command = best[slot][1] if slot in best else NOOP
            self.propose(slot, command)
        self.send_heartbeats()

    def on_request(self, client: str, command: Command) -> None:
        """A client's command: the leader gives it the next slot (once), the others point
        the client to the leader."""
        if self.role != "leader":
            self.send(client, NotLeader(command.session, command.seq, self.leader))
            return
        result = self.store.result(command.session, command.seq)
        if result is not None:  # applied already: a retry of a command we answered
            self.send(client, Reply(command.session, command.seq, result))
            return
        key = (command.session, command.seq)
        if key in self.waiting:
            self.waiting[key] = (client, self.waiting[key][1])  # answer where it asks now
            return
        self.note("propose", value=command.as_list())
        slot = self.next_slot
        self.next_slot += 1
        self.waiting[key] = (client, slot)
        self.propose(slot, command)

    def submit(self, command: Command) -> None:
        """Propose ``command`` as if a client had sent it (the leader only; for examples)."""
        if self.role != "leader":
            raise ConfigError(f"{self.id} does not lead; submit to the leader")
        self.note("propose", value=command.as_list())
        self.propose(self.next_slot, command)
        self.next_slot += 1

    def propose(self, slot: int, command: Command) -> None:
        """Phase 2a for ``slot``: ask every acceptor (ourselves first) to accept."""
        self.proposals[slot] = (command, frozenset(), self.now)
        for server in sorted((*self.peers, self.id)):
            if self.role == "leader":  # our own acceptor may have just deposed us
                self.tell(server, Accept(self.ballot, slot, command))

    def on_accepted(self, src: str, ballot: Ballot, slot: int) -> None:
        """Count acceptances; with a majority the slot is chosen: tell every learner."""
        if self.role != "leader" or ballot != self.ballot or slot not in self.proposals:
            return
        command, accepts, sent = self.proposals[slot]
        accepts = accepts | {src}
        self.proposals[slot] = (command, accepts, sent)
        if len(accepts) >= self.majority:
            del self.proposals[slot]
            self.learn(slot, command)
            for peer in self.peers:
                self.send(peer, Chosen(slot, command))

    def send_heartbeats(self) -> None:
        """Heartbeats to every follower, and the proposals waiting for a heartbeat period
        or more sent again to the acceptors that have not accepted them (the network may
        have lost them)."""
        chosen, self.heard = self.first_unchosen, self.now  # the leader we follow: ourselves
        for peer in self.peers:
            self.send(peer, Heartbeat(self.ballot, chosen))
        for slot, (command, accepts, sent) in sorted(self.proposals.items()):
            if self.now - sent < self.heartbeat:
                continue
            self.proposals[slot] = (command, accepts, self.now)
            for peer in self.peers:
                if peer not in accepts:
                    self.send(peer, Accept(self.ballot, slot, command))
        self.set_timer("heartbeat", self.heartbeat)

    def on_catch_up(self, src: str, first: int) -> None:
        """Send a learner the chosen commands it lacks (a batch at a time)."""
        for slot in range(first, first + CATCH_UP_BATCH):
            if slot in self.chosen:
                self.send(src, Chosen(slot, self.chosen[slot]))

    def on_nack(self, promised: Ballot) -> None:
        """Someone promised a higher ballot than ours: stop leading (or campaigning)."""
        self.see(promised)
        if self.role != "follower" and promised > self.ballot:
            self.step_down()

    # ----- helpers ---------------------------------------------------------------------------

    def see(self, ballot: Ballot) -> None:
        """Remember the highest ballot seen: our next one goes above it."""
        self.highest = max(self.highest, ballot)

    def follow(self, leader: str, ballot: Ballot) -> None:
        """``leader`` leads with ``ballot`` (not lower than any we promised): follow it."""
        if leader == self.id:
            return
        if self.role == "candidate" or (self.role == "leader" and ballot > self.ballot):
            self.step_down()  # a leader is alive: a candidate does not compete with it
        self.leader, self.heard = leader, self.now
        self.arm_election()

    def step_down(self) -> None:
        """Back to follower; the proposals in flight are the next leader's to recover."""
        if self.role == "leader":
            self.log(f"stepping down from ballot {self.ballot}")
        self.role, self.leader = "follower", None
        self.proposals, self.waiting, self.promises = {}, {}, {}
        self.cancel_timer("heartbeat")
        self.arm_election()

    def arm_election(self) -> None:
        """(Re-)arm the election timer at a random timeout, so that servers rarely time out
        together."""
        self.set_timer("election", self.rng.uniform(self.election_timeout,
                                                    2 * self.election_timeout))

    def tell(self, dst: str, msg: object) -> None:
        """Send ``msg``; a message to ourselves (our own acceptor) is handled at once."""
        if dst == self.id:
            self.on_message(dst, msg)
        else:
            self.send(dst, msg)


def _ballot(stored: Iterable[Any]) -> Ballot:
    """A ballot read back from storage (JSON makes the tuple a list)."""
    round_, node = stored
    return (int(round_), str(node))


# ----- the client --------------------------------------------------------------------------


class MultiPaxosClient(Client):
    """A client of the replicated key-value store (``get``, ``put``, ``append``): it sends
    each operation to the server it believes leads, follows ``NotLeader`` hints, tries the
    next server after ``retry`` seconds of silence, and gives up after ``op_timeout``
    (``info``: the command may still be applied, once).

    Example:
        >>> MultiPaxosClient(retry=0)
        Traceback (most recent call last):
        ...
        dsys.errors.ConfigError: retry and op_timeout must be seconds > 0, got 0 and 2.0
    """

    def __init__(self, servers: tuple[str, ...] | None = None, retry: float = 0.1,
                 op_timeout: float = 2.0) -> None:
        super().__init__()
        if not all(isinstance(t, int | float) and t > 0 for t in (retry, op_timeout)):
            raise ConfigError(f"retry and op_timeout must be seconds > 0, got {retry!r} "
                              f"and {op_timeout!r}")
        self._servers = servers
        self.retry = retry
        self.op_timeout = op_timeout

    def on_start(self) -> None:
        """A session of this incarnation (a restarted client never reuses numbers)."""
        self.servers = tuple(sorted(self._servers or self.peers))
        self.session = f"{self.id}-{self.rng.getrandbits(32):08x}"
        self.seq = 0
        self.request: Command | None = None
        self.target = self.servers[0]

    def on_invoke(self, op: dict[str, Any]) -> None:
        """Send ``op`` as the session's next command."""
        self.seq += 1
        value = op.get("value")
        self.request = Command(self.session, self.seq, op["f"], str(op.get("key", "")),
                               "" if value is None else str(value))
        self.set_timer("give up", self.op_timeout)
        self.send_request()

    def send_request(self) -> None:
        """Send the command to the server we believe leads; retry on silence."""
        assert self.request is not None
        self.send(self.target, Request(self.request))
        self.set_timer("retry", self.retry)

    def on_message(self, src: str, msg: object) -> None:
        """A reply completes the operation; a ``NotLeader`` sends us elsewhere."""
        request = self.request
        if request is None or not isinstance(msg, Reply | NotLeader) or (
                msg.session, msg.seq) != (request.session, request.seq):
            return  # late, for an operation we are done with
        if isinstance(msg, NotLeader):
            hint = msg.leader
            self.target = hint if hint in self.servers and hint != src else self.after(src)
            self.send_request()
            return
        self.done()
        if request.f == "get":
            self.ok(msg.result)
        else:
            self.ok()

    def on_timer(self, name: str) -> None:
        """``retry``: try the next server; ``give up``: the outcome is unknown."""
        if name == "retry" and self.request is not None:
            self.target = self.after(self.target)
            self.send_request()
        elif name == "give up" and self.request is not None:
            self.done()
            self.info()

    def done(self) -> None:
        """Stop waiting for the current command."""
        self.request = None
        self.cancel_timer("retry")
        self.cancel_timer("give up")

    def after(self, server: str) -> str:
        """The server after ``server``, round robin."""
        index = self.servers.index(server) if server in self.servers else -1
        return self.servers[(index + 1) % len(self.servers)]
