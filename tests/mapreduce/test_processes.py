"""A word count on real processes: `dsys cluster up` runs 1 coordinator and 3 workers on
loopback, sharing a directory; the output equals the sequential run, every output file is
installed once, and the job is done within a bound of real time."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

from dsys.mapreduce import WORD_COUNT, DirectoryStore, read_output, run_sequential
from dsys.mapreduce.jobs import sample_documents
from tests.runtime.helpers import child_env, cluster_text, dsys_command

DEADLINE = 60.0  # real seconds: generous, the machine is shared


def test_word_count_on_four_processes(tmp_path: Path) -> None:
    shutil.copy(Path(__file__).with_name("app_template.py"), tmp_path / "app.py")
    store = DirectoryStore(tmp_path / "shared")
    inputs = {f"input/{name}": text for name, text in sample_documents(6, 300, 3).items()}
    for name, text in inputs.items():
        store.write(name, text, by="input")
    nodes: dict[str, str | None] = {"coordinator": "app.py:coordinator"}
    nodes.update({f"w{n}": "app.py:worker" for n in (1, 2, 3)})
    (tmp_path / "cluster.toml").write_text(cluster_text(nodes))
    out = tmp_path / "out.txt"
    with out.open("wb") as output:
        process = subprocess.Popen(
            dsys_command("cluster", "up", str(tmp_path / "cluster.toml"), "--log-dir",
                         str(tmp_path / "logs"), "--for", str(DEADLINE)),
            stdout=output, stderr=subprocess.STDOUT, env=child_env())
        try:
            deadline = time.monotonic() + DEADLINE
            while not store.exists("wordcount/_SUCCESS") and process.poll() is None:
                assert time.monotonic() < deadline, out.read_text()
                time.sleep(0.2)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, out.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert store.exists("wordcount/_SUCCESS"), out.read_text()
    assert read_output(store, WORD_COUNT) == run_sequential(
        WORD_COUNT, {name: inputs[name] for name in sorted(inputs)})
    installs: dict[str, int] = {}
    for w in store.log:
        if w.installed and w.how == "commit":
            installs[w.name] = installs.get(w.name, 0) + 1
    owed = [WORD_COUNT.map_output(m, r) for m in range(6) for r in range(WORD_COUNT.reducers)]
    owed += [WORD_COUNT.output(r) for r in range(WORD_COUNT.reducers)]
    assert installs == dict.fromkeys(owed, 1)
    workers = {w.by for w in store.log if w.how == "commit" and w.installed}
    assert workers <= {"w1", "w2", "w3"} and len(workers) >= 2  # the work was shared
