"""Rules of Raft that a mutation sample found unpinned (issue 21)."""

from __future__ import annotations

from dsys.raft import AppendEntries, TimeoutNow
from tests.raft.test_handlers_more import harness, raft


def test_a_new_group_stores_its_first_voters() -> None:
    h = harness(peers=("c", "b"))
    assert h.node.storage["raft/members"] == ["a", "b", "c"]
    assert raft(h).members == ("a", "b", "c")


def test_timeout_now_is_noted_with_the_term_and_the_leader_that_asked() -> None:
    h = harness(term=1)
    h.deliver("b", AppendEntries(1, "b", 0, 0, (), 0), component="raft")
    h.deliver("b", TimeoutNow(1), component="raft")
    (note,) = [n.data for n in h.notes if n.event == "timeout now"]
    assert (note["term"], note["leader"]) == (1, "b")
    assert raft(h).term == 2
