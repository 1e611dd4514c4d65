"""Reference solution of lab 3: a SWIM failure detector, and a bully election on top of it.

A. Das, I. Gupta and A. Motivala, "SWIM: Scalable Weakly-consistent Infection-style
Process Group Membership Protocol", DSN 2002 (§ numbers below are that paper's); and
H. Garcia-Molina, "Elections in a Distributed Computing System", IEEE Transactions on
Computers, 1982 (the bully algorithm).

Rules of this file:

* Two components, each one class: :class:`SwimDetector` (a
  :class:`~dsys.failure.FailureDetector`, attached as ``"detector"``) and
  :class:`BullyElection` (a :class:`~dsys.election.LeaderElection`, attached as
  ``"election"``). The election reads the detector of its node, never the reverse.
* The detector's *output* is the set of members it holds **dead**: it changes only through
  ``mark_suspected`` (a member becomes dead) and ``mark_alive`` (a dead member is back),
  which write the trace notes the checkers read. SWIM's *suspect* state is the detector's
  own business: a suspected member is not yet in the output.
* All news about members travels piggybacked on pings, acks and ping-reqs (§4.1): there
  is no message of its own for it.
* Randomness from ``self.rng`` only, time from timers only: a run is a function of its seed.

Layout: timing constants, messages, the detector (state, probing, news, dissemination),
then the election (state, timers, messages, helpers).
"""

from __future__ import annotations

from typing import Any

from dsys import message
from dsys.election import LeaderElection
from dsys.failure import FailureDetector

# ----- timing (seconds of virtual time) and sizes ------------------------------------------

#: The protocol period T' (§3.1): every member probes one other member per period.
PERIOD = 0.1
#: How long a member waits for a direct ack before asking helpers (> a round trip).
PING_TIMEOUT = 0.03
#: k (§3.1): how many members are asked to probe a target that did not answer.
INDIRECT_PROBES = 3
#: How long a member stays suspected before it is declared dead (§4.2).
SUSPICION_TIMEOUT = 0.5
#: At most this many updates ride on one message.
MAX_PIGGYBACK = 6
#: Each update is piggybacked this many times, then dropped (the paper's λ·log N).
MAX_TRANSMISSIONS = 6

#: Bully: how long an elector waits for an Answer from a higher member.
ANSWER_TIMEOUT = 0.05
#: Bully: how long it then waits for the Coordinator message (Garcia-Molina's T').
COORDINATOR_TIMEOUT = 0.2
#: Bully: a coordinator tells the lower members again this often.
ANNOUNCE_INTERVAL = 0.5

#: What one member believes of another, and which news beats which at equal incarnation.
ALIVE, SUSPECT, DEAD = "alive", "suspect", "dead"
RANK = {ALIVE: 0, SUSPECT: 1, DEAD: 2}


# ----- messages ------------------------------------------------------------------------------


@message
class Update:
    """News: ``member`` is ``status`` (alive, suspect or dead) at ``incarnation``."""

    status: str
    member: str
    incarnation: int


@message
class Ping:
    """Are you alive? (``seq`` matches the ack; ``updates`` ride along.)"""

    seq: int
    updates: tuple[Update, ...] = ()


@message
class Ack:
    """Yes: the answer to the ping ``seq`` (or relayed by a helper, for a ping-req)."""

    seq: int
    updates: tuple[Update, ...] = ()


@message
class PingReq:
    """Please ping ``target`` for me, and send me an Ack with my ``seq`` if it answers."""

    seq: int
    target: str
    updates: tuple[Update, ...] = ()


@message
class Election:
    """Lower -> higher: I hold an election (I have seen epochs up to ``epoch``)."""

    epoch: int


@message
class Answer:
    """Higher -> lower: I am alive, and I take the election over."""

    epoch: int


@message
class Coordinator:
    """The winner -> every lower member: I am the coordinator of ``epoch``."""

    epoch: int


# ===== the failure detector ===================================================================


class SwimDetector(FailureDetector):
    """One member of a SWIM group: probes, suspicion, refutation, dissemination."""

    messages = (Ping, Ack, PingReq)

    # ----- state --------------------------------------------------------------------------

    def on_start(self) -> None:
        """Start (or restart: everything below is in memory, and starts afresh)."""
        super().on_start()  # self.members: every other node; nobody is suspected
        #: My incarnation number: only I raise it, to refute news of my death.
        self.incarnation = 0
        #: What I believe of every other member: id -> (status, incarnation).
        self.view: dict[str, tuple[str, int]] = {m: (ALIVE, 0) for m in self.members}
        self.order: list[str] = []            # the round-robin probe list (§4.3)
        self.position = 0                     # the next target's place in it
        self.seq = 0                          # my last ping's sequence number
        self.probe: tuple[int, str] | None = None  # this period's (seq, target)
        self.acked = False                    # has this period's target answered?
        self.relays: dict[int, tuple[str, int]] = {}  # my seq -> (asker, its seq)
        self.outbox: dict[str, list[Any]] = {}  # member -> [news about it, times sent]
        # A random phase, so that the members do not all probe at the same instant.
        self.set_timer("tick", self.rng.uniform(0, PERIOD))

    # ----- one protocol period (§3.1) ---------------------------------------------------------

    def on_timer(self, name: str) -> None:
        if name == "tick":
            self.end_period()
            self.start_period()
        elif name == "probe timeout":
            self.probe_indirectly()
        elif name.startswith("suspect:"):
            self.suspicion_expired(name.removeprefix("suspect:"))

    def start_period(self) -> None:
        """Ping the next target, and wait PING_TIMEOUT for its ack."""
        self.set_timer("tick", PERIOD)
        target = self.next_target()
        if target is None:
            self.probe = None
            return
        self.seq += 1
        self.probe, self.acked = (self.seq, target), False
        self.send(target, Ping(self.seq, self.piggyback(target)))
        self.set_timer("probe timeout", PING_TIMEOUT)

    def next_target(self) -> str | None:
        """Randomized round-robin (§4.3): every member once per pass, in a new random order
        each pass. Dead members stay in the list: a ping is how they learn they are held
        dead (two sides of a healed partition find each other again)."""
        if self.position >= len(self.order):
            self.order = list(self.members)
            self.rng.shuffle(self.order)
            self.position = 0
        if not self.order:
            return None
        target = self.order[self.position]
        self.position += 1
        return target

    def probe_indirectly(self) -> None:
        """No direct ack in time: ask k random members (alive, not the target) to ping it."""
        if self.probe is None or self.acked:
            return
        seq, target = self.probe
        helpers = [m for m in self.members if m != target and self.view[m][0] == ALIVE]
        for helper in self.rng.sample(helpers, min(INDIRECT_PROBES, len(helpers))):
            self.send(helper, PingReq(seq, target, self.piggyback(helper)))

    def end_period(self) -> None:
        """No ack, direct or relayed, for the whole period: the target failed the probe.
        It is suspected (§4.2), not declared dead."""
        if self.probe is None or self.acked:
            return
        target = self.probe[1]
        status, incarnation = self.view[target]
        if status == ALIVE:
            self.apply(Update(SUSPECT, target, incarnation))

    # ----- messages ---------------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        for update in getattr(msg, "updates", ()):
            self.apply(update)
        match msg:
            case Ping(seq=seq):
                self.send(src, Ack(seq, self.piggyback(src)))
            case Ack(seq=seq):
                self.acked_by(seq)
            case PingReq(seq=seq, target=target):
                self.relay(src, seq, target)

    def acked_by(self, seq: int) -> None:
        """An ack: of my probe (direct, or relayed by a helper), or of a ping I sent for a
        member that asked me to help, which I pass on with that member's seq."""
        if self.probe is not None and seq == self.probe[0]:
            self.acked = True
        elif seq in self.relays:
            asker, asker_seq = self.relays.pop(seq)
            self.send(asker, Ack(asker_seq, self.piggyback(asker)))

    def relay(self, asker: str, asker_seq: int, target: str) -> None:
        """A ping-req: ping ``target`` with a seq of mine, remembering whom to tell."""
        self.seq += 1
        self.relays[self.seq] = (asker, asker_seq)
        self.send(target, Ping(self.seq, self.piggyback(target)))
        if len(self.relays) > 32:  # forget relays that never completed
            del self.relays[min(self.relays)]

    # ----- suspicion, death and refutation (§4.2) -----------------------------------------------

    def apply(self, update: Update) -> None:
        """News from anyone (myself included): change the view if it overrides what I hold,
        and spread it."""
        if update.member == self.id:
            self.about_me(update)
            return
        held = self.view.get(update.member)
        if held is None or update.status not in RANK \
                or not self.overrides(update.status, update.incarnation, held):
            return
        member = update.member
        self.view[member] = (update.status, update.incarnation)
        self.gossip(update)
        if update.status == SUSPECT:
            self.set_timer(f"suspect:{member}", SUSPICION_TIMEOUT)
            self.mark_alive(member)  # (if it was dead: a newer incarnation lives)
        else:
            self.cancel_timer(f"suspect:{member}")
            if update.status == DEAD:
                self.mark_suspected(member)
            else:
                self.mark_alive(member)

    def overrides(self, status: str, incarnation: int, held: tuple[str, int]) -> bool:
        """Does news (``status``, ``incarnation``) replace what I hold about a member
        (§4.2)? A newer incarnation always wins; at the same incarnation dead beats suspect
        beats alive."""
        held_status, held_incarnation = held
        return incarnation > held_incarnation or (
            incarnation == held_incarnation and RANK[status] > RANK[held_status])

    def suspicion_expired(self, member: str) -> None:
        """Nobody refuted the suspicion in time: the member is dead."""
        status, incarnation = self.view[member]
        if status == SUSPECT:
            self.apply(Update(DEAD, member, incarnation))

    def about_me(self, update: Update) -> None:
        """Someone suspects me, or holds me dead: refute it with a new incarnation. News of
        an incarnation I refuted already means its holder missed my refutation: spread
        my current one again."""
        if update.status not in (SUSPECT, DEAD):
            return
        if update.incarnation >= self.incarnation:
            self.incarnation = update.incarnation + 1
        self.gossip(Update(ALIVE, self.id, self.incarnation))

    # ----- dissemination (§4.1) ----------------------------------------------------------------

    def gossip(self, update: Update) -> None:
        """Queue ``update`` to be piggybacked (it replaces older news of the same member)."""
        self.outbox[update.member] = [update, 0]

    def piggyback(self, dst: str) -> tuple[Update, ...]:
        """The updates to send ``dst``: first what I hold against ``dst`` itself, if it is
        suspected or dead (so that it can refute at once); then the least-sent news,
        each dropped once sent MAX_TRANSMISSIONS times."""
        chosen: list[Update] = []
        status, incarnation = self.view.get(dst, (ALIVE, 0))
        if status != ALIVE:
            chosen.append(Update(status, dst, incarnation))
        for member, entry in sorted(self.outbox.items(), key=lambda item: item[1][1]):
            if len(chosen) >= MAX_PIGGYBACK:
                break
            if entry[0] in chosen:
                continue
            chosen.append(entry[0])
            entry[1] += 1
            if entry[1] >= MAX_TRANSMISSIONS:
                del self.outbox[member]
        return tuple(chosen)


# ===== the bully election =======================================================================


class BullyElection(LeaderElection):
    """Garcia-Molina's bully algorithm, told by the node's failure detector when the
    coordinator has died."""

    messages = (Election, Answer, Coordinator)

    def __init__(self, detector: FailureDetector) -> None:
        super().__init__()
        self.detector = detector
        #: True from the start of this member's election until it adopts a coordinator.
        self.electing = False
        detector.observe(self.detector_changed)

    def on_start(self) -> None:
        """Start, or come back after a crash: hold an election (a recovered member with
        the highest id takes over at once)."""
        super().on_start()  # the highest epoch seen, from storage
        self.electing = False
        self.start_election()

    def detector_changed(self, event: str, peer: str) -> None:
        """The detector holds ``peer`` dead (``"suspect"``) or alive again: if it is the
        coordinator that died, hold an election."""
        if event == "suspect" and peer == self.leader:
            self.start_election()

    # ----- timers ---------------------------------------------------------------------------

    def on_timer(self, name: str) -> None:
        if name == "answer":  # no higher member answered: they are all dead. I win.
            self.become_coordinator()
        elif name == "coordinator":  # one answered, then died before announcing: again
            self.electing = False
            self.start_election()
        elif name == "announce":
            self.announce()

    # ----- messages ---------------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Election(epoch=epoch):
                self.observe(epoch)
                self.on_election(src, epoch)
            case Answer(epoch=epoch):
                self.observe(epoch)
                if self.electing and src > self.id:
                    self.cancel_timer("answer")
                    self.set_timer("coordinator", COORDINATOR_TIMEOUT)
            case Coordinator(epoch=epoch):
                self.observe(epoch)
                self.on_coordinator(src, epoch)

    def on_election(self, src: str, epoch: int) -> None:
        """A lower member holds an election: answer it, and take the election over."""
        if src > self.id:
            return  # (only lower members send us Election)
        self.send(src, Answer(self.seen_epoch))
        if self.is_leader and epoch <= self.epoch:
            self.send(src, Coordinator(self.epoch))  # it doubts me: tell it again
        elif self.is_leader:
            self.become_coordinator()  # it knows a newer epoch than mine: a fresh one
        else:
            self.start_election()

    def on_coordinator(self, src: str, epoch: int) -> None:
        """A member says it is the coordinator: a lower one is bullied, a higher one with
        a current epoch adopted, a higher one with an old epoch settled by an election."""
        if src < self.id:
            self.start_election()
        elif epoch >= self.epoch:
            self.electing = False
            self.cancel_timer("answer")
            self.cancel_timer("coordinator")
            if (self.leader, self.epoch) != (src, epoch):
                self.adopt(src, epoch)
        elif src != self.leader:
            self.start_election()  # two coordinators claim me: the election settles it

    # ----- helpers --------------------------------------------------------------------------

    def start_election(self) -> None:
        """Send Election to every higher member the detector does not hold dead; with none
        left, win at once."""
        if self.electing:
            return
        self.electing = True
        self.forget("an election began")
        higher = [peer for peer in self.peers
                  if peer > self.id and not self.detector.suspects(peer)]
        if not higher:
            self.become_coordinator()
            return
        for peer in higher:
            self.send(peer, Election(self.seen_epoch))
        self.set_timer("answer", ANSWER_TIMEOUT)

    def become_coordinator(self) -> None:
        """Win: a fresh epoch of my own (above every epoch seen), told to every lower
        member."""
        self.electing = False
        self.cancel_timer("answer")
        self.cancel_timer("coordinator")
        self.adopt(self.id, self.new_epoch())
        self.announce()

    def announce(self) -> None:
        """While I lead: Coordinator to every lower member, again every ANNOUNCE_INTERVAL."""
        if not self.is_leader:
            return
        for peer in self.peers:
            if peer < self.id:
                self.send(peer, Coordinator(self.epoch))
        self.set_timer("announce", ANNOUNCE_INTERVAL)
