"""The checkers on hand-made traces: each property, held and broken."""

from __future__ import annotations

from typing import Any

import pytest

from dsys import Node, Simulation
from dsys.election import (
    Bully,
    Election,
    check_agreement,
    check_message_count,
    check_one_leader_at_a_time,
    check_one_leader_per_epoch,
    message_counts,
    one_leader_at_a_time_invariant,
    one_leader_per_epoch_invariant,
)
from dsys.sim.report import InvariantViolation
from dsys.trace import Trace, TraceEvent


def leader(t: float, node: str, who: str, epoch: int, component: str = "election") -> TraceEvent:
    return TraceEvent(t, node, "note", {"event": "leader", "component": component,
                                        "leader": who, "epoch": epoch})


def lost(t: float, node: str) -> TraceEvent:
    return TraceEvent(t, node, "note", {"event": "lost", "component": "election"})


def start(node: str) -> TraceEvent:
    return TraceEvent(0.0, node, "start", {})


def test_one_leader_per_epoch_holds_when_adoptions_of_an_epoch_agree() -> None:
    trace = Trace([leader(0.1, "c", "c", 3), leader(0.2, "a", "c", 3), leader(0.3, "a", "b", 5)])
    report = check_one_leader_per_epoch(trace)
    assert report and report.judged == 3


def test_one_leader_per_epoch_can_be_limited_to_one_component() -> None:
    trace = Trace([leader(0.1, "a", "c", 3), leader(0.2, "b", "d", 3, component="other")])
    assert check_one_leader_per_epoch(trace, component="election")
    assert not check_one_leader_per_epoch(trace)


def test_one_leader_at_a_time_ends_a_leadership_at_lost_at_another_leader_or_a_crash() -> None:
    ok = Trace([leader(0.1, "a", "a", 1), lost(0.2, "a"), leader(0.3, "b", "b", 2),
                leader(0.4, "b", "c", 3), leader(0.5, "c", "c", 3),
                TraceEvent(0.6, "c", "crash", {}), leader(0.7, "d", "d", 4)])
    assert check_one_leader_at_a_time(ok)
    overlap = Trace([leader(0.1, "a", "a", 1), leader(0.3, "b", "b", 2)])
    report = check_one_leader_at_a_time(overlap)
    assert [v.nodes for v in report.violations] == [("b", "a")]
    assert "while a (epoch 1, since t=0.100000) still led" in report.violations[0].text
    # a leader re-elected in a later epoch is named with the epoch it leads now
    again = Trace([leader(0.1, "a", "a", 1), leader(0.2, "a", "a", 4), leader(0.3, "b", "b", 5)])
    text = check_one_leader_at_a_time(again).violations[0].text
    assert "while a (epoch 4, since t=0.100000) still led" in text


def test_agreement_wants_one_live_leader_trusted_by_every_node_up_at_the_end() -> None:
    nodes = [start(n) for n in "abc"]
    good = Trace([*nodes, leader(0.1, "c", "c", 3), leader(0.2, "a", "c", 3),
                  leader(0.2, "b", "c", 3)])
    assert check_agreement(good) and check_agreement(good).judged == 3
    split = Trace([*nodes, leader(0.1, "c", "c", 3), leader(0.2, "a", "c", 3),
                   leader(0.2, "b", "b", 2)])
    assert "disagree" in check_agreement(split).explain()
    dead = Trace([*nodes, leader(0.1, "c", "c", 3), leader(0.2, "a", "c", 3),
                  leader(0.2, "b", "c", 3), TraceEvent(0.5, "c", "crash", {})])
    assert "but it is down" in check_agreement(dead).explain()
    none = Trace([*nodes, leader(0.1, "c", "c", 3), leader(0.2, "a", "c", 3),
                  leader(0.2, "b", "c", 3), lost(0.3, "b")])
    assert "b trusts no leader" in check_agreement(none).explain()
    assert check_agreement(none, nodes=["a", "c"])


def test_message_counts_by_type_and_within_bounds() -> None:
    def send(t: float, msg: Any, component: str = "election") -> TraceEvent:
        return TraceEvent(t, "a", "send", {"to": "b", "id": 1, "msg": msg,
                                           "stamps": {"@component": component}})

    trace = Trace([send(0.1, Election(0)), send(0.2, Election(0)), send(0.3, Election(0), "x")])
    assert message_counts(trace) == {"Election": 3}
    assert message_counts(trace, component="election") == {"Election": 2}
    assert check_message_count(trace, [Election], at_most=3)
    report = check_message_count(trace, ["Election"], at_least=4)
    assert not report and "3 messages sent (Election 3), outside [4, inf]" in report.explain()


class SameEpochBully(Bully):
    """A broken bully: every coordinator claims epoch 1 (the bug owned epochs prevent)."""

    def new_epoch(self) -> int:
        return 1


def split(factory: Any) -> Simulation:
    sim = Simulation(seed=3)
    for name in ("a", "b", "c", "d"):
        sim.add_node(name, lambda: ElectionServerOf(factory))
    sim.run(until=0.5)
    sim.partition(["a", "b"], ["c", "d"])
    return sim


class ElectionServerOf(Node):
    def __init__(self, factory: Any) -> None:
        super().__init__()
        self.election = self.add_component(factory())


def test_the_invariants_catch_two_leaders_on_the_running_nodes() -> None:
    sim = split(Bully)
    sim.add_invariant(one_leader_per_epoch_invariant)
    sim.run(until=1.5)  # b leads a and b, d leads c and d, in different epochs: fine
    sim.add_invariant(one_leader_at_a_time_invariant)
    with pytest.raises(InvariantViolation,
                       match=r"b \(epoch 6\) and d \(epoch 4\) lead at the same"):
        sim.run(until=2.0)


def test_a_broken_module_that_reuses_an_epoch_is_caught_by_both_checkers() -> None:
    sim = split(SameEpochBully)
    sim.run(until=1.5)
    report = check_one_leader_per_epoch(sim.trace)
    assert not report and "which" in report.violations[0].text
    sim.add_invariant(one_leader_per_epoch_invariant)
    with pytest.raises(InvariantViolation, match="as the leader of epoch 1"):
        sim.run(until=2.0)
