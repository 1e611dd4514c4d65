"""Figure 8 of the Raft paper, scripted in the simulator.

Five servers, a..e for the paper's S1..S5. Who campaigns is forced: the server whose
turn it is has a 0.2 s election timeout, every other one 100 s; the rest is done with
crashes and one-way blocks, each at the event that makes it due (``run_until``), so the
script holds whatever the seeded latencies. Plain Raft (no pre-vote, no check-quorum),
one entry per AppendEntries.

Every leader appends its no-op first, so the paper's single entry of a term is here the
no-op and a command: index 1 is the term-1 no-op everyone holds; then

(a) a leads term 2; its entries (no-op at index 2, command "x" at index 3) reach b only;
    a crashes.
(b) e is elected in term 3 with the votes of c, d and e, appends its own (no-op at 2, "y"
    at 3), which reach nobody; e crashes.
(c) a restarts, is elected in term 4 (votes of b, c, d), and replicates its term-2
    entries to c and d, but not its term-4 no-op (the paper's S2 holds the term-2 entry
    too, but a's first message to it would carry the no-op, so d takes its place). A
    majority (a, c, d) now holds "x": the broken rule commits it by counting, and a
    applies it. a crashes.
(d) e restarts and is elected in term 5 (its last term, 3, beats their 2) with the votes
    of b, c and d, and overwrites indexes 2 and 3 everywhere with its term-3 entries.

With the broken rule, a applied "x" at index 3 and the others apply "y" there: state
machine safety and leader completeness break. With the real rule nothing was committed
in (c), and the overwrite is legal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dsys import Simulation
from dsys.raft import (
    Entry,
    Raft,
    check_all,
    check_leader_completeness,
    check_state_machine_safety,
)
from tests.raft.broken import CountsOldTerms
from tests.raft.cluster import cluster, server_with

SEEDS = range(5)


def scripted(base: type[Raft], turn: dict[str, str]) -> type[Raft]:
    """``base`` whose election timeout is 0.2 s on the server named by ``turn["who"]``
    and 100 s (never, in this script) on the others."""

    class Scripted(base):  # type: ignore[valid-type, misc]
        def reset_election_timer(self) -> None:
            self.set_timer("election", 0.2 if self.id == turn["who"] else 100.0)

    return Scripted


def raft(sim: Simulation, node: str) -> Raft:
    return sim.node(node).raft  # type: ignore[union-attr, no-any-return]


def step(sim: Simulation, what: str, predicate: Callable[[Simulation], bool]) -> None:
    assert sim.run_until(predicate, timeout=5.0), f"seed {sim.seed}: {what} did not happen"


def campaign(sim: Simulation, turn: dict[str, str], node: str, term: int) -> None:
    """Let ``node`` (only) stand for election, until it leads ``term``."""
    turn["who"] = node
    raft(sim, node).reset_election_timer()
    step(sim, f"{node} elected in term {term}",
         lambda s: raft(s, node).is_leader and raft(s, node).term == term)


def crash_and_heal(sim: Simulation, node: str) -> None:
    """Crash ``node``, let what it sent before drain into the blocks, then heal."""
    sim.crash(node)
    sim.run(until=sim.now + 0.05)  # the latency is at most 10 ms
    sim.heal()


def cut_off_outbound(sim: Simulation, node: str) -> None:
    """Nothing ``node`` sends arrives anymore (what it already sent included)."""
    for other in "abcde":
        if other != node:
            sim.block(node, other)


def figure_8(seed: int, raft_class: type[Raft]) -> Simulation:
    turn = {"who": "a"}
    rafts = scripted(raft_class, turn)
    factory = server_with(lambda sm: rafts(sm, pre_vote=False, check_quorum=False,
                                           max_entries=1))
    # The live invariants only on the real Raft: the broken one is judged by the trace.
    sim = cluster(seed, nodes="abcde", factory=factory, check=raft_class is Raft)
    # Term 1: a leads, its no-op (index 1, term 1) is everywhere.
    step(sim, "a elected in term 1", lambda s: raft(s, "a").is_leader)
    step(sim, "index 1 applied everywhere",
         lambda s: all(raft(s, n).last_applied == 1 for n in "abcde"))

    # (a) a leads term 2 (after a restart); its term-2 entries reach b only.
    sim.crash("a")
    sim.restart("a")
    campaign(sim, turn, "a", 2)
    for other in "cde":
        sim.block("a", other)
    assert raft(sim, "a").start("x") == (3, 2)
    step(sim, "b holds x", lambda s: raft(s, "b").last_log_index == 3)
    crash_and_heal(sim, "a")

    # (b) e is elected in term 3 by c, d and e (b refuses: its log is ahead), appends its
    # entries at indexes 2 and 3, which reach nobody; e crashes.
    campaign(sim, turn, "e", 3)
    cut_off_outbound(sim, "e")
    assert raft(sim, "e").start("y") == (3, 3)
    # A leader syncs a new entry with the first message that carries it (or, with every
    # follower busy, the next heartbeat's): e's heartbeats are dropped, but sent.
    step(sim, "e synced y", lambda s: s.node("e").storage.get("raft/log/length") == 3)
    crash_and_heal(sim, "e")

    # (c) a restarts and is elected in term 4 (by b, c and d); it replicates its term-2
    # entries to c and d, and nothing more: each is cut off from a once it has
    # acknowledged index 3 (the term-4 no-op a then sends it is lost).
    turn["who"] = "a"
    sim.restart("a")
    step(sim, "a elected in term 4",
         lambda s: raft(s, "a").is_leader and raft(s, "a").term == 4)
    sim.block("a", "b")  # its first message to b carries the term-4 no-op
    pending = {"c", "d"}
    while pending:  # in the order they acknowledge, which the latencies decide
        step(sim, f"{pending} acknowledge index 3",
             lambda s: any(raft(s, "a").match_index[f] >= 3 for f in pending))
        for follower in sorted(pending):
            if raft(sim, "a").match_index[follower] >= 3:
                sim.block("a", follower)
                pending.discard(follower)
    a = raft(sim, "a")
    assert [e.term for e in a.entries] == [1, 2, 2, 4]
    assert all([e.term for e in raft(sim, n).entries] == [1, 2, 2] for n in "bcd")
    # The whole point: the broken rule commits "x" (term 2) by counting, and applies it.
    if raft_class is CountsOldTerms:
        assert a.commit_index == 3 and a.node.machine.applied == ["x"]  # type: ignore
    else:
        assert a.commit_index == 0, f"seed {seed}"  # volatile: a restarted
    crash_and_heal(sim, "a")

    # (d) e restarts and is elected in term 5 by b, c and d (its last term 3 > their 2),
    # and overwrites indexes 2 and 3 everywhere.
    turn["who"] = "e"
    sim.restart("e")
    step(sim, "e elected in term 5",
         lambda s: raft(s, "e").is_leader and raft(s, "e").term == 5)
    step(sim, "e's log applied by b, c, d and e",
         lambda s: all(raft(s, n).last_applied == 4 for n in "bcde"))
    for n in "bcde":
        assert [e.term for e in raft(sim, n).entries] == [1, 3, 3, 5]
        assert sim.node(n).machine.applied == ["y"]  # type: ignore[union-attr]
        assert sim.node(n).machine.indexes == [3]  # type: ignore[union-attr]
    return sim


@pytest.mark.parametrize("seed", SEEDS)
def test_figure_8_breaks_safety_when_old_terms_commit_by_counting(seed: int) -> None:
    sim = figure_8(seed, CountsOldTerms)
    safety = check_state_machine_safety(sim.trace)
    assert not safety.ok, f"seed {seed}: {safety.explain()}"
    assert "applied 'y' (term 3) at index 3, but a applied 'x' (term 2)" in (
        safety.explain())
    completeness = check_leader_completeness(sim.trace)
    assert not completeness.ok
    assert "e was elected leader of term 5 without the entry (index 3, term 2)" in (
        completeness.explain())


@pytest.mark.parametrize("seed", SEEDS)
def test_figure_8_is_safe_with_the_real_rule(seed: int) -> None:
    sim = figure_8(seed, Raft)
    report = check_all(sim.trace)
    assert report.ok, f"seed {seed}: {report.explain()}"
    assert not any(e.kind == "note" and e.data["event"] == "apply" and
                   e.data.get("command") == "x" for e in sim.trace)  # x never applied



def test_the_incremental_state_machine_safety_catches_what_the_full_one_does() -> None:
    """The run invariant (each entry compared once, when applied) and the stateless one
    (whole logs after every event) judge a broken run alike."""
    from dsys.raft import StateMachineSafety, state_machine_safety_invariant

    class View:
        def __init__(self, nodes: dict[str, Any]) -> None:
            self.nodes = nodes

    sim = cluster(0, nodes="abc", check=False)
    sim.run(until=1.0)
    view = View(dict(sim.nodes))
    incremental = StateMachineSafety()
    incremental(view)
    state_machine_safety_invariant(view)
    # b's applied entry at index 1 is replaced behind Raft's back.
    b = sim.node("b").raft  # type: ignore[attr-defined]
    assert b.last_applied >= 1
    b.entries[0] = Entry(b.entries[0].term, "forged")
    with pytest.raises(AssertionError, match="index 1"):
        state_machine_safety_invariant(view)
    fresh = StateMachineSafety()  # a b that applied the forged entry after a had applied
    fresh.first[("raft", 1)] = ("a", sim.node("a").raft.entry_at(1))  # type: ignore
    with pytest.raises(AssertionError, match="b applied Entry\\(term=1, command='forged'\\)"):
        fresh(view)
