"""The Raft harness (dsys.testing.raft): its checks catch broken implementations and say
what happened (server, index, term, virtual time).

Two kinds of nodes under test: a toy "student" node with a fixed leader (no elections,
no failures: every bug below is one deliberate line), driven through
``RaftAdapter.for_lab``; and the dsys Raft with one rule broken, through
``RaftAdapter.for_component(raft_class=...)``.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from dsys import InvariantViolation, Node, Simulation, message
from dsys.errors import ConfigError, UsageError
from dsys.raft import Raft
from dsys.raft.messages import AppendEntries
from dsys.testing.raft import (
    NOOP,
    RaftAdapter,
    RaftCluster,
    Service,
    canonical_data,
    chain_digest,
)

# ----- a toy lab node: s0 leads term 1 forever, followers apply what it sends ---------------


@message(name="test:raft_harness.Put")
class Put:
    index: int
    command: Any


@message(name="test:raft_harness.Install")
class Install:
    index: int
    data: Any


class FixedLeader(Node):
    """The lab interface (get_state, start, apply, snapshot, restore) over a trivial
    protocol: the leader s0 applies at once and sends each command to the followers,
    which apply in order; a snapshot is stored and, at restart, restored."""

    def on_start(self) -> None:
        self.next = 1  # the next index to apply
        self.pending: dict[int, Any] = {}
        saved = self.storage.get("snapshot")
        if saved is not None:
            self.restore(saved[0], saved[1])
            self.next = saved[0] + 1

    def get_state(self) -> tuple[int, bool]:
        return 1, self.id == "s0"

    def start(self, command: Any) -> tuple[int, int] | None:
        if self.id != "s0":
            return None
        index = self.next
        for peer in self.peers:
            self.send(peer, Put(index, command))
        self.deliver(index, command)
        return index, 1

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Put):
            self.pending[msg.index] = msg.command
            while self.next in self.pending:
                self.deliver(self.next, self.pending.pop(self.next))

    def deliver(self, index: int, command: Any) -> None:
        self.next = index + 1
        self.apply(index, command)

    def apply(self, index: int, command: Any) -> None:
        self.note("apply", index=index, command=command)

    def snapshot(self, index: int, data: Any) -> None:
        self.storage["snapshot"] = [index, data]
        self.storage.sync()

    def restore(self, index: int, data: Any) -> None:
        self.note("restore", index=index)


def toy_cluster(node: type[Node] = FixedLeader, *, seed: int = 0,
                snapshot_every: int | None = None) -> RaftCluster:
    adapter = RaftAdapter.for_lab(node, snapshot_every=snapshot_every)
    return RaftCluster(Simulation(seed=seed), adapter, 3)


def violation(run: Any) -> str:
    """The text of the violation ``run()`` raises: from an invariant checked after an
    event, or checked at once (after a restart, which runs outside events)."""
    with pytest.raises((InvariantViolation, AssertionError)) as caught:
        run()
    return str(caught.value)


def test_a_correct_toy_passes_and_the_harness_counts_what_was_applied() -> None:
    c = toy_cluster()
    assert c.check_one_leader() == "s0"
    assert [c.one(k, 3) for k in (10, 20, 30)] == [1, 2, 3]
    assert c.n_committed(2) == (3, 20)
    assert c.n_committed(4) == (0, None)
    assert c.applied["s1"] == {1: 10, 2: 20, 3: 30}
    assert c.rpc_count() == 6 and c.rpc_count("s1") == 0
    assert c.bytes_sent() > 0
    assert c.wait(3, 3) == 30


def test_a_server_that_applies_another_command_breaks_state_machine_safety() -> None:
    class WrongCommand(FixedLeader):
        def apply(self, index: int, command: Any) -> None:
            super().apply(index, "bogus" if (self.id, index) == ("s2", 2) else command)

    c = toy_cluster(WrongCommand)
    c.one(10, 3)
    text = violation(lambda: c.one(20, 3))
    assert "state machine safety: s2 applied 'bogus' at index 2" in text
    assert "in term 1" in text and "but s0 applied 20" in text and "t=" in text


def test_a_server_that_skips_an_index_is_caught() -> None:
    class Skips(FixedLeader):
        def apply(self, index: int, command: Any) -> None:
            if (self.id, index) != ("s1", 2):
                super().apply(index, command)

    c = toy_cluster(Skips)
    c.one(10, 3)
    text = violation(lambda: [c.one(k, 2) for k in (20, 30)])
    assert "s1 applied index 3 after index 1 (skipping 2..2) in term 1" in text


def test_a_server_that_applies_an_index_twice_is_caught() -> None:
    class Twice(FixedLeader):
        def apply(self, index: int, command: Any) -> None:
            super().apply(index, command)
            if (self.id, index) == ("s1", 2):
                super().apply(index, command)

    c = toy_cluster(Twice)
    text = violation(lambda: [c.one(k, 3) for k in (10, 20)])
    assert "s1 applied index 2 after index 2 (again, or went back)" in text


def test_two_leaders_of_one_term_break_election_safety() -> None:
    class TwoLeaders(FixedLeader):
        def get_state(self) -> tuple[int, bool]:
            return 1, self.id in ("s0", "s2")

    text = violation(lambda: toy_cluster(TwoLeaders).check_one_leader())
    assert "election safety: s2 and s0 both lead term 1" in text


def test_snapshots_are_taken_restored_and_checked() -> None:
    c = toy_cluster(snapshot_every=3)
    for k in range(6):
        c.one(k, 3)
    for name in c.names:
        assert c.sim.node(name).storage["snapshot"][0] == 6  # type: ignore[union-attr]
    c.restart("s1")
    c.run(0.1)
    assert c.sim.node("s1").service.data == canonical_data(6, range(6))  # type: ignore
    assert c.one(99, 3) == 7  # s1 goes on from its snapshot


def test_a_restored_snapshot_with_the_wrong_data_is_caught() -> None:
    class BadRestore(FixedLeader):
        def snapshot(self, index: int, data: Any) -> None:  # saves the wrong state
            super().snapshot(index, {"index": index, "digest": "0" * 64})

    c = toy_cluster(BadRestore, snapshot_every=2)
    for k in range(3):
        c.one(k, 3)
    text = violation(lambda: c.restart("s2"))
    assert "s2 restored a snapshot at index 2 in term 1 whose data" in text
    assert "is not the state after applying indexes 1..2" in text


def test_a_snapshot_older_than_what_was_applied_is_caught() -> None:
    class Rewinds(FixedLeader):
        def on_message(self, src: str, msg: Any) -> None:
            super().on_message(src, msg)
            if self.id == "s1" and isinstance(msg, Put) and msg.index == 3:
                self.restore(1, canonical_data(1, [0]))

    c = toy_cluster(Rewinds, snapshot_every=5)
    text = violation(lambda: [c.one(k, 3) for k in range(3)])
    assert "s1 restored a snapshot of index 1 in term 1" in text
    assert "after applying up to index 3: its state went back" in text


def test_a_lab_node_that_answers_in_the_wrong_shape_is_told_so() -> None:
    class Sloppy(FixedLeader):
        def get_state(self) -> Any:
            return [1, "yes"] if self.id == "s1" else super().get_state()

        def start(self, command: Any) -> Any:
            return "ok" if self.id == "s0" else None

    c = toy_cluster(Sloppy)
    text = violation(lambda: c.run(0.1))
    assert "s1.get_state() returned [1, 'yes']: it must return (term, is_leader)" in text
    with pytest.raises(AssertionError, match=r"s0.start\(1\) returned 'ok': it must return "
                       r"\(index, term\)"):
        c.start("s0", 1)
    with pytest.raises(ConfigError, match="no snapshot"):
        RaftAdapter.for_lab(type("NoSnapshots", (Node,), {"get_state": FixedLeader.get_state,
                                                          "apply": FixedLeader.apply}),
                            snapshot_every=5)


def test_the_testers_checks_fail_in_words() -> None:
    class Silent(FixedLeader):
        def start(self, command: Any) -> tuple[int, int] | None:
            return (self.next, 1) if self.id == "s0" else None  # accepts, does nothing

    c = toy_cluster(Silent)
    with pytest.raises(AssertionError, match=r"one\(5\) failed to reach agreement: s0 took "
                       r"it at index 1 in term 1, but after 2 s no server applied index 1"):
        c.one(5, 3)
    c.disconnect("s0")
    with pytest.raises(AssertionError, match=r"expected one leader among the connected "
                       r"servers \(s1, s2\), got none within 5 s"):
        c.check_one_leader()
    c.connect("s0")
    with pytest.raises(AssertionError, match=r"expected no leader .* but s0 claims to lead"):
        c.check_no_leader()
    with pytest.raises(AssertionError, match="only 0 servers applied index 1; wanted 3"):
        c.wait(1, 3)


def test_spawned_processes_run_beside_the_servers_and_fail_the_wait() -> None:
    c = toy_cluster()
    done = [c.submit(k, 3) for k in range(5)]
    c.run(1.0)
    assert sorted(p.result for p in done) == [1, 2, 3, 4, 5]

    def failing() -> Any:
        yield 0.5
        raise AssertionError("client 7 saw something wrong")

    c.spawn(failing(), name="client 7")
    with pytest.raises(AssertionError, match="client 7 saw something wrong"):
        c.run(1.0)
    assert c.sim.now < 2.6  # stopped at the failure, not at the end of the wait


def test_faults_and_the_network() -> None:
    c = toy_cluster()
    c.disconnect("s1")
    assert not c.is_connected("s1") and c.sim.blocked("s0", "s1")
    c.connect("s1")
    assert not c.sim.blocked("s0", "s1")
    reliable = c.sim.network.default
    c.set_unreliable(True)
    assert c.sim.network.default.drop == 0.1
    c.set_long_reordering(True)
    delays = [c.sim.network.default.latency.sample(c.rng) for _ in range(1000)]
    assert 0.3 < sum(d > 0.2 for d in delays) / 1000 < 0.55 and max(delays) < 2.3
    c.set_unreliable(False)
    c.set_long_reordering(False)
    assert c.sim.network.default == reliable
    c.crash("s2")
    assert not c.is_up("s2") and c.state("s2") is None
    c.restart("s2")
    c.restart("s2")  # a running server is crashed, then restarted (MIT's start1)
    assert c.is_up("s2")
    with pytest.raises(UsageError, match="no server named 'x'"):
        c.crash("x")


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ConfigError, match="trace=True"):
        RaftCluster(Simulation(trace=False), RaftAdapter.for_component(), 3)
    with pytest.raises(ConfigError, match="no get_state"):
        RaftAdapter.for_lab(Node)
    with pytest.raises(UsageError, match="no start"):
        RaftCluster(Simulation(), attrs.evolve(RaftAdapter.for_component(), start=None),
                    3).start("s0", 1)


def test_the_service_chain_and_its_snapshots() -> None:
    taken: list[tuple[int, Any]] = []
    service = Service(snapshot_every=2, take_snapshot=lambda i, d: taken.append((i, d)))
    for index, command in [(2, "a"), (3, "b"), (5, "c")]:  # gaps: a leader's no-ops
        service.apply(index, command)
    assert taken == [(3, canonical_data(3, ["a", "b"]))]
    assert service.digest == chain_digest(chain_digest(chain_digest("", "a"), "b"), "c")
    assert repr(NOOP) == "NOOP"


# ----- the dsys Raft with one rule broken -------------------------------------------------


class ClaimsToLead(Raft):
    """s1 says it leads whenever it knows a leader: a wrong get_state."""

    @property  # type: ignore[misc]
    def is_leader(self) -> bool:
        return self.role == "leader" or (self.id == "s1" and self.leader is not None)


class CorruptsIndex4(Raft):
    """s2 stores another command than the leader sent at index 4."""

    def on_append_entries(self, src: str, msg: AppendEntries) -> None:
        if self.id == "s2":
            entries = tuple(
                attrs.evolve(e, command="corrupted")
                if msg.prev_log_index + k == 4 and not e.internal else e
                for k, e in enumerate(msg.entries, start=1))
            msg = attrs.evolve(msg, entries=entries)
        super().on_append_entries(src, msg)


class NeverCommits(Raft):
    """The leader never advances its commit index."""

    def advance_commit_index(self) -> None:
        pass


def component(raft_class: type[Raft], seed: int = 0) -> RaftCluster:
    return RaftCluster(Simulation(seed=seed), RaftAdapter.for_component(raft_class=raft_class),
                       3)


def test_the_reference_passes_the_basics_over_seeds() -> None:
    for seed in range(3):
        c = component(Raft, seed)
        leader = c.check_one_leader()
        first = c.one("x", 3)
        assert c.log[first - 1] is NOOP  # the new leader's no-op came first
        c.disconnect(leader)
        assert c.one("y", 2) > first


def test_a_raft_that_reports_two_leaders_is_caught_with_names_and_term() -> None:
    c = component(ClaimsToLead)
    text = violation(lambda: c.one("x", 3))
    assert "election safety: s1 and " in text and "both lead term 1" in text


def test_a_raft_that_corrupts_an_entry_is_caught_with_server_index_and_term() -> None:
    c = component(CorruptsIndex4)
    text = violation(lambda: [c.one(k, 3) for k in range(5)])
    assert "state machine safety:" in text and "at index 4 (in term 1," in text
    assert "'corrupted'" in text and "s2" in text


def test_a_raft_that_never_commits_fails_one() -> None:
    c = component(NeverCommits)
    with pytest.raises(AssertionError, match=r"one\('x'\) failed to reach agreement: s\d "
                       r"took it at index 2 in term 1, but after 2 s no server applied"):
        c.one("x", 3)
