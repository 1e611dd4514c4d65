"""The data directory: synced storage survives (a log, compacted into storage.json), a
crash at any step loses nothing, damage is a clear error; a directory has one owner."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from dsys.errors import ConfigError
from dsys.runtime import storage as storage_module
from dsys.runtime.storage import (
    LOG_FILE,
    META_FILE,
    STORAGE_FILE,
    STORAGE_FORMAT,
    DataDir,
    atomic_write,
)


def test_compaction_writes_one_key_per_line_and_any_key_or_value_reads_back(
        tmp_path: Path) -> None:
    data = DataDir(tmp_path, "a")
    storage, _ = data.open()
    values = {'quote " and \\ and\nnewline': "é ☃", "b": [1, 2.5, None, True, {"n": {}}],
              "a": 1, "empty": {}}
    storage.update(values)
    storage.sync()
    data.compact()
    text = (tmp_path / STORAGE_FILE).read_text()
    assert json.loads(text) == {"format": STORAGE_FORMAT, "generation": 1, "values": values}
    assert text.splitlines()[4:8] == [  # keys sorted, one per line, compact values
        '  "a": 1,', '  "b": [1,2.5,null,true,{"n":{}}],', '  "empty": {},',
        '  "quote \\" and \\\\ and\\nnewline": "\\u00e9 \\u2603"']
    again, _ = DataDir(tmp_path, "a").open()
    assert {k: again[k] for k in again} == values


def test_synced_values_survive_and_unsynced_ones_do_not(tmp_path: Path) -> None:
    storage, recovered = DataDir(tmp_path, "a").open()
    assert not recovered and len(storage) == 0
    storage["log"] = [1, 2]
    storage["term"] = 3
    storage.sync()
    storage["term"] = 4  # never synced: as if the process died here
    again, recovered = DataDir(tmp_path, "a").open()
    assert recovered and again["log"] == [1, 2] and again["term"] == 3
    del again["log"]
    again.sync()
    third, _ = DataDir(tmp_path, "a").open()
    assert "log" not in third and third.keys() == ["term"]


def test_a_sync_appends_to_the_log_and_compaction_writes_readable_json(
        tmp_path: Path) -> None:
    data = DataDir(tmp_path, "a")
    storage, _ = data.open()
    storage["x"] = {"k": [1, "two"]}
    storage.sync()
    data.compact()
    assert json.loads((tmp_path / STORAGE_FILE).read_text()) == {
        "format": STORAGE_FORMAT, "generation": 1, "values": {"x": {"k": [1, "two"]}}}
    assert json.loads((tmp_path / META_FILE).read_text()) == {"node": "a", "starts": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == [META_FILE, STORAGE_FILE, LOG_FILE]
    assert (tmp_path / LOG_FILE).read_bytes() == b""  # all of it is in storage.json
    assert data.read() == {"x": {"k": [1, "two"]}}

    logged = DataDir(tmp_path, "a")
    storage, _ = logged.open()
    storage["y"] = 2
    storage.sync()
    assert (tmp_path / LOG_FILE).read_bytes().count(b"\n") == 1
    assert json.loads((tmp_path / STORAGE_FILE).read_text())["values"] == {
        "x": {"k": [1, "two"]}}  # untouched: the change is in the log
    assert logged.read() == {"x": {"k": [1, "two"]}, "y": 2}


def test_a_sync_without_changes_appends_nothing(tmp_path: Path) -> None:
    storage, _ = DataDir(tmp_path, "a").open()
    storage["x"] = 1
    storage.sync()
    size = (tmp_path / LOG_FILE).stat().st_size
    storage.sync()
    storage["x"] = 1  # the same value again
    storage.sync()
    assert (tmp_path / LOG_FILE).stat().st_size == size


def test_many_syncs_replay_in_order_with_deletes(tmp_path: Path) -> None:
    storage, _ = DataDir(tmp_path, "a").open()
    expected: dict[str, int] = {}
    for i in range(200):
        storage[f"k{i % 17}"] = i
        expected[f"k{i % 17}"] = i
        if i % 5 == 0 and f"k{(i + 3) % 17}" in storage:
            del storage[f"k{(i + 3) % 17}"]
            expected.pop(f"k{(i + 3) % 17}")
        storage.sync()
    assert not (tmp_path / STORAGE_FILE).exists()  # everything is in the log
    again, _ = DataDir(tmp_path, "a").open()
    assert {k: again[k] for k in again} == expected
    assert DataDir(tmp_path, "a").read() == expected


def test_a_torn_last_record_is_dropped_and_cut_off(tmp_path: Path) -> None:
    storage, _ = DataDir(tmp_path, "a").open()
    storage["a"] = 1
    storage.sync()
    good = (tmp_path / LOG_FILE).stat().st_size
    storage["b"] = "a longer value, to cut in the middle"
    storage.sync()
    log = tmp_path / LOG_FILE
    for cut in (good + 1, good + 12, log.stat().st_size - 1):  # a crash mid-append
        whole = log.read_bytes()
        log.write_bytes(whole[:cut])
        assert DataDir(tmp_path, "a").read() == {"a": 1}
        again, _ = DataDir(tmp_path, "a").open()
        assert again.keys() == ["a"] and log.stat().st_size == good  # cut off
        log.write_bytes(whole)
    log.write_bytes(log.read_bytes()[:good] + b"\0" * 40)  # the disk grew, then died
    again, _ = DataDir(tmp_path, "a").open()
    assert again.keys() == ["a"]
    again["c"] = 3  # appends after the last good record
    again.sync()
    assert DataDir(tmp_path, "a").read() == {"a": 1, "c": 3}


def test_a_failed_append_is_cut_off_and_written_again_by_the_next_sync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage, _ = DataDir(tmp_path, "a").open()
    storage["a"] = 1
    storage.sync()
    size = (tmp_path / LOG_FILE).stat().st_size

    def half_then_fail(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage_module, "_write_all", half_then_fail)
    storage["b"] = 2
    with pytest.raises(OSError, match="No space"):
        storage.sync()
    assert (tmp_path / LOG_FILE).stat().st_size == size  # the half record is gone
    monkeypatch.undo()
    storage["c"] = 3
    storage.sync()  # writes b again, with c
    assert DataDir(tmp_path, "a").read() == {"a": 1, "b": 2, "c": 3}


def test_a_damaged_record_with_more_after_it_is_a_clear_error(tmp_path: Path) -> None:
    storage, _ = DataDir(tmp_path, "a").open()
    for i in range(3):
        storage[f"k{i}"] = i
        storage.sync()
    log = tmp_path / LOG_FILE
    lines = log.read_bytes().splitlines(keepends=True)
    second = len(lines[0])
    log.write_bytes(lines[0] + lines[1].replace(b'"k1":1', b'"k1":7') + lines[2])
    with pytest.raises(ConfigError, match=f"{LOG_FILE} is damaged at offset {second}"):
        DataDir(tmp_path, "a").open()
    with pytest.raises(ConfigError, match="damaged"):
        DataDir(tmp_path, "a").read()
    log.write_bytes(lines[0] + lines[1][:10] + lines[2])  # a torn record, then more
    with pytest.raises(ConfigError, match=f"damaged at offset {second}"):
        DataDir(tmp_path, "a").open()


def test_compaction_at_the_limit_keeps_everything(tmp_path: Path) -> None:
    data = DataDir(tmp_path, "a", log_limit=300)
    storage, _ = data.open()
    expected: dict[str, object] = {}
    generations = set()
    for i in range(100):
        storage[f"key{i % 10}"] = [i, "x" * (i % 7)]
        expected[f"key{i % 10}"] = [i, "x" * (i % 7)]
        if i % 9 == 4:
            del storage[f"key{i % 10}"]
            del expected[f"key{i % 10}"]
        storage.sync()
        if (tmp_path / STORAGE_FILE).exists():
            generations.add(json.loads((tmp_path / STORAGE_FILE).read_text())["generation"])
            limit = max(300, 4 * (tmp_path / STORAGE_FILE).stat().st_size)
            assert (tmp_path / LOG_FILE).stat().st_size <= limit  # the log stays bounded
    assert len(generations) > 3  # it compacted, several times
    assert DataDir(tmp_path, "a").read() == expected
    again, _ = DataDir(tmp_path, "a").open()
    assert {k: again[k] for k in again} == expected


def _compaction_crash(tmp_path: Path) -> tuple[bytes, bytes]:
    """A log holding x=1 and y=1, then a sync (deleting x, y=2) that compacts: return the
    log and storage.json as they were just before it."""
    data = DataDir(tmp_path, "a")
    storage, _ = data.open()
    storage["base"] = "kept"
    storage.sync()
    data.compact()  # storage.json of generation 1, an empty log
    storage["x"], storage["y"] = 1, 1
    storage.sync()
    old_log, old_json = (tmp_path / LOG_FILE).read_bytes(), (
        tmp_path / STORAGE_FILE).read_bytes()
    del storage["x"]
    storage["y"] = 2
    storage.sync()
    data.compact()  # generation 2, the log emptied
    assert (tmp_path / LOG_FILE).read_bytes() == b""
    return old_log, old_json


def test_a_crash_before_the_new_storage_file_is_renamed_loses_nothing(
        tmp_path: Path) -> None:
    old_log, old_json = _compaction_crash(tmp_path)
    (tmp_path / LOG_FILE).write_bytes(old_log)  # as if the rename never happened
    (tmp_path / STORAGE_FILE).write_bytes(old_json)
    half = tmp_path / f".{STORAGE_FILE}.{4_194_304 + 12345}.tmp"  # a dead process's
    half.write_text('{"format": "dsys-stor')
    again, _ = DataDir(tmp_path, "a").open()
    assert {k: again[k] for k in again} == {"base": "kept", "x": 1, "y": 1}
    assert not half.exists()


def test_a_crash_before_the_log_is_emptied_brings_nothing_back(tmp_path: Path) -> None:
    old_log, _ = _compaction_crash(tmp_path)
    (tmp_path / LOG_FILE).write_bytes(old_log)  # storage.json renamed, log not yet emptied
    assert DataDir(tmp_path, "a").read() == {"base": "kept", "y": 2}
    again, _ = DataDir(tmp_path, "a").open()
    assert {k: again[k] for k in again} == {"base": "kept", "y": 2}  # x stays deleted
    assert (tmp_path / LOG_FILE).read_bytes() == b""  # the stale records are gone
    again["z"] = 3
    again.sync()
    assert DataDir(tmp_path, "a").read() == {"base": "kept", "y": 2, "z": 3}


def test_older_records_before_newer_ones_are_skipped(tmp_path: Path) -> None:
    old_log, _ = _compaction_crash(tmp_path)
    storage, _ = DataDir(tmp_path, "a").open()
    storage["w"] = 1
    storage.sync()  # a record of generation 2, as if emptying the log had failed before
    log = tmp_path / LOG_FILE
    log.write_bytes(old_log + log.read_bytes())
    again, _ = DataDir(tmp_path, "a").open()
    assert {k: again[k] for k in again} == {"base": "kept", "y": 2, "w": 1}
    assert log.read_bytes() == b""  # opening finished the compaction
    assert DataDir(tmp_path, "a").read() == {"base": "kept", "y": 2, "w": 1}


def test_a_log_newer_than_the_storage_file_is_a_clear_error(tmp_path: Path) -> None:
    _, old_json = _compaction_crash(tmp_path)
    storage, _ = DataDir(tmp_path, "a").open()
    storage["w"] = 1
    storage.sync()  # a record of generation 2
    (tmp_path / STORAGE_FILE).write_bytes(old_json)  # an older storage.json put back
    with pytest.raises(ConfigError, match=r"generation 2.*is newer than.*generation 1"):
        DataDir(tmp_path, "a").open()


def test_a_storage_file_from_before_the_log_is_read_as_generation_0(tmp_path: Path) -> None:
    DataDir(tmp_path, "a").open()
    (tmp_path / STORAGE_FILE).write_text(json.dumps({"term": 3, "values": [1]}))
    storage, _ = DataDir(tmp_path, "a").open()
    assert storage["term"] == 3 and storage["values"] == [1]
    storage["term"] = 4
    storage.sync()
    assert DataDir(tmp_path, "a").read() == {"term": 4, "values": [1]}


def test_a_directory_belongs_to_one_node(tmp_path: Path) -> None:
    DataDir(tmp_path, "a").open()
    with pytest.raises(ConfigError, match="belongs to node 'a', not 'b'"):
        DataDir(tmp_path, "b").open()


def test_a_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    DataDir(tmp_path, "a").open()
    (tmp_path / STORAGE_FILE).write_text("[1, 2")
    with pytest.raises(ConfigError, match="cannot read"):
        DataDir(tmp_path, "a").open()


def test_atomic_write_replaces_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write(target, b"old contents, long")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


async def test_a_raft_server_with_a_truncated_log_file_stops_naming_file_and_field(
        tmp_path: Path) -> None:
    import trio

    from dsys import Node
    from dsys.errors import StorageError
    from dsys.raft import Raft
    from dsys.runtime import NodeHost, parse_cluster
    from tests.runtime.helpers import cluster_text

    class Server(Node):
        def __init__(self) -> None:
            super().__init__()
            self.raft = self.add_component(Raft())

    DataDir(tmp_path, "a").open()  # a directory of node a, then a disk that lost an entry
    atomic_write(tmp_path / STORAGE_FILE, json.dumps({
        "raft/state": {"current_term": 2, "voted_for": "a"}, "raft/log/length": 2,
        "raft/log/1": [1, "x"]}).encode())
    cluster = parse_cluster(cluster_text({"a": None, "b": None, "c": None}))
    with trio.fail_after(10), pytest.raises(StorageError) as caught:
        await NodeHost(Server, "a", cluster, data_dir=tmp_path, echo_logs=False).run()
    text = str(caught.value)
    assert str(tmp_path / STORAGE_FILE) in text and "'raft/log/2' is missing" in text
