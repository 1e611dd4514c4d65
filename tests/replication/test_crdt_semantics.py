"""What each CRDT promises for concurrent updates (its "anomaly"), and its bad-input errors.

* counters: concurrent increments are all counted, a state merged twice counts once;
* OR-Set: a concurrent add and remove: the add wins; a remove removes what it saw;
* MV register: concurrent writes are both kept; a write that saw them replaces them;
* LWW register: one of two concurrent writes is lost, the same one on every replica
  (the larger HLC timestamp, then the larger writer id); with a skewed clock the write
  made later in real time can be the one lost.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from dsys import Clock, Network, Simulation
from dsys.clocks import HLCTimestamp
from dsys.demos.crdt import Replica
from dsys.errors import CodecError, UsageError
from dsys.replication.crdt import (
    Crdt,
    GCounter,
    LWWRegister,
    MVRegister,
    ORSet,
    PNCounter,
    RegisterHandle,
    check_crdt_convergence,
    crdt_states,
)


def merge_all(*states: Crdt) -> list[Crdt]:
    """The merge of ``states`` in every order."""
    results = []
    for order in itertools.permutations(states):
        merged = order[0]
        for state in order[1:]:
            merged = merged.merge(state)
        results.append(merged)
    return results


# ----- counters ---------------------------------------------------------------------------


def test_concurrent_increments_are_all_counted_once() -> None:
    a = GCounter().increment("a", 2)
    b = GCounter().increment("b", 3)
    c = GCounter().increment("c")
    assert {m.value for m in merge_all(a, b, c)} == {6}
    assert a.merge(b).merge(b).merge(a).value == 5  # duplicates change nothing
    # The same increments as one shared number: "merge by max" loses, "by sum" doubles.
    assert max(a.value, b.value) == 3 and a.value + b.value + b.value == 8


def test_a_pn_counter_goes_down_and_below_zero() -> None:
    a = PNCounter().increment("a", 2)
    b = a.decrement("b", 3)  # b saw a's increments
    c = PNCounter().decrement("c")  # concurrent
    assert {m.value for m in merge_all(a, b, c)} == {-2}
    assert b.p == a.p and b.n.value == 3


# ----- OR-Set -----------------------------------------------------------------------------


def test_or_set_concurrent_add_and_remove_add_wins() -> None:
    both = ORSet().add("ann", "a")
    removed_at_b = both.remove("ann")  # b saw a's add and removes it
    added_at_c = both.add("ann", "c")  # concurrently, c adds ann again
    assert {m.value for m in merge_all(removed_at_b, added_at_c)} == {("ann",)}
    # The add that wins is c's; a's add is gone for good.
    merged = removed_at_b.merge(added_at_c)
    assert merged.dots("ann") == (("c", 1),)


def test_or_set_a_remove_removes_only_the_adds_it_saw() -> None:
    seen = ORSet().add("x", "a")
    unseen = ORSet().add("x", "b")  # an add of x the remover has not seen
    removed = seen.remove("x")
    assert removed.merge(seen).value == ()  # the observed add stays removed
    assert removed.merge(unseen).value == ("x",)  # the unobserved one survives
    # Once the remover has seen both, a remove removes both, everywhere.
    gone = removed.merge(unseen).remove("x")
    assert {m.value for m in merge_all(gone, seen, unseen)} == {()}


def test_or_set_readd_after_remove_and_no_tombstones() -> None:
    s = ORSet().add("x", "a").remove("x").add("x", "a").add("y", "b").remove("y")
    assert s.value == ("x",)
    assert s.entries == (("x", "a", 2),)  # one live entry; the removed ones left no trace
    assert s.clock == (("a", 2), ("b", 1))


# ----- registers --------------------------------------------------------------------------


def test_mv_register_keeps_both_concurrent_writes() -> None:
    a = MVRegister().assign("tea", "a")
    b = MVRegister().assign("coffee", "b")
    assert {m.value for m in merge_all(a, b)} == {("coffee", "tea")}
    resolved = a.merge(b).assign("chai", "b")  # read both, wrote one
    assert {m.value for m in merge_all(resolved, a, b)} == {("chai",)}
    # Sequential writes (each saw the last) never make siblings.
    assert a.assign("milk", "b").merge(a).value == ("milk",)


def test_lww_register_loses_one_concurrent_write_the_same_everywhere() -> None:
    a = LWWRegister().assign("tea", HLCTimestamp(100, 0), "a")
    b = LWWRegister().assign("coffee", HLCTimestamp(100, 3), "b")
    c = LWWRegister().assign("water", HLCTimestamp(99, 7), "c")
    assert {m.value for m in merge_all(a, b, c)} == {"coffee"}  # largest (l, c)
    tie = LWWRegister().assign("juice", HLCTimestamp(100, 3), "a")
    assert {m.value for m in merge_all(tie, b)} == {"coffee"}  # writer "b" > "a"


def title(sim: Simulation, replica: str) -> RegisterHandle:
    node = sim.nodes[replica]
    assert isinstance(node, Replica)
    return node.crdts.register("title")


def two_writers(seed: int, *, split: bool, second_at: float) -> Simulation:
    """``a`` (its clock 500 ms ahead) writes "first" at 0.1 s, ``b`` writes "second" at
    ``second_at``; with ``split`` the two cannot talk until 0.5 s."""
    sim = Simulation(seed=seed, network=Network(latency=(0.001, 0.010)))
    sim.add_node("a", Replica, clock=Clock(offset=0.5))
    sim.add_node("b", Replica)
    if split:
        sim.at(0.0, sim.partition, ["a"], ["b"])
        sim.at(0.5, sim.heal)
    sim.at(0.1, lambda: title(sim, "a").assign("first"))
    sim.at(second_at, lambda: title(sim, "b").assign("second"))
    sim.run(until=1.5)
    report = check_crdt_convergence(crdt_states(sim.nodes), sim.trace)
    assert report, report.explain()
    return sim


@pytest.mark.parametrize("seed", range(3))
def test_lww_with_a_skewed_clock_loses_the_write_made_later(seed: int) -> None:
    # b writes 200 ms after a in real time, but without having seen a's write, and a's
    # clock is 500 ms ahead: after the heal a's write wins everywhere, b's is lost.
    sim = two_writers(seed, split=True, second_at=0.3)
    assert [title(sim, n).value for n in "ab"] == ["first", "first"]


@pytest.mark.parametrize("seed", range(3))
def test_lww_a_write_that_saw_a_future_timestamp_still_wins(seed: int) -> None:
    # Same clocks, no partition: b has received a's write when it writes, so its HLC has
    # moved past a's timestamp, and b's write wins although b's own clock is behind.
    sim = two_writers(seed, split=False, second_at=0.3)
    assert [title(sim, n).value for n in "ab"] == ["second", "second"]


# ----- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("call, message", [
    (lambda: GCounter().increment("a", 0), "positive integer"),
    (lambda: GCounter().increment("a", True), "positive integer"),
    (lambda: GCounter().increment("", 1), "non-empty string"),
    (lambda: PNCounter().decrement("a", -1), "positive integer"),
    (lambda: ORSet().add(1.5, "a"), "string or a 64-bit integer"),
    (lambda: ORSet().add(True, "a"), "string or a 64-bit integer"),
    (lambda: MVRegister().assign([1], "a"), "JSON scalar"),
    (lambda: LWWRegister().assign({"a": 1}, HLCTimestamp(1, 0), "a"), "JSON scalar"),
    (lambda: GCounter().merge(ORSet()), "cannot merge GCounter with ORSet"),
])
def test_bad_updates_raise_a_clear_usage_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        call()


@pytest.mark.parametrize("body, message", [
    ({"counts": [["a", -1]]}, "from 0 to"),
    ({"counts": [["a", 1], ["a", 2]]}, "appears twice"),
    ({"counts": [["a", "1"]]}, "expected int"),
    ({"counts": [["a", 1]], "extra": 1}, "extra fields"),
])
def test_a_hostile_g_counter_is_refused_at_the_codec(body: dict[str, object], message: str) -> None:
    tag = GCounter().to_json()["type"]
    with pytest.raises(CodecError, match=message):
        Crdt.from_json({"type": tag, "body": body})


def test_an_or_set_whose_entries_the_clock_has_not_seen_is_refused() -> None:
    tag = ORSet().to_json()["type"]
    with pytest.raises(CodecError, match="has not seen"):
        Crdt.from_json({"type": tag, "body": {"entries": [["x", "a", 2]], "clock": [["a", 1]]}})
    with pytest.raises(CodecError, match="tags two elements"):
        Crdt.from_json({"type": tag, "body": {"entries": [["x", "a", 1], ["y", "a", 1]],
                                              "clock": [["a", 1]]}})
    with pytest.raises(CodecError, match="not a CRDT state"):
        Crdt.from_json({"type": "dsys.replication.crdt.replication:CrdtState",
                        "body": {"name": "x", "state": 1}})


def test_canonical_form_whatever_the_order_given() -> None:
    assert GCounter({"b": 1, "a": 2, "c": 0}) == GCounter((("a", 2), ("b", 1)))
    s = MVRegister().assign("x", "a")
    dominated = MVRegister().assign("old", "a").siblings[0]
    assert MVRegister((*s.assign("y", "a").siblings, dominated)).value == ("y",)
