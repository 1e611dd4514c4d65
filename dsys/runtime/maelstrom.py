"""Run a dsys node under Jepsen's Maelstrom (and the Gossip Glomers challenges).

Maelstrom starts each node as a process and exchanges JSON messages with it, one per
line: ``{"src": "c1", "dest": "n1", "body": {"type": "echo", "msg_id": 1, ...}}`` on stdin,
answers on stdout, logs on stderr. ``dsys maelstrom app.py:Factory`` is such a process.

**The mapping** between Maelstrom bodies and dsys messages:

* A body's ``type`` names a message class: the class attribute ``maelstrom_type`` if it
  has one, else its class name in snake_case (``EchoOk`` -> ``"echo_ok"``,
  ``KVRead`` -> ``"kv_read"``). Classes are looked up among all registered messages;
  if two share a type, the one in the target's module wins (or set ``maelstrom_type``).
* Every other body key is a field of the class, decoded strictly by the wire codec: a
  missing field, an extra key or a value of the wrong type is a ``malformed-request``.
* ``msg_id`` and ``in_reply_to`` belong to the host, unless the class declares fields
  with those names (then incoming values fill them, and values you set are sent). The
  host gives every outgoing message without a ``msg_id`` a fresh one.
* **Replying**: when a handler sends a message to the node whose message it is handling,
  that message gets ``in_reply_to`` = the request's ``msg_id`` (unless it sets its own).
  So ``self.send(src, EchoOk(msg.echo))`` in ``on_message`` is a correct Maelstrom reply.
  To answer later (from another handler), declare ``msg_id: int | None = None`` on the
  request class and ``in_reply_to: int | None = None`` on the reply class, remember the
  request's ``msg_id`` and set ``in_reply_to`` yourself.
* Errors: :class:`MaelstromError` is the ``error`` body (``code``, ``text``,
  ``in_reply_to``); send it to refuse a request, and receive it from Maelstrom's services
  (``lin-kv``...). :class:`ErrorCode` lists the standard codes. The host itself answers
  ``not-supported`` (10) for an unknown type, ``temporarily-unavailable`` (11) before
  ``init``, ``malformed-request`` (12) for a body that does not decode, and ``crash`` (13)
  when the handler raises without having replied.
* ``init`` is handled by the host: it builds the node with ``id`` = ``node_id`` and
  ``peers`` = the other ``node_ids`` (sorted), answers ``init_ok``, then runs
  ``on_start`` (``on_recover`` if ``--data-dir`` shows it ran before). Every id must be a
  valid node id (:func:`dsys.core.rules.check_node_id`: ``../escaped`` is not, so trace
  and data files stay in their directories); a bad one is ``malformed-request``.
* A line is refused (counted, not answered) unless ``src`` and ``dest`` are valid node
  ids and ``msg_id``, if present, is an integer (``true`` is not) within the wire's
  range (:data:`dsys.core.codec.INT_MIN` .. :data:`~dsys.core.codec.INT_MAX`).
* :class:`MaelstromError` is registered as a message (tag ``dsys.maelstrom:error``) only
  when a :class:`MaelstromCodec` is made (a Maelstrom host makes one): other processes
  (``dsys run``) do not accept it from the wire.
* Layer stamps (e.g. a Lamport clock) travel in the body key ``dsys_stamps``.
* A node sends to the ``node_ids`` of ``init``, to Maelstrom's services (``lin-kv``,
  ``seq-kv``, ``lww-kv``, ``lin-tso``) and to whoever it has heard from (Maelstrom's
  clients ``c1``, ``c2``...); any other destination raises the
  :class:`~dsys.errors.UsageError` every host raises (see :mod:`dsys.core.rules`), and
  the request being handled is answered ``crash``.

Example:
    >>> from dsys import message
    >>> from dsys.runtime.maelstrom import maelstrom_type
    >>> @message(name="doc:EchoOk")
    ... class EchoOk:
    ...     echo: str
    >>> maelstrom_type(EchoOk)
    'echo_ok'
"""

from __future__ import annotations

import enum
import os
import re
import signal
import sys
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import IO, Any

import attrs
import trio

from dsys.core import codec
from dsys.core.messages import message, message_tag, registered_messages, short_name
from dsys.core.rules import check_node_id, is_node_id
from dsys.errors import CodecError, ConfigError
from dsys.runtime.host import HostBase, NodeFactory

#: A line longer than this (bytes) is refused: Maelstrom never sends anything close.
MAX_LINE = 1 << 20
#: The body key that carries layer stamps between dsys nodes.
STAMPS_KEY = "dsys_stamps"
#: Maelstrom's own services, which a node may send to without having heard from them.
SERVICES = ("lin-kv", "lin-tso", "lww-kv", "seq-kv")
_RESERVED = frozenset({"type", "msg_id", "in_reply_to", STAMPS_KEY})


class ErrorCode(enum.IntEnum):
    """Maelstrom's standard error codes (doc/protocol.md#errors in jepsen-io/maelstrom).

    ``TIMEOUT`` and ``CRASH`` are *indefinite* (the operation may have happened); the
    others are *definite* (it did not).
    """

    TIMEOUT = 0
    NODE_NOT_FOUND = 1
    NOT_SUPPORTED = 10
    TEMPORARILY_UNAVAILABLE = 11
    MALFORMED_REQUEST = 12
    CRASH = 13
    ABORT = 14
    KEY_DOES_NOT_EXIST = 20
    KEY_ALREADY_EXISTS = 21
    PRECONDITION_FAILED = 22
    TXN_CONFLICT = 30


# Not decorated with @message: registered by MaelstromCodec (see the module docstring).
@attrs.frozen
class MaelstromError:
    """Maelstrom's ``error`` body: send it to refuse a request, or receive it from a
    Maelstrom service. ``in_reply_to`` None means: the request being handled.

    It becomes a registered message (tag ``dsys.maelstrom:error``) when a
    :class:`MaelstromCodec` is made, so only Maelstrom processes accept it.
    """

    maelstrom_type = "error"

    code: int
    text: str = ""
    in_reply_to: int | None = None


def maelstrom_type(cls: type) -> str:
    """The Maelstrom body ``type`` of message class ``cls`` (see the module docstring)."""
    explicit = getattr(cls, "maelstrom_type", None)
    if isinstance(explicit, str) and explicit:
        return explicit
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", cls.__name__)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _register_maelstrom_error() -> None:
    message(name="dsys.maelstrom:error")(MaelstromError)  # a no-op once registered


def _msg_id_problem(msg_id: object) -> str | None:
    """Why ``msg_id`` (present in a body) is not a valid Maelstrom msg_id, or None."""
    if msg_id is None:
        return None
    if isinstance(msg_id, bool) or not isinstance(msg_id, int):
        return f"msg_id must be an integer, got {type(msg_id).__name__}"
    if not codec.INT_MIN <= msg_id <= codec.INT_MAX:
        return "msg_id is out of range (integers on the wire are signed 64-bit)"
    return None


class _Refusal(Exception):
    def __init__(self, code: ErrorCode, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@attrs.define
class _Incoming:
    """The request being handled: who sent it, its msg_id, and whether it was answered."""

    src: str
    msg_id: int | None
    replied: bool = False


class MaelstromCodec:
    """Maps Maelstrom bodies to dsys messages and back (see the module docstring).

    Args:
        prefer_module: when two registered classes have the same Maelstrom type, the
            one defined in this module is used (the target's module).
    """

    def __init__(self, prefer_module: str | None = None) -> None:
        _register_maelstrom_error()
        candidates: dict[str, list[type]] = {}
        for cls in registered_messages().values():
            candidates.setdefault(maelstrom_type(cls), []).append(cls)
        self.classes: dict[str, type] = {}
        self.ambiguous: dict[str, list[type]] = {}
        for name, classes in candidates.items():
            if len(classes) > 1:
                preferred = [c for c in classes if c.__module__ == prefer_module]
                if len(preferred) != 1:
                    self.ambiguous[name] = classes
                    continue
                classes = preferred
            self.classes[name] = classes[0]

    def decode(self, body: Any) -> tuple[Any, int | None, dict[str, Any] | None]:
        """``(message, msg_id, stamps)`` for a body; raises a refusal with an error code."""
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            raise _Refusal(ErrorCode.MALFORMED_REQUEST, "the body must be an object with a "
                                                        "string type")
        msg_id = body.get("msg_id")
        problem = _msg_id_problem(msg_id)
        if problem is not None:
            raise _Refusal(ErrorCode.MALFORMED_REQUEST, problem)
        name = body["type"]
        cls = self.classes.get(name)
        if cls is None:
            if name in self.ambiguous:
                names = ", ".join(f"{c.__module__}.{c.__qualname__}" for c in self.ambiguous[name])
                raise _Refusal(ErrorCode.NOT_SUPPORTED,
                               f"type {name!r} is ambiguous ({names}); give one of them a "
                               "maelstrom_type class attribute")
            raise _Refusal(ErrorCode.NOT_SUPPORTED, f"no message class for type {name!r}")
        own = {a.name for a in attrs.fields(cls)}
        fields = {k: v for k, v in body.items() if k not in _RESERVED or k in own}
        fields.pop("type", None)
        stamps = body.get(STAMPS_KEY)
        if stamps is not None and not isinstance(stamps, dict):
            raise _Refusal(ErrorCode.MALFORMED_REQUEST, f"{STAMPS_KEY} must be an object")
        envelope = {"type": message_tag(cls), "body": fields}
        if stamps is not None:
            envelope["stamps"] = stamps  # checked with the message (numbers in range)
        try:
            msg = codec.decode(envelope)
        except CodecError as exc:
            raise _Refusal(ErrorCode.MALFORMED_REQUEST, str(exc)) from None
        return msg, msg_id, stamps

    def encode(self, msg: object, stamps: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The body of ``msg`` without host-assigned ``msg_id`` / ``in_reply_to``."""
        fields = codec.encode(msg)["body"]
        for key in ("type", STAMPS_KEY):
            if key in fields:
                raise CodecError(f"{short_name(msg)} has a field named {key!r}, which "
                                 "Maelstrom bodies reserve; rename the field")
        body = {"type": maelstrom_type(type(msg)), **fields}
        for key in ("msg_id", "in_reply_to"):
            if key in body and body[key] is None:
                del body[key]  # declared but not set: the host decides
        if stamps:
            body[STAMPS_KEY] = dict(stamps)
        return body


class MaelstromHost(HostBase):
    """Runs one node speaking Maelstrom's protocol on stdin / stdout.

    Args:
        factory: the node class or factory.
        trace_dir: write ``<node id>.jsonl`` trace files here (one per node process).
        data_dir: keep each node's storage in ``<data_dir>/<node id>``.
        input_fd: the file descriptor to read messages from (default: stdin).
        output: where to write messages (default: stdout's binary stream).
    """

    def __init__(self, factory: NodeFactory, *,
                 trace_dir: str | os.PathLike[str] | None = None,
                 data_dir: str | os.PathLike[str] | None = None, input_fd: int = 0,
                 output: IO[bytes] | None = None, echo_logs: bool = True,
                 seed: int | None = None, stderr: IO[str] | None = None) -> None:
        super().__init__(factory, echo_logs=echo_logs, seed=seed, stderr=stderr)
        self._trace_dir = Path(trace_dir) if trace_dir is not None else None
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._input_fd = input_fd
        self._output = output if output is not None else sys.stdout.buffer
        self._codec = MaelstromCodec(getattr(factory, "__module__", None))
        self._next_msg_id = 0
        self._handling: _Incoming | None = None

    async def run(self) -> None:
        """Serve until stdin closes or a signal arrives."""
        self._start_clock()
        try:
            async with trio.open_nursery() as nursery:
                self._cancel_scope = nursery.cancel_scope
                nursery.start_soon(self._read_input)
                nursery.start_soon(self._watch_signals)
                nursery.start_soon(self._run_clock)
                if self._trace_dir is not None:
                    nursery.start_soon(self._run_flusher)
                await self._run_node()
        finally:
            self._stopped_at = trio.current_time()
            self._close()

    # ----- input: lines to jobs -------------------------------------------------------

    async def _read_input(self) -> None:
        stream = trio.lowlevel.FdStream(os.dup(self._input_fd))
        buffer = bytearray()
        skipping = False  # inside an over-long line: drop bytes up to its newline
        async with stream:
            while chunk := await stream.receive_some(65536):
                buffer += chunk
                while (end := buffer.find(b"\n")) >= 0:
                    line = bytes(buffer[:end])
                    del buffer[:end + 1]
                    if skipping:
                        skipping = False
                    elif line.strip():
                        await self._accept_line(line)
                if len(buffer) > MAX_LINE:
                    self._reject("too large", f"a line longer than {MAX_LINE} bytes", "stdin")
                    buffer.clear()
                    skipping = True
        if buffer.strip() and not skipping:
            await self._accept_line(bytes(buffer))
        # End of input: Maelstrom is done with us. Finish what is queued, then stop.
        await self._submit(self.stop)

    async def _accept_line(self, line: bytes) -> None:
        try:
            obj = codec.loads(line)
        except CodecError as exc:
            self._reject("malformed", str(exc), "stdin")
            return
        if (not isinstance(obj, dict) or not is_node_id(obj.get("src"))
                or not is_node_id(obj.get("dest")) or not isinstance(obj.get("body"), dict)):
            self._reject("malformed", "a message needs an object body, and src and dest that "
                                      "are valid node ids", "stdin")
            return
        problem = _msg_id_problem(obj["body"].get("msg_id"))
        if problem is not None:  # not answered: an answer could not say what it answers
            self._reject("malformed", problem, obj["src"])
            return
        await self._submit(partial(self._on_input, obj["src"], obj["dest"], obj["body"]))

    # ----- jobs: one at a time, in order (see dsys.runtime.host) -------------------------

    def _on_input(self, src: str, dest: str, body: dict[str, Any]) -> None:
        msg_id = body.get("msg_id")  # an int or None (see _accept_line)
        if body.get("type") == "init":
            self._init(src, body, msg_id)
            return
        if self.node is None:
            self._refuse(src, msg_id, ErrorCode.TEMPORARILY_UNAVAILABLE,
                         "this node has not received init yet", sender=dest)
            return
        if dest != self.node_id:
            self._reject("wrong destination", f"message for {dest!r} reached {self.node_id!r}",
                         src)
            return
        if src not in self._known:
            self._heard_from(src)  # a client: the node may answer it
        try:
            msg, msg_id, stamps = self._codec.decode(body)
        except _Refusal as refusal:
            unknown = refusal.code == ErrorCode.NOT_SUPPORTED
            self._reject("unknown type" if unknown else "invalid message", refusal.text, src)
            self._refuse(src, msg_id, refusal.code, refusal.text)
            return
        incoming = _Incoming(src, msg_id)
        self._handling = incoming
        errors = self.handler_errors
        try:
            mid = f"{src}:{msg_id}" if msg_id is not None else f"{src}:-"
            self._deliver(src, msg, stamps, lambda: {
                "from": src, "id": mid, "msg": {"type": message_tag(type(msg)),
                                                "body": codec.encode(msg)["body"]}})
        finally:
            self._handling = None
        if self.handler_errors > errors and not incoming.replied:
            self._refuse(src, msg_id, ErrorCode.CRASH, "the handler raised (see the node's log)")

    def _init(self, src: str, body: dict[str, Any], msg_id: int | None) -> None:
        node_id, node_ids = body.get("node_id"), body.get("node_ids")
        if not isinstance(node_ids, list):
            self._refuse(src, msg_id, ErrorCode.MALFORMED_REQUEST,
                         "init needs a string node_id and a list of string node_ids")
            return
        try:
            # Ids name trace files and data directories: "../escaped" must not be one.
            node_id = check_node_id(node_id)
            for peer in node_ids:
                check_node_id(peer)
        except ConfigError as exc:
            self._reject("invalid message", f"init: {exc}", src)
            self._refuse(src, msg_id, ErrorCode.MALFORMED_REQUEST, f"init: {exc}")
            return
        if self.node is not None:
            self._refuse(src, msg_id, ErrorCode.ABORT, f"already initialised as {self.node_id}")
            return
        self.node_id = node_id
        if self._trace_dir is not None and self._trace is None:
            self._trace = self._open_trace(self._trace_dir / f"{node_id}.jsonl")
        self._write(src, {"type": "init_ok", "msg_id": self._new_msg_id(),
                          **({"in_reply_to": msg_id} if msg_id is not None else {})})
        peers = tuple(sorted(set(node_ids) - {node_id}))
        self._known = frozenset(node_ids) | {node_id, *SERVICES}
        self._boot(node_id, peers, self._data_dir / node_id if self._data_dir else None)

    # ----- output -------------------------------------------------------------------------

    def _send(self, dst: str, msg: object, stamps: dict[str, Any] | None) -> None:
        if dst.__class__ is not str or dst not in self._known:
            self._check_destination(dst, msg)  # raises for an id it has not heard from
        body = self._codec.encode(msg, stamps)
        body.setdefault("msg_id", self._new_msg_id())
        handling = self._handling
        if handling is not None and dst == handling.src:
            # A message to the sender of the request being handled is its reply.
            handling.replied = True
            if "in_reply_to" not in body and handling.msg_id is not None:
                body["in_reply_to"] = handling.msg_id
        self.messages_out += 1
        if self._trace is not None:
            event: dict[str, Any] = {"to": dst, "id": f"{self.node_id}:{body['msg_id']}",
                                     "msg": {"type": message_tag(type(msg)),
                                             "body": codec.encode(msg)["body"]}}
            if stamps:
                event["stamps"] = stamps
            self._record("send", event)
        self._write(dst, body)

    def _refuse(self, dst: str, msg_id: int | None, code: ErrorCode, text: str, *,
                sender: str | None = None) -> None:
        if msg_id is None:
            return  # not a request: there is nobody to tell
        self._write(dst, {"type": "error", "msg_id": self._new_msg_id(), "in_reply_to": msg_id,
                          "code": int(code), "text": text}, sender=sender)

    def _write(self, dst: str, body: dict[str, Any], *, sender: str | None = None) -> None:
        # Before init the node has no id yet: it answers as whoever it was addressed as.
        src = sender if sender is not None else self.node_id
        line = codec.dumps({"src": src, "dest": dst, "body": body}) + b"\n"
        self._output.write(line)
        self._output.flush()

    def _new_msg_id(self) -> int:
        self._next_msg_id += 1
        return self._next_msg_id

    async def _watch_signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                self.stop()
                return

