"""Trace events and traces: everything that happened in a run, in order.

A trace is a list of :class:`TraceEvent` (time, node, kind, data). The simulator records
one for every send, arrival (``recv``), drop, duplicate, timer set / fire / cancel, crash,
restart, partition, heal, client invoke / complete and node log line; the real runtime
writes the same schema with real timestamps. Saved as JSON Lines, one event per line::

    {"time":0.0031,"node":"b","kind":"recv","data":{"from":"a","id":1,"msg":{...}}}

``recv`` is a message arriving at a node from the network. It is not the *delivery* that
protocols speak of (a broadcast protocol receives a message, then delivers it to the
application when its rules allow: that is a ``note``). Traces written before the kind had
its name call it ``deliver``: :meth:`Trace.load` and :meth:`Trace.filter` still accept it.

:meth:`Trace.digest` is a SHA-256 of those lines: two runs with the same code, seed and
scenario have the same digest, in any process and under any ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from dsys.core import codec
from dsys.core.messages import is_message
from dsys.errors import UsageError

#: Every kind of event, grouped as the terminal view colours them.
EVENT_KINDS: dict[str, str] = {
    "start": "node",
    "send": "message",
    "recv": "message",
    "drop": "fault",
    "duplicate": "fault",
    "timer_set": "timer",
    "timer_fire": "timer",
    "timer_cancel": "timer",
    "crash": "fault",
    "restart": "node",
    "partition": "fault",
    "block": "fault",
    "heal": "fault",
    "clock": "fault",
    "invoke": "client",
    "complete": "client",
    "log": "log",
    "note": "log",
    "violation": "fault",
    "error": "fault",
    "sync": "node",
}

#: Former names of event kinds, still read from old trace files and accepted in filters.
KIND_ALIASES: dict[str, str] = {"deliver": "recv"}


@attrs.frozen(slots=True)
class TraceEvent:
    """One thing that happened: at ``time`` (virtual or real seconds), on ``node``."""

    time: float
    node: str
    kind: str
    data: dict[str, Any] = attrs.field(factory=dict, eq=False, hash=False)

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this event (messages encoded with the wire codec)."""
        return {"time": self.time, "node": self.node, "kind": self.kind,
                "data": _jsonable(self.data)}

    @property
    def message_name(self) -> str | None:
        """The short type name of the message this event is about, if any."""
        msg = self.data.get("msg")
        if msg is None:
            return None
        if isinstance(msg, dict):
            tag = str(msg.get("type", "?"))
            return tag.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
        return type(msg).__name__

    def describe(self) -> str:
        """A one-line, human-readable description."""
        d = self.data
        name = self.message_name
        match self.kind:
            case "send":
                return f"send {_msg_text(d.get('msg'))} to {d.get('to')} (#{d.get('id')})"
            case "recv":
                return f"recv {_msg_text(d.get('msg'))} from {d.get('from')} (#{d.get('id')})"
            case "drop":
                what = d.get("type") or name or "frame"
                why = ", ".join(str(x) for x in (d.get("reason"), d.get("detail")) if x)
                mid = f", #{d['id']}" if d.get("id") is not None else ""
                return f"drop {what} {d.get('from')}->{d.get('to')} ({why}{mid})"
            case "duplicate":
                return f"duplicate {name} to {d.get('to')} (#{d.get('id')})"
            case "timer_set":
                return f"timer {d.get('name')} set for {d.get('delay')}"
            case "timer_fire":
                return f"timer {d.get('name')} fired"
            case "timer_cancel":
                return f"timer {d.get('name')} cancelled"
            case "log":
                return str(d.get("text"))
            case "note":
                rest = ", ".join(f"{k}={v!r}" for k, v in d.items()
                                 if k not in ("event", "component"))
                prefix = f"[{d['component']}] " if "component" in d else ""
                return f"{prefix}{d.get('event')}({rest})"
            case "invoke" | "complete":
                op = d.get("op", {})
                key = f" {op.get('key')}" if "key" in op else ""
                return f"{op.get('type')} {op.get('f')}{key} {op.get('value')!r}"
            case "start":
                return "started"
            case "restart":
                return f"restarted (incarnation {d.get('incarnation')})"
            case "crash":
                lost = d.get("lost_writes")
                return "crashed" + (f" (lost unsynced writes: {', '.join(lost)})" if lost else "")
            case "partition":
                return "partition " + " | ".join(",".join(g) for g in d.get("groups", []))
            case _:
                extra = ", ".join(f"{k}={v}" for k, v in d.items())
                return self.kind + (f" {extra}" if extra else "")


def _msg_text(msg: Any) -> str:
    if msg is None:
        return "?"
    if isinstance(msg, dict):
        name = str(msg.get("type", "?")).rsplit(":", 1)[-1].rsplit(".", 1)[-1]
        body = msg.get("body", {})
        args = ", ".join(f"{k}={v!r}" for k, v in body.items()) if isinstance(body, dict) else ""
        return f"{name}({args})"
    return repr(msg)


def _jsonable(value: Any) -> Any:
    if is_message(value):
        return codec.encode(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if attrs.has(type(value)):
        return _jsonable(attrs.asdict(value, recurse=False))
    return value


def event_line(event: TraceEvent) -> str:
    """The canonical JSON line of an event (what is saved and digested)."""
    return json.dumps(event.to_json(), separators=(",", ":"), allow_nan=False, default=repr)


class Trace(Sequence[TraceEvent]):
    """An ordered list of trace events, with saving, loading, filtering and a digest.

    Example:
        >>> from dsys.trace import Trace, TraceEvent
        >>> trace = Trace([TraceEvent(0.0, "a", "log", {"text": "hello"})])
        >>> len(trace), trace[0].describe()
        (1, 'hello')
        >>> len(trace.digest())
        64
    """

    def __init__(self, events: Iterable[TraceEvent] = (), *, enabled: bool = True) -> None:
        # Events are stored as plain (time, node, kind, data) tuples, which are several
        # times cheaper to record than objects; TraceEvent objects are built on access.
        self._raw: list[tuple[float, str, str, dict[str, Any]]] = [
            (e.time, e.node, e.kind, e.data) for e in events
        ]
        self.enabled = enabled

    def record(self, time: float, node: str, kind: str, data: dict[str, Any]) -> None:
        """Append an event (no-op when recording is off)."""
        if self.enabled:
            self._raw.append((time, node, kind, data))

    def appender(self) -> Any:
        """For hosts: a function taking one ``(time, node, kind, data)`` tuple, the fastest
        way to record (it ignores ``enabled``; hosts check it once)."""
        return self._raw.append

    def raw(self, start: int = 0) -> list[tuple[float, str, str, dict[str, Any]]]:
        """The events from position ``start`` on as plain ``(time, node, kind, data)``
        tuples, for checkers that read a growing trace after every event (building a
        :class:`TraceEvent` for each costs more than the check). Do not change them.

        Example:
            >>> from dsys.trace import Trace, TraceEvent
            >>> Trace([TraceEvent(0.5, "a", "log", {"text": "hi"})]).raw()
            [(0.5, 'a', 'log', {'text': 'hi'})]
        """
        return self._raw[start:] if start else self._raw

    def __len__(self) -> int:
        return len(self._raw)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return Trace(TraceEvent(*raw) for raw in self._raw[index])
        return TraceEvent(*self._raw[index])

    def __iter__(self) -> Iterator[TraceEvent]:
        return (TraceEvent(*raw) for raw in self._raw)

    @property
    def nodes(self) -> tuple[str, ...]:
        """Every node that appears in the trace, sorted."""
        return tuple(sorted({raw[1] for raw in self._raw if raw[1]}))

    def filter(
        self,
        *,
        nodes: Iterable[str] | None = None,
        kinds: Iterable[str] | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> Trace:
        """The events on ``nodes``, of ``kinds``, with ``start <= time <= end``."""
        node_set = set(nodes) if nodes is not None else None
        kind_set = {KIND_ALIASES.get(k, k) for k in kinds} if kinds is not None else None
        if kind_set is not None:
            unknown = kind_set - set(EVENT_KINDS)
            if unknown:
                raise UsageError(
                    f"unknown event kind(s) {sorted(unknown)}; known: {', '.join(EVENT_KINDS)}"
                )
        return Trace(
            e
            for e in self
            if (node_set is None or e.node in node_set)
            and (kind_set is None or e.kind in kind_set)
            and (start is None or e.time >= start)
            and (end is None or e.time <= end)
        )

    def lines(self) -> Iterator[str]:
        """The canonical JSON lines of the events."""
        return (event_line(e) for e in self)

    def digest(self) -> str:
        """SHA-256 (hex) of the canonical JSON lines: equal traces, equal digests."""
        h = hashlib.sha256()
        for line in self.lines():
            h.update(line.encode())
            h.update(b"\n")
        return h.hexdigest()

    def save(self, path: str | Path) -> Path:
        """Write the trace as JSON Lines to ``path`` (parent folders are created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            for line in self.lines():
                f.write(line + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        """Read a trace saved with :meth:`save` (or written by the real runtime)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"trace file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read trace file {path}: {exc}") from None
        events = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                kind = str(raw["kind"])
                events.append(
                    TraceEvent(float(raw["time"]), str(raw["node"]), KIND_ALIASES.get(kind, kind),
                               dict(raw.get("data") or {}))
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise UsageError(
                    f"{path}:{number}: not a dsys trace event ({type(exc).__name__}: {exc}); "
                    "expected a JSON object with time, node, kind and data"
                ) from None
        return cls(events)

    def _repr_html_(self) -> str:
        """Jupyter shows a trace as the interactive viewer (see :mod:`dsys.trace.html`),
        inside an iframe so its script and style stay apart from the notebook's."""
        from dsys.trace.html import iframe

        return iframe(self)

    def tail(self, count: int = 15) -> str:
        """The last ``count`` events as text, one per line (used in failure reports)."""
        return format_events(TraceEvent(*raw) for raw in self._raw[-count:])


def format_events(events: Iterable[TraceEvent]) -> str:
    """Events as aligned text lines: time, node, kind, description."""
    return "\n".join(
        f"  {e.time:10.6f}  {e.node:>8}  {e.kind:<12} {e.describe()}" for e in events
    )
