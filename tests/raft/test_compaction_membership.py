"""Snapshots, membership changes, leadership transfer and ReadIndex in the simulator,
over many seeds under faults, with every Raft invariant checked after every event and
the trace checkers at the end. Time bounds are virtual seconds."""

from __future__ import annotations

from random import Random
from typing import Any

import pytest

from dsys import Network, Simulation
from dsys.raft import Raft, check_all
from tests.raft.cluster import Recorder, Server, cluster, leader, one_leader, server_with

FEW = range(6)
MANY = range(100)


class Snapshotting(Recorder):
    """A service that snapshots every ``EVERY`` commands: its state is the list of the
    commands it applied, and a snapshot is that list."""

    EVERY = 7
    owner: Any = None

    def apply(self, index: int, command: Any) -> int:
        result = super().apply(index, command)
        if len(self.applied) % self.EVERY == 0:
            self.owner.raft.snapshot(index, list(self.applied))
        return result

    def restore(self, index: int, data: Any) -> None:
        self.applied = list(data)
        self.indexes = [index]


class SnapshotServer(Server):
    machine_class = Snapshotting

    @staticmethod
    def make(sm: Recorder) -> Raft:
        return Raft(sm, snapshot_chunk=16)

    def __init__(self) -> None:
        super().__init__()
        self.machine.owner = self  # type: ignore[attr-defined]


def judged(sim: Simulation) -> None:
    report = check_all(sim.trace)
    assert report.ok, f"seed {sim.seed}: {report.explain()}"


def submit_many(sim: Simulation, count: int, every: float = 0.02, prefix: str = "c"
                ) -> dict[str, int]:
    """Offer ``count`` commands to the leader of the moment, one every ``every`` seconds;
    returns (as it fills) each accepted command's term."""
    accepted: dict[str, int] = {}
    for k in range(count):
        sim.at(sim.now + k * every, lambda k=k: _submit(sim, f"{prefix}{k}", accepted))
    return accepted


def _submit(sim: Simulation, command: str, accepted: dict[str, int]) -> None:
    raft = leader(sim)
    if raft is not None and raft.start(command) is not None:
        accepted[command] = raft.term


def settled(sim: Simulation, timeout: float) -> bool:
    """Run until one leader leads and every running server applied all it committed."""
    def done(s: Simulation) -> bool:
        raft = leader(s)
        return (raft is not None and one_leader(s) and raft.commit_index == raft.last_log_index
                and all(n.raft.last_applied == raft.commit_index  # type: ignore[attr-defined]
                        for n in s.nodes.values()))
    return sim.run_until(done, timeout=timeout)


# ----- snapshots --------------------------------------------------------------------------


def lagging_follower_catches_up_from_a_snapshot(seed: int) -> None:
    sim = cluster(seed, nodes="abcde", factory=SnapshotServer,
                  network=Network(drop=0.1, duplicate=0.05))
    assert sim.run_until(one_leader, timeout=2.0)
    behind = next(n for n in "abcde" if not sim.node(n).raft.is_leader)  # type: ignore
    sim.crash(behind)
    submit_many(sim, 60)
    sim.run(until=sim.now + 2.0)
    sim.restart(behind)
    assert settled(sim, 10.0), f"seed {seed}: not converged"
    states = {n: sim.node(n).machine.applied for n in "abcde"}  # type: ignore[attr-defined]
    assert len({tuple(s) for s in states.values()}) == 1, f"seed {seed}: {states}"
    assert len(states["a"]) >= 55, f"seed {seed}: only {len(states['a'])} committed"
    # The restarted server got the leader's snapshot, in more than one chunk.
    chunks = [e for e in sim.trace if e.kind == "recv" and e.node == behind
              and type(e.data["msg"]).__name__ == "InstallSnapshot"]
    assert any(e.data["msg"].offset > 0 for e in chunks), f"seed {seed}: not chunked"
    restores = [e.data["index"] for e in sim.trace if e.kind == "note"
                and e.node == behind and e.data["event"] == "restore"]
    assert restores and restores[-1] > 7, f"seed {seed}: {restores}"
    # Every log holds at most what followed the last snapshot (and the no-ops).
    for n in "abcde":
        raft = sim.node(n).raft  # type: ignore[attr-defined]
        assert raft.last_log_index - raft.snapshot_index <= 2 * Snapshotting.EVERY, n
    judged(sim)


@pytest.mark.parametrize("seed", FEW)
def test_a_lagging_follower_catches_up_from_a_chunked_snapshot(seed: int) -> None:
    lagging_follower_catches_up_from_a_snapshot(seed)


@pytest.mark.soak
@pytest.mark.parametrize("seed", MANY)
def test_a_lagging_follower_catches_up_from_a_chunked_snapshot_many(seed: int) -> None:
    lagging_follower_catches_up_from_a_snapshot(seed)


def all_crash_and_restart_from_snapshots(seed: int) -> None:
    sim = cluster(seed, nodes="abc", factory=SnapshotServer, network=Network(drop=0.05))
    assert sim.run_until(one_leader, timeout=2.0)
    submit_many(sim, 30)
    sim.run(until=sim.now + 1.5)
    assert settled(sim, 5.0)
    before = list(sim.node("a").machine.applied)  # type: ignore[attr-defined]
    for n in "abc":
        sim.crash(n, unsynced="lost")
    for n in "abc":
        sim.restart(n)
    # Restarted, each state machine holds the snapshot, then the log replays on commit.
    for n in "abc":
        raft = sim.node(n).raft  # type: ignore[attr-defined]
        assert raft.snapshot_index > 0 and raft.last_applied == raft.snapshot_index
    assert settled(sim, 5.0)
    for n in "abc":
        assert sim.node(n).machine.applied[:len(before)] == before  # type: ignore[attr-defined]
    judged(sim)


@pytest.mark.parametrize("seed", FEW)
def test_all_servers_crash_and_restart_from_snapshot_and_log(seed: int) -> None:
    all_crash_and_restart_from_snapshots(seed)


# ----- membership --------------------------------------------------------------------------


def joining() -> type[Server]:
    """A server that joins later: it starts knowing no group."""
    return server_with(lambda sm: Raft(sm, members=()))


def founding() -> type[Server]:
    """A server of the first group, a, b and c (d and e are in the simulation too)."""
    return server_with(lambda sm: Raft(sm, members="abc"))


def change(sim: Simulation, op: str, server: str, timeout: float = 10.0) -> None:
    """Retry ``op`` ("add_server"/"remove_server") at the leader until it is accepted and
    the group the change makes has committed it."""
    def accepted(s: Simulation) -> bool:
        raft = leader(s)
        return raft is not None and getattr(raft, op)(server)

    def committed(s: Simulation) -> bool:
        raft = leader(s)
        return raft is not None and raft.config_index <= raft.commit_index and (
            (server in raft.members) == (op == "add_server")) and not raft.learners

    assert sim.run_until(accepted, timeout=timeout), f"seed {sim.seed}: {op}({server}) refused"
    assert sim.run_until(committed, timeout=timeout), f"seed {sim.seed}: {op}({server}) stuck"


def replace_the_whole_group(seed: int) -> None:
    """a, b, c become c, d, e, one server at a time, under message loss and while
    clients keep writing; then the removed servers are cut off and nothing changes."""
    sim = Simulation(seed=seed, network=Network(drop=0.05))
    for n in "abc":
        sim.add_node(n, founding())
    for n in "de":
        sim.add_node(n, joining())
    from dsys.raft import run_invariants
    for invariant in run_invariants():
        sim.add_invariant(invariant)
    assert sim.run_until(lambda s: leader(s) is not None, timeout=2.0)
    writes_end = sim.now + 150 * 0.05
    accepted = submit_many(sim, 150, every=0.05)
    for op, server in (("add_server", "d"), ("add_server", "e"), ("remove_server", "a"),
                       ("remove_server", "b")):
        change(sim, op, server)
    raft = leader(sim)
    assert raft is not None and raft.id in "cde"
    assert raft.members == ("c", "d", "e")
    configs = [(e.data["voters"], e.data["learners"]) for e in sim.trace
               if e.kind == "note" and e.data["event"] == "config"]
    assert configs[:2] == [(["a", "b", "c"], ["d"]), (["a", "b", "c", "d"], [])], configs
    sim.partition({"a", "b"}, {"c", "d", "e"})  # the old members are gone for good
    # Once the new group is settled (an election started before the cut may still be
    # running), the removed servers, timing out again and again, change nothing.
    assert settled_among(sim, "cde", 5.0), f"seed {seed}"
    elections_before = _elections(sim)
    sim.run(until=max(sim.now + 3.0, writes_end + 0.5))
    assert settled_among(sim, "cde", 5.0), f"seed {seed}"
    assert _elections(sim) == elections_before, f"seed {seed}: the new group was disrupted"
    applied = {n: sim.node(n).machine.applied for n in "cde"}  # type: ignore[attr-defined]
    assert len({tuple(v) for v in applied.values()}) == 1
    # A command is lost only if the term that accepted it ended (its leader was deposed
    # or removed before committing it): every command of the final term is applied, and
    # nothing twice.
    final = leader(sim)
    assert final is not None
    lost = [c for c, term in accepted.items() if c not in applied["c"]]
    assert all(accepted[c] < final.term for c in lost), (seed, lost, final.term)
    assert len(applied["c"]) == len(set(applied["c"])) >= 100
    judged(sim)


def settled_among(sim: Simulation, names: str, timeout: float) -> bool:
    def done(s: Simulation) -> bool:
        rafts = [s.node(n).raft for n in names]  # type: ignore[attr-defined]
        leads = [r for r in rafts if r.is_leader]
        return len(leads) == 1 and all(r.last_applied == leads[0].commit_index
                                       for r in rafts)
    return sim.run_until(done, timeout=timeout)


def _elections(sim: Simulation) -> int:
    return sum(1 for e in sim.trace if e.kind == "note" and e.data["event"] == "elected")


@pytest.mark.parametrize("seed", FEW)
def test_the_whole_group_is_replaced_one_server_at_a_time(seed: int) -> None:
    replace_the_whole_group(seed)


@pytest.mark.soak
@pytest.mark.parametrize("seed", MANY)
def test_the_whole_group_is_replaced_one_server_at_a_time_many(seed: int) -> None:
    replace_the_whole_group(seed)


def membership_under_partitions(seed: int) -> None:
    """Adds and removes while random partitions come and go: never two leaders in a
    term, never two commands at one index (the invariants, after every event)."""
    sim = Simulation(seed=seed, network=Network(drop=0.05))
    for n in "abc":
        sim.add_node(n, founding())
    for n in "de":
        sim.add_node(n, joining())
    from dsys.raft import run_invariants
    for invariant in run_invariants():
        sim.add_invariant(invariant)
    rng = Random(f"{seed}/membership")
    submit_many(sim, 200, every=0.05)
    plan = [("add_server", "d"), ("add_server", "e"), ("remove_server", "b"),
            ("add_server", "b"), ("remove_server", "d")]
    for step in range(40):
        if step % 4 == 0:
            sim.heal()
            side = set(rng.sample(sorted("abcde"), rng.choice((1, 2))))
            sim.partition(side, set("abcde") - side)
        if plan and step % 2 == 1:
            raft = leader(sim)
            if raft is not None and getattr(raft, plan[0][0])(plan[0][1]):
                plan.pop(0)
        sim.run(until=sim.now + 0.25)
    sim.heal()
    sim.run(until=sim.now + 5.0)
    raft = leader(sim)
    assert raft is not None and one_leader_of(sim, raft.members)
    judged(sim)


def one_leader_of(sim: Simulation, members: tuple[str, ...]) -> bool:
    return sum(1 for n in members if sim.node(n).raft.is_leader) == 1  # type: ignore


@pytest.mark.parametrize("seed", FEW)
def test_membership_changes_under_partitions_keep_every_invariant(seed: int) -> None:
    membership_under_partitions(seed)


@pytest.mark.soak
@pytest.mark.parametrize("seed", MANY)
def test_membership_changes_under_partitions_keep_every_invariant_many(seed: int) -> None:
    membership_under_partitions(seed)


# ----- leadership transfer and ReadIndex -------------------------------------------------------


@pytest.mark.parametrize("seed", FEW)
def test_leadership_moves_to_the_chosen_server_within_one_round(seed: int) -> None:
    sim = cluster(seed, nodes="abcde")
    assert sim.run_until(one_leader, timeout=2.0)
    submit_many(sim, 20)
    sim.run(until=sim.now + 0.5)
    old = leader(sim)
    assert old is not None
    target = next(n for n in "abcde" if n != old.id)
    asked_at, term = sim.now, old.term
    assert old.transfer_leadership(target)
    assert old.start("during transfer") is None
    assert sim.run_until(lambda s: s.node(target).raft.is_leader, timeout=1.0)  # type: ignore
    # No timeout was waited for: the target ran at once, and won the next term.
    assert sim.now - asked_at < 0.15, f"seed {seed}: took {sim.now - asked_at:.3f} s"
    assert sim.node(target).raft.term == term + 1  # type: ignore[attr-defined]
    assert settled(sim, 3.0)
    judged(sim)


@pytest.mark.parametrize("seed", FEW)
def test_a_deposed_leader_cut_off_in_a_minority_never_serves_a_read(seed: int) -> None:
    """The classic stale read: without ReadIndex's round, the old leader would answer
    from a state that misses what the new majority committed."""
    sim = cluster(seed, nodes="abcde",
                  factory=server_with(lambda sm: Raft(sm, check_quorum=False)))
    assert sim.run_until(one_leader, timeout=2.0)
    old = leader(sim)
    assert old is not None
    sim.partition({old.id}, set("abcde") - {old.id})
    assert sim.run_until(lambda s: len([n for n in "abcde" if n != old.id
                                        and s.node(n).raft.is_leader]) == 1,  # type: ignore
                         timeout=3.0)
    new = next(sim.node(n).raft for n in "abcde"  # type: ignore[attr-defined]
               if n != old.id and sim.node(n).raft.is_leader)  # type: ignore[attr-defined]
    index, _ = new.start("x")
    assert sim.run_until(lambda s: new.last_applied >= index, timeout=2.0)
    assert old.is_leader  # it does not know yet (check-quorum is off)
    stale: list[bool] = []
    old.read(stale.append)
    fresh: list[tuple[bool, list[Any]]] = []
    new.read(lambda ok: fresh.append((ok, list(new.state_machine.applied))))  # type: ignore
    sim.run(until=sim.now + 2.0)
    assert stale == [] and old.is_leader  # no majority answers the old leader's round
    assert fresh == [(True, ["x"])]
    sim.heal()
    sim.run(until=sim.now + 1.0)
    assert stale == [False]  # it learned of the new term: the read fails, never serves
    judged(sim)
