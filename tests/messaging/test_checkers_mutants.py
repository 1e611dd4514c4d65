"""The broadcast checkers judged against hand-made traces, counts and words included (issue 21).

test_checkers.py runs the checkers on simulated protocols; these feed them small traces
built by hand, each with one known flaw (or none), and pin the verdict, the number of
things judged, the processes named and the text: a checker mutant that miscounts, blames
the wrong process or misreads a restart fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsys.errors import UsageError
from dsys.messaging.checkers import (
    PROPERTIES,
    check_agreement,
    check_broadcast,
    check_causal_order,
    check_fifo_order,
    check_no_creation,
    check_no_duplication,
    check_total_order,
    check_uniform_agreement,
    check_validity,
    read_run,
)
from dsys.trace import Trace, TraceEvent


class T:
    """A trace under construction, one event per call, a tenth of a second apart."""

    def __init__(self, *nodes: str) -> None:
        self.events: list[TraceEvent] = []
        for node in nodes:
            self.add(node, "start")

    def add(self, node: str, kind: str, **data: Any) -> T:
        self.events.append(TraceEvent(len(self.events) / 10, node, kind, data))
        return self

    def b(self, node: str, mid: str, payload: Any = None, **extra: Any) -> T:
        return self.add(node, "note", event="broadcast", id=mid, payload=payload, **extra)

    def d(self, node: str, mid: str, origin: str, payload: Any = None, **extra: Any) -> T:
        return self.add(
            node, "note", event="deliver", id=mid, origin=origin, payload=payload, **extra
        )

    @property
    def trace(self) -> Trace:
        return Trace(self.events)


def texts(report: Any) -> list[str]:
    return [v.text for v in report.violations]


# -- reading a run ------------------------------------------------------------------------


def test_a_restarted_node_is_a_new_process_and_only_its_last_incarnation_can_be_correct() -> None:
    t = T("a", "b").b("a", "m1").d("b", "m1", "a").add("b", "crash")
    t.add("b", "restart", incarnation=1).d("b", "m1", "a").add("b", "crash")
    t.add("b", "restart").d("b", "m1", "a")  # no incarnation given: one more than the last
    run = read_run(t.trace)
    assert run.processes == ["a", "b", "b#1", "b#2"]
    assert run.node_of == {"a": "a", "b": "b", "b#1": "b", "b#2": "b"}
    assert run.correct == ["a"]  # b crashed
    assert run.end == pytest.approx(0.9)
    assert [s.process for s in run.deliveries("b#2")] == ["b#2"]
    assert read_run(t.trace, correct=["b", "a", "b"]).correct == ["a", "b#2"]
    assert [s.index for s in run.steps] == list(range(4))
    assert run.broadcasts["m1"].process == "a" and run.broadcasts["m1"].origin == "a"


def test_without_start_events_the_nodes_that_took_steps_are_the_members() -> None:
    t = T().b("a", "m1").d("b", "m1", "a").add("c", "crash").d("c", "m1", "a")
    assert read_run(t.trace).correct == ["a", "b"]


def test_only_the_named_component_is_read_and_its_first_broadcast_counts() -> None:
    t = T("a", "b").b("a", "m1", component="x").b("a", "m2", component="y")
    t.d("b", "m1", "a", component="x").b("a", "m1", component="x")
    run = read_run(t.trace, component="x")
    assert [s.id for s in run.steps] == ["m1", "m1", "m1"]
    assert run.broadcasts["m1"].index == 0
    assert [s.kind for s in read_run(t.trace).steps] == [
        "broadcast",
        "broadcast",
        "deliver",
        "broadcast",
    ]
    assert read_run(t.trace).deliveries("a") == []


def test_a_run_cannot_be_given_correct_or_component_again() -> None:
    run = read_run(T("a").trace)
    with pytest.raises(UsageError, match="pass correct= and component= to read_run"):
        check_validity(run, correct=["a"])
    with pytest.raises(UsageError, match="pass correct= and component= to read_run"):
        check_fifo_order(run, component="x")
    assert check_fifo_order(run).ok


# -- each checker -------------------------------------------------------------------------


def test_validity_counts_correct_broadcasts_and_names_who_missed() -> None:
    t = T("a", "b", "c").b("a", "m1", "hi").d("a", "m1", "a").d("b", "m1", "a")
    t.b("c", "m2").d("c", "m2", "c").add("c", "crash")  # c is not correct: m2 is not judged
    report = check_validity(t.trace)
    assert (report.check, report.judged, report.unit) == ("validity", 1, "broadcasts")
    assert report.ok
    t.b("b", "m3")
    report = check_validity(t.trace)
    assert report.judged == 2 and len(report.violations) == 1
    (v,) = report.violations
    assert v.nodes == ("a", "b") and v.time == pytest.approx(0.9)
    assert v.text == "m3, broadcast by correct process b at t=0.900000, was never delivered by a, b"
    assert check_validity(t.trace, correct=["a"]).judged == 1  # only a's broadcasts


def test_no_duplication_counts_deliveries_and_points_at_the_first() -> None:
    t = T("a", "b").b("a", "m1", 7).d("b", "m1", "a").d("a", "m1", "a").d("b", "m1", "a")
    report = check_no_duplication(t.trace)
    assert (report.check, report.judged, report.unit) == ("no-duplication", 3, "deliveries")
    assert [v.nodes for v in report.violations] == [("b",)]
    assert texts(report) == ["b delivered m1 (7) again at t=0.500000 (first at t=0.300000)"]
    t.add("b", "crash").add("b", "restart", incarnation=1).d("b", "m1", "a")
    assert len(check_no_duplication(t.trace).violations) == 1  # b#1 is a new process


def test_no_creation_tells_unknown_early_and_misattributed_deliveries_apart() -> None:
    t = T("a", "b").d("b", "m1", "a").b("a", "m1").d("b", "m2", "a").b("a", "m3")
    t.d("b", "m3", "c").d("a", "m3", "a")
    report = check_no_creation(t.trace)
    assert (report.check, report.judged, report.unit) == ("no-creation", 4, "deliveries")
    assert texts(report) == [
        "b delivered m1 from a at t=0.200000, before it was broadcast (t=0.300000)",
        "b delivered m2 from a, but no process ever broadcast it",
        "b delivered m3 from c, but it was broadcast by a",
    ]
    assert all(v.nodes == ("b",) for v in report.violations)


def test_agreement_judges_deliveries_by_correct_processes_and_uniform_by_any() -> None:
    t = T("a", "b", "c").b("c", "m1", "x").d("c", "m1", "c").add("c", "crash")
    t.b("a", "m2").d("a", "m2", "a").d("b", "m2", "a")
    report = check_agreement(t.trace)
    assert (report.check, report.judged, report.unit) == ("agreement", 1, "messages")
    assert report.ok  # only the crashed c delivered m1
    uniform = check_uniform_agreement(t.trace)
    assert (uniform.check, uniform.judged) == ("uniform-agreement", 2)
    assert texts(uniform) == [
        "m1 ('x') was delivered by c (which did not stay correct) at t=0.400000 but never by "
        "correct process(es) a, b"
    ]
    assert uniform.violations[0].nodes == ("c", "a", "b")
    t.d("a", "m3", "a")
    (v,) = check_agreement(t.trace).violations
    assert v.nodes == ("a", "b")
    assert v.text == "m3 was delivered by a at t=0.900000 but never by correct process(es) b"


def test_agreement_names_the_earliest_delivery_of_a_message() -> None:
    t = T("a", "b", "c").b("a", "m1").d("b", "m1", "a").d("a", "m1", "a")
    report = check_agreement(t.trace)
    assert [v.nodes for v in report.violations] == [("b", "c")]
    assert "delivered by b at t=0.400000" in texts(report)[0]
    # Several missed messages are reported in the order they were first delivered.
    t.b("a", "m0").d("a", "m0", "a")
    assert [v.text.split()[0] for v in check_agreement(t.trace).violations] == ["m1", "m0"]


def test_fifo_order_blames_the_first_skipped_message_of_the_sender_only() -> None:
    t = T("a", "b", "c").b("a", "m1", 1).b("a", "m2", 2).b("c", "x1").b("a", "m3", 3)
    t.d("b", "m3", "a").d("b", "x1", "c").d("b", "m1", "a").d("b", "m2", "a").d("b", "zz", "a")
    report = check_fifo_order(t.trace)
    assert (report.check, report.judged, report.unit) == ("fifo-order", 4, "deliveries")
    assert texts(report) == [
        "b delivered m3 (3) before m1 (1), but a broadcast m1 first",
    ]
    assert report.violations[0].nodes == ("b", "a")
    # A process that restarts starts from nothing: its deliveries are judged afresh.
    ok = T("a", "b").b("a", "m1").b("a", "m2").d("b", "m1", "a").d("b", "m2", "a")
    assert check_fifo_order(ok.trace).ok and check_fifo_order(ok.trace).judged == 2


def test_causal_order_says_how_the_missing_message_came_before() -> None:
    # a broadcasts m1; b delivers m1 then broadcasts m2; c delivers m2 first.
    t = T("a", "b", "c").b("a", "m1").d("b", "m1", "a").b("b", "m2").d("c", "m2", "b")
    report = check_causal_order(t.trace)
    assert (report.check, report.judged, report.unit) == ("causal-order", 2, "deliveries")
    assert texts(report) == [
        "c delivered m2 before m1, which b had delivered before broadcasting it"
    ]
    assert report.violations[0].nodes == ("c", "b")
    # Same sender: "broadcast earlier"; through a chain: the third reason.
    t2 = T("a", "b", "c").b("a", "m1").b("a", "m2").d("c", "m2", "a")
    assert texts(check_causal_order(t2.trace)) == [
        "c delivered m2 before m1, which a broadcast earlier"
    ]
    t3 = T("a", "b", "c", "d").b("a", "m1").d("b", "m1", "a").b("b", "m2").d("c", "m2", "b")
    t3.b("c", "m3").d("d", "m3", "c")  # c never delivered m1 itself
    assert texts(check_causal_order(t3.trace))[-1] == (
        "d delivered m3 before m1 (and 1 more), whose broadcast happened before it (through a "
        "chain of deliveries)"
    )
    assert check_causal_order(t3.trace).judged == 3


def test_causal_order_ignores_messages_never_broadcast_and_accepts_the_right_order() -> None:
    t = T("a", "b").b("a", "m1").b("a", "m2").d("b", "m1", "a").d("b", "m2", "a").d("b", "zz", "a")
    report = check_causal_order(t.trace)
    assert report.ok and report.judged == 2


def test_total_order_counts_pairs_and_reports_one_inversion_per_pair() -> None:
    t = T("a", "b", "c").b("a", "m1", "p").b("a", "m2", "q")
    t.d("a", "m1", "a").d("a", "m2", "a").d("b", "m2", "a").d("b", "m1", "a").d("c", "m1", "a")
    report = check_total_order(t.trace)
    assert (report.check, report.judged, report.unit) == ("total-order", 3, "pairs of processes")
    assert texts(report) == [
        "a delivered m1 ('p') before m2 ('q'), but b delivered them in the opposite order"
    ]
    assert report.violations[0].nodes == ("a", "b")
    t.add("b", "crash")
    assert len(check_total_order(t.trace).violations) == 1  # uniform: b still judged
    relaxed = check_total_order(t.trace, uniform=False)
    assert relaxed.ok and relaxed.judged == 1  # only a and c


def test_total_order_compares_against_the_latest_common_message() -> None:
    # p: m1 m2 m3; q: m2 m3 m1 -- the inversion is found at m3 vs m1 only via `latest`.
    t = T("p", "q")
    for mid in ("m1", "m2", "m3"):
        t.b("p", mid)
    for mid in ("m1", "m2", "m3"):
        t.d("p", mid, "p")
    for mid in ("m2", "m3", "m1"):
        t.d("q", mid, "p")
    assert texts(check_total_order(t.trace)) == [
        "p delivered m1 before m2, but q delivered them in the opposite order"
    ]
    ok = T("p", "q").d("p", "m1", "p").d("p", "m2", "p").d("q", "m1", "p").d("q", "m3", "p")
    ok.d("q", "m2", "p")
    assert check_total_order(ok.trace).ok


def test_check_broadcast_combines_and_labels_and_counts_deliveries() -> None:
    t = T("a", "b").b("a", "m1").b("a", "m2").d("b", "m2", "a").d("b", "m2", "a")
    report = check_broadcast(t.trace, ["no-duplication", "fifo-order"])
    assert (report.check, report.judged, report.unit) == (
        "no-duplication, fifo-order",
        2,
        "deliveries",
    )
    assert [v.text.split("]")[0] + "]" for v in report.violations] == [
        "[no-duplication]",
        "[fifo-order]",
        "[fifo-order]",
    ]
    assert check_broadcast(t.trace, []).ok
    with pytest.raises(
        UsageError, match=r"unknown broadcast properties \['fifo'\]; known: validity"
    ):
        check_broadcast(t.trace, ["fifo", "validity"])
    assert sorted(PROPERTIES) == sorted(
        [
            "validity",
            "no-duplication",
            "no-creation",
            "agreement",
            "uniform-agreement",
            "fifo-order",
            "causal-order",
            "total-order",
        ]
    )
    for name, check in PROPERTIES.items():
        assert check(t.trace).check == name


def test_check_broadcast_passes_correct_and_component_through() -> None:
    t = T("a", "b").b("a", "m1", component="x").d("a", "m1", "a", component="x")
    assert check_broadcast(t.trace, ["validity"], component="x").violations[0].nodes == ("b",)
    assert check_broadcast(t.trace, ["validity"], correct=["a"], component="x").ok
    assert check_broadcast(t.trace, ["validity"], component="y").ok
