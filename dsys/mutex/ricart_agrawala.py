"""The Ricart-Agrawala algorithm: mutual exclusion by asking everyone.

G. Ricart and A. K. Agrawala, "An optimal algorithm for mutual exclusion in computer
networks", *Communications of the ACM* 24(1), 1981. Also Coulouris et al. §15.2 and
Tanenbaum & van Steen §6.3 ("A distributed algorithm").

A node that wants the critical section stamps a ``Request`` with a sequence number (a
Lamport timestamp: one more than the highest number it has seen) and sends it to every
other node. It enters once every other node has sent back a ``Reply``. A node that
receives a request answers at once, unless it is inside the critical section or wants it
with *priority*: a smaller (sequence number, node id) pair than the request's. Then it
*defers* the reply, and sends it when it leaves. Ties between equal numbers are broken by
node id, so the priorities are a total order, and concurrent requests are served in that
order (the ``enter`` note carries the pair as ``order``).

Why the sequence numbers must follow Lamport's rule (``highest_sequence_number`` takes the
maximum of every number received): a node that has replied to a request stamped ``k`` and
then asks for itself must use a number larger than ``k``. Otherwise it could claim
priority over the request it has already let through, get a reply back, and both nodes
would enter. (``tests/mutex/broken.py`` has a variant without the rule; the safety
checker catches it.)

Cost: 2(N - 1) messages per entry, N - 1 requests and N - 1 replies (the paper proves this
optimal for algorithms of this kind). No node is special, but every node must answer:
one crashed node blocks everyone.

The paper's variables, here: ``our_sequence_number``, ``highest_sequence_number``,
``awaiting`` (the nodes whose reply is outstanding; the paper counts them in
``Outstanding_Reply_Count``), ``state != RELEASED`` (``Requesting_Critical_Section``) and
``deferred`` (``Reply_Deferred``). Two small additions make the algorithm safe on a network
that duplicates messages: a reply names the request it answers (so a late duplicate reply
cannot count for a newer request) and the repliers are kept as a set (so a duplicate
reply counts once). And a node's own request counts as a number it has seen, so two
requests of one node never carry the same number (Lamport's rule IR1: tick on every event).

Layout: messages, state, handlers (the paper's "invoke mutual exclusion", "treat request
message", "treat reply message", "release"), helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dsys.core.messages import message
from dsys.mutex.interface import HELD, RELEASED, WANTED, Mutex

# ----- messages ----------------------------------------------------------------------


@message
class Request:
    """Ask every other node for permission, with this request's sequence number."""

    timestamp: int


@message
class Reply:
    """Permission granted, for the request stamped ``timestamp``."""

    timestamp: int


class RicartAgrawala(Mutex):
    """Ricart & Agrawala's mutual exclusion (1981): permission from every other node.

    Example:
        >>> from dsys.demos.mutex_workload import finished, simulate
        >>> from dsys.mutex import RicartAgrawala
        >>> sim = simulate(RicartAgrawala, nodes=4, seed=2, requests=3)
        >>> sim.run_until(finished, timeout=10.0)
        True
        >>> counts = sim.statistics().by_type
        >>> entries = 4 * 3
        >>> (counts["Request"]["sent"] + counts["Reply"]["sent"]) / entries   # 2(N - 1)
        6.0
    """

    messages = (Request, Reply)

    def __init__(self, on_enter: Callable[[], None] | None = None) -> None:
        super().__init__(on_enter)
        self.our_sequence_number = 0
        self.highest_sequence_number = 0
        self.awaiting: set[str] = set()  # nodes whose reply to our request is outstanding
        self.deferred: dict[str, int] = {}  # node -> timestamp of the request we hold back

    # ----- invoke mutual exclusion ---------------------------------------------------

    def on_request(self) -> None:
        self.our_sequence_number = self.highest_sequence_number + 1
        self.highest_sequence_number = self.our_sequence_number
        self.awaiting = set(self.peers)
        for peer in self.peers:  # self.peers is sorted: a deterministic order
            self.send(peer, Request(self.our_sequence_number))
        self.enter_if_allowed()  # a node alone needs nobody's permission

    # ----- treat request and reply messages --------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Request(timestamp=k):
                self.on_request_received(src, k)
            case Reply(timestamp=k):
                # Only a reply to the request we are waiting on counts.
                if self.state == WANTED and k == self.our_sequence_number:
                    self.awaiting.discard(src)
                    self.enter_if_allowed()

    def on_request_received(self, src: str, k: int) -> None:
        """A request with sequence number ``k`` from ``src``: reply now, or defer the reply
        until we leave if our own request has priority (the paper's rule)."""
        self.highest_sequence_number = max(self.highest_sequence_number, k)
        if self.has_priority_over(src, k):
            # Keep the newest request if a duplicate of an older one also arrives.
            self.deferred[src] = max(k, self.deferred.get(src, 0))
        else:
            self.send(src, Reply(k))

    # ----- release ---------------------------------------------------------------------

    def on_release(self) -> None:
        for peer, k in sorted(self.deferred.items()):
            self.send(peer, Reply(k))
        self.deferred = {}

    # ----- helpers ---------------------------------------------------------------------

    def has_priority_over(self, src: str, k: int) -> bool:
        """Defer a request stamped ``k`` from ``src``? Yes if we are inside, or if we want
        the critical section and our request comes first in (number, node id) order.

        (This is the rule as Coulouris et al. write it; the paper's single comparison gives
        the same answer whenever we are inside, because a node that let us in saw our
        number and can only ask with a larger one.)"""
        if self.state == HELD:
            return True
        if self.state == RELEASED:
            return False
        return (self.our_sequence_number, self.node.id) < (k, src)

    def enter_if_allowed(self) -> None:
        """Enter once we want to and every other node has replied."""
        if self.state == WANTED and not self.awaiting:
            self.grant(order=[self.our_sequence_number, self.node.id])
