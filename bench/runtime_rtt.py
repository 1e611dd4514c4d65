"""Round trips between two `dsys run` processes, against a bare trio echo, over loopback.

For each transport (TCP, UDP) this starts two processes twice:

* **dsys**: ``dsys run bench/runtime_rtt.py:Echo`` and ``dsys run bench/runtime_rtt.py:Driver``,
  two ordinary nodes of a cluster file. The driver sends requests one at a time and times
  each round trip with ``self.now`` (latency), then keeps ``WINDOW`` requests in flight
  (throughput). It saves its figures in its storage, where this script reads them.
* **bare**: a trio echo server and client in this file, moving frames of the *same size*
  over the same kind of socket, with no codec, no checks, no host: the anchor.

It prints p50 / p99 latency and throughput side by side and the ratios dsys / bare,
as medians over several rounds that alternate bare and dsys runs (a shared machine is
noisy). The goal is that dsys adds at most 50% to the bare p50.

Placement matters on a small machine: two processes on one CPU hand over without waking
another CPU, two on different CPUs pay a cross-CPU wake-up per message (costly in a VM).
``--pin same`` / ``--pin split`` fix the placement so runs are comparable.

``--streams`` adds a third contender for TCP: the same two dsys nodes with the transport
on trio streams (``bench/tcp_streams.py``) instead of raw sockets, the design that
:mod:`dsys.runtime.transport` measured and did not take.

Run:  python bench/runtime_rtt.py [--requests 5000] [--rounds 5] [--pin none|same|split]
                                  [--codec json|msgpack] [--transports tcp,udp] [--streams]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from dsys import Node, message
from dsys.core import codec
from dsys.runtime import DataDir
from dsys.runtime.wire import Wire

HERE = Path(__file__).resolve()
WARMUP = 300
WINDOW = 32
# Where the two processes of a pair run (--pin): "none" (the OS decides), "same" (both
# on CPU 0), "split" (client on CPU 0, server on CPU 1).
PIN = "none"
PAYLOAD = "x" * 32


@message(name="bench:Request")
class Request:
    seq: int
    payload: str


@message(name="bench:Reply")
class Reply:
    seq: int
    payload: str


class Echo(Node):
    def on_message(self, src: str, msg: object) -> None:
        if isinstance(msg, Request):
            self.send(src, Reply(msg.seq, msg.payload))


class Driver(Node):
    """Latency phase (one request at a time), then throughput phase (WINDOW in flight)."""

    def on_start(self) -> None:
        self.requests = int(os.environ.get("DSYS_BENCH_REQUESTS", "5000"))
        self.phase = "connect"
        self.seq = 0
        self.rtts: list[float] = []
        self.sent_at = 0.0
        self.send(self.echo, Request(-1, PAYLOAD))
        self.set_timer("connect", 0.1)  # UDP: the echo node may not be bound yet

    @property
    def echo(self) -> str:
        return self.peers[0]

    def on_timer(self, name: str) -> None:
        if self.phase == "connect":
            self.send(self.echo, Request(-1, PAYLOAD))
            self.set_timer("connect", 0.1)

    def next_request(self) -> None:
        self.seq += 1
        self.sent_at = self.now
        self.send(self.echo, Request(self.seq, PAYLOAD))

    def on_message(self, src: str, msg: object) -> None:
        if not isinstance(msg, Reply):
            return
        now = self.now
        if self.phase == "connect":
            self.cancel_timer("connect")
            self.phase = "latency"
            self.next_request()
        elif self.phase == "latency" and msg.seq == self.seq:
            if self.seq > WARMUP:
                self.rtts.append(now - self.sent_at)
            if len(self.rtts) < self.requests:
                self.next_request()
            else:
                self.phase = "throughput"
                self.done = 0
                self.first = self.seq  # requests after this one are the throughput phase
                self.started = now
                for _ in range(WINDOW):
                    self.next_request()
        elif self.phase == "throughput" and msg.seq > self.first:
            self.done += 1
            if self.done < self.requests:
                in_flight = self.seq - self.first - self.done
                if in_flight < WINDOW and self.seq - self.first < self.requests:
                    self.next_request()
            else:
                self.phase = "done"
                self.storage["result"] = summarize(self.rtts, self.requests, now - self.started)
                self.storage.sync()
                self.log("bench done")


def summarize(rtts: list[float], count: int, elapsed: float) -> dict[str, float]:
    ordered = sorted(rtts)
    return {"p50_us": 1e6 * ordered[len(ordered) // 2],
            "p99_us": 1e6 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "throughput": count / elapsed}


# ----- the bare anchor: trio echo server and client ------------------------------------


async def bare_server(transport: str, port: int) -> None:
    if transport == "tcp":
        async def handle(stream: trio.SocketStream) -> None:
            try:
                while data := await stream.receive_some(65536):
                    await stream.send_all(data)
            except trio.BrokenResourceError:
                pass
        await trio.serve_tcp(handle, port, host="127.0.0.1")
    else:
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        await sock.bind(("127.0.0.1", port))
        while True:
            data, addr = await sock.recvfrom(65536)
            await sock.sendto(data, addr)


async def bare_client(transport: str, port: int, size: int, requests: int) -> dict[str, float]:
    frame = b"x" * size
    rtts: list[float] = []
    if transport == "tcp":
        for _ in range(100):
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                break
            except OSError:
                await trio.sleep(0.05)

        async def round_trip() -> None:
            await stream.send_all(frame)
            got = 0
            while got < size:
                got += len(await stream.receive_some(65536))

        async def pipelined(total: int) -> None:
            received = 0

            async def reader() -> None:
                nonlocal received
                got = 0
                while got < total * size:
                    got += len(await stream.receive_some(65536))
                    received = got // size
            async with trio.open_nursery() as nursery:
                nursery.start_soon(reader)
                sent = 0
                while sent < total:  # keep WINDOW in flight, as the dsys driver does
                    if sent - received < WINDOW:
                        await stream.send_all(frame)
                        sent += 1
                    else:
                        await trio.sleep(0)
    else:
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        await sock.bind(("127.0.0.1", 0))
        await sock.connect(("127.0.0.1", port))

        async def round_trip() -> None:
            await sock.send(frame)
            with trio.move_on_after(0.2):
                await sock.recv(65536)

        while True:  # until the server is up: a refused datagram comes back as an error
            try:
                await sock.send(frame)
                with trio.fail_after(0.2):
                    await sock.recv(65536)
                break
            except (ConnectionRefusedError, trio.TooSlowError):
                await trio.sleep(0.05)

        async def pipelined(total: int) -> None:
            received = 0

            async def reader() -> None:
                nonlocal received
                while received < total:
                    await sock.recv(65536)
                    received += 1
            async with trio.open_nursery() as nursery:
                nursery.start_soon(reader)
                sent = 0
                while sent < total:
                    if sent - received < WINDOW:
                        await sock.send(frame)
                        sent += 1
                    else:
                        await trio.sleep(0)
                with trio.move_on_after(2):
                    while received < total:
                        await trio.sleep(0.01)
                nursery.cancel_scope.cancel()

    for i in range(WARMUP + requests):
        start = time.perf_counter()
        await round_trip()
        if i >= WARMUP:
            rtts.append(time.perf_counter() - start)
    start = time.perf_counter()
    await pipelined(requests)
    return summarize(rtts, requests, time.perf_counter() - start)


# ----- the driver of the whole benchmark ------------------------------------------------


def pin(process: subprocess.Popen[bytes] | subprocess.Popen[str], role: str) -> None:
    """Place ``process`` (the "client" or the "server" of a pair) as ``--pin`` says, so that
    every run places its two processes the same way (Linux only)."""
    if PIN == "none" or not hasattr(os, "sched_setaffinity"):
        return
    cpu = 1 if PIN == "split" and role == "server" else 0
    os.sched_setaffinity(process.pid, {cpu})


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def frame_size() -> int:
    envelope = codec.encode(Request(1, PAYLOAD))
    return 4 + len(Wire("a").seal("b", envelope))  # the TCP length prefix included


def run_dsys(transport: str, requests: int, workdir: Path, codec_name: str,
             streams: bool = False) -> dict[str, float]:
    kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
    cluster = workdir / f"{transport}.toml"
    cluster.write_text(f'[cluster]\ntransport = "{transport}"\ncodec = "{codec_name}"\n'
                       '[nodes]\n'
                       f'driver = "127.0.0.1:{free_port(kind)}"\n'
                       f'echo = "127.0.0.1:{free_port(kind)}"\n')
    data = Path(tempfile.mkdtemp(prefix=f"{transport}-driver-", dir=workdir))  # fresh each run
    env = {**os.environ, "DSYS_BENCH_REQUESTS": str(requests)}
    # With streams, bench/tcp_streams.py is `dsys` with its TCP transport on trio streams.
    launcher = [str(HERE.parent / "tcp_streams.py")] if streams else ["-m", "dsys.cli"]
    command = [sys.executable, *launcher, "run", "--cluster", str(cluster), "--quiet"]
    procs = [subprocess.Popen([*command, f"{HERE}:Echo", "--node", "echo"], env=env,
                              stderr=subprocess.DEVNULL)]
    pin(procs[0], "server")
    try:
        procs.append(subprocess.Popen([*command, f"{HERE}:Driver", "--node", "driver",
                                       "--data", str(data)], env=env,
                                      stderr=subprocess.DEVNULL))
        pin(procs[1], "client")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            stored = DataDir(data, "driver").read()  # storage.json with the log replayed
            if "result" in stored:
                return dict(stored["result"])
            time.sleep(0.1)
        raise RuntimeError(f"dsys {transport} benchmark did not finish")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


def run_bare(transport: str, requests: int) -> dict[str, float]:
    kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
    port = free_port(kind)
    server = subprocess.Popen([sys.executable, str(HERE), "--bare-server", transport, str(port)])
    pin(server, "server")
    try:
        time.sleep(0.3)
        client = subprocess.Popen([sys.executable, str(HERE), "--bare-client", transport,
                                   str(port), str(frame_size()), str(requests)],
                                  stdout=subprocess.PIPE, text=True)
        pin(client, "client")
        out, _ = client.communicate(timeout=300)
        if client.returncode != 0:
            raise RuntimeError(f"bare {transport} client failed")
        return dict(json.loads(out))
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--transports", default="tcp,udp")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--codec", default="json", choices=["json", "msgpack"],
                        help="the cluster's codec for the dsys runs")
    parser.add_argument("--pin", default="none", choices=["none", "same", "split"],
                        help="where the two processes of each pair run: the OS decides "
                             "(none), both on CPU 0 (same), or on CPUs 0 and 1 (split)")
    parser.add_argument("--streams", action="store_true",
                        help="TCP: also run dsys with its transport on trio streams "
                             "(bench/tcp_streams.py) instead of raw sockets")
    parser.add_argument("--bare-server", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--bare-client", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global PIN
    PIN = args.pin
    if args.bare_server:
        trio.run(bare_server, args.bare_server[0], int(args.bare_server[1]))
        return
    if args.bare_client:
        transport, port, size, requests = args.bare_client
        print(json.dumps(trio.run(bare_client, transport, int(port), int(size), int(requests))))
        return

    print(f"round trips over loopback, {args.requests} requests of {frame_size()} bytes "
          f"(after {WARMUP} warm-up), throughput with {WINDOW} in flight, median of "
          f"{args.rounds} alternating rounds, dsys codec {args.codec}; python "
          f"{sys.version.split()[0]}, trio {trio.__version__}, {os.cpu_count()} cpus, "
          f"placement: {PIN}")
    header = f"{'':12}{'p50 µs':>10}{'p99 µs':>10}{'req/s':>10}"
    with tempfile.TemporaryDirectory() as tmp:
        for transport in args.transports.split(","):
            rounds: dict[str, list[dict[str, float]]] = {"bare trio": [], "dsys": []}
            streams = args.streams and transport == "tcp"
            if streams:
                rounds["dsys streams"] = []
            for _ in range(args.rounds):
                rounds["bare trio"].append(run_bare(transport, args.requests))
                rounds["dsys"].append(run_dsys(transport, args.requests, Path(tmp), args.codec))
                if streams:
                    rounds["dsys streams"].append(run_dsys(transport, args.requests, Path(tmp),
                                                           args.codec, streams=True))
            print(f"\n{transport.upper()}\n{header}")
            median = {}
            for name, results in rounds.items():
                median[name] = {k: statistics.median(r[k] for r in results)
                                for k in ("p50_us", "p99_us", "throughput")}
                r = median[name]
                spread = ", ".join(f"{x['p50_us']:.0f}" for x in results)
                print(f"{name:12}{r['p50_us']:10.1f}{r['p99_us']:10.1f}{r['throughput']:10.0f}"
                      f"   (p50 per round: {spread})")
            bare, dsys = median["bare trio"], median["dsys"]
            ratio = dsys["p50_us"] / bare["p50_us"]
            print(f"ratio dsys/bare: p50 {ratio:.2f}x, p99 {dsys['p99_us'] / bare['p99_us']:.2f}x, "
                  f"throughput {dsys['throughput'] / bare['throughput']:.2f}x   "
                  f"(goal: p50 <= 1.50x: {'met' if ratio <= 1.5 else 'NOT met'})")
            if streams:
                on_streams = median["dsys streams"]
                print(f"raw sockets vs trio streams (dsys): p50 "
                      f"{dsys['p50_us'] / on_streams['p50_us']:.2f}x, p99 "
                      f"{dsys['p99_us'] / on_streams['p99_us']:.2f}x, throughput "
                      f"{dsys['throughput'] / on_streams['throughput']:.2f}x")


if __name__ == "__main__":
    main()
