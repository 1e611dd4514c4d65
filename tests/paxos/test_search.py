"""The model checker on single-decree Paxos, 3 servers and 2 clients (the configuration of
``bench/search.py``): every interleaving of deliveries is safe; a broken acceptor is
caught with a short, replayable path."""

from __future__ import annotations

import pytest

from dsys.demos import paxos
from tests.paxos.broken import CarelessAcceptor, ForgetfulAcceptor

#: The bound of the default run: the careless acceptor's violation is 12 steps deep.
DEPTH = 14


def test_every_interleaving_within_the_bound_keeps_agreement_and_validity() -> None:
    result = paxos.search().bfs(max_depth=DEPTH)
    assert result.verdict == "ok", result.summary()
    assert result.states > 5_000  # not a trivial space


@pytest.mark.soak
def test_every_interleaving_keeps_agreement_and_validity() -> None:
    result = paxos.search().bfs()  # exhaustive: no depth bound
    assert result.verdict == "ok", result.summary()
    assert result.states > 10_000 and result.depth >= 20


def test_an_acceptor_that_accepts_a_lower_ballot_breaks_agreement() -> None:
    result = paxos.search(server=CarelessAcceptor).bfs(max_depth=DEPTH)
    assert result.verdict == "violation" and "agreement" in result.problem
    sim = result.replay()  # the path, replayed in the simulator
    decided = {node.decided for node in sim.nodes.values()}  # type: ignore[attr-defined]
    assert decided - {None} == {"A", "B"}


@pytest.mark.soak
def test_an_acceptor_that_forgets_its_promise_breaks_agreement_after_a_crash() -> None:
    assert paxos.search(server=ForgetfulAcceptor).bfs().verdict == "ok"  # no crash: safe
    result = paxos.search(server=ForgetfulAcceptor, crashes=1).dfs(max_depth=16)
    assert result.verdict == "violation" and "agreement" in result.problem
