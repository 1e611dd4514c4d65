"""Leader election with terms (the election half of Raft, §5.2 of the paper).

Five nodes start as followers. A follower that hears nothing from a leader for a random
election timeout becomes a candidate: it starts a new term, votes for itself and asks the
others for votes. Each node votes at most once per term (the vote is synced to storage
before it is sent, so a crash cannot make it vote twice). A candidate with a majority
becomes leader and sends heartbeats. At t=1 s the leader is cut off by a partition; the
majority side elects a new leader in a higher term; when the partition heals, the old
leader sees the higher term and steps down.

The invariant "at most one leader per term" is checked after every event.

The classic election algorithms (bully, two rings, Ω, a leader lease) are components of
:mod:`dsys.election`; the second half of this module is the harness that runs them in the
simulator, for the tests, the docs and ``bench/election.py``: :class:`ElectionServer` (a
node holding one of them), :func:`cluster` (a simulation of ``N`` such nodes),
:func:`settled` (a predicate: everyone up follows one leader) and
:func:`election_messages` (the algorithm's own messages sent so far).

Example:
    >>> from dsys.demos.election import cluster, election_messages, settled
    >>> sim = cluster("ring", nodes=5, seed=1, initiators=["n1"], announce_interval=None)
    >>> sim.run_until(settled, timeout=5.0)
    True
    >>> sim.node("n1").election.leader, election_messages(sim, "ring")  # 2N + 4 hops
    ('n5', 14)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dsys import Network, Node, Simulation, message
from dsys.election import (
    Answer,
    Bully,
    Coordinator,
    Election,
    HirschbergSinclair,
    HSElected,
    HSProbe,
    HSReply,
    LeaderElection,
    LeaderLease,
    Leading,
    LeaseReply,
    LeaseRequest,
    Omega,
    Ring,
    RingElected,
    RingElection,
    one_leader_per_epoch_invariant,
)
from dsys.errors import ConfigError
from dsys.failure import HeartbeatDetector

SUMMARY = "five nodes elect a leader, lose it to a partition, and recover"
KINDS = ["crash", "restart", "partition", "heal", "log"]
UNTIL = 3.5

HEARTBEAT = 0.05
ELECTION_TIMEOUT = (0.15, 0.30)


@message
class RequestVote:
    term: int


@message
class Vote:
    term: int
    granted: bool


@message
class Heartbeat:
    term: int


class Elector(Node):
    def on_start(self) -> None:
        self.term: int = self.storage.get("term", 0)
        self.voted_for: str | None = self.storage.get("voted_for")
        self.role = "follower"
        self.votes: set[str] = set()
        self.reset_election_timer()

    # ----- handlers ----------------------------------------------------------------------

    def on_timer(self, name: str) -> None:
        if name == "election" and self.role != "leader":
            self.start_election()
        elif name == "heartbeat" and self.role == "leader":
            self.broadcast(Heartbeat(self.term))
            self.set_timer("heartbeat", HEARTBEAT)

    def on_message(self, src: str, msg: object) -> None:
        term = getattr(msg, "term", 0)
        if term > self.term:  # a newer term: follow it (Raft §5.1)
            self.become_follower(term)
        match msg:
            case RequestVote(term=t):
                granted = t == self.term and self.voted_for in (None, src)
                if granted:
                    self.voted_for = src
                    self.persist()
                    self.reset_election_timer()
                self.send(src, Vote(self.term, granted))
            case Vote(term=t, granted=True) if t == self.term and self.role == "candidate":
                self.votes.add(src)
                if len(self.votes) > (len(self.peers) + 1) // 2:
                    self.become_leader()
            case Heartbeat(term=t) if t == self.term:
                if self.role != "follower":
                    self.become_follower(t)
                self.reset_election_timer()

    # ----- transitions -----------------------------------------------------------------------

    def start_election(self) -> None:
        self.role = "candidate"
        self.term += 1
        self.voted_for = self.id
        self.votes = {self.id}
        self.persist()
        self.log(f"election for term {self.term}")
        self.broadcast(RequestVote(self.term))
        self.reset_election_timer()

    def become_leader(self) -> None:
        self.role = "leader"
        self.log(f"LEADER for term {self.term}")
        self.cancel_timer("election")
        self.broadcast(Heartbeat(self.term))
        self.set_timer("heartbeat", HEARTBEAT)

    def become_follower(self, term: int) -> None:
        if self.role == "leader":
            self.log(f"steps down: saw term {term}")
            self.cancel_timer("heartbeat")
        self.role = "follower"
        self.term = term
        self.voted_for = None
        self.persist()
        self.reset_election_timer()

    # ----- helpers -------------------------------------------------------------------------------

    def persist(self) -> None:
        self.storage.update({"term": self.term, "voted_for": self.voted_for})
        self.storage.sync()  # before any message that depends on it leaves the node

    def reset_election_timer(self) -> None:
        self.set_timer("election", self.rng.uniform(*ELECTION_TIMEOUT))


def leaders(sim: Simulation) -> dict[int, list[str]]:
    """Current leaders by term."""
    result: dict[int, list[str]] = {}
    for node_id, node in sim.nodes.items():
        if isinstance(node, Elector) and node.role == "leader":
            result.setdefault(node.term, []).append(node_id)
    return result


def one_leader_per_term(sim: Simulation) -> None:
    for term, ids in leaders(sim).items():
        assert len(ids) <= 1, f"two leaders in term {term}: {ids}"


def isolate_leader(sim: Simulation) -> None:
    current = leaders(sim)
    if current:
        sim.isolate(current[max(current)][0])


def scenario(seed: int = 0, until: float = UNTIL) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=(0.002, 0.012), drop=0.02))
    for i in range(1, 6):
        sim.add_node(f"n{i}", Elector)
    sim.add_invariant(one_leader_per_term)
    sim.at(1.0, isolate_leader, sim)
    sim.at(2.5, sim.heal)
    return sim


# ----- the harness for dsys.election ---------------------------------------------------------

#: The election modules by the names the harness, the docs and the benchmark use.
ELECTIONS: dict[str, Callable[..., LeaderElection]] = {
    "bully": Bully, "ring": Ring, "hirschberg-sinclair": HirschbergSinclair, "omega": Omega,
    "lease": LeaderLease}

#: The messages each algorithm elects with (probes, acknowledgements and the failure
#: detector's heartbeats are not counted).
ELECTION_MESSAGES: dict[str, tuple[type, ...]] = {
    "bully": (Election, Answer, Coordinator),
    "ring": (RingElection, RingElected),
    "hirschberg-sinclair": (HSProbe, HSReply, HSElected),
    "omega": (Leading,),
    "lease": (LeaseRequest, LeaseReply),
}


class ElectionServer(Node):
    """A node that holds one election module as ``self.election`` (and, for Ω, a heartbeat
    failure detector as ``self.detector``, beating every ``0.1`` s, timeout ``0.4`` s).

    ``options`` go to the module's constructor; ``elect_on_start`` (the rings, bully) is
    true when ``initiators`` is None or holds this node's id.

    Example:
        >>> from dsys import Simulation
        >>> from dsys.demos.election import ElectionServer
        >>> sim = Simulation(seed=1)
        >>> for name in ("a", "b", "c"):
        ...     sim.add_node(name, lambda: ElectionServer("bully"))
        >>> sim.run(until=1.0)
        >>> sim.node("a").election.leader
        'c'
    """

    def __init__(self, algorithm: str = "bully", *, initiators: Iterable[str] | None = None,
                 **options: Any) -> None:
        super().__init__()
        if algorithm not in ELECTIONS:
            raise ConfigError(f"no election algorithm {algorithm!r}; choose one of "
                             f"{', '.join(ELECTIONS)}")
        if algorithm in ("bully", "ring", "hirschberg-sinclair"):
            options.setdefault("elect_on_start",
                               initiators is None or self.id in set(initiators))
        if algorithm == "omega":
            self.detector = self.add_component(HeartbeatDetector(interval=0.1, timeout=0.4))
            options["detector"] = self.detector
        self.election = self.add_component(ELECTIONS[algorithm](**options))


def node_ids(nodes: int) -> list[str]:
    """``n1`` ... ``nN``, zero-padded so that the ids sort in number order."""
    width = len(str(nodes))
    return [f"n{i:0{width}d}" for i in range(1, nodes + 1)]


def cluster(algorithm: str = "bully", nodes: int = 5, seed: int = 0, *,
            network: Network | None = None, trace: bool = True,
            initiators: Iterable[str] | None = None, **options: Any) -> Simulation:
    """A simulation of ``nodes`` :class:`ElectionServer` nodes (``n1``...) running
    ``algorithm``, with :func:`~dsys.election.one_leader_per_epoch_invariant` checked
    after every event. ``initiators``: the nodes that start an election at once (bully
    and ring; default: all)."""
    sim = Simulation(seed=seed, network=network, trace=trace)
    chosen = None if initiators is None else tuple(initiators)
    for node_id in node_ids(nodes):
        sim.add_node(node_id, lambda: ElectionServer(algorithm, initiators=chosen, **options))
    sim.add_invariant(one_leader_per_epoch_invariant)
    return sim


def settled(sim: Simulation) -> bool:
    """Every running node trusts the same leader, which runs and leads."""
    trusted = {node.election.leader for node in sim.nodes.values()
               if isinstance(node, ElectionServer)}
    if len(trusted) != 1:
        return False
    (leader,) = trusted
    node = sim.node(leader) if leader is not None and sim.is_up(leader) else None
    return isinstance(node, ElectionServer) and node.election.is_leader


def election_messages(sim: Simulation, algorithm: str) -> int:
    """How many of ``algorithm``'s election messages were sent so far."""
    by_type: Any = sim.statistics().by_type
    return sum(by_type.get(t.__name__, {}).get("sent", 0)
               for t in ELECTION_MESSAGES[algorithm])
