"""The wire's checks at their exact edges (issue 21).

test_wire.py shows that good frames open and bad ones are refused; these pin each check
at its boundary, where a mutant of the wire got away before: counters of 2**64, an empty
``src``, a frame of exactly ``max_frame`` bytes, a replay window of exactly ``window``
frames and a bit mask that must stay bounded, a handshake answer of every odd length.
"""

from __future__ import annotations

import json

import msgpack
import pytest

from dsys.core import codec
from dsys.errors import ConfigError
from dsys.runtime import wire as wire_module
from dsys.runtime.wire import (
    ANSWER_LIMIT,
    CHALLENGE_SIZE,
    HEADER_SIZE,
    TAG_SIZE,
    Handshake,
    Rejected,
    ReplayGuard,
    Wire,
)
from tests.runtime.apps import Put

SECRET = b"a cluster secret"
PUT = codec.encode(Put("k", 1))


def refused(wire: Wire, data: bytes) -> Rejected:
    with pytest.raises(Rejected) as info:
        wire.open(data)
    return info.value


def frame(payload: object, *, flags: int = 0, codec_byte: bytes = b"j") -> bytes:
    body = json.dumps(payload).encode() if codec_byte == b"j" else msgpack.packb(payload)
    return b"\x01" + codec_byte + bytes([flags]) + body


def payload(**changes: object) -> dict[str, object]:
    return {"src": "a", "dst": "b", "boot": 1, "seq": 1, "msg": PUT, **changes}


# -- counters and names in the payload ------------------------------------------------------


@pytest.mark.parametrize("name", ["boot", "seq"])
def test_counters_are_64_bit_unsigned_integers(name: str) -> None:
    b = Wire("b")
    for good in (0, 2**64 - 1):
        assert getattr(b.open(frame(payload(**{name: good}))), name) == good
    for bad in (2**64, -1, True, 1.0, "1", None):
        r = refused(b, frame(payload(**{name: bad})))
        assert (r.reason, r.detail) == ("malformed", f"{name} must be an integer in 0..2**64-1")


@pytest.mark.parametrize("src, dst", [("", "b"), (1, "b"), (None, "b"), ("a", 2), ("a", None)])
def test_src_must_be_a_non_empty_string_and_dst_a_string(src: object, dst: object) -> None:
    r = refused(Wire("b"), frame(payload(src=src, dst=dst)))
    assert (r.reason, r.detail) == ("malformed", "src and dst must be non-empty strings")


def test_payload_keys_must_be_exactly_the_five() -> None:
    b = Wire("b")
    extra = refused(b, frame({**payload(), "x": 1}))
    assert extra.reason == "malformed"
    assert extra.detail == (
        "payload must have exactly the keys ['boot', 'dst', 'msg', 'seq', "
        "'src'], got ['boot', 'dst', 'msg', 'seq', 'src', 'x']"
    )
    short = dict(payload())
    del short["boot"]
    assert "got ['dst', 'msg', 'seq', 'src']" in refused(b, frame(short)).detail
    assert refused(b, frame([1, 2])).detail.endswith("got list")


def test_wrong_destination_names_both() -> None:
    r = refused(Wire("b"), frame(payload(dst="c")))
    assert (r.reason, r.detail) == ("wrong destination", "frame for 'c' reached 'b'")
    assert str(r) == "wrong destination: frame for 'c' reached 'b'"


def test_the_message_itself_is_checked_last() -> None:
    b = Wire("b")
    assert refused(b, frame(payload(msg=[1]))).detail == "msg must be an object, got list"
    r = refused(b, frame(payload(msg={"type": "nope:None", "body": {}})))
    assert (r.reason, r.detail) == ("unknown type", "no message class is registered as 'nope:None'")
    assert refused(b, frame(payload(msg={"type": 5}))).reason == "invalid message"
    bad_stamps = {**PUT, "stamps": {"lamport": 2**64}}
    assert refused(b, frame(payload(msg=bad_stamps))).reason == "invalid message"
    got = b.open(frame(payload(msg={**PUT, "stamps": {"lamport": 3}})))
    assert got.stamps == {"lamport": 3} and got.msg == Put("k", 1)
    assert b.open(frame(payload())).stamps is None
    assert b.open(frame(payload(msg={**PUT, "stamps": {}}))).stamps is None


# -- the header -------------------------------------------------------------------------------


def test_a_frame_of_exactly_max_frame_bytes_is_accepted() -> None:
    data = Wire("a", boot=1).seal("b", PUT)
    assert Wire("b", max_frame=len(data)).open(data).msg == Put("k", 1)
    r = refused(Wire("b", max_frame=len(data) - 1), data)
    assert (r.reason, r.detail) == ("too large", f"{len(data)} bytes, limit {len(data) - 1}")


def test_header_checks_in_order() -> None:
    b = Wire("b")
    assert refused(b, b"\x01j").reason == "truncated"
    assert refused(b, b"").detail == "0 bytes is shorter than a frame header"
    assert refused(b, b"\x01j\x00").reason == "malformed"  # a header and no payload
    assert refused(b, b"\x02j\x00{}").detail == "frame version 2, expected 1"
    assert refused(b, b"\x01j\x02{}").reason == "unexpected handshake"
    assert refused(b, b"\x01j\x03{}").reason == "unexpected handshake"
    assert refused(b, b"\x01m\x00{}").detail == "frame uses msgpack, this cluster uses json"
    assert (
        refused(b, b"\x01z\x00{}").detail
        == "frame uses unknown codec byte 122, this cluster uses json"
    )
    assert refused(b, b"\x01j\x04{}").detail == "unknown flag bits 0x04"
    assert refused(b, b"\x01j\x01{}").reason == "unexpected tag"
    assert refused(b, b"\x01j\x00\xff").reason == "malformed"  # not UTF-8


def test_authentication_edges() -> None:
    a, b = Wire("a", secret=SECRET, boot=1), Wire("b", secret=SECRET)
    data = a.seal("b", PUT)
    assert data[:HEADER_SIZE] == b"\x01j\x01" and len(data) > HEADER_SIZE + TAG_SIZE
    assert (
        refused(b, data[: HEADER_SIZE + TAG_SIZE - 1]).detail == "frame too short to hold its tag"
    )
    assert refused(b, data[: HEADER_SIZE + TAG_SIZE]).reason == "bad tag"  # no payload
    assert refused(b, b"\x01j\x00" + data[HEADER_SIZE + TAG_SIZE :]).reason == "unauthenticated"
    altered = data[:-2] + bytes([data[-2] ^ 1]) + data[-1:]
    assert refused(b, altered).reason == "bad tag"
    assert refused(Wire("b", secret=b"other"), data).reason == "bad tag"
    assert b.open(data).msg == Put("k", 1)
    assert a.authenticated and not Wire("x").authenticated


def test_sealing_counts_and_names_frames() -> None:
    a = Wire("a", boot=7)
    assert a.seq == 0
    first = json.loads(a.seal("b", PUT)[HEADER_SIZE:])
    assert first == {"src": "a", "dst": "b", "boot": 7, "seq": 1, "msg": PUT}
    assert a.last_id == "a:7:1"
    a.seal("b", PUT)
    assert a.seq == 2 and a.last_id == "a:7:2"
    opened = Wire("b").open(a.seal("b", PUT))
    assert (opened.seq, opened.boot, opened.id) == (3, 7, "a:7:3")
    with pytest.raises(ConfigError, match="unknown codec 'xml'; use one of json, msgpack"):
        Wire("a", codec="xml")
    assert Wire("a", codec="msgpack", boot=1).seal("b", PUT)[:3] == b"\x01m\x00"


def test_msgpack_frames_are_checked_the_same() -> None:
    b = Wire("b", codec="msgpack")
    assert b.open(frame(payload(), codec_byte=b"m")).msg == Put("k", 1)
    assert refused(b, frame(payload(seq=-1), codec_byte=b"m")).reason == "malformed"
    assert refused(b, b"\x01m\x00\xc1").detail.startswith("malformed msgpack: ")
    with pytest.raises(Exception, match="not msgpack-serialisable"):
        Wire("a", codec="msgpack").seal("b", {"x": object()})


# -- the replay guard -------------------------------------------------------------------------


def test_the_replay_mask_stays_within_the_window() -> None:
    guard = ReplayGuard(window=8)
    for seq in range(1, 200):
        assert guard.check("a", 1, seq) is None
        mask = guard._senders["a"][2]
        assert mask.bit_length() <= 8
    assert guard._senders["a"] == (1, 199, 0xFF)
    assert guard.check("a", 1, 192) == "replayed" and guard.check("a", 1, 191) == "too old"


def test_the_window_boundaries() -> None:
    guard = ReplayGuard(window=4)
    assert [guard.check("a", 1, s) for s in (10, 7, 6, 7)] == [None, None, "too old", "replayed"]
    # A jump of window - 1 keeps the old highest in the mask; of window or more, it is gone.
    guard = ReplayGuard(window=4)
    assert [guard.check("a", 1, s) for s in (1, 2, 5, 2, 3, 4)] == [
        None,
        None,
        None,
        "replayed",
        None,
        None,
    ]
    guard = ReplayGuard(window=4)
    assert [guard.check("a", 1, s) for s in (1, 6, 1, 3, 3)] == [
        None,
        None,
        "too old",
        None,
        "replayed",
    ]
    guard = ReplayGuard(window=4)
    assert [guard.check("a", 1, s) for s in (2, 1, 3, 1, 2)] == [
        None,
        None,
        None,
        "replayed",
        "replayed",
    ]


def test_the_default_window_is_1024_frames() -> None:
    assert ReplayGuard().window == 1024
    guard = Wire("b", secret=SECRET)._guard
    assert guard is not None and guard.window == 1024
    assert Wire("b")._guard is None


def test_boots_and_senders_are_separate() -> None:
    guard = ReplayGuard(window=4)
    assert guard.check("a", 5, 3) is None
    assert guard.check("b", 5, 3) is None  # another sender
    assert guard.check("a", 5, 3) == "replayed"
    assert guard.check("a", 6, 3) is None  # a new incarnation starts afresh
    assert guard.check("a", 6, 2) is None
    assert guard.check("a", 5, 4) == "stale boot"
    assert guard._senders["a"] == (6, 3, 0b11)


def test_a_replayed_frame_is_refused_with_its_counter() -> None:
    a, b = Wire("a", secret=SECRET, boot=255), Wire("b", secret=SECRET, replay_window=2)
    frames = [a.seal("b", PUT) for _ in range(4)]
    b.open(frames[0])
    r = refused(b, frames[0])
    assert (r.reason, r.detail) == ("replayed", "frame 1 of 'a' (boot ff)")
    b.open(frames[3])
    assert refused(b, frames[1]).reason == "too old"  # 2 behind a window of 2
    assert b.open(frames[2]).seq == 3
    plain = Wire("a", boot=1).seal("c", PUT)
    c = Wire("c")
    assert c.open(plain).seq == c.open(plain).seq == 1  # no secret: no guard


# -- the handshake ----------------------------------------------------------------------------


def test_a_handshake_round_trip_and_its_sizes() -> None:
    server, client = Handshake(SECRET, "n1"), Handshake(SECRET, "n2")
    nonce, challenge = server.challenge()
    assert len(challenge) == CHALLENGE_SIZE == HEADER_SIZE + 16 and challenge[:3] == b"\x01h\x02"
    assert server.challenge()[0] != nonce
    answer = client.answer(challenge)
    assert answer[:3] == b"\x01h\x03" and answer[HEADER_SIZE + TAG_SIZE :] == b"n2"
    assert server.check(nonce, answer) == "n2"
    for bad in (
        challenge[:-1],
        challenge + b"x",
        b"\x01h\x03" + challenge[3:],
        b"\x02h\x02" + challenge[3:],
    ):
        with pytest.raises(Rejected, match="expected a handshake challenge"):
            client.answer(bad)


def test_a_handshake_answer_of_odd_length_or_content_is_refused() -> None:
    server = Handshake(SECRET, "n1")
    nonce, _ = server.challenge()

    def answer_for(ident: bytes) -> bytes:
        return b"\x01h\x03" + server._tag(nonce, ident) + ident

    longest = "n" * 128
    assert len(answer_for(longest.encode())) <= ANSWER_LIMIT
    assert server.check(nonce, answer_for(longest.encode())) == longest
    for bad in (
        answer_for(b""),
        answer_for(b"x" * (ANSWER_LIMIT - HEADER_SIZE - TAG_SIZE + 1)),
        b"\x01h\x02" + answer_for(b"n2")[3:],
    ):
        with pytest.raises(Rejected, match="must answer the handshake challenge"):
            server.check(nonce, bad)
    at_limit = answer_for(b"x" * (ANSWER_LIMIT - HEADER_SIZE - TAG_SIZE))
    with pytest.raises(Rejected, match="names no valid id"):  # the length passes; the id not
        server.check(nonce, at_limit)
    with pytest.raises(Rejected, match="wrong tag"):
        server.check(nonce, answer_for(b"n2")[:-1] + b"3")
    for ident in (b"\xff\xfe", b"a/b", b"n" * 129):
        with pytest.raises(Rejected, match="names no valid id"):
            server.check(nonce, answer_for(ident))
    assert wire_module.ANSWER_LIMIT == HEADER_SIZE + TAG_SIZE + 4 * 128
