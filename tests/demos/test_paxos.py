"""Single-decree Paxos (dsys.demos.paxos): safe and live on a hostile network, and the
invariants catch a broken acceptor."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import pytest

from dsys import InvariantViolation, Network
from dsys.demos.paxos import (
    NO_BALLOT,
    Accept,
    Accepted,
    Ballot,
    PaxosServer,
    Prepare,
    Promise,
    Propose,
    agreement,
    all_decided,
    scenario,
    validity,
)
from dsys.testing import NodeHarness

SEEDS = range(30)


def hostile() -> Network:
    return Network(duplicate=0.2, reorder=0.5)


@pytest.mark.parametrize("seed", SEEDS)
def test_one_value_is_chosen_and_every_server_and_client_learns_it(seed: int) -> None:
    sim = scenario(seed, network=hostile())  # agreement and validity after every event
    sim.run()
    assert all_decided(sim)
    decided = {node.decided for node in sim.nodes.values()}  # type: ignore[attr-defined]
    assert len(decided) == 1 and decided <= {"A", "B"}
    completions = [e for e in sim.history if e["type"] != "invoke"]
    assert sorted(e["client"] for e in completions) == ["c1", "c2"]
    assert {(e["type"], e["value"]) for e in completions} == {("ok", *decided)}


def test_both_values_get_chosen_on_some_seeds() -> None:
    chosen = set()
    for seed in SEEDS:
        sim = scenario(seed, network=hostile())
        sim.run()
        chosen |= {node.decided for node in sim.nodes.values()}  # type: ignore[attr-defined]
    assert chosen == {"A", "B"}


@pytest.mark.parametrize("seed", range(10))
def test_safe_with_loss_and_a_crash_and_retries(seed: int) -> None:
    sim = scenario(seed, network=Network(drop=0.2, duplicate=0.2, reorder=0.5),
                   server=functools.partial(PaxosServer, retry=0.05))
    sim.at(0.004, sim.crash, "s3")
    sim.at(0.1, sim.restart, "s3")
    sim.run(until=2.0)  # agreement and validity hold throughout; the goal may not be met


class CarelessAcceptor(PaxosServer):
    """Accepts every Accept, ignoring the ballot it promised: two values can be chosen."""

    def on_accept(self, src: str, ballot: Ballot, value: str) -> None:
        self.accepted, self.accepted_value = ballot, value
        self.persist()
        self.tell(src, Accepted(ballot))


def test_an_acceptor_that_ignores_its_promise_breaks_agreement_on_some_seed() -> None:
    broken = []
    for seed in SEEDS:
        sim = scenario(seed, network=hostile(), server=CarelessAcceptor)
        try:
            sim.run()
        except InvariantViolation as violation:
            assert "agreement" in str(violation)
            broken.append(seed)
    assert broken


# ----- the handlers, one at a time ----------------------------------------------------------


def server(storage: dict[str, object] | None = None) -> NodeHarness:
    h = NodeHarness(PaxosServer, "s1", ("s2", "s3"), clients=("c1",), storage=storage)
    h.start()
    return h


def test_a_proposal_starts_phase_1_with_a_ballot_above_every_promise() -> None:
    h = server(storage={"promised": [4, "s3"]})
    h.deliver("c1", Propose("A"))
    assert [(s.dst, s.msg) for s in h.sent()] == [("s2", Prepare((5, "s1"))),
                                                   ("s3", Prepare((5, "s1")))]
    assert h.node.promised == (5, "s1")  # type: ignore[attr-defined]
    h.clear()
    h.deliver("c1", Propose("A"))  # a duplicate: no second ballot
    assert h.sent() == []


def test_the_proposer_adopts_the_value_of_the_highest_accepted_ballot() -> None:
    h = server()
    h.deliver("c1", Propose("A"))
    h.clear()
    h.deliver("s2", Promise((1, "s1"), (1, "s3"), "B"))  # with its own promise: a majority
    assert [(s.dst, s.msg) for s in h.sent()] == [("s2", Accept((1, "s1"), "B"))]
    assert h.node.accepted_value == "B"  # type: ignore[attr-defined]  # s1 accepts too


def test_an_acceptor_keeps_its_promise_across_a_crash() -> None:
    h = server()
    h.deliver("s2", Prepare((3, "s2")))
    assert [s.msg for s in h.sent()] == [Promise((3, "s2"), NO_BALLOT, None)]
    h.crash()  # unsynced writes lost: the promise was synced before the reply
    h.recover()
    h.clear()
    h.deliver("s3", Accept((2, "s3"), "C"))
    h.deliver("s3", Prepare((2, "s3")))
    assert h.sent() == []
    h.deliver("s2", Accept((3, "s2"), "B"))
    assert [s.msg for s in h.sent()] == [Accepted((3, "s2"))]


def test_the_properties_read_only_view_nodes() -> None:
    a, b, c = server().node, server().node, server().node
    a.decided, b.decided, c.decided = "A", "B", "B"  # type: ignore[attr-defined]
    view = SimpleNamespace(nodes={"s1": a, "s2": b, "s3": c})
    assert all_decided(view) and not agreement(view) and not validity(view)
    a.requests, b.requests = (("c1", "A"),), (("c2", "B"),)  # type: ignore[attr-defined]
    assert validity(view)
    a.requests = ()  # type: ignore[attr-defined]
    assert not validity(view)
    del view.nodes["s2"]  # only s2 knew "B": not judged while it is down
    assert validity(view)
    assert not all_decided(SimpleNamespace(nodes={}))
