"""Leader election: bully, ring, Ω on a failure detector, and a leader lease; checkers.

* :class:`Bully`: Garcia-Molina (1982): the highest live id wins; timeouts decide who is
  alive, so it needs a synchronous system;
* :class:`Ring`: Chang and Roberts (1979): the highest id goes round a logical ring, with
  Tanenbaum's crash handling (acknowledgements, skipping dead successors);
* :class:`HirschbergSinclair`: Hirschberg and Sinclair (1980): a bidirectional ring in
  phases of doubling distance, ``O(N log N)`` messages (no crash handling);
* :class:`Omega`: the eventual leader Ω (Chandra, Hadzilacos and Toueg 1996): the
  lowest id a :class:`~dsys.failure.FailureDetector` does not suspect;
* :class:`LeaderLease`: a majority lease (Gray and Cheriton 1989; Chubby): at most one
  leader at a time, as long as clock rates stay within the stated ``max_drift``.

Each is a :class:`LeaderElection` component: ``leader``, ``epoch``, ``is_leader`` and an
``on_leader(leader, epoch)`` callback, and ``leader`` / ``lost`` notes in the trace that
the checkers of :mod:`dsys.election.checkers` read (:func:`check_one_leader_per_epoch`,
:func:`check_one_leader_at_a_time`, :func:`check_agreement`,
:func:`check_message_count`, and two invariants for ``sim.add_invariant``).

Example:
    >>> from dsys import Node, Simulation
    >>> from dsys.election import ALGORITHMS, check_agreement, check_one_leader_per_epoch
    >>> for name, algorithm in ALGORITHMS.items():
    ...     class Server(Node):
    ...         def __init__(self) -> None:
    ...             super().__init__()
    ...             self.election = self.add_component(algorithm())
    ...     sim = Simulation(seed=5)
    ...     for node in ("a", "b", "c", "d"):
    ...         sim.add_node(node, Server)
    ...     sim.at(1.0, sim.crash, "d")
    ...     sim.run(until=3.0)
    ...     print(name, sim.node("a").election.leader, check_agreement(sim.trace).ok,
    ...           check_one_leader_per_epoch(sim.trace).ok)
    bully c True True
    ring c True True
"""

from collections.abc import Mapping
from types import MappingProxyType

from dsys.election.bully import Answer, Bully, Coordinator, Election
from dsys.election.checkers import (
    Report,
    Violation,
    check_agreement,
    check_message_count,
    check_one_leader_at_a_time,
    check_one_leader_per_epoch,
    message_counts,
    one_leader_at_a_time_invariant,
    one_leader_per_epoch_invariant,
)
from dsys.election.hirschberg_sinclair import HirschbergSinclair, HSElected, HSProbe, HSReply
from dsys.election.interface import (
    LeaderCallback,
    LeaderElection,
    Probe,
    ProbeReply,
    owned_epoch,
)
from dsys.election.lease import LeaderLease, LeaseReply, LeaseRequest
from dsys.election.omega import Leading, Omega
from dsys.election.ring import Ring, RingAck, RingElected, RingElection

#: The algorithms that need nothing but the node, by the names the docs and the
#: benchmark use (Ω needs a failure detector, see :class:`Omega`).
ALGORITHMS: Mapping[str, type[LeaderElection]] = MappingProxyType({
    "bully": Bully,
    "ring": Ring,
})

__all__ = [
    "ALGORITHMS",
    "Answer",
    "Bully",
    "Coordinator",
    "Election",
    "HSElected",
    "HSProbe",
    "HSReply",
    "HirschbergSinclair",
    "LeaderCallback",
    "LeaderElection",
    "LeaderLease",
    "Leading",
    "LeaseReply",
    "LeaseRequest",
    "Omega",
    "Probe",
    "ProbeReply",
    "Report",
    "Ring",
    "RingAck",
    "RingElected",
    "RingElection",
    "Violation",
    "check_agreement",
    "check_message_count",
    "check_one_leader_at_a_time",
    "check_one_leader_per_epoch",
    "message_counts",
    "one_leader_at_a_time_invariant",
    "one_leader_per_epoch_invariant",
    "owned_epoch",
]
