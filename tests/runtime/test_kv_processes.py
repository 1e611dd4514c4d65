"""The key-value service (dsys.kv) as real processes: servers SIGKILLed and restarted under
a client workload, judged by linearizability and by the final reads; and `dsys kv` itself.

The servers are `dsys run dsys.kv:KVServer` children with `--data` directories (their Raft
state is fsync'd there); the clients are `dsys run dsys.kv:KVClient --workload` children
that record their histories. While the clients run, a nemesis (this test) SIGKILLs a
server, restarts it, and moves on to the next. Then:

* the merged history, with the final reads appended as operations that start after every
  other one ended, must be linearizable (the `kv` model): nothing acknowledged was lost,
  nothing read that was never written, no operation applied twice;
* and, said plainly: every acknowledged append is in the final value of its key, read with
  `dsys kv get`.

Loopback only; every wait is bounded; every child is killed when the test ends, whatever
happens. The longer variant (5 servers, more rounds, two at once) is a soak test.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from random import Random
from typing import Any

import pytest
import trio

from dsys.check import check_linearizable
from dsys.runtime import load_cluster
from dsys.runtime.history import merge_histories, save_history
from dsys.runtime.kv_cli import NoLeader, run_operation
from tests.runtime.helpers import (
    child_env,
    cluster_text,
    dsys_command,
    kill_processes,
    nodes_of,
    stop_processes,
    wait_until,
)

SERVER, CLIENT = "dsys.kv:KVServer", "dsys.kv:KVClient"
WORKLOAD = "tests.runtime.test_kv_processes:next_op"
#: Keys the workload appends to (every acknowledged append must stay), and the key it
#: puts to (each put replaces the value: the checker judges those).
APPEND_KEYS, PUT_KEY = ("x", "y"), "z"
DEADLINE = 30


def next_op(rng: Random) -> dict[str, Any]:
    """The clients' workload: appends of unique tokens to x and y, puts to z, gets of all
    three. Unique values keep the checker's search small."""
    draw = rng.random()
    if draw < 0.3:
        return {"f": "get", "key": rng.choice((*APPEND_KEYS, PUT_KEY)), "value": None}
    if draw < 0.45:
        return {"f": "put", "key": PUT_KEY, "value": f"{rng.getrandbits(32):08x}"}
    return {"f": "append", "key": rng.choice(APPEND_KEYS),
            "value": f"{rng.getrandbits(32):08x};"}


# ----- helpers ------------------------------------------------------------------------


def run_dsys(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(dsys_command(*args), capture_output=True, text=True,
                          timeout=timeout, env=child_env(), stdin=subprocess.DEVNULL)


class Clients:
    """`dsys run dsys.kv:KVClient --workload ...` children, each writing a history."""

    def __init__(self, cluster: Path, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def history(self, client: str) -> Path:
        return self.workdir / f"{client}.history.jsonl"

    def log(self, client: str) -> Path:
        return self.workdir / f"{client}.log"

    def start(self, client: str, seed: int, think: float) -> None:
        args = ["run", CLIENT, "--node", client, "--cluster", str(self.cluster),
                "--workload", WORKLOAD, "--think", str(think), "--seed", str(seed),
                "--history", str(self.history(client)), "--quiet"]
        with self.log(client).open("ab") as log:
            self.procs[client] = subprocess.Popen(dsys_command(*args), stdout=log, stderr=log,
                                                  stdin=subprocess.DEVNULL, env=child_env())

    def completed(self, client: str) -> int:
        path = self.history(client)
        text = path.read_text() if path.exists() else ""
        return sum('"type":"ok"' in line for line in text.splitlines())

    def stop_all(self) -> dict[str, int | None]:
        """SIGTERM: each client writes its last line and exits (an open operation is info)."""
        return stop_processes(self.procs)

    def kill_all(self) -> None:
        kill_processes(self.procs)

    def logs(self) -> str:
        return "\n".join(f"--- {c} ---\n{self.log(c).read_text(errors='replace')}"
                         for c in self.procs if self.log(c).exists())


@contextlib.contextmanager
def clients_of(cluster: Path, workdir: Path) -> Iterator[Clients]:
    clients = Clients(cluster, workdir)
    try:
        yield clients
    finally:
        clients.kill_all()


async def wait_for_leader(cluster_file: Path, within: float) -> str:
    """Bounded: a get through the leader (what `dsys kv get` does) succeeds; return the
    leader's id."""
    cluster = load_cluster(cluster_file)
    deadline = time.monotonic() + within
    while True:
        try:
            reply = await run_operation(cluster, "get", "x", timeout=2, retry=0.2)
        except NoLeader:
            if time.monotonic() > deadline:
                raise
        else:
            assert reply.leader in cluster.nodes, reply
            return reply.leader


def final_reads(cluster: Path, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """`dsys kv get` of each key (at once), as history events that start after every
    operation of the clients ended (each read is its own process)."""
    invoked = time.time()
    procs = {key: subprocess.Popen(dsys_command("kv", "get", "--cluster", str(cluster), key,
                                                "--timeout", "20"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, env=child_env(), text=True)
             for key in keys}
    values = {}
    try:
        for key, proc in procs.items():
            out, err = proc.communicate(timeout=40)
            assert proc.returncode == 0, f"dsys kv get {key}: exit {proc.returncode}: {err}"
            values[key] = out.removesuffix("\n")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    done = time.time()
    events = []
    for key in keys:
        process = f"final-{key}"
        events.append({"process": process, "type": "invoke", "f": "get", "key": key,
                       "value": None, "time": invoked})
    for key in keys:
        events.append({"process": f"final-{key}", "type": "ok", "f": "get", "key": key,
                       "value": values[key], "time": done})
    return events


# ----- the tests ----------------------------------------------------------------------


async def kill_and_restart_under_load(tmp_path: Path, *, servers: int, clients: int,
                                      rounds: int, at_once: int) -> None:
    names = tuple(f"s{i}" for i in range(1, servers + 1))
    cluster = tmp_path / "cluster.toml"
    cluster.write_text(cluster_text(dict.fromkeys(names, SERVER)))
    rng = Random(f"kv-processes/{servers}/{rounds}")
    with nodes_of(cluster, tmp_path) as nodes, clients_of(cluster, tmp_path) as workers, \
            trio.fail_after(DEADLINE * (4 + 2 * rounds)):
        for name in names:
            nodes.start(name)

        def logs() -> str:
            return nodes.logs() + "\n" + workers.logs()

        await wait_for_leader(cluster, DEADLINE)
        ids = [f"c{i}" for i in range(1, clients + 1)]
        for seed, client in enumerate(ids):
            workers.start(client, seed, think=0.05)
        await wait_until(lambda: all(workers.completed(c) >= 5 for c in ids), DEADLINE,
                         "5 operations done by every client", logs)
        for round_ in range(rounds):  # the nemesis: the leader every other round
            victims = rng.sample(names, at_once)
            if round_ % 2 == 0:
                leader = await wait_for_leader(cluster, DEADLINE)
                victims = [leader, *rng.sample([n for n in names if n != leader],
                                               at_once - 1)]
            before = {c: workers.completed(c) for c in ids}
            for victim in victims:
                assert nodes.signal(victim, signal.SIGKILL) == -signal.SIGKILL
            await trio.sleep(rng.uniform(0.3, 1.0))
            for victim in victims:
                nodes.start(victim)
            await wait_until(lambda victims=victims: all(nodes.is_up(v) for v in victims), DEADLINE,
                             f"{', '.join(victims)} up again", logs)
            # Progress with the victims back: the cluster has a leader and serves.
            await wait_until(lambda before=before: all(workers.completed(c) >= before[c] + 3
                                                       for c in ids),
                             DEADLINE, "3 more operations by every client", logs)
        assert set(workers.stop_all().values()) == {0}, logs()
        await wait_for_leader(cluster, DEADLINE)
        finals = final_reads(cluster, (*APPEND_KEYS, PUT_KEY))
        assert set(nodes.stop_all().values()) == {0}, logs()

    history = merge_histories(workers.history(c) for c in ids)
    save_history(history + finals, tmp_path / "history.jsonl")  # for a failing run's reader
    final = {e["key"]: e["value"] for e in finals if e["type"] == "ok"}
    acknowledged = [e for e in history if e["type"] == "ok" and e["f"] == "append"]
    assert acknowledged, "no append was acknowledged"
    lost = [e for e in acknowledged if e["value"] not in final[e["key"]]]
    assert not lost, f"acknowledged appends lost: {lost[:5]}; final values {final}"
    for key in APPEND_KEYS:  # and none applied twice
        tokens = [t for t in final[key].split(";") if t]
        assert len(tokens) == len(set(tokens)), f"{key} has an append applied twice: {final}"
    result = check_linearizable(history + finals, "kv", timeout=60)
    assert result.linearizable, f"{result}\nhistory in {tmp_path / 'history.jsonl'}"


async def test_kv_servers_killed_and_restarted_lose_no_acknowledged_write(
        tmp_path: Path) -> None:
    await kill_and_restart_under_load(tmp_path, servers=3, clients=2, rounds=3, at_once=1)


@pytest.mark.soak
async def test_five_kv_servers_two_killed_at_once_many_times(tmp_path: Path) -> None:
    await kill_and_restart_under_load(tmp_path, servers=5, clients=4, rounds=10, at_once=2)


async def test_dsys_kv_puts_gets_and_says_when_no_leader_answers(tmp_path: Path) -> None:
    names = ("s1", "s2", "s3")
    cluster = tmp_path / "cluster.toml"
    cluster.write_text(cluster_text(dict.fromkeys(names, SERVER)))
    with nodes_of(cluster, tmp_path) as nodes, trio.fail_after(4 * DEADLINE):
        for name in names:
            nodes.start(name)
        await wait_for_leader(cluster, DEADLINE)

        def kv(*args: str) -> subprocess.CompletedProcess[str]:
            return run_dsys("kv", args[0], "--cluster", str(cluster), *args[1:])

        assert kv("put", "k", "a").stdout == "ok\n"
        assert kv("append", "k", "b").stdout == "ok\n"
        assert kv("get", "k").stdout == "ab\n"
        assert kv("cas", "k", "ab", "c").stdout == "ok\n"
        failed = kv("cas", "k", "ab", "d")
        assert (failed.returncode, failed.stdout) == (1, "failed: the value of k is 'c', "
                                                         "not 'ab'\n")
        # A minority left: the one server answers, but cannot lead.
        nodes.signal("s1", signal.SIGKILL)
        nodes.signal("s2", signal.SIGKILL)
        alone = kv("put", "k", "e", "--timeout", "2")
        assert alone.returncode == 3, alone.stderr
        assert "no leader answered within 2 s" in alone.stderr
        assert "a majority (2 of 3)" in alone.stderr
        assert "The put was not sent, so it did not happen" in alone.stderr
        nodes.start("s1")  # a majority again: the value is still there
        assert kv("get", "k", "--timeout", "20").stdout == "c\n"
        codes = nodes.stop_all()
        assert (codes["s1"], codes["s3"]) == (0, 0), nodes.logs()
    nobody = run_dsys("kv", "get", "--cluster", str(cluster), "k", "--timeout", "1")
    assert nobody.returncode == 3
    assert "no server of" in nobody.stderr and "is the cluster running?" in nobody.stderr


def test_dsys_kv_refuses_a_bad_cluster_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[nodes\n")
    result = run_dsys("kv", "get", "--cluster", str(bad), "x")
    assert result.returncode == 2
    assert result.stderr.startswith("dsys: error: ") and "not valid TOML" in result.stderr
    assert result.stderr.count("\n") == 1
    missing = run_dsys("kv", "put", "--cluster", str(tmp_path / "none.toml"), "x", "1")
    assert (missing.returncode, missing.stderr.count("\n")) == (2, 1)
    assert "cluster file not found" in missing.stderr
