"""Unit tests of the handlers beyond Figure 2: snapshots and InstallSnapshot (§7, Figure
13), membership changes (thesis ch. 4), leadership transfer (§3.10), ReadIndex (§6.4),
and the refusal of corrupt storage on restart. One event at a time (NodeHarness)."""

from __future__ import annotations

from typing import Any

import pytest

from dsys import UsageError
from dsys.errors import StorageError
from dsys.raft import (
    FOLLOWER,
    LEADER,
    AppendEntries,
    AppendEntriesReply,
    Entry,
    InstallSnapshot,
    InstallSnapshotReply,
    Raft,
    RequestVote,
    RequestVoteReply,
    TimeoutNow,
)
from dsys.testing import NodeHarness, Sent, StorageSync
from tests.raft.cluster import RAFT, Recorder, server_with


class Restoring(Recorder):
    """A recorder that also takes snapshots: its state is the list of applied commands."""

    def __init__(self) -> None:
        super().__init__()
        self.restored: list[tuple[int, Any]] = []

    def restore(self, index: int, data: Any) -> None:
        self.restored.append((index, data))
        self.applied = list(data)


def harness(*, terms: tuple[int, ...] = (), term: int = 0, peers: tuple[str, ...] = ("b", "c"),
            storage: dict[str, Any] | None = None, **options: Any) -> NodeHarness:
    """A started server "a" whose storage holds a log of entries of ``terms``."""
    stored: dict[str, Any] = {"raft/state": {"current_term": term, "voted_for": None},
                              "raft/log/length": len(terms)}
    for index, t in enumerate(terms, start=1):
        stored[f"raft/log/{index}"] = [t, f"cmd{index}"]
    stored.update(storage or {})
    options.setdefault("pre_vote", False)

    def make(sm: Recorder) -> Raft:
        return Raft(sm, **options)

    h = NodeHarness(server_with(make, Restoring), "a", peers=peers, storage=stored)
    h.start()
    h.clear()
    return h


def raft(h: NodeHarness) -> Raft:
    return h.node.raft  # type: ignore[attr-defined, no-any-return]


def make_leader(h: NodeHarness) -> Raft:
    h.fire("raft/election")
    h.deliver("b", RequestVoteReply(raft(h).term, True), component="raft")
    assert raft(h).role == LEADER
    h.clear()
    return raft(h)


def commit_all(h: NodeHarness, *followers: str) -> None:
    """The leader hears from ``followers`` that they hold its whole log."""
    r = raft(h)
    for peer in followers:
        h.deliver(peer, AppendEntriesReply(r.term, True, match_index=r.last_log_index),
                  component="raft")


# ----- snapshots (§7) ----------------------------------------------------------------------


def snapshotted(h: NodeHarness, index: int) -> Raft:
    """Commit and apply the whole log as a follower, then snapshot through ``index``."""
    r = raft(h)
    h.deliver("b", AppendEntries(r.term, "b", r.last_log_index, r.term_at(r.last_log_index),
                                 (), r.last_log_index), component="raft")
    h.call(r.snapshot, index, h.node.machine.applied[:index])  # type: ignore[attr-defined]
    return r


def test_a_snapshot_replaces_the_log_through_its_index_in_storage_at_once() -> None:
    h = harness(terms=(1, 1, 2, 2, 3), term=3)
    r = snapshotted(h, 3)
    assert (r.snapshot_index, r.snapshot_term, r.last_log_index) == (3, 2, 5)
    assert [e.command for e in r.entries] == ["cmd4", "cmd5"]
    assert r.term_at(3) == 2 and r.entry_at(3) is None and r.entry_at(4) == Entry(2, "cmd4")
    with pytest.raises(IndexError):
        r.term_at(2)
    durable = h.storage  # durable without waiting for a message: synced by snapshot()
    assert not durable.dirty
    assert durable["raft/snapshot"] == {"index": 3, "term": 2, "data": ["cmd1", "cmd2", "cmd3"],
                                        "config": {"voters": ["a", "b", "c"], "learners": []}}
    assert [k for k in durable.keys() if k.startswith("raft/log/") and k[9:].isdigit()] == [
        "raft/log/4", "raft/log/5"]
    assert durable["raft/log/length"] == 5


def test_snapshot_refuses_unapplied_indexes_and_data_that_does_not_encode() -> None:
    h = harness(terms=(1, 1), term=1)
    with pytest.raises(UsageError, match="has not been applied yet"):
        raft(h).snapshot(1, [])
    snapshotted(h, 1)
    with pytest.raises(UsageError, match="does not encode as JSON"):
        raft(h).snapshot(2, {1, 2})
    raft(h).snapshot(1, "older")  # at or before the current snapshot: ignored
    assert h.storage["raft/snapshot"]["data"] == ["cmd1"]


def test_a_restart_reloads_the_snapshot_restores_the_machine_then_the_log() -> None:
    h = harness(terms=(1, 1, 2, 2), term=2)
    snapshotted(h, 2)
    h.crash()
    h.recover()
    r = raft(h)
    assert (r.snapshot_index, r.commit_index, r.last_applied, r.last_log_index) == (2, 2, 2, 4)
    assert h.node.machine.restored == [(2, ["cmd1", "cmd2"])]  # type: ignore[attr-defined]
    assert [n.data["index"] for n in h.notes if n.event == "restore"] == [2]


def test_a_leader_sends_a_lagging_follower_its_snapshot_in_chunks() -> None:
    h = harness(terms=(1, 1, 1, 1), term=1, snapshot_chunk=8)
    r = make_leader(h)  # term 2, the no-op at 5
    commit_all(h, "b")
    h.call(r.snapshot, 4, "x" * 20)  # JSON text: 22 characters, 3 chunks of 8
    h.clear()
    # c says it has nothing: its next index falls inside the snapshot.
    h.deliver("c", AppendEntriesReply(2, False, conflict_index=1), component="raft")
    first = h.sent(InstallSnapshot, to="c")[-1].msg
    assert (first.last_included_index, first.last_included_term, first.offset) == (4, 1, 0)
    assert first.data == '"xxxxxxx' and not first.done
    assert first.voters == ("a", "b", "c")
    h.clear()
    h.deliver("c", InstallSnapshotReply(2, 4, next_offset=8), component="raft")
    second = h.sent(InstallSnapshot, to="c")[-1].msg
    assert (second.offset, second.data, second.done) == (8, "xxxxxxxx", False)
    h.clear()
    h.deliver("c", InstallSnapshotReply(2, 4, next_offset=16), component="raft")
    last = h.sent(InstallSnapshot, to="c")[-1].msg
    assert (last.offset, last.data, last.done) == (16, 'xxxxx"', True)
    h.clear()
    # A reply about an older snapshot of ours is not an answer about this one.
    h.clear()
    h.deliver("c", InstallSnapshotReply(2, 3, next_offset=8), component="raft")
    assert h.sent() == []
    h.deliver("c", InstallSnapshotReply(2, 4, done=True), component="raft")
    assert r.match_index["c"] == 4 and r.next_index["c"] == 5
    after = h.sent(AppendEntries, to="c")[-1].msg  # on to the entries after the snapshot
    assert after.prev_log_index == 4 and after.prev_log_term == 1 and len(after.entries) == 1


def chunks(text: str, size: int) -> list[tuple[int, str, bool]]:
    return [(o, text[o:o + size], o + size >= len(text)) for o in range(0, len(text), size)]


def test_a_follower_installs_a_snapshot_from_its_chunks_in_order_only() -> None:
    h = harness(terms=(1, 1), term=1)
    parts = chunks('["s1","s2","s3"]', 6)
    r = raft(h)
    # The second chunk first: refused, asking for offset 0.
    off, data, done = parts[1]
    h.deliver("b", InstallSnapshot(3, "b", 6, 2, off, data, done, ("a", "b", "c")),
              component="raft")
    assert h.sent()[-1].msg == InstallSnapshotReply(3, 6, next_offset=0)
    # The first chunk, then the third: a gap, refused, asking for the second.
    for off, data, done in (parts[0], parts[2]):
        h.deliver("b", InstallSnapshot(3, "b", 6, 2, off, data, done, ("a", "b", "c")),
                  component="raft")
    assert h.sent()[-1].msg == InstallSnapshotReply(3, 6, next_offset=6)
    assert r.snapshot_index == 0
    for off, data, done in parts:
        h.clear()
        effects = h.deliver("b", InstallSnapshot(3, "b", 6, 2, off, data, done,
                                                 ("a", "b", "c")), component="raft")
    assert h.sent()[-1].msg == InstallSnapshotReply(3, 6, done=True)
    kinds = [type(e) for e in effects]
    assert StorageSync in kinds and kinds.index(StorageSync) < kinds.index(Sent)
    # Figure 13, 7 and 8: the whole log is discarded (it did not reach index 6), the
    # machine is reset from the snapshot, and committed/applied jump to its index.
    assert (r.snapshot_index, r.last_log_index, r.commit_index, r.last_applied) == (6, 6, 6, 6)
    assert h.node.machine.restored == [(6, ["s1", "s2", "s3"])]  # type: ignore[attr-defined]
    assert r.term == 3 and r.leader == "b"


def test_a_follower_keeps_the_entries_after_a_snapshot_that_matches_its_log() -> None:
    h = harness(terms=(1, 1, 1, 2), term=2)
    r = raft(h)
    h.deliver("b", InstallSnapshot(2, "b", 2, 1, 0, '["x","y"]', True, ("a", "b", "c")),
              component="raft")
    # Figure 13, 6: entry 2 (term 1) matches; entries 3 and 4 are kept.
    assert (r.snapshot_index, r.last_log_index) == (2, 4)
    assert [e.command for e in r.entries] == ["cmd3", "cmd4"]
    # A snapshot whose last entry does not match (term 5 at index 3) discards the log.
    h.deliver("b", InstallSnapshot(5, "b", 3, 5, 0, "[]", True, ("a", "b", "c")),
              component="raft")
    assert (r.snapshot_index, r.snapshot_term, r.last_log_index, r.entries) == (3, 5, 3, [])


def test_a_snapshot_the_committed_log_already_covers_is_not_installed() -> None:
    h = harness(terms=(1, 1, 1), term=1)
    r = raft(h)
    h.deliver("b", AppendEntries(1, "b", 3, 1, (), 3), component="raft")  # commit 3
    h.clear()
    for covered in (2, 3):  # before the commit index, and at it
        h.deliver("b", InstallSnapshot(1, "b", covered, 1, 0, "[]", True, ("a", "b", "c")),
                  component="raft")
        assert h.sent()[-1].msg == InstallSnapshotReply(1, covered, done=True)
    assert r.snapshot_index == 0 and r.last_applied == 3  # nothing went back
    assert h.node.machine.restored == []  # type: ignore[attr-defined]


def test_a_stale_install_snapshot_is_refused_with_our_term() -> None:
    h = harness(terms=(1,), term=4)
    h.deliver("b", InstallSnapshot(3, "b", 9, 3, 0, "[]", True, ("a", "b", "c")),
              component="raft")
    assert h.sent()[-1].msg == InstallSnapshotReply(4, 9)
    assert raft(h).snapshot_index == 0


def test_append_entries_reaching_into_the_snapshot_are_trimmed_to_what_follows() -> None:
    h = harness(terms=(1, 1, 1), term=1)
    r = snapshotted(h, 3)
    h.clear()
    # prev 1 with entries 2..5: 2 and 3 are in the snapshot; 4 and 5 are appended.
    h.deliver("b", AppendEntries(1, "b", 1, 1, (Entry(1, "cmd2"), Entry(1, "cmd3"),
                                                Entry(1, "n4"), Entry(1, "n5")), 3),
              component="raft")
    assert h.sent()[-1].msg == AppendEntriesReply(1, True, match_index=5)
    assert r.last_log_index == 5 and r.entry_at(5) == Entry(1, "n5")
    # Entirely inside the snapshot: success, matching through the snapshot.
    h.clear()
    h.deliver("b", AppendEntries(1, "b", 0, 0, (Entry(1, "cmd1"),), 3), component="raft")
    assert h.sent()[-1].msg == AppendEntriesReply(1, True, match_index=3)
    assert r.last_log_index == 5


def test_a_conflict_after_a_snapshot_never_points_inside_it() -> None:
    h = harness(terms=(1, 2, 2, 2), term=2)
    snapshotted(h, 2)  # the snapshot's last entry is of term 2, like the conflict
    h.clear()
    h.deliver("b", AppendEntries(3, "b", 4, 3, (), 0), component="raft")
    reply = h.sent()[-1].msg
    assert (reply.success, reply.conflict_term, reply.conflict_index) == (False, 2, 3)


# ----- membership (thesis ch. 4) ------------------------------------------------------------


def test_add_server_waits_for_the_no_op_then_adds_a_learner_then_a_voter() -> None:
    h = harness(term=1, members=("a", "b", "c"), peers=("b", "c", "d"))
    r = make_leader(h)
    assert r.add_server("d") is False  # the no-op of this term is not committed yet
    commit_all(h, "b")
    assert r.add_server("d")
    assert r.learners == ("d",) and r.members == ("a", "b", "c")
    config = r.entries[-1]
    assert config.config and config.command == {"voters": ["a", "b", "c"], "learners": ["d"]}
    assert r.add_server("e") is False  # one change at a time: the learner entry is not committed
    assert "d" in r.next_index  # the learner is replicated to
    commit_all(h, "b")  # the learner's entry commits; d has not caught up yet
    assert r.members == ("a", "b", "c")
    h.deliver("d", AppendEntriesReply(r.term, True, match_index=r.last_log_index),
              component="raft")
    assert r.members == ("a", "b", "c", "d") and r.learners == ()  # promoted
    # Four voters: a and b are not a majority any more.
    commit_all(h, "b")
    assert r.commit_index == r.last_log_index - 1
    commit_all(h, "c")
    assert r.commit_index == r.last_log_index


def test_a_learner_never_campaigns_and_its_votes_do_not_count() -> None:
    h = harness(term=1, members=(), peers=("b", "c", "d"))
    r = raft(h)
    assert r.members == ()
    effects = h.fire("raft/election")
    assert r.role == FOLLOWER and r.term == 1 and not [e for e in effects if isinstance(e, Sent)]
    # It learns the group from a leader's log, as a learner: still no campaign.
    h.deliver("b", AppendEntries(1, "b", 0, 0, (Entry.configuration(1, "bcd", "a"),), 1),
              component="raft")
    assert r.members == ("b", "c", "d") and r.learners == ("a",)
    h.fire("raft/election")
    assert r.role == FOLLOWER and r.term == 1


def test_a_leader_that_removes_itself_steps_down_once_the_change_commits() -> None:
    h = harness(term=1)
    r = make_leader(h)
    commit_all(h, "b")
    r.start("x")
    assert r.remove_server("a")
    assert r.members == ("b", "c") and r.is_leader  # still leads the change
    for peer in ("b", "c"):  # "x" commits; the change after it not yet
        h.deliver(peer, AppendEntriesReply(r.term, True, match_index=r.last_log_index - 1),
                  component="raft")
    assert r.commit_index == r.last_log_index - 1 and r.is_leader
    commit_all(h, "b")
    assert r.is_leader  # b alone is not a majority of {b, c}
    commit_all(h, "c")
    assert r.role == FOLLOWER
    h.fire("raft/election")
    assert r.role == FOLLOWER  # not a voter: never campaigns again


def test_a_truncated_configuration_entry_is_undone() -> None:
    h = harness(terms=(1,), term=1)
    r = raft(h)
    h.deliver("b", AppendEntries(1, "b", 1, 1, (Entry.configuration(1, "abcd"),), 1),
              component="raft")
    assert r.members == ("a", "b", "c", "d")
    h.deliver("c", AppendEntries(2, "c", 1, 1, (Entry(2, "x"),), 1), component="raft")
    assert r.members == ("a", "b", "c")  # back to the configuration before it


# ----- leadership transfer (§3.10) and ReadIndex (§6.4) -------------------------------------


def test_transfer_brings_the_target_up_to_date_then_sends_timeout_now() -> None:
    h = harness(term=1)
    r = make_leader(h)
    commit_all(h, "b")
    assert r.transfer_leadership("c")
    assert r.start("refused") is None  # no new commands while handing over
    assert not h.sent(TimeoutNow)  # c has not acknowledged the log yet
    h.deliver("c", AppendEntriesReply(r.term, True, match_index=r.last_log_index),
              component="raft")
    assert h.sent(TimeoutNow, to="c")[-1].msg == TimeoutNow(r.term)
    h.fire("raft/transfer")  # not elected in time: the transfer is abandoned
    assert r.start("accepted") is not None


def test_timeout_now_starts_an_election_that_overrides_the_lease() -> None:
    h = harness(term=1, check_quorum=True)
    r = raft(h)
    h.deliver("b", AppendEntries(1, "b", 0, 0, (), 0), component="raft")
    h.clear()
    h.deliver("b", TimeoutNow(1), component="raft")
    assert r.term == 2 and r.role == "candidate"
    asked = h.sent(RequestVote, to="c")[-1].msg
    assert asked.transfer and not asked.pre_vote
    # A follower that just heard from the leader grants such a vote.
    g = harness(term=1, check_quorum=True)
    g.deliver("b", AppendEntries(1, "b", 0, 0, (), 0), component="raft")
    g.clear()
    g.deliver("c", RequestVote(2, "c", 0, 0, transfer=True), component="raft")
    assert g.sent()[-1].msg == RequestVoteReply(2, True)
    g.deliver("b", RequestVote(3, "b", 0, 0), component="raft")
    assert raft(g).term == 2  # an ordinary one is still ignored within the lease


def test_a_read_waits_for_a_majority_round_after_it_and_for_the_apply() -> None:
    h = harness(term=1)
    r = make_leader(h)
    answers: list[bool] = []
    h.call(r.read, answers.append)
    assert answers == []  # the no-op is not committed: no read index yet
    seq = h.sent(AppendEntries, to="b")[-1].msg.seq
    assert seq == 1
    h.deliver("b", AppendEntriesReply(r.term, True, match_index=r.last_log_index, seq=seq),
              component="raft")
    assert answers == [True]  # b's ack confirms leadership and commits the no-op
    # A reply to a round before the read does not confirm it.
    h.call(r.read, answers.append)
    h.deliver("c", AppendEntriesReply(r.term, True, match_index=r.last_log_index, seq=1),
              component="raft")
    assert answers == [True]
    h.deliver("c", AppendEntriesReply(r.term, True, match_index=r.last_log_index, seq=2),
              component="raft")
    assert answers == [True, True]


def test_a_new_leaders_read_waits_for_an_entry_of_its_term_to_commit() -> None:
    """Entry 1 (term 1) may have been committed by the previous leader, and a client may
    have seen it; this leader does not know it yet (its commit index is 0). Reading at
    index 0 would miss it: the read index is set only once the no-op commits."""
    h = harness(terms=(1,), term=1)
    r = make_leader(h)
    answers: list[bool] = []
    h.call(r.read, answers.append)
    # b follows us (it acknowledges the round) but does not hold the no-op yet.
    h.deliver("b", AppendEntriesReply(r.term, False, conflict_index=2, seq=1),
              component="raft")
    assert answers == [] and r.commit_index == 0
    h.deliver("b", AppendEntriesReply(r.term, True, match_index=2, seq=1), component="raft")
    assert answers == [True] and r.last_applied == 2


def test_reads_fail_on_a_follower_and_when_the_leader_steps_down() -> None:
    h = harness(term=1)
    answers: list[bool] = []
    raft(h).read(answers.append)
    assert answers == [False]
    r = make_leader(h)
    h.call(r.read, answers.append)
    h.deliver("b", AppendEntriesReply(r.term + 1, False), component="raft")
    assert answers == [False, False] and r.role == FOLLOWER


# ----- corrupt storage ------------------------------------------------------------------------


@pytest.mark.parametrize(("storage", "field", "problem"), [
    ({"raft/log/length": 3}, "raft/log/2", "is missing"),
    ({"raft/log/2": "junk"}, "raft/log/2", "not [term, command]"),
    ({"raft/log/3": [0, "x"]}, "raft/log/3", "term >= 1"),
    ({"raft/state": {"current_term": "2", "voted_for": None}}, "raft/state.current_term",
     "is '2'"),
    ({"raft/state": {"voted_for": None}}, "raft/state", "has no field 'current_term'"),
    ({"raft/log/length": "3"}, "raft/log/length", "not a int"),
    ({"raft/snapshot": {"index": 1, "term": -1, "data": None, "config": {}}},
     "raft/snapshot.term", "is -1"),
    ({"raft/snapshot": {"index": 3, "term": 1, "data": None,
                        "config": {"voters": ["a", "b", "c"]}}, "raft/log/length": 2},
     "raft/log/length", "before the snapshot's index 3"),
])
def test_a_server_refuses_to_start_from_corrupt_storage(storage: dict[str, Any], field: str,
                                                        problem: str) -> None:
    base = {"raft/state": {"current_term": 1, "voted_for": None}, "raft/log/length": 3,
            "raft/log/1": [1, "a"], "raft/log/3": [1, "c"]}
    base.update(storage)
    if "raft/log/2" not in storage and field != "raft/log/2":
        base["raft/log/2"] = [1, "b"]
    with pytest.raises(StorageError) as caught:
        NodeHarness(server_with(Raft), "a", peers=("b", "c"), storage=base).start()
    text = str(caught.value)
    assert f"{field!r}" in text and problem in text and "cannot restart" in text


def test_the_simulator_stops_a_corrupt_restart_naming_the_node_storage() -> None:
    from dsys import Simulation
    from dsys.sim.report import HandlerError

    sim = Simulation(seed=1)
    for name in "abc":
        sim.add_node(name, server_with(Raft))
    sim.run(until=1.0)
    sim.crash("a")
    slot = sim._slots["a"]  # what a disk failure would leave: a log entry gone
    slot.durable["raft/log/length"] = "5"
    with pytest.raises(HandlerError) as caught:
        sim.restart("a")
    assert isinstance(caught.value.__cause__, StorageError)
    assert "in the simulated storage of node a, the field 'raft/log/2' is missing" in str(
        caught.value)


def test_a_snapshot_in_flight_is_not_sent_again_for_each_new_command() -> None:
    """One request in flight per follower, InstallSnapshot too: commands started while
    a chunk travels do not send the chunk again (the heartbeat does, once it is a round
    old)."""
    h = harness(terms=(1, 1, 1, 1), term=1, snapshot_chunk=8)
    r = make_leader(h)
    commit_all(h, "b")
    h.call(r.snapshot, 4, "x" * 20)
    h.deliver("c", AppendEntriesReply(2, False, conflict_index=1), component="raft")
    h.clear()
    for cmd in ("p", "q", "r"):
        h.call(r.start, cmd)
    assert h.sent(InstallSnapshot, to="c") == []
    h.fire("raft/heartbeat")  # the chunk is not a round old yet
    assert h.sent(InstallSnapshot, to="c") == []
    h.fire("raft/heartbeat")
    assert [m.msg.offset for m in h.sent(InstallSnapshot, to="c")] == [0]
