"""The token ring: mutual exclusion by passing one token around a logical ring.

The nodes form a ring, in sorted id order. A single ``Token`` message circulates: the node
that holds it may enter the critical section; when it leaves, or at once if it does not
want to enter, it passes the token to its successor. Only the token holder can be inside,
and there is one token, so at most one node is inside. Every waiting node is served
within one trip of the token around the ring: no node enters twice while another waits.
(Tanenbaum & van Steen, *Distributed Systems*, §6.3 "A token-ring algorithm"; Coulouris
et al. §15.2 "A ring-based algorithm".)

Cost: from one message per entry, when every node always wants to enter (the token's next
hop is always to a node that enters), to any number, when nobody does (the token circles
forever; per entry, the count grows without bound as the load falls).

Robustness to a duplicating network: the token carries a hop count, and a node ignores a
token whose count it has already seen, so a duplicated token does not become two. The
algorithm still assumes nothing is lost: a dropped token, or a crash of the node that
holds it (or of the node it is sent to), loses the token and stops the ring for good.
A restarted node does not make a new token (that would risk two).

Layout: messages, state, handlers, helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dsys.core.messages import message
from dsys.mutex.interface import WANTED, Mutex

# ----- messages ----------------------------------------------------------------------


@message
class Token:
    """The permission to enter. ``hops``: how many times it has been passed so far."""

    hops: int


class TokenRing(Mutex):
    """A token passed around the ring of nodes in sorted id order; the first node starts
    with it.

    Example:
        >>> from dsys.demos.mutex_workload import finished, simulate
        >>> from dsys.mutex import TokenRing
        >>> sim = simulate(TokenRing, nodes=3, seed=1, requests=2, think=(0.0, 0.0))
        >>> sim.run_until(finished, timeout=10.0)
        True
        >>> sim.statistics().by_type["Token"]["sent"] >= 6   # at least one hop per entry
        True
    """

    messages = (Token,)

    def __init__(self, on_enter: Callable[[], None] | None = None) -> None:
        super().__init__(on_enter)
        self.has_token = False
        self.hops = 0  # the hop count of the newest token seen: older copies are ignored

    def on_start(self) -> None:
        ring = sorted([self.node.id, *self.peers])
        self.successor = ring[(ring.index(self.node.id) + 1) % len(ring)]
        if self.node.id == ring[0]:
            self.receive_token(0)

    def on_recover(self) -> None:
        # After a crash, this node may have had the token, but cannot know whether it was
        # passed on before the crash: making a new one could make two. So it makes none.
        ring = sorted([self.node.id, *self.peers])
        self.successor = ring[(ring.index(self.node.id) + 1) % len(ring)]

    # ----- handlers ----------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Token(hops=hops) if hops > self.hops:
                self.receive_token(hops)
            case Token():
                pass  # a duplicate of a token already seen here

    def on_request(self) -> None:
        pass  # nothing to send: wait for the token to come round

    def on_release(self) -> None:
        self.pass_token()

    # ----- helpers -----------------------------------------------------------------------

    def receive_token(self, hops: int) -> None:
        """The token arrived (after ``hops`` hops): use it if we want in, else pass it on."""
        self.has_token = True
        self.hops = hops
        if self.state == WANTED:
            self.grant(token=hops)
        else:
            self.pass_token()

    def pass_token(self) -> None:
        """Send the token to our successor on the ring."""
        self.has_token = False
        self.send(self.successor, Token(self.hops + 1))
