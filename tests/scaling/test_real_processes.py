"""The how-to docs/howto/scale-out.md, short and bounded: `dsys cluster up` runs a balancer
and four servers (processes on 127.0.0.1), `dsys scaling load` drives them, and a fifth
server started with `dsys run` while the load runs registers with the balancer, gets
requests, and the throughput does not drop. Every process is stopped at the end."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dsys.cli import main
from tests.runtime.helpers import (
    child_env,
    dsys_command,
    free_ports,
    kill_processes,
    stop_processes,
)

APP = "dsys.scaling.app"
EVERY = 1.0
BEFORE = 4  # intervals of load before the fifth server starts
AFTER = 4  # intervals of load after the one it joined in
LINE = re.compile(r"^\s*(\d+\.\d) s\s+(\d+\.\d)\s+(\d+)\s+(\d+)\s*(.*)$")


def cluster_files(workdir: Path) -> tuple[Path, Path]:
    """cluster.toml (lb, s1-s4) and grow.toml (the same, and s5), on fresh ports."""
    ports = free_ports(6)
    lines = ["[cluster]", 'transport = "tcp"', "", "[nodes]",
             f'lb = {{ address = "127.0.0.1:{ports[0]}", target = "{APP}:balancer" }}']
    lines += [f's{n} = {{ address = "127.0.0.1:{ports[n]}", target = "{APP}:server" }}'
              for n in range(1, 5)]
    cluster, grow = workdir / "cluster.toml", workdir / "grow.toml"
    cluster.write_text("\n".join(lines) + "\n")
    grow.write_text("\n".join([*lines, f's5 = {{ address = "127.0.0.1:{ports[5]}", '
                                       f'target = "{APP}:server" }}']) + "\n")
    return cluster, grow


def wait_for(predicate: Callable[[], bool], timeout: float, what: str,
             details: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{details()}")
        time.sleep(0.1)


def intervals(text: str) -> list[tuple[float, float, dict[str, int]]]:
    """(end, requests a second, answers by server) of each line `dsys scaling load`
    printed."""
    found = []
    for line in text.splitlines():
        match = LINE.match(line)
        if match:
            servers = match.group(5).split()
            by_server = {servers[i]: int(servers[i + 1]) for i in range(0, len(servers), 2)}
            found.append((float(match.group(1)), float(match.group(2)), by_server))
    return found


def test_a_fifth_server_joins_a_loaded_pool_and_throughput_does_not_drop(
        tmp_path: Path) -> None:
    cluster, grow = cluster_files(tmp_path)
    logs = tmp_path / "logs"
    out = {name: tmp_path / f"{name}.out" for name in ("up", "load", "s5")}
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str, *args: str) -> None:
        with out[name].open("wb") as f:
            procs[name] = subprocess.Popen(dsys_command(*args), stdout=f,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           env=child_env(), cwd=tmp_path)

    def read(path: Path) -> str:
        return path.read_text(errors="replace") if path.exists() else ""

    def details() -> str:
        files = [*out.values(), *sorted(logs.glob("*.log"))]
        return "\n".join(f"--- {p.name} ---\n{read(p)[-3000:]}" for p in files)

    try:
        start("up", "cluster", "up", str(cluster), "--log-dir", str(logs), "--for", "120")
        wait_for(lambda: "4 server(s) in service" in read(logs / "lb.log"), 60,
                 "the four servers to register with the balancer", details)
        start("load", "scaling", "load", "--cluster", str(cluster), "--users", "40",
              "--for", "300", "--every", str(EVERY))
        wait_for(lambda: len(intervals(read(out["load"]))) >= BEFORE, 60,
                 f"{BEFORE} s of load", details)
        start("s5", "run", "--node", "s5", "--cluster", str(grow))
        # (a process may take many seconds to start on a busy machine)
        wait_for(lambda: sum("s5" in by for *_, by in intervals(read(out["load"])))
                 > AFTER, 90, f"s5 to answer for {AFTER + 1} s", details)
        procs["load"].terminate()  # like Ctrl-C: it stops and sums up
        procs["load"].wait(timeout=30)
        assert procs["load"].returncode == 0, details()
        load = read(out["load"])
        lines = intervals(load)
        # Until it started, s5 answered nothing; after it registered, it answers requests.
        assert all("s5" not in by for _, _, by in lines[:BEFORE]), details()
        joined = next(n for n, (_, _, by) in enumerate(lines) if "s5" in by)
        after = lines[joined + 1:]
        assert len(after) >= AFTER and all(by.get("s5", 0) > 0 for *_, by in after[:AFTER])
        # The throughput did not drop: the pool is saturated (40 users, 4 x 20 a second),
        # and a fifth server adds capacity. `dsys scaling load` says so in its summary.
        summary = re.search(r"s5 joined at [\d.]+ s: ([\d.]+) requests a second before, "
                            r"([\d.]+) after", load)
        assert summary, details()
        before, then = float(summary.group(1)), float(summary.group(2))
        assert before > 20 and then >= before, details()
        # Every answer came from a server of the pool; nothing timed out or was rejected.
        assert {s for _, _, by in lines for s in by} == {"s1", "s2", "s3", "s4", "s5"}
        assert ", 0 rejected, 0 timed out" in load, details()
        assert "s5 joined: 5 server(s) in service" in read(logs / "lb.log"), details()
    finally:
        codes = stop_processes(procs)  # SIGTERM: cluster up stops its nodes itself
        kill_processes(procs)
    assert codes["up"] == 0 and codes["s5"] == 0, (codes, details())


def test_the_load_generator_refuses_bad_input_and_says_when_nothing_answers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster, _ = cluster_files(tmp_path)  # nobody listens on its ports
    for args, error in ((["--users", "0"], "--users must be at least 1"),
                        (["--every", "0"], "--every must be a number of seconds > 0"),
                        (["--to", "nobody"], "has no node 'nobody'")):
        assert main(["scaling", "load", "--cluster", str(cluster), *args]) == 2
        assert error in capsys.readouterr().err
    assert main(["scaling", "load", "--cluster", str(cluster), "--for", "1", "--every",
                 "0.5", "--timeout", "0.3"]) == 3
    out, err = capsys.readouterr()
    assert "0 request(s) answered" in out
    assert "lb at 127.0.0.1:" in err and "answered no request: is the cluster running?" in err
