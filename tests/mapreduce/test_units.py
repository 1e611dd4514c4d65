"""Jobs, partitioning, the stores and bad input, without faults: the sequential reference,
a partition function that is the same in every process, commits that install a file once,
and a run that is the same byte for byte under any PYTHONHASHSEED."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dsys.errors import ConfigError, UsageError
from dsys.mapreduce import (
    INVERTED_INDEX,
    JOIN,
    WORD_COUNT,
    DirectoryStore,
    Job,
    MemoryStore,
    Worker,
    grep,
    partition,
    run_sequential,
)


def test_the_sequential_jobs() -> None:
    docs = {"a": "Map the lease\nthe crash", "b": "lease the worker"}
    assert run_sequential(WORD_COUNT, docs) == {"crash": 1, "lease": 2, "map": 1, "the": 3,
                                                "worker": 1}
    assert run_sequential(INVERTED_INDEX, docs)["the"] == ["a", "b"]
    assert run_sequential(INVERTED_INDEX, docs)["crash"] == ["a"]
    assert run_sequential(grep("lease"), docs) == {"a:1": "Map the lease",
                                                   "b:1": "lease the worker"}
    tables = {"users/1": "1,ann\n2,bob", "orders/1": "1,book\n1,pen\n3,cup"}
    assert run_sequential(JOIN, tables) == {"1": [["book", "ann"], ["pen", "ann"]], "2": [],
                                            "3": []}


_PARTITION = ("from dsys.mapreduce import partition; "
              "print([partition(w, 7) for w in ('the', 'lease', 'straggler', 'é')])")


def test_partition_is_the_same_in_every_process() -> None:
    seen = set()
    for hashseed in ("0", "1", "12345"):
        out = subprocess.run([sys.executable, "-c", _PARTITION], capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": hashseed}, check=True)
        seen.add(out.stdout)
    assert seen == {f"{[partition(w, 7) for w in ('the', 'lease', 'straggler', 'é')]}\n"}
    assert {partition(f"k{n}", 4) for n in range(100)} == {0, 1, 2, 3}


_RUN = """
from dsys.demos.mapreduce import cluster, crash_workers, finished
built = cluster(5, speeds={"w4": 0.2}, drop=0.05)
crash_workers(built.sim, crashes=2, window=(0.5, 4.0))
built.sim.run_until(finished, timeout=60)
print(built.sim.trace.digest(), built.sim.now)
"""


def test_same_seed_same_trace_under_any_hashseed() -> None:
    digests = set()
    for hashseed in ("0", "7"):
        out = subprocess.run([sys.executable, "-c", _RUN], capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": hashseed}, check=True)
        digests.add(out.stdout)
    assert len(digests) == 1


@pytest.mark.parametrize("store", ["memory", "directory"])
def test_a_commit_installs_a_file_once(store: str, tmp_path: Path) -> None:
    s = MemoryStore() if store == "memory" else DirectoryStore(tmp_path)
    s.write("j/tmp/1", "first", by="w1", at=1.0)
    s.write("j/tmp/2", "second", by="w2", at=2.0)
    assert s.commit("j/tmp/1", "j/out-0", by="w1", at=3.0)
    assert not s.commit("j/tmp/2", "j/out-0", by="w2", at=4.0)
    assert s.read("j/out-0") == "first"
    assert not s.exists("j/tmp/1") and not s.exists("j/tmp/2")
    assert [(w.name, w.by, w.how, w.installed) for w in s.log] == [
        ("j/tmp/1", "w1", "write", True), ("j/tmp/2", "w2", "write", True),
        ("j/out-0", "w1", "commit", True), ("j/out-0", "w2", "commit", False)]
    with pytest.raises(FileNotFoundError):
        s.read("j/out-1")
    assert s.names("j/") == ["j/out-0"]


def test_bad_input_gets_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="job name"):
        Job("word count", WORD_COUNT.map, WORD_COUNT.reduce)
    with pytest.raises(ConfigError, match="reducers must be an int >= 1"):
        Job("wc", WORD_COUNT.map, WORD_COUNT.reduce, reducers=0)
    with pytest.raises(ConfigError, match="bad pattern"):
        grep("(")
    with pytest.raises(UsageError, match="bad store file name"):
        MemoryStore().write("../etc/passwd", "x")
    with pytest.raises(ConfigError, match="seconds per byte"):
        MemoryStore(read_cost=-1)
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is a file"):
        DirectoryStore(tmp_path / "file")
    with pytest.raises(ConfigError, match="speed must be > 0"):
        Worker(WORD_COUNT, MemoryStore(), speed=0)
    with pytest.raises(ConfigError, match="key that is not a string"):
        run_sequential(Job("bad", lambda k, v: [(1, 1)], lambda k, vs: 0), {"a": ""})
