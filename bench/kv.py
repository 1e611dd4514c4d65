"""The key-value service on Raft (dsys.kv) as 3 real processes, against PySyncObj.

One run, one table. Measured in this run, side by side (no assertions: a bench reports):

1. **dsys**: three ``dsys run dsys.kv:KVServer --data DIR`` processes on loopback (the
   Raft state fsync'd in each data directory), driven from this process by the client of
   ``dsys kv`` (:class:`dsys.runtime.kv_cli.KVShell`: sessions, leader hints, retries;
   the requests of its sessions that are ready together travel in one ``KVBatch``):

   * *latency*: one session, puts one at a time, p50 / p99 of each round trip;
   * *throughput*: ``--clients`` sessions at once, each putting as fast as answered,
     for ``--seconds``: acknowledged puts per second.

   Twice: without a secret, and with one (every frame authenticated, HMAC-SHA256).
2. **PySyncObj** (the anchor; ``pip install -e '.[bench]'``): three processes of this
   file (``--pysyncobj-node``), a replicated dict with its journal in a file. The first
   node drives, like PySyncObj's own benchmark: ``sync=True`` calls one at a time with
   ``appendEntriesUseBatch=False`` (latency, the configuration of its quoted 1.4 ms),
   then, on a fresh cluster with its default batching, asynchronous calls with
   ``--window`` in flight (throughput), on a cluster whose driver is its leader (its best
   case: the driver's election timeout is the shortest, and a cluster that elected
   another node anyway is started again, a few times at most).
3. **The simulator**: the same KVServer and KVClient classes, 3 servers and
   ``--clients`` clients putting, in virtual time: completed operations per *wall*
   second, and bytes per operation (each message sealed as a JSON frame, as
   :mod:`dsys.runtime.wire` would send it, 4 bytes of TCP length prefix included).

PySyncObj's published figures are printed beside them, labelled *quoted* (its README:
15-19k requests/s asynchronous on 3 nodes; about 1.4 ms for one unbatched synchronous
call). Without PySyncObj installed, its rows say so and only the quoted figures remain.

What each one promises differs, and the table says it: dsys fsyncs its Raft state before
any message that depends on it leaves (Figure 2) and can authenticate every frame;
PySyncObj writes its journal to a memory-mapped file that it never fsyncs (a power cut
can lose acknowledged writes) and sends pickles (authenticated and encrypted only with a
``password`` and the ``cryptography`` package).

``--profile`` also runs the dsys latency phase with every server under cProfile and
prints where the leader's time goes.

Run from the repository root::

    python bench/kv.py [--seconds 5] [--clients 128] [--requests 300] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pstats
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from random import Random
from typing import Any

import trio

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
SERVERS = ("s1", "s2", "s3")
VALUE = "v" * 16
KEYS = 100
START_WITHIN = 60.0  # seconds for a cluster to elect a leader before the bench gives up
DRIVER_LEADS_TRIES = 5  # PySyncObj clusters started until its driver is the leader

QUOTED = {"throughput": "15-19k ops/s (async, 3 nodes; PySyncObj README)",
          "latency": "1.4 ms (one unbatched sync call)"}


# ----- processes ---------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


@contextlib.contextmanager
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Children started into the list; SIGTERM then SIGKILL for each, whatever happens."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (ordered[len(ordered) // 2],
            ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))])


# ----- 1. dsys on the trio runtime -----------------------------------------------------


def dsys_cluster(workdir: Path, *, secret: bool) -> Path:
    ports = free_ports(len(SERVERS))
    lines = ["[cluster]", 'transport = "tcp"']
    if secret:
        lines.append(f'secret = "{secrets.token_hex(16)}"')
    lines.append("[nodes]")
    lines += [f'{n} = "127.0.0.1:{p}"' for n, p in zip(SERVERS, ports, strict=True)]
    path = workdir / "cluster.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def start_dsys(procs: list[subprocess.Popen[bytes]], cluster: Path, workdir: Path,
               profile: bool = False) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                         os.environ.get("PYTHONPATH", "")])}
    for node in SERVERS:
        python = [sys.executable]
        if profile:
            python += ["-m", "cProfile", "-o", str(workdir / f"{node}.prof")]
        command = [*python, "-m", "dsys.cli", "run", "dsys.kv:KVServer", "--node", node,
                   "--cluster", str(cluster), "--data", str(workdir / f"{node}-data"),
                   "--quiet"]
        log = (workdir / f"{node}.log").open("ab")
        procs.append(subprocess.Popen(command, stdout=log, stderr=log,
                                      stdin=subprocess.DEVNULL, env=env))
        log.close()


async def dsys_measure(cluster_file: Path, *, requests: int, clients: int,
                       seconds: float) -> dict[str, Any]:
    """Latency (one session, one put at a time), then throughput (many sessions)."""
    from dsys.runtime import load_cluster, open_client
    from dsys.runtime.kv_cli import KVShell

    cluster = load_cluster(cluster_file)
    result: dict[str, Any] = {}
    async with open_client(cluster) as client, trio.open_nursery() as nursery:
        shell = KVShell(client, retry=1.0)
        nursery.start_soon(shell.dispatch)
        session = shell.session()
        with trio.fail_after(START_WITHIN):  # the first put: a leader is elected
            await session.call("put", "warm", VALUE)
        result["leader"] = shell.leader
        rng = Random(1)
        latencies = []
        with trio.fail_after(START_WITHIN):
            for i in range(requests + 20):
                key = f"k{rng.randrange(KEYS)}"
                started = time.perf_counter()
                reply = await session.call("put", key, VALUE)
                if i >= 20 and reply.status == "ok":  # after a short warm-up
                    latencies.append(time.perf_counter() - started)
        result["p50"], result["p99"] = percentiles(latencies)

        done = registered = 0
        stop = False

        async def putter(n: int) -> None:
            nonlocal done, registered
            mine = shell.session()
            await mine.call("put", f"k{n % KEYS}", VALUE)  # registered before the clock
            registered += 1
            await ready.wait()
            while not stop:
                reply = await mine.call("put", f"k{rng.randrange(KEYS)}", VALUE)
                if reply.status == "ok" and not stop:
                    done += 1

        ready = trio.Event()
        with trio.fail_after(START_WITHIN + 2 * seconds):
            async with trio.open_nursery() as workers:
                for n in range(clients):
                    workers.start_soon(putter, n)
                while registered < clients:
                    await trio.sleep(0.05)
                ready.set()
                started = time.perf_counter()
                await trio.sleep(seconds)
                stop = True
                elapsed = time.perf_counter() - started
                workers.cancel_scope.cancel()
        result["throughput"] = done / elapsed
        nursery.cancel_scope.cancel()
    return result


def dsys_run(args: argparse.Namespace, *, secret: bool, profile: bool = False
             ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dsys-bench-kv-") as folder:
        workdir = Path(folder)
        cluster = dsys_cluster(workdir, secret=secret)
        with processes() as procs:
            start_dsys(procs, cluster, workdir, profile=profile)
            requests = args.requests
            result = trio.run(lambda: dsys_measure(
                cluster, requests=requests, clients=0 if profile else args.clients,
                seconds=0.1 if profile else args.seconds))
        if profile:
            result["profile"] = workdir / f"{result['leader']}.prof"
            result["profile_text"] = profile_report(result["profile"], args.requests + 21)
        return result


def profile_report(path: Path, puts: int, top: int = 12) -> str:
    """Where the leader's time goes: the costs a put pays, per put, then the functions
    with the most time of their own (start-up included; ``epoll`` is waiting)."""
    import io

    stats = pstats.Stats(str(path))
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = \
        stats.stats  # type: ignore[attr-defined]

    def total(file_part: str, name: str) -> tuple[int, float]:
        calls, cumulative = 0, 0.0
        for (file, _, func), (_, count, _, cumtime, _) in table.items():
            if file_part in file and func == name:
                calls, cumulative = calls + count, cumulative + cumtime
        return calls, cumulative

    lines = []
    for label, file_part, name in (
            ("fsync (file and directory)", "~", "<built-in method posix.fsync>"),
            ("rename (atomic replace)", "~", "<built-in method posix.replace>"),
            ("socket send", "~", "<method 'send' of '_socket.socket' objects>"),
            ("storage sync, whole (DataDir._on_sync)", "dsys/runtime/storage.py", "_on_sync"),
            ("Raft handlers (Raft.on_message)", "dsys/raft/raft.py", "on_message"),
            ("KV handlers (KVService.on_message)", "dsys/kv/server.py", "on_message")):
        calls, cumulative = total(file_part, name)
        lines.append(f"  {label:40} {calls / puts:6.2f} calls/put  "
                     f"{1000 * cumulative / puts:7.2f} ms/put")
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(top)
    body = out.getvalue()
    return "\n".join(lines) + "\n" + body[body.index("   ncalls"):]


# ----- 2. PySyncObj ---------------------------------------------------------------------


def pysyncobj_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("pysyncobj") is not None


def pysyncobj_node(index: int, ports: list[int], folder: Path, mode: str, requests: int,
                   window: int, seconds: float) -> None:
    """One PySyncObj node (a child process); node 0 measures and writes result.json.

    ``mode`` "latency": ``appendEntriesUseBatch=False`` (each call is sent at once: the
    configuration of the quoted 1.4 ms), ``sync=True`` calls one at a time. "throughput":
    the default batching, asynchronous calls with ``window`` in flight.
    """
    import importlib

    pysyncobj = importlib.import_module("pysyncobj")  # untyped: Any for mypy
    SyncObjConf, replicated = pysyncobj.SyncObjConf, pysyncobj.replicated
    SyncObj: Any = pysyncobj.SyncObj

    class KV(SyncObj):
        def __init__(self, me: str, others: list[str], conf: Any) -> None:
            super().__init__(me, others, conf)
            self.data: dict[str, str] = {}

        @replicated
        def put(self, key: str, value: str) -> None:
            self.data[key] = value

    addresses = [f"127.0.0.1:{p}" for p in ports]
    # The driver (node 0) times out first, so it is almost always elected: its best
    # case, with no forwarding hop (the others wait longer than its whole range).
    timeouts = (0.35, 0.6) if index == 0 else (1.2, 2.4)  # (min > 3 x its 0.1 s period)
    conf = SyncObjConf(journalFile=str(folder / f"journal-{index}.bin"),
                       dynamicMembershipChange=False,
                       appendEntriesUseBatch=mode != "latency",
                       raftMinTimeout=timeouts[0], raftMaxTimeout=timeouts[1])
    kv = KV(addresses[index], [a for i, a in enumerate(addresses) if i != index], conf)
    if index != 0:
        while True:  # until the bench stops us (SIGTERM)
            time.sleep(1)
    deadline = time.monotonic() + START_WITHIN
    while not kv.isReady() or kv._getLeader() is None:
        if time.monotonic() > deadline:
            raise SystemExit("PySyncObj: no leader")
        time.sleep(0.05)
    rng = Random(1)
    kv.put("warm", VALUE, sync=True, timeout=START_WITHIN)
    result: dict[str, Any] = {"leader": "node 0 (the driver)"
                              if str(kv._getLeader()) == addresses[0] else "another node"}
    if mode == "latency":
        latencies = []
        for i in range(requests + 20):
            started = time.perf_counter()
            kv.put(f"k{rng.randrange(KEYS)}", VALUE, sync=True, timeout=10)
            if i >= 20:
                latencies.append(time.perf_counter() - started)
        result["p50"], result["p99"] = percentiles(latencies)
    else:
        slots = threading.Semaphore(window)
        counts = {"ok": 0, "error": 0}
        lock = threading.Lock()

        def done(_: Any, error: int) -> None:
            with lock:
                counts["ok" if error == 0 else "error"] += 1
            slots.release()

        started = time.perf_counter()
        end = started + seconds
        while time.perf_counter() < end:
            if slots.acquire(timeout=0.5):
                kv.put(f"k{rng.randrange(KEYS)}", VALUE, callback=done)
        elapsed = time.perf_counter() - started
        with lock:
            result["throughput"] = counts["ok"] / elapsed
            result["errors"] = counts["error"]
    (folder / "result.json").write_text(json.dumps(result))
    os._exit(0)  # PySyncObj's threads would keep a normal exit waiting


def pysyncobj_run(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dsys-bench-pso-") as folder:
        ports = free_ports(3)
        with processes() as procs:
            for index in (1, 2, 0):
                command = [sys.executable, str(HERE), "--pysyncobj-node", str(index),
                           "--mode", mode, "--ports", ",".join(map(str, ports)),
                           "--dir", folder, "--requests", str(args.requests),
                           "--window", str(args.window), "--seconds", str(args.seconds)]
                log = (Path(folder) / f"node{index}.log").open("ab")
                procs.append(subprocess.Popen(command, stdout=log, stderr=log,
                                              stdin=subprocess.DEVNULL))
                log.close()
            try:
                procs[-1].wait(timeout=START_WITHIN + args.seconds + 60)
            except subprocess.TimeoutExpired:
                return {"error": "timed out"}
        result_file = Path(folder) / "result.json"
        if not result_file.exists():
            return {"error": (Path(folder) / "node0.log").read_text()[-300:]}
        result: dict[str, Any] = json.loads(result_file.read_text())
        return result


# ----- 3. the simulator ----------------------------------------------------------------


def simulated(clients: int, until: float = 1.0) -> dict[str, Any]:
    """Puts by ``clients`` KVClients on 3 KVServers: ops per wall second, bytes per op."""
    from dsys import Simulation
    from dsys.core import codec
    from dsys.kv import KVClient, KVServer
    from dsys.runtime.wire import Wire

    def workload(rng: Random) -> dict[str, Any]:
        return {"f": "put", "key": f"k{rng.randrange(KEYS)}", "value": VALUE}

    sim = Simulation(seed=1)
    for node in SERVERS:
        sim.add_node(node, KVServer)
    for n in range(clients):
        sim.add_client(f"c{n}", KVClient, workload=workload, ops=None)
    started = time.perf_counter()
    sim.run(until=until)
    wall = time.perf_counter() - started
    ops = sum(1 for e in sim.history if e["type"] == "ok")
    wires: dict[str, Wire] = {}
    frame_bytes = messages = 0
    for event in sim.trace:
        if event.kind == "send":
            wire = wires.setdefault(event.node, Wire(event.node))
            frame_bytes += 4 + len(wire.seal(event.data["to"], codec.encode(event.data["msg"])))
            messages += 1
    return {"per_wall_second": ops / wall, "per_virtual_second": ops / until,
            "bytes_per_op": frame_bytes / max(ops, 1), "messages_per_op": messages / max(ops, 1),
            "ops": ops}


# ----- the table -----------------------------------------------------------------------


def say(text: str) -> None:
    print(f"bench/kv.py: {text}...", file=sys.stderr, flush=True)


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="length of each throughput phase (default 5)")
    parser.add_argument("--clients", type=int, default=128,
                        help="concurrent dsys sessions (and simulated clients; default "
                             "128; PySyncObj keeps --window calls in flight)")
    parser.add_argument("--window", type=int, default=1000,
                        help="PySyncObj calls in flight (default 1000)")
    parser.add_argument("--requests", type=int, default=300,
                        help="synchronous writes timed for latency (default 300)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the dsys servers during the latency phase")
    parser.add_argument("--pysyncobj-node", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ports", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pysyncobj_node is not None:
        pysyncobj_node(args.pysyncobj_node, [int(p) for p in args.ports.split(",")],
                       Path(args.dir), args.mode, args.requests, args.window, args.seconds)
        return

    began = time.perf_counter()
    rows: list[tuple[str, ...]] = []
    say("dsys, no secret")
    plain = dsys_run(args, secret=False)
    say("dsys, with a secret")
    signed = dsys_run(args, secret=True)
    pso: dict[str, Any] = {"error": "not installed (pip install -e '.[bench]')"}
    if pysyncobj_available():
        say("PySyncObj, latency (unbatched)")
        pso = pysyncobj_run(args, "latency")
        if "error" not in pso:
            # The anchor at its best: its driver is its leader (no forwarding hop), as
            # in PySyncObj's own benchmark. A cluster that elected another node is
            # started again (a few times at most; the table says where the leader was).
            for attempt in range(1, DRIVER_LEADS_TRIES + 1):
                say(f"PySyncObj, throughput (batched), cluster {attempt}")
                throughput = pysyncobj_run(args, "throughput")
                if throughput.get("leader") != "another node":
                    break
            pso |= throughput
    say("the simulator")
    sim = simulated(args.clients)

    rows.append(("dsys KVServer, trio runtime", f"{plain['throughput']:,.0f} ops/s",
                 ms(plain["p50"]), ms(plain["p99"]), "yes (fsync of a write-ahead log)", "no"))
    rows.append(("dsys KVServer, secret", f"{signed['throughput']:,.0f} ops/s",
                 ms(signed["p50"]), ms(signed["p99"]), "yes", "yes (HMAC-SHA256)"))
    if "error" in pso:
        rows.append(("PySyncObj (measured)", f"n/a: {pso['error']}", "-", "-", "-", "-"))
    else:
        rows.append(("PySyncObj (measured)", f"{pso['throughput']:,.0f} ops/s",
                     ms(pso["p50"]), ms(pso["p99"]), "no (mmap journal, never fsync'd)",
                     "no (needs password + cryptography)"))
    rows.append(("PySyncObj (quoted)", QUOTED["throughput"], QUOTED["latency"], "-", "no",
                 "only with password"))
    header = ("system", "throughput", "p50 write", "p99 write", "syncs to disk",
              "authenticates")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    print(f"\nKey-value service on Raft, 3 processes on loopback: {args.clients} dsys sessions "
          f"/ {args.window} PySyncObj calls in flight for {args.seconds:g} s; "
          f"{args.requests} synchronous puts timed")
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print()
    if "error" not in pso:
        ratio = plain["throughput"] / pso["throughput"]
        print(f"dsys / PySyncObj (measured): throughput x{ratio:.3f}, "
              f"p50 latency x{plain['p50'] / pso['p50']:.1f}; PySyncObj's driver was "
              f"{pso['leader']}, errors {pso['errors']}")
    print(f"dsys latency goal p50 <= 2 ms with fsync'd log: measured {ms(plain['p50'])}; "
          f"p50 with a secret / without: x{signed['p50'] / plain['p50']:.2f}")
    print(f"simulator, {args.clients} clients: {sim['per_wall_second']:,.0f} ops per wall "
          f"second ({sim['per_virtual_second']:,.0f} per virtual second), "
          f"{sim['bytes_per_op']:,.0f} frame bytes and {sim['messages_per_op']:.1f} "
          f"messages per op; the runtime did x{plain['throughput'] / sim['per_wall_second']:.2f} "
          "of the simulator's wall-clock rate")
    if args.profile:
        profiled = dsys_run(args, secret=False, profile=True)
        print(f"\nprofile of the leader ({profiled['leader']}) over {args.requests} "
              f"sequential puts (p50 {ms(profiled['p50'])} under cProfile):")
        print(profiled["profile_text"])
    print(f"(bench ran {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
