"""The broadcast checkers: exact verdicts on small hand-made traces, and each one catching
a deliberately broken implementation over many seeds of a hostile network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dsys import UsageError
from dsys.messaging import (
    PROPERTIES,
    BestEffortBroadcast,
    Broadcast,
    CausalBroadcast,
    Delivery,
    FifoBroadcast,
    IsisBroadcast,
    ReliableBroadcast,
    SequencerBroadcast,
    check_agreement,
    check_broadcast,
    check_causal_order,
    check_fifo_order,
    check_no_creation,
    check_no_duplication,
    check_total_order,
    check_validity,
    read_run,
)
from dsys.trace import Trace, TraceEvent
from tests.messaging import broken
from tests.messaging.helpers import HOSTILE, run_group


def note(t: float, node: str, event: str, **data: Any) -> TraceEvent:
    return TraceEvent(t, node, "note", {"event": event, **data})


def bc(t: float, node: str, mid: str, payload: Any = None) -> TraceEvent:
    return note(t, node, "broadcast", id=mid, payload=payload)


def dl(t: float, node: str, mid: str, origin: str | None = None, payload: Any = None
       ) -> TraceEvent:
    return note(t, node, "deliver", id=mid, origin=origin or mid.split(":")[0], payload=payload)


def start(*nodes: str) -> list[TraceEvent]:
    return [TraceEvent(0.0, n, "start", {"incarnation": 0}) for n in nodes]


# ----- hand-made traces: one property at a time --------------------------------------------------


def test_a_clean_run_passes_every_property() -> None:
    trace = Trace([*start("a", "b"), bc(0.1, "a", "a:1:0", "x"), dl(0.1, "a", "a:1:0"),
                   dl(0.2, "b", "a:1:0"), bc(0.3, "b", "b:1:0"), dl(0.3, "b", "b:1:0"),
                   dl(0.4, "a", "b:1:0")])
    report = check_broadcast(trace, list(PROPERTIES))
    assert report.ok and bool(report)
    assert report.explain() == (
        "validity, no-duplication, no-creation, agreement, uniform-agreement, fifo-order, "
        "causal-order, total-order: ok (4 deliveries checked)")


def test_validity_names_the_message_and_who_missed_it() -> None:
    trace = Trace([*start("a", "b", "c"), bc(0.1, "a", "a:1:0", "x"), dl(0.1, "a", "a:1:0"),
                   dl(0.2, "b", "a:1:0")])
    report = check_validity(trace)
    assert not report
    assert report.explain() == (
        "validity: 1 violation(s) (1 broadcasts checked)\n"
        "  t=0.200000: a:1:0 ('x'), broadcast by correct process a at t=0.100000, was never "
        "delivered by c")
    # A crashed broadcaster is not correct: its messages need not arrive.
    crashed = Trace([*trace, TraceEvent(0.3, "a", "crash", {})])
    assert check_validity(crashed)


def test_validity_judges_only_the_group_it_is_given() -> None:
    trace = Trace([*start("a", "b", "broker"), bc(0.1, "a", "a:1:0"), dl(0.1, "a", "a:1:0"),
                   dl(0.2, "b", "a:1:0")])
    assert not check_validity(trace)
    assert check_validity(trace, correct=["a", "b"])


def test_no_duplication() -> None:
    trace = Trace([*start("a", "b"), bc(0.1, "a", "a:1:0"), dl(0.1, "a", "a:1:0"),
                   dl(0.2, "b", "a:1:0"), dl(0.25, "b", "a:1:0")])
    assert check_no_duplication(trace).explain() == (
        "no-duplication: 1 violation(s) (3 deliveries checked)\n"
        "  t=0.250000: b delivered a:1:0 again at t=0.250000 (first at t=0.200000)")


def test_a_restarted_node_is_a_new_process_that_may_deliver_again() -> None:
    trace = Trace([*start("a", "b"), bc(0.1, "a", "a:1:0"), dl(0.1, "a", "a:1:0"),
                   dl(0.2, "b", "a:1:0"), TraceEvent(0.3, "b", "crash", {}),
                   TraceEvent(0.4, "b", "restart", {"incarnation": 1}), dl(0.5, "b", "a:1:0")])
    assert check_no_duplication(trace)
    run = read_run(trace)
    assert run.processes == ["a", "b", "b#1"]
    assert run.correct == ["a"]
    assert read_run(trace, correct=["a", "b"]).correct == ["a", "b#1"]


def test_no_creation_catches_unknown_early_and_misattributed_messages() -> None:
    trace = Trace([*start("a", "b"), dl(0.05, "b", "a:1:0"), bc(0.1, "a", "a:1:0"),
                   dl(0.2, "b", "z:1:0"), dl(0.3, "b", "a:1:0", origin="c")])
    report = check_no_creation(trace)
    assert [v.text for v in report.violations] == [
        "b delivered a:1:0 from a at t=0.050000, before it was broadcast (t=0.100000)",
        "b delivered z:1:0 from z, but no process ever broadcast it",
        "b delivered a:1:0 from c, but it was broadcast by a",
    ]


def test_agreement_uniform_or_not() -> None:
    # a delivers its own message and crashes before anyone else gets it.
    trace = Trace([*start("a", "b", "c"), bc(0.1, "a", "a:1:0", "x"), dl(0.1, "a", "a:1:0"),
                   TraceEvent(0.2, "a", "crash", {})])
    assert check_agreement(trace)  # a is not correct: b and c need not agree with it
    uniform = check_agreement(trace, uniform=True)
    assert uniform.check == "uniform-agreement"
    assert [v.text for v in uniform.violations] == [
        "a:1:0 ('x') was delivered by a (which did not stay correct) at t=0.100000 but never "
        "by correct process(es) b, c"]
    # If a correct process delivers, every correct process must.
    trace2 = Trace([*start("a", "b", "c"), bc(0.1, "a", "a:1:0"), dl(0.1, "a", "a:1:0"),
                    dl(0.2, "b", "a:1:0"), TraceEvent(0.3, "a", "crash", {})])
    assert [v.nodes for v in check_agreement(trace2).violations] == [("b", "c")]


def test_fifo_order_catches_a_gap_not_only_an_inversion() -> None:
    trace = Trace([*start("a", "b"), bc(0.1, "a", "a:1:0", "one"), bc(0.2, "a", "a:1:1", "two"),
                   dl(0.3, "b", "a:1:1")])  # b skipped "one" and never delivers it
    report = check_fifo_order(trace)
    assert [v.text for v in report.violations] == [
        "b delivered a:1:1 ('two') before a:1:0 ('one'), but a broadcast a:1:0 first"]


def test_causal_order_explains_why_one_message_came_before_the_other() -> None:
    trace = Trace([
        *start("alice", "bob", "carol"),
        bc(0.1, "alice", "alice:1:0", "lunch?"), dl(0.1, "alice", "alice:1:0"),
        dl(0.2, "bob", "alice:1:0"),
        bc(0.3, "bob", "bob:1:0", "yes!"), dl(0.3, "bob", "bob:1:0"),
        dl(0.4, "carol", "bob:1:0", payload="yes!"), dl(0.5, "carol", "alice:1:0"),
    ])
    assert check_fifo_order(trace)  # each sender sent one message: FIFO cannot object
    report = check_causal_order(trace)
    assert [v.text for v in report.violations] == [
        "carol delivered bob:1:0 ('yes!') before alice:1:0 ('lunch?'), which bob had "
        "delivered before broadcasting it"]


def test_causal_order_follows_chains() -> None:
    trace = Trace([
        *start("a", "b", "c", "d"),
        bc(0.1, "a", "a:1:0"), dl(0.1, "a", "a:1:0"),
        dl(0.2, "b", "a:1:0"), bc(0.3, "b", "b:1:0"), dl(0.3, "b", "b:1:0"),
        dl(0.4, "c", "a:1:0"), dl(0.41, "c", "b:1:0"), bc(0.5, "c", "c:1:0"),
        dl(0.6, "d", "c:1:0"),
    ])
    assert [v.text for v in check_causal_order(trace).violations] == [
        "d delivered c:1:0 before a:1:0 (and 1 more), which c had delivered before "
        "broadcasting it"]


def test_causal_order_through_a_process_that_broke_it_first() -> None:
    # c delivers b's message without a's (a violation at c), then broadcasts: a's message
    # is in the causal past of c's only through b's.
    trace = Trace([
        *start("a", "b", "c", "d"),
        bc(0.1, "a", "a:1:0"), dl(0.1, "a", "a:1:0"),
        dl(0.2, "b", "a:1:0"), bc(0.3, "b", "b:1:0"), dl(0.3, "b", "b:1:0"),
        dl(0.4, "c", "b:1:0"), bc(0.5, "c", "c:1:0"),
        dl(0.6, "d", "b:1:0"), dl(0.7, "d", "c:1:0"),
    ])
    assert [v.text for v in check_causal_order(trace).violations] == [
        "c delivered b:1:0 before a:1:0, which b had delivered before broadcasting it",
        "d delivered b:1:0 before a:1:0, which b had delivered before broadcasting it",
        "d delivered c:1:0 before a:1:0, whose broadcast happened before it (through a "
        "chain of deliveries)"]


def test_total_order_names_the_pair_and_the_two_messages() -> None:
    trace = Trace([*start("a", "b", "c"), bc(0.1, "a", "a:1:0"), bc(0.1, "b", "b:1:0"),
                   dl(0.2, "a", "a:1:0"), dl(0.2, "b", "b:1:0"), dl(0.2, "c", "a:1:0"),
                   dl(0.3, "a", "b:1:0"), dl(0.3, "b", "a:1:0")])
    report = check_total_order(trace)
    assert report.explain() == (
        "total-order: 1 violation(s) (3 pairs of processes checked)\n"
        "  t=0.300000: a delivered a:1:0 before b:1:0, but b delivered them in the "
        "opposite order")


def test_uniform_total_order_judges_crashed_processes_too() -> None:
    trace = Trace([*start("a", "b"), bc(0.1, "a", "a:1:0"), bc(0.1, "b", "b:1:0"),
                   dl(0.2, "a", "a:1:0"), dl(0.3, "a", "b:1:0"), TraceEvent(0.4, "a", "crash", {}),
                   dl(0.2, "b", "b:1:0"), dl(0.3, "b", "a:1:0")])
    assert not check_total_order(trace)
    assert check_total_order(trace, uniform=False)


def test_component_filter_and_usage_errors() -> None:
    trace = Trace([*start("a"), note(0.1, "a", "broadcast", id="a:1:0", component="x"),
                   note(0.2, "a", "deliver", id="a:1:0", origin="a", component="x"),
                   note(0.3, "a", "deliver", id="a:1:0", origin="a", component="y")])
    assert check_no_duplication(trace, component="x")
    assert not check_no_creation(trace, component="y")
    with pytest.raises(UsageError, match="unknown broadcast properties"):
        check_broadcast(trace, ["fifo"])
    with pytest.raises(UsageError, match="read_run"):
        check_validity(read_run(trace), correct=["a"])


def test_explain_limits_the_list() -> None:
    events = [*start("a", "b"), bc(0.1, "a", "a:1:0")]
    events += [dl(0.1 + i / 100, "b", "a:1:0") for i in range(14)]
    text = check_no_duplication(Trace(events)).explain(limit=3)
    assert text.splitlines()[0] == "no-duplication: 13 violation(s) (14 deliveries checked)"
    assert text.splitlines()[-1] == "  ... and 10 more"


# ----- broken implementations are caught in simulated runs ------------------------------------

Protocol = Callable[[Callable[[Delivery], None]], Broadcast]

SEEDS = range(20)

# (broken implementation, the property it breaks, the correct one, replies, messages each)
BROKEN: list[tuple[Protocol, str, Protocol, float, int]] = [
    (broken.HastyFifo, "fifo-order", FifoBroadcast, 0.0, 6),
    (broken.FifoCalledCausal, "causal-order", CausalBroadcast, 0.5, 3),
    (broken.ArrivalOrder, "total-order", SequencerBroadcast, 0.0, 3),
    (broken.MinIsis, "total-order", IsisBroadcast, 0.0, 3),
    (broken.NoDedupe, "no-duplication", BestEffortBroadcast, 0.0, 3),
    (broken.Inventive, "no-creation", BestEffortBroadcast, 0.0, 3),
    (BestEffortBroadcast, "validity", ReliableBroadcast, 0.0, 3),
    (BestEffortBroadcast, "agreement", ReliableBroadcast, 0.0, 3),
]


@pytest.mark.parametrize(("wrong", "prop", "right", "reply", "count"), BROKEN,
                         ids=[f"{w.__name__}-{p}" for w, p, *_ in BROKEN])
def test_checker_catches_the_broken_one_and_passes_the_right_one(
    wrong: Protocol, prop: str, right: Protocol, reply: float, count: int
) -> None:
    checker = PROPERTIES[prop]
    caught = []
    for seed in SEEDS:
        report = checker(run_group(wrong, seed, reply=reply, count=count, network=HOSTILE).trace)
        if not report:
            caught.append(seed)
            assert report.violations[0].text  # said in words
        right_report = checker(run_group(right, seed, reply=reply, count=count,
                                         network=HOSTILE).trace)
        assert right_report, f"seed {seed}: {right_report.explain()}"
    assert len(caught) >= 0.9 * len(SEEDS), f"{prop} caught the broken one only on {caught}"
