"""Sharding, drawn: groups join and leave a sharded key-value store while clients use it.

A shard controller (``m1``-``m3``, on Raft) and three replica groups of three servers each
(``g1``: ``a1``-``a3``, ``g2``: ``b1``-``b3``, ``g3``: ``d1``-``d3``); ten shards. ``g1``
joins at the start and holds every shard; ``g2`` joins at t = :data:`JOIN_G2` s, ``g3`` at
:data:`JOIN_G3` s, and ``g1`` leaves at :data:`LEAVE_G1` s. Each change moves shards
between groups (a pull through the new owner's log, then a delete at the old owner).
:data:`CLIENTS` clients run gets and appends on twenty keys all along.

:func:`present` prints, window by window, how many operations completed and their p50 and
p99 latency: the windows after each change show the price of a move (a client whose key
is in a moving shard waits for the shard to arrive, and asks the controller again), while
the shards not moving keep their usual latency. Then the verdicts: linearizable per key,
every write applied once, and no shard served by two groups in one configuration.

The module also holds the harness that tests and the docs' plot use:
:func:`latency_windows` (latency percentiles per window of a run's history).

Example:
    >>> sim = scenario(seed=1, until=UNTIL)
    >>> sim.run(until=UNTIL)
    >>> from dsys.scaling.sharding import check_one_group_per_shard
    >>> check_one_group_per_shard(sim.trace).ok
    True
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from random import Random
from typing import Any

import attrs
from rich.console import Console
from rich.table import Table

from dsys.check import Verdict
from dsys.errors import ConfigError
from dsys.scaling.sharding import (
    ControllerClient,
    ShardController,
    ShardKVClient,
    ShardKVServer,
    check_linearizable_per_key,
    check_one_group_per_shard,
    check_writes_applied_once,
)
from dsys.sim import Network, Simulation

SUMMARY = "three replica groups join and leave a sharded store; shards migrate under load"
KINDS = ["note"]
UNTIL = 8.0

CONTROLLERS = ("m1", "m2", "m3")
GROUPS = {"g1": ("a1", "a2", "a3"), "g2": ("b1", "b2", "b3"), "g3": ("d1", "d2", "d3")}
KEYS = tuple(f"key{i}" for i in range(20))
CLIENTS = 6
JOIN_G2, JOIN_G3, LEAVE_G1 = 2.0, 4.0, 6.0
#: Window width of :func:`present`'s table, in seconds.
WINDOW = 0.5


def workload(client: str) -> Callable[[Random], dict[str, Any]]:
    """Gets and appends on :data:`KEYS`, each value unique (``c2.7;``)."""
    numbers = itertools.count(1)

    def next_op(rng: Random) -> dict[str, Any]:
        n, key = next(numbers), rng.choice(KEYS)
        if rng.random() < 0.5:
            return {"f": "get", "key": key, "value": None}
        return {"f": "append", "key": key, "value": f"{client}.{n};"}

    return next_op


def scenario(seed: int = 1, until: float = UNTIL) -> Simulation:
    """The demo's simulation, ready to run."""
    if until <= LEAVE_G1:
        raise ConfigError(f"the demo needs to run past g1's leave at t={LEAVE_G1} s, "
                          f"got {until}")
    sim = Simulation(seed=seed, network=Network(latency=(0.001, 0.005)))
    for name in CONTROLLERS:
        sim.add_node(name, lambda: ShardController(members=CONTROLLERS))
    for gid, members in GROUPS.items():
        for name in members:
            sim.add_node(name, functools.partial(ShardKVServer, gid, members,
                                                 controllers=CONTROLLERS))
    changes: list[tuple[float, dict[str, Any]]] = [
        (0.0, {"f": "join", "value": {"g1": list(GROUPS["g1"])}}),
        (JOIN_G2, {"f": "join", "value": {"g2": list(GROUPS["g2"])}}),
        (JOIN_G3, {"f": "join", "value": {"g3": list(GROUPS["g3"])}}),
        (LEAVE_G1, {"f": "leave", "value": ["g1"]})]
    issued: list[dict[str, Any]] = []

    def next_change(rng: Random) -> dict[str, Any]:
        issued.append(changes[len(issued)][1])
        return issued[-1]

    def think(rng: Random) -> float:  # wait until the next change is due
        return max(0.0, changes[min(len(issued), len(changes) - 1)][0] - sim.now)

    sim.add_client("admin", lambda: ControllerClient(controllers=CONTROLLERS),
                   workload=next_change, ops=len(changes), think=think)
    for i in range(1, CLIENTS + 1):
        sim.add_client(f"c{i}", lambda: ShardKVClient(controllers=CONTROLLERS),
                       workload=workload(f"c{i}"), ops=None, think=0.01, start=0.5)
    return sim


@attrs.frozen
class Window:
    """Operations that completed in ``[start, start + width)``: how many, and their
    latency percentiles (seconds; None if none completed)."""

    start: float
    completed: int
    p50: float | None
    p99: float | None


def latency_windows(history: Sequence[dict[str, Any]], width: float = WINDOW,
                    until: float | None = None) -> list[Window]:
    """Latency of the key-value operations (those with a key) that completed ``ok``, by
    window of completion time."""
    started: dict[tuple[str, int], float] = {}
    done: list[tuple[float, float]] = []
    for event in history:
        if "key" not in event:
            continue
        ident = (event["client"], event["process"])
        if event["type"] == "invoke":
            started[ident] = event["time"]
        elif event["type"] == "ok":
            done.append((event["time"], event["time"] - started[ident]))
    end = until if until is not None else max((t for t, _ in done), default=0.0)
    windows = []
    for k in range(int(end / width + 1e-9)):
        latencies = sorted(lat for t, lat in done if k * width <= t < (k + 1) * width)
        windows.append(Window(k * width, len(latencies), _percentile(latencies, 0.5),
                              _percentile(latencies, 0.99)))
    return windows


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


def present(sim: Simulation, console: Console, *, everything: bool = False) -> None:
    """The latency table window by window, the configurations, and the verdicts."""
    changes = {JOIN_G2: "g2 joins", JOIN_G3: "g3 joins", LEAVE_G1: "g1 leaves"}
    table = Table(title=f"operations completed per {WINDOW} s window")
    for column in ("from (s)", "ops", "p50 (ms)", "p99 (ms)", ""):
        table.add_column(column, justify="right")
    for window in latency_windows(sim.history, until=sim.now):
        mark = next((text for t, text in changes.items()
                     if window.start <= t < window.start + WINDOW), "")
        table.add_row(f"{window.start:.1f}", str(window.completed),
                      "-" if window.p50 is None else f"{window.p50 * 1000:.0f}",
                      "-" if window.p99 is None else f"{window.p99 * 1000:.0f}", mark)
    console.print(table)
    for node in ("a1", "b1", "d1"):
        store = sim.node(node).store  # type: ignore[union-attr]
        console.print(f"{node} ({store.gid}): configuration {store.config.num}, shards "
                      f"{store.states()}")
    history = [e for e in sim.history if "key" in e]
    complete = [e for e in history if e["type"] != "invoke"]
    result = check_linearizable_per_key(history)  # operations in flight: outcome unknown
    console.print(f"linearizable per key ({len(complete)} operations): "
                  f"{'ok' if result.verdict is Verdict.LINEARIZABLE else result.verdict}")
    stores = {n: node.store for n, node in sim.nodes.items() if isinstance(node, ShardKVServer)}
    console.print(check_writes_applied_once(stores).explain())
    console.print(check_one_group_per_shard(sim.trace).explain())
