"""Raft in the simulator, over many seeds, judged by the checkers.

Every run checks all of Raft's invariants after every event (see ``cluster``), and the
trace checkers at the end. Time bounds are in virtual seconds. The default run takes a
few seeds per scenario; ``pytest --soak`` runs hundreds.
"""

from __future__ import annotations

import pytest

from dsys import Nemesis, Network, Simulation
from dsys.raft import Raft, check_all
from tests.raft.cluster import (
    Server,
    all_applied,
    cluster,
    elections,
    leader,
    leaders,
    one_leader,
    server_with,
    submit,
)

FEW = range(8)
MANY = range(200)


def keep_submitting(sim: Simulation, start: float, stop: float, every: float = 0.05,
                    prefix: str = "c") -> None:
    """From ``start`` to ``stop``, offer a new command to the leader every ``every``."""
    count = int((stop - start) / every)
    for k in range(count):
        sim.at(start + k * every, submit, sim, f"{prefix}{k}")


def judged(sim: Simulation) -> None:
    report = check_all(sim.trace)
    assert report.ok, f"seed {sim.seed}: {report.explain()}"


def converged(sim: Simulation, timeout: float) -> bool:
    """Run until every running node has applied everything its leader committed."""
    def done(s: Simulation) -> bool:
        raft = leader(s)
        return (raft is not None and one_leader(s)
                and all_applied(s, raft.commit_index)(s) and raft.commit_index > 0)
    return sim.run_until(done, timeout=timeout)


# ----- election ------------------------------------------------------------------------


def initial_election(seed: int) -> float:
    sim = cluster(seed, nodes="abcde")
    assert sim.run_until(one_leader, timeout=1.0), f"seed {seed}: no leader within 1 s"
    elected_at = sim.now
    sim.run(until=5.0)  # no faults: the leader stays, nobody else is elected
    assert len(elections(sim)) == 1 and one_leader(sim), f"seed {seed}"
    judged(sim)
    return elected_at


def test_initial_election_within_one_virtual_second_and_no_other() -> None:
    times = [initial_election(seed) for seed in FEW]
    assert max(times) < 1.0


@pytest.mark.soak
def test_initial_election_soak() -> None:
    times = [initial_election(seed) for seed in MANY]
    assert max(times) < 1.0


def reelection(seed: int) -> float:
    sim = cluster(seed)
    assert sim.run_until(one_leader, timeout=1.0)
    old = leaders(sim)[0]
    old_term = sim.node(old).raft.term  # type: ignore[union-attr]
    sim.crash(old)
    crashed_at = sim.now
    assert sim.run_until(one_leader, timeout=2.0), f"seed {seed}: no new leader"
    took = sim.now - crashed_at
    new = leaders(sim)[0]
    assert new != old and sim.node(new).raft.term > old_term  # type: ignore[union-attr]
    sim.restart(old)
    sim.run(until=sim.now + 1.0)
    # The old leader came back as a follower and did not disrupt the new one.
    assert leaders(sim) == [new], f"seed {seed}"
    judged(sim)
    return took


def test_a_new_leader_is_elected_within_a_second_of_a_leader_crash() -> None:
    assert max(reelection(seed) for seed in FEW) < 1.0


@pytest.mark.soak
def test_reelection_soak() -> None:
    assert max(reelection(seed) for seed in MANY) < 1.0


# ----- replication -------------------------------------------------------------------------


def agreement(seed: int, network: Network) -> None:
    sim = cluster(seed, network=network)
    keep_submitting(sim, 0.5, 2.5)
    sim.run(until=2.5)
    assert converged(sim, timeout=5.0), f"seed {seed}"
    applied = [node.machine.applied for node in sim.nodes.values()]  # type: ignore
    assert applied[0] == applied[1] == applied[2] and len(applied[0]) >= 10, f"seed {seed}"
    judged(sim)


HOSTILE = Network(drop=0.1, duplicate=0.1, reorder=0.2)


def test_agreement_without_faults() -> None:
    for seed in FEW:
        agreement(seed, Network())


def test_agreement_under_loss_duplication_and_reordering() -> None:
    for seed in FEW:
        agreement(seed, HOSTILE)


@pytest.mark.soak
def test_agreement_soak() -> None:
    for seed in MANY:
        agreement(seed, HOSTILE)


def minority_leader(seed: int) -> None:
    """The leader and one follower are cut off from the other three: the majority elects
    a leader and commits; the old leader's new entries never commit; after the heal the
    old leader's uncommitted entries are replaced."""
    sim = cluster(seed, nodes="abcde")
    assert sim.run_until(one_leader, timeout=1.0)
    keep_submitting(sim, sim.now, sim.now + 0.3, prefix="before")
    sim.run(until=sim.now + 0.5)
    old = leaders(sim)[0]
    old_raft: Raft = sim.node(old).raft  # type: ignore[union-attr]
    friend = next(n for n in "abcde" if n != old)
    majority = [n for n in "abcde" if n not in (old, friend)]
    sim.partition([old, friend], majority)
    lost = old_raft.start("lost")  # can never commit: only 2 of 5 hold it
    assert lost is not None
    cut_at = sim.now
    assert sim.run_until(lambda s: any(s.node(n).raft.is_leader  # type: ignore
                                       for n in majority), timeout=2.0), f"seed {seed}"
    keep_submitting(sim, sim.now, sim.now + 0.5, prefix="during")
    sim.run(until=cut_at + 2.0)
    committed = {n: sim.node(n).machine.applied for n in majority}  # type: ignore
    assert all(any(c.startswith("during") for c in a) for a in committed.values())
    assert "lost" not in old_raft.node.machine.applied  # type: ignore[attr-defined]
    sim.heal()
    keep_submitting(sim, sim.now, sim.now + 0.3, prefix="after")
    assert converged(sim, timeout=3.0), f"seed {seed}"
    for node in sim.nodes.values():
        assert "lost" not in node.machine.applied  # type: ignore[attr-defined]
        assert node.raft.entries[:node.raft.commit_index] == leader(sim).entries[  # type: ignore
            :node.raft.commit_index]
    judged(sim)


def test_a_partitioned_minority_leader_commits_nothing_and_is_overwritten() -> None:
    for seed in FEW:
        minority_leader(seed)


@pytest.mark.soak
def test_minority_leader_soak() -> None:
    for seed in MANY:
        minority_leader(seed)


# ----- crashes, lost writes, everything at once ------------------------------------------------


class ServiceWithUnsyncedState(Server):
    """A service that writes state of its own beside Raft's, never syncing it: a crash
    may lose those writes (Raft's handlers sync whatever is pending when they run)."""

    def on_start(self) -> None:
        self.set_timer("scribble", 0.02)

    def on_timer(self, name: str) -> None:
        self.storage["svc/seen"] = self.raft.last_applied  # not synced
        self.set_timer("scribble", 0.02)


def chaos(seed: int, *, nodes: str = "abcde", until: float = 6.0) -> dict[str, int]:
    sim = cluster(seed, nodes=nodes, factory=ServiceWithUnsyncedState,
                  network=Network(drop=0.05, duplicate=0.05, reorder=0.1))
    Nemesis(faults=("partition", "isolate", "oneway", "crash"),
              interval=(0.2, 1.0), duration=(0.2, 1.0), stop=until).install(sim)
    keep_submitting(sim, 0.3, until + 1.0)
    # Worst cases of the disk, beside the nemesis's seeded coin flips: lose everything
    # unsynced.
    sim.at(until / 3, sim.crash, nodes[0], unsynced="lost")
    sim.at(until / 3 + 0.5, sim.restart, nodes[0])
    sim.run(until=until)
    assert converged(sim, timeout=5.0), f"seed {seed}: no recovery after the faults"
    judged(sim)
    return {"elections": len(elections(sim)),
            "crashes": sum(1 for e in sim.trace if e.kind == "crash"),
            "lost writes": sum(len(e.data.get("lost_writes", ())) for e in sim.trace
                               if e.kind == "crash"),
            "applied": min(len(n.machine.applied) for n in sim.nodes.values())}  # type: ignore


def test_crashes_partitions_and_lost_unsynced_writes_never_break_safety() -> None:
    figures = [chaos(seed, until=4.0) for seed in range(3)]
    assert sum(f["crashes"] for f in figures) >= 3
    assert sum(f["lost writes"] for f in figures) > 0  # the service's writes were lost
    assert all(f["applied"] >= 20 for f in figures)


@pytest.mark.soak
def test_chaos_soak() -> None:
    for seed in MANY:
        chaos(seed, until=10.0)


# ----- one-way partitions: pre-vote and check-quorum ------------------------------------------


def guarded(on: bool) -> type[Server]:
    return server_with(lambda sm: Raft(sm, pre_vote=on, check_quorum=on))


def follower_cut_off_inbound(seed: int, on: bool) -> tuple[int, int]:
    """A follower hears nothing (it can still send) for 3 s: (elections, term increase)."""
    sim = cluster(seed, factory=guarded(on))
    assert sim.run_until(one_leader, timeout=1.0)
    sim.run(until=1.0)
    first = leaders(sim)[0]
    term = sim.node(first).raft.term  # type: ignore[union-attr]
    victim = next(n for n in "abc" if n != first)
    for other in "abc":
        if other != victim:
            sim.block(other, victim)
    sim.run(until=4.0)
    judged(sim)
    now_term = max(node.raft.term for n, node in sim.nodes.items()  # type: ignore
                   if n != victim)
    return len(elections(sim, after=1.0)), now_term - term


def test_a_one_way_partition_disrupts_the_cluster_without_pre_vote_and_check_quorum() -> None:
    for seed in FEW:
        count, raised = follower_cut_off_inbound(seed, on=False)
        # Its ever higher terms depose the leader again and again (the others even vote
        # for it, in terms where it can never hear the votes).
        assert count >= 1 and raised >= 8, f"seed {seed}: {count} elections, +{raised}"


def test_with_pre_vote_and_check_quorum_the_cut_off_follower_disrupts_nothing() -> None:
    for seed in FEW:
        assert follower_cut_off_inbound(seed, on=True) == (0, 0), f"seed {seed}"


def leader_cut_off_inbound(seed: int, on: bool) -> int:
    """The leader hears nothing (its heartbeats still go out) for 3 s: how many commands
    commit meanwhile."""
    sim = cluster(seed, factory=guarded(on))
    assert sim.run_until(one_leader, timeout=1.0)
    sim.run(until=1.0)
    victim = leaders(sim)[0]
    for other in "abc":
        if other != victim:
            sim.block(other, victim)
    keep_submitting(sim, 1.0, 4.0)
    sim.run(until=4.0)
    judged(sim)
    return max(len(node.machine.applied) for node in sim.nodes.values())  # type: ignore


def test_without_check_quorum_a_leader_that_hears_nobody_blocks_progress() -> None:
    for seed in FEW:
        assert leader_cut_off_inbound(seed, on=False) == 0, f"seed {seed}"


def test_with_check_quorum_it_steps_down_and_the_others_go_on() -> None:
    for seed in FEW:
        assert leader_cut_off_inbound(seed, on=True) >= 20, f"seed {seed}"


@pytest.mark.soak
def test_one_way_partitions_soak() -> None:
    for seed in MANY:
        assert follower_cut_off_inbound(seed, on=True) == (0, 0)
        assert leader_cut_off_inbound(seed, on=True) >= 20


# ----- clock drift -----------------------------------------------------------------------------


def drifting(seed: int, until: float = 4.0) -> int:
    """Every server's clock runs at its own rate (from 30% slow to 30% fast) and jumps now
    and then, beside partitions and crashes: Raft's safety never depends on clocks, and
    with timeouts stretched or shrunk by a third it still elects and commits."""
    sim = cluster(seed, nodes="abcde", network=Network(drop=0.05))
    for node, drift in zip("abcde", (-0.3, -0.15, 0.0, 0.15, 0.3), strict=True):
        sim.set_clock(node, drift=drift)
    Nemesis(faults=("partition", "crash", "clock"), interval=(0.3, 1.0), duration=(0.2, 0.8),
            stop=until).install(sim)
    keep_submitting(sim, 0.3, until + 1.0)
    sim.run(until=until)
    assert converged(sim, timeout=5.0), f"seed {seed}: no recovery after the faults"
    judged(sim)
    assert sum(1 for e in sim.trace if e.kind == "clock") >= 5
    return min(len(n.machine.applied) for n in sim.nodes.values())  # type: ignore


def test_drifting_and_jumping_clocks_never_break_safety_or_progress() -> None:
    assert all(drifting(seed) >= 20 for seed in range(3))


@pytest.mark.soak
def test_drifting_clocks_soak() -> None:
    for seed in MANY:
        drifting(seed, until=8.0)
