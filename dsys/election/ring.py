"""Election in a ring: the Chang-Roberts algorithm, with the textbook's crash handling.

E. Chang and R. Roberts, "An improved algorithm for decentralized extrema-finding in
circular configurations of processes", CACM 22(5), 1979; as told in Coulouris et al.,
*Distributed Systems*, §15.3 ("A ring-based election algorithm"), with the crash
handling of Tanenbaum & van Steen, §5.4 ("A ring algorithm").

The nodes form a logical ring (by default in sorted id order; each node sends to its
successor only). Every node is a *non-participant* at first. To start an election a node
marks itself a *participant* and sends :class:`RingElection` with its own id. A node that
receives a :class:`RingElection` carrying id ``c``:

* if ``c`` is higher than its own id, forwards it (and becomes a participant);
* if ``c`` is lower and the node is not a participant, replaces it with its own id,
  forwards that and becomes a participant;
* if ``c`` is lower and the node already is a participant, drops it (its own, higher
  id is on its way already): that is Chang and Roberts's improvement on Le Lann (1977);
* if ``c`` is its own id, its id went all the way round: it is the highest, and wins.

The winner sends :class:`RingElected` round the ring; each node records the leader,
becomes a non-participant and forwards it, until it comes back to the winner.

Messages with one initiator: the initiator's id travels to the highest node (0 to
``N - 1`` hops), the highest id goes round once (``N``), and so does the result (``N``):
between ``2N`` and ``3N - 1`` in all. With every node initiating at once the worst case
(ids decreasing along the ring) is ``N(N + 1)/2`` election messages, ``O(N²)``; the
average is ``O(N log N)``.

Chang and Roberts assume FIFO links, as the counts above do. Over links that reorder, an
election message overtaken by the result reaches a node that is no longer a participant
and starts a second election: harmless (the same node wins, in a newer epoch), but it
costs another trip round.

Crashes (Tanenbaum & van Steen). Each ring message is acknowledged (:class:`RingAck`,
counted apart from the election messages); a node that gets no acknowledgement within
``ack_timeout`` sends it again, and after ``retries`` attempts skips that successor
(believed dead) and sends to the next node of the ring. Each message starts again from the
immediate successor: a node that comes back is back in the ring at the next message, and
a node wrongly skipped (its acknowledgements lost) is skipped by one message only.
A node that finds the *candidate* of an election message dead puts its own id in
instead: a dead node's id would otherwise go round forever, since nobody is there to
recognise it. A participant that sees
no result within ``election_timeout`` starts the election again (the message may have
died with a node), and a node that recovers starts one. The leader is watched with the
probe of :class:`~dsys.election.LeaderElection`. Acknowledgements also let the receiver
drop duplicates: every ring message carries a sequence number unique to its sender.

Partitions. Each part of a cut ring elects its own leader (skipping the nodes it cannot
reach), and nothing in Chang and Roberts's algorithm brings the parts together again. Here
the leader sends its :class:`RingElected` round again every ``announce_interval``: a node
that follows a leader of another, older epoch holds an election when it sees it (every
election message carries the highest epoch seen, so the winner's epoch is newer than
both).

The timing assumption is the same as bully's: a successor that does not acknowledge in
time is dead. A successor wrongly skipped (all its acknowledgements lost, or a partition)
splits the ring, and two leaders can be elected at once.

Layout: messages, state, handlers, the ring's sending side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dsys.core.messages import message
from dsys.election.interface import LeaderCallback, LeaderElection
from dsys.errors import ConfigError

# ----- messages ----------------------------------------------------------------------


@message
class RingElection:
    """The election message: the highest id seen so far on its way round (and the highest
    epoch, so that the winner takes a newer one)."""

    candidate: str
    epoch: int
    seq: int


@message
class RingElected:
    """The result: ``leader`` leads ``epoch``; goes round once (when the leader wins, and
    again every ``announce_interval``)."""

    leader: str
    epoch: int
    seq: int


@message
class RingAck:
    """Receiver -> sender: ring message ``seq`` arrived."""

    seq: int


class Ring(LeaderElection):
    """Chang and Roberts's ring election: the highest id in the ring leads.

    Args:
        on_leader: called with ``(leader, epoch)`` when this node adopts a leader.
        ring: the order of the ring, every node once (default: sorted ids; messages go
            to the next node of this sequence, wrapping around).
        ack_timeout: how long to wait for a successor's acknowledgement.
        retries: attempts per successor before skipping it.
        election_timeout: how long a participant waits for the result before starting
            again (default: ``3 * N * ack_timeout``, for a ring of ``N`` nodes).
        probe_interval: seconds between probes of the leader (None: never).
        announce_interval: seconds between two trips of the leader's
            :class:`RingElected` round the ring (None: only when it wins), so that after a
            partition heals, a node that follows another leader notices and holds an
            election.
        elect_on_start: start an election as soon as the node starts (on recovery it
            always does).

    Example:
        >>> from dsys import Node, Simulation
        >>> from dsys.election import Ring
        >>> class Server(Node):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.election = self.add_component(Ring(elect_on_start=self.id == "a"))
        >>> sim = Simulation(seed=3)
        >>> for name in ("a", "b", "c", "d"):
        ...     sim.add_node(name, Server)
        >>> sim.run(until=0.3)
        >>> {n: sim.node(n).election.leader for n in "abcd"}
        {'a': 'd', 'b': 'd', 'c': 'd', 'd': 'd'}
        >>> counts = sim.statistics().by_type
        >>> counts["RingElection"]["sent"], counts["RingElected"]["sent"]  # 3 + 4, then 4
        (7, 4)
    """

    messages = (*LeaderElection.messages, RingElection, RingElected, RingAck)

    def __init__(self, on_leader: LeaderCallback | None = None, *,
                 ring: Sequence[str] | None = None, ack_timeout: float = 0.03,
                 retries: int = 2, election_timeout: float | None = None,
                 probe_interval: float | None = 0.1, announce_interval: float | None = 0.5,
                 elect_on_start: bool = True) -> None:
        super().__init__(on_leader, probe_interval=probe_interval)
        if ack_timeout <= 0 or retries < 1:
            raise ConfigError(f"need ack_timeout > 0 and retries >= 1, got {ack_timeout} "
                             f"and {retries}")
        self.order = None if ring is None else tuple(ring)
        self.ack_timeout = ack_timeout
        self.retries = retries
        self.election_timeout = election_timeout
        self.announce_interval = announce_interval
        self.elect_on_start = elect_on_start
        #: Chang and Roberts's flag: this node has sent its id (or a higher one) round.
        self.participant = False

    def on_start(self) -> None:
        super().on_start()
        everyone = sorted((self.node.id, *self.peers))
        order = self.order if self.order is not None else tuple(everyone)
        if sorted(order) != everyone:
            raise ConfigError(f"ring {list(order)} must hold every node exactly once "
                             f"({everyone})")
        at = order.index(self.node.id)
        #: The other nodes in ring order, starting from this node's successor.
        self.successors = order[at + 1:] + order[:at]
        self._seq = self.rng.getrandbits(48)  # unique across this node's incarnations
        # seq -> (msg, to, attempts, the successors this message skipped)
        self._pending: dict[int, tuple[Any, str, int, frozenset[str]]] = {}
        self._seen: set[tuple[str, int]] = set()  # (sender, seq) already handled
        if self.election_timeout is None:
            self.election_timeout = 3 * len(order) * self.ack_timeout
        if self.elect_on_start:
            self.start_election()

    def on_recover(self) -> None:
        self.elect_on_start = True  # a recovered node starts an election
        self.on_start()

    # ----- handlers ----------------------------------------------------------------------

    def on_timer(self, name: str) -> None:
        if name == "announce" and self.is_leader:
            self.announce()
        elif name == "election":  # no result came round: start again
            self.participant = False
            self.start_election()
        elif name.startswith("ack-"):
            self.ack_timed_out(int(name[4:]))
        else:
            super().on_timer(name)

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case RingAck(seq=seq):
                if self._pending.pop(seq, None) is not None:
                    self.cancel_timer(f"ack-{seq}")
            case RingElection() | RingElected():
                self.send(src, RingAck(msg.seq))
                if (src, msg.seq) not in self._seen:  # not a duplicate
                    self._seen.add((src, msg.seq))
                    self.receive(msg)
            case _:
                super().on_message(src, msg)

    def receive(self, msg: RingElection | RingElected) -> None:
        """Chang and Roberts's rules, for one ring message (acknowledged already)."""
        me = self.node.id
        match msg:
            case RingElection(candidate=c, epoch=epoch) if c > me:
                self.observe(epoch)
                self.become_participant()
                self.forward(RingElection(c, self.seen_epoch, 0))
            case RingElection(candidate=c, epoch=epoch) if c < me and not self.participant:
                self.observe(epoch)
                self.become_participant()
                self.forward(RingElection(me, self.seen_epoch, 0))
            case RingElection(candidate=c) if c < me:
                pass  # a participant already sent a higher id round
            case RingElection(epoch=epoch):  # our own id came back: we are the highest
                self.observe(epoch)
                self.win()
            case RingElected(leader=leader) if leader == me:
                pass  # the result went all the way round
            case RingElected(leader=leader, epoch=epoch):
                self.observe(epoch)
                if epoch > self.epoch or (self.leader is None and epoch == self.epoch):
                    self.participant = False
                    self.cancel_timer("election")
                    self.adopt(leader, epoch)
                    self.forward(RingElected(leader, epoch, 0))
                elif epoch == self.epoch and leader == self.leader:
                    self.forward(RingElected(leader, epoch, 0))  # an announcement
                else:  # an older leader, cut off from us until now: settle it
                    self.start_election()

    def win(self) -> None:
        """This node is the highest in the ring: lead a fresh epoch, and say so round."""
        self.participant = False
        self.cancel_timer("election")
        epoch = self.new_epoch()
        self.adopt(self.node.id, epoch)
        self.announce()

    def announce(self) -> None:
        """Send the result round the ring (again after ``announce_interval``)."""
        self.forward(RingElected(self.node.id, self.epoch, 0))
        if self.announce_interval is not None:
            self.set_timer("announce", self.announce_interval)

    # ----- starting ----------------------------------------------------------------------

    def start_election(self) -> None:
        """Start an election from this node: send its id round."""
        if self.participant:
            return
        self.forget("an election began")
        self.become_participant()
        self.forward(RingElection(self.node.id, self.seen_epoch, 0))

    def become_participant(self) -> None:
        """Mark this node a participant, and watch for the result."""
        self.participant = True
        assert self.election_timeout is not None
        self.set_timer("election", self.election_timeout)

    # ----- the sending side: acknowledgements, retries, skipping ---------------------------

    def forward(self, msg: RingElection | RingElected) -> None:
        """Send a ring message to this node's successor (and on, past dead ones)."""
        self._seq += 1
        self.transmit(self._seq, msg, self.successors[0], 1, frozenset())

    def transmit(self, seq: int, msg: RingElection | RingElected, to: str | None,
                 attempts: int, skipped: frozenset[str]) -> None:
        """Send ``msg`` as ring message ``seq`` to ``to`` (None: no one else is left)."""
        if isinstance(msg, RingElection):
            msg = RingElection(msg.candidate, msg.epoch, seq)
        else:
            msg = RingElected(msg.leader, msg.epoch, seq)
        if to is None:  # every other node is believed dead: this one is alone
            if isinstance(msg, RingElection):
                self.win()
            return
        self._pending[seq] = (msg, to, attempts, skipped)
        self.send(to, msg)
        self.set_timer(f"ack-{seq}", self.ack_timeout)

    def ack_timed_out(self, seq: int) -> None:
        """No acknowledgement for ``seq``: try again, or skip that successor."""
        pending = self._pending.pop(seq, None)
        if pending is None:
            return
        msg, to, attempts, skipped = pending
        if attempts < self.retries:
            self.transmit(seq, msg, to, attempts + 1, skipped)
            return
        skipped |= {to}
        self.log(f"skips {to}: no acknowledgement after {attempts} attempts")
        if isinstance(msg, RingElection) and msg.candidate == to:
            # The candidate itself is dead: its id would go round forever. Put ours in.
            self.become_participant()
            msg = RingElection(self.node.id, max(msg.epoch, self.seen_epoch), seq)
        following = next((n for n in self.successors if n not in skipped), None)
        self.transmit(seq, msg, following, 1, skipped)
