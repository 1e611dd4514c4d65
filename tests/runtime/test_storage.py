"""The data directory: synced storage survives, atomically; a directory has one owner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsys.errors import ConfigError
from dsys.runtime.storage import META_FILE, STORAGE_FILE, DataDir, atomic_write


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


def test_the_files_are_readable_json_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    data = DataDir(tmp_path, "a")
    storage, _ = data.open()
    storage["x"] = {"k": [1, "two"]}
    storage.sync()
    assert json.loads((tmp_path / STORAGE_FILE).read_text()) == {"x": {"k": [1, "two"]}}
    assert json.loads((tmp_path / META_FILE).read_text()) == {"node": "a", "starts": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == [META_FILE, STORAGE_FILE]
    assert data.read() == {"x": {"k": [1, "two"]}}


def test_a_sync_without_changes_does_not_rewrite_the_file(tmp_path: Path) -> None:
    storage, _ = DataDir(tmp_path, "a").open()
    storage["x"] = 1
    storage.sync()
    (tmp_path / STORAGE_FILE).write_text("marker")  # a rewrite would replace it
    storage.sync()
    assert (tmp_path / STORAGE_FILE).read_text() == "marker"


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
