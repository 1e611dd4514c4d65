"""A leader lease: one leader at a time, as long as clocks drift no more than a stated bound.

C. Gray and D. Cheriton, "Leases: an efficient fault-tolerant mechanism for distributed
file cache consistency", SOSP 1989; the majority lease of Chubby's master (M. Burrows,
"The Chubby lock service", OSDI 2006, §2.12) and of PaxosLease (Trencseni et al., 2010).

Bully, ring and Ω cannot promise that two nodes never lead *at the same time*: a node
cut off from the others goes on believing it leads. A lease can, by trading the promise
for an assumption about clocks. A node becomes leader by collecting *grants* from a
majority (itself included) for a lease of ``duration`` seconds:

1. the candidate reads its clock (``start``), then sends :class:`LeaseRequest` to all;
2. a node grants (:class:`LeaseReply`) unless it has promised the lease to another node
   that has not expired; granting is a promise to grant no one else for ``wait`` seconds
   of *its own* clock, counted from the moment it grants;
3. with a majority of grants, the candidate holds the lease until ``start + duration``
   on *its own* clock; it renews it the same way every ``duration / 2`` (the renewal
   also tells the others who leads), and stops leading when the lease runs out unrenewed.

Any two majorities share a node, and that node granted no one else until its promise
ran out: so the next leader's lease begins after the previous one's promises, which were
made *after* the previous leader read its clock. Whether the previous lease has ended by
then depends on the clocks.

**The drift bound.** Every clock's rate is assumed to be within ``max_drift`` (``rho``) of
real time: in the simulator, every node's ``drift`` satisfies ``|drift| <= rho``. Then
``duration`` seconds on the leader's clock last at most ``duration / (1 - rho)`` real
seconds, and ``wait`` seconds on a granting node's clock last at least ``wait / (1 + rho)``,
so the leases never overlap if::

    wait >= duration · (1 + rho) / (1 - rho)  =  duration + 2·rho·duration / (1 - rho)

which is ``duration + divergence(duration, rho)`` (:func:`dsys.clocks.physical.divergence`),
the wait used here. Offsets do not matter (each node measures intervals on its own clock);
rates do. A clock that runs slower than the bound lets its leader believe in a lease the
others have already given away: two leaders at once (the docs' page "Leader election"
shows it happen).

Two candidates can split the grants so that neither has a majority (Raft's split vote).
A candidate without a majority after ``attempt_timeout`` gives the attempt up, frees its
own grant, and tries again after a random ``backoff``; the nodes that granted it keep
their promise to it, so its next attempt has a head start.

A restarted node has forgotten its promises, so it grants nothing for ``wait`` seconds
after it comes back (Chubby's master does the same). Epochs are the owned epochs of
:mod:`dsys.election.interface`: a leader takes a fresh one for each lease it wins, and
keeps it while it renews.

Layout: messages, the component (state, candidate, granting side, holder).
"""

from __future__ import annotations

import math
from typing import Any

from dsys.clocks.physical import divergence
from dsys.core.messages import message
from dsys.election.interface import LeaderCallback, LeaderElection
from dsys.errors import ConfigError

#: A timer can fire a rounding error before its deadline on a drifting clock (the host
#: turns local seconds into real ones and back); closer than this counts as on time.
_TICK = 1e-9

# ----- messages ----------------------------------------------------------------------


@message
class LeaseRequest:
    """Candidate (or holder, renewing) -> all: grant me the lease of ``epoch``.
    ``held``: the sender holds that lease already (this is a renewal)."""

    epoch: int
    held: bool


@message
class LeaseReply:
    """Whether the lease of ``epoch`` is granted to the requester."""

    epoch: int
    granted: bool


class LeaderLease(LeaderElection):
    """Leader election by majority lease, safe while clock rates stay within ``max_drift``.

    Args:
        on_leader: called with ``(leader, epoch)`` when this node adopts a leader (on
            the holder: when it wins a lease; elsewhere: when it grants a renewal).
        duration: the lease, in seconds of the holder's clock.
        max_drift: ``rho``, the bound assumed on every clock's rate error (1e-3: 1000 ppm).
        backoff: (low, high): a node without a lease waits a random time in this range
            before asking for one (after any promise it made runs out).
        attempt_timeout: how long a candidate waits for a majority of grants before it
            gives the attempt up (longer than a round trip).

    Example:
        >>> from dsys import Node, Simulation
        >>> from dsys.election import LeaderLease
        >>> class Server(Node):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.election = self.add_component(LeaderLease(duration=0.5))
        >>> sim = Simulation(seed=1)
        >>> for name in ("a", "b", "c"):
        ...     sim.add_node(name, Server)
        >>> sim.run(until=1.0)
        >>> [n for n in "abc" if sim.node(n).election.holds_lease]
        ['c']
        >>> round(sim.node("c").election.wait, 6)     # 0.5 + 2·0.001·0.5/0.999
        0.501001
    """

    messages = (*LeaderElection.messages, LeaseRequest, LeaseReply)

    def __init__(self, on_leader: LeaderCallback | None = None, *, duration: float = 1.0,
                 max_drift: float = 1e-3, backoff: tuple[float, float] = (0.05, 0.3),
                 attempt_timeout: float = 0.05) -> None:
        super().__init__(on_leader)
        if duration <= 0 or not 0 <= max_drift < 1 or not 0 <= backoff[0] <= backoff[1]:
            raise ConfigError(f"need duration > 0, 0 <= max_drift < 1 and 0 <= low <= high "
                             f"backoff; got {duration}, {max_drift}, {backoff}")
        self.duration = duration
        self.max_drift = max_drift
        self.backoff = backoff
        self.attempt_timeout = attempt_timeout
        #: How long a granting node keeps its promise, on its own clock.
        self.wait = duration + divergence(duration, max_drift)
        #: Until when (this node's clock) this node holds the lease (meaningful while
        #: it leads).
        self.lease_until = -math.inf
        self.promised_to: str | None = None  # granted to (None with a deadline: anyone)
        # Until when (this node's clock, which may read anything: offsets are arbitrary)
        # the promise stands; none at first.
        self.promise_until = -math.inf
        self._attempt: tuple[int, float, set[str]] | None = None  # epoch, start, grants

    @property
    def holds_lease(self) -> bool:
        """True while this node leads under a lease that has not run out on its clock."""
        return self.leader == self.node.id and self.node.now < self.lease_until

    @property
    def is_leader(self) -> bool:
        """True while this node holds the lease (see :attr:`holds_lease`)."""
        return self.holds_lease

    def on_start(self) -> None:
        super().on_start()
        self.campaign_later()

    def on_recover(self) -> None:
        super().on_start()
        # Promises made before the crash are forgotten: grant nothing until they expire.
        self.promised_to, self.promise_until = None, self.node.now + self.wait
        self.campaign_later()

    # ----- the candidate's side ------------------------------------------------------

    def campaign_later(self) -> None:
        """Ask for the lease after a random backoff, once no promise stands in the way."""
        delay = max(0.0, self.promise_until - self.node.now) + self.rng.uniform(*self.backoff)
        self.set_timer("campaign", delay)

    def start_election(self) -> None:
        """Ask every node for a lease in a fresh epoch (step 1)."""
        self.request(self.new_epoch(), held=False)

    def request(self, epoch: int, *, held: bool) -> None:
        """Read the clock, grant ourselves, and ask the others."""
        me, start = self.node.id, self.node.now
        self._attempt = (epoch, start, set())
        if self.may_grant(me):
            self.promise(me)
            self._attempt[2].add(me)
        self.send_to_peers(LeaseRequest(epoch, held))
        self.set_timer("attempt", self.attempt_timeout)
        self.check_majority()

    def check_majority(self) -> None:
        """With a majority of grants, hold (or extend) the lease (step 3)."""
        if self._attempt is None:
            return
        epoch, start, grants = self._attempt
        if 2 * len(grants) <= len(self.peers) + 1:
            return
        self._attempt = None
        self.cancel_timer("attempt")
        self.lease_until = start + self.duration
        if not (self.leader == self.node.id and self.epoch == epoch):
            self.adopt(self.node.id, epoch)
        self.cancel_timer("campaign")
        self.set_timer("expire", self.lease_until - self.node.now)
        self.set_timer("renew", self.duration / 2)

    # ----- the granting side (step 2) ------------------------------------------------

    def may_grant(self, candidate: str) -> bool:
        """No promise to another node stands."""
        return self.promised_to == candidate or self.node.now >= self.promise_until

    def promise(self, candidate: str) -> None:
        """Grant no one but ``candidate`` for ``wait`` seconds of this node's clock."""
        self.promised_to, self.promise_until = candidate, self.node.now + self.wait

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case LeaseRequest(epoch=epoch, held=held):
                self.observe(epoch)
                granted = self.may_grant(src)
                if granted:
                    self.promise(src)
                    if held and (self.leader != src or self.epoch != epoch):
                        self.adopt(src, epoch)  # the renewal says who leads
                    self.campaign_later()  # not before this promise runs out
                self.send(src, LeaseReply(epoch, granted))
            case LeaseReply(epoch=epoch, granted=True):
                if self._attempt is not None and self._attempt[0] == epoch:
                    self._attempt[2].add(src)
                    self.check_majority()
            case LeaseReply():
                pass
            case _:
                super().on_message(src, msg)

    # ----- timers --------------------------------------------------------------------

    def on_timer(self, name: str) -> None:
        now = self.node.now
        if name == "campaign":
            if not self.may_grant(self.node.id):
                self.campaign_later()  # a promise to another node still stands
            elif not self.holds_lease:
                if self.leader is not None:
                    self.forget("its lease ran out unrenewed")
                self.start_election()
        elif name == "attempt" and self._attempt is not None:
            # No majority in time: give the attempt up (late grants are ignored), and
            # free our own grant, which no lease of ours depends on, for others.
            self._attempt = None
            if self.promised_to == self.node.id and not self.holds_lease:
                self.promised_to, self.promise_until = None, now
            self.campaign_later()
        elif name == "renew" and self.holds_lease:
            self.request(self.epoch, held=True)
            self.set_timer("renew", self.duration / 2)
        elif name == "expire":
            if now < self.lease_until - _TICK:  # the clock was changed: not yet
                self.set_timer("expire", self.lease_until - now)
            elif self.leader == self.node.id:
                self.forget("the lease ran out")
                self.cancel_timer("renew")
                self.campaign_later()
        else:
            super().on_timer(name)
