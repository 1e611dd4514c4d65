"""Raft under the model checker: every interleaving of three servers and one command.

The search explores every order of message deliveries and timer firings (and, where
asked, a crash and restart with every unsynced write lost), checking all of Raft's live
invariants in every state. States where some server reached a term above ``max_term``
are checked but not explored further: the interesting interleavings of one election
and one command happen in the first terms.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsys.raft import invariants
from dsys.search import Search
from tests.raft.systems import ForgetfulServer, Server


def search(factory: Any, *, crashes: int = 0, max_term: int = 1) -> Search:
    s = Search(dict.fromkeys(("a", "b", "c"), factory), crashes=crashes)
    for invariant in invariants():
        s.add_invariant(invariant)
    s.add_prune(lambda view: any(n.raft.term > max_term for n in view.nodes.values()))
    return s


def test_every_interleaving_of_an_election_and_one_command_is_safe() -> None:
    result = search(Server).bfs(max_depth=7)
    assert result.verdict == "ok", result.report()
    # (about 12,000 states; the leader commits at depth 5, a follower applies at 7)
    assert result.states > 5_000


def test_a_vote_that_is_not_persisted_gives_two_leaders_in_one_term() -> None:
    result = search(ForgetfulServer, crashes=1).dfs(max_depth=8)
    assert result.verdict == "violation"
    assert "both leaders of term 1" in result.problem
    steps = [step.describe() for step in result.path]
    assert any(step.startswith("crash") for step in steps)
    assert any(step.startswith("restart") for step in steps)
    # The counterexample replays in the simulator.
    sim = result.replay()
    assert sum(1 for n in sim.nodes.values() if n.raft.is_leader) == 2  # type: ignore


@pytest.mark.soak
def test_deeper_with_a_crash_and_two_terms() -> None:
    result = search(Server, crashes=1, max_term=2).bfs(max_depth=9, time_limit=1800)
    assert result.verdict in ("ok", "limit"), result.report()
