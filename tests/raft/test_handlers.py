"""Unit tests of Raft's handlers, one event at a time (dsys.testing.NodeHarness).

Each test pins one rule of Figure 2: who gets a vote, what is synced before a reply
leaves (the effects' order: StorageSync before Sent), how a follower reports a conflict
and how the leader skips back over it, and the Figure 8 commit rule.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsys import UsageError
from dsys.raft import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    AppendEntries,
    AppendEntriesReply,
    Entry,
    Raft,
    RequestVote,
    RequestVoteReply,
)
from dsys.testing import NodeHarness, Sent, StorageSync, StorageWrite
from tests.raft.cluster import RAFT, server_with


def harness(*, terms: tuple[int, ...] = (), term: int = 0, voted_for: str | None = None,
            peers: tuple[str, ...] = ("b", "c"), **options: Any) -> NodeHarness:
    """A started server "a" whose storage holds a log of entries of ``terms``."""
    storage: dict[str, Any] = {"raft/state": {"current_term": term, "voted_for": voted_for},
                               "raft/log/length": len(terms)}
    for index, t in enumerate(terms, start=1):
        storage[f"raft/log/{index}"] = [t, f"cmd{index}"]
    options.setdefault("pre_vote", False)
    h = NodeHarness(server_with(lambda sm: Raft(sm, **options)), "a", peers=peers,
                    storage=storage)
    h.start()
    h.clear()
    return h


def raft(h: NodeHarness) -> Raft:
    return h.node.raft  # type: ignore[attr-defined, no-any-return]


def synced_before_sent(effects: list[Any]) -> bool:
    """A sync happened, and before the first message left."""
    kinds = [type(e) for e in effects]
    return StorageSync in kinds and kinds.index(StorageSync) < kinds.index(Sent)


def synced_as_it_travels(effects: list[Any]) -> bool:
    """A leader's new entries (thesis §10.2.1): the first message that carries them
    leaves before they are synced, and the sync follows it at once (only the storage
    writes of the entries in between), before the handler ends."""
    kinds = [type(e) for e in effects]
    if Sent not in kinds or StorageSync not in kinds:
        return False
    first, sync = kinds.index(Sent), kinds.index(StorageSync)
    return first < sync and set(kinds[first + 1:sync]) <= {StorageWrite}


def make_leader(h: NodeHarness) -> Raft:
    """Win an election in the next term, with b's vote (the leader appends its no-op)."""
    h.fire("raft/election")
    h.deliver("b", RequestVoteReply(raft(h).term, True), component="raft")
    assert raft(h).role == LEADER
    h.clear()
    return raft(h)


# ----- RequestVote (§5.2, §5.4.1) -------------------------------------------------------


def test_a_vote_is_granted_once_per_term_and_synced_before_the_reply() -> None:
    h = harness(terms=(1,), term=1)
    effects = h.deliver("b", RequestVote(2, "b", 1, 1), component="raft")
    assert effects[-1] == Sent("b", RequestVoteReply(2, True), RAFT)
    assert synced_before_sent(effects)
    assert h.storage["raft/state"] == {"current_term": 2, "voted_for": "b"}  # durable
    # c asks in the same term: already voted for b.
    assert h.deliver("c", RequestVote(2, "c", 5, 2), component="raft")[-1] == Sent(
        "c", RequestVoteReply(2, False), RAFT)
    # b asks again (a duplicate): the same answer.
    assert h.deliver("b", RequestVote(2, "b", 1, 1), component="raft")[-1] == Sent(
        "b", RequestVoteReply(2, True), RAFT)


@pytest.mark.parametrize(("last_index", "last_term", "granted"), [
    (1, 1, False),  # our last term is 2: the candidate's log is behind
    (5, 1, False),  # longer, but of an older last term
    (1, 2, False),  # same last term, shorter log
    (2, 2, True),   # same last term, same length
    (1, 3, True),   # later last term, even if shorter
])
def test_the_up_to_date_rule(last_index: int, last_term: int, granted: bool) -> None:
    h = harness(terms=(1, 2), term=2)
    reply = h.deliver("b", RequestVote(3, "b", last_index, last_term), component="raft")[-1]
    assert reply == Sent("b", RequestVoteReply(3, granted), RAFT)
    assert raft(h).term == 3  # the higher term is adopted either way


def test_a_request_of_an_older_term_is_refused_with_our_term() -> None:
    h = harness(term=4)
    assert h.deliver("b", RequestVote(3, "b", 9, 9), component="raft") == [
        Sent("b", RequestVoteReply(4, False), RAFT)]


def test_granting_a_vote_resets_the_election_timer_and_refusing_does_not() -> None:
    h = harness(term=1)
    h.now = 0.1
    deadline = h.timers["raft/election"]
    h.deliver("b", RequestVote(1, "b", 0, 0), component="raft")  # granted
    granted_deadline = h.timers["raft/election"]
    assert granted_deadline != deadline
    h.deliver("c", RequestVote(1, "c", 0, 0), component="raft")  # refused: voted for b
    assert h.timers["raft/election"] == granted_deadline


def test_a_candidate_syncs_its_term_and_own_vote_before_asking() -> None:
    h = harness(terms=(1,), term=1)
    effects = h.fire("raft/election")
    assert raft(h).role == CANDIDATE and raft(h).term == 2
    assert synced_before_sent(effects)
    assert h.sent(RequestVote) == [Sent("b", RequestVote(2, "a", 1, 1), RAFT),
                                   Sent("c", RequestVote(2, "a", 1, 1), RAFT)]
    assert h.storage["raft/state"] == {"current_term": 2, "voted_for": "a"}


def test_votes_from_a_majority_make_a_leader_that_sends_its_no_op_at_once() -> None:
    h = harness(terms=(1,), term=1)
    h.fire("raft/election")
    h.clear()
    h.deliver("c", RequestVoteReply(2, True), component="raft")
    assert raft(h).role == LEADER and raft(h).leader == "a"
    # The first AppendEntries carry the leader's no-op (§8), not an empty heartbeat.
    assert h.sent(AppendEntries) == [
        Sent(p, AppendEntries(2, "a", 1, 1, (Entry.no_op(2),), 0), RAFT) for p in ("b", "c")]
    assert h.notes[0].event == "elected" and h.notes[0].data["terms"] == [1]


def test_a_vote_reply_of_a_higher_term_turns_a_candidate_into_a_follower() -> None:
    h = harness(term=1)
    h.fire("raft/election")
    h.deliver("b", RequestVoteReply(7, False), component="raft")
    assert (raft(h).role, raft(h).term, raft(h).voted_for) == (FOLLOWER, 7, None)


# ----- pre-vote and check-quorum (thesis §9.6, §6.2) -----------------------------------


def test_a_pre_vote_changes_no_term_and_wins_before_the_real_election() -> None:
    h = harness(term=1, pre_vote=True)
    effects = h.fire("raft/election")
    assert raft(h).term == 1 and raft(h).role == FOLLOWER  # nothing changed yet
    assert not any(isinstance(e, StorageSync) for e in effects)
    assert h.sent(RequestVote)[0].msg == RequestVote(2, "a", 0, 0, pre_vote=True)
    h.clear()
    h.deliver("b", RequestVoteReply(2, True, pre_vote=True), component="raft")
    assert raft(h).role == CANDIDATE and raft(h).term == 2
    assert h.sent(RequestVote)[0].msg == RequestVote(2, "a", 0, 0)


def test_a_server_that_heard_from_a_leader_lately_refuses_pre_votes_and_votes() -> None:
    h = harness(term=1, pre_vote=True)
    h.deliver("b", AppendEntries(1, "b", 0, 0, (), 0), component="raft")
    h.clear()
    h.now += 0.05  # within the low election timeout (0.15)
    assert h.deliver("c", RequestVote(2, "c", 0, 0, pre_vote=True), component="raft") == [
        Sent("c", RequestVoteReply(1, False, pre_vote=True), RAFT)]
    assert h.deliver("c", RequestVote(2, "c", 0, 0), component="raft") == []  # ignored
    assert raft(h).term == 1
    h.now += 0.2  # the leader has been silent long enough
    assert h.deliver("c", RequestVote(2, "c", 0, 0, pre_vote=True), component="raft") == [
        Sent("c", RequestVoteReply(2, True, pre_vote=True), RAFT)]


def test_check_quorum_a_leader_that_hears_nobody_steps_down() -> None:
    h = harness(term=1, check_quorum=True)
    leader = make_leader(h)
    h.advance(0.31)  # one quorum period (the high election timeout), no replies
    assert leader.role == FOLLOWER
    assert any(n.event == "step down" for n in h.notes)


def test_check_quorum_a_leader_that_hears_a_majority_stays() -> None:
    h = harness(term=1, check_quorum=True)
    leader = make_leader(h)
    h.deliver("b", AppendEntriesReply(2, True, match_index=0), component="raft")
    h.advance(0.31)
    assert leader.role == LEADER


# ----- AppendEntries, receiver (§5.3) --------------------------------------------------


def test_entries_are_synced_before_the_success_reply() -> None:
    h = harness(term=1)
    effects = h.deliver("b", AppendEntries(1, "b", 0, 0, (Entry(1, "x"), Entry(1, "y")), 1),
                        component="raft")
    reply = Sent("b", AppendEntriesReply(1, True, match_index=2), RAFT)
    assert [e for e in effects if isinstance(e, Sent)] == [reply]
    assert synced_before_sent(effects)
    # The answer leaves before the newly committed entry is applied (the leader does
    # not wait for this server's state machine).
    applies = [i for i, e in enumerate(effects) if getattr(e, "event", None) == "apply"]
    assert applies and effects.index(reply) < applies[0], effects
    assert [h.storage["raft/log/length"], h.storage["raft/log/1"], h.storage["raft/log/2"]] == [
        2, [1, "x"], [1, "y"]]
    assert raft(h).commit_index == 1 and h.node.machine.applied == ["x"]  # type: ignore


def test_a_stale_leader_is_refused_with_our_term() -> None:
    h = harness(term=3)
    assert h.deliver("b", AppendEntries(2, "b", 0, 0, (), 0), component="raft") == [
        Sent("b", AppendEntriesReply(3, False), RAFT)]


def test_a_missing_entry_is_reported_with_the_length_of_our_log() -> None:
    h = harness(terms=(1, 1), term=1)
    reply = h.deliver("b", AppendEntries(1, "b", 7, 1, (), 0), component="raft")[-1]
    assert reply.msg == AppendEntriesReply(1, False, conflict_index=3, conflict_term=0)


def test_a_conflict_is_reported_with_its_term_and_that_terms_first_index() -> None:
    h = harness(terms=(1, 1, 2, 2, 2), term=3)
    reply = h.deliver("b", AppendEntries(3, "b", 5, 3, (), 0), component="raft")[-1]
    assert reply.msg == AppendEntriesReply(3, False, conflict_index=3, conflict_term=2)
    assert raft(h).last_log_index == 5  # nothing deleted on a mismatch


def test_a_conflicting_suffix_is_replaced_and_a_matching_one_kept() -> None:
    h = harness(terms=(1, 1, 2, 2), term=3)
    h.deliver("b", AppendEntries(3, "b", 2, 1, (Entry(3, "new"),), 0), component="raft")
    assert [e.term for e in raft(h).entries] == [1, 1, 3]
    assert h.storage["raft/log/length"] == 3 and h.storage["raft/log/3"] == [3, "new"]
    # A late copy of an earlier, shorter AppendEntries truncates nothing.
    h.deliver("b", AppendEntries(3, "b", 1, 1, (Entry(1, "cmd2"),), 0), component="raft")
    assert [e.term for e in raft(h).entries] == [1, 1, 3]


def test_a_restarted_server_reloads_its_term_vote_and_log() -> None:
    h = harness(term=1)
    h.deliver("b", AppendEntries(2, "b", 0, 0, (Entry(2, "x"),), 0), component="raft")
    h.now += 0.2  # (check-quorum ignores votes while a leader was heard lately)
    h.deliver("c", RequestVote(3, "c", 1, 2), component="raft")
    h.crash()
    h.recover()
    r = raft(h)
    assert (r.term, r.voted_for, r.entries, r.commit_index) == (3, "c", [Entry(2, "x")], 0)


# ----- the leader's side ------------------------------------------------------------------


def test_the_leader_skips_back_a_whole_term_on_a_conflict() -> None:
    h = harness(terms=(1, 1, 1, 4, 4), term=4)
    leader = make_leader(h)
    assert leader.next_index["b"] == 6 and leader.last_log_index == 6  # 6: the no-op
    # b has term 2 at index 5, from index 3 on: the leader has no term 2, so it jumps to 3.
    h.deliver("b", AppendEntriesReply(5, False, conflict_index=3, conflict_term=2),
              component="raft")
    assert leader.next_index["b"] == 3
    assert h.sent(AppendEntries, to="b")[-1].msg.prev_log_index == 2
    # c has term 1 up to index 5 (from 1): the leader's last entry of term 1 is index 3.
    h.deliver("c", AppendEntriesReply(5, False, conflict_index=1, conflict_term=1),
              component="raft")
    assert leader.next_index["c"] == 4
    # A follower with a short log: go to its end.
    h.deliver("c", AppendEntriesReply(5, False, conflict_index=2), component="raft")
    assert leader.next_index["c"] == 2


def test_the_leader_batches_everything_a_follower_lacks_into_one_message() -> None:
    h = harness(terms=(1, 1, 1), term=1, max_entries=2)
    leader = make_leader(h)
    h.deliver("b", AppendEntriesReply(2, False, conflict_index=1), component="raft")
    assert h.sent(AppendEntries, to="b")[-1].msg.entries == (Entry(1, "cmd1"),
                                                               Entry(1, "cmd2"))
    h.deliver("b", AppendEntriesReply(2, True, match_index=2), component="raft")
    assert h.sent(AppendEntries, to="b")[-1].msg.entries == (Entry(1, "cmd3"),
                                                               Entry.no_op(2))
    assert leader.match_index["b"] == 2


def test_figure_8_an_old_terms_entry_is_not_committed_by_counting() -> None:
    h = harness(terms=(1, 2), term=2)
    leader = make_leader(h)  # term 3, its no-op at index 3
    h.deliver("b", AppendEntriesReply(3, True, match_index=2), component="raft")
    assert leader.commit_index == 0  # a majority holds index 2, but it is of term 2
    assert leader.start("z") == (4, 3)  # b has a request in flight: z waits for it
    h.deliver("b", AppendEntriesReply(3, True, match_index=3), component="raft")
    assert leader.commit_index == 3  # now index 2 commits, under the no-op of term 3
    assert h.sent(AppendEntries, to="b")[-1].msg.entries == (Entry(3, "z"),)
    h.deliver("b", AppendEntriesReply(3, True, match_index=4), component="raft")
    assert leader.commit_index == 4
    assert h.node.machine.applied == ["cmd1", "cmd2", "z"]  # type: ignore[attr-defined]


def test_a_new_leader_appends_a_synced_no_op_of_its_term() -> None:
    h = harness(terms=(1, 1), term=1)
    h.fire("raft/election")
    h.clear()
    effects = h.deliver("b", RequestVoteReply(2, True), component="raft")
    leader = raft(h)
    assert leader.entries == [Entry(1, "cmd1"), Entry(1, "cmd2"), Entry.no_op(2)]
    assert leader.match_index["a"] == 3
    # The leader syncs its new entry while the first AppendEntries that carries it
    # travels (thesis §10.2.1): right after that message, before the handler ends.
    assert synced_as_it_travels(effects)
    assert h.storage["raft/log/length"] == 3 and h.storage["raft/log/3"] == [2, None, True]


def test_the_no_op_commits_earlier_terms_entries_without_a_client_command() -> None:
    h = harness(terms=(1, 1), term=1)
    leader = make_leader(h)  # term 2, its no-op at index 3
    h.deliver("b", AppendEntriesReply(2, True, match_index=3), component="raft")
    assert leader.commit_index == 3 and leader.last_applied == 3
    # The state machine saw the two commands only, at their log indexes.
    assert h.node.machine.applied == ["cmd1", "cmd2"]  # type: ignore[attr-defined]
    assert h.node.machine.indexes == [1, 2]  # type: ignore[attr-defined]
    applies = [n.data for n in h.notes if n.event == "apply"]
    assert [(a["index"], a.get("noop", False)) for a in applies] == [
        (1, False), (2, False), (3, True)]


def test_a_follower_applies_commands_around_a_no_op_at_the_leaders_indexes() -> None:
    seen: list[tuple[int, Any]] = []
    h = harness(term=1, on_apply=lambda index, command, result: seen.append((index, command)))
    entries = (Entry(1, "x"), Entry.no_op(2), Entry(2, "y"))
    h.deliver("b", AppendEntries(2, "b", 0, 0, entries, 3), component="raft")
    assert raft(h).entries == list(entries) and raft(h).last_applied == 3
    assert h.node.machine.applied == ["x", "y"]  # type: ignore[attr-defined]
    assert h.node.machine.indexes == [1, 3]  # type: ignore[attr-defined]
    assert seen == [(1, "x"), (3, "y")]  # on_apply is not called for the no-op
    # A restart reloads the no-op as a no-op.
    h.crash()
    h.recover()
    assert raft(h).entries == list(entries)


def test_late_or_duplicated_replies_never_move_match_index_back() -> None:
    h = harness(terms=(1, 1), term=1)
    leader = make_leader(h)
    h.deliver("b", AppendEntriesReply(2, True, match_index=3), component="raft")
    h.deliver("b", AppendEntriesReply(2, True, match_index=1), component="raft")
    assert (leader.match_index["b"], leader.next_index["b"]) == (3, 4)
    h.deliver("b", AppendEntriesReply(2, False, conflict_index=1), component="raft")
    assert leader.next_index["b"] == 4  # never below matchIndex + 1


def test_a_higher_term_in_a_reply_makes_the_leader_step_down() -> None:
    h = harness(term=1)
    leader = make_leader(h)
    h.deliver("c", AppendEntriesReply(9, False), component="raft")
    assert (leader.role, leader.term) == (FOLLOWER, 9)
    assert "raft/heartbeat" not in h.timers


# ----- the client interface ----------------------------------------------------------------


def test_start_is_refused_by_a_follower_and_syncs_the_entry_on_a_leader() -> None:
    h = harness(term=1)
    assert raft(h).start("x") is None
    leader = make_leader(h)
    for peer in ("b", "c"):  # the no-op's AppendEntries are answered: nothing in flight
        h.deliver(peer, AppendEntriesReply(2, True, match_index=1), component="raft")
    effects = h.call(leader.start, ["x", 1])
    assert leader.entries[-1] == Entry(2, ["x", 1])
    assert synced_as_it_travels(effects)


def test_a_burst_of_commands_travels_in_one_message_per_follower() -> None:
    """One AppendEntries in flight per follower: commands started meanwhile wait for its
    answer, then go together."""
    h = harness(term=1)
    leader = make_leader(h)  # the no-op's AppendEntries are in flight
    effects = [e for cmd in ("x", "y", "z") for e in h.call(leader.start, cmd)]
    assert [e for e in effects if isinstance(e, Sent)] == []
    h.deliver("b", AppendEntriesReply(2, True, match_index=1), component="raft")
    sent = h.sent(AppendEntries, to="b")
    assert len(sent) == 1 and [e.command for e in sent[0].msg.entries] == ["x", "y", "z"]
    h.clear()
    h.fire("raft/heartbeat")  # c's request is not a round old: it may still arrive
    assert [m.msg.entries for m in h.sent(AppendEntries, to="c")] == [()]
    h.clear()
    h.fire("raft/heartbeat")  # c never answered: the next round sends it everything
    assert [e.command for e in h.sent(AppendEntries, to="c")[0].msg.entries] == [
        None, "x", "y", "z"]


def test_a_command_that_does_not_encode_is_refused_at_start() -> None:
    h = harness(term=1)
    leader = make_leader(h)
    with pytest.raises(UsageError, match="does not encode as JSON"):
        leader.start({1, 2})
    with pytest.raises(UsageError, match="does not encode as JSON"):
        leader.start(float("nan"))
    assert leader.entries == [Entry.no_op(2)]  # nothing half-appended


def test_a_tuple_command_is_stored_as_it_arrives_elsewhere() -> None:
    h = harness(term=1)
    leader = make_leader(h)
    leader.start(("put", "k", 1))
    assert leader.entries[-1].command == ["put", "k", 1]


def test_a_group_of_one_elects_itself_and_commits_at_once() -> None:
    h = harness(peers=(), term=0)
    h.fire("raft/election")
    assert raft(h).is_leader and raft(h).commit_index == 1  # its no-op, at once
    assert raft(h).start("x") == (2, 1) and raft(h).commit_index == 2
    assert h.node.machine.applied == ["x"]  # type: ignore[attr-defined]


def test_commands_started_while_every_follower_is_busy_cost_no_sync_until_they_are_sent(
        ) -> None:
    """The leader writes its log in parallel with replicating it (thesis §10.2.1): a
    command that no message carries yet is not synced, and the leader does not count
    itself for it until the message that carries it leaves and it is synced."""
    h = harness(term=1)
    leader = make_leader(h)  # the no-op's AppendEntries are in flight to b and c
    effects = [e for cmd in ("x", "y") for e in h.call(leader.start, cmd)]
    assert [e for e in effects if isinstance(e, (Sent, StorageSync))] == []
    assert leader.match_index["a"] == 1  # the no-op, synced; not x and y
    effects = h.deliver("b", AppendEntriesReply(2, True, match_index=1), component="raft")
    assert synced_as_it_travels(effects)
    assert leader.match_index["a"] == 3
    assert leader.commit_index == 1  # b holds the no-op: x and y wait for b's answer
    h.deliver("b", AppendEntriesReply(2, True, match_index=3), component="raft")
    assert leader.commit_index == 3


def test_a_crash_before_the_sync_loses_unsent_commands_and_the_storage_still_loads(
        ) -> None:
    """Entries no message carried yet are lost in a crash, as whole entries: storage
    never holds a log length that its entries do not back (whatever a crash keeps of
    unsynced writes), so the server restarts instead of refusing corrupt storage."""
    for lose in ("all", "random", "none"):
        h = harness(term=1)
        leader = make_leader(h)
        h.call(leader.start, "x")
        h.crash(lose_unsynced=lose)
        h.recover()
        assert [e.command for e in raft(h).entries] == [None]  # the synced no-op only


def test_a_leader_alone_a_majority_syncs_and_commits_at_once() -> None:
    h = harness(term=1, peers=())
    h.fire("raft/election")
    leader = raft(h)
    assert leader.role == LEADER
    effects = h.call(leader.start, "x")
    assert any(isinstance(e, StorageSync) for e in effects)
    assert leader.commit_index == 2 and h.storage["raft/log/length"] == 2


def test_an_answer_that_falls_short_of_the_request_in_flight_sends_nothing_again() -> None:
    """A success that answers an earlier message (a heartbeat, a duplicate) leaves the
    request in flight alone: no entry is sent twice while it may still arrive."""
    h = harness(term=1)
    leader = make_leader(h)  # the no-op (index 1) in flight to b
    h.call(leader.start, "x")
    h.deliver("b", AppendEntriesReply(2, True, match_index=1), component="raft")
    assert [e.command for e in h.sent(AppendEntries, to="b")[-1].msg.entries] == ["x"]
    h.clear()
    h.call(leader.start, "y")
    # b answers the no-op's message again (a duplicate): x is still in flight.
    h.deliver("b", AppendEntriesReply(2, True, match_index=1), component="raft")
    assert h.sent(AppendEntries, to="b") == []
    h.deliver("b", AppendEntriesReply(2, True, match_index=2), component="raft")
    assert [e.command for e in h.sent(AppendEntries, to="b")[-1].msg.entries] == ["y"]


def test_after_applies_is_called_once_per_run_of_applies_after_the_last() -> None:
    """``after_applies`` follows each run of applies, once, even when the run ends on
    the no-op (no command applied last): a service flushes its batched replies there."""
    calls: list[tuple[int, list[Any]]] = []
    h = harness(term=1, after_applies=lambda: calls.append(
        (raft(h).last_applied, list(h.node.machine.applied))))  # type: ignore[attr-defined]
    leader = make_leader(h)
    h.call(leader.start, "x")
    h.call(leader.start, "y")
    h.deliver("b", AppendEntriesReply(2, True, match_index=1), component="raft")
    assert calls == [(1, [])]  # the no-op alone: one run, no command
    h.deliver("b", AppendEntriesReply(2, True, match_index=3), component="raft")
    assert calls == [(1, []), (3, ["x", "y"])]  # x and y: one run, one call after both
    h.deliver("c", AppendEntriesReply(2, True, match_index=3), component="raft")
    assert len(calls) == 2  # nothing newly committed: no call


def test_each_entry_is_stored_as_the_text_its_encoding_gives() -> None:
    """Entries are encoded once (for the log's size) and that text is what storage
    gets: it must be exactly the encoding of the stored form, on the leader (commands
    from start) and on a follower (entries from AppendEntries), and the log's size the
    sum of those texts."""
    from dsys.core import codec
    from dsys.raft.raft import stored

    h = harness(term=1)
    leader = make_leader(h)
    commands = [{"f": "put", "k": "é\n", "v": [1, 2.5, None, True]}, ("a", 1), "x"]
    for command in commands:
        h.call(leader.start, command)
    h.deliver("b", AppendEntriesReply(2, True, match_index=1), component="raft")
    follower = harness(term=1)
    h2_entries = tuple(leader.entries)
    follower.deliver("b", AppendEntries(2, "b", 0, 0, h2_entries, 0), component="raft")
    for server in (leader, raft(follower)):
        storage = server.storage
        texts = [storage.durable_text(f"raft/log/{i}") for i in range(1, 5)]
        assert texts == [codec.json_text(stored(e)) for e in server.entries]
        assert server.log_bytes() == sum(len(t or "") for t in texts)
        assert server.texts == {}  # written: nothing kept
    assert [e.command for e in leader.entries[1:]] == [commands[0], ["a", 1], "x"]


def test_starts_without_replicate_wait_and_replicate_sends_them_together() -> None:
    h = harness(term=1)
    leader = make_leader(h)  # the no-op in flight to b and c
    h.deliver("b", AppendEntriesReply(2, True, match_index=1), component="raft")
    h.deliver("c", AppendEntriesReply(2, True, match_index=1), component="raft")
    h.clear()  # nothing in flight now
    for command in ("x", "y", "z"):
        effects = h.call(leader.start, command, replicate=False)
        assert [e for e in effects if isinstance(e, (Sent, StorageSync))] == []
    effects = h.call(leader.replicate)
    assert synced_as_it_travels(effects)
    for peer in ("b", "c"):
        (sent,) = h.sent(AppendEntries, to=peer)
        assert [e.command for e in sent.msg.entries] == ["x", "y", "z"]
    h.deliver("b", AppendEntriesReply(2, True, match_index=4), component="raft")
    assert leader.commit_index == 4
    h.clear()
    effects = h.call(leader.replicate)  # b has everything; c's request is in flight
    assert [e for e in effects if isinstance(e, (Sent, StorageSync))] == []


def test_replicate_does_nothing_on_a_follower() -> None:
    h = harness(term=1)
    assert h.call(raft(h).replicate) == []

