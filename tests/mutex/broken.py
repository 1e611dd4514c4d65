"""Deliberately broken mutual exclusion algorithms: each checker must catch one.

Each is the correct algorithm with one rule changed, so the difference is easy to read.
"""

from __future__ import annotations

from dsys.mutex import WANTED, CentralMutex, RicartAgrawala, TokenRing
from dsys.mutex.ricart_agrawala import Reply


class EagerRicartAgrawala(RicartAgrawala):
    """Replies to every request at once instead of deferring: breaks safety."""

    def has_priority_over(self, src: str, k: int) -> bool:
        return False


class ForgetfulRicartAgrawala(RicartAgrawala):
    """Defers replies correctly but never sends them on release: breaks liveness."""

    def on_release(self) -> None:
        self.deferred = {}


class ClocklessRicartAgrawala(RicartAgrawala):
    """Numbers requests with a local counter, ignoring the numbers it receives (no Lamport
    clock). A node that has just replied to a request can then ask with a number that
    beats it, and get a reply back: both enter. Breaks safety, and the timestamp order."""

    def on_request_received(self, src: str, k: int) -> None:
        # The correct version first does: highest = max(highest, k).
        if self.has_priority_over(src, k):
            self.deferred[src] = max(k, self.deferred.get(src, 0))
        else:
            self.send(src, Reply(k))


class DoubleGrantCoordinator(CentralMutex):
    """Grants every request at once, even while the lock is held: breaks safety."""

    def on_request_received(self, src: str, seq: int) -> None:
        if seq <= self.latest_seq.get(src, 0):
            return
        self.latest_seq[src] = seq
        self.grant_to(src, seq, self.next_ticket)
        self.next_ticket += 1

    def on_release_received(self, src: str, seq: int) -> None:
        pass


class LifoCoordinator(CentralMutex):
    """Serves the newest waiting request first (a stack, not a queue): safe, but unfair,
    so grants leave ticket order."""

    def on_release_received(self, src: str, seq: int) -> None:
        if self.holder != (src, seq):
            return
        self.holder = None
        if self.queue:
            self.grant_to(*self.queue.pop())


class DuplicatingTokenRing(TokenRing):
    """Accepts every token that arrives, so a token duplicated by the network becomes two:
    breaks safety (on a network that duplicates)."""

    def on_message(self, src: str, msg: object) -> None:
        self.receive_token(self.hops + 1)


class GreedyTokenRing(TokenRing):
    """Keeps the token for a while after leaving, and re-enters if asked meanwhile:
    safe, but a busy node starves the others (breaks bounded waiting)."""

    LINGER = 0.02

    def on_release(self) -> None:
        self.set_timer("linger", self.LINGER)

    def on_request(self) -> None:
        if self.has_token:
            self.cancel_timer("linger")
            self.grant(token=self.hops)

    def on_timer(self, name: str) -> None:
        if name == "linger" and self.state != WANTED:
            self.pass_token()
