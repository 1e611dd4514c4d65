"""Leader election with terms (the election half of Raft, §5.2 of the paper).

Five nodes start as followers. A follower that hears nothing from a leader for a random
election timeout becomes a candidate: it starts a new term, votes for itself and asks the
others for votes. Each node votes at most once per term (the vote is synced to storage
before it is sent, so a crash cannot make it vote twice). A candidate with a majority
becomes leader and sends heartbeats. At t=1 s the leader is cut off by a partition; the
majority side elects a new leader in a higher term; when the partition heals, the old
leader sees the higher term and steps down.

The invariant "at most one leader per term" is checked after every event.
"""

from __future__ import annotations

from dsys import Network, Node, Simulation, message

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
