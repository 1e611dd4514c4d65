"""Ω, the eventual leader: trust the smallest id the failure detector does not suspect.

T. D. Chandra, V. Hadzilacos and S. Toueg, "The weakest failure detector for solving
consensus", JACM 43(4), 1996; Ω as an abstraction is described in Guerraoui & Rodrigues,
*Introduction to Reliable Distributed Programming* (2006), §2.6.5 ("Eventual leader
election", algorithm 2.8, "Monarchical Eventual Leader Detection").

Bully and ring *decide* a leader with a round of messages and then assume it lives until
a timeout says otherwise. Ω decides nothing: every node looks at its own failure detector
(:class:`~dsys.failure.FailureDetector`) and trusts the smallest id among the nodes the
detector does not suspect, itself included. It promises only this:

    *Eventual leadership*: there is a time after which every correct node trusts the same
    correct node.

Before that time nodes may trust different leaders, and a node may trust a crashed one.
That is all an asynchronous system allows (no detector is both complete and accurate at
all times), and it is enough for consensus: Paxos and Raft need a leader only to make
progress, never for safety. Ω is as good as its detector: with an eventually perfect one
(heartbeats whose timeout ends up above every real delay, ◇P) it elects eventually.

Epochs: when a node starts trusting itself it takes a fresh epoch of its own (see
:mod:`dsys.election.interface`) and tells the others with :class:`Leading`, again every
``announce_interval`` while it trusts itself (so a lost message, or a node that was down,
catches up), and at once to a node its detector hears from again. A node that trusts
``p`` adopts ``p`` with the latest epoch ``p`` announced; until it has heard one, it
trusts ``p`` (:attr:`Omega.trusted`) but notes no leader.

Layout: messages, the component (state, the detector's side, announcements).
"""

from __future__ import annotations

from typing import Any, Literal

from dsys.core.messages import message
from dsys.election.interface import LeaderCallback, LeaderElection
from dsys.errors import ConfigError
from dsys.failure.base import FailureDetector

# ----- messages ----------------------------------------------------------------------


@message
class Leading:
    """I trust myself as the leader, in ``epoch``."""

    epoch: int


class Omega(LeaderElection):
    """The eventual leader on top of a failure detector of the same node.

    Args:
        detector: the node's failure detector (add it to the node *before* this one).
        on_leader: called with ``(leader, epoch)`` when this node adopts a leader.
        prefer: ``"lowest"`` (the textbook's choice) or ``"highest"`` id.
        announce_interval: how often a node that trusts itself says so again.

    Example:
        >>> from dsys import Node, Simulation
        >>> from dsys.election import Omega
        >>> from dsys.failure import HeartbeatDetector
        >>> class Server(Node):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         detector = self.add_component(HeartbeatDetector(interval=0.1, timeout=0.3))
        ...         self.election = self.add_component(Omega(detector))
        >>> sim = Simulation(seed=1)
        >>> for name in ("a", "b", "c"):
        ...     sim.add_node(name, Server)
        >>> sim.run(until=1.0)
        >>> [sim.node(n).election.leader for n in "abc"]
        ['a', 'a', 'a']
        >>> sim.crash("a")
        >>> sim.run(until=2.0)
        >>> [(sim.node(n).election.leader, sim.node(n).election.epoch) for n in "bc"]
        [('b', 2), ('b', 2)]
    """

    messages = (*LeaderElection.messages, Leading)

    def __init__(self, detector: FailureDetector, on_leader: LeaderCallback | None = None, *,
                 prefer: Literal["lowest", "highest"] = "lowest",
                 announce_interval: float = 0.5) -> None:
        super().__init__(on_leader)
        if prefer not in ("lowest", "highest"):
            raise ConfigError(f"prefer must be 'lowest' or 'highest', got {prefer!r}")
        if announce_interval <= 0:
            raise ConfigError(f"announce_interval must be > 0, got {announce_interval}")
        self.detector = detector
        self.prefer = prefer
        self.announce_interval = announce_interval
        #: Ω's output: the node trusted now (None until the node is up).
        self.trusted: str | None = None
        #: The latest epoch each node announced it leads.
        self.announced: dict[str, int] = {}
        detector.observe(self._detector_changed)

    def on_start(self) -> None:
        super().on_start()
        self.trusted = None
        self.announced = {}

    def on_started(self) -> None:
        self.update()  # the detector is up now

    # ----- the detector's side -------------------------------------------------------

    def _detector_changed(self, event: str, peer: str) -> None:
        self.update()
        if event in ("alive", "join") and self.is_leader:
            self.send(peer, Leading(self.epoch))  # it may have missed the announcement

    def update(self) -> None:
        """Trust the lowest (or highest) id among the nodes not suspected."""
        alive = self.detector.alive()
        trusted = alive[0] if self.prefer == "lowest" else alive[-1]
        if trusted == self.trusted:
            return
        self.trusted = trusted
        if trusted == self.node.id:
            self.adopt(trusted, self.new_epoch())
            self.announce()
        elif trusted in self.announced:
            self.adopt(trusted, self.announced[trusted])
        else:
            self.forget(f"now trusts {trusted}, whose epoch it has not heard yet")

    def start_election(self) -> None:
        """Ω holds no elections: it only looks at the detector again."""
        self.update()

    # ----- announcements -------------------------------------------------------------

    def announce(self) -> None:
        """Tell every peer this node leads its epoch, and again after a while."""
        if self.is_leader:
            self.send_to_peers(Leading(self.epoch))
            self.set_timer("announce", self.announce_interval)

    def on_timer(self, name: str) -> None:
        if name == "announce":
            self.announce()
        else:
            super().on_timer(name)

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Leading(epoch=epoch):
                self.observe(epoch)
                self.announced[src] = max(epoch, self.announced.get(src, 0))
                if src == self.trusted and (self.leader != src or epoch > self.epoch):
                    self.adopt(src, self.announced[src])
            case _:
                super().on_message(src, msg)
