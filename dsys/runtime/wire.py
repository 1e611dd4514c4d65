"""Frames: what one message looks like on a real network, and how a receiver checks it.

Rules of this file: a frame is *refused* (raise :class:`Rejected` with a short reason)
unless every check passes, in this order, and nothing from the frame is trusted before
the check that covers it:

1. size: no bigger than the cluster's ``max_frame`` (TCP checks the length prefix before
   reading the body: see :mod:`dsys.runtime.transport`);
2. header: version, codec and flags bytes;
3. authentication (only with a cluster secret): the HMAC-SHA256 tag over the whole frame;
4. payload: exactly the keys ``src``, ``dst``, ``boot``, ``seq``, ``msg`` with the right types;
5. destination: ``dst`` is this endpoint;
6. replay (only with a secret): ``(src, boot, seq)`` was never accepted before;
7. message: ``msg`` is an envelope of a *registered* type with exactly its fields
   (:func:`dsys.core.codec.decode`); nothing is unpickled or evaluated.

With a secret, a TCP connection carries frames only after a :class:`Handshake`: the
endpoint that accepted it sends a fresh random challenge, and the one that opened it
answers with its id and a tag over that challenge. A route back to an id is learned only
over a connection whose handshake named that id (see :mod:`dsys.runtime.transport`), so a
frame recorded earlier and sent again on another connection can neither be delivered
there nor take over a route, even by a receiver that restarted and forgot what it
accepted.

Layout of a frame (TCP puts a 4-byte big-endian length in front of each)::

    +---------+-------+-------+------------------------------+---------------------------+
    | version | codec | flags | tag (32 bytes, if flags & 1) | payload (JSON or msgpack) |
    +---------+-------+-------+------------------------------+---------------------------+

    payload = {"src": "a", "dst": "b", "boot": 1712..., "seq": 17,
               "msg": {"type": "app:Ping", "body": {"seq": 3}, "stamps": {...}}}

Handshake frames (TCP, with a secret) have their own header, with the handshake flag::

    challenge = version, "h", flags 2, nonce (16 random bytes)
    answer    = version, "h", flags 3, tag (32 bytes), the answering endpoint's id (UTF-8)
    tag       = HMAC-SHA256(secret, "dsys handshake" + 0 + challenge nonce + id)

``boot`` identifies one incarnation of the sender (its start time in nanoseconds) and
``seq`` counts its frames from 1. With a secret, they make a replay guard: a receiver
accepts each ``(src, boot, seq)`` once, from the newest ``boot`` it has seen, within a
window of ``replay_window`` frames behind the highest ``seq`` (so reordering is fine).

Example:
    >>> from dsys import message
    >>> from dsys.core import codec
    >>> from dsys.runtime.wire import Wire, Rejected
    >>> @message(name="doc:Hi")
    ... class Hi:
    ...     n: int
    >>> a, b = Wire("a", secret=b"s3cret"), Wire("b", secret=b"s3cret")
    >>> data = a.seal("b", codec.encode(Hi(1)))
    >>> b.open(data).msg
    Hi(n=1)
    >>> try:
    ...     b.open(data)                       # the same frame again
    ... except Rejected as r:
    ...     print(r.reason)
    replayed
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any, NamedTuple

from dsys.core import codec
from dsys.core.ids import message_id
from dsys.core.messages import lookup_message
from dsys.core.rules import MAX_NODE_ID, is_node_id
from dsys.errors import CodecError, ConfigError
from dsys.runtime.config import DEFAULT_MAX_FRAME

FRAME_VERSION = 1
HEADER_SIZE = 3
TAG_SIZE = 32
FLAG_AUTHENTICATED = 0x01
FLAG_HANDSHAKE = 0x02
NONCE_SIZE = 16
#: A challenge frame's size (without TCP's length prefix).
CHALLENGE_SIZE = HEADER_SIZE + NONCE_SIZE
#: The largest handshake answer: header, tag and the longest id in UTF-8.
ANSWER_LIMIT = HEADER_SIZE + TAG_SIZE + 4 * MAX_NODE_ID
_HANDSHAKE_CODEC = ord("h")
_HANDSHAKE_CONTEXT = b"dsys handshake\x00"
CODEC_BYTES = {"json": ord("j"), "msgpack": ord("m")}
_CODEC_NAMES = {v: k for k, v in CODEC_BYTES.items()}
_PAYLOAD_KEYS = frozenset({"src", "dst", "boot", "seq", "msg"})
# Counters are 64-bit: a bigger number is garbage, not a very long-lived sender.
_MAX_COUNTER = (1 << 64) - 1


class Rejected(Exception):
    """A frame that failed a check. ``reason`` is short and stable (it is what is counted);
    ``detail`` says what exactly was wrong."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Frame(NamedTuple):
    """A frame that passed every check: who sent it, its counters and its message.

    (A named tuple rather than an attrs class: one is built for every message received,
    and a tuple is the cheapest immutable record Python has.)
    """

    src: str
    dst: str
    boot: int
    seq: int
    msg: Any
    envelope: dict[str, Any]

    @property
    def stamps(self) -> dict[str, Any] | None:
        """The layer stamps that came with the message, if any."""
        return self.envelope.get("stamps") or None

    @property
    def id(self) -> str:
        """A message id unique across senders and their restarts (used in traces):
        :func:`dsys.core.ids.message_id` with the sender's ``boot`` as its epoch."""
        return message_id(self.src, self.boot, self.seq)


class ReplayGuard:
    """Accepts each ``(src, boot, seq)`` at most once (a sliding window, as in IPsec).

    Per sender it keeps the newest ``boot``, the highest ``seq`` accepted and a bit mask
    of which of the ``window`` counters below it were seen. A frame from an older boot
    (an earlier incarnation of the sender) or too far behind is refused too.

    Example:
        >>> guard = ReplayGuard(window=4)
        >>> [guard.check("a", 1, s) for s in (1, 3, 2, 3, 9, 5, 6)]
        [None, None, None, 'replayed', None, 'too old', None]
        >>> guard.check("a", 0, 10), guard.check("a", 2, 1)
        ('stale boot', None)
    """

    def __init__(self, window: int = 1024) -> None:
        self.window = window
        self._full = (1 << window) - 1
        # src -> (boot, highest seq accepted, mask: bit i set = seq highest - i was seen)
        self._senders: dict[str, tuple[int, int, int]] = {}

    def check(self, src: str, boot: int, seq: int) -> str | None:
        """Record ``(src, boot, seq)`` and return None, or return why it is refused."""
        state = self._senders.get(src)
        if state is None or boot > state[0]:
            self._senders[src] = (boot, seq, 1)  # first frame of a new incarnation
            return None
        known_boot, highest, mask = state
        if boot < known_boot:
            return "stale boot"
        if seq > highest:
            shift = seq - highest
            # Never shift by a huge amount: a jump past the window just starts a new mask.
            mask = ((mask << shift) | 1) & self._full if shift < self.window else 1
            self._senders[src] = (boot, seq, mask)
            return None
        behind = highest - seq
        if behind >= self.window:
            return "too old"
        if mask >> behind & 1:
            return "replayed"
        self._senders[src] = (boot, highest, mask | 1 << behind)
        return None


class Wire:
    """Seals outgoing frames and opens (checks) incoming ones, for endpoint ``local_id``.

    Args:
        local_id: this endpoint's id; frames for anyone else are refused.
        codec: ``"json"`` or ``"msgpack"`` (every endpoint of a cluster uses the same).
        secret: the cluster secret; when set, frames are authenticated and replay-guarded.
        max_frame: the largest frame accepted, in bytes.
        replay_window: see :class:`ReplayGuard`.
        boot: this incarnation's id (default: the current time in nanoseconds, so a
            restarted sender has a larger one than before).
    """

    def __init__(self, local_id: str, *, codec: str = "json", secret: bytes | None = None,
                 max_frame: int = DEFAULT_MAX_FRAME, replay_window: int = 1024,
                 boot: int | None = None) -> None:
        if codec not in CODEC_BYTES:
            raise ConfigError(f"unknown codec {codec!r}; use one of {', '.join(CODEC_BYTES)}")
        self.local_id = local_id
        self.codec = codec
        self.max_frame = max_frame
        self.boot = time.time_ns() if boot is None else boot
        self.seq = 0
        self._key = secret
        self._guard = ReplayGuard(replay_window) if secret else None
        flags = FLAG_AUTHENTICATED if secret else 0
        self._header = bytes([FRAME_VERSION, CODEC_BYTES[codec], flags])
        self._dumps, self._loads = _serializers(codec)

    @property
    def authenticated(self) -> bool:
        """True if this endpoint signs and checks frames with a cluster secret."""
        return self._key is not None

    @property
    def last_id(self) -> str:
        """The message id of the frame sealed last."""
        return message_id(self.local_id, self.boot, self.seq)

    def seal(self, dst: str, envelope: dict[str, Any]) -> bytes:
        """The frame carrying ``envelope`` (from :func:`dsys.core.codec.encode`) to ``dst``."""
        self.seq += 1
        payload = self._dumps({"src": self.local_id, "dst": dst, "boot": self.boot,
                               "seq": self.seq, "msg": envelope})
        if self._key is None:
            return self._header + payload
        tag = hmac.digest(self._key, self._header + payload, hashlib.sha256)
        return self._header + tag + payload

    def open(self, data: bytes) -> Frame:
        """Check ``data`` and return the :class:`Frame` in it; raise :class:`Rejected`."""
        if len(data) > self.max_frame:
            raise Rejected("too large", f"{len(data)} bytes, limit {self.max_frame}")
        if len(data) < HEADER_SIZE:
            raise Rejected("truncated", f"{len(data)} bytes is shorter than a frame header")
        version, codec_byte, flags = data[0], data[1], data[2]
        if version != FRAME_VERSION:
            raise Rejected("bad version", f"frame version {version}, expected {FRAME_VERSION}")
        if flags & FLAG_HANDSHAKE:
            raise Rejected("unexpected handshake", "a handshake frame outside the start of "
                                                   "a connection")
        if codec_byte != self._header[1]:
            name = _CODEC_NAMES.get(codec_byte, f"unknown codec byte {codec_byte}")
            raise Rejected("wrong codec", f"frame uses {name}, this cluster uses {self.codec}")
        if flags & ~FLAG_AUTHENTICATED:
            raise Rejected("bad flags", f"unknown flag bits {flags:#04x}")
        payload = self._authenticate(data, flags)
        src, dst, boot, seq, envelope = self._parse(payload)
        if dst != self.local_id:
            raise Rejected("wrong destination", f"frame for {dst!r} reached {self.local_id!r}")
        if self._guard is not None:
            problem = self._guard.check(src, boot, seq)
            if problem is not None:
                raise Rejected(problem, f"frame {seq} of {src!r} (boot {boot:x})")
        return Frame(src, dst, boot, seq, _decode_message(envelope), envelope)

    def _authenticate(self, data: bytes, flags: int) -> bytes:
        if self._key is None:
            if flags & FLAG_AUTHENTICATED:
                raise Rejected("unexpected tag", "frame is authenticated but this endpoint "
                                                 "has no cluster secret")
            return data[HEADER_SIZE:]
        if not flags & FLAG_AUTHENTICATED:
            raise Rejected("unauthenticated", "this cluster has a secret; the frame has no tag")
        if len(data) < HEADER_SIZE + TAG_SIZE:
            raise Rejected("truncated", "frame too short to hold its tag")
        tag = data[HEADER_SIZE:HEADER_SIZE + TAG_SIZE]
        payload = data[HEADER_SIZE + TAG_SIZE:]
        expected = hmac.digest(self._key, data[:HEADER_SIZE] + payload, hashlib.sha256)
        # compare_digest takes the same time wherever the bytes differ: no timing oracle.
        if not hmac.compare_digest(tag, expected):
            raise Rejected("bad tag", "the HMAC does not match (wrong secret, or altered)")
        return payload

    def _parse(self, payload: bytes) -> tuple[str, str, int, int, Any]:
        try:
            obj = self._loads(payload)
        except CodecError as exc:
            raise Rejected("malformed", str(exc)) from None
        if not isinstance(obj, dict) or obj.keys() != _PAYLOAD_KEYS:
            keys = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
            raise Rejected("malformed", f"payload must have exactly the keys "
                                        f"{sorted(_PAYLOAD_KEYS)}, got {keys}")
        src, dst, boot, seq = obj["src"], obj["dst"], obj["boot"], obj["seq"]
        if not isinstance(src, str) or not src or not isinstance(dst, str):
            raise Rejected("malformed", "src and dst must be non-empty strings")
        for name, value in (("boot", boot), ("seq", seq)):
            if (isinstance(value, bool) or not isinstance(value, int)
                    or not 0 <= value <= _MAX_COUNTER):
                raise Rejected("malformed", f"{name} must be an integer in 0..2**64-1")
        return src, dst, boot, seq, obj["msg"]


class Handshake:
    """Proves, at the start of a TCP connection, that the endpoint that opened it holds
    the cluster secret *now*, and which id it speaks for.

    The endpoint that accepted the connection sends a :meth:`challenge` (a fresh random
    nonce); the one that opened it sends back its :meth:`answer`: its id, tagged with
    HMAC-SHA256 over the nonce and the id. :meth:`check` returns that id, or raises
    :class:`Rejected` (``bad handshake``). An answer is worth nothing on any other
    connection, whose nonce differs: recording one and sending it again does not open a
    connection, nor does a recorded frame.

    Example:
        >>> server, n2 = Handshake(b"s3cret", "n1"), Handshake(b"s3cret", "n2")
        >>> nonce, challenge = server.challenge()
        >>> answer = n2.answer(challenge)
        >>> server.check(nonce, answer)
        'n2'
        >>> try:
        ...     server.check(server.challenge()[0], answer)  # the same answer, elsewhere
        ... except Rejected as r:
        ...     print(r.reason)
        bad handshake
    """

    def __init__(self, secret: bytes, local_id: str) -> None:
        self._key = secret
        self.local_id = local_id
        self._challenge_header = bytes([FRAME_VERSION, _HANDSHAKE_CODEC, FLAG_HANDSHAKE])
        self._answer_header = bytes([FRAME_VERSION, _HANDSHAKE_CODEC,
                                     FLAG_HANDSHAKE | FLAG_AUTHENTICATED])

    def challenge(self) -> tuple[bytes, bytes]:
        """A fresh nonce and the challenge frame that carries it."""
        nonce = secrets.token_bytes(NONCE_SIZE)
        return nonce, self._challenge_header + nonce

    def answer(self, challenge: bytes) -> bytes:
        """The answer frame to a challenge frame (:class:`Rejected` if it is not one)."""
        if len(challenge) != CHALLENGE_SIZE or challenge[:HEADER_SIZE] != self._challenge_header:
            raise Rejected("bad handshake", "expected a handshake challenge (does the other "
                                            "end have the cluster secret?)")
        ident = self.local_id.encode("utf-8")
        return self._answer_header + self._tag(challenge[HEADER_SIZE:], ident) + ident

    def check(self, nonce: bytes, answer: bytes) -> str:
        """The id an answer to ``nonce`` speaks for; :class:`Rejected` if it is wrong."""
        if (not HEADER_SIZE + TAG_SIZE < len(answer) <= ANSWER_LIMIT
                or answer[:HEADER_SIZE] != self._answer_header):
            raise Rejected("bad handshake", "the first frame on a connection must answer the "
                                            "handshake challenge (does the sender have the "
                                            "cluster secret?)")
        ident = answer[HEADER_SIZE + TAG_SIZE:]
        if not hmac.compare_digest(answer[HEADER_SIZE:HEADER_SIZE + TAG_SIZE],
                                   self._tag(nonce, ident)):
            raise Rejected("bad handshake", "the answer to the challenge has a wrong tag "
                                            "(wrong secret, or recorded on another connection)")
        try:
            local_id = ident.decode("utf-8")
        except UnicodeDecodeError:
            local_id = ""
        if not is_node_id(local_id):
            raise Rejected("bad handshake", "the answer names no valid id")
        return local_id

    def _tag(self, nonce: bytes, ident: bytes) -> bytes:
        return hmac.digest(self._key, _HANDSHAKE_CONTEXT + nonce + ident, hashlib.sha256)


def _decode_message(envelope: Any) -> Any:
    if not isinstance(envelope, dict):
        raise Rejected("malformed", f"msg must be an object, got {type(envelope).__name__}")
    tag = envelope.get("type")
    # Told apart from other decoding errors because it is the classic mistake: the two
    # ends import the message class under different module names (see the docs).
    if isinstance(tag, str) and lookup_message(tag) is None:
        raise Rejected("unknown type", f"no message class is registered as {tag!r}")
    try:
        message = codec.decode(envelope)
        codec.stamps_of(envelope)
    except CodecError as exc:
        raise Rejected("invalid message", str(exc)) from None
    return message


def _json_loads(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")  # faster than letting json guess the encoding
    except UnicodeDecodeError as exc:
        raise CodecError(f"malformed JSON: {exc}") from None
    return codec.loads(text)


def _serializers(name: str) -> tuple[Any, Any]:
    if name == "json":
        return codec.dumps, _json_loads  # the codec's one JSON encoder
    try:
        import msgpack  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError("codec = \"msgpack\" needs the msgpack package: "
                          "pip install 'dsys[msgpack]'") from None

    def dumps(obj: Any) -> bytes:
        try:
            return msgpack.packb(obj, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            raise CodecError(f"not msgpack-serialisable: {exc}") from None

    def loads(data: bytes) -> Any:
        try:
            # strict_map_key: only str/bytes keys; raw=False: strings come back as str.
            return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
        except Exception as exc:  # msgpack raises many kinds; all mean "malformed"
            raise CodecError(f"malformed msgpack: {type(exc).__name__}: {exc}") from None

    return dumps, loads
