"""The checkers: exact verdicts on small hand-written traces, and each one catching a
deliberately broken algorithm over many seeds (while the correct one passes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dsys import InvariantViolation, Network, Trace, TraceEvent
from dsys.demos.mutex_workload import finished, simulate
from dsys.mutex import (
    CentralMutex,
    Mutex,
    Report,
    RicartAgrawala,
    TokenRing,
    check_bounded_waiting,
    check_liveness,
    check_order,
    check_safety,
)
from tests.mutex.broken import (
    ClocklessRicartAgrawala,
    DoubleGrantCoordinator,
    DuplicatingTokenRing,
    EagerRicartAgrawala,
    ForgetfulRicartAgrawala,
    GreedyTokenRing,
    LifoCoordinator,
)

SEEDS = range(20)


def note(time: float, node: str, event: str, **data: Any) -> TraceEvent:
    return TraceEvent(time, node, "note", {"event": event, "component": "mutex", **data})


# ----- hand-written traces ------------------------------------------------------------------


def test_safety_names_both_nodes_and_when() -> None:
    trace = Trace([
        note(0.1, "a", "request"), note(0.2, "a", "enter"),
        note(0.25, "b", "request"), note(0.3, "b", "enter"),
        note(0.4, "a", "exit"), note(0.5, "b", "exit"),
    ])
    report = check_safety(trace)
    assert not report.ok and not report
    [violation] = report.violations
    assert violation.nodes == ("b", "a") and violation.time == 0.3
    assert str(violation) == (
        "t=0.300000: b entered at t=0.300000 while a (inside since t=0.200000) was still "
        "inside: 2 nodes in the critical section")
    assert report.explain().startswith("safety: 1 violation(s) (2 entries checked)")


def test_safety_accepts_back_to_back_entries_and_counts_a_crash_as_leaving() -> None:
    trace = Trace([
        note(0.1, "a", "enter"), note(0.2, "a", "exit"), note(0.2, "b", "enter"),
        TraceEvent(0.3, "b", "crash", {}), note(0.4, "c", "enter"), note(0.5, "c", "exit"),
    ])
    assert check_safety(trace).ok
    assert check_safety(trace).explain() == "safety: ok (3 entries checked)"


def test_safety_reports_entering_twice_and_leaving_without_entering() -> None:
    trace = Trace([note(0.1, "a", "enter"), note(0.2, "a", "enter"), note(0.3, "a", "exit"),
                   note(0.4, "a", "exit")])
    texts = [v.text for v in check_safety(trace).violations]
    assert texts == ["a entered again at t=0.200000 without leaving (inside since t=0.100000)",
                     "a left at t=0.400000 without being inside"]


def test_liveness_reports_a_request_never_served_but_not_one_withdrawn_by_a_crash() -> None:
    trace = Trace([
        note(0.1, "a", "request"), note(0.2, "a", "enter"), note(0.3, "a", "exit"),
        note(0.4, "b", "request"),
        note(0.5, "c", "request"), TraceEvent(0.6, "c", "crash", {}),
        TraceEvent(0.9, "a", "log", {"text": "the end"}),
    ])
    report = check_liveness(trace)
    assert report.judged == 2
    assert [str(v) for v in report.violations] == [
        "t=0.400000: b requested at t=0.400000 and never entered (still waiting when the "
        "trace ends at t=0.900000)"]


def test_order_reports_an_entry_that_should_have_come_first() -> None:
    trace = Trace([
        note(0.1, "a", "enter", order=[2, "a"]), note(0.2, "a", "exit"),
        note(0.3, "b", "enter", order=[1, "b"]), note(0.4, "b", "exit"),
        note(0.5, "c", "enter"),  # no key: not judged
    ])
    report = check_order(trace)
    assert report.judged == 2
    assert [v.text for v in report.violations] == [
        "b entered at t=0.300000 with order (1, b), after a entered at t=0.100000 with "
        "order (2, a): (1, b) should have gone first"]


def test_bounded_waiting_counts_entries_of_others_while_a_node_waits() -> None:
    trace = Trace([
        note(0.1, "w", "request"),
        note(0.2, "a", "enter"), note(0.3, "a", "exit"),
        note(0.4, "a", "enter"), note(0.5, "a", "exit"),
        note(0.6, "w", "enter"),
    ])
    assert check_bounded_waiting(trace, bound=2).ok
    report = check_bounded_waiting(trace, bound=1)
    assert [v.nodes for v in report.violations] == [("w", "a")]
    assert "w has waited since t=0.100000, and a entered 2 times meanwhile" in report.explain()


def test_component_selects_one_lock() -> None:
    other = TraceEvent(0.15, "b", "note", {"event": "enter", "component": "other"})
    trace = Trace([note(0.1, "a", "enter"), other, note(0.2, "a", "exit")])
    assert not check_safety(trace).ok
    assert check_safety(trace, component="mutex").ok


def test_an_empty_trace_passes_every_check() -> None:
    for check in (check_safety, check_liveness, check_order, check_bounded_waiting):
        assert check(Trace()).ok


# ----- broken algorithms, over many seeds ----------------------------------------------------


def verdicts(algorithm: Callable[[], Mutex], check: Callable[[Trace], Report], *,
             network: dict[str, Any] | None = None, **workload: Any) -> list[Report]:
    """Run ``algorithm`` on 4 nodes for every seed (no invariant: the trace is judged)."""
    reports = []
    for seed in SEEDS:
        sim = simulate(algorithm, nodes=4, seed=seed, network=Network(**(network or {})),
                       invariant=False, requests=5, **workload)
        sim.run_until(finished, timeout=20.0)
        reports.append(check(sim.trace))
    return reports


BROKEN = [
    # (broken variant, the checker that must catch it, its correct version, options)
    (EagerRicartAgrawala, check_safety, RicartAgrawala, {}),
    (ClocklessRicartAgrawala, check_safety, RicartAgrawala, {}),
    (ClocklessRicartAgrawala, check_order, RicartAgrawala, {}),
    (ForgetfulRicartAgrawala, check_liveness, RicartAgrawala, {}),
    (DoubleGrantCoordinator, check_safety, CentralMutex, {}),
    (LifoCoordinator, check_order, CentralMutex, {}),
    (DuplicatingTokenRing, check_safety, TokenRing, {"network": {"duplicate": 0.1}}),
    (GreedyTokenRing, check_bounded_waiting, TokenRing, {"think": (0.0, 0.01)}),
]


@pytest.mark.parametrize(("broken", "check", "correct", "options"), BROKEN,
                         ids=lambda v: getattr(v, "__name__", ""))
def test_each_checker_catches_its_broken_algorithm(
    broken: type[Mutex], check: Callable[[Trace], Report], correct: type[Mutex],
    options: dict[str, Any],
) -> None:
    caught = [not report.ok for report in verdicts(broken, check, **options)]
    assert sum(caught) >= len(SEEDS) // 2, f"caught in only {sum(caught)} of {len(SEEDS)} runs"
    for report in verdicts(correct, check, **options):
        assert report.ok, report.explain()


def test_the_safe_but_unfair_variants_stay_safe() -> None:
    # The order and waiting checkers catch what safety alone does not see.
    for report in verdicts(LifoCoordinator, check_safety):
        assert report.ok, report.explain()
    for report in verdicts(GreedyTokenRing, check_safety, think=(0.0, 0.01)):
        assert report.ok, report.explain()


def test_the_invariant_stops_the_run_at_the_first_double_entry() -> None:
    stopped = 0
    for seed in SEEDS:
        sim = simulate(EagerRicartAgrawala, nodes=4, seed=seed)
        try:
            sim.run_until(finished, timeout=20.0)
        except InvariantViolation as violation:
            stopped += 1
            assert "safety_invariant" in violation.headline
            assert "are in the critical section of lock 'mutex' at once" in violation.headline
            assert violation.seed == seed
            # The trace up to the stop shows the same thing.
            assert not check_safety(sim.trace).ok
    assert stopped >= len(SEEDS) // 2
