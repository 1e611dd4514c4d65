"""Two-phase commit with a write-ahead log, recovery and cooperative termination.

Two-phase commit (Gray, "Notes on Data Base Operating Systems", 1978; Bernstein,
Hadzilacos and Goodman, *Concurrency Control and Recovery in Database Systems*, 1987,
ch. 7) makes a transaction atomic across participants: all commit it or all abort it.

Rules of this file:

* Every record a protocol step depends on is written to ``self.storage`` **and synced**
  before the message that announces it leaves: a participant syncs ``prepared`` before it
  votes yes (and ``aborted`` before it votes no); the coordinator syncs its decision
  before it sends it. A crash may lose unsynced writes, never synced ones.
* A participant that voted yes is *in doubt* until it learns the decision: it never
  decides alone, and it keeps the locks of the transaction's keys. It asks the
  coordinator and the other participants (cooperative termination) on a timer.
* Anyone that knows the decision answers a ``DecisionRequest``; a participant that has not
  voted yet aborts the transaction (it may: nobody can have committed without its vote)
  and answers abort. The coordinator answers abort for a transaction it does not know
  (presumed abort).
* Protocol events are trace notes the checkers read (:mod:`dsys.commit.checkers`):
  ``begin`` (coordinator: ``txid``, ``participants``), ``vote`` (participant: ``txid``,
  ``yes``), ``decide`` (coordinator: ``txid``, ``commit``), ``outcome`` (participant:
  ``txid``, ``commit``) and ``in_doubt`` (participant: ``txid``).

Example:
    >>> from dsys import Simulation
    >>> sim = Simulation(seed=1)
    >>> tx = Transaction("t1", {"rm1": {"x": "1"}, "rm2": {"y": "2"}})
    >>> sim.add_node("tm", lambda: Coordinator([tx]))
    >>> sim.add_node("rm1", Participant)
    >>> sim.add_node("rm2", Participant)
    >>> sim.run(until=2.0)
    >>> sim.nodes["rm1"].outcome("t1"), sim.nodes["rm2"].storage["data/y"]
    ('committed', '2')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from dsys.core.messages import message
from dsys.core.node import Node
from dsys.errors import ConfigError

# ----- a transaction -----------------------------------------------------------------------


@attrs.frozen
class Transaction:
    """A transaction: ``txid``, per participant id the writes (key -> value) it applies
    there on commit, and ``at``: when (coordinator's clock, seconds) it begins.

    Example:
        >>> Transaction("t1", {"rm2": {"y": "2"}, "rm1": {"x": "1"}}).participants
        ('rm1', 'rm2')
    """

    txid: str
    writes: Mapping[str, Mapping[str, str]]
    at: float = 0.0

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.txid, str) or not self.txid:
            raise ConfigError(f"a transaction id must be a non-empty string, got {self.txid!r}")
        if not isinstance(self.writes, Mapping) or not self.writes:
            raise ConfigError(f"transaction {self.txid!r} needs at least one participant "
                              f"(a mapping participant id -> writes), got {self.writes!r}")
        if not isinstance(self.at, int | float) or not self.at >= 0:
            raise ConfigError(f"transaction {self.txid!r}: at must be a time >= 0, got "
                              f"{self.at!r}")
        for participant, writes in self.writes.items():
            if not isinstance(writes, Mapping) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in writes.items()):
                raise ConfigError(f"transaction {self.txid!r}: the writes at {participant!r} "
                                  f"must map str keys to str values, got {writes!r}")

    @property
    def participants(self) -> tuple[str, ...]:
        """The participant ids, sorted."""
        return tuple(sorted(self.writes))


# ----- messages -----------------------------------------------------------------------------


@message
class Prepare:
    """Phase 1: the coordinator asks a participant to vote on ``txid``, whose
    ``participants`` are listed (for cooperative termination) and whose ``writes`` at this
    participant are given as (key, value) pairs."""

    txid: str
    participants: tuple[str, ...]
    writes: tuple[tuple[str, str], ...]


@message
class Vote:
    """Phase 1: a participant's vote on ``txid`` (``yes``: prepared to commit)."""

    txid: str
    yes: bool


@message
class Decision:
    """Phase 2: the outcome of ``txid`` (from the coordinator, or from a participant that
    knows it, answering a :class:`DecisionRequest`)."""

    txid: str
    commit: bool


@message
class Ack:
    """Phase 2: a participant applied the decision on ``txid``."""

    txid: str


@message
class DecisionRequest:
    """An in-doubt participant asks what was decided on ``txid``."""

    txid: str


# ----- the coordinator ----------------------------------------------------------------------


class Coordinator(Node):
    """The transaction manager: runs 2PC for each of ``transactions``, each from its ``at``.

    Its log (``storage``) holds ``decision/<txid>`` ("commit" or "abort"), synced before the
    decision is sent. After a crash it sends its logged decisions again and aborts every
    transaction it began (its ``at`` has passed) and never decided. ``retry`` (seconds)
    resends ``Prepare`` to participants that have not voted and the decision to those that
    have not acknowledged; ``vote_timeout`` aborts a transaction still missing votes that
    long after it began.
    """

    def __init__(self, transactions: Iterable[Transaction], *, retry: float = 0.2,
                 vote_timeout: float = 1.0) -> None:
        super().__init__()
        self.transactions = {tx.txid: tx for tx in transactions}
        if not self.transactions:
            raise ConfigError("a coordinator needs at least one Transaction")
        if retry <= 0 or vote_timeout <= 0:
            raise ConfigError(f"retry and vote_timeout must be > 0, got {retry}, {vote_timeout}")
        self.retry = retry
        self.vote_timeout = vote_timeout
        self.votes: dict[str, set[str]] = {txid: set() for txid in self.transactions}
        self.acks: dict[str, set[str]] = {txid: set() for txid in self.transactions}
        self.begun: set[str] = set()  # this incarnation sent their Prepare

    def decision(self, txid: str) -> str | None:
        """The logged decision on ``txid``: "commit", "abort" or None (undecided)."""
        value = self.storage.get(f"decision/{txid}")
        return None if value is None else str(value)

    # ----- handlers ---------------------------------------------------------------------

    def on_start(self) -> None:
        """Begin every transaction at its time."""
        for txid in sorted(self.transactions):
            self.schedule(self.transactions[txid])
        self.set_timer("retry", self.retry)

    def on_recover(self) -> None:
        """After a crash: re-send each logged decision; abort what began and was never
        decided (no participant can have committed it); begin the others at their time."""
        for txid in sorted(self.transactions):
            if self.decision(txid) is not None:
                self.begun.add(txid)
                self.announce(txid)
            elif self.transactions[txid].at <= self.now:
                self.decide(txid, commit=False)
            else:
                self.schedule(self.transactions[txid])
        self.set_timer("retry", self.retry)

    def on_message(self, src: str, msg: object) -> None:
        """Votes, acknowledgements and decision requests."""
        match msg:
            case Vote(txid=txid) if txid not in self.transactions:
                self.send(src, Decision(txid, commit=False))
            case Vote(txid=txid, yes=False) if self.decision(txid) is None:
                self.decide(txid, commit=False)
            case Vote(txid=txid, yes=True) if self.decision(txid) is None:
                self.votes[txid].add(src)
                if self.votes[txid] >= set(self.transactions[txid].participants):
                    self.decide(txid, commit=True)
            case Vote(txid=txid):  # decided already: tell the voter
                self.send(src, Decision(txid, self.decision(txid) == "commit"))
            case Ack(txid=txid) if txid in self.acks:
                self.acks[txid].add(src)
            case DecisionRequest(txid=txid):
                if txid not in self.transactions:  # presumed abort
                    self.send(src, Decision(txid, commit=False))
                elif (decided := self.decision(txid)) is not None:
                    self.send(src, Decision(txid, decided == "commit"))

    def on_timer(self, name: str) -> None:
        """``begin/<txid>``: phase 1; ``vote_timeout/<txid>``: abort if votes are missing;
        ``retry``: ask again whoever has not answered."""
        kind, _, txid = name.partition("/")
        if kind == "begin":
            self.begin(self.transactions[txid])
        elif kind == "vote_timeout" and self.decision(txid) is None:
            self.decide(txid, commit=False)
        elif name == "retry":
            pending = False
            for txid in sorted(self.transactions):
                tx = self.transactions[txid]
                if txid not in self.begun:
                    pending = True
                elif self.decision(txid) is None:
                    pending = True
                    for participant in tx.participants:
                        if participant not in self.votes[txid]:
                            self.send(participant, self.prepare_for(tx, participant))
                elif self.acks[txid] < set(tx.participants):
                    pending = True
                    self.announce(txid)
            if pending:
                self.set_timer("retry", self.retry)

    # ----- helpers ------------------------------------------------------------------------

    def schedule(self, tx: Transaction) -> None:
        """Begin ``tx`` now if its time has come, else at its time."""
        if tx.at <= self.now:
            self.begin(tx)
        else:
            self.set_timer(f"begin/{tx.txid}", tx.at - self.now)

    def begin(self, tx: Transaction) -> None:
        """Phase 1: ask each participant of ``tx`` to vote."""
        self.begun.add(tx.txid)
        self.note("begin", txid=tx.txid, participants=list(tx.participants))
        for participant in tx.participants:
            self.send(participant, self.prepare_for(tx, participant))
        self.set_timer(f"vote_timeout/{tx.txid}", self.vote_timeout)

    def prepare_for(self, tx: Transaction, participant: str) -> Prepare:
        """The ``Prepare`` message of ``tx`` for ``participant``."""
        return Prepare(tx.txid, tx.participants, tuple(sorted(tx.writes[participant].items())))

    def decide(self, txid: str, commit: bool) -> None:
        """Phase 2: log the decision and sync it (the commit point), then announce it."""
        self.begun.add(txid)
        self.storage[f"decision/{txid}"] = "commit" if commit else "abort"
        self.storage.sync()
        self.note("decide", txid=txid, commit=commit)
        self.announce(txid)

    def announce(self, txid: str) -> None:
        """Send the logged decision on ``txid`` to every participant that has not acked."""
        commit = self.decision(txid) == "commit"
        for participant in self.transactions[txid].participants:
            if participant not in self.acks[txid]:
                self.send(participant, Decision(txid, commit))


# ----- a participant ------------------------------------------------------------------------


class Participant(Node):
    """A resource manager: locks the keys a transaction writes, votes, obeys the decision.

    It votes no if a key is locked by another transaction (no waiting, so no deadlock) or
    if the transaction id is in ``refuse``. Its log (``storage``) holds ``tx/<txid>``: the
    state ("prepared", "committed" or "aborted"), the coordinator, the participants and the
    writes; committed writes land in ``data/<key>``. While prepared it is in doubt: it
    holds its locks and, every ``ask`` seconds, asks the coordinator and the other
    participants for the decision.
    """

    def __init__(self, *, refuse: Iterable[str] = (), ask: float = 0.3) -> None:
        super().__init__()
        if ask <= 0:
            raise ConfigError(f"ask must be > 0 seconds, got {ask}")
        self.refuse = frozenset(refuse)
        self.ask = ask
        self.locks: dict[str, str] = {}  # key -> txid holding it

    # ----- what it knows -------------------------------------------------------------------

    def record(self, txid: str) -> dict[str, Any] | None:
        """The log record of ``txid`` (None: never voted on it)."""
        value = self.storage.get(f"tx/{txid}")
        return None if value is None else dict(value)

    def outcome(self, txid: str) -> str | None:
        """"prepared" (in doubt), "committed", "aborted" or None (unknown here)."""
        record = self.record(txid)
        return None if record is None else str(record["state"])

    def in_doubt(self) -> list[str]:
        """The transactions this participant voted yes on and has no decision for, sorted."""
        return sorted(key.removeprefix("tx/") for key in self.storage
                      if key.startswith("tx/") and self.storage[key]["state"] == "prepared")

    # ----- handlers ---------------------------------------------------------------------

    def on_recover(self) -> None:
        """After a crash: every prepared transaction is in doubt; take its locks again and
        ask for the decision."""
        for txid in self.in_doubt():
            for key in self.record(txid)["writes"]:  # type: ignore[index]
                self.locks[key] = txid
            self.note("in_doubt", txid=txid)
        if self.in_doubt():
            self.set_timer("ask", self.ask)

    def on_message(self, src: str, msg: object) -> None:
        """Phase 1 ``Prepare``, phase 2 ``Decision``, and other participants' requests."""
        match msg:
            case Prepare():
                self.on_prepare(src, msg)
            case Decision(txid=txid, commit=commit):
                self.apply(txid, commit)
                if src == self.coordinator_of(txid, default=src):
                    self.send(src, Ack(txid))
            case DecisionRequest(txid=txid):
                self.on_decision_request(src, txid)

    def on_timer(self, name: str) -> None:
        """``ask``: for every in-doubt transaction, ask the coordinator and the others."""
        if name != "ask":
            return
        for txid in self.in_doubt():
            self.on_in_doubt_timeout(txid)
        if self.in_doubt():
            self.set_timer("ask", self.ask)

    # ----- steps --------------------------------------------------------------------------

    def on_prepare(self, coordinator: str, msg: Prepare) -> None:
        """Phase 1: vote once, durably: the record is synced before the vote leaves. A
        repeated ``Prepare`` gets the same vote again (or the outcome, once known)."""
        record = self.record(msg.txid)
        if record is None:
            keys = [key for key, _ in msg.writes]
            yes = msg.txid not in self.refuse and all(k not in self.locks for k in keys)
            self.log_state(msg.txid, "prepared" if yes else "aborted", coordinator=coordinator,
                           participants=list(msg.participants), writes=dict(msg.writes))
            if yes:
                for key in keys:
                    self.locks[key] = msg.txid
                self.set_timer("ask", self.ask)
            self.note("vote", txid=msg.txid, yes=yes)
            if not yes:
                self.note("outcome", txid=msg.txid, commit=False)
            self.send(coordinator, Vote(msg.txid, yes))
        elif record["state"] == "prepared":
            self.send(coordinator, Vote(msg.txid, True))
        else:
            self.send(coordinator, Vote(msg.txid, False) if record["state"] == "aborted"
                      else Decision(msg.txid, True))

    def on_in_doubt_timeout(self, txid: str) -> None:
        """In doubt on ``txid``: ask the coordinator and every other participant (a
        correct participant never decides alone here)."""
        record = self.record(txid)
        assert record is not None
        for node in [record["coordinator"], *record["participants"]]:
            if node != self.id:
                self.send(node, DecisionRequest(txid))

    def on_decision_request(self, src: str, txid: str) -> None:
        """Cooperative termination: answer with the outcome if known; if this participant
        has not voted, abort (it may: the transaction cannot commit without its vote)."""
        state = self.outcome(txid)
        if state is None:
            self.log_state(txid, "aborted")
            self.note("outcome", txid=txid, commit=False)
            state = "aborted"
        if state != "prepared":
            self.send(src, Decision(txid, state == "committed"))

    def apply(self, txid: str, commit: bool) -> None:
        """Phase 2: apply the decision once (the writes on commit), log it, free the locks."""
        record = self.record(txid)
        if record is not None and record["state"] != "prepared":
            return  # decided already (a duplicate decision)
        # No record: this participant never voted. A commit then means it forgot a yes vote
        # (its log was not synced); with the rules of this file that cannot happen.
        record = record or {"writes": {}}
        if commit:
            for key, value in sorted(record["writes"].items()):
                self.storage[f"data/{key}"] = value
        self.log_state(txid, "committed" if commit else "aborted")
        self.note("outcome", txid=txid, commit=commit)
        for key in list(self.locks):
            if self.locks[key] == txid:
                del self.locks[key]

    # ----- helpers ------------------------------------------------------------------------

    def coordinator_of(self, txid: str, default: str) -> str:
        """The coordinator recorded for ``txid`` (``default`` if none is recorded)."""
        record = self.record(txid)
        return default if record is None else str(record.get("coordinator") or default)

    def log_state(self, txid: str, state: str, **fields: Any) -> None:
        """Write ``state`` into the log record of ``txid`` and sync it."""
        record = self.record(txid) or {"coordinator": None, "participants": [], "writes": {}}
        record.update(fields, state=state)
        self.storage[f"tx/{txid}"] = record
        self.storage.sync()
