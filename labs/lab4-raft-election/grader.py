"""Grader of lab 4: Raft leader election.

The tests run the student's ``RaftNode`` on the Raft harness of :mod:`dsys.testing.raft`
(MIT 6.5840's tester, in virtual time): servers ``s0``, ``s1``... in a simulation, cut
off, reconnected, crashed and restarted, with **election safety** (two servers never
lead the same term) checked after every event. On top of MIT's part 3A scenarios
(:mod:`dsys.testing.raft_scenarios`), tests of this grader's own:

* a calm network keeps its first leader and its term (no needless elections);
* a leader cut off from the new leader, but not from the followers, learns of the new
  term from the followers' replies and stops leading;
* a vote survives a crash: the grader plays two candidates itself (probe nodes that send
  RequestVote messages of the starter's classes), crashes the voter in between, and
  loses every write it had not synced;
* a vote of an old term counts for nothing: not as a late reply to a candidate's previous
  election, not as a RequestVote of a term older than the voter's;
* granting a vote resets the voter's election timer;
* heartbeats of a deposed leader do not reset a follower's election timer;
* elections go on through random crashes and restarts;
* an idle group sends heartbeats, not more;
* a model checker tries every order of deliveries and timers of a three-server election.

Time bounds follow from the handout's timing: heartbeats every 100 ms, election timeouts
drawn from 300 to 600 ms. The harness's ``election_timeout`` (MIT's
``RaftElectionTimeout``, 1 s) paces the scenarios: a new leader is expected within five
of it.
"""

from __future__ import annotations

import math
import sys
from types import ModuleType
from typing import Any

from dsys import Node
from dsys.labs import Trial, graded
from dsys.search import Search
from dsys.testing.raft import RaftAdapter, RaftCluster
from dsys.testing.raft_scenarios import SCENARIOS

#: The handout's heartbeat interval: a leader sends at most this many rounds a second.
HEARTBEATS_PER_SECOND = 10

#: Seconds of calm the stability tests watch.
CALM_FOR = 5.0

#: How long a probe waits for a lone server's next election (a few election timeouts).
ELECTION_WAIT = 3.0

#: The grader's candidates ask for a vote this often (below the lowest election timeout,
#: 300 ms), for this long.
VOTE_EVERY = 0.2
VOTES_FOR = 2.0

#: A deposed leader's heartbeats come this often, for this long (a few election timeouts).
STALE_EVERY = 0.05
STALE_FOR = 2.0

#: How long the servers get to hear of a new leader's term (a round trip or two).
SETTLE = 0.1

#: How long a leader cut off from the new leader may go on leading: a few rounds of
#: heartbeats and replies (its first heartbeat after the cut gets the new term back).
STEP_DOWN_WITHIN = 1.0


def adapter(trial: Trial) -> RaftAdapter:
    """How the harness talks to the implementation under test: ``get_state()`` only (the
    log, ``start`` and ``apply`` come in lab 5)."""
    return RaftAdapter(factory=trial.impl.RaftNode,
                       state=lambda node: node.get_state())  # type: ignore[attr-defined]


def messages(trial: Trial) -> ModuleType:
    """The module that defines the implementation's message classes (``RequestVote``...):
    the implementation itself, or the one its ``RaftNode`` inherits them from (a mutant
    built on the solution)."""
    for cls in trial.impl.RaftNode.__mro__:
        module = sys.modules.get(cls.__module__)
        if module is not None and hasattr(module, "RequestVote"):
            return module
    return trial.impl


def cluster(trial: Trial, n: int, reliable: bool = True) -> RaftCluster:
    """``n`` servers in a new simulation of this trial, safety checked after every event."""
    return RaftCluster(trial.simulation(), adapter(trial), n, run_until=trial.run_until,
                       reliable=reliable)


def scenario(trial: Trial, name: str) -> RaftCluster:
    """Run MIT's scenario ``name`` (see :data:`dsys.testing.raft_scenarios.SCENARIOS`)."""
    return SCENARIOS[name](lambda n, reliable=True: cluster(trial, n, reliable))


class Probe(Node):
    """A server the grader plays itself: it sends what it is told to, and keeps what it
    receives."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: list[tuple[str, Any]] = []

    def on_message(self, src: str, msg: Any) -> None:
        self.inbox.append((src, msg))


def _vote_from(probe: Probe, voter: str, term: int, vote_type: type) -> Any:
    """The first RequestVoteReply from ``voter`` to ``probe`` answering ``term``, or None."""
    for src, msg in probe.inbox:
        if src == voter and isinstance(msg, vote_type):
            return msg
    return None


def _requests_from(probe: Probe, src: str, kind: type) -> list[Any]:
    return [msg for s, msg in probe.inbox if s == src and isinstance(msg, kind)]


# ----- the grader plays the other servers ----------------------------------------------------


@graded(points=10, runs=5)
def vote_survives_a_crash(trial: Trial) -> None:
    """A server that voted, crashed and restarted does not vote again in the same term."""
    impl = messages(trial)
    sim = trial.simulation()
    sim.add_node("voter", trial.impl.RaftNode)
    sim.add_node("b", Probe)
    sim.add_node("c", Probe)
    trial.run(sim, 0.001)
    voter = sim.node("voter")
    term = voter.get_state()[0] + 1  # type: ignore[union-attr]
    b: Probe = sim.node("b")  # type: ignore[assignment]
    c: Probe = sim.node("c")  # type: ignore[assignment]

    # Candidate b asks for the voter's vote in a term it has not seen yet.
    b.send("voter", impl.RequestVote(term, "b"))
    trial.run_until(sim, lambda s: _vote_from(b, "voter", term, impl.RequestVoteReply),
                    timeout=0.1)
    first = _vote_from(b, "voter", term, impl.RequestVoteReply)
    assert first is not None and first.granted, (
        f"candidate b asked the voter for its vote in term {term}, a term the voter had not "
        f"seen; it should have granted it (it has not voted in term {term}), but it "
        f"answered {first!r}")
    # The voter crashes; whatever it did not sync is lost. It restarts at once.
    sim.crash("voter", unsynced="lost")
    sim.restart("voter")
    restarted = sim.node("voter")
    after = restarted.get_state()[0]  # type: ignore[union-attr]
    assert after >= term, (
        f"the voter voted for b in term {term}, crashed and restarted in term {after}: the "
        "current term is persistent state (Figure 2), written to storage and synced before "
        "the vote is sent")
    # Candidate c asks for its vote in the same term.
    c.send("voter", impl.RequestVote(term, "c"))
    trial.run_until(sim, lambda s: _vote_from(c, "voter", term, impl.RequestVoteReply),
                    timeout=0.1)
    second = _vote_from(c, "voter", term, impl.RequestVoteReply)
    assert second is None or not second.granted, (
        f"the voter voted for b in term {term}, crashed, restarted, and voted for c in term "
        f"{term} too: b and c can both win term {term}. votedFor is persistent state "
        "(Figure 2): write it to self.storage and sync before the vote is sent, and read it "
        "back in on_start")


@graded(points=10, runs=5)
def old_terms_do_not_count(trial: Trial) -> None:
    """A vote of an old term does not count in a new one; a candidate of an old term gets none."""
    impl = messages(trial)
    # 1. A candidate whose first election failed gets, during its second, a late vote
    # from the first: it must not count it.
    sim = trial.simulation()
    sim.add_node("candidate", trial.impl.RaftNode)
    sim.add_node("b", Probe)
    sim.add_node("c", Probe)
    trial.run(sim, 0.001)
    b: Probe = sim.node("b")  # type: ignore[assignment]
    for election in (1, 2):

        def asked(s: Any, n: int = election) -> bool:
            return len(_requests_from(b, "candidate", impl.RequestVote)) >= n

        got = trial.run_until(sim, asked, timeout=ELECTION_WAIT)
        assert got, (f"a server alone with two silent peers sent no RequestVote (election "
                     f"{election}) within {ELECTION_WAIT:g} s: does its election timer start "
                     "an election, and the next one when it fires again?")
    first, second = _requests_from(b, "candidate", impl.RequestVote)[:2]
    assert second.term > first.term, (
        f"the candidate's second election asked for votes in term {second.term}, its first "
        f"in term {first.term}: each election is in a new term")
    b.send("candidate", impl.RequestVoteReply(first.term, True))
    trial.run(sim, sim.now + 0.05)
    state = sim.node("candidate").get_state()  # type: ignore[union-attr]
    if state[1]:
        raise AssertionError(
            f"a candidate of term {second.term} received b's vote for term {first.term} (a "
            f"reply to its previous election, arriving late) and became leader of term "
            f"{state[0]} with it. b may have voted for someone else in term {second.term}: "
            "count a vote only if its term is the candidate's current term.")
    # 2. A server in term 2 gets a RequestVote of term 1: it must refuse.
    sim = trial.simulation()
    sim.add_node("voter", trial.impl.RaftNode)
    sim.add_node("b", Probe)
    sim.add_node("c", Probe)
    trial.run(sim, 0.001)
    b = sim.node("b")  # type: ignore[assignment]
    c: Probe = sim.node("c")  # type: ignore[assignment]
    term = sim.node("voter").get_state()[0] + 2  # type: ignore[union-attr]
    b.send("voter", impl.AppendEntries(term, "b"))
    trial.run(sim, sim.now + 0.02)
    c.send("voter", impl.RequestVote(term - 1, "c"))
    trial.run_until(sim, lambda s: _vote_from(c, "voter", term - 1, impl.RequestVoteReply),
                    timeout=0.1)
    vote = _vote_from(c, "voter", term - 1, impl.RequestVoteReply)
    if vote is not None and vote.granted:
        raise AssertionError(
            f"a server that follows b, leader of term {term}, granted its vote to c, a "
            f"candidate of term {term - 1} (it answered {vote!r}). Figure 2, RequestVote: "
            "'reply false if term < currentTerm': its vote in an old term may have gone to "
            "someone else, and that term may have its leader already.")


@graded(points=5, runs=3)
def a_vote_counts_once(trial: Trial) -> None:
    """A vote that arrives twice (the network copied it) counts once."""
    impl = messages(trial)
    sim = trial.simulation()
    sim.add_node("candidate", trial.impl.RaftNode)
    for name in ("b", "c", "d", "e"):
        sim.add_node(name, Probe)
    trial.run(sim, 0.001)
    b: Probe = sim.node("b")  # type: ignore[assignment]
    c: Probe = sim.node("c")  # type: ignore[assignment]
    got = trial.run_until(
        sim, lambda s: bool(_requests_from(b, "candidate", impl.RequestVote)),
        timeout=ELECTION_WAIT)
    assert got, (f"a server with four silent peers sent no RequestVote within "
                 f"{ELECTION_WAIT:g} s: does its election timer start an election?")
    term = _requests_from(b, "candidate", impl.RequestVote)[-1].term
    b.send("candidate", impl.RequestVoteReply(term, True))
    b.send("candidate", impl.RequestVoteReply(term, True))  # the network's copy
    trial.run(sim, sim.now + 0.02)
    state = sim.node("candidate").get_state()  # type: ignore[union-attr]
    if state[1] and state[0] == term:
        raise AssertionError(
            f"a candidate of term {term} in a group of five became leader with its own "
            "vote and b's, which arrived twice: two votes of five are no majority. Count "
            "voters (a set of ids), not replies: the network may copy a message.")
    c.send("candidate", impl.RequestVoteReply(term, True))
    trial.run(sim, sim.now + 0.02)
    state = sim.node("candidate").get_state()  # type: ignore[union-attr]
    assert state == (term, True), (
        f"a candidate of term {term} with its own vote, b's and c's (three of five) did "
        f"not become leader of term {term}: get_state() says {state}")


@graded(points=5, runs=5)
def granting_a_vote_resets_the_timer(trial: Trial) -> None:
    """A server granting votes more often than it would time out never stands for election."""
    impl = messages(trial)
    sim = trial.simulation()
    sim.add_node("voter", trial.impl.RaftNode)
    sim.add_node("b", Probe)
    sim.add_node("c", Probe)
    trial.run(sim, 0.001)
    b: Probe = sim.node("b")  # type: ignore[assignment]
    c: Probe = sim.node("c")  # type: ignore[assignment]
    term = sim.node("voter").get_state()[0]  # type: ignore[union-attr]
    began = sim.now
    # A new candidate every VOTE_EVERY seconds, each in a new term: the voter grants each.
    while sim.now < began + VOTES_FOR:
        term += 1
        candidate = b if term % 2 else c
        candidate.send("voter", impl.RequestVote(term, candidate.id))
        trial.run(sim, sim.now + VOTE_EVERY)
        own = _requests_from(b, "voter", impl.RequestVote)
        if own:
            trial.focus(start=max(began, sim.now - 1.0), nodes=["voter"])
            raise AssertionError(
                f"from t={began:.3f} s, the grader's candidates asked the voter for its vote "
                f"every {VOTE_EVERY:g} s (each in a new term, shorter than any election "
                f"timeout); yet at t={sim.now:.3f} s the voter stood for election itself "
                f"({own[0]!r}). Followers: 'if election timeout elapses without receiving "
                "AppendEntries RPC from current leader *or granting vote to candidate*: "
                "convert to candidate': reset the election timer when you grant a vote.")
        replies = [msg for src, msg in candidate.inbox
                   if src == "voter" and isinstance(msg, impl.RequestVoteReply)]
        assert replies and replies[-1].granted, (
            f"the grader's candidate {candidate.id} asked the voter for its vote in term "
            f"{term}, a term the voter had not seen: the voter should have granted it, but "
            f"it answered {replies[-1] if replies else 'nothing'!r}")


@graded(points=5, runs=5)
def stale_heartbeats_do_not_hold_elections(trial: Trial) -> None:
    """Heartbeats of a deposed leader do not stop a follower from standing for election."""
    impl = messages(trial)
    sim = trial.simulation()
    sim.add_node("follower", trial.impl.RaftNode)
    sim.add_node("old", Probe)
    sim.add_node("new", Probe)
    trial.run(sim, 0.001)
    old: Probe = sim.node("old")  # type: ignore[assignment]
    new: Probe = sim.node("new")  # type: ignore[assignment]
    term = sim.node("follower").get_state()[0] + 2  # type: ignore[union-attr]
    # The leader of `term` sends one heartbeat, then falls silent (it crashed). The leader
    # of an older term, cut off from everyone but this follower, keeps sending its own.
    new.send("follower", impl.AppendEntries(term, "new"))
    began = sim.now
    while sim.now < began + STALE_FOR:
        old.send("follower", impl.AppendEntries(term - 1, "old"))
        trial.run(sim, sim.now + STALE_EVERY)
        if _requests_from(new, "follower", impl.RequestVote):
            return
    trial.focus(start=began, nodes=["follower"])
    raise AssertionError(
        f"the follower heard from the leader of term {term} once, at t={began:.3f} s, and "
        f"since then only AppendEntries of term {term - 1}, from a deposed leader, every "
        f"{STALE_EVERY:g} s; {STALE_FOR:g} s later it has still not stood for election. A "
        "stale AppendEntries is refused (step 1), and does not reset the election timer: "
        "only the *current* leader's do.")


# ----- whole groups, on the harness --------------------------------------------------------


@graded(points=10, runs=20)
def calm_network_keeps_its_leader(trial: Trial) -> None:
    """On a calm network, once a leader is elected, nobody starts another election."""
    c = cluster(trial, 5)
    leader = c.check_one_leader()
    term = c.state(leader)[0]  # type: ignore[index]
    began = c.sim.now
    # Its first heartbeats tell everyone the new term.
    c.run_until(lambda: all(s is not None and s[0] == term for s in map(c.state, c.names)),
                timeout=SETTLE)

    def changed() -> bool:
        return any(s is not None and (s[0] != term or (n == leader) != s[1])
                   for n, s in ((n, c.state(n)) for n in c.names))

    if c.run_until(changed, timeout=CALM_FOR):
        states = ", ".join(f"{n}: term {s[0]}{' (leader)' if s[1] else ''}"
                           for n in c.names if (s := c.state(n)) is not None)
        trial.focus(start=max(began, c.sim.now - 0.5))
        raise AssertionError(
            f"{leader} was elected leader of term {term} at t={began:.3f} s, and the network "
            f"loses nothing, yet at t={c.sim.now:.3f} s the servers are: {states}. Does the "
            "leader send heartbeats well within the election timeout? Does a follower reset "
            "its election timer on each AppendEntries of the current leader? Does a candidate "
            "become a follower on AppendEntries of its own term?")


@graded(points=5, runs=10)
def stale_leader_steps_down(trial: Trial) -> None:
    """A deposed leader that hears only the followers' replies learns the new term, steps down."""
    c = cluster(trial, 3)
    old = c.check_one_leader()
    old_term = c.state(old)[0]  # type: ignore[index]
    c.disconnect(old)
    new = c.check_one_leader()
    new_term = c.state(new)[0]  # type: ignore[index]
    # The old leader comes back, but hears nothing from the new one: it can learn of the
    # new term only from the replies of the follower to its own heartbeats.
    c.connect(old)
    c.sim.block(new, old)
    back = c.sim.now
    if not c.run_until(lambda: c.state(old) != (old_term, True), timeout=STEP_DOWN_WITHIN):
        trial.focus(start=back, nodes=[old, c.peer(new, 1) if c.peer(new, 1) != old
                                       else c.peer(new, 2)])
        raise AssertionError(
            f"{old} led term {old_term}, was cut off while {new} was elected for term "
            f"{new_term}, and came back at t={back:.3f} s, hearing from the follower but not "
            f"from {new}. {STEP_DOWN_WITHIN:g} s later it still leads term {old_term}: the "
            f"follower's replies to its heartbeats carry term {new_term}. Rules for All "
            "Servers: 'if RPC request *or response* contains term T > currentTerm: set "
            "currentTerm = T, convert to follower'.")


# ----- MIT's part 3A ---------------------------------------------------------------------------


@graded(points=10, runs=20)
def initial_election(trial: Trial) -> None:
    """Three servers elect a leader; all agree on its term, and it keeps leading."""
    scenario(trial, "initial_election")


@graded(points=10, runs=20)
def reelection(trial: Trial) -> None:
    """A new leader when the leader is cut off; none without a majority; the old one back."""
    scenario(trial, "reelection")


@graded(points=10, runs=10)
def many_elections(trial: Trial) -> None:
    """Seven servers, three cut off at random ten times: the others always have a leader."""
    scenario(trial, "many_elections")


# ----- more of this lab's own ----------------------------------------------------------------


@graded(points=5, runs=10)
def elections_through_crashes(trial: Trial) -> None:
    """Five servers crash and restart at random: soon a leader again, never two in a term."""
    c = cluster(trial, 5)
    c.check_one_leader()
    for _ in range(10):
        victims = c.rng.sample(c.names, c.rng.randint(1, 2))
        if c.rng.random() < 0.5:
            leader = c.check_one_leader()
            if leader not in victims:
                victims[0] = leader
        for name in victims:
            c.crash(name)
        c.run(c.rng.uniform(0.0, 0.5))
        c.check_one_leader()  # three of five are up: a majority
        for name in victims:
            c.restart(name)
        c.run(c.rng.uniform(0.0, 0.5))
    c.check_one_leader()


@graded(points=5, runs=5)
def idle_message_budget(trial: Trial) -> None:
    """An idle group of three costs one heartbeat round (and its replies) per 100 ms, or less."""
    c = cluster(trial, 3)
    c.check_one_leader()
    c.run(1.0)  # the election and its aftermath are over
    before = c.rpc_count()
    seconds = 2.0
    c.run(seconds)
    sent = c.rpc_count() - before
    round_trip = 2 * (len(c.names) - 1)  # a heartbeat to each follower, and its reply
    budget = round_trip * (math.ceil(seconds * HEARTBEATS_PER_SECOND) + 1)
    assert sent <= budget, (
        f"an idle group of {len(c.names)} servers sent {sent} messages in {seconds:g} s; "
        f"the budget is {budget} ({HEARTBEATS_PER_SECOND} rounds of heartbeats a second, "
        "each an AppendEntries to each follower and its reply)")


@graded(points=10, runs=1, seeded=False)
def search_election_safety(trial: Trial) -> None:
    """Every order of deliveries and timers of three servers' first election: one leader at most."""
    servers = ("a", "b", "c")
    search = Search(dict.fromkeys(servers, trial.impl.RaftNode), seed=trial.seed)

    def one_leader_per_term(view: Any) -> None:
        leaders: dict[int, str] = {}
        for name, node in sorted(view.nodes.items()):
            term, leading = node.get_state()
            if leading:
                assert term not in leaders, (
                    f"{leaders[term]} and {name} are both leaders of term {term}")
                leaders[term] = name

    search.add_invariant(one_leader_per_term)
    # The first term holds the interesting interleavings; later ones repeat them.
    search.add_prune(lambda view: any(n.get_state()[0] > 1 for n in view.nodes.values()))
    # Bounded by states, not time: a grade must not depend on how busy the machine is.
    trial.search(search.bfs(max_depth=6, max_states=20_000))
