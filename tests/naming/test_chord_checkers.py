"""The Chord checkers on hand-made rings and traces: each catches what it should, and only
that (a right answer passes, a wrong one is named, the grace window works both ways)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from dsys.demos.chord import build_ring
from dsys.naming.chord_checkers import (
    check_chord_hops,
    check_chord_lookups,
    check_chord_ring,
    chord_lookups,
    chord_of,
    hop_bound,
    successor_of,
)
from dsys.trace import Trace, TraceEvent

# A ring of three on a circle of 2**6 = 64: a at 10, b at 30, c at 50.
IDENTS = {"a": 10, "b": 30, "c": 50}


def view(name: str, successors: list[str], predecessor: str | None,
         fingers: list[str | None] | None = None, joined: bool = True) -> Any:
    return SimpleNamespace(ident=IDENTS[name], bits=6, successors=successors,
                           predecessor=predecessor, fingers=fingers or [], joined=joined)


def right_fingers(name: str) -> list[str | None]:
    return [successor_of((IDENTS[name] + (1 << i)) % 64, IDENTS) for i in range(6)]


def correct() -> dict[str, Any]:
    return {"a": view("a", ["b", "c"], "c", right_fingers("a")),
            "b": view("b", ["c", "a"], "a", right_fingers("b")),
            "c": view("c", ["a", "b"], "b", right_fingers("c"))}


def check(nodes: dict[str, Any], **options: Any) -> Any:
    return check_chord_ring(nodes, view=lambda node: node, **options)


def test_a_correct_ring_passes_every_part_of_the_check() -> None:
    report = check(correct(), successor_lists=2, fingers=True)
    assert report and report.judged == 3


def test_a_wrong_successor_a_wrong_predecessor_a_list_and_a_finger_are_each_named() -> None:
    nodes = correct()
    nodes["a"].successors = ["c", "b"]
    report = check(nodes)
    assert not report
    assert [v.nodes for v in report.violations] == [("a",)]
    assert "a's successor is c, but b (30) follows a (10)" in report.explain()

    nodes = correct()
    nodes["b"].predecessor = "c"
    assert "b's predecessor is c, but a (10) precedes it" in check(nodes).explain()

    nodes = correct()
    nodes["c"].successors = ["a", "c"]
    assert check(nodes)  # successor and predecessor are right...
    assert "c's successor list is ['a', 'c'], expected ['a', 'b']" in \
        check(nodes, successor_lists=2).explain()  # ...the list is not

    nodes = correct()
    nodes["a"].fingers[5] = "c"  # 10 + 32 = 42: its successor is c (50)...
    assert check(nodes, fingers=True)
    nodes["a"].fingers[4] = "b"  # ...and 10 + 16 = 26's is b (30): right; now break one
    nodes["a"].fingers[3] = "c"  # 10 + 8 = 18 belongs to b
    assert "a's finger 3 (start 18) is c, but b (30) is the successor" in \
        check(nodes, fingers=True).explain()


def test_members_are_the_joined_nodes_and_a_lone_member_is_its_own_successor() -> None:
    nodes = correct()
    nodes["b"].joined = False  # b is not in the ring (yet): a must point at c
    assert not check(nodes)
    nodes["a"].successors, nodes["c"].predecessor = ["c"], "a"
    assert check(nodes)
    alone = {"a": view("a", [], None)}
    assert check(alone) and check({"a": view("a", ["a"], "a")})
    assert not check({"a": view("a", ["b"], None)})
    assert check({}).judged == 0


def test_chord_of_finds_the_component_of_a_peer() -> None:
    sim = build_ring(2, seed=0)
    sim.run(until=0.1)
    peer = sim.node("n000")
    assert chord_of(peer) is peer.chord  # type: ignore[union-attr]
    assert chord_of(object()) is None
    assert check_chord_ring(sim.nodes, successor_lists=1, fingers=True)


# ----- lookups and hops, from traces ----------------------------------------------------------


def note(t: float, node: str, event: str, **data: Any) -> TraceEvent:
    return TraceEvent(t, node, "note", {"event": event, "component": "chord", **data})


def answered(t: float, node: str, target: int, owner: str | None, hops: int = 1) -> TraceEvent:
    return note(t, node, "lookup", target=target, owner=owner, hops=hops,
                reason="" if owner else "no node left to ask")


def ring_trace(*events: TraceEvent) -> Trace:
    joins = [note(0.0, name, "joined", ident=ident) for name, ident in IDENTS.items()]
    return Trace([*joins, *events])


def test_the_live_successor_is_right_and_anything_else_is_wrong() -> None:
    trace = ring_trace(answered(1.0, "a", 30, "b"), answered(1.0, "a", 31, "c"),
                       answered(1.0, "b", 55, "a"), answered(1.0, "c", 5, "a"))
    report = check_chord_lookups(trace)
    assert report and report.judged == 4
    wrong = ring_trace(answered(1.0, "a", 29, "c"))
    assert "a's lookup of 29 answered c (50), but b (30) is its successor" in \
        check_chord_lookups(wrong).explain()
    stranger = ring_trace(answered(1.0, "a", 29, "zed"))
    assert "answered zed, which is not in the ring" in check_chord_lookups(stranger).explain()


def test_a_crashed_or_departed_node_is_no_answer_unless_it_just_went() -> None:
    crash = TraceEvent(1.0, "b", "crash")
    late = ring_trace(crash, answered(2.0, "a", 20, "b"))
    assert "b, which has left the ring" in check_chord_lookups(late).explain()
    assert check_chord_lookups(late, grace=1.5)  # b crashed 1 s before: either way
    # ...and once b is gone, c is right; within the grace window, too.
    assert check_chord_lookups(ring_trace(crash, answered(2.0, "a", 20, "c")))
    assert check_chord_lookups(ring_trace(crash, answered(2.0, "a", 20, "c")), grace=1.5)
    left = ring_trace(note(1.0, "b", "left"), answered(3.0, "a", 20, "b"))
    assert not check_chord_lookups(left, grace=1.5)


def test_a_node_that_just_joined_may_be_missed_for_the_grace_period_only() -> None:
    newcomer = note(1.0, "d", "joined", ident=40)  # between b (30) and c (50)
    missed = ring_trace(newcomer, answered(1.5, "a", 35, "c"))
    assert not check_chord_lookups(missed)
    assert check_chord_lookups(missed, grace=1.0)
    still_missed = ring_trace(newcomer, answered(2.5, "a", 35, "c"))
    assert not check_chord_lookups(still_missed, grace=1.0)
    # a settled node is never skipped, grace or not
    assert not check_chord_lookups(ring_trace(newcomer, answered(1.5, "a", 25, "c")),
                                   grace=1.0)


def test_failed_lookups_and_the_after_window() -> None:
    trace = ring_trace(answered(1.0, "a", 20, None), answered(2.0, "a", 20, "c"))
    assert "a's lookup of 20 failed" in check_chord_lookups(trace).explain()
    assert len(check_chord_lookups(trace, allow_failed=True).violations) == 1  # the wrong one
    assert check_chord_lookups(trace, after=1.5).judged == 1
    records = chord_lookups(trace)
    assert [(r.owner, r.members, r.reason) for r in records] == [
        (None, 3, "no node left to ask"), ("c", 3, "")]


def test_hops_beyond_the_logarithmic_bound_are_named() -> None:
    assert hop_bound(3) == 4 and hop_bound(1024) == 21 and hop_bound(1) == hop_bound(2) == 3
    fine = ring_trace(answered(1.0, "a", 20, "b", hops=4))
    assert check_chord_hops(fine) and check_chord_hops(fine).judged == 1
    slow = ring_trace(answered(1.0, "a", 20, "b", hops=5), answered(1.0, "a", 20, None, 9))
    report = check_chord_hops(slow)
    assert report.judged == 1  # a failed lookup is not judged for its hops
    assert "a's lookup of 20 took 5 hops; with 3 members the bound is 4" in report.explain()
