"""Two-phase commit: a coordinator and three participants commit a transaction, or all abort.

Two-phase commit (Gray, "Notes on Data Base Operating Systems", 1978; Bernstein,
Hadzilacos and Goodman, *Concurrency Control and Recovery in Database Systems*, 1987,
ch. 7) makes a transaction atomic across resource managers: all of them commit it or all
abort it. Phase 1 (voting): the coordinator (transaction manager ``tm``) sends ``Prepare``
to every participant (resource managers ``rm1`` to ``rm3``). A participant that can commit
writes a *prepared* record to stable storage and votes yes; from then on it may not decide
alone. One that cannot votes no and aborts at once. Phase 2 (decision): the coordinator
decides *commit* if every vote is yes and *abort* otherwise (at the first no), writes the
decision to stable storage (that write is the commit point), then sends ``Commit`` or
``Abort`` to every participant, which applies it, records it and answers ``Ack``. A
coordinator that restarts after a crash sends its recorded decision again, or aborts if it
had none ("presumed abort"). 2PC is safe but *blocking*: a participant that voted yes waits
for the coordinator, however long it is down.

Like :mod:`dsys.demos.paxos`, this module is small on purpose, for the model checker: no
timers unless ``retry`` is given. :func:`consistency` and
:func:`commit_only_if_all_voted_yes` are the safety properties, :func:`all_decided` the
goal; each reads only ``view.nodes`` (live node id -> node).

Example:
    >>> sim = scenario(seed=1)
    >>> sim.run()
    >>> all_decided(sim) and consistency(sim) and commit_only_if_all_voted_yes(sim)
    True
    >>> sorted((node_id, node.state) for node_id, node in sim.nodes.items())
    [('rm1', 'committed'), ('rm2', 'committed'), ('rm3', 'committed'), ('tm', 'committed')]
    >>> sim = scenario(seed=1, votes=(True, False, True))
    >>> sim.run()
    >>> sorted((node_id, node.state) for node_id, node in sim.nodes.items())
    [('rm1', 'aborted'), ('rm2', 'aborted'), ('rm3', 'aborted'), ('tm', 'aborted')]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from dsys import Network, Node, Simulation, message

SUMMARY = "a coordinator and three participants commit a transaction with 2PC"
KINDS = ["recv", "log", "crash", "restart"]
UNTIL = 1.0

#: The coordinator's id in the scenario; participants are ``rm1``, ``rm2``...
COORDINATOR = "tm"


# ----- messages ----------------------------------------------------------------------------


@message
class Prepare:
    """Phase 1: the coordinator asks a participant to vote."""


@message
class Vote:
    """Phase 1: a participant's vote (``yes``: it is prepared to commit)."""

    yes: bool


@message
class Commit:
    """Phase 2: the coordinator's decision to commit."""


@message
class Abort:
    """Phase 2: the coordinator's decision to abort."""


@message
class Ack:
    """Phase 2: a participant applied the decision."""


# ----- the coordinator ------------------------------------------------------------------------


class Coordinator(Node):
    """The transaction manager: every other server of the cluster is a participant.

    ``state`` is ``"voting"``, then ``"committed"`` or ``"aborted"`` (the decision, which
    is durable). ``retry`` (seconds; None: never) resends ``Prepare`` to participants
    that have not voted and the decision to those that have not acknowledged it, for
    simulator runs that lose messages.
    """

    def __init__(self, retry: float | None = None) -> None:
        super().__init__()
        self.retry = retry
        self.state: str = self.storage.get("decision", "voting")
        self.yes_votes: tuple[str, ...] = ()  # sorted ids of participants that voted yes
        self.acks: tuple[str, ...] = ()  # sorted ids of participants that acknowledged

    # ----- handlers ----------------------------------------------------------------------

    def on_start(self) -> None:
        """Phase 1: ask every participant to vote."""
        self.log("PREPARE")
        self.broadcast(Prepare())
        self.arm_retry()

    def on_recover(self) -> None:
        """After a crash: announce the recorded decision again, or abort if there was none
        (presumed abort: no participant can have committed without a decision)."""
        if self.state == "voting":
            self.decide("aborted")
        else:
            self.announce()
        self.arm_retry()

    def on_message(self, src: str, msg: object) -> None:
        """Phase 1 votes and phase 2 acknowledgements."""
        match msg:
            case Vote(yes=False) if self.state == "voting":
                self.decide("aborted")
            case Vote(yes=True) if self.state == "voting":
                self.yes_votes = tuple(sorted({*self.yes_votes, src}))
                if len(self.yes_votes) == len(self.peers):
                    self.decide("committed")
            case Ack() if self.state != "voting" and src not in self.acks:
                self.acks = tuple(sorted({*self.acks, src}))
                if len(self.acks) == len(self.peers):
                    self.log("all acknowledged")

    def on_timer(self, name: str) -> None:
        """With ``retry``: ask again whoever has not answered."""
        if name != "retry":
            return
        if self.state == "voting":
            for participant in self.peers:
                if participant not in self.yes_votes:
                    self.send(participant, Prepare())
        else:
            self.announce()
        self.arm_retry()

    # ----- helpers ---------------------------------------------------------------------

    def decide(self, decision: str) -> None:
        """Phase 2: record the decision durably (the commit point), then announce it."""
        self.state = decision
        self.storage["decision"] = decision
        self.storage.sync()
        self.log(decision.upper())
        self.announce()

    def announce(self) -> None:
        """Send the decision to every participant that has not acknowledged it."""
        for participant in self.peers:
            if participant not in self.acks:
                self.send(participant, Commit() if self.state == "committed" else Abort())

    def arm_retry(self) -> None:
        """Set the retry timer while some participant has still to answer."""
        if self.retry is not None and len(self.acks) < len(self.peers):
            self.set_timer("retry", self.retry)


# ----- a participant --------------------------------------------------------------------------


class Participant(Node):
    """A resource manager: votes yes, or no if ``vote_no``, then obeys the decision.

    ``state`` is ``"working"``, ``"prepared"`` (voted yes), ``"committed"`` or
    ``"aborted"``; ``vote`` is what it voted (None: not yet). Both are durable.
    """

    def __init__(self, vote_no: bool = False) -> None:
        super().__init__()
        self.vote_no = vote_no
        self.state: str = self.storage.get("state", "working")
        self.vote: bool | None = self.storage.get("vote")

    # ----- handlers ----------------------------------------------------------------------

    def on_message(self, src: str, msg: object) -> None:
        """Phase 1: vote on ``Prepare``; phase 2: apply ``Commit`` or ``Abort``."""
        match msg:
            case Prepare():
                self.on_prepare(src)
            case Commit():
                self.finish(src, "committed")
            case Abort():
                self.finish(src, "aborted")

    def on_prepare(self, coordinator: str) -> None:
        """Phase 1: vote once (durably, before the vote leaves); a no voter aborts at once.
        A repeated ``Prepare`` gets the same vote again."""
        if self.vote is None and self.state == "working":
            self.vote = not self.vote_no
            self.set_state("prepared" if self.vote else "aborted")
        if self.vote is not None:
            self.send(coordinator, Vote(self.vote))

    def finish(self, coordinator: str, outcome: str) -> None:
        """Phase 2: apply the coordinator's decision and acknowledge it."""
        if self.state != outcome:
            self.set_state(outcome)
            self.log(outcome.upper())
        self.send(coordinator, Ack())

    # ----- helpers ---------------------------------------------------------------------

    def set_state(self, state: str) -> None:
        """Change state durably (synced before any message that depends on it leaves)."""
        self.state = state
        self.storage.update({"state": state, "vote": self.vote})
        self.storage.sync()


# ----- properties ----------------------------------------------------------------------------


class View(Protocol):
    """What the properties read: the live nodes by id (a Simulation has it)."""

    @property
    def nodes(self) -> Mapping[str, object]:
        """Live node id -> node object (crashed nodes are absent)."""
        ...


def _participants(view: View) -> list[Participant]:
    return [node for _, node in sorted(view.nodes.items()) if isinstance(node, Participant)]


def _coordinators(view: View) -> list[Coordinator]:
    return [node for _, node in sorted(view.nodes.items()) if isinstance(node, Coordinator)]


def consistency(view: View) -> bool:
    """Safety (atomicity): no participant committed while another aborted, and none
    disagrees with the coordinator's decision."""
    outcomes = {p.state for p in _participants(view)} | {c.state for c in _coordinators(view)}
    return not {"committed", "aborted"} <= outcomes


def commit_only_if_all_voted_yes(view: View) -> bool:
    """Safety (validity): if anyone committed (or the coordinator decided commit), every
    participant voted yes."""
    nodes: list[Participant | Coordinator] = [*_participants(view), *_coordinators(view)]
    committed = any(n.state == "committed" for n in nodes)
    return not committed or all(p.vote is True for p in _participants(view))


def all_decided(view: View) -> bool:
    """The goal: the coordinator and every participant know the outcome."""
    nodes: list[Participant | Coordinator] = [*_participants(view), *_coordinators(view)]
    return bool(nodes) and all(n.state in ("committed", "aborted") for n in nodes)


# ----- the scenario ---------------------------------------------------------------------------


def scenario(seed: int = 0, until: float = UNTIL, *, votes: Sequence[bool] = (True, True, True),
             network: Network | None = None,
             coordinator: Callable[[], Coordinator] = Coordinator) -> Simulation:
    """A coordinator ``tm`` and one participant per vote (``rm1``... voting yes for True),
    with :func:`consistency` and :func:`commit_only_if_all_voted_yes` checked after every
    event. ``coordinator`` builds the coordinator (a broken variant, say); ``until`` is
    unused (``dsys demo`` passes it): the run ends when nothing is left to happen."""
    sim = Simulation(seed=seed, network=network or Network())
    sim.add_node(COORDINATOR, coordinator)
    for i, yes in enumerate(votes, start=1):
        sim.add_node(f"rm{i}", functools.partial(Participant, vote_no=not yes))
    sim.add_invariant(consistency)
    sim.add_invariant(commit_only_if_all_voted_yes)
    return sim
