"""MapReduce, drawn: a word count on four workers, one of which crashes and one is slow.

A :class:`~dsys.mapreduce.Coordinator` runs :data:`~dsys.mapreduce.WORD_COUNT` over
:data:`DOCUMENTS` made-up documents (one map task each, 4 reduce tasks) with workers
``w1`` to ``w4``: ``w2`` crashes at :data:`CRASH_AT` s and comes back :data:`DOWN` s later
(its running task's lease runs out and the task is re-executed elsewhere), and ``w4`` runs
at :data:`SLOW` of normal speed (a straggler: near the end of each phase its task gets a
backup attempt on a fast worker). :func:`present` prints who ran what, and the checker's
verdict.

The module also holds the harnesses that tests, ``bench/mapreduce.py`` and the concept
page's plot use:

* :func:`cluster`: a simulation of a coordinator and workers on a shared
  :class:`~dsys.mapreduce.MemoryStore` holding the inputs (:class:`Cluster`);
* :func:`crash_workers`: crash some workers at seeded random times (and restart them);
* :func:`completion_time`: run a word count with ``n`` workers (optionally one straggler,
  backups on or off, crashes) and measure the job's completion time and re-executions
  (:class:`JobRun`).

Example:
    >>> run = completion_time(workers=4, seed=1)
    >>> run.ok, run.reexecuted, run.time > 0
    (True, 0, True)
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from random import Random

import attrs
from rich.console import Console
from rich.table import Table

from dsys.check.report import Report
from dsys.mapreduce import (
    WORD_COUNT,
    Coordinator,
    Job,
    MemoryStore,
    Worker,
    check_job,
    sample_documents,
)
from dsys.sim import Network, Simulation

SUMMARY = "word count on 4 workers: w2 crashes, w4 is slow (backup tasks, re-execution)"
KINDS = ["note", "crash", "restart"]
UNTIL = 20.0

DOCUMENTS = 12           #: map tasks in the demo
WORDS = 2000             #: words per document
CRASH_AT = 3.0           #: when w2 crashes
DOWN = 10.0              #: how long it stays down
SLOW = 0.2               #: w4's speed
#: per-byte costs of the simulated store (about 10 MB/s reads, 5 MB/s writes)
READ_COST, WRITE_COST = 1e-7, 2e-7
#: virtual seconds of CPU per record: a 2000-word map task takes about 1 s
RECORD_COST = 5e-4


@attrs.frozen
class Cluster:
    """A built simulation, its shared store, the job and its inputs (name -> text)."""

    sim: Simulation
    store: MemoryStore
    job: Job
    inputs: Mapping[str, str]

    def check(self) -> Report:
        """:func:`~dsys.mapreduce.check_job` of the run so far."""
        return check_job(self.sim.trace, self.store, self.job, self.inputs)

    @property
    def coordinator(self) -> Coordinator:
        """The coordinator node (the current incarnation)."""
        node = self.sim.node("coordinator")
        assert isinstance(node, Coordinator)
        return node


def cluster(seed: int, *, job: Job | None = None, inputs: Mapping[str, str] | None = None,
            workers: int = 4, speeds: Mapping[str, float] | None = None,
            backups: bool = True, lease: float = 1.0, drop: float = 0.0,
            latency: float | tuple[float, float] = (0.001, 0.005),
            worker: type[Worker] = Worker,
            coordinator: type[Coordinator] = Coordinator) -> Cluster:
    """A coordinator and ``workers`` workers (``w1``...) on a shared in-memory store.

    ``job`` defaults to word count with :data:`RECORD_COST`, ``inputs`` to
    :data:`DOCUMENTS` documents of :data:`WORDS` words; ``speeds`` gives some workers a
    speed other than 1; ``worker``/``coordinator`` swap in other classes (tests, labs).
    """
    job = job or attrs.evolve(WORD_COUNT, record_cost=RECORD_COST)
    inputs = dict(inputs) if inputs is not None else sample_documents(DOCUMENTS, WORDS, seed)
    store = MemoryStore(read_cost=READ_COST, write_cost=WRITE_COST)
    for name, text in inputs.items():
        store.write(name, text, by="input")
    sim = Simulation(seed=seed, network=Network(latency=latency, drop=drop))
    sim.add_node("coordinator", functools.partial(coordinator, job, list(inputs), store,
                                                  lease=lease, backups=backups))
    for n in range(1, workers + 1):
        name = f"w{n}"
        speed = (speeds or {}).get(name, 1.0)
        sim.add_node(name, functools.partial(worker, job, store, speed=speed))
    return Cluster(sim, store, job, inputs)


def crash_workers(sim: Simulation, *, crashes: int, window: tuple[float, float],
                  down: tuple[float, float] | None = (0.5, 3.0)) -> list[tuple[float, str]]:
    """Crash ``crashes`` workers (any node but the coordinator, drawn from the seed) at
    random times in ``window``, each restarted after a random ``down`` time (None: never).
    Returns the planned (time, worker) crashes."""
    rng = Random(f"{sim.seed}/mapreduce-crashes")
    workers = [n for n in sim.node_ids if n != "coordinator"]
    planned = sorted((rng.uniform(*window), rng.choice(workers)) for _ in range(crashes))

    def crash(node: str, back: float | None) -> None:
        if sim.is_up(node):
            sim.crash(node)
            if back is not None:
                sim.after(back, sim.restart, node)

    for at, node in planned:
        sim.at(at, crash, node, None if down is None else rng.uniform(*down))
    return planned


def finished(sim: Simulation) -> bool:
    """Whether the coordinator (if up) has finished the job."""
    node = sim.node("coordinator")
    return bool(getattr(node, "finished", False))


def scenario(seed: int = 1, until: float = UNTIL) -> Simulation:
    """The demo: word count on four workers, ``w2`` crashes, ``w4`` is slow."""
    built = cluster(seed, speeds={"w4": SLOW})
    built.sim.at(CRASH_AT, built.sim.crash, "w2")
    built.sim.at(CRASH_AT + DOWN, built.sim.restart, "w2")
    return built.sim


@attrs.frozen
class JobRun:
    """One measured job: completion ``time`` (virtual s, inf if it never finished) and when
    its map phase ended (``map_time``), the attempts handed out, how many were
    re-executions and backups, how many crashes hit a worker while it ran a task not yet
    done (``interrupted``), and the checker's verdict."""

    time: float
    map_time: float
    attempts: int
    reexecuted: int
    backups: int
    interrupted: int
    ok: bool
    #: (task, seconds its winning attempt took), in the order the tasks were done
    took: tuple[tuple[str, float], ...] = ()
    workers: int = 0

    @property
    def reduce_time(self) -> float:
        """From the end of the map phase to the end of the job."""
        return self.time - self.map_time


def completion_time(workers: int, seed: int, *, straggler: float | None = None,
                    backups: bool = True, crashes: int = 0, documents: int = DOCUMENTS,
                    words: int = WORDS, reducers: int = 4, until: float = 600.0) -> JobRun:
    """Run a word count on ``workers`` workers and measure it (see :class:`JobRun`).

    ``straggler``: the speed of one slow worker (``w1``); ``crashes``: workers crashed
    (and restarted) at random while the job runs.
    """
    job = attrs.evolve(WORD_COUNT, record_cost=RECORD_COST, reducers=reducers)
    built = cluster(seed, job=job, inputs=sample_documents(documents, words, seed),
                    workers=workers, backups=backups,
                    speeds={"w1": straggler} if straggler is not None else None)
    if crashes:
        crash_workers(built.sim, crashes=crashes, window=(0.5, 5.0))
    built.sim.run_until(finished, timeout=until)
    time = built.sim.now if finished(built.sim) else float("inf")
    assigns = []
    map_time = 0.0
    holding: dict[str, str] = {}   # worker -> the task it was last given
    done: set[str] = set()
    interrupted = 0
    took: list[tuple[str, float]] = []
    for e in built.sim.trace:
        event = e.data.get("event") if e.kind == "note" else e.kind
        if event == "assign":
            assigns.append(e.data)
            holding[str(e.data["worker"])] = str(e.data["task"])
        elif event == "task_done":
            done.add(str(e.data["task"]))
            if e.data["took"] is not None:
                took.append((str(e.data["task"]), float(e.data["took"])))
            if str(e.data["task"]).startswith("map-"):
                map_time = e.time
        elif event == "crash" and e.node in holding:
            interrupted += holding.pop(e.node) not in done
    runs = Counter(str(a["task"]) for a in assigns if not a["backup"])
    return JobRun(time, map_time, len(assigns), sum(n - 1 for n in runs.values()),
                  sum(bool(a["backup"]) for a in assigns), interrupted, bool(built.check()),
                  tuple(took), workers)


def present(sim: Simulation, console: Console, *, everything: bool = False) -> None:
    """Who ran which task, re-executions and backups, and the checker's verdict."""
    coordinator = sim.node("coordinator")
    assert isinstance(coordinator, Coordinator)
    inputs = {name: coordinator.store.read(name) for t in coordinator.tasks.values()
              if t.kind == "map" for name in t.inputs}
    notes = [e for e in sim.trace if e.kind == "note" or e.kind in ("crash", "restart")]
    table = Table(title="what happened")
    for column in ("time", "node", "event", "task", "attempt", "worker"):
        table.add_column(column, justify="right" if column in ("time", "attempt") else "left")
    shown = ("assign", "expire", "task_done", "job_done")
    for e in notes:
        event = e.data.get("event", e.kind)
        if not everything and event == "assign" and not e.data.get("backup"):
            continue
        if event not in shown and e.kind == "note":
            continue
        label = "backup" if e.data.get("backup") else str(event)
        table.add_row(f"{e.time:.3f}", e.node, label, str(e.data.get("task", "")),
                      str(e.data.get("attempt", "")), str(e.data.get("worker", "")))
    console.print(table)
    done = Counter(str(e.data["worker"]) for e in notes if e.data.get("event") == "task_done")
    console.print("tasks completed per worker: " + ", ".join(
        f"{w} {done[w]}" for w in sorted(n for n in sim.node_ids if n != "coordinator")))
    report = check_job(sim.trace, coordinator.store, coordinator.job, inputs)
    console.print(report.explain())


def speedup(times: Sequence[float]) -> list[float]:
    """Each time's speed-up over the first one."""
    return [times[0] / t for t in times]
