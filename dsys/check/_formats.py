"""Readers for the three history file formats.

- JSON Lines, dsys's own format (DESIGN.md, "Checkers"): one event object per line.
- Jepsen's log lines, as in Porcupine's etcd test data:
  ``INFO  jepsen.util - 3  :invoke  :cas  [1 2]``.
- Jepsen's EDN maps, one per line, as in Porcupine's kv test data:
  ``{:process 0, :type :ok, :f :get, :key "4", :value "x 0 1 y"}``.

Each reader turns lines into :class:`~dsys.check.history.Event` objects and reports a line
it cannot understand as a :class:`~dsys.check.history.HistoryError` with its line number.
The format is detected from the first non-blank line, so one reader reads the whole file.

Jepsen conventions mapped here: a completion whose value is ``:timed-out`` (``:fail :read
:timed-out`` in the etcd logs) is indeterminate, so it becomes ``info``; lines from
non-client processes (``:nemesis``) are not operations and are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from dsys.check.history import Event, HistoryError, event_from_mapping, freeze


def parse_events(text: str, source: str | None) -> list[Event]:
    """Parse a whole file; the first non-blank line decides the format."""
    prefix = f"{source}, " if source else ""
    lines = text.splitlines()
    reader: Callable[[str, str], Event | None] | None = None
    events: list[Event] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        where = f"line {number}"
        if reader is None:
            reader = _detect(stripped)
            if reader is None:
                raise HistoryError(
                    f"{prefix}{where}: not a history line in any format dsys reads "
                    "(JSON Lines, Jepsen log lines, or Jepsen EDN maps): "
                    f"{_shorten(stripped)}"
                )
        try:
            event = reader(stripped, where)
        except HistoryError as error:
            raise HistoryError(f"{prefix}{error}") from None
        if event is not None:
            events.append(event)
    return events


def _detect(line: str) -> Callable[[str, str], Event | None] | None:
    if line.startswith("{"):
        rest = line[1:].lstrip()
        return _read_edn_line if rest.startswith(":") else _read_json_line
    if "jepsen.util" in line:
        return _read_jepsen_log_line
    return None


def _shorten(line: str, limit: int = 60) -> str:
    return line if len(line) <= limit else line[: limit - 3] + "..."


# --- JSON Lines ----------------------------------------------------------------------------


def _read_json_line(line: str, where: str) -> Event:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as error:
        raise HistoryError(f"{where}: not valid JSON ({error.msg}): {_shorten(line)}") from None
    return event_from_mapping(raw, where)


# --- Jepsen log lines ----------------------------------------------------------------------

_LOG_LINE = re.compile(
    r"^\S+\s+jepsen\.util\s+-\s+(?P<process>\S+)\s+:(?P<type>[\w-]+)\s+:(?P<f>[\w-]+)"
    r"(?:\s+(?P<value>.*?))?\s*$"
)


def _read_jepsen_log_line(line: str, where: str) -> Event | None:
    match = _LOG_LINE.match(line)
    if match is None:
        raise HistoryError(
            f"{where}: expected 'LEVEL jepsen.util - PROCESS :TYPE :F VALUE', got {_shorten(line)}"
        )
    if not match["process"].isdigit():
        return None  # the nemesis and other non-client actors do not perform operations
    value = _parse_edn(match["value"] or "nil", where)
    return _jepsen_event(where, int(match["process"]), match["type"], match["f"], value, None)


def _jepsen_event(where: str, process: int, kind: str, f: str, value: Any, key: Any) -> Event:
    if kind not in ("invoke", "ok", "fail", "info"):
        raise HistoryError(f"{where}: unknown event type :{kind}")
    if kind != "invoke" and value == _Keyword("timed-out"):
        # Jepsen logs a timed-out read as `:fail :read :timed-out`: the client does not know
        # what happened, which is `info`, not an observed failure.
        kind, value = "info", None
    return Event(where=where, process=process, type=kind, f=f, value=freeze(value), key=key)


# --- Jepsen EDN maps -----------------------------------------------------------------------


def _read_edn_line(line: str, where: str) -> Event | None:
    data = _parse_edn(line, where)
    if not isinstance(data, dict):
        raise HistoryError(f"{where}: expected an EDN map {{:process ..., :type ...}}")
    fields = {k.name if isinstance(k, _Keyword) else str(k): v for k, v in data.items()}
    for name in ("process", "type", "f"):
        if name not in fields:
            raise HistoryError(f"{where}: map has no :{name}")
    process = fields["process"]
    if isinstance(process, _Keyword):
        return None  # :nemesis
    if not isinstance(process, int):
        raise HistoryError(f"{where}: :process must be an integer, got {process!r}")
    kind, f = fields["type"], fields["f"]
    if not isinstance(kind, _Keyword) or not isinstance(f, _Keyword | str):
        raise HistoryError(f"{where}: :type and :f must be keywords")
    f_name = f.name if isinstance(f, _Keyword) else f
    key = fields.get("key")
    if isinstance(key, _Keyword):
        key = key.name
    return _jepsen_event(where, process, kind.name, f_name, fields.get("value"), freeze(key))


class _Keyword:
    """An EDN keyword such as ``:timed-out``; kept distinct from strings."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Keyword) and other.name == self.name

    def __hash__(self) -> int:
        return hash((_Keyword, self.name))

    def __repr__(self) -> str:
        return f":{self.name}"


_EDN_TOKEN = re.compile(
    r"""
      (?P<space>[\s,]+)
    | (?P<open>[\[{(])
    | (?P<close>[\]})])
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<keyword>:[^\s,\[\]{}()"]+)
    | (?P<number>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<symbol>[^\s,\[\]{}()":]+)
    """,
    re.VERBOSE,
)
_CLOSER = {"[": "]", "{": "}", "(": ")"}


def _parse_edn(text: str, where: str) -> Any:
    """Parse the small part of EDN that Jepsen histories use.

    Maps, vectors and lists, strings, integers and floats, keywords, ``nil``, ``true`` and
    ``false``. Strings are decoded as JSON strings (EDN's escapes are a subset).
    """
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _EDN_TOKEN.match(text, position)
        if match is None:
            raise HistoryError(f"{where}: cannot read {_shorten(text[position:])!r}")
        position = match.end()
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append((kind, match.group()))
    value, used = _edn_value(tokens, 0, where)
    if used != len(tokens):
        raise HistoryError(f"{where}: unexpected {tokens[used][1]!r} after a complete value")
    return value


def _edn_value(tokens: list[tuple[str, str]], at: int, where: str) -> tuple[Any, int]:
    if at >= len(tokens):
        raise HistoryError(f"{where}: the line ends in the middle of a value")
    kind, text = tokens[at]
    if kind == "open":
        items: list[Any] = []
        at += 1
        while at < len(tokens) and tokens[at][0] != "close":
            item, at = _edn_value(tokens, at, where)
            items.append(item)
        if at >= len(tokens):
            raise HistoryError(f"{where}: {text!r} is never closed")
        if tokens[at][1] != _CLOSER[text]:
            raise HistoryError(f"{where}: {text!r} closed by {tokens[at][1]!r}")
        if text != "{":
            return items, at + 1
        if len(items) % 2:
            raise HistoryError(f"{where}: a map needs an even number of items")
        try:
            return dict(zip(items[::2], items[1::2], strict=True)), at + 1
        except TypeError:
            raise HistoryError(f"{where}: a map key must be a keyword, string or number") from None
    if kind == "close":
        raise HistoryError(f"{where}: unexpected {text!r}")
    if kind == "string":
        try:
            return json.loads(text), at + 1
        except json.JSONDecodeError:
            raise HistoryError(f"{where}: bad escape in string {_shorten(text)}") from None
    if kind == "keyword":
        return _Keyword(text[1:]), at + 1
    if kind == "number":
        return (float(text) if any(c in text for c in ".eE") else int(text)), at + 1
    constants = {"nil": None, "true": True, "false": False}
    if text in constants:
        return constants[text], at + 1
    raise HistoryError(f"{where}: unknown value {text!r}")
