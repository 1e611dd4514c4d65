"""Paxos consensus (Lamport 1998, 2001): single-decree Paxos and Multi-Paxos with a
stable leader, and checkers for agreement, validity and stability.

* :mod:`dsys.paxos.single`: :class:`PaxosServer` (proposer, acceptor and learner in one
  node, acceptors persisting their promises) and :class:`PaxosClient`; the properties
  :func:`agreement`, :func:`validity` and :func:`all_decided` as invariants on live
  servers (for ``sim.add_invariant`` and the model checker);
* :mod:`dsys.paxos.multi`: :class:`MultiPaxosServer`, Multi-Paxos with a stable leader
  (phase 1 once per leader, phase 2 per slot, recovery of every slot with no-ops in the
  gaps, heartbeats and a lease), a replicated log applied in order to a :class:`KVStore`,
  and :class:`MultiPaxosClient`, which retries and finds the leader;
* :mod:`dsys.paxos.checkers`: :func:`check_agreement`, :func:`check_validity` and
  :func:`check_stability` over a trace's notes, for either.

See the concept page "Paxos", which sets Paxos and Raft side by side.

Example:
    >>> from dsys import Network, Simulation
    >>> from dsys.paxos import PaxosServer, check_agreement, check_validity
    >>> sim = Simulation(seed=3, network=Network(drop=0.2))
    >>> for name in ("s1", "s2", "s3"):
    ...     sim.add_node(name, lambda: PaxosServer(retry=0.05))
    >>> sim.run(until=0.01)
    >>> sim.node("s1").propose("A")
    >>> sim.node("s2").propose("B")  # two dueling proposers
    >>> sim.run(until=3.0)
    >>> len({sim.node(name).decided for name in ("s1", "s2", "s3")})
    1
    >>> bool(check_agreement(sim.trace)) and bool(check_validity(sim.trace))
    True
"""

from dsys.paxos.checkers import check_agreement, check_stability, check_validity
from dsys.paxos.multi import (
    NOOP,
    NOOP_VALUE,
    Command,
    KVStore,
    MultiPaxosClient,
    MultiPaxosServer,
)
from dsys.paxos.single import (
    NO_BALLOT,
    Accept,
    Accepted,
    Ballot,
    Decided,
    PaxosClient,
    PaxosServer,
    Prepare,
    Promise,
    Propose,
    agreement,
    all_decided,
    validity,
)

__all__ = [
    "NOOP",
    "NOOP_VALUE",
    "NO_BALLOT",
    "Accept",
    "Accepted",
    "Ballot",
    "Command",
    "Decided",
    "KVStore",
    "MultiPaxosClient",
    "MultiPaxosServer",
    "PaxosClient",
    "PaxosServer",
    "Prepare",
    "Promise",
    "Propose",
    "agreement",
    "all_decided",
    "check_agreement",
    "check_stability",
    "check_validity",
    "validity",
]
