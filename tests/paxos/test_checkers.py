"""The checkers on hand-made traces: each bad trace breaks one property, and the checker
that judges it must say so (and the others must not cry wolf)."""

from __future__ import annotations

from typing import Any

import pytest

from dsys.errors import UsageError
from dsys.paxos import check_agreement, check_stability, check_validity
from dsys.trace.events import Trace, TraceEvent


def note(time: float, node: str, event: str, **data: Any) -> TraceEvent:
    return TraceEvent(time, node, "note", {"event": event, **data})


def accept(time: float, node: str, ballot: list[Any], value: Any, slot: int = 0
           ) -> TraceEvent:
    return note(time, node, "accept", slot=slot, ballot=ballot, value=value)


GOOD = Trace([
    note(0.1, "s1", "propose", value="A"),
    note(0.1, "s2", "propose", value="B"),
    accept(0.2, "s1", [1, "s1"], "A"), accept(0.2, "s2", [1, "s1"], "A"),
    accept(0.3, "s2", [2, "s2"], "A"),  # a higher ballot re-proposes the chosen value
    note(0.4, "s1", "learn", slot=0, value="A"),
    note(0.5, "s2", "learn", slot=0, value="A"),
    note(0.6, "s2", "learn", slot=0, value="A"),  # learning again the same value is fine
    TraceEvent(0.7, "s3", "note", {"event": "other", "slot": 0, "value": "Z"}),
])


def test_a_good_trace_passes_every_checker() -> None:
    assert check_agreement(GOOD) and check_validity(GOOD)
    assert check_stability(GOOD, acceptors=3)
    assert check_agreement(GOOD).judged == 1 and check_validity(GOOD).judged == 3


def test_agreement_catches_two_learners_with_two_values_in_one_slot() -> None:
    bad = Trace([*GOOD, note(0.8, "s3", "learn", slot=0, value="B")])
    report = check_agreement(bad)
    assert not report and report.violations[0].nodes == ("s1", "s3")
    assert "s3 learned 'B'" in report.explain()
    # slots are independent: another slot may hold another value
    assert check_agreement(Trace([*GOOD, note(0.8, "s3", "learn", slot=1, value="B")]))


def test_agreement_compares_commands_as_json() -> None:
    trace = Trace([note(0.1, "a", "learn", slot=3, value={"op": "put", "key": "x"}),
                   note(0.2, "b", "learn", slot=3, value={"key": "x", "op": "put"}),
                   note(0.3, "c", "learn", slot=3, value={"key": "x", "op": "get"})])
    report = check_agreement(trace)
    assert len(report.violations) == 1 and report.violations[0].nodes == ("a", "c")


def test_validity_catches_a_value_nobody_proposed() -> None:
    bad = Trace([*GOOD, note(0.8, "s3", "learn", slot=1, value="Z")])
    report = check_validity(bad)
    assert not report and "'Z'" in report.explain() and report.violations[0].nodes == ("s3",)
    assert check_agreement(bad)  # one learner, one value: agreement has nothing to say


def test_validity_wants_the_proposal_before_the_learning() -> None:
    late = Trace([note(0.1, "s1", "learn", slot=0, value="A"),
                  note(0.2, "s2", "propose", value="A")])
    assert not check_validity(late)


def test_validity_allows_the_no_op_only_when_named() -> None:
    trace = Trace([note(0.1, "s1", "learn", slot=0, value=None)])
    assert not check_validity(trace)
    noop = ["noop"]
    trace = Trace([note(0.1, "s1", "learn", slot=0, value=noop)])
    assert check_validity(trace, noop=noop) and not check_validity(trace)


def test_stability_catches_a_learner_that_changes_its_mind() -> None:
    bad = Trace([*GOOD, note(0.8, "s1", "learn", slot=0, value="B")])
    report = check_stability(bad)
    assert not report and "after it had learned 'A'" in report.explain()


def test_stability_catches_a_chosen_value_replaced_in_a_higher_ballot() -> None:
    bad = Trace([*GOOD, accept(0.8, "s3", [3, "s3"], "B")])
    assert check_agreement(bad) and check_validity(bad)  # nobody learned B (yet)
    report = check_stability(bad, acceptors=3)
    assert not report and "after 'A' was chosen in [1, 's1']" in report.explain()
    assert check_stability(bad)  # without the number of acceptors: not judged
    assert check_stability(bad, acceptors=5)  # 2 of 5 accepted A: not chosen


def test_stability_is_not_fooled_by_a_minority_or_a_lower_ballot() -> None:
    trace = Trace([accept(0.1, "s1", [2, "s1"], "A"), accept(0.2, "s2", [1, "s2"], "B"),
                   accept(0.3, "s3", [1, "s2"], "B"),  # B chosen in [1, 's2']
                   accept(0.4, "s1", [1, "s1"], "C")])  # a lower ballot: not a replacement
    assert check_stability(trace, acceptors=3)
    assert not check_stability(Trace([*trace, accept(0.5, "s2", [3, "s2"], "A")]),
                               acceptors=3)


def test_a_bad_number_of_acceptors_is_refused() -> None:
    with pytest.raises(UsageError, match="acceptors must be"):
        check_stability(GOOD, acceptors=0)
