"""The simulator's demos, unchanged, as 3 OS processes over TCP and UDP; SIGKILL and restart.

Each test starts `dsys run` children on loopback, waits (with a deadline) for the outcome
the demo promises, then stops them with SIGTERM (a clean exit, status 0). The children are
killed when the test ends, whatever happens.
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest
import trio

from dsys import Trace
from dsys.errors import ConfigError
from dsys.runtime import DataDir, load_cluster, open_client
from tests.runtime.apps import Get, Put, PutOk, Value
from tests.runtime.helpers import (
    cluster_text,
    logged,
    nodes_of,
    trace_events,
    wait_until,
)

DEADLINE = 30
PINGER, PONGER = "dsys.demos.pingpong:Pinger", "dsys.demos.pingpong:Ponger"
RELAY = "dsys.demos.broadcast:Relay"


def seen(data_dir: Path) -> list[int] | None:
    """The values a broadcast Relay synced to its storage."""
    try:  # storage.json is only the last compaction: read it with the log replayed
        value = DataDir(data_dir, "?").read().get("seen")
    except ConfigError:  # a file being written by another process, seen half-way
        return None
    return value if isinstance(value, list) else None


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_pingpong_runs_as_three_processes(tmp_path: Path, transport: str) -> None:
    cluster = tmp_path / "cluster.toml"  # two pingers share one ponger
    cluster.write_text(cluster_text({"a": PINGER, "b": PONGER, "c": PINGER}, transport))
    with nodes_of(cluster, tmp_path) as nodes:
        for node_id in ("a", "b", "c"):
            nodes.start(node_id, data=False)  # the target comes from the cluster file
        await wait_until(lambda: all(logged(nodes.trace(n), "all 10 pongs received")
                                     for n in ("a", "c")), DEADLINE, "all pongs", nodes.logs)
        assert nodes.stop_all() == {"a": 0, "b": 0, "c": 0}, nodes.logs()
    ponger = Trace.load(nodes.trace("b"))
    pings = Counter(e.data["from"] for e in ponger if e.kind == "recv")
    assert pings["a"] >= 10 and pings["c"] >= 10
    assert not any(e.kind == "error" for e in ponger)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_broadcast_delivers_every_value_to_every_process(
        tmp_path: Path, transport: str) -> None:
    cluster = tmp_path / "cluster.toml"
    cluster.write_text(cluster_text({"n1": RELAY, "n2": RELAY, "n3": RELAY}, transport))
    with nodes_of(cluster, tmp_path) as nodes:
        for node_id in ("n1", "n2", "n3"):
            nodes.start(node_id)
        await wait_until(lambda: all(seen(nodes.data(n)) == [0, 1, 2]
                                     for n in ("n1", "n2", "n3")),
                         DEADLINE, "every value everywhere", nodes.logs)
        assert set(nodes.stop_all().values()) == {0}, nodes.logs()
    for node_id in ("n1", "n2", "n3"):
        for value in range(3):
            assert logged(nodes.trace(node_id), f"delivered {value}")


async def test_a_node_killed_with_sigkill_restarts_with_what_it_synced(tmp_path: Path) -> None:
    cluster_file = tmp_path / "cluster.toml"
    cluster_file.write_text(cluster_text({"a": "tests.runtime.apps:Server"}))
    cluster = load_cluster(cluster_file)
    acknowledged: dict[str, int] = {}
    with nodes_of(cluster_file, tmp_path) as nodes, trio.fail_after(DEADLINE):
        nodes.start("a")
        async with open_client(cluster) as client:

            async def writer() -> None:
                # Puts, one after another, for as long as the test runs; the node answers
                # PutOk only after storage.sync(), so an acknowledged put must survive.
                for i in range(1_000_000):
                    key = f"k{i}"
                    # No answer within 0.3 s: the outcome is unknown (the node was
                    # down), and the put is not counted.
                    with trio.move_on_after(0.3):
                        # Match the key: a late answer to an earlier put is not this one's.
                        await client.request("a", Put(key, i),
                                             match=lambda m, key=key: m == PutOk(key))
                        acknowledged[key] = i

            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer)
                await wait_until(lambda: len(acknowledged) >= 20, DEADLINE, "20 puts",
                                 nodes.logs)
                assert nodes.signal("a", signal.SIGKILL) == -signal.SIGKILL
                killed_with = len(acknowledged)
                nodes.start("a")
                await wait_until(lambda: len(acknowledged) >= killed_with + 10, DEADLINE,
                                 "puts after the restart", nodes.logs)
                nursery.cancel_scope.cancel()
            for key, value in sorted(acknowledged.items()):
                with trio.fail_after(2):
                    reply = await client.request("a", Get(key),
                                                 match=lambda m, key=key: isinstance(m, Value)
                                                 and m.key == key)
                assert reply == Value(key, value), f"acknowledged {key} was lost"
        assert nodes.stop_all() == {"a": 0}
    kinds = [(e["kind"], e["data"].get("incarnation")) for e in trace_events(nodes.trace("a"))
             if e["kind"] in ("start", "restart")]
    assert kinds == [("start", 0), ("restart", 1)]


async def test_a_broadcast_cluster_recovers_from_sigkill(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.toml"
    cluster.write_text(cluster_text({"n1": RELAY, "n2": RELAY, "n3": RELAY}, "tcp"))
    everyone = ("n1", "n2", "n3")
    with nodes_of(cluster, tmp_path) as nodes, trio.fail_after(2 * DEADLINE):
        nodes.start("n2")
        nodes.start("n3")
        await wait_until(lambda: nodes.is_up("n3"), DEADLINE, "n3 up", nodes.logs)
        nodes.signal("n3", signal.SIGKILL)  # down before n1 broadcasts anything
        nodes.start("n1")
        await wait_until(lambda: seen(nodes.data("n2")) == [0, 1, 2], DEADLINE, "n2 has all",
                         nodes.logs)
        assert seen(nodes.data("n3")) is None
        nodes.start("n3")  # n1 has kept re-sending; its link reconnects with backoff
        await wait_until(lambda: all(seen(nodes.data(n)) == [0, 1, 2] for n in everyone),
                         DEADLINE, "every value everywhere", nodes.logs)
        nodes.signal("n3", signal.SIGKILL)  # killed again: what it synced is on disk
        assert seen(nodes.data("n3")) == [0, 1, 2]
        nodes.start("n3")
        await wait_until(lambda: nodes.is_up("n3"), DEADLINE, "n3 up again", nodes.logs)
        assert set(nodes.stop_all().values()) == {0}, nodes.logs()
    restarts = [e["data"]["incarnation"] for e in trace_events(nodes.trace("n3"))
                if e["kind"] in ("start", "restart")]
    assert restarts == [0, 1, 2]
