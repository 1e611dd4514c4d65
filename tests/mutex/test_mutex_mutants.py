"""The mutual exclusion checkers held to exact counts, bounds and texts (issue 21: the gaps
one-token mutants of ``dsys/mutex`` showed). The checkers are themselves judged against
*mutant traces*: small hand-written traces, each with one thing wrong (or one thing that
looks wrong and is not), where a checker that miscounts, reports twice, or forgives what
it must not gives a different verdict. Also the invariant on live nodes, the rarely taken
branches of the algorithms, and the old module names that must keep working."""

from __future__ import annotations

from typing import Any

import pytest

from dsys import Node, Trace, TraceEvent
from dsys.mutex import (
    HELD,
    CentralMutex,
    Mutex,
    RicartAgrawala,
    TokenRing,
    check_bounded_waiting,
    check_liveness,
    check_order,
    check_safety,
    checkers,
    safety_invariant,
)
from dsys.mutex.ricart_agrawala import Reply, Request
from dsys.mutex.token_ring import Token
from dsys.testing import NodeHarness, Sent

MUTEX = {"@component": "mutex"}


def note(time: float, node: str, event: str, **data: Any) -> TraceEvent:
    return TraceEvent(time, node, "note", {"event": event, "component": "mutex", **data})


def crash(time: float, node: str) -> TraceEvent:
    return TraceEvent(time, node, "crash", {})


def restart(time: float, node: str) -> TraceEvent:
    return TraceEvent(time, node, "restart", {})


# ----- bounded waiting: the bound, its default, and what is counted ------------------------


def overtaken_twice() -> Trace:
    """w waits while a enters twice."""
    return Trace([
        note(0.1, "w", "request"),
        note(0.2, "a", "request"), note(0.21, "a", "enter"), note(0.3, "a", "exit"),
        note(0.4, "a", "request"), note(0.41, "a", "enter"), note(0.5, "a", "exit"),
        note(0.6, "w", "enter"), note(0.7, "w", "exit"),
    ])


def test_bounded_waiting_promises_one_trip_of_the_token_by_default() -> None:
    report = check_bounded_waiting(overtaken_twice())
    assert [v.nodes for v in report.violations] == [("w", "a")]
    assert report.violations[0].text == (
        "w has waited since t=0.100000, and a entered 2 times meanwhile (the last at "
        "t=0.410000); at most 1 allowed")
    assert report.judged == 3 and report.explain().startswith(
        "bounded waiting: 1 violation(s) (3 requests checked)")


def test_bounded_waiting_reports_each_overtaker_once_per_wait() -> None:
    events = [note(0.1, "w", "request")]
    for k in range(5):  # a enters five times, b three times, while w waits
        events += [note(0.2 + k / 10, "a", "enter"), note(0.25 + k / 10, "a", "exit")]
    for k in range(3):
        events += [note(0.8 + k / 10, "b", "enter"), note(0.85 + k / 10, "b", "exit")]
    events += [note(1.5, "w", "enter"), note(1.6, "w", "exit"),
               note(1.7, "w", "request"),  # a new wait: counted afresh
               note(1.8, "a", "enter"), note(1.9, "a", "exit"),
               note(2.0, "a", "enter"), note(2.1, "a", "exit"), note(2.2, "w", "enter")]
    report = check_bounded_waiting(Trace(events), bound=2)
    assert [(v.nodes, v.time) for v in report.violations] == [
        (("w", "a"), 0.4), (("w", "b"), 1.0)]
    assert "entered 3 times" in report.violations[0].text
    assert "at most 2 allowed" in report.violations[0].text
    assert [v.nodes for v in check_bounded_waiting(Trace(events)).violations] == [
        ("w", "a"), ("w", "b"), ("w", "a")]


def test_bounded_waiting_does_not_judge_a_request_withdrawn_by_a_crash() -> None:
    trace = Trace([
        note(0.1, "w", "request"), note(0.2, "v", "request"),
        note(0.3, "a", "request"),  # a is the only node served
        note(0.31, "a", "enter"), note(0.4, "a", "exit"),
        crash(0.5, "w"),  # withdrawn: not judged
        crash(0.55, "a"),  # a was not waiting: its crash changes no count
        restart(0.6, "w"),
        note(0.7, "v", "enter"),
    ])
    report = check_bounded_waiting(trace)
    assert report.ok and report.judged == 2
    # w's crash also ended its wait: a's entries after it are no overtaking of w
    later = Trace([*trace, note(0.8, "a", "enter"), note(0.9, "a", "exit"),
                   note(1.0, "a", "enter")])
    assert check_bounded_waiting(later).ok


# ----- the other checkers' counts and rare texts -----------------------------------------------


def test_liveness_counts_requests_and_names_a_request_made_twice() -> None:
    trace = Trace([
        note(0.1, "a", "request"), note(0.2, "a", "request"), note(0.3, "a", "enter"),
        note(0.4, "a", "exit"),
        note(0.5, "b", "request"), crash(0.6, "b"), restart(0.7, "b"),
        note(0.8, "b", "request"), note(0.9, "b", "enter"),
        crash(1.0, "c"),  # c requested nothing: no count changes
    ])
    report = check_liveness(trace)
    assert report.judged == 3
    assert [v.text for v in report.violations] == [
        "a requested again at t=0.200000 although its request of t=0.100000 was never "
        "served"]


def test_liveness_lists_the_stuck_requests_oldest_first() -> None:
    trace = Trace([note(0.3, "c", "request"), note(0.1, "b", "request"),
                   note(0.3, "a", "request")])
    report = check_liveness(trace)
    assert [(v.nodes, v.time) for v in report.violations] == [
        (("b",), 0.1), (("a",), 0.3), (("c",), 0.3)]
    assert all("when the trace ends at t=0.300000" in v.text for v in report.violations)


def test_order_wants_strictly_increasing_keys() -> None:
    trace = Trace([note(0.1, "a", "enter", order=[3]), note(0.2, "a", "exit"),
                   note(0.3, "b", "enter", order=[3]), note(0.4, "b", "exit"),
                   note(0.5, "c", "enter", order=[4]), note(0.6, "c", "exit"),
                   note(0.7, "a", "enter", order=[5])])
    report = check_order(trace)
    assert report.judged == 4 and [v.nodes for v in report.violations] == [("b", "a")]
    assert report.violations[0].text.endswith("(3) should have gone first")


def test_safety_counts_entries_and_forgets_a_crashed_holder_only() -> None:
    trace = Trace([
        note(0.1, "a", "enter"), crash(0.2, "a"), restart(0.25, "a"),
        note(0.3, "b", "enter"),  # a is gone: fine
        crash(0.35, "c"),  # not b: b is still inside
        note(0.4, "c", "enter"),
    ])
    report = check_safety(trace)
    assert report.judged == 3
    assert [v.nodes for v in report.violations] == [("c", "b")]


def test_every_checker_reads_only_the_lock_it_is_given() -> None:
    other = [TraceEvent(0.05, "x", "note", {"event": "request", "component": "other"}),
             TraceEvent(0.06, "y", "note", {"event": "enter", "component": "other",
                                            "order": [0]})]
    trace = Trace([*other, note(0.1, "a", "request"), note(0.2, "a", "enter", order=[1]),
                   note(0.3, "a", "exit")])
    for check in (check_safety, check_liveness, check_order, check_bounded_waiting):
        assert check(trace, component="mutex").judged == 1, check.__name__
    assert check_liveness(trace).judged == 2 and not check_liveness(trace).ok
    assert check_order(trace, component="other").judged == 1


# ----- the invariant on live nodes -------------------------------------------------------------


class TwoLocks(Node):
    def __init__(self) -> None:
        super().__init__()
        self.first = self.add_component(RicartAgrawala(), name="first")
        self.second = self.add_component(RicartAgrawala(), name="second")


class Cluster:
    def __init__(self, nodes: dict[str, Node]) -> None:
        self.nodes = nodes


def test_the_invariant_allows_one_holder_per_lock_and_names_two() -> None:
    a, b, c = TwoLocks(), TwoLocks(), TwoLocks()
    a.first.state = HELD
    b.second.state = HELD  # another lock: no conflict
    safety_invariant(Cluster({"a": a, "b": b, "c": c}))
    c.second.state = HELD
    with pytest.raises(AssertionError) as raised:
        safety_invariant(Cluster({"a": a, "b": b, "c": c}))
    assert str(raised.value) == "b and c are in the critical section of lock 'second' at once"


# ----- rarely taken branches of the algorithms --------------------------------------------------


class Worker(Node):
    def __init__(self, lock: Mutex) -> None:
        super().__init__()
        self.lock = self.add_component(lock)
        self.lock.on_enter = lambda: None


def test_ricart_agrawala_answers_the_newest_of_two_deferred_requests_from_one_node() -> None:
    h = NodeHarness(lambda: Worker(RicartAgrawala()), "a", peers=["b"])
    h.start()
    h.call(h.node.lock.request)  # type: ignore[attr-defined]  # ours: (1, "a")
    h.deliver("b", Request(3), component="mutex")
    h.deliver("b", Request(2), component="mutex")  # a late duplicate of an older request
    h.deliver("b", Reply(1), component="mutex")
    h.clear()
    h.call(h.node.lock.release)  # type: ignore[attr-defined]
    assert h.sent() == [Sent("b", Reply(3), MUTEX)]


def test_the_token_ring_ignores_a_token_it_has_seen_and_passes_the_next_one_on() -> None:
    h = NodeHarness(lambda: Worker(TokenRing()), "b", peers=["a", "c"])
    h.start()
    assert h.deliver("a", Token(1), component="mutex") == [Sent("c", Token(2), MUTEX)]
    assert h.deliver("a", Token(1), component="mutex") == []  # a duplicate
    assert h.deliver("a", Token(4), component="mutex") == [Sent("c", Token(5), MUTEX)]


def test_the_central_coordinator_is_the_smallest_id_unless_chosen() -> None:
    h = NodeHarness(lambda: Worker(CentralMutex()), "m", peers=["x", "c"])
    h.start()
    h.call(h.node.lock.request)  # type: ignore[attr-defined]
    assert [s.dst for s in h.sent()] == ["c"]
    h = NodeHarness(lambda: Worker(CentralMutex(coordinator="x")), "m", peers=["x", "c"])
    h.start()
    h.call(h.node.lock.request)  # type: ignore[attr-defined]
    assert [s.dst for s in h.sent()] == ["x"]


# ----- the old module names -------------------------------------------------------------------


def test_the_old_module_names_still_give_the_same_objects() -> None:
    from dsys.demos import mutex_workload
    from dsys.mutex import checks, workload

    for name in ("check_safety", "check_liveness", "check_order", "check_bounded_waiting",
                 "safety_invariant"):
        assert getattr(checks, name) is getattr(checkers, name)
    assert workload.simulate is mutex_workload.simulate
    with pytest.raises(AttributeError):
        checks.no_such_checker  # noqa: B018
