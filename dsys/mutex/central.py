"""Mutual exclusion with a central coordinator (a lock server).

One node, the *coordinator*, keeps the lock. A node that wants the critical section sends
it a ``Request``; the coordinator answers with a ``Grant`` if the lock is free, or puts the
request at the back of a FIFO queue. When the holder leaves it sends a ``Release``, and
the coordinator grants the lock to the head of the queue. (Tanenbaum & van Steen,
*Distributed Systems*, §6.3 "A centralized algorithm"; Coulouris et al. §15.2 "The central
server algorithm".)

Cost: three messages per entry (request, grant, release), whoever asks. Here the
coordinator is also an ordinary participant, and its own requests go through the network
to itself, so the count is the same for every node. Grants follow the order in which
requests *arrived at the coordinator*: each gets a ticket number on arrival, and the
``enter`` note carries it as ``order``.

Robustness to a duplicating, reordering network: every request carries a per-node
sequence number, echoed by its grant and its release, so a stale or duplicated message is
recognised and ignored. The algorithm still assumes no message is *lost* and no node
crashes: a lost message, or a crashed coordinator, leaves requests unanswered forever
(see the docs page "Mutual exclusion", section "Faults").

Layout: messages, state, the participant's side, the coordinator's side.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from dsys.core.messages import message
from dsys.mutex.interface import WANTED, Mutex

# ----- messages ----------------------------------------------------------------------


@message
class Request:
    """Participant -> coordinator: let me in (my ``seq``-th request)."""

    seq: int


@message
class Grant:
    """Coordinator -> participant: you may enter (for your request ``seq``)."""

    seq: int
    ticket: int


@message
class Release:
    """Participant -> coordinator: I left (the entry granted for request ``seq``)."""

    seq: int


class CentralMutex(Mutex):
    """A lock kept by one coordinator node (default: the first node id in sorted order).

    Example:
        >>> from dsys.demos.mutex_workload import finished, simulate
        >>> from dsys.mutex import CentralMutex
        >>> sim = simulate(CentralMutex, nodes=3, seed=4, requests=2)
        >>> sim.run_until(finished, timeout=10.0)
        True
        >>> counts = sim.statistics().by_type
        >>> [counts[name]["sent"] for name in ("Request", "Grant", "Release")]
        [6, 6, 6]
    """

    messages = (Request, Grant, Release)

    def __init__(self, coordinator: str | None = None,
                 on_enter: Callable[[], None] | None = None) -> None:
        super().__init__(on_enter)
        self.coordinator_choice = coordinator
        # The participant's state.
        self.seq = 0  # how many requests this node has made
        # The coordinator's state (used only on the coordinator node).
        self.holder: tuple[str, int] | None = None  # (node, request seq) inside, if any
        self.queue: deque[tuple[str, int, int]] = deque()  # waiting (node, seq, ticket)
        self.latest_seq: dict[str, int] = {}  # highest request seq seen from each node
        self.next_ticket = 1

    def on_start(self) -> None:
        self.coordinator = self.coordinator_choice or min([self.node.id, *self.peers])

    # ----- the participant's side ----------------------------------------------------

    def on_request(self) -> None:
        self.seq += 1
        self.send(self.coordinator, Request(self.seq))

    def on_release(self) -> None:
        self.send(self.coordinator, Release(self.seq))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Grant(seq=seq, ticket=ticket):
                # A grant for an older request (a duplicate) must not let us in now.
                if self.state == WANTED and seq == self.seq:
                    self.grant(order=[ticket])
            case Request(seq=seq):
                self.on_request_received(src, seq)
            case Release(seq=seq):
                self.on_release_received(src, seq)

    # ----- the coordinator's side ----------------------------------------------------

    def on_request_received(self, src: str, seq: int) -> None:
        """Coordinator: queue ``src``'s request ``seq`` (once), and grant it if the lock is free."""
        if seq <= self.latest_seq.get(src, 0):
            return  # a duplicate of a request already queued or served
        self.latest_seq[src] = seq
        ticket = self.next_ticket
        self.next_ticket += 1
        if self.holder is None:
            self.grant_to(src, seq, ticket)
        else:
            self.queue.append((src, seq, ticket))

    def on_release_received(self, src: str, seq: int) -> None:
        """Coordinator: ``src`` left its entry ``seq``; grant the next request in the queue."""
        if self.holder != (src, seq):
            return  # a duplicate release, for an entry already over
        self.holder = None
        if self.queue:
            self.grant_to(*self.queue.popleft())

    def grant_to(self, node: str, seq: int, ticket: int) -> None:
        """Coordinator: ``node`` holds the lock now (its request ``seq``, served as ``ticket``)."""
        self.holder = (node, seq)
        self.send(node, Grant(seq, ticket))
