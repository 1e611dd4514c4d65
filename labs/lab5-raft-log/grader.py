"""Grader of lab 5: Raft log replication and persistence.

The tests run the student's ``RaftNode`` on the Raft harness of :mod:`dsys.testing.raft`
(MIT 6.5840's tester, in virtual time): servers ``s0``, ``s1``... in a simulation, cut
off, reconnected, crashed (losing the storage writes they had not synced) and
restarted, while the tester proposes commands with ``start`` and reads what each server
hands to ``apply``. After **every** event the harness checks:

* election safety: two servers never lead the same term;
* state machine safety: two servers never apply different commands at one index;
* each server applies indexes 1, 2, 3... in order, with no gap (again from 1 after a
  restart).

The tests are MIT's scenarios of parts 3B (log replication) and 3C (persistence), from
:mod:`dsys.testing.raft_scenarios`, each judged as MIT judges it (agreement within two
election timeouts, no commit without a majority, message and byte budgets), plus five
of this grader's own, where the grader plays the other servers itself (probe nodes that
send messages of the starter's classes), so that a rare situation happens every time:

* persistent state (the vote, the acknowledged entries) survives a crash that loses every
  unsynced write;
* a follower commits no further than the last entry an AppendEntries vouched for;
* a new leader does not commit an entry of an older term by counting its replicas
  (Figure 8), and commits it with the first entry of its own term.
* a late copy of an AppendEntries cuts nothing off, one from a deposed leader is refused;
* a leader counts only the entries a follower acknowledged.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

from dsys import Node
from dsys.labs import Trial, graded
from dsys.testing.raft import RaftAdapter, RaftCluster
from dsys.testing.raft_scenarios import SCENARIOS, cluster_factory

#: How long a probe waits for a lone server's next election (a few election timeouts).
ELECTION_WAIT = 3.0

def adapter(trial: Trial) -> RaftAdapter:
    """How the harness talks to the implementation under test."""
    return RaftAdapter.for_lab(trial.impl.RaftNode)


def messages(trial: Trial) -> ModuleType:
    """The module that defines the implementation's message classes (``RequestVote``...):
    the implementation itself, or the one its ``RaftNode`` inherits them from (a mutant
    built on the solution)."""
    for cls in trial.impl.RaftNode.__mro__:
        module = sys.modules.get(cls.__module__)
        if module is not None and hasattr(module, "RequestVote"):
            return module
    return trial.impl


def scenario(trial: Trial, name: str) -> RaftCluster:
    """Run MIT's scenario ``name`` (see :data:`dsys.testing.raft_scenarios.SCENARIOS`)."""
    make = cluster_factory(adapter(trial), trial.simulation, run_until=trial.run_until)
    return SCENARIOS[name](make)


# ----- this lab's own: the grader plays the other servers -------------------------------------


class Probe(Node):
    """A server the grader plays itself: it sends what it is told to, and keeps what it
    receives."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: list[tuple[str, Any]] = []

    def on_message(self, src: str, msg: Any) -> None:
        self.inbox.append((src, msg))

    def first(self, src: str, kind: type) -> Any:
        """The first message of type ``kind`` received from ``src``, or None."""
        return next((msg for s, msg in self.inbox if s == src and isinstance(msg, kind)), None)


@graded(points=4, runs=5)
def persistent_state_survives_a_crash(trial: Trial) -> None:
    """A vote and acknowledged entries survive a crash that loses every unsynced write."""
    impl = messages(trial)
    sim = trial.simulation()
    sim.add_node("server", adapter(trial).factory)
    sim.add_node("leader", Probe)
    sim.add_node("candidate", Probe)
    sim.add_node("rival", Probe)
    trial.run(sim, 0.001)
    leader: Probe = sim.node("leader")  # type: ignore[assignment]
    candidate: Probe = sim.node("candidate")  # type: ignore[assignment]
    term = sim.node("server").get_state()[0] + 1  # type: ignore[union-attr]

    # The probe "leader" wins term `term` with the server's vote, then sends it two entries.
    leader.send("server", impl.RequestVote(term, "leader", 0, 0))
    trial.run_until(sim, lambda s: leader.first("server", impl.RequestVoteReply), timeout=0.1)
    vote = leader.first("server", impl.RequestVoteReply)
    assert vote is not None and vote.granted, (
        f"the grader's candidate asked the server for its vote in term {term}, which the "
        f"server had not seen, with an empty log like the server's; it answered {vote!r} "
        "instead of granting it")
    entries = (impl.Entry(term, "x"), impl.Entry(term, "y"))
    leader.send("server", impl.AppendEntries(term, "leader", 0, 0, entries, 0))
    trial.run_until(sim, lambda s: leader.first("server", impl.AppendEntriesReply),
                    timeout=0.1)
    ack = leader.first("server", impl.AppendEntriesReply)
    assert ack is not None and ack.success, (
        f"the grader, leader of term {term}, sent the server AppendEntries(prev_log_index=0, "
        f"entries {entries!r}); the server answered {ack!r} instead of accepting them")

    # The server crashes, losing every write it had not synced, and restarts at once.
    sim.crash("server", unsynced="lost")
    sim.restart("server")
    after = sim.node("server").get_state()[0]  # type: ignore[union-attr]
    assert after >= term, (
        f"the server voted in term {term}, crashed and restarted in term {after}: the current "
        "term is persistent state (Figure 2), synced before the vote is sent")

    # A rival candidate of the same term, whose log is as long as can be, asks for the
    # server's vote: only the vote the server cast already can stop it.
    rival: Probe = sim.node("rival")  # type: ignore[assignment]
    rival.send("server", impl.RequestVote(term, "rival", 1000, term))
    trial.run_until(sim, lambda s: rival.first("server", impl.RequestVoteReply), timeout=0.1)
    second = rival.first("server", impl.RequestVoteReply)
    if second is not None and second.granted:
        raise AssertionError(
            f"the server voted for the grader's leader in term {term}, crashed (losing every "
            f"write it had not synced) and restarted, then voted for another candidate of term "
            f"{term}: two leaders of one term. votedFor is persistent state (Figure 2): write "
            "it to self.storage and sync before the vote is sent, and read it back in "
            "on_start.")
    # A candidate of the next term with an empty log: the server's log, which holds the two
    # entries it acknowledged, is more up-to-date, so it must refuse.
    candidate.send("server", impl.RequestVote(term + 1, "candidate", 0, 0))
    trial.run_until(sim, lambda s: candidate.first("server", impl.RequestVoteReply),
                    timeout=0.1)
    third = candidate.first("server", impl.RequestVoteReply)
    if third is not None and third.granted:
        raise AssertionError(
            f"the server acknowledged two entries of term {term} to the grader's leader, "
            f"crashed (losing every write it had not synced) and restarted; then it voted for "
            f"a candidate of term {term + 1} whose log is empty, as if its own log were empty "
            "too. The leader may have counted those two entries to commit them. The log is "
            "persistent state (Figure 2): write it to self.storage and sync before the "
            "success reply is sent, and read it back in on_start.")


def _applied(sim: Any, node: str) -> list[tuple[int, Any]]:
    """What ``node`` applied, as its apply notes in the trace say: (index, command)."""
    return [(e.data.get("index"), e.data.get("command")) for e in sim.trace
            if e.node == node and e.kind == "note" and e.data.get("event") == "apply"]


@graded(points=4, runs=3)
def commit_stops_at_the_last_new_entry(trial: Trial) -> None:
    """A follower commits no further than the last entry an AppendEntries vouched for."""
    impl = messages(trial)
    sim = trial.simulation()
    sim.add_node("server", adapter(trial).factory)
    sim.add_node("old", Probe)
    sim.add_node("new", Probe)
    trial.run(sim, 0.001)
    old: Probe = sim.node("old")  # type: ignore[assignment]
    new: Probe = sim.node("new")  # type: ignore[assignment]
    term = sim.node("server").get_state()[0] + 1  # type: ignore[union-attr]
    # The leader of `term` replicates three entries to the server, and commits none.
    stale = tuple(impl.Entry(term, command) for command in ("a", "b", "c"))
    old.send("server", impl.AppendEntries(term, "old", 0, 0, stale, 0))
    trial.run_until(sim, lambda s: old.first("server", impl.AppendEntriesReply), timeout=0.1)
    ack = old.first("server", impl.AppendEntriesReply)
    assert ack is not None and ack.success, (
        f"the grader, leader of term {term}, sent the server three entries after index 0; it "
        f"answered {ack!r} instead of accepting them")
    # The next leader holds "a" and, at indexes 2 and 3, entries of its own term, all
    # committed. It sends the server one entry at a time, from index 1.
    new.send("server", impl.AppendEntries(term + 1, "new", 0, 0, stale[:1], 3))
    trial.run_until(sim, lambda s: new.first("server", impl.AppendEntriesReply), timeout=0.1)
    trial.run(sim, sim.now + 0.01)
    applied = _applied(sim, "server")
    beyond = [(index, command) for index, command in applied if index != 1]
    if beyond:
        raise AssertionError(
            f"the server held entries 'a', 'b', 'c' of term {term} (uncommitted). The leader "
            f"of term {term + 1} sent it AppendEntries(prev_log_index=0, entries=[{stale[0]!r}], "
            f"leader_commit=3): the server then applied {applied!r}. Only index 1 is known to "
            "match the leader's log: past it, the server's entries may be stale ones the leader "
            "will replace. Figure 2, AppendEntries, step 5: commitIndex = min(leaderCommit, "
            "index of last new entry).")


def follower_probe(impl: ModuleType) -> type[Node]:
    """A follower the grader plays itself: it grants every vote asked of it, accepts every
    AppendEntries (as if its log matched), and keeps what it receives."""

    class Follower(Probe):
        def on_message(self, src: str, msg: Any) -> None:
            super().on_message(src, msg)
            if isinstance(msg, impl.RequestVote):
                self.send(src, impl.RequestVoteReply(msg.term, True))
            elif isinstance(msg, impl.AppendEntries):
                match = msg.prev_log_index + len(msg.entries)
                self.send(src, impl.AppendEntriesReply(msg.term, True, match_index=match))

    return Follower


@graded(points=5, runs=3)
def old_terms_commit_only_with_the_current_one(trial: Trial) -> None:
    """A new leader does not commit an old term's entry by counting replicas (Figure 8)."""
    impl = messages(trial)
    sim = trial.simulation()
    sim.add_node("server", adapter(trial).factory)
    sim.add_node("f1", follower_probe(impl))
    sim.add_node("f2", follower_probe(impl))
    trial.run(sim, 0.001)
    f1: Probe = sim.node("f1")  # type: ignore[assignment]
    term = sim.node("server").get_state()[0] + 1  # type: ignore[union-attr]
    # f1, leader of `term`, gives the server an entry of its term (f1 and f2 hold it too).
    f1.send("server", impl.AppendEntries(term, "f1", 0, 0, (impl.Entry(term, "x"),), 0))
    trial.run(sim, sim.now + 0.02)
    # The server times out, and wins the next election with the votes of f1 and f2.
    won = trial.run_until(sim, lambda s: s.node("server").get_state()[1],  # type: ignore
                          timeout=ELECTION_WAIT)
    assert won, (f"the server, with two peers granting every vote, was not elected within "
                 f"{ELECTION_WAIT:g} s")
    leading = sim.node("server").get_state()[0]  # type: ignore[union-attr]
    # Both followers acknowledge the old entry (match_index 1) in every reply.
    trial.run(sim, sim.now + 0.5)
    early = _applied(sim, "server")
    if early:
        trial.focus(start=sim.now - 0.5, nodes=["server"])
        raise AssertionError(
            f"the server became leader of term {leading}; its log holds one entry, of term "
            f"{term}, and both followers acknowledged it; the server then applied {early!r}. "
            "That is Figure 8's mistake: an entry of an earlier term on a majority can still "
            "be overwritten. Leaders: 'if there exists an N such that N > commitIndex, a "
            "majority of matchIndex[i] >= N, *and log[N].term == currentTerm*: set "
            "commitIndex = N'. It commits with the first entry of the leader's own term.")
    # A command of the leader's own term commits, and the old entry with it.
    answer = sim.node("server").start("y")  # type: ignore[union-attr]
    assert answer == (2, leading), (
        f"start('y') on the leader of term {leading}, whose log holds one entry, returned "
        f"{answer!r}; expected (2, {leading})")
    trial.run_until(sim, lambda s: len(_applied(s, "server")) >= 2, timeout=1.0)
    applied = _applied(sim, "server")
    assert applied == [(1, "x"), (2, "y")], (
        f"the leader of term {leading} started 'y' at index 2, and both followers acknowledged "
        f"it: it should have committed and applied 'x' then 'y' (indexes 1 and 2), but it "
        f"applied {applied!r}")


@graded(points=4, runs=3)
def late_and_stale_appends_change_nothing(trial: Trial) -> None:
    """A late copy of an AppendEntries cuts nothing off; one from a deposed leader is refused."""
    impl = messages(trial)
    sim = trial.simulation()
    sim.add_node("server", adapter(trial).factory)
    for name in ("leader", "old", "candidate"):
        sim.add_node(name, Probe)
    trial.run(sim, 0.001)
    leader: Probe = sim.node("leader")  # type: ignore[assignment]
    old: Probe = sim.node("old")  # type: ignore[assignment]
    candidate: Probe = sim.node("candidate")  # type: ignore[assignment]
    term = sim.node("server").get_state()[0] + 2  # type: ignore[union-attr]
    entries = tuple(impl.Entry(term, command) for command in ("x", "y", "z"))
    # The leader of `term` sends three entries, then a late copy of an earlier message
    # that carried only the first.
    for count in (3, 1):
        leader.inbox.clear()
        leader.send("server", impl.AppendEntries(term, "leader", 0, 0, entries[:count], 0))
        trial.run_until(sim, lambda s: leader.first("server", impl.AppendEntriesReply),
                        timeout=0.1)
        ack = leader.first("server", impl.AppendEntriesReply)
        assert ack is not None and ack.success, (
            f"the leader of term {term} sent the server AppendEntries(prev_log_index=0, "
            f"{count} entries of term {term}); it answered {ack!r} instead of accepting them")
    # A leader deposed in an earlier term sends its own entry for index 1.
    old.send("server", impl.AppendEntries(term - 1, "old", 0, 0,
                                          (impl.Entry(term - 1, "w"),), 0))
    trial.run_until(sim, lambda s: old.first("server", impl.AppendEntriesReply), timeout=0.1)
    refused = old.first("server", impl.AppendEntriesReply)
    if refused is not None and refused.success:
        raise AssertionError(
            f"the server follows the leader of term {term}; a deposed leader of term "
            f"{term - 1} sent it an entry for index 1, and it accepted it ({refused!r}). "
            "Figure 2, AppendEntries, step 1: 'reply false if term < currentTerm'.")
    # The server's log must still be x, y, z: a candidate whose log ends at index 2 of
    # `term` is less up-to-date, and must be refused.
    candidate.send("server", impl.RequestVote(term + 1, "candidate", 2, term))
    trial.run_until(sim, lambda s: candidate.first("server", impl.RequestVoteReply),
                    timeout=0.1)
    vote = candidate.first("server", impl.RequestVoteReply)
    if vote is not None and vote.granted:
        raise AssertionError(
            f"the server acknowledged entries x, y, z (indexes 1 to 3, term {term}); then got "
            f"a late copy of an AppendEntries that carried only x, and an AppendEntries of "
            f"term {term - 1}. A candidate of term {term + 1} whose log ends at index 2 "
            f"(term {term}) then got its vote: the server's log no longer held index 3. "
            "Delete entries only when one *conflicts* with a new entry (step 3): a late "
            "message that carries fewer entries must not cut off entries you acknowledged; "
            "and refuse AppendEntries of older terms (step 1).")


def lossy_follower(impl: ModuleType) -> type[Node]:
    """A follower the grader plays itself, behind a network that loses every
    AppendEntries carrying an entry past index 1: it grants every vote, and answers
    the rest truthfully."""

    class Follower(Probe):
        def on_message(self, src: str, msg: Any) -> None:
            super().on_message(src, msg)
            if isinstance(msg, impl.RequestVote):
                self.send(src, impl.RequestVoteReply(msg.term, True))
            elif isinstance(msg, impl.AppendEntries):
                match = msg.prev_log_index + len(msg.entries)
                if match <= 1:
                    self.send(src, impl.AppendEntriesReply(msg.term, True, match_index=match))

    return Follower


@graded(points=4, runs=3)
def leader_counts_only_acknowledged_entries(trial: Trial) -> None:
    """A leader counts a follower's copy of an entry only once that follower acknowledged it."""
    impl = messages(trial)
    sim = trial.simulation()
    sim.add_node("server", adapter(trial).factory)
    sim.add_node("f1", lossy_follower(impl))
    sim.add_node("f2", lossy_follower(impl))
    won = trial.run_until(sim, lambda s: s.node("server").get_state()[1],  # type: ignore
                          timeout=ELECTION_WAIT)
    assert won, (f"the server, with two peers granting every vote, was not elected within "
                 f"{ELECTION_WAIT:g} s")
    server = sim.node("server")
    f1: Probe = sim.node("f1")  # type: ignore[assignment]
    server.start("x")  # type: ignore[union-attr]

    def carried_x(s: Any) -> bool:
        return any(isinstance(m, impl.AppendEntries) and m.entries for _, m in f1.inbox)

    trial.run_until(sim, carried_x, timeout=0.5)
    # f1 has x and has answered; before its answer arrives, the leader takes y. Every
    # AppendEntries that carries y is lost: nobody but the leader holds it.
    server.start("y")  # type: ignore[union-attr]
    trial.run(sim, sim.now + 0.5)
    applied = _applied(sim, "server")
    if any(index >= 2 for index, _ in applied):
        raise AssertionError(
            f"the leader took 'x' (index 1), sent it to its followers, then took 'y' (index "
            f"2) before their acknowledgements of 'x' came back; every AppendEntries carrying "
            f"'y' was lost. It applied {applied!r}: it counted the followers' copies of 'y', "
            "which they never had. A success reply acknowledges what the AppendEntries it "
            "answers carried (its match_index), not the leader's whole log.")
    assert applied == [(1, "x")], (
        f"the leader's followers both acknowledged 'x' at index 1, but it applied {applied!r}")


# ----- MIT's part 3B: log replication ----------------------------------------------------------


@graded(points=3, runs=5)
def basic_agree(trial: Trial) -> None:
    """Three commands are agreed on, one after another, at indexes 1, 2, 3."""
    scenario(trial, "basic_agree")


@graded(points=2, runs=5)
def rpc_bytes(trial: Trial) -> None:
    """Each command crosses the network about once per follower."""
    scenario(trial, "rpc_bytes")


@graded(points=4, runs=5)
def follower_failure(trial: Trial) -> None:
    """Agreement with one follower cut off; no commit with both cut off."""
    scenario(trial, "follower_failure")


@graded(points=3, runs=5)
def leader_failure(trial: Trial) -> None:
    """Agreement after the leader is cut off; no commit once two leaders are."""
    scenario(trial, "leader_failure")


@graded(points=5, runs=10)
def fail_agree(trial: Trial) -> None:
    """A follower cut off while the others agree catches up when it comes back."""
    scenario(trial, "fail_agree")


@graded(points=4, runs=5)
def fail_no_agree(trial: Trial) -> None:
    """With three of five servers cut off nothing commits; then agreement again."""
    scenario(trial, "fail_no_agree")


@graded(points=3, runs=5)
def concurrent_starts(trial: Trial) -> None:
    """Five commands started at the same instant all commit."""
    scenario(trial, "concurrent_starts")


@graded(points=6, runs=10)
def rejoin(trial: Trial) -> None:
    """A leader cut off with uncommitted entries rejoins: its entries are replaced."""
    scenario(trial, "rejoin")


@graded(points=8, runs=5)
def backup(trial: Trial) -> None:
    """A leader backs up quickly over long runs of conflicting entries in followers' logs."""
    scenario(trial, "backup")


@graded(points=2, runs=5)
def count(trial: Trial) -> None:
    """Few messages: to elect a leader, to agree on commands, and while idle."""
    scenario(trial, "count")


# ----- MIT's part 3C: persistence ---------------------------------------------------------------


@graded(points=5, runs=10)
def persist1(trial: Trial) -> None:
    """Committed commands survive restarts of every server, of the leader, of a follower."""
    scenario(trial, "persist1")


@graded(points=5, runs=10)
def persist2(trial: Trial) -> None:
    """Five rounds of partitions and restarts of five servers: each round commits."""
    scenario(trial, "persist2")


@graded(points=4, runs=10)
def persist3(trial: Trial) -> None:
    """Leader and a follower crash while the third is cut off; the leader restarts, commits."""
    scenario(trial, "persist3")


@graded(points=7, runs=10)
def figure8(trial: Trial) -> None:
    """Leaders crash again and again (Figure 8): no old-term entry is committed by counting."""
    scenario(trial, "figure8")


@graded(points=5, runs=5)
def unreliable_agree(trial: Trial) -> None:
    """On a network that loses and reorders messages, concurrent commands all commit."""
    scenario(trial, "unreliable_agree")


@graded(points=7, runs=4)
def figure8_unreliable(trial: Trial) -> None:
    """Figure 8 on an unreliable network, leaders cut off, old messages arriving seconds late."""
    scenario(trial, "figure8_unreliable")


@graded(points=3, runs=5)
def reliable_churn(trial: Trial) -> None:
    """Servers cut off, crashed and restarted at random under load: every commit survives."""
    scenario(trial, "reliable_churn")


@graded(points=3, runs=5)
def unreliable_churn(trial: Trial) -> None:
    """The same churn on a network that loses and reorders messages."""
    scenario(trial, "unreliable_churn")
