"""Frames: sealed by one endpoint, opened (checked) by another; everything else refused."""

from __future__ import annotations

import contextlib
import json

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsys.core import codec
from dsys.runtime.wire import HEADER_SIZE, TAG_SIZE, Rejected, ReplayGuard, Wire
from tests.runtime.apps import Echo, Put

SECRET = b"a cluster secret"


def reason(wire: Wire, data: bytes) -> str:
    with pytest.raises(Rejected) as info:
        wire.open(data)
    return info.value.reason


def raw_frame(payload: object, *, codec_byte: bytes = b"j", flags: int = 0) -> bytes:
    body = json.dumps(payload).encode() if codec_byte == b"j" else msgpack.packb(payload)
    return b"\x01" + codec_byte + bytes([flags]) + body


def payload(msg: dict[str, object], **changes: object) -> dict[str, object]:
    return {"src": "a", "dst": "b", "boot": 1, "seq": 1, "msg": msg, **changes}


@pytest.mark.parametrize("codec_name", ["json", "msgpack"])
@pytest.mark.parametrize("secret", [None, SECRET])
def test_a_sealed_frame_opens_to_the_same_message(codec_name: str, secret: bytes | None) -> None:
    a = Wire("a", codec=codec_name, secret=secret)
    b = Wire("b", codec=codec_name, secret=secret)
    frame = b.open(a.seal("b", codec.encode(Put("x", 3), {"lamport": 7})))
    assert frame.msg == Put("x", 3) and frame.stamps == {"lamport": 7}
    assert (frame.src, frame.dst, frame.seq, frame.boot) == ("a", "b", 1, a.boot)
    assert frame.id == a.last_id


def test_frame_ids_use_the_one_message_id_format_and_the_codecs_json() -> None:
    from dsys.core.ids import message_id
    from dsys.runtime import wire

    a, b = Wire("a", boot=255), Wire("b")
    frame = b.open(a.seal("b", codec.encode(Echo("hi"))))
    # origin:epoch:seq, as every protocol's ids (the boot time is the sender's epoch).
    assert frame.id == a.last_id == message_id("a", 255, 1) == "a:255:1"
    assert wire.message_id is message_id  # still importable from its old home
    # One JSON encoder: a frame's payload is exactly what the codec's dumps makes.
    sealed = a.seal("b", codec.encode(Echo("x")))
    assert sealed[3:] == codec.dumps({"src": "a", "dst": "b", "boot": 255, "seq": 2,
                                      "msg": codec.encode(Echo("x"))})
    assert not hasattr(wire, "_JSON_ENCODER")


def test_with_a_secret_frames_carry_a_tag_and_replays_are_refused() -> None:
    a, b = Wire("a", secret=SECRET), Wire("b", secret=SECRET)
    data = a.seal("b", codec.encode(Echo("hi")))
    assert data[2] == 1 and len(data) > HEADER_SIZE + TAG_SIZE
    b.open(data)
    assert reason(b, data) == "replayed"
    # A changed bit in the tag or in the payload breaks the tag.
    for index in (HEADER_SIZE + 3, len(data) - 2):
        altered = bytearray(a.seal("b", codec.encode(Echo("hi"))))
        altered[index] ^= 0x01
        assert reason(b, bytes(altered)) == "bad tag"


def test_secrets_must_match_on_both_ends() -> None:
    envelope = codec.encode(Echo("hi"))
    assert reason(Wire("b", secret=SECRET), Wire("a").seal("b", envelope)) == "unauthenticated"
    forged = Wire("a", secret=b"other").seal("b", envelope)
    assert reason(Wire("b", secret=SECRET), forged) == "bad tag"
    assert reason(Wire("b"), Wire("a", secret=SECRET).seal("b", envelope)) == "unexpected tag"


def test_an_older_incarnation_of_a_sender_is_refused_once_a_newer_one_spoke() -> None:
    old, new = Wire("a", secret=SECRET, boot=5), Wire("a", secret=SECRET, boot=9)
    b = Wire("b", secret=SECRET)
    envelope = codec.encode(Echo("hi"))
    stale = old.seal("b", envelope)
    b.open(new.seal("b", envelope))
    assert reason(b, stale) == "stale boot"


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "truncated"),
    (b"\x01j", "truncated"),
    (b"\x02j\x00{}", "bad version"),
    (b"\x01m\x00\x80", "wrong codec"),
    (b"\x01?\x00{}", "wrong codec"),
    (b"\x01j\x04{}", "bad flags"),
    (b"\x01j\x00{not json", "malformed"),
    (b"\x01j\x00\xff\xfe", "malformed"),
    (b"\x01j\x00[1, 2]", "malformed"),
    (raw_frame(payload({"type": "rt:Echo", "body": {"text": "x"}}, extra=1)), "malformed"),
    (raw_frame(payload({"type": "rt:Echo", "body": {"text": "x"}}, seq="1")), "malformed"),
    (raw_frame(payload({"type": "rt:Echo", "body": {"text": "x"}}, seq=2**70)), "malformed"),
    (raw_frame(payload({"type": "rt:Echo", "body": {"text": "x"}}, boot=True)), "malformed"),
    (raw_frame(payload({"type": "rt:Echo", "body": {"text": "x"}}, dst="c")), "wrong destination"),
    (raw_frame(payload({"type": "rt:Nope", "body": {}})), "unknown type"),
    (raw_frame(payload({"type": "rt:Echo", "body": {"text": 5}})), "invalid message"),
    (raw_frame(payload({"type": "rt:Echo", "body": {"text": "x", "more": 1}})), "invalid message"),
    (raw_frame(payload({"type": "rt:Echo", "body": {}})), "invalid message"),
    (raw_frame(payload({"type": "rt:Put", "body": {"key": "k", "value": True}})),
     "invalid message"),
    (raw_frame(payload({"type": "rt:Echo", "body": {"text": "x"}, "stamps": [1]})),
     "invalid message"),
    (raw_frame(payload({"type": "rt:Echo", "body": {"text": "x"}, "extra": 1})), "invalid message"),
    (raw_frame(payload("not an envelope")), "malformed"),
])
def test_malformed_frames_are_refused_with_a_reason(data: bytes, expected: str) -> None:
    assert reason(Wire("b"), data) == expected


def test_msgpack_frames_are_as_strict_as_json() -> None:
    b = Wire("b", codec="msgpack")
    bad = raw_frame(payload({"type": "rt:Echo", "body": {"text": b"bytes"}}), codec_byte=b"m")
    assert reason(b, bad) == "invalid message"
    assert reason(b, b"\x01m\x00" + msgpack.packb({1: 2})) == "malformed"  # non-string keys
    assert reason(b, b"\x01m\x00\xc1") == "malformed"  # a byte msgpack never uses


def test_frames_over_the_limit_are_refused() -> None:
    a, b = Wire("a"), Wire("b", max_frame=100)
    assert reason(b, a.seal("b", codec.encode(Echo("x" * 200)))) == "too large"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_either_open_or_are_refused_never_crash(data: bytes) -> None:
    for wire in (Wire("b"), Wire("b", secret=SECRET), Wire("b", codec="msgpack")):
        with contextlib.suppress(Rejected):
            wire.open(data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (st.lists(inner, max_size=4)
                   | st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(src=st.text(max_size=4), seq=st.integers(), msg=JSON,
       body=st.dictionaries(st.sampled_from(["text", "key", "value", "x"]), JSON, max_size=3))
def test_any_json_payload_is_a_registered_message_or_refused(
        src: str, seq: int, msg: object, body: dict[str, object]) -> None:
    wire = Wire("b")
    for envelope in (msg, {"type": "rt:Echo", "body": body}, {"type": "rt:Put", "body": body}):
        data = b"\x01j\x00" + json.dumps({"src": src, "dst": "b", "boot": 0, "seq": seq,
                                          "msg": envelope}).encode()
        try:
            frame = wire.open(data)
        except Rejected:
            continue
        assert type(frame.msg) in (Echo, Put)  # nothing but a registered class is built


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=80), max_size=120),
       st.integers(min_value=1, max_value=32))
def test_the_replay_guard_accepts_each_counter_at_most_once(seqs: list[int], window: int) -> None:
    guard = ReplayGuard(window=window)
    accepted = [s for s in seqs if guard.check("a", 1, s) is None]
    assert len(accepted) == len(set(accepted))
    # A counter within the window of the highest one seen and not yet seen is accepted.
    assert guard.check("a", 1, max(seqs, default=0) + 1) is None


def test_a_huge_jump_in_the_counter_does_not_blow_up_memory() -> None:
    guard = ReplayGuard(window=1024)
    assert guard.check("a", 1, 1) is None
    assert guard.check("a", 1, 2**63) is None
    assert guard.check("a", 1, 1) == "too old"

