"""VectorClock: the values, the partial order, merging, JSON (unit and property tests)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsys.clocks import Order, VectorClock

NODES = ["a", "b", "c", "d"]
vectors = st.dictionaries(st.sampled_from(NODES), st.integers(0, 4), max_size=4).map(VectorClock)


def test_missing_entries_are_zero_and_zero_entries_are_not_stored() -> None:
    v = VectorClock({"b": 2, "a": 0})
    assert v.get("a") == 0 and v.get("b") == 2 and v.get("zed") == 0
    assert v == VectorClock({"b": 2}) and hash(v) == hash(VectorClock({"b": 2}))
    assert v.to_json() == {"b": 2}
    assert VectorClock() == VectorClock({}) == VectorClock(None)


def test_repr_lists_entries_in_sorted_order() -> None:
    assert repr(VectorClock({"b": 2, "a": 1})) == "VC(a=1, b=2)"
    assert repr(VectorClock()) == "VC()"


def test_increment_and_merge_return_new_clocks() -> None:
    v = VectorClock({"a": 1})
    assert v.increment("a") == VectorClock({"a": 2})
    assert v.increment("b") == VectorClock({"a": 1, "b": 1})
    assert v.merge(VectorClock({"a": 0, "b": 5})) == VectorClock({"a": 1, "b": 5})
    assert v == VectorClock({"a": 1})  # unchanged: immutable


def test_compare_names_the_four_relations() -> None:
    a1, b1 = VectorClock({"a": 1}), VectorClock({"b": 1})
    both = a1.merge(b1)
    assert a1.compare(both) is Order.BEFORE and both.compare(a1) is Order.AFTER
    assert a1.compare(b1) is Order.CONCURRENT and a1.concurrent(b1)
    assert a1.compare(VectorClock({"a": 1})) is Order.EQUAL


def test_to_json_has_sorted_keys() -> None:
    assert list(VectorClock({"c": 1, "a": 2, "b": 3}).to_json()) == ["a", "b", "c"]


@pytest.mark.parametrize(("data", "words"), [
    ([1, 2], "JSON object"),
    ({"a": -1}, "non-negative integer"),
    ({"a": 1.5}, "non-negative integer"),
    ({"a": True}, "non-negative integer"),
    ({"a": "3"}, "non-negative integer"),
    ({1: 2}, "keys must be node ids"),
])
def test_from_json_rejects_what_is_not_a_vector(data: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        VectorClock.from_json(data)


def test_comparison_with_other_types_is_not_supported() -> None:
    assert VectorClock() != {}
    with pytest.raises(TypeError):
        _ = VectorClock() < 3  # type: ignore[operator]


@settings(max_examples=300, deadline=None)
@given(vectors, vectors, vectors)
def test_le_is_a_partial_order_and_merge_is_the_least_upper_bound(
    u: VectorClock, v: VectorClock, w: VectorClock
) -> None:
    assert u <= u and not u < u
    if u <= v and v <= u:
        assert u == v
    if u <= v and v <= w:
        assert u <= w
    m = u.merge(v)
    assert u <= m and v <= m
    if u <= w and v <= w:
        assert m <= w  # the least of the upper bounds
    assert m == v.merge(u) and m.merge(w) == u.merge(v.merge(w))


@settings(max_examples=300, deadline=None)
@given(vectors, vectors)
def test_compare_agrees_with_the_operators(u: VectorClock, v: VectorClock) -> None:
    order = u.compare(v)
    assert (order is Order.BEFORE) == (u < v) == (v > u)
    assert (order is Order.AFTER) == (v < u) == (u > v)
    assert (order is Order.EQUAL) == (u == v)
    assert (order is Order.CONCURRENT) == (not u <= v and not v <= u)
    assert (u <= v) == (v >= u)
    # Pointwise, by definition:
    assert (u <= v) == all(u.get(n) <= v.get(n) for n in NODES)


@settings(max_examples=200, deadline=None)
@given(vectors, st.sampled_from(NODES))
def test_increment_moves_strictly_forward_and_json_round_trips(
    v: VectorClock, node: str
) -> None:
    assert v < v.increment(node)
    assert VectorClock.from_json(v.to_json()) == v
    assert v.total() + 1 == v.increment(node).total()
