"""Helpers for the runtime tests: free ports, cluster files, child processes, waiting."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps.py"


def free_ports(count: int, transport: str = "tcp") -> list[int]:
    """``count`` distinct ports the OS says are free now (bound at once, then released)."""
    kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, kind)) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def cluster_text(nodes: dict[str, str | None], transport: str = "tcp", *,
                 secret: str | None = None, extra: str = "",
                 clients: tuple[str, ...] = ()) -> str:
    """A cluster file for ``nodes`` (id -> target or None) on fresh loopback ports."""
    ports = free_ports(len(nodes) + len(clients), transport)
    lines = ["[cluster]", f'transport = "{transport}"']
    if secret:
        lines.append(f'secret = "{secret}"')
    if extra:
        lines.append(extra)
    lines.append("[nodes]")
    for (node_id, target), port in zip(nodes.items(), ports, strict=False):
        if target is None:
            lines.append(f'{node_id} = "127.0.0.1:{port}"')
        else:
            lines.append(f'{node_id} = {{ address = "127.0.0.1:{port}", target = "{target}" }}')
    if clients:
        lines.append("[clients]")
        client_ports = ports[len(nodes):]
        lines += [f'{c} = "127.0.0.1:{p}"' for c, p in zip(clients, client_ports, strict=True)]
    return "\n".join(lines) + "\n"


def dsys_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dsys.cli", *args]


def child_env() -> dict[str, str]:
    # The children must import this checkout (and tests.runtime.apps) like we do.
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "COLUMNS": "200"}


class Nodes:
    """`dsys run` children of one cluster file; every one is killed when the block ends."""

    def __init__(self, cluster: Path, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def trace(self, node_id: str) -> Path:
        return self.workdir / f"{node_id}.jsonl"

    def data(self, node_id: str) -> Path:
        return self.workdir / f"{node_id}-data"

    def log(self, node_id: str) -> Path:
        return self.workdir / f"{node_id}.log"

    def status(self, node_id: str) -> Path:
        return self.workdir / f"{node_id}.status.json"

    def start(self, node_id: str, target: str | None = None, *, data: bool = True) -> None:
        args = ["run", *([target] if target else []), "--node", node_id, "--cluster",
                str(self.cluster), "--trace", str(self.trace(node_id)),
                "--status", str(self.status(node_id))]
        if data:
            args += ["--data", str(self.data(node_id))]
        self.status(node_id).unlink(missing_ok=True)
        with self.log(node_id).open("ab") as log:
            self.procs[node_id] = subprocess.Popen(dsys_command(*args), stdout=log, stderr=log,
                                                   stdin=subprocess.DEVNULL, env=child_env())

    def signal(self, node_id: str, signum: int) -> int:
        proc = self.procs[node_id]
        proc.send_signal(signum)
        return proc.wait(timeout=15)

    def stop_all(self) -> dict[str, int | None]:
        return stop_processes(self.procs)

    def kill_all(self) -> None:
        kill_processes(self.procs)

    def is_up(self, node_id: str) -> bool:
        return read_json(self.status(node_id)).get("state") == "up"

    def logs(self) -> str:
        """Every child's output (for assertion messages)."""
        return "\n".join(f"--- {n} ---\n{self.log(n).read_text(errors='replace')}"
                         for n in self.procs if self.log(n).exists())


def stop_processes(procs: dict[str, subprocess.Popen[Any]]) -> dict[str, int | None]:
    """SIGTERM every running process, then wait for each (killing it after 15 s): its
    exit code, or None if it had to be killed."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    codes: dict[str, int | None] = {}
    for name, proc in procs.items():
        try:
            codes[name] = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            codes[name] = None
    return codes


def kill_processes(procs: dict[str, subprocess.Popen[Any]]) -> None:
    """SIGKILL every running process and reap it."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


@contextlib.contextmanager
def nodes_of(cluster: Path, workdir: Path) -> Iterator[Nodes]:
    nodes = Nodes(cluster, workdir)
    try:
        yield nodes
    finally:
        nodes.kill_all()


def read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def trace_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):  # a line being written right now
            events.append(json.loads(line))
    return events


def logged(path: Path, text: str) -> bool:
    return any(e["kind"] == "log" and text in e["data"]["text"] for e in trace_events(path))


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
                     details: Callable[[], str] = lambda: "") -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{details()}")
        await trio.sleep(0.05)
