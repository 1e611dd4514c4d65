"""Reading histories: the three formats, pairing, and the errors a user can cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsys.check import CheckInputError, History, HistoryError
from dsys.errors import UsageError

JSONL = """\
{"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 3}
{"process": 0, "type": "ok",     "f": "write", "key": "x", "value": 3}
{"process": 1, "type": "invoke", "f": "cas",   "key": "x", "value": [3, 4]}
{"process": 1, "type": "fail",   "f": "cas",   "key": "x", "value": [3, 4]}
{"process": 2, "type": "invoke", "f": "read",  "key": "x", "value": null}
{"process": 2, "type": "info",   "f": "read",  "key": "x", "value": null}
"""


def test_reads_the_design_example() -> None:
    history = History.parse(JSONL)
    write, cas, read = history.operations
    assert (write.f, write.status, write.value, write.key) == ("write", "ok", 3, "x")
    assert (cas.status, cas.value) == ("fail", (3, 4))  # lists become hashable tuples
    assert read.status == "info" and read.returns_at == float("inf")
    assert write.returns_at == 1 and cas.invoke_at == 2


def test_jepsen_log_lines() -> None:
    text = (
        "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
        "INFO  jepsen.util - 1   :invoke :cas    [1 2]\n"
        "INFO  jepsen.util - 0\t:ok\t:read\tnil\n"
        "INFO  jepsen.util - 1\t:fail\t:cas\t[1 2]\n"
        "INFO  jepsen.util - 2\t:invoke\t:read\tnil\n"
        "INFO  jepsen.util - 2\t:fail\t:read\t:timed-out\n"
        "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"
        "INFO  jepsen.util - 3\t:invoke\t:write\t4\n"
        "INFO  jepsen.util - 3\t:info\t:write\t:timed-out\n"
        "INFO  jepsen.util - 4\t:invoke\t:write\t1\n"
    )
    read, cas, timed_out_read, write, never_done = History.parse(text).operations
    assert (read.status, read.output) == ("ok", None)
    assert (cas.status, cas.value) == ("fail", (1, 2))  # an observed false
    assert timed_out_read.status == "info"  # `:fail :read :timed-out` is indeterminate
    assert write.status == "info" and write.value == 4
    assert never_done.status == "info" and never_done.complete_at is None


def test_edn_maps() -> None:
    text = (
        '{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}\n'
        '{:process 1, :type :invoke, :f :get, :key "0", :value nil}\n'
        '{:process 0, :type :ok, :f :append, :key "0", :value "x 0 0 y"}\n'
        '{:process 1, :type :ok, :f :get, :key "0", :value "x 0 0 y"}\n'
    )
    append, get = History.parse(text).operations
    assert (append.f, append.key, append.value) == ("append", "0", "x 0 0 y")
    assert (get.f, get.output, get.invoke_at, get.complete_at) == ("get", "x 0 0 y", 1, 3)


def test_from_events_ignores_extra_keys_and_uses_time() -> None:
    events = [
        {"process": 0, "type": "invoke", "f": "write", "value": 1, "time": 0.5, "client": "c0"},
        {"process": 0, "type": "ok", "f": "write", "value": 1, "time": 0.75, "client": "c0"},
    ]
    history = History.from_events(events)
    (op,) = history.operations
    assert history.has_times
    assert (op.invoke_time, op.complete_time) == (0.5, 0.75)
    assert (op.invoke_at, op.complete_at) == (0, 1)


def test_round_trips_through_jsonl(tmp_path: Path) -> None:
    history = History.parse(JSONL)
    path = tmp_path / "h.jsonl"
    history.save(path)
    again = History.read(path)
    assert [(o.f, o.status, o.value, o.output, o.key) for o in again] == [
        (o.f, o.status, o.value, o.output, o.key) for o in history
    ]
    assert json.loads(path.read_text().splitlines()[2])["value"] == [3, 4]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"process": 0, "type": "invoke", "f": "read"}\n{"process": 0, "type": "ok", "f"',
            "line 2: not valid JSON",
        ),
        ('\n\n{"process": 0, "type": "begin", "f": "read"}', "line 3: 'type' must be one of"),
        ('{"process": 0, "type": "invoke"}', "line 1: event has no 'f'"),
        (
            '{"process": 0, "type": "ok", "f": "read", "value": 1}',
            "line 1: completion (ok read) without an invoke",
        ),
        (
            '{"process": 7, "type": "invoke", "f": "read"}\n'
            '{"process": 7, "type": "invoke", "f": "write", "value": 1}',
            "line 2: process 7 invokes write while its read from line 1 is still open",
        ),
        (
            '{"process": 0, "type": "invoke", "f": "read"}\n'
            '{"process": 0, "type": "ok", "f": "write"}',
            "line 2: process 0 completes 'write' but invoked 'read'",
        ),
        ("INFO  jepsen.util - 1\t:invoke\t:cas\t[1 2\n", "line 1: '[' is never closed"),
        (
            "INFO  jepsen.util - 1\t:invoke\t:write\t3\nINFO  jepsen.util - oops\n",
            "line 2: expected",
        ),
        ('{:process 0, :type :invoke, :f :get, :key "0" :value}', "line 1: a map needs an even"),
        ("hello world", "line 1: not a history line in any format"),
    ],
)
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(HistoryError) as caught:
        History.parse(text, source="h.jsonl")
    assert str(caught.value).startswith(f"h.jsonl, {message}"), str(caught.value)
    assert "\n" not in str(caught.value)


def test_errors_in_a_list_of_events_name_the_index() -> None:
    events = [
        {"process": 0, "type": "invoke", "f": "read"},
        {"process": 1, "type": "ok", "f": "read", "value": 2},
    ]
    with pytest.raises(HistoryError, match=r"^history\[1\]: completion \(ok read\) without"):
        History.from_events(events)
    with pytest.raises(HistoryError, match=r"^history\[0\]: an event must be an object"):
        History.from_events([["process", 0]])  # type: ignore[list-item]


def test_history_errors_exit_with_3_and_are_usage_errors(tmp_path: Path) -> None:
    assert issubclass(HistoryError, UsageError) and HistoryError.exit_code == 3
    with pytest.raises(CheckInputError, match="no such file") as caught:
        History.read(tmp_path / "missing.jsonl")
    assert caught.value.exit_code == 3


def test_an_empty_file_is_an_empty_history(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_text("\n")
    assert len(History.read(path)) == 0
