"""The bully algorithm: the highest live process becomes coordinator.

H. Garcia-Molina, "Elections in a Distributed Computing System", IEEE Transactions on
Computers C-31(1), 1982; as told in Tanenbaum & van Steen, *Distributed Systems*, §5.4
("The bully algorithm") and Coulouris et al., *Distributed Systems*, §15.3.

Every node has an id, and ids are ordered (here: sorted as strings). A node that notices
there is no coordinator *holds an election*:

1. it sends :class:`Election` to every node with a higher id, and waits ``answer_timeout``;
2. a live higher node replies :class:`Answer` ("OK, I take over") and holds an election of
   its own (that is the *bullying*);
3. if no :class:`Answer` comes in time, nobody above is alive: the node wins and sends
   :class:`Coordinator` to every node below it;
4. if an :class:`Answer` comes, the node waits ``coordinator_timeout`` for the
   :class:`Coordinator` message; if none comes, the node that answered died during the
   election, and the node starts over (Garcia-Molina's timeout T').

A node that (re)starts holds an election: a recovered node with the highest id takes the
coordinator's role back at once, bullying the one that replaced it. A node that receives
:class:`Coordinator` from a *lower* node (it was down, or cut off, when that node won)
holds an election too, which it wins.

The timing assumption. The timeouts must be longer than any round trip
(``answer_timeout``) and than a whole election of the nodes above
(``coordinator_timeout``): the algorithm assumes a *synchronous* system, where a node
that does not answer in time has crashed. When that fails (a partition, a slow link) a
node wrongly concludes that the nodes above it are dead and makes itself coordinator
while another coordinator lives: two coordinators at once, until the next election.

Partitions. Bully has no rule for them: each side elects its own coordinator, and after
the partition heals nothing makes the two meet. Here a coordinator repeats its
:class:`Coordinator` message every ``announce_interval``; a node that hears it from a
coordinator other than its own (with an older epoch than its own leader's, or from below)
holds an election, which the highest node wins. (Garcia-Molina's *invitation* algorithm,
in the same paper, merges groups for asynchronous systems.)

Epochs (see :mod:`dsys.election.interface`). Each coordinator takes a fresh epoch of its
own, carried by its :class:`Coordinator` message; every message carries the highest
epoch its sender has seen, so a new coordinator's epoch is above all the epochs of the
nodes that took part in its election. Epochs also tell a node which :class:`Election`
messages are news. One that carries an older epoch than the leader a node already
follows was sent before that leader won (the leader's :class:`Coordinator` is on its way
to the elector): the node answers it and holds no election. A coordinator that receives
one carrying its own epoch (the elector doubts it) answers and tells it again that it is
the coordinator, instead of holding an election it would win anyway; one carrying a
newer epoch makes it announce itself again, in a fresh epoch.

Messages (between ``N`` nodes, none down): the highest node notices → ``N - 1``
Coordinator messages; the lowest node notices → at most ``N² - 1``, ``O(N²)``: every
node above it holds an election, answered by every node above *it*; all notice at once
→ exactly ``N² - 1`` (``N(N-1)/2`` Elections and as many Answers, ``N - 1``
Coordinators).

Layout: messages, state, handlers (timers, then messages), helpers.
"""

from __future__ import annotations

from typing import Any

from dsys.core.messages import message
from dsys.election.interface import LeaderCallback, LeaderElection
from dsys.errors import ConfigError

# ----- messages ----------------------------------------------------------------------


@message
class Election:
    """Lower -> higher: I hold an election (I have seen epochs up to ``epoch``)."""

    epoch: int


@message
class Answer:
    """Higher -> lower: I am alive and take the election over (Garcia-Molina's "OK")."""

    epoch: int


@message
class Coordinator:
    """The winner -> every lower node: I am the coordinator of ``epoch``."""

    epoch: int


class Bully(LeaderElection):
    """Garcia-Molina's bully algorithm: the live node with the highest id leads.

    Args:
        on_leader: called with ``(leader, epoch)`` when this node adopts a leader.
        answer_timeout: how long an elector waits for an :class:`Answer` (longer than a
            round trip to a live node).
        coordinator_timeout: how long it then waits for the :class:`Coordinator` message
            (longer than a whole election among the nodes above).
        probe_interval: seconds between probes of the coordinator (None: never; see
            :class:`~dsys.election.LeaderElection`).
        announce_interval: seconds between two :class:`Coordinator` messages of a
            coordinator to the nodes below it (None: only when it wins), so that after a
            partition heals, the two sides' coordinators meet and the higher one wins.
        elect_on_start: hold an election as soon as the node starts (on recovery it
            always does).

    Example:
        >>> from dsys import Node, Simulation
        >>> from dsys.election import Bully
        >>> class Server(Node):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.election = self.add_component(Bully())
        >>> sim = Simulation(seed=2)
        >>> for name in ("a", "b", "c", "d"):
        ...     sim.add_node(name, Server)
        >>> sim.run(until=1.0)
        >>> sim.node("a").election.leader
        'd'
        >>> sim.crash("d")
        >>> sim.run(until=2.0)                      # a probe goes unanswered: c takes over
        >>> sim.node("a").election.leader, sim.node("a").election.epoch
        ('c', 7)
        >>> sim.restart("d")
        >>> sim.run(until=3.0)                      # d comes back and bullies c
        >>> sim.node("a").election.leader
        'd'
    """

    messages = (*LeaderElection.messages, Election, Answer, Coordinator)

    def __init__(self, on_leader: LeaderCallback | None = None, *,
                 answer_timeout: float = 0.05, coordinator_timeout: float = 0.15,
                 probe_interval: float | None = 0.1, announce_interval: float | None = 0.5,
                 elect_on_start: bool = True) -> None:
        super().__init__(on_leader, probe_interval=probe_interval)
        if not 0 < answer_timeout <= coordinator_timeout:
            raise ConfigError("need 0 < answer_timeout <= coordinator_timeout, got "
                             f"{answer_timeout} and {coordinator_timeout}")
        self.answer_timeout = answer_timeout
        self.coordinator_timeout = coordinator_timeout
        self.announce_interval = announce_interval
        self.elect_on_start = elect_on_start
        #: True from the start of this node's election to its end (a leader adopted).
        self.electing = False

    def on_start(self) -> None:
        super().on_start()
        if self.elect_on_start:
            self.start_election()

    def on_recover(self) -> None:
        super().on_start()
        self.start_election()  # a recovered node holds an election (and bullies)

    # ----- handlers: timers ----------------------------------------------------------

    def on_timer(self, name: str) -> None:
        if name == "announce" and self.is_leader:  # say it again (see the module doc)
            self.announce()
        elif name == "answer":  # nobody above answered: they are all dead (step 3)
            self.become_coordinator()
        elif name == "coordinator":  # the node that answered died mid-election (step 4)
            self.electing = False
            self.start_election()
        else:
            super().on_timer(name)

    # ----- handlers: messages ----------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Election(epoch=epoch):
                self.observe(epoch)
                self.send(src, Answer(self.seen_epoch))  # step 2: answer, and bully
                if epoch < self.epoch and self.leader is not None:
                    pass  # sent before our leader won: its Coordinator will tell src
                elif self.is_leader and epoch == self.epoch:  # src doubts us: reassure it
                    self.send(src, Coordinator(self.epoch))
                elif self.is_leader:  # the elector knows a newer epoch than ours
                    self.become_coordinator()
                else:
                    self.start_election()
            case Answer(epoch=epoch):
                self.observe(epoch)
                if self.electing:
                    self.cancel_timer("answer")
                    self.set_timer("coordinator", self.coordinator_timeout)
            case Coordinator(epoch=epoch):
                self.observe(epoch)
                if src < self.node.id:
                    self.start_election()  # a lower node won while we were away: bully it
                elif epoch > self.epoch or (self.leader is None and epoch == self.epoch):
                    self.cancel_timer("answer")
                    self.cancel_timer("coordinator")
                    self.electing = False
                    self.adopt(src, epoch)
                elif src != self.leader:
                    self.start_election()  # two coordinators claim us: settle it
            case _:
                super().on_message(src, msg)

    # ----- helpers -----------------------------------------------------------------------

    def start_election(self) -> None:
        """Hold an election (step 1), unless this node is holding one already."""
        if self.electing:
            return
        self.electing = True
        self.forget("an election began")
        higher = [peer for peer in self.peers if peer > self.node.id]
        if not higher:
            self.become_coordinator()
            return
        for peer in higher:
            self.send(peer, Election(self.seen_epoch))
        self.set_timer("answer", self.answer_timeout)

    def become_coordinator(self) -> None:
        """Win: take a fresh epoch and tell every lower node (step 3)."""
        self.cancel_timer("coordinator")
        self.electing = False
        self.adopt(self.node.id, self.new_epoch())
        self.announce()

    def announce(self) -> None:
        """Send :class:`Coordinator` to every lower node; again after ``announce_interval``."""
        for peer in self.peers:
            if peer < self.node.id:
                self.send(peer, Coordinator(self.epoch))
        if self.announce_interval is not None:
            self.set_timer("announce", self.announce_interval)
