"""Two-phase commit (dsys.demos.two_phase_commit): all commit or all abort on a hostile
network, and the invariants catch a coordinator that commits too early."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import pytest

from dsys import InvariantViolation, Network
from dsys.demos.two_phase_commit import (
    Abort,
    Commit,
    Coordinator,
    Participant,
    Prepare,
    Vote,
    all_decided,
    commit_only_if_all_voted_yes,
    consistency,
    scenario,
)
from dsys.testing import NodeHarness

SEEDS = range(30)


def hostile() -> Network:
    return Network(duplicate=0.2, reorder=0.5)


def states(sim: object) -> dict[str, str]:
    return {i: n.state for i, n in sim.nodes.items()}  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", SEEDS)
def test_all_commit_when_all_vote_yes(seed: int) -> None:
    sim = scenario(seed, network=hostile())  # the invariants hold after every event
    sim.run()
    assert all_decided(sim)
    assert set(states(sim).values()) == {"committed"}
    assert len(sim.nodes["tm"].acks) == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", SEEDS)
def test_one_no_vote_makes_everyone_abort(seed: int) -> None:
    sim = scenario(seed, votes=(True, True, False), network=hostile())
    sim.run()
    assert all_decided(sim)
    assert set(states(sim).values()) == {"aborted"}


@pytest.mark.parametrize("seed", range(10))
def test_safe_with_loss_a_coordinator_crash_and_retries(seed: int) -> None:
    sim = scenario(seed, network=Network(drop=0.2, duplicate=0.2, reorder=0.5),
                   coordinator=functools.partial(Coordinator, retry=0.05))
    sim.at(0.005, sim.crash, "tm")
    sim.at(0.1, sim.restart, "tm")
    sim.run(until=3.0)
    assert all_decided(sim)  # retries get every message through in the end
    assert len(set(states(sim).values())) == 1


class HastyCoordinator(Coordinator):
    """Commits on the first yes vote, without waiting for the others."""

    def on_message(self, src: str, msg: object) -> None:
        if isinstance(msg, Vote) and msg.yes and self.state == "voting":
            self.decide("committed")
        else:
            super().on_message(src, msg)


@pytest.mark.parametrize("votes", [(True, True, True), (True, True, False)])
def test_a_coordinator_that_commits_on_the_first_yes_is_caught_on_some_seed(
        votes: tuple[bool, ...]) -> None:
    broken = []
    for seed in SEEDS:
        sim = scenario(seed, votes=votes, network=hostile(), coordinator=HastyCoordinator)
        try:
            sim.run()
        except InvariantViolation:
            broken.append(seed)
    assert broken


# ----- the handlers, one at a time ----------------------------------------------------------


def test_the_coordinator_syncs_its_decision_before_announcing_it() -> None:
    h = NodeHarness(Coordinator, "tm", ("rm1", "rm2"))
    h.start()
    assert [(s.dst, s.msg) for s in h.sent()] == [("rm1", Prepare()), ("rm2", Prepare())]
    h.deliver("rm1", Vote(True))
    h.clear()
    h.deliver("rm2", Vote(True))
    kinds = [type(e).__name__ for e in h.effects]
    assert kinds.index("StorageSync") < kinds.index("Sent")
    assert [s.msg for s in h.sent()] == [Commit(), Commit()]


def test_a_coordinator_that_restarts_undecided_presumes_abort() -> None:
    h = NodeHarness(Coordinator, "tm", ("rm1", "rm2"))
    h.start()
    h.deliver("rm1", Vote(True))
    h.crash()
    h.recover()
    assert [s.msg for s in h.sent(to="rm1")][-1] == Abort()
    h.crash()
    h.recover()  # the decision is durable: the same one again
    assert [s.msg for s in h.sent(to="rm2")][-1] == Abort()


def test_a_participant_keeps_its_yes_vote_across_a_crash() -> None:
    h = NodeHarness(Participant, "rm1", ("tm",))
    h.start()
    h.deliver("tm", Prepare())
    h.crash()
    h.recover()
    assert h.node.state == "prepared"  # type: ignore[attr-defined]
    h.clear()
    h.deliver("tm", Prepare())
    assert [s.msg for s in h.sent()] == [Vote(True)]


def test_the_properties_read_only_view_nodes() -> None:
    rm1 = NodeHarness(Participant, "rm1", ("tm",)).node
    rm2 = NodeHarness(functools.partial(Participant, vote_no=True), "rm2", ("tm",)).node
    view = SimpleNamespace(nodes={"rm1": rm1, "rm2": rm2})
    assert consistency(view) and commit_only_if_all_voted_yes(view) and not all_decided(view)
    rm1.state, rm1.vote = "committed", True  # type: ignore[attr-defined]
    rm2.state, rm2.vote = "aborted", False  # type: ignore[attr-defined]
    assert all_decided(view)
    assert not consistency(view) and not commit_only_if_all_voted_yes(view)
