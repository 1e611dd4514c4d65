"""Histories: what the clients of a system invoked, and what came back.

A history is a sequence of *events* in Jepsen's vocabulary. A process (one client, doing one
thing at a time) ``invoke``\\ s an operation, and later the operation completes:

- ``ok``: it completed, and ``value`` is its result (what a read returned);
- ``fail``: it completed without effect (a ``cas`` that returned false is observed as such);
- ``info``: nobody knows (a timeout): it may take effect at any time after its invoke, or never.

An invoke with no completion by the end of the history is treated like ``info``.
:class:`History` pairs the events up into :class:`Operation` objects, checking as it goes
that the history makes sense, and reports any problem as a :class:`HistoryError` that names
the line (or list index) at fault.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dsys.errors import UsageError

#: How an operation ended. ``info`` also covers operations that never completed.
Status = Literal["ok", "fail", "info"]

#: A client's identity in a history. Jepsen uses integers; dsys accepts strings too.
Process = int | str

_EVENT_TYPES = ("invoke", "ok", "fail", "info")


class CheckInputError(UsageError):
    """Bad input to ``dsys check``: a missing file, an unknown model, a bad option.

    The ``dsys`` command exits with status 3 for these, because 0, 1 and 2 are the verdicts
    (linearizable, not linearizable, undecided).
    """

    exit_code = 3


class HistoryError(CheckInputError):
    """A history that cannot be read or does not make sense.

    The message names where the problem is: ``line N`` for files, ``history[N]`` for a list
    of events given from Python.
    """


def freeze(value: Any) -> Any:
    """Turn JSON-like data into hashable data: lists become tuples, dicts sorted item tuples.

    Models keep values in their states and the checker hashes states, so values must be
    hashable.

    >>> freeze([1, [2, 3]])
    (1, (2, 3))
    """
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    return value


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a history, as read, before invokes and completions are paired.

    ``where`` says where it came from, for error messages: ``"line 7"`` or ``"history[6]"``.
    """

    where: str
    process: Process
    type: str
    f: str
    value: Any = None
    key: Any = None
    time: float | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a history: an invoke paired with its completion.

    ``value`` is the argument given at the invoke (the value to write, ``(old, new)`` for a
    ``cas``); ``output`` is the value the completion carried (what a read returned), and is
    ``None`` when the operation did not complete ``ok``. ``invoke_at`` and ``complete_at``
    are positions in the event sequence, which is what orders operations in real time;
    ``invoke_time`` and ``complete_time`` are the recorded times (or those positions, when
    the history has no times), used for drawing. An operation with no completion has
    ``complete_at`` and ``complete_time`` set to ``None`` and ``status`` ``"info"``.
    ``where`` and ``complete_where`` say where its invoke and completion were read from
    (``"line 7"``, or ``"history[6]"`` for a list of events).

    >>> history = History.from_events([
    ...     {"process": 0, "type": "invoke", "f": "read", "value": None},
    ...     {"process": 0, "type": "ok", "f": "read", "value": 3},
    ... ])
    >>> op = history.operations[0]
    >>> (op.f, op.status, op.output, op.invoke_at, op.complete_at)
    ('read', 'ok', 3, 0, 1)
    """

    index: int
    process: Process
    f: str
    value: Any
    output: Any
    status: Status
    key: Any
    invoke_at: int
    complete_at: int | None
    invoke_time: float
    complete_time: float | None
    where: str
    complete_where: str | None = None

    @property
    def returns_at(self) -> float:
        """When the operation must have taken effect by: ``inf`` unless it completed ok/fail."""
        if self.status == "info" or self.complete_at is None:
            return math.inf
        return self.complete_at

    def label(self) -> str:
        """A short generic description, e.g. ``write 4`` or ``read x -> 2`` (for a key x)."""
        key = "" if self.key is None else f" {self.key}"
        text = f"{self.f}{key}"
        if self.value is not None:
            text += f" {self.value!r}"
        if self.status == "ok" and self.output is not None and self.output != self.value:
            text += f" -> {self.output!r}"
        if self.status != "ok":
            text += f" ({self.status})"
        return text


class History:
    """A checked, paired-up history: a tuple of :class:`Operation`, in invoke order.

    Build one from events (the format of DESIGN.md, or ``Simulation.history``) or read one
    from a file in any of the supported formats:

    >>> history = History.from_events([
    ...     {"process": 0, "type": "invoke", "f": "write", "value": 1},
    ...     {"process": 1, "type": "invoke", "f": "read", "value": None},
    ...     {"process": 0, "type": "ok", "f": "write", "value": 1},
    ...     {"process": 1, "type": "ok", "f": "read", "value": 1},
    ... ])
    >>> len(history), [op.label() for op in history]
    (2, ['write 1', 'read -> 1'])

    Extra keys in events (``time``, ``client``) are ignored, except that ``time`` is used to
    place operations in drawings.
    """

    def __init__(
        self,
        operations: Iterable[Operation],
        *,
        event_count: int,
        has_times: bool = False,
        source: str | None = None,
    ) -> None:
        self.operations: tuple[Operation, ...] = tuple(operations)
        #: How many events the history had (invokes plus completions).
        self.event_count = event_count
        #: Whether the events carried ``time``; otherwise times are event positions.
        self.has_times = has_times
        #: Where the history came from (a file name), for messages.
        self.source = source

    def __len__(self) -> int:
        return len(self.operations)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations)

    def __repr__(self) -> str:
        origin = f" from {self.source}" if self.source else ""
        return f"<History of {len(self)} operations{origin}>"

    @property
    def processes(self) -> list[Process]:
        """The processes that appear, integers first, each group in order."""
        seen = {op.process for op in self.operations}
        return sorted(seen, key=lambda p: (isinstance(p, str), p))

    @classmethod
    def from_events(
        cls, events: Iterable[Mapping[str, Any]], *, source: str | None = None
    ) -> History:
        """Pair up a list of event dicts, such as ``Simulation.history``.

        Each dict needs ``process``, ``type`` (``invoke``/``ok``/``fail``/``info``) and
        ``f``; ``value``, ``key`` and ``time`` are optional and other keys are ignored.
        Problems are reported as ``history[i]: ...``.
        """
        parsed = []
        for position, raw in enumerate(events):
            parsed.append(event_from_mapping(raw, f"history[{position}]"))
        return cls.from_parsed(parsed, source=source)

    @classmethod
    def from_parsed(cls, events: Iterable[Event], *, source: str | None = None) -> History:
        """Pair up already-parsed :class:`Event` objects (used by the file readers)."""
        return _pair(list(events), source)

    @classmethod
    def parse(cls, text: str, *, source: str | None = None) -> History:
        """Read a history from text in any supported format (detected from its content).

        The formats: JSON Lines (DESIGN.md), Jepsen's ``jepsen.util`` log lines, and Jepsen
        EDN maps, one per line.

        >>> History.parse('{"process": 0, "type": "invoke", "f": "read", "value": null}')
        <History of 1 operations>
        """
        # Imported here, not at the top, because the readers build on this module.
        from dsys.check._formats import parse_events

        return cls.from_parsed(parse_events(text, source), source=source)

    @classmethod
    def read(cls, path: str | Path) -> History:
        """Read a history file in any supported format."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CheckInputError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as error:
            raise CheckInputError(f"{path}: cannot read: {error}") from None
        return cls.parse(text, source=str(path))

    def to_events(self) -> list[dict[str, Any]]:
        """The history as event dicts in DESIGN.md's format, in event order."""
        rows: list[tuple[int, dict[str, Any]]] = []
        for op in self.operations:
            invoke: dict[str, Any] = {"process": op.process, "type": "invoke", "f": op.f}
            if op.key is not None:
                invoke["key"] = op.key
            invoke["value"] = _thaw(op.value)
            if self.has_times:
                invoke["time"] = op.invoke_time
            rows.append((op.invoke_at, invoke))
            if op.complete_at is not None:
                done = dict(invoke, type=op.status)
                if op.status == "ok":
                    done["value"] = _thaw(op.output)
                if self.has_times:
                    done["time"] = op.complete_time
                rows.append((op.complete_at, done))
        rows.sort(key=lambda row: row[0])
        return [event for _, event in rows]

    def to_jsonl(self) -> str:
        """The history as JSON Lines, the format ``dsys check lin`` reads."""
        return "".join(json.dumps(event) + "\n" for event in self.to_events())

    def save(self, path: str | Path) -> None:
        """Write the history to ``path`` as JSON Lines."""
        Path(path).write_text(self.to_jsonl(), encoding="utf-8")


def _thaw(value: Any) -> Any:
    """Undo :func:`freeze` for lists, so that histories round-trip through JSON."""
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


def event_from_mapping(raw: Any, where: str) -> Event:
    """Validate one event dict and turn it into an :class:`Event`."""
    if not isinstance(raw, Mapping):
        raise HistoryError(f"{where}: an event must be an object, got {type(raw).__name__}")
    for name in ("process", "type", "f"):
        if name not in raw:
            raise HistoryError(f"{where}: event has no {name!r}")
    process = raw["process"]
    if isinstance(process, bool) or not isinstance(process, int | str):
        raise HistoryError(f"{where}: 'process' must be an integer or a string, got {process!r}")
    kind = raw["type"]
    if kind not in _EVENT_TYPES:
        raise HistoryError(f"{where}: 'type' must be one of invoke, ok, fail, info; got {kind!r}")
    f = raw["f"]
    if not isinstance(f, str) or not f:
        raise HistoryError(f"{where}: 'f' must be a non-empty string, got {f!r}")
    time = raw.get("time")
    if time is not None and (isinstance(time, bool) or not isinstance(time, int | float)):
        raise HistoryError(f"{where}: 'time' must be a number, got {time!r}")
    return Event(
        where=where,
        process=process,
        type=kind,
        f=f,
        value=freeze(raw.get("value")),
        key=freeze(raw.get("key")),
        time=None if time is None else float(time),
    )


@dataclass(slots=True)
class _Open:
    """An invoke still waiting for its completion."""

    event: Event
    position: int


def _pair(events: list[Event], source: str | None) -> History:
    """Match every completion to the open invoke of the same process."""
    prefix = f"{source}, " if source else ""
    has_times = bool(events) and all(event.time is not None for event in events)
    open_ops: dict[Process, _Open] = {}
    # Operations are numbered by invoke order; completions fill in their slot later.
    slots: list[dict[str, Any]] = []
    slot_of: dict[Process, int] = {}
    for position, event in enumerate(events):
        time = event.time if has_times and event.time is not None else float(position)
        if event.type == "invoke":
            if event.process in open_ops:
                earlier = open_ops[event.process].event
                raise HistoryError(
                    f"{prefix}{event.where}: process {event.process} invokes {event.f} while "
                    f"its {earlier.f} from {earlier.where} is still open (one process does "
                    "one operation at a time)"
                )
            open_ops[event.process] = _Open(event, position)
            slot_of[event.process] = len(slots)
            slots.append(
                {
                    "index": len(slots),
                    "process": event.process,
                    "f": event.f,
                    "value": event.value,
                    "output": None,
                    "status": "info",
                    "key": event.key,
                    "invoke_at": position,
                    "complete_at": None,
                    "invoke_time": time,
                    "complete_time": None,
                    "where": event.where,
                }
            )
            continue
        started = open_ops.pop(event.process, None)
        if started is None:
            raise HistoryError(
                f"{prefix}{event.where}: completion ({event.type} {event.f}) without an invoke: "
                f"process {event.process} has no open operation"
            )
        if event.f != started.event.f:
            raise HistoryError(
                f"{prefix}{event.where}: process {event.process} completes {event.f!r} but "
                f"invoked {started.event.f!r} at {started.event.where}"
            )
        if event.key is not None and event.key != started.event.key:
            raise HistoryError(
                f"{prefix}{event.where}: process {event.process} completes key {event.key!r} "
                f"but invoked key {started.event.key!r} at {started.event.where}"
            )
        slot = slots[slot_of[event.process]]
        slot["status"] = event.type
        slot["output"] = event.value if event.type == "ok" else None
        slot["complete_at"] = position
        slot["complete_time"] = time
        slot["complete_where"] = event.where
    return History(
        (Operation(**slot) for slot in slots),
        event_count=len(events),
        has_times=has_times,
        source=source,
    )
