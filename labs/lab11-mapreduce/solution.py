"""Lab 11: MapReduce, the reference solution.

A coordinator hands map and reduce tasks to workers that ask for them, with leases,
re-execution and backup tasks; workers run a task, commit its outputs with
write-then-rename, and report. See the handout (README.md).
"""

from __future__ import annotations

import json
import statistics
import zlib
from collections.abc import Sequence
from typing import Any

from dsys import Node
from dsys.mapreduce import AskTask, Assign, FileStore, Finished, Job, JobDone, Renew, group

#: Seconds an attempt may go without a renewal before its task is given to someone else.
LEASE = 1.0
#: A worker renews its lease this often while it works.
RENEW_EVERY = LEASE / 3
#: The coordinator looks for expired leases this often.
CHECK_LEASES_EVERY = LEASE / 4
#: An idle worker asks for work this often until it gets some.
POLL = 0.1
#: Seconds every task costs before it reads anything (at speed 1).
STARTUP = 0.01


# ----- given: the work itself ---------------------------------------------------------------


def partition(key: str, reducers: int) -> int:
    """The reduce task that owns ``key``: CRC-32 of its UTF-8 bytes, modulo ``reducers``."""
    return zlib.crc32(key.encode("utf-8")) % reducers


def map_task(job: Job, store: FileStore, index: int, inputs: Sequence[str]
             ) -> tuple[dict[str, str], int]:
    """Run map task ``index``: its outputs (final name -> text) and how many records."""
    buckets: list[list[tuple[str, Any]]] = [[] for _ in range(job.reducers)]
    records = 0
    for name in inputs:
        for key, value in job.map(name, store.read(name)):
            buckets[partition(key, job.reducers)].append((key, value))
            records += 1
    if job.combine is not None:
        buckets = [[(k, job.combine(k, vs)) for k, vs in group(bucket).items()]
                   for bucket in buckets]
    return {job.map_output(index, r): json.dumps(b) for r, b in enumerate(buckets)}, records


def reduce_task(job: Job, store: FileStore, index: int, inputs: Sequence[str]
                ) -> tuple[dict[str, str], int]:
    """Run reduce task ``index`` over the map outputs ``inputs``."""
    pairs: list[tuple[str, Any]] = []
    for name in inputs:
        pairs.extend((key, value) for key, value in json.loads(store.read(name)))
    result = [[key, job.reduce(key, values)] for key, values in group(pairs).items()]
    return {job.output(index): json.dumps(result)}, len(pairs)


def task_duration(job: Job, store: FileStore, read: int, records: int, written: int,
                  speed: float) -> float:
    """Virtual seconds a task takes on a worker of ``speed``."""
    work = (STARTUP + read * store.read_cost + records * job.record_cost
            + written * store.write_cost)
    return work / speed


# ----- the coordinator -------------------------------------------------------------------------


class Task:
    """A map or reduce task: its inputs, whether it is done, its running attempts
    (attempt number -> [worker, started, lease deadline])."""

    def __init__(self, name: str, inputs: Sequence[str]) -> None:
        self.name = name
        self.inputs = tuple(inputs)
        self.done = False
        self.attempts: dict[int, list[Any]] = {}
        self.runs = 0

    @property
    def kind(self) -> str:
        return self.name.split("-", 1)[0]


class Coordinator(Node):
    def __init__(self, job: Job, inputs: Sequence[str], store: FileStore, *,
                 lease: float = LEASE, backups: bool = True) -> None:
        super().__init__()
        self.job, self.store, self.lease, self.backups = job, store, lease, backups
        maps = [Task(f"map-{m}", [name]) for m, name in enumerate(inputs)]
        reduces = [Task(f"reduce-{r}", [job.map_output(m, r) for m in range(len(maps))])
                   for r in range(job.reducers)]
        self.tasks = {t.name: t for t in maps + reduces}
        self.finished = False
        self.next_attempt = 0
        self.took: dict[str, list[float]] = {"map": [], "reduce": []}

    # given
    def on_start(self) -> None:
        epoch = int(self.storage.get("epoch", 0)) + 1
        self.storage["epoch"] = epoch
        for name in self.storage.get("done", []):
            self.tasks[name].done = True
        self.finished = bool(self.storage.get("finished", False))
        self.storage.sync()
        self.next_attempt = epoch * 1_000_000
        if self.finished:
            self.announce()
        self.set_timer("leases", self.lease / 4)

    # given
    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case AskTask():
                self.assign(src)
            case Renew(task=name, attempt=attempt):
                self.renew(name, attempt)
            case Finished(task=name, attempt=attempt):
                self.complete(name, attempt, src)
                self.assign(src)

    # given
    def on_timer(self, name: str) -> None:
        if name == "leases":
            self.expire_leases()
            self.set_timer("leases", self.lease / 4)

    def assign(self, worker: str) -> None:
        if self.finished:
            self.send(worker, JobDone())
            return
        for task in self.tasks.values():  # the worker is idle: it holds nothing
            for attempt in [a for a, held in task.attempts.items() if held[0] == worker]:
                del task.attempts[attempt]
        maps_done = all(t.done for t in self.tasks.values() if t.kind == "map")
        phase = "reduce" if maps_done else "map"
        in_phase = [t for t in self.tasks.values() if t.kind == phase]
        idle = [t for t in in_phase if not t.done and not t.attempts]
        if idle:
            self.start_attempt(idle[0], worker, backup=False)
        elif self.backups and self.took[phase]:
            typical = statistics.median(self.took[phase])
            late = [(held[1], t.name) for t in in_phase if len(t.attempts) == 1
                    for held in t.attempts.values()
                    if held[0] != worker and self.now - held[1] > typical]
            if late:
                self.start_attempt(self.tasks[min(late)[1]], worker, backup=True)

    def start_attempt(self, task: Task, worker: str, *, backup: bool) -> None:
        self.next_attempt += 1
        task.attempts[self.next_attempt] = [worker, self.now, self.now + self.lease]
        task.runs += 1
        self.note("assign", task=task.name, attempt=self.next_attempt, worker=worker,
                  backup=backup)
        self.send(worker, Assign(task.name, self.next_attempt, task.inputs, self.lease))

    def renew(self, name: str, attempt: int) -> None:
        task = self.tasks.get(name)
        if task is not None and attempt in task.attempts:
            task.attempts[attempt][2] = self.now + self.lease

    def expire_leases(self) -> None:
        for task in self.tasks.values():
            for attempt, held in list(task.attempts.items()):
                if held[2] < self.now:
                    del task.attempts[attempt]
                    self.note("expire", task=task.name, attempt=attempt, worker=held[0])

    def complete(self, name: str, attempt: int, worker: str) -> None:
        task = self.tasks.get(name)
        if task is None or task.done:
            return
        if attempt in task.attempts:
            self.took[task.kind].append(self.now - task.attempts[attempt][1])
        task.attempts.clear()
        self.record_done(task, attempt, worker)
        if all(t.done for t in self.tasks.values()):
            self.finish_job()

    # given
    def record_done(self, task: Task, attempt: int, worker: str) -> None:
        task.done = True
        self.storage["done"] = sorted(t.name for t in self.tasks.values() if t.done)
        self.storage.sync()
        self.note("task_done", task=task.name, attempt=attempt, worker=worker)

    # given
    def finish_job(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.storage["finished"] = True
        self.storage.sync()
        self.note("job_done")
        self.announce()

    # given
    def announce(self) -> None:
        marker = f"{self.job.name}/_SUCCESS"
        if not self.store.exists(marker):
            self.store.write(marker, "", by=self.id, at=self.now)
        for peer in self.peers:
            self.send(peer, JobDone())


# ----- the worker ------------------------------------------------------------------------------


class Worker(Node):
    def __init__(self, job: Job, store: FileStore, *, coordinator: str = "coordinator",
                 speed: float = 1.0) -> None:
        super().__init__()
        self.job, self.store, self.coordinator, self.speed = job, store, coordinator, speed
        self.task: Assign | None = None
        self.outputs: dict[str, str] = {}
        self.job_done = False

    def on_start(self) -> None:
        self.ask()

    def ask(self) -> None:
        if not self.job_done and self.task is None:
            self.send(self.coordinator, AskTask())
            self.set_timer("poll", POLL)

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Assign() if self.task is None and not self.job_done:
                self.begin(msg)
            case JobDone():
                self.job_done = True
                self.task = None
                for timer in ("poll", "renew", "work"):
                    self.cancel_timer(timer)

    def on_timer(self, name: str) -> None:
        if name == "poll":
            self.ask()
        elif name == "renew" and self.task is not None:
            self.send(self.coordinator, Renew(self.task.task, self.task.attempt))
            self.set_timer("renew", self.task.lease / 3)
        elif name == "work" and self.task is not None:
            self.finish()

    def begin(self, task: Assign) -> None:
        self.cancel_timer("poll")
        self.task = task
        kind, index = task.task.split("-")
        run = map_task if kind == "map" else reduce_task
        self.outputs, records = run(self.job, self.store, int(index), task.inputs)
        read = sum(len(self.store.read(name)) for name in task.inputs)
        written = sum(len(text) for text in self.outputs.values())
        self.set_timer("work", task_duration(self.job, self.store, read, records, written,
                                             self.speed))
        self.set_timer("renew", task.lease / 3)

    def finish(self) -> None:
        assert self.task is not None
        task, self.task = self.task, None
        self.cancel_timer("renew")
        for final, text in self.outputs.items():
            temporary = f"{self.job.name}/tmp/{final.rsplit('/', 1)[1]}.{task.attempt}.{self.id}"
            self.store.write(temporary, text, by=self.id, at=self.now)
            self.store.commit(temporary, final, by=self.id, at=self.now)
        self.outputs = {}
        self.send(self.coordinator, Finished(task.task, task.attempt))
        self.set_timer("poll", POLL)
