"""The wire codec: strict, tagged, and every failure is a CodecError."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsys import CodecError, message
from dsys.core import codec


@message(name="test:Point")
class Point:
    x: int
    y: float = 0.0
    label: str = ""


@message(name="test:Bag")
class Bag:
    items: frozenset[str]
    points: tuple[Point, ...] = ()
    flag: bool = False
    note: str | None = None


class NotAMessage:
    pass


def roundtrip(msg: object) -> object:
    return codec.decode(codec.loads(codec.dumps(codec.encode(msg))))


def test_messages_are_frozen_and_compare_by_value() -> None:
    p = Point(1, 2.0)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        p.x = 5  # type: ignore[misc]
    assert p == Point(1, 2.0) and p != Point(1, 2.5)


def test_roundtrip_preserves_nested_messages_and_collections() -> None:
    bag = Bag(frozenset({"b", "a"}), (Point(1, 0.5, "p"), Point(2)), True, None)
    assert roundtrip(bag) == bag
    assert codec.encode(bag)["body"]["items"] == ["a", "b"]  # sets are sorted on the wire


def test_stamps_travel_in_the_envelope() -> None:
    env = codec.loads(codec.dumps(codec.encode(Point(1), {"lamport": 4})))
    assert codec.stamps_of(env) == {"lamport": 4}


def test_float_field_accepts_an_int_but_int_field_rejects_a_float() -> None:
    assert codec.decode({"type": "test:Point", "body": {"x": 1, "y": 2}}) == Point(1, 2.0)
    with pytest.raises(CodecError, match="Point"):
        codec.decode({"type": "test:Point", "body": {"x": 1.5}})


@pytest.mark.parametrize(
    ("envelope", "fragment"),
    [
        ({"type": "test:Nope", "body": {}}, "unknown message type"),
        ({"type": "test:Point", "body": {"x": "5"}}, "Point"),
        ({"type": "test:Point", "body": {"x": True}}, "bool"),
        ({"type": "test:Point", "body": {"x": 1, "z": 2}}, "extra fields found \\(z\\)"),
        ({"type": "test:Point", "body": {}}, "Point"),
        ({"type": "test:Point", "body": []}, "JSON object"),
        ({"type": 3, "body": {}}, "no string 'type'"),
        ({"type": "test:Point", "body": {"x": 1}, "extra": 1}, "unexpected keys"),
        ([1, 2], "JSON object"),
        ({"type": "test:Bag", "body": {"items": "ab"}}, "Bag"),
    ],
)
def test_decode_rejects_anything_but_an_exact_registered_message(envelope: object, fragment: str) -> None:
    with pytest.raises(CodecError, match=fragment):
        codec.decode(envelope)


def test_encode_rejects_unregistered_types_with_advice() -> None:
    with pytest.raises(CodecError, match="@message"):
        codec.encode(NotAMessage())


def test_malformed_json_is_a_codec_error() -> None:
    with pytest.raises(CodecError, match="malformed JSON"):
        codec.loads(b"{not json")
    with pytest.raises(CodecError, match="malformed JSON"):
        codec.loads(b"\xff\xfe")


def test_nan_cannot_cross_the_wire() -> None:
    with pytest.raises(CodecError, match="not a finite number"):
        codec.dumps(codec.encode(Point(1, float("nan"))))


@message(name="test:Loose")
class Loose:
    """Fields typed Any take any JSON value; their numbers still follow the wire's rules."""

    value: Any = None
    counts: dict[str, int] = attrs.field(factory=dict)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_fail_at_encode_with_either_codec(bad: float) -> None:
    # (msgpack would carry a NaN: encode itself refuses it, for both codecs.)
    for msg in (Point(1, bad), Loose([1, {"x": bad}]), Loose((bad,))):
        with pytest.raises(CodecError, match="not a finite number"):
            codec.encode(msg)
    with pytest.raises(CodecError, match=r"stamps .* not a finite number"):
        codec.encode(Point(1), {"hlc": [bad, 0]})


@pytest.mark.parametrize("text", ['{"x": NaN}', "[Infinity]", "-Infinity", '[1, -Infinity]'])
def test_json_nan_and_infinity_tokens_are_malformed(text: str) -> None:
    with pytest.raises(CodecError, match=r"malformed JSON: .*NaN and infinities"):
        codec.loads(text.encode())


@pytest.mark.parametrize(("body", "stamps"), [
    ({"x": 1, "y": float("nan")}, None),          # what msgpack (or 1e999 in JSON) gives
    ({"x": 1, "y": float("inf")}, None),
    ({"x": 1}, {"lamport": float("nan")}),
])
def test_non_finite_floats_are_refused_when_decoding(body: dict[str, Any],
                                                     stamps: dict[str, Any] | None) -> None:
    envelope: dict[str, Any] = {"type": "test:Point", "body": body}
    if stamps is not None:
        envelope["stamps"] = stamps
    with pytest.raises(CodecError, match="not a finite number"):
        codec.decode(envelope)
    with pytest.raises(CodecError, match="not a finite number"):
        codec.decode({"type": "test:Loose", "body": {"value": [1, {"deep": float("nan")}]}})


def test_integers_on_the_wire_are_signed_64_bit() -> None:
    for edge in (codec.INT_MIN, codec.INT_MAX):
        assert roundtrip(Point(edge)) == Point(edge)
        as_float = codec.decode({"type": "test:Point", "body": {"x": 1, "y": edge}})
        assert as_float == Point(1, float(edge))
    huge = int("9" * 4300)  # the largest int Python's json reads by default
    for body in ({"x": codec.INT_MAX + 1}, {"x": codec.INT_MIN - 1}, {"x": huge},
                 {"x": 1, "y": huge}):
        with pytest.raises(CodecError, match="out of range"):
            codec.decode({"type": "test:Point", "body": body})
    for body in ({"value": [1, {"x": 2 ** 64}]}, {"counts": {"a": 2 ** 63}}):
        with pytest.raises(CodecError, match="out of range"):
            codec.decode({"type": "test:Loose", "body": body})


def test_a_huge_stamp_is_refused_by_decode_and_by_stamps_of() -> None:
    envelope = {"type": "test:Point", "body": {"x": 1}, "stamps": {"lamport": int("9" * 4300)}}
    data = codec.dumps(envelope)  # 4,300 digits: JSON can carry it...
    with pytest.raises(CodecError, match="invalid stamps: an integer of 14285 bits is out of"):
        codec.decode(codec.loads(data))  # ...but the codec refuses it, in one short line
    with pytest.raises(CodecError, match="out of range"):
        codec.stamps_of(envelope)
    with pytest.raises(CodecError, match="out of range"):
        codec.stamps_of({"stamps": {"vector": {"a": 1, "b": -(2 ** 70)}}})
    assert codec.stamps_of({"stamps": {"vector": {"a": 1, "b": codec.INT_MAX}}})


def test_an_out_of_range_int_never_takes_the_simulators_fast_path() -> None:
    # The simulator skips the round trip for a shape it verified once: the shape must
    # tell an int out of range from one in range, or the check would be skipped.
    assert codec.wire_shape(Point(1)) is not None
    assert codec.wire_shape(Point(2 ** 63)) is None
    assert codec.wire_shape(Bag(frozenset(), (Point(-(2 ** 64)),))) is None
    assert codec.wire_shape(Point(1), {"lamport": 2 ** 63}) is None


def test_error_messages_do_not_copy_a_huge_value() -> None:
    with pytest.raises(CodecError) as caught:
        codec.decode({"type": "test:Point", "body": {"x": "z" * 1_000_000}})
    assert len(str(caught.value)) < 300


def test_holds_mutable_finds_nested_lists() -> None:
    assert not codec.holds_mutable(Point(1))
    assert codec.holds_mutable(Bag(frozenset(), (Point(1),), note=None)) is False
    assert codec.holds_mutable(Bag(frozenset(), ([1],),)) is True  # type: ignore[arg-type]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)


@given(st.one_of(json_values, st.fixed_dictionaries(
    {"type": st.sampled_from(["test:Point", "test:Bag", "x"]), "body": json_values})))
def test_decoding_arbitrary_json_either_builds_a_message_or_raises_codec_error(value: object) -> None:
    try:
        result = codec.decode(value)
    except CodecError:
        return
    assert isinstance(result, Point | Bag)
    assert roundtrip(result) == result


@given(st.binary(max_size=64))
def test_loading_arbitrary_bytes_raises_only_codec_error(data: bytes) -> None:
    try:
        value = codec.loads(data)
    except CodecError:
        return
    json.dumps(value)  # whatever parsed is plain JSON data


# ----- fields typed Any: the fast path gives what the converter gives --------------------


@message(name="test:Holder")
class Holder:
    value: Any


def _reference() -> Any:
    """The converter without the fast hook for Any: cattrs' own runtime dispatch."""
    import cattrs

    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_unstructure_hook(float, codec._unstructure_float)
    conv.register_unstructure_hook_func(
        codec._is_set_type, lambda s: sorted((conv.unstructure(x) for x in s),
                                             key=codec._sort_key))
    return conv


@given(json_values | st.frozensets(st.integers(), max_size=4)
       | st.tuples(st.integers(), st.text(max_size=3))
       | st.dictionaries(st.integers(), st.booleans(), max_size=3))
def test_an_any_field_unstructures_as_the_converter_would(value: object) -> None:
    try:
        expected = _reference().unstructure(value)
    except ValueError:  # an infinity, somewhere inside
        with pytest.raises(CodecError, match="not a finite number"):
            codec.encode(Holder(value))
        return
    assert codec.encode(Holder(value))["body"] == {"value": expected}


def test_an_any_field_is_copied_so_an_envelope_never_aliases_the_nodes_state() -> None:
    inner = [1, {"deep": [2]}]
    command = {"list": inner, "n": 1}
    body = codec.encode(Holder(command))["body"]["value"]
    assert body == command
    assert body is not command and body["list"] is not inner and body["list"][1] is not inner[1]
    inner[1]["deep"].append(3)  # the node changes its state after sending
    assert body["list"][1] == {"deep": [2]}


def test_an_any_field_holding_a_message_a_set_or_a_nan() -> None:
    body = codec.encode(Holder({"p": Point(1), "s": {"b", "a"}, "t": (1, 2)}))["body"]
    assert body["value"] == {"p": {"x": 1, "y": 0.0, "label": ""}, "s": ["a", "b"],
                             "t": [1, 2]}
    with pytest.raises(CodecError, match="not a finite number"):
        codec.encode(Holder({"x": [float("nan")]}))


def test_wire_value_problem_in_a_flat_object_and_below_it() -> None:
    import enum

    class Level(enum.IntEnum):
        HIGH = 2 ** 63

    assert codec.wire_value_problem({"a": 1, "b": "x", "c": None, "d": True, "e": 2.5}) is None
    assert "not a finite number" in str(codec.wire_value_problem({"a": 1, "b": float("inf")}))
    assert "out of range" in str(codec.wire_value_problem({"a": -(2 ** 63) - 1}))
    assert codec.wire_value_problem({"a": -(2 ** 63), "b": 2 ** 63 - 1}) is None
    assert "out of range" in str(codec.wire_value_problem({"a": 1, "b": {"c": [2 ** 64]}}))
    assert "out of range" in str(codec.wire_value_problem({"level": Level.HIGH}))


# ----- messages of plain fields: built directly, the same as the converter builds them ----


@message(name="test:Plain")
class Plain:
    n: int
    s: str
    flag: bool = False
    x: float = 0.0
    anything: Any = None
    maybe: str | None = None


_REFERENCE_STRICT = codec.make_converter(quick=False)

body_values = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 64),
                                                              max_value=2 ** 64),
                        st.floats(), st.text(max_size=3), st.lists(st.integers(), max_size=2),
                        st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


def _outcome(converter: Any, body: Any, cls: type) -> Any:
    try:
        return ("ok", converter.structure(body, cls))
    except Exception as exc:  # the kind and text of the failure must match too
        import cattrs

        if isinstance(exc, cattrs.errors.ClassValidationError):
            return ("error", sorted(cattrs.transform_error(exc)))
        return ("error", type(exc).__name__, str(exc))


@given(st.dictionaries(st.sampled_from(["n", "s", "flag", "x", "anything", "maybe", "zz"]),
                       body_values, max_size=7))
def test_a_plain_message_is_built_as_the_converter_builds_it(body: dict[str, Any]) -> None:
    from dsys.kv.messages import KVReply
    from dsys.raft.messages import Entry

    for cls in (Plain, KVReply, Entry):
        quick = _outcome(codec.CONVERTER, body, cls)
        assert quick == _outcome(_REFERENCE_STRICT, body, cls), (cls, body)
        if quick[0] == "ok":
            assert all(type(getattr(quick[1], f)) is type(getattr(
                _outcome(_REFERENCE_STRICT, body, cls)[1], f)) for f in body if f != "zz")


def test_a_plain_message_takes_an_int_for_a_float_field_as_before() -> None:
    built = codec.decode({"type": "test:Plain", "body": {"n": 1, "s": "a", "x": 2}})
    assert built == Plain(1, "a", x=2.0) and type(built.x) is float


def test_only_messages_of_plain_fields_are_built_directly() -> None:
    assert codec._plain_fields(Plain) is not None
    assert codec._plain_fields(Bag) is None  # a frozenset and a tuple of messages
    assert codec._plain_fields(Point) is not None
    assert codec._plain_fields(dict) is None and codec._plain_fields(NotAMessage) is None
