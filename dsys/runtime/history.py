"""Client histories on a real network: written as they happen, merged for the checker.

A client that runs as a process (``dsys run ... --workload ... --history FILE``, or
:func:`~dsys.runtime.run_client`) writes its history as JSON Lines, in the format
``dsys check lin`` reads, one line per invocation and per completion, each flushed at
once: a client killed in the middle leaves a valid prefix (its last operation, invoked
and never completed, counts as ``info``). Each line is what the simulator records in
``sim.history``::

    {"process":0,"type":"invoke","f":"put","key":"x","value":"c1.1;","time":1718000000.123,"client":"c1"}

The rules of these files:

* ``time`` is the client's clock, ``node.now``: seconds since the Unix epoch, moving with
  trio's clock. An invocation is written *before* the client sends anything for it and a
  completion *after* the answer arrived, so the time order of the lines of several clients
  is a real-time order of their operations, as far as their clocks agree (on one machine
  they read the same clock; on several, up to NTP's error).
* ``process`` counts within one file: 0 for the client's first operations, one more after
  each ``info`` (the old operation may still take effect, so the client goes on as a new
  process, as in Jepsen). ``client`` is the client's id.
* The checker reads the order of the lines as real time, so files are not concatenated
  but **merged** by time, with :func:`merge_histories` (``dsys cluster merge-histories``).
  The merge numbers processes afresh: each (file, process) pair of the inputs becomes its
  own process, so two clients (or two runs of one client id) never share one.

Example:
    >>> import json, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> def line(process, kind, time, client):
    ...     return json.dumps({"process": process, "type": kind, "f": "get", "key": "x",
    ...                        "value": None, "time": time, "client": client}) + "\\n"
    >>> for client, start in (("c1", 1.0), ("c2", 2.0)):
    ...     _ = (folder / f"{client}.jsonl").write_text(
    ...         line(0, "invoke", start, client) + line(0, "ok", start + 2, client))
    >>> merged = merge_histories([folder / "c1.jsonl", folder / "c2.jsonl"])
    >>> [(e["client"], e["process"], e["type"]) for e in merged]
    [('c1', 0, 'invoke'), ('c2', 1, 'invoke'), ('c1', 0, 'ok'), ('c2', 1, 'ok')]
"""

from __future__ import annotations

import heapq
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from dsys.core import codec
from dsys.errors import CodecError, UsageError


class HistoryWriter:
    """Writes history lines to a file, each one flushed as soon as it is written.

    The file is created (or emptied) when the writer opens. An ``OSError`` while writing
    is kept in ``error`` rather than raised (the client's handler is running): the host
    stops the client and reports it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: TextIO = self.path.open("w", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write the history file {self.path}: "
                             f"{exc.strerror or exc}") from None
        self.error: OSError | None = None

    @staticmethod
    def line(event: dict[str, Any]) -> str:
        """The JSON line of one event; a :class:`~dsys.errors.UsageError` if it holds
        something JSON cannot (a result a client completed with, say)."""
        try:
            return codec.dumps(event).decode()
        except CodecError as exc:
            raise UsageError(f"history event {event!r} is not JSON: {exc}") from None

    def write(self, line: str) -> None:
        """Append ``line`` (from :meth:`line`) and flush it to the operating system."""
        if self.error is not None:
            return
        try:
            self._file.write(line + "\n")
            self._file.flush()
        except OSError as exc:
            self.error = exc

    def close(self) -> None:
        """Close the file."""
        try:
            self._file.close()
        except OSError as exc:
            self.error = self.error or exc


def read_history(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The events of a history file a client wrote (one-line errors for bad lines).

    Every line must be a JSON object with a numeric ``time`` (the other keys are the
    checker's to judge). A last line cut short (the client was killed while writing it)
    is left out.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    lines = text.split("\n")
    events = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = codec.loads(line)
        except CodecError as exc:
            if number == len(lines):
                break  # the last line, without its newline: cut short by a kill
            raise UsageError(f"{path}, line {number}: {exc}") from None
        if not isinstance(event, dict):
            raise UsageError(f"{path}, line {number}: an event must be a JSON object")
        time = event.get("time")
        if isinstance(time, bool) or not isinstance(time, int | float) or math.isnan(time):
            raise UsageError(f"{path}, line {number}: an event needs a numeric 'time' to be "
                             "merged (histories of `dsys run --workload` have one)")
        events.append(event)
    return events


def merge_histories(paths: Iterable[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """The histories of several client processes as one, ordered by ``time``.

    Each file keeps its own order; on equal times, earlier files come first. Processes are
    numbered afresh, in order of first appearance: every (file, process) pair of the
    inputs gets its own number (see the module docstring). The result is what
    :func:`dsys.check.check_linearizable` takes, or what ``dsys check lin`` reads once
    saved with :func:`save_history`.
    """
    files = [read_history(path) for path in paths]
    numbers: dict[tuple[int, Any], int] = {}
    merged = []
    for _, index, _, event in heapq.merge(*(_keyed(i, events) for i, events in
                                           enumerate(files))):
        key = (index, _hashable(event.get("process")))
        number = numbers.setdefault(key, len(numbers))
        merged.append({**event, "process": number})
    return merged


def save_history(events: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Write ``events`` to ``path`` as JSON Lines (the format ``dsys check lin`` reads)."""
    Path(path).write_text("".join(HistoryWriter.line(event) + "\n" for event in events),
                          encoding="utf-8")


def _keyed(index: int, events: list[dict[str, Any]]
           ) -> Iterator[tuple[float, int, int, dict[str, Any]]]:
    # (time, file, line): heapq.merge keeps each file's order and breaks ties by file.
    for line, event in enumerate(events):
        yield float(event["time"]), index, line, event


def _hashable(value: Any) -> Any:
    return codec.dumps(value) if isinstance(value, list | dict) else value
