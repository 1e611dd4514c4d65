"""Clients as real processes: lab 2's client, unchanged, against a real cluster; histories.

The acceptance test of host-neutral clients: `dsys cluster up` runs lab 2's reference
server (labs/lab2-rpc/solution.py, loaded unchanged by tests/runtime/lab2_app.py), three `dsys run --workload ... --history ...` processes run its reference client,
and the merged history must be linearizable (the `kv` model). Every test stops by itself
(trio.fail_after, subprocess timeouts) and uses only 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import trio

from dsys import Client, Simulation, message
from dsys.check import History, check_linearizable
from dsys.errors import ConfigError, UsageError
from dsys.runtime import (
    ClientHost,
    load_cluster,
    merge_histories,
    parse_cluster,
    read_history,
    run_client,
)
from tests.runtime import kv_workload
from tests.runtime.lab2_app import KVClient, KVServer
from tests.runtime.conftest import running
from tests.runtime.helpers import child_env, cluster_text, dsys_command, read_json, wait_until

DEADLINE = 60
APP = "tests.runtime.lab2_app"
WORKLOAD = "tests.runtime.kv_workload:next_op"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(dsys_command(*args), capture_output=True, text=True, timeout=60,
                          env=child_env(), stdin=subprocess.DEVNULL)


def completions(events: list[dict[str, Any]]) -> dict[str, int]:
    kinds = [e["type"] for e in events]
    return {kind: kinds.count(kind) for kind in ("invoke", "ok", "fail", "info")}


def assert_every_invoke_completes(events: list[dict[str, Any]]) -> None:
    history = History.from_events(events)
    assert all(op.complete_at is not None for op in history), "an operation never completed"


# ----- the acceptance test: lab 2 on a real cluster ---------------------------------------


async def test_lab2_clients_run_unchanged_against_a_real_cluster(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.toml"
    # c1 has a fixed address ([clients]); c2 and c3 are ephemeral.
    cluster.write_text(cluster_text({"server": f"{APP}:Server"}, clients=("c1",)))
    logs = tmp_path / "logs"
    out = tmp_path / "cluster-up.txt"
    ops = 20
    with trio.fail_after(DEADLINE), out.open("wb") as output:
        up = await trio.lowlevel.open_process(
            dsys_command("cluster", "up", str(cluster), "--log-dir", str(logs),
                         "--trace-dir", str(tmp_path / "traces")),
            stdout=output, stderr=subprocess.STDOUT, env=child_env())
        try:
            await wait_until(lambda: read_json(logs / "server.status.json").get("state") == "up",
                             DEADLINE, "the server up", out.read_text)
            results: dict[str, subprocess.CompletedProcess[bytes]] = {}

            async def client(client_id: str) -> None:
                results[client_id] = await trio.run_process(
                    dsys_command("run", f"{APP}:Client", "--node", client_id, "--cluster",
                                 str(cluster), "--workload", WORKLOAD, "--ops", str(ops),
                                 "--think", "0.01", "--seed", "7",
                                 "--history", str(tmp_path / f"{client_id}.jsonl")),
                    capture_stdout=True, capture_stderr=True, check=False, env=child_env())

            async with trio.open_nursery() as nursery:
                for client_id in ("c1", "c2", "c3"):
                    nursery.start_soon(client, client_id)
            up.send_signal(signal.SIGTERM)
            assert await up.wait() == 0, out.read_text()
        finally:
            if up.returncode is None:
                up.kill()
                await up.wait()
    for client_id, result in results.items():
        err = result.stderr.decode()
        assert result.returncode == 0, err
        assert f"dsys[{client_id}]: {ops} operation(s) in" in err, err
        assert f"{ops} ok, 0 fail, 0 info" in err, err
    files = [tmp_path / f"{c}.jsonl" for c in ("c1", "c2", "c3")]
    for path in files:
        events = read_history(path)
        assert completions(events) == {"invoke": ops, "ok": ops, "fail": 0, "info": 0}
        assert {e["client"] for e in events} == {path.stem}
    merged = merge_histories(files)
    assert len(merged) == 3 * 2 * ops
    assert [e["time"] for e in merged] == sorted(e["time"] for e in merged)
    assert {e["process"] for e in merged} == {0, 1, 2}
    assert_every_invoke_completes(merged)
    result = check_linearizable(merged, "kv", timeout=30)
    assert result.linearizable, result.failure
    assert len(result.history) == 3 * ops
    assert sum(op.status == "ok" for op in result.history) == 3 * ops
    # The server executed every put and append exactly once (lab 2's at-most-once table).
    server = [json.loads(line) for line in (tmp_path / "traces" / "server.jsonl").read_text().splitlines()]
    applied = [e["data"] for e in server if e["kind"] == "note"]
    writes = [e for e in merged if e["type"] == "ok" and e["f"] != "get"]
    assert len([a for a in applied if a["f"] != "get"]) == len(writes)


async def test_merged_histories_are_checked_by_dsys_check_lin(tmp_path: Path) -> None:
    cluster = parse_cluster(cluster_text({"server": None}))
    with trio.fail_after(DEADLINE):
        async with running(cluster, {"server": KVServer}):
            async with trio.open_nursery() as nursery:
                for client_id in ("c1", "c2"):
                    nursery.start_soon(
                        lambda c=client_id: run_client(
                            lambda: KVClient("server"), cluster, c, workload=kv_workload.next_op,
                            ops=10, history=tmp_path / f"{c}.jsonl", echo_logs=False))
    merged = tmp_path / "merged.jsonl"
    result = run("cluster", "merge-histories", str(tmp_path / "c1.jsonl"),
                 str(tmp_path / "c2.jsonl"), "-o", str(merged))
    assert result.returncode == 0 and "40 event(s) of 2 file(s)" in result.stderr, result.stderr
    check = run("check", "lin", "--model", "kv", str(merged))
    assert check.returncode == 0, check.stdout + check.stderr
    to_stdout = run("cluster", "merge-histories", str(tmp_path / "c1.jsonl"),
                    str(tmp_path / "c2.jsonl"))
    assert to_stdout.stdout == merged.read_text()


# ----- the Python API ------------------------------------------------------------------------


async def test_run_client_returns_the_history_it_writes_and_draws_the_simulators_ops(
        tmp_path: Path) -> None:
    cluster = parse_cluster(cluster_text({"server": None}))
    with trio.fail_after(DEADLINE):
        async with running(cluster, {"server": KVServer}):
            history = await run_client(lambda: KVClient("server"), cluster, "alice",
                                       workload=kv_workload.next_op, ops=12, seed=3,
                                       history=tmp_path / "alice.jsonl",
                                       trace=tmp_path / "alice-trace.jsonl", echo_logs=False)
    assert history == read_history(tmp_path / "alice.jsonl")
    assert completions(history) == {"invoke": 12, "ok": 12, "fail": 0, "info": 0}
    assert {e["process"] for e in history} == {0} and {e["client"] for e in history} == {"alice"}
    assert check_linearizable(history, "kv").linearizable
    # The same operations as the simulator draws for the same seed and client id.
    sim = Simulation(seed=3)
    sim.add_node("server", KVServer)
    sim.add_client("alice", lambda: KVClient("server"), workload=kv_workload.next_op, ops=12)
    sim.run(until=60)

    def invoked(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(e["f"], e.get("key"), e["value"]) for e in events if e["type"] == "invoke"]

    assert invoked(history) == invoked(sim.history)
    # The client's trace has its invocations and completions, as in the simulator.
    kinds = [json.loads(line)["kind"] for line in
             (tmp_path / "alice-trace.jsonl").read_text().splitlines()]
    assert kinds.count("invoke") == 12 and kinds.count("complete") == 12


@message(name="rt:Ask")
class Ask:
    key: str


class Impatient(Client):
    """Gives up after 0.1 s (its own timer: the host adds no deadline)."""

    def on_invoke(self, op: dict[str, Any]) -> None:
        self.send("server", Ask(op["key"]))
        self.set_timer("give-up", 0.1)

    def on_timer(self, name: str) -> None:
        self.info()


async def test_an_info_completion_starts_a_new_process(tmp_path: Path) -> None:
    cluster = parse_cluster(cluster_text({"server": None}))  # the server never runs
    with trio.fail_after(DEADLINE):
        history = await run_client(Impatient, cluster, "c1", ops=3, echo_logs=False,
                                   workload=lambda rng: {"f": "get", "key": "x"})
    assert [(e["process"], e["type"]) for e in history] == [
        (0, "invoke"), (0, "info"), (1, "invoke"), (1, "info"), (2, "invoke"), (2, "info")]
    assert all(e["value"] is None for e in history)


class Eager(Client):
    """Completes twice: the second is the simulator's error, counted as a handler error."""

    def on_invoke(self, op: dict[str, Any]) -> None:
        self.ok()
        self.ok()


async def test_completing_twice_is_a_handler_error_and_the_client_goes_on() -> None:
    cluster = parse_cluster(cluster_text({"server": None}))
    stderr = io.StringIO()
    host = ClientHost(Eager, "c1", cluster, ops=2, workload=lambda rng: {"f": "noop"},
                      echo_logs=False, stderr=stderr)
    with trio.fail_after(DEADLINE):
        await host.run()
    assert completions(host.history) == {"invoke": 2, "ok": 2, "fail": 0, "info": 0}
    assert host.statistics().handler_errors == 2
    assert "client c1 completed an operation (ok) but none is in progress" in stderr.getvalue()


# ----- mistakes, in one line ---------------------------------------------------------------


async def test_mistakes_in_the_api_are_clear() -> None:
    cluster = parse_cluster(cluster_text({"server": None}))
    workload = kv_workload.next_op
    with pytest.raises(UsageError, match="KVServer is not a dsys Client"):
        await run_client(KVServer, cluster, "c1", workload=workload, ops=1)
    with pytest.raises(ConfigError, match="client id 'server' is a node of"):
        await run_client(Impatient, cluster, "server", workload=workload, ops=1)
    with pytest.raises(UsageError, match="ops of client c1 must be an int >= 0"):
        await run_client(Impatient, cluster, "c1", workload=workload, ops=-1)
    with trio.fail_after(DEADLINE):
        # A factory that is a function: found out when it runs, before on_start.
        with pytest.raises(UsageError, match="built KVServer, not a dsys Client"):
            await run_client(lambda: KVServer(), cluster, "c1", workload=workload, ops=1,
                             echo_logs=False, stderr=io.StringIO())
        with pytest.raises(UsageError, match=r"the workload of client c1 returned 'put x 1'"):
            await run_client(Impatient, cluster, "c1", workload=kv_workload.not_an_op, ops=1,
                             echo_logs=False, stderr=io.StringIO())


@pytest.mark.parametrize(("args", "expected"), [
    ([f"{APP}:Server", "--node", "c1"], "KVServer is not a dsys Client"),
    ([f"{APP}:Client", "--node", "server"], "client id 'server' is a node of"),
    (["--node", "c1"], "no TARGET: pass the client's factory"),
    ([f"{APP}:Client", "--node", "c1", "--data", "d"], "a client keeps no storage"),
    ([f"{APP}:Client", "--node", "c1", "--workload", f"{APP}:SERVER"],
     "is a str, not a workload function"),
])
def test_dsys_run_reports_client_mistakes_in_one_line(tmp_path: Path, args: list[str],
                                                       expected: str) -> None:
    cluster = tmp_path / "cluster.toml"
    cluster.write_text(cluster_text({"server": None}))
    if "--workload" not in args:
        args = [*args, "--workload", WORKLOAD]
    result = run("run", *args, "--ops", "1", "--cluster", str(cluster))
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("dsys: error:")]
    assert len(errors) == 1 and expected in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_client_options_without_a_workload_are_refused(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.toml"
    cluster.write_text(cluster_text({"server": None}))
    result = run("run", f"{APP}:Server", "--node", "server", "--cluster", str(cluster),
                 "--ops", "3", "--history", "h.jsonl")
    assert result.returncode == 2
    assert "--ops and --history run a client: pass --workload too" in result.stderr


# ----- a client killed in the middle --------------------------------------------------------


async def test_a_killed_client_leaves_a_valid_history_prefix(tmp_path: Path) -> None:
    cluster_file = tmp_path / "cluster.toml"
    cluster_file.write_text(cluster_text({"server": None}))
    cluster = load_cluster(cluster_file)
    history = tmp_path / "c1.jsonl"
    with trio.fail_after(DEADLINE):
        async with running(cluster, {"server": KVServer}):
            process = await trio.lowlevel.open_process(
                dsys_command("run", f"{APP}:Client", "--node", "c1", "--cluster",
                             str(cluster_file), "--workload", WORKLOAD, "--ops", "100000",
                             "--history", str(history), "--quiet"),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env())
            try:
                await wait_until(lambda: history.exists() and
                                 history.read_text().count("\n") >= 40, DEADLINE,
                                 "40 history lines")
                process.send_signal(signal.SIGKILL)
                assert await process.wait() == -signal.SIGKILL
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
    events = read_history(history)
    assert len(events) >= 40
    counts = completions(events)
    assert counts["invoke"] - counts["ok"] in (0, 1)  # at most the last one is open
    assert check_linearizable(merge_histories([history]), "kv").linearizable
