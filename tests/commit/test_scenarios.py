"""Scenarios: blocking while the coordinator is down, cooperative termination, and the
broken variants caught by the checkers in the scenario that exposes each."""

from __future__ import annotations

from collections.abc import Callable

from dsys import Simulation
from dsys.commit import (
    Coordinator,
    Participant,
    Transaction,
    check_atomicity,
    check_validity,
)
from tests.commit.broken import DecidesAloneOnTimeout, SendsBeforeLogging, VotesBeforeLogging

TX = Transaction("t1", {"rm1": {"x": "1"}, "rm2": {"y": "2"}, "rm3": {"z": "3"}})
PARTICIPANTS = ("rm1", "rm2", "rm3")


def three(seed: int, *, coordinator: Callable[..., Coordinator] = Coordinator,
          participant: Callable[..., Participant] = Participant) -> Simulation:
    sim = Simulation(seed=seed)
    sim.add_node("tm", lambda: coordinator([TX]))
    for p in PARTICIPANTS:
        sim.add_node(p, participant)
    return sim


def outcomes(sim: Simulation) -> dict[str, str | None]:
    return {p: sim.nodes[p].outcome("t1") for p in PARTICIPANTS if p in sim.nodes}  # type: ignore[attr-defined]


def all_prepared(sim: Simulation) -> bool:
    return all(o == "prepared" for o in outcomes(sim).values()) and len(outcomes(sim)) == 3


def safe(sim: Simulation) -> bool:
    return bool(check_atomicity(sim.trace)) and bool(check_validity(sim.trace))


def test_in_doubt_participants_block_until_the_coordinator_recovers() -> None:
    sim = three(seed=1)
    assert sim.run_until(all_prepared, timeout=1.0)
    sim.crash("tm")  # every participant voted yes; the votes die with the coordinator
    sim.run(until=sim.now + 3.0)
    assert outcomes(sim) == {p: "prepared" for p in PARTICIPANTS}
    for p in PARTICIPANTS:  # still holding the locks, still asking
        assert sim.nodes[p].locks  # type: ignore[attr-defined]
    asks = [e for e in sim.trace if e.kind == "send" and "DecisionRequest" in str(e.data)]
    assert len(asks) >= 3 * 3 * 2  # each asked both others and tm, several times
    sim.restart("tm")  # it never decided: it aborts, and the participants learn it
    sim.run(until=sim.now + 1.0)
    assert outcomes(sim) == {p: "aborted" for p in PARTICIPANTS}
    assert all(not sim.nodes[p].locks for p in PARTICIPANTS)  # type: ignore[attr-defined]
    assert safe(sim)


def decision_reaches_rm1_only(participant: Callable[..., Participant]) -> Simulation:
    """All vote yes; the coordinator's decision reaches rm1 only, then it crashes."""
    sim = three(seed=2, participant=participant)
    assert sim.run_until(all_prepared, timeout=1.0)
    sim.block("tm", "rm2")
    sim.block("tm", "rm3")
    assert sim.run_until(lambda s: outcomes(s).get("rm1") == "committed", timeout=1.0)
    sim.crash("tm")
    sim.run(until=sim.now + 2.0)
    return sim


def test_cooperative_termination_resolves_in_doubt_participants() -> None:
    sim = decision_reaches_rm1_only(Participant)
    assert not sim.is_up("tm")
    assert outcomes(sim) == {p: "committed" for p in PARTICIPANTS}  # learned it from rm1
    assert {sim.nodes[p].storage["data/" + k] for p, k in
            [("rm1", "x"), ("rm2", "y"), ("rm3", "z")]} == {"1", "2", "3"}
    assert safe(sim)


def test_participant_deciding_alone_on_a_timeout_is_caught() -> None:
    sim = decision_reaches_rm1_only(DecidesAloneOnTimeout)
    report = check_atomicity(sim.trace)
    assert not report, report.explain()
    assert "committed" in report.explain() and "aborted" in report.explain()


def forgotten_vote(participant: Callable[..., Participant]) -> Simulation:
    """rm1 votes yes and crashes losing its unsynced writes; the decision reaches nobody;
    rm2 asks rm1, which restarts remembering its log (or not)."""
    sim = Simulation(seed=3)
    tx = Transaction("t1", {"rm1": {"x": "1"}, "rm2": {"y": "2"}})
    sim.add_node("tm", lambda: Coordinator([tx]))
    sim.add_node("rm1", participant)
    sim.add_node("rm2", participant)
    assert sim.run_until(lambda s: all(n.record("t1") for n in  # type: ignore[attr-defined]
                                       (s.nodes["rm1"], s.nodes["rm2"])), timeout=1.0)
    sim.block("tm", "rm1")
    sim.block("tm", "rm2")
    sim.crash("rm1", unsynced="lost")
    sim.restart("rm1")
    sim.run(until=sim.now + 2.0)
    return sim


def test_participant_restarts_in_doubt_and_stays_blocked() -> None:
    sim = forgotten_vote(Participant)
    assert sim.nodes["tm"].decision("t1") == "commit"  # type: ignore[attr-defined]
    assert [sim.nodes[p].outcome("t1") for p in ("rm1", "rm2")] == ["prepared"] * 2  # type: ignore[attr-defined]
    assert any(e.kind == "note" and e.data.get("event") == "in_doubt" for e in sim.trace)
    assert safe(sim)
    sim.heal()
    sim.run(until=sim.now + 1.0)
    assert [sim.nodes[p].outcome("t1") for p in ("rm1", "rm2")] == ["committed"] * 2  # type: ignore[attr-defined]
    assert safe(sim)


def test_participant_voting_before_logging_is_caught() -> None:
    sim = forgotten_vote(VotesBeforeLogging)
    report = check_atomicity(sim.trace)
    assert not report, report.explain()


def test_coordinator_sending_before_logging_is_caught() -> None:
    sim = three(seed=4, coordinator=SendsBeforeLogging)
    assert sim.run_until(all_prepared, timeout=1.0)
    sim.block("tm", "rm2")
    assert sim.run_until(lambda s: outcomes(s).get("rm1") == "committed", timeout=1.0)
    sim.crash("tm", unsynced="lost")  # the decision it sent was never logged
    sim.restart("tm")
    sim.heal()
    sim.run(until=sim.now + 2.0)
    report = check_atomicity(sim.trace)
    assert not report, report.explain()
    # the correct coordinator, same schedule: its restart re-sends commit
    sim = three(seed=4)
    assert sim.run_until(all_prepared, timeout=1.0)
    sim.block("tm", "rm2")
    assert sim.run_until(lambda s: outcomes(s).get("rm1") == "committed", timeout=1.0)
    sim.crash("tm", unsynced="lost")
    sim.restart("tm")
    sim.heal()
    sim.run(until=sim.now + 2.0)
    assert outcomes(sim) == {p: "committed" for p in PARTICIPANTS}
    assert safe(sim)
