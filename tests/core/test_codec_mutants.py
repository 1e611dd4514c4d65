"""The codec's edges, pinned exactly (issue 21).

test_codec.py shows what crosses the wire; these pin the boundaries a mutant of the codec
got away with before: the exact signed 64-bit limits, the fast path that lets the simulator
skip repeated checks (it must never take a value the real wire refuses), the exact error
text for each kind of bad field, and the sort order of sets on the wire.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs
import pytest

from dsys import CodecError, message
from dsys.core import codec
from dsys.core.codec import INT_MAX, INT_MIN
from tests.core.test_codec import Bag, Loose, Point

NON_FINITE = [float("nan"), float("inf"), float("-inf")]


@message(name="test-mutants:Pair")
class Pair:
    left: Point
    numbers: tuple[int, ...] = ()
    anything: Any = None


@message(name="test-mutants:Shapes")
class Shapes:
    fixed: tuple[int, str] = (0, "")
    many: frozenset[int] = frozenset()
    some: set[int] = attrs.field(factory=set)
    items: list[int] = attrs.field(factory=list)


@message(name="test-mutants:Flat")
class Flat:
    """Only primitive fields: the simulator's one-pass fast case."""

    n: int
    s: str = ""
    b: bool = False
    none: str | None = None


class Small(enum.IntEnum):
    ONE = 1


class Huge(int):
    pass


class Ratio(float):
    pass


def test_the_limits_are_signed_64_bit() -> None:
    assert (INT_MIN, INT_MAX) == (-(2**63), 2**63 - 1)


@pytest.mark.parametrize(
    "value",
    [
        INT_MIN,
        INT_MAX,
        0,
        -1,
        1.5,
        "text",
        True,
        False,
        None,
        Small.ONE,
        Huge(5),
        Ratio(0.5),
        b"bytes",
        object(),
    ],
)
def test_wire_value_problem_accepts_every_value_in_range_anywhere(value: Any) -> None:
    for wrapped in (value, [value], (value,), {"k": value}, {"a": [{"b": (value, "s")}]}):
        assert codec.wire_value_problem(wrapped) is None, wrapped


@pytest.mark.parametrize(
    "value, problem",
    [
        (
            INT_MAX + 1,
            "9223372036854775808 is out of range (integers on the wire are signed 64-bit)",
        ),
        (
            INT_MIN - 1,
            "-9223372036854775809 is out of range (integers on the wire are signed 64-bit)",
        ),
        (
            Huge(2**64),
            "18446744073709551616 is out of range (integers on the wire are signed 64-bit)",
        ),
        (float("nan"), "nan is not a finite number (NaN and infinities cannot cross the wire)"),
        (Ratio("inf"), "inf is not a finite number (NaN and infinities cannot cross the wire)"),
        (float("-inf"), "-inf is not a finite number (NaN and infinities cannot cross the wire)"),
    ],
)
def test_wire_value_problem_finds_a_bad_number_anywhere(value: Any, problem: str) -> None:
    for wrapped in (
        value,
        ["ok", None, value],
        ("s", value),
        {"k": "v", "n": value},
        {"a": [1, {"b": ("x", value)}]},
    ):
        assert codec.wire_value_problem(wrapped) == problem


def test_shown_cuts_at_80_characters_and_names_the_size_of_huge_ints() -> None:
    assert codec._shown("z" * 78) == repr("z" * 78)  # 80 characters with the quotes
    assert codec._shown("z" * 79) == repr("z" * 79)[:80] + "... (81 characters)"
    assert codec._shown(2**200) == "an integer of 201 bits"
    assert codec._shown(2**199) == str(2**199)  # 200 bits: still short enough to show


@pytest.mark.parametrize(
    "body, error",
    [
        ({}, "invalid Point: required field missing @ $.x"),
        ({"x": True}, "invalid Point: expected int, got bool True @ $.x"),
        ({"x": 1.5}, "invalid Point: expected int, got float 1.5 @ $.x"),
        ({"x": "1"}, "invalid Point: expected int, got str '1' @ $.x"),
        ({"x": 1, "y": True}, "invalid Point: expected float, got bool True @ $.y"),
        ({"x": 1, "y": "1"}, "invalid Point: expected float, got str '1' @ $.y"),
        (
            {"x": 1, "y": INT_MAX + 1},
            "invalid Point: 9223372036854775808 is out of range (integers on the wire are signed "
            "64-bit) @ $.y",
        ),
        ({"x": 1, "label": 5}, "invalid Point: expected str, got int 5 @ $.label"),
        ({"x": 1, "z": 5}, "invalid Point: extra fields found (z) @ $"),
    ],
)
def test_each_bad_field_gets_its_own_error(body: dict[str, Any], error: str) -> None:
    with pytest.raises(CodecError) as caught:
        codec.decode({"type": "test:Point", "body": body})
    assert str(caught.value) == error


def test_numbers_in_range_decode_to_their_field_types() -> None:
    got = codec.decode({"type": "test:Point", "body": {"x": INT_MIN, "y": INT_MAX}})
    assert got == Point(INT_MIN, float(INT_MAX)) and type(got.y) is float
    got = codec.decode({"type": "test:Point", "body": {"x": 0, "y": -2.5, "label": ""}})
    assert got == Point(0, -2.5, "")


def test_bool_fields_take_only_booleans() -> None:
    assert codec.decode({"type": "test:Bag", "body": {"items": [], "flag": True}}).flag is True
    for bad, shown in [(1, "int 1"), (0, "int 0"), ("true", "str 'true'")]:
        with pytest.raises(CodecError, match=f"expected bool, got {shown} @ \\$.flag"):
            codec.decode({"type": "test:Bag", "body": {"items": [], "flag": bad}})


def test_collections_come_only_from_arrays_of_the_right_length() -> None:
    def decode(body: dict[str, Any]) -> Any:
        return codec.decode({"type": "test-mutants:Shapes", "body": body})

    got = decode({"fixed": [1, "a"], "many": [3, 1], "some": [2], "items": [5, 4]})
    assert got == Shapes((1, "a"), frozenset({1, 3}), {2}, [5, 4])
    assert type(got.fixed) is tuple and type(got.many) is frozenset
    assert type(got.some) is set and type(got.items) is list
    with pytest.raises(CodecError, match="expected 2 items, got 3"):
        decode({"fixed": [1, "a", 2]})
    with pytest.raises(CodecError, match="expected 2 items, got 1"):
        decode({"fixed": [1]})
    with pytest.raises(CodecError, match="expected a JSON array, got str 'ab'"):
        decode({"items": "ab"})
    with pytest.raises(CodecError, match="expected a JSON array, got dict"):
        decode({"many": {}})
    pair = codec.decode(
        {"type": "test-mutants:Pair", "body": {"left": {"x": 1}, "numbers": [1, 2]}}
    )
    assert pair == Pair(Point(1), (1, 2)) and type(pair.numbers) is tuple


def test_mappings_come_only_from_objects_and_their_values_are_typed() -> None:
    got = codec.decode({"type": "test:Loose", "body": {"counts": {"a": 1}}})
    assert got == Loose(None, {"a": 1})
    with pytest.raises(CodecError, match="expected a JSON object, got list"):
        codec.decode({"type": "test:Loose", "body": {"counts": []}})
    with pytest.raises(CodecError, match="expected int, got str"):
        codec.decode({"type": "test:Loose", "body": {"counts": {"a": "1"}}})


def test_sets_go_on_the_wire_sorted_by_their_json_text() -> None:
    body = codec.encode(Bag(frozenset({"b", "c", "a"})))["body"]
    assert body["items"] == ["a", "b", "c"]
    shapes = codec.encode(Shapes(many=frozenset({9, 10, 100}), some={2, 1}))["body"]
    assert shapes["many"] == [10, 100, 9]  # by JSON text: "10" < "100" < "9"
    assert shapes["some"] == [1, 2]
    assert list(shapes["fixed"]) == [0, ""] and shapes["items"] == []


def test_encode_puts_stamps_in_the_envelope_only_when_there_are_some() -> None:
    assert codec.encode(Point(1)) == {"type": "test:Point", "body": {"x": 1, "y": 0.0, "label": ""}}
    assert "stamps" not in codec.encode(Point(1), {})
    stamps = {"lamport": 3}
    envelope = codec.encode(Point(1), stamps)
    assert envelope["stamps"] == {"lamport": 3} and envelope["stamps"] is not stamps
    with pytest.raises(CodecError, match=r"cannot encode the stamps of .*out of range"):
        codec.encode(Point(1), {"lamport": INT_MAX + 1})
    assert codec.encode(Point(1), {"lamport": INT_MAX})["stamps"] == {"lamport": INT_MAX}


@pytest.mark.parametrize(
    "envelope, error",
    [
        ([], "a message must be a JSON object, got list"),
        (
            {"type": "test:Point", "body": {"x": 1}, "extra": 1},
            "unexpected keys in message envelope: ['extra']",
        ),
        ({"body": {}}, "message envelope has no string 'type'"),
        ({"type": 5}, "message envelope has no string 'type'"),
        ({"type": "nope:Nothing"}, "unknown message type 'nope:Nothing': no class is registered"),
        ({"type": "test:Point", "body": [1]}, "body of test:Point must be a JSON object, got list"),
        (
            {"type": "test:Point", "body": {"x": 1}, "stamps": [1]},
            "message stamps must be a JSON object",
        ),
        (
            {"type": "test:Point", "body": {"x": 1}, "stamps": {"l": float("nan")}},
            "invalid stamps: nan",
        ),
    ],
)
def test_decode_refuses_bad_envelopes_with_the_reason(envelope: Any, error: str) -> None:
    with pytest.raises(CodecError) as caught:
        codec.decode(envelope)
    assert str(caught.value).startswith(error)


def test_a_missing_body_means_every_field_takes_its_default() -> None:
    assert codec.decode({"type": "test:Loose"}) == Loose()
    assert codec.decode({"type": "test:Point", "body": {"x": 2}, "stamps": {}}) == Point(2)


def test_stamps_of_reads_missing_or_empty_stamps_as_none() -> None:
    assert codec.stamps_of({}) == {}
    assert codec.stamps_of({"stamps": None}) == {}
    assert codec.stamps_of({"stamps": {"l": [1, "x"]}}) == {"l": [1, "x"]}
    with pytest.raises(CodecError, match="message stamps must be a JSON object"):
        codec.stamps_of({"stamps": "l"})


def test_json_text_dumps_and_loads() -> None:
    assert codec.json_text({"a": [1, 2.5, None]}) == '{"a":[1,2.5,null]}'
    assert codec.dumps({"a": "é"}) == b'{"a":"\\u00e9"}'
    with pytest.raises(CodecError, match="not JSON-serialisable"):
        codec.dumps({"a": object()})
    with pytest.raises(CodecError, match="not JSON-serialisable"):
        codec.dumps([float("nan")])
    assert codec.loads('{"a": 1}') == {"a": 1}
    assert codec.loads('{"a": 1}'.encode("utf-16")) == {"a": 1}
    with pytest.raises(CodecError, match="malformed JSON"):
        codec.loads(b"\xff\xfe\xff")


# -- the simulator's fast path ------------------------------------------------------------


def test_the_fast_path_shape_names_the_class_and_each_fields_type() -> None:
    assert codec.wire_shape(Point(1, 1.5)) == (Point, (int, float, str))
    assert codec.wire_shape(Point(1, 1.5, "a")) == codec.wire_shape(Point(7, -2.0, "b"))
    assert codec.wire_shape(Point(1), {"lamport": 3}) == (
        (Point, (int, float, str)),
        (("lamport", int),),
    )
    assert codec.wire_shape(Point(1), {}) == codec.wire_shape(Point(1))
    assert codec.wire_shape("not a message") is None
    assert codec.wire_shape(Bag(frozenset())) is None  # a frozenset field: no fast path


@pytest.mark.parametrize("bad", NON_FINITE)
def test_a_non_finite_float_never_takes_the_fast_path(bad: float) -> None:
    # The real wire refuses these: a cached shape must not let the simulator skip the check.
    assert codec.wire_shape(Point(1, bad)) is None
    assert codec.wire_shape(Pair(Point(1, bad))) is None
    assert codec.wire_shape(Pair(Point(1), (1,), (2.0, bad))) is None
    assert codec.wire_shape(Point(1), {"hlc": bad}) is None
    assert codec.wire_shape(Point(1), {"hlc": (1, bad)}) is None
    assert codec.wire_shape(Pair(Point(1), (1,), (2.0, 1e308))) is not None


@pytest.mark.parametrize(
    "edge, ok", [(INT_MIN, True), (INT_MAX, True), (INT_MIN - 1, False), (INT_MAX + 1, False)]
)
def test_the_fast_path_checks_the_int_range_at_every_depth(edge: int, ok: bool) -> None:
    for msg in (
        Point(edge),
        Point(1, 0.0, "a"),
        Pair(Point(edge)),
        Pair(Point(1), (2, edge)),
        Pair(Point(1), (), edge),
    ):
        shape = codec.wire_shape(msg)
        expected = ok or edge not in (
            getattr(msg, "x", None),
            *getattr(msg, "numbers", ()),
            getattr(msg, "anything", None),
            getattr(getattr(msg, "left", None), "x", None),
        )
        assert (shape is not None) is expected, msg
    assert (codec.wire_shape(Point(1), {"c": edge}) is not None) is ok


def test_nested_shapes_tell_types_apart() -> None:
    shape = codec.wire_shape(Pair(Point(1), (1, 2), "s"))
    assert shape == (Pair, ((Point, (int, float, str)), (tuple, (int, int)), str))
    assert codec.wire_shape(Pair(Point(1), (1, "2"))) != codec.wire_shape(Pair(Point(1), (1, 2)))
    assert codec.wire_shape(Pair(Point(1), (), True)) != codec.wire_shape(Pair(Point(1), (), 1))
    assert codec.wire_shape(Pair(Point(1), (), [1])) is None  # a list: no fast path


def test_holds_mutable_looks_inside_tuples_and_messages() -> None:
    for value in (
        [1],
        {"a": 1},
        {1},
        bytearray(b"x"),
        (1, [2]),
        ((1, (2, {3})),),
        Pair(Point(1), (), [1]),
        Pair(Point(1), (), (1, {"a": 1})),
    ):
        assert codec.holds_mutable(value), value
    for value in (
        1,
        "s",
        (1, (2, "3")),
        frozenset({1, (2, 3)}),
        Pair(Point(1), (1,), (2,)),
        None,
        b"bytes",
    ):
        assert not codec.holds_mutable(value), value


def test_the_one_pass_fast_case_for_primitive_fields() -> None:
    assert codec.wire_shape(Flat(1)) == (Flat, (int, str, bool, type(None)))
    assert codec.wire_shape(Flat(1, "x", True, "y")) == (Flat, (int, str, bool, str))
    assert codec.wire_shape(Flat(1), {"c": 2}) == (
        (Flat, (int, str, bool, type(None))),
        (("c", int),),
    )
    for edge, ok in [(INT_MIN, True), (INT_MAX, True), (INT_MIN - 1, False), (INT_MAX + 1, False)]:
        assert (codec.wire_shape(Flat(edge)) is not None) is ok
        assert (codec.wire_shape(Flat(1), {"c": edge}) is not None) is ok
    assert codec.wire_shape(Flat(1), {"c": float("nan")}) is None
    assert codec.wire_shape(Flat(True)) == (Flat, (bool, str, bool, type(None)))
