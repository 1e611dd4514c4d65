"""The failure checkers on small hand-written traces: what each one judges, what it
forgives, and the one Report type they return."""

from __future__ import annotations

from dsys.check import Report
from dsys.failure import (
    check_accuracy,
    check_completeness,
    check_convergence,
    detection_times,
    false_suspicions,
)
from dsys.trace import Trace, TraceEvent


def note(t: float, node: str, event: str, **data: object) -> TraceEvent:
    return TraceEvent(t, node, "note", {"event": event, "component": "detector", **data})


def started(*nodes: str) -> list[TraceEvent]:
    events = [TraceEvent(0.0, n, "start") for n in nodes]
    events += [note(0.0, n, "members", peers=[p for p in nodes if p != n]) for n in nodes]
    return events


def end(t: float) -> TraceEvent:
    return TraceEvent(t, "a", "log", {"text": "end"})


def test_completeness_judges_each_live_monitor_of_each_crash() -> None:
    trace = Trace([*started("a", "b", "c"), TraceEvent(1.0, "c", "crash"),
                   note(1.5, "a", "suspect", peer="c"), note(3.5, "b", "suspect", peer="c"),
                   end(10.0)])
    report = check_completeness(trace, within=2.0)
    assert isinstance(report, Report)
    assert report.judged == 2
    assert [v.nodes for v in report.violations] == [("b", "c")]
    assert check_completeness(trace, within=3.0)
    delays = {(d.monitor, d.crashed): d.delay for d in detection_times(trace)}
    assert delays == {("a", "c"): 0.5, ("b", "c"): 2.5}


def test_completeness_forgives_a_monitor_that_crashed_and_a_member_that_came_back() -> None:
    trace = Trace([*started("a", "b", "c"), TraceEvent(1.0, "c", "crash"),
                   TraceEvent(1.2, "b", "crash"), TraceEvent(1.5, "c", "restart"),
                   note(1.6, "a", "suspect", peer="b"), end(10.0)])
    report = check_completeness(trace, within=2.0)
    # (b, c): b crashed before its deadline; (a, c): c came back; only (a, b) is judged
    assert report.ok and report.judged == 1


def test_completeness_does_not_judge_a_deadline_beyond_the_trace() -> None:
    trace = Trace([*started("a", "b"), TraceEvent(1.0, "b", "crash"), end(2.0)])
    assert check_completeness(trace, within=5.0).judged == 0
    assert not check_completeness(trace, within=5.0, end=7.0)


def test_accuracy_lists_false_suspicions_with_their_durations() -> None:
    trace = Trace([*started("a", "b", "c"),
                   note(1.0, "a", "suspect", peer="b"), note(1.2, "a", "alive", peer="b"),
                   note(2.0, "a", "suspect", peer="c"), TraceEvent(2.5, "c", "crash"),
                   note(3.0, "b", "suspect", peer="c"),   # c is down: a true suspicion
                   end(6.0)])
    wrong = false_suspicions(trace)
    assert [(w.monitor, w.peer, w.start, w.end, w.ended_by) for w in wrong] == [
        ("a", "b", 1.0, 1.2, "alive"), ("a", "c", 2.0, 2.5, "crash")]
    report = check_accuracy(trace)
    assert len(report.violations) == 2
    assert check_accuracy(trace, tolerance=0.6)
    assert check_accuracy(trace, after=3.0)


def test_a_suspicion_still_held_at_the_end_is_never_forgiven() -> None:
    trace = Trace([*started("a", "b"), note(1.0, "a", "suspect", peer="b"), end(1.1)])
    report = check_accuracy(trace, tolerance=5.0)
    assert not report and "still at the end" in report.violations[0].text


def test_convergence_wants_every_live_member_to_trust_exactly_the_live_members() -> None:
    trace = Trace([*started("a", "b", "c"), TraceEvent(1.0, "c", "crash"),
                   note(2.0, "a", "suspect", peer="c"), end(5.0)])
    report = check_convergence(trace, by=3.0)
    assert [v.nodes for v in report.violations] == [("b",)]
    assert "trusts c" in report.violations[0].text
    fixed = Trace([*trace, note(5.5, "b", "suspect", peer="c"), end(6.0)])
    assert check_convergence(fixed, by=5.5)
    assert not check_convergence(fixed, by=3.0)


def test_a_member_that_left_is_not_expected_in_any_view() -> None:
    trace = Trace([*started("a", "b", "c"), note(1.0, "c", "leave"),
                   note(1.1, "a", "members", peers=["b"]),
                   note(1.2, "b", "members", peers=["a"]), end(3.0)])
    assert check_convergence(trace, by=2.0)
