"""Election in a bidirectional ring with ``O(N log N)`` messages: Hirschberg and Sinclair.

D. S. Hirschberg and J. B. Sinclair, "Decentralized extrema-finding in circular
configurations of processors", CACM 23(11), 1980; as told in N. Lynch, *Distributed
Algorithms* (1996), §3.4 ("An O(n log n) algorithm").

Chang and Roberts send each id round the ring until it meets a higher one, which costs
``O(N²)`` messages in the worst case. Hirschberg and Sinclair explore in *phases* of
doubling distance, in both directions. In phase ``k`` a node still in the race sends
:class:`HSProbe` with its id both ways, to travel ``2^k`` hops. A node that receives a
probe:

* with a higher id than its own, passes it on, or, after the ``2^k``-th hop, sends an
  :class:`HSReply` back toward the sender;
* with a lower id, swallows it: that candidate is out of the race;
* with its own id, has won: its probe went all the way round (``2^k >= N``).

A candidate whose two probes both come back (two replies) goes on to phase ``k + 1``.
At most ``N / (2^(k-1) + 1)`` candidates survive phase ``k - 1``, and each costs at most
``4 · 2^k`` messages in phase ``k``, so each phase costs at most ``8N`` messages, over
``1 + ⌈log2 N⌉`` phases: ``O(N log N)`` in all, plus ``N`` for the result, which goes
round once (:class:`HSElected`).

Every node takes part: a node that has not started yet starts when the first message
reaches it (Lynch's "all start" assumption, made true by waking up). The algorithm
assumes no crashes and no lost messages (Lynch's synchronous, reliable ring); it
tolerates reordering and duplication (replies are counted per direction).

Layout: messages, state, handlers, helpers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dsys.core.messages import message
from dsys.election.interface import LeaderCallback, LeaderElection
from dsys.errors import ConfigError

# ----- messages ----------------------------------------------------------------------


@message
class HSProbe:
    """``candidate``'s probe of phase ``phase``, ``hops`` hops from it so far."""

    candidate: str
    phase: int
    hops: int


@message
class HSReply:
    """The probe of ``candidate`` in ``phase`` went ``2^phase`` hops: it is coming back."""

    candidate: str
    phase: int


@message
class HSElected:
    """``leader`` won, and leads ``epoch``; goes round once (toward the successors)."""

    leader: str
    epoch: int


class HirschbergSinclair(LeaderElection):
    """Hirschberg and Sinclair's bidirectional ring election: the highest id leads, for
    ``O(N log N)`` messages. No crash handling (see the module's doc).

    Args:
        on_leader: called with ``(leader, epoch)`` when this node adopts a leader.
        ring: the order of the ring, every node once (default: sorted ids).
        elect_on_start: start as soon as the node starts (else: when a message arrives).

    Example:
        >>> from dsys import Node, Simulation
        >>> from dsys.election import HirschbergSinclair
        >>> class Server(Node):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.election = self.add_component(HirschbergSinclair())
        >>> sim = Simulation(seed=1)
        >>> for name in "abcdefgh":
        ...     sim.add_node(name, Server)
        >>> sim.run(until=1.0)
        >>> {sim.node(n).election.leader for n in "abcdefgh"}
        {'h'}
    """

    messages = (*LeaderElection.messages, HSProbe, HSReply, HSElected)

    def __init__(self, on_leader: LeaderCallback | None = None, *,
                 ring: Sequence[str] | None = None, elect_on_start: bool = True) -> None:
        super().__init__(on_leader)
        self.order = None if ring is None else tuple(ring)
        self.elect_on_start = elect_on_start
        #: True once this node has sent its own phase-0 probes.
        self.started = False
        #: This node's current phase (while it is still a candidate).
        self.phase = 0
        self._replies: set[str] = set()  # the neighbours whose reply came back this phase

    def on_start(self) -> None:
        super().on_start()
        everyone = sorted((self.node.id, *self.peers))
        order = self.order if self.order is not None else tuple(everyone)
        if sorted(order) != everyone:
            raise ConfigError(f"ring {list(order)} must hold every node exactly once "
                              f"({everyone})")
        at = order.index(self.node.id)
        #: The two neighbours: toward the successors, and toward the predecessors.
        self.successor = order[(at + 1) % len(order)]
        self.predecessor = order[at - 1]
        if self.elect_on_start:
            self.start_election()

    # ----- handlers ----------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, HSProbe | HSReply | HSElected) and not self.started:
            self.start_election()  # woken up by the first message
        me = self.node.id
        match msg:
            case HSProbe(candidate=c) if c == me:
                if self.leader != me:  # round the ring (once per direction: win once)
                    self.adopt(me, self.new_epoch())
                    self.send(self.successor, HSElected(me, self.epoch))
            case HSProbe(candidate=c, phase=k, hops=hops) if c > me:
                if hops < 2 ** k:
                    self.send(self.away_from(src), HSProbe(c, k, hops + 1))
                else:
                    self.send(src, HSReply(c, k))
            case HSProbe():
                pass  # a lower id: that candidate is out
            case HSReply(candidate=c, phase=k) if c != me:
                self.send(self.away_from(src), HSReply(c, k))
            case HSReply(phase=k) if k == self.phase and self.leader is None:
                self._replies.add(src)
                if self._replies >= {self.successor, self.predecessor}:
                    self.phase += 1
                    self._replies = set()
                    self.probe()
            case HSReply():
                pass  # of an earlier phase (a duplicate)
            case HSElected(leader=leader) if leader == me:
                pass  # the result went all the way round
            case HSElected(leader=leader, epoch=epoch) if epoch > self.epoch:
                self.observe(epoch)
                self.adopt(leader, epoch)
                self.send(self.successor, HSElected(leader, epoch))
            case HSElected():
                pass  # a duplicate
            case _:
                super().on_message(src, msg)

    # ----- helpers -----------------------------------------------------------------------

    def start_election(self) -> None:
        """Enter the race: phase 0."""
        self.started = True
        self.phase = 0
        self._replies = set()
        self.probe()

    def probe(self) -> None:
        """Send this node's probes of the current phase both ways."""
        me = self.node.id
        for neighbour in sorted({self.successor, self.predecessor} - {me}):
            self.send(neighbour, HSProbe(me, self.phase, 1))
        if self.successor == me:  # alone in the ring
            self.adopt(me, self.new_epoch())

    def away_from(self, src: str) -> str:
        """The neighbour on the other side from ``src``."""
        return self.predecessor if src == self.successor else self.successor
