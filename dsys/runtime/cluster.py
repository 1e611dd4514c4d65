"""``dsys cluster up``: every node of a cluster file as a process, with a live status.

Each node runs as ``python -m dsys.cli run TARGET --node ID ...`` with its output in
``<log dir>/<id>.log`` and its counters in ``<log dir>/<id>.status.json`` (rewritten twice
a second by the node). The table shows, per node: up or down, messages in and out,
handler errors, refused frames, dropped sends and its last log line. Ctrl-C (or SIGTERM,
or the end of ``--for SECONDS``) stops every node with SIGTERM, then SIGKILL for any that
has not exited 5 seconds later.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import IO, Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from dsys.errors import UsageError
from dsys.runtime.config import ClusterConfig, load_cluster
from dsys.runtime.target import load_target

STOP_GRACE = 5.0
_REFRESH = 0.25


class _NodeProcess:
    def __init__(self, node_id: str, address: str, command: list[str], log: Path,
                 status: Path) -> None:
        self.id = node_id
        self.address = address
        self.command = command
        self.log = log
        self.status = status
        self.process: subprocess.Popen[bytes] | None = None
        self.stopped_by_us = False
        self._log_file: IO[bytes] | None = None

    def start(self) -> None:
        self._log_file = self.log.open("ab")
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                        stdout=self._log_file, stderr=subprocess.STDOUT)

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def read_status(self) -> dict[str, Any]:
        try:
            status = json.loads(self.status.read_text())
        except (OSError, ValueError):
            return {}
        return status if isinstance(status, dict) else {}

    def last_log_line(self, width: int = 48) -> str:
        try:
            with self.log.open("rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - 4096))
                lines = [ln for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return ""
        last = lines[-1].strip() if lines else ""
        return last if len(last) <= width else last[: width - 1] + "…"

    def state(self) -> str:
        code = self.returncode
        if code is None:
            return "up" if self.read_status().get("state") == "up" else "starting"
        if self.stopped_by_us and code in (0, -signal.SIGTERM, -signal.SIGKILL):
            return "stopped"
        return f"down (exit {code})"

    def close(self) -> None:
        if self._log_file is not None:
            self._log_file.close()


def cluster_up(cluster_file: str, target: str | None, *, trace_dir: str | None = None,
               data_dir: str | None = None, log_dir: str | None = None,
               duration: float | None = None, console: Console | None = None,
               insecure: bool = False) -> int:
    """Run every node of ``cluster_file`` until Ctrl-C / SIGTERM / ``duration`` seconds.

    Returns 0 if every node ran until it was stopped, 1 if any exited on its own.
    ``insecure``: run a cluster without a secret beyond loopback (``dsys run --insecure``).
    """
    cluster = load_cluster(cluster_file)
    notes = cluster.check_secure(insecure=insecure)  # refused here, not in every child
    console = console or Console()
    targets = _targets(cluster, target)
    for spec in sorted(set(targets.values())):
        load_target(spec)  # fail here, in one line, rather than in every child
    logs = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="dsys-cluster-"))
    logs.mkdir(parents=True, exist_ok=True)
    nodes = []
    for node_id in cluster.node_ids:
        command = [sys.executable, "-m", "dsys.cli", "run", targets[node_id], "--node", node_id,
                   "--cluster", str(Path(cluster_file).resolve()),
                   "--status", str(logs / f"{node_id}.status.json")]
        if trace_dir:
            command += ["--trace", str(Path(trace_dir) / f"{node_id}.jsonl")]
        if data_dir:
            command += ["--data", str(Path(data_dir) / node_id)]
        if insecure:
            command.append("--insecure")
        (logs / f"{node_id}.status.json").unlink(missing_ok=True)
        nodes.append(_NodeProcess(node_id, cluster.nodes[node_id].address, command,
                                  logs / f"{node_id}.log", logs / f"{node_id}.status.json"))
    for note in notes:
        console.print(f"dsys: {escape(note)}", style="bold red" if "WARNING" in note else None)
    console.print(f"dsys: starting {len(nodes)} node(s) of {cluster.source} over "
                  f"{cluster.transport}; logs in {logs}")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        for node in nodes:
            node.start()
        started = time.monotonic()
        with Live(_table(nodes, cluster), console=console, refresh_per_second=4,
                  transient=False) as live:
            try:
                while any(n.returncode is None for n in nodes):
                    if duration is not None and time.monotonic() - started >= duration:
                        break
                    time.sleep(_REFRESH)
                    live.update(_table(nodes, cluster))
            except KeyboardInterrupt:
                pass
            _stop(nodes)
            live.update(_table(nodes, cluster))
    finally:
        _stop(nodes)
        signal.signal(signal.SIGTERM, previous)
        for node in nodes:
            node.close()
    if not console.is_terminal:
        console.line()  # Live leaves its last frame without a line break off a terminal
    failed = [n for n in nodes if not n.stopped_by_us]
    if failed:
        console.print(f"dsys: node(s) {', '.join(n.id for n in failed)} exited on their own; "
                      f"see {logs}")
        return 1
    console.print(f"dsys: all nodes stopped; logs in {logs}")
    return 0


def _targets(cluster: ClusterConfig, target: str | None) -> dict[str, str]:
    targets: dict[str, str] = {}
    missing = []
    for node_id in cluster.node_ids:
        spec = cluster.target_of(node_id) or target  # the file's own choice wins
        if spec is None:
            missing.append(node_id)
        else:
            targets[node_id] = spec
    if missing:
        raise UsageError(f"no TARGET given and node(s) {', '.join(missing)} have no target "
                         f"in {cluster.source}; pass one (app.py:Factory) or add target = ...")
    return targets


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _stop(nodes: list[_NodeProcess]) -> None:
    running = [n for n in nodes if n.returncode is None and n.process is not None]
    for node in nodes:
        if node.returncode is None:
            node.stopped_by_us = True
    for node in running:
        assert node.process is not None
        node.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for node in running:
        assert node.process is not None
        try:
            node.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()


def _table(nodes: list[_NodeProcess], cluster: ClusterConfig) -> Table:
    table = Table(title=f"{cluster.source} ({cluster.transport})")
    for column in ("node", "address", "pid", "state"):
        table.add_column(column)
    for column in ("in", "out", "errors", "refused", "dropped"):
        table.add_column(column, justify="right")
    table.add_column("last log line")
    for node in nodes:
        status = node.read_status()
        state = node.state()
        style = {"up": "green", "starting": "yellow", "stopped": "dim"}.get(state, "bold red")
        table.add_row(
            node.id, node.address, str(node.process.pid) if node.process else "-",
            f"[{style}]{state}[/]",
            str(status.get("messages_in", "-")), str(status.get("messages_out", "-")),
            _count(status.get("handler_errors")), _count(status.get("rejected")),
            _count(status.get("dropped")), escape(node.last_log_line()))
    return table


def _count(value: Any) -> str:
    if isinstance(value, dict):
        value = sum(v for v in value.values() if isinstance(v, int))
    if not isinstance(value, int):
        return "-"
    return f"[red]{value}[/]" if value else "0"
