"""Lab 11: MapReduce. The only file you edit.

Write the coordinator's task assignment, lease expiry and re-execution, and backup tasks,
and the worker's loop (ask, run, commit, report), as the MapReduce paper describes them
(J. Dean and S. Ghemawat, "MapReduce: Simplified Data Processing on Large Clusters", OSDI
2004: sections 3.1, 3.3 and 3.6). The handout (README.md) walks through it step by step.

The grader builds ``Coordinator(job, inputs, store, lease=..., backups=...)`` and
``Worker(job, store, speed=...)`` nodes (the coordinator's id is ``"coordinator"``), runs
a job with faults, and judges the output files in the store, the store's log of writes
and commits, your nodes' notes and the messages in the trace. Keep the names of the
classes, of their constructor arguments, and of the notes (``task_done``, ``job_done``).

Everything marked *given* works as it is; the TODOs are yours. Use timers for time and
``self.rng`` for randomness (never the wall clock or the ``random`` module): the grader
replays every failure from its seed.
"""

from __future__ import annotations

import json
import statistics  # noqa: F401  (statistics.median: the backup rule, step 5)
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

    # given: reload what survived a crash (done tasks, whether the job is finished)
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
        """``worker`` asks for work (AskTask, or after a Finished): give it a task.

        TODO (step 2): if the job is finished, answer JobDone. Otherwise the worker runs
        nothing now: forget any attempt listed under its name. Then hand it the first
        idle task of the current phase (map until every map task is done, then reduce)
        with :meth:`start_attempt`. TODO (step 5): if no task of the phase is idle and
        ``self.backups`` is on, give it a backup attempt of the running task that started
        first among those with one attempt (not its own), if that attempt has run longer
        than the median of ``self.took[phase]`` (none done yet: no backup).
        """

    def start_attempt(self, task: Task, worker: str, *, backup: bool) -> None:
        self.next_attempt += 1
        task.attempts[self.next_attempt] = [worker, self.now, self.now + self.lease]
        task.runs += 1
        self.note("assign", task=task.name, attempt=self.next_attempt, worker=worker,
                  backup=backup)
        self.send(worker, Assign(task.name, self.next_attempt, task.inputs, self.lease))

    def renew(self, name: str, attempt: int) -> None:
        """TODO (step 3): a Renew: push back the lease deadline of that attempt, if it is
        still running (an attempt the coordinator dropped stays dropped)."""

    def expire_leases(self) -> None:
        """TODO (step 3): every CHECK_LEASES_EVERY seconds: drop every attempt whose lease
        deadline has passed (note ``expire``). A task left with no attempt is idle again,
        and the next worker that asks runs it again."""

    def complete(self, name: str, attempt: int, worker: str) -> None:
        """TODO (step 4): a Finished. The first report of a task makes it done: record how
        long the attempt took (in ``self.took``, for the backup rule), clear its attempts,
        call :meth:`record_done`; once every task is done, :meth:`finish_job`. A report of
        a task already done changes nothing."""

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
        self.task: Assign | None = None        # the task running now, if any
        self.outputs: dict[str, str] = {}      # its outputs: final name -> text
        self.job_done = False

    def on_start(self) -> None:
        """TODO (step 1): a worker starts (or restarts, empty-handed) by asking for work."""

    def on_message(self, src: str, msg: Any) -> None:
        """TODO (step 1): an Assign (while no task runs and the job is not done) starts the
        task (:meth:`begin`); JobDone means stop: no task, no timers, no more asking."""

    def on_timer(self, name: str) -> None:
        """TODO (step 1): ``poll``: ask again; ``work``: the task's work is done
        (:meth:`finish`). TODO (step 3): ``renew``: send Renew and re-arm it."""

    def ask(self) -> None:
        """TODO (step 1): if the job is not done and no task is running, send AskTask to
        the coordinator and arm the ``poll`` timer (POLL seconds) to ask again."""

    def begin(self, task: Assign) -> None:
        """TODO (step 1): start ``task``: run it now (``map_task`` or ``reduce_task``) and
        keep the outputs; the time it takes is the ``work`` timer, of
        ``task_duration(...)`` seconds (the bytes of the inputs read, the records, the
        bytes of the outputs, your speed). Stop polling. TODO (step 3): arm the ``renew``
        timer (every RENEW_EVERY seconds, a third of ``task.lease``)."""

    def finish(self) -> None:
        """TODO (step 1): the ``work`` timer fired: write each output under a temporary name
        of its own (unique to this attempt and this worker), commit it to its final name
        with ``self.store.commit`` (it refuses a name that exists), send Finished (the
        coordinator answers it with your next task), and arm ``poll`` in case that answer
        is lost. TODO (step 3): stop renewing."""
