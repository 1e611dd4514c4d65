"""The MapReduce worker: ask for a task, run it, commit its output, report, ask again.

The rules of this file:

* A worker runs one task at a time. It reads the task's inputs from the shared store and
  computes the outputs when the task arrives; the time that takes in the simulator is a
  timer (``"work"``) of :meth:`Worker.duration` seconds: a fixed ``startup``, the store's
  per-byte costs and the job's per-record cost, divided by the worker's ``speed`` (a slow
  machine, a straggler, has ``speed < 1``). A crash before the timer fires loses the work.
* When the work is done the outputs are written under temporary names, then each is
  committed (renamed to its final name only if no attempt got there first): a late or
  duplicate attempt never overwrites an output (paper, section 3.3). Then it reports
  :class:`~dsys.mapreduce.messages.Finished`, which also asks for the next task.
* While busy it renews the lease every third of the lease (timer ``"renew"``) so that a
  task longer than the lease is not given to someone else; while idle it asks for work
  every ``poll`` seconds (timer ``"poll"``) until the coordinator says the job is done.
* A map task's output is one file per reduce task, the pairs whose key :func:`partition`
  sends there (a JSON list of ``[key, value]``, after the job's combiner if it has one);
  a reduce task reads partition ``r`` of every
  map task, groups the values by key and writes ``[[key, reduce(key, values)], ...]``.

Example:
    >>> from dsys import Simulation
    >>> from dsys.mapreduce import Coordinator, MemoryStore, WORD_COUNT, Worker, read_output
    >>> store = MemoryStore()
    >>> store.write("in/a", "to be or not to be")
    >>> store.write("in/b", "be quick")
    >>> sim = Simulation(seed=1)
    >>> sim.add_node("coordinator", lambda: Coordinator(WORD_COUNT, ["in/a", "in/b"], store))
    >>> for w in ("w1", "w2"):
    ...     sim.add_node(w, lambda: Worker(WORD_COUNT, store))
    >>> sim.run(until=5.0)
    >>> read_output(store, WORD_COUNT)
    {'be': 3, 'not': 1, 'or': 1, 'quick': 1, 'to': 2}
"""

from __future__ import annotations

import json
from typing import Any

from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.mapreduce.jobs import Job, group, partition
from dsys.mapreduce.messages import AskTask, Assign, Finished, JobDone, Renew
from dsys.mapreduce.store import FileStore

__all__ = ["Worker", "read_output"]


def read_output(store: FileStore, job: Job) -> dict[str, Any]:
    """The job's result: every reduce task's output file merged, keys sorted."""
    merged: dict[str, Any] = {}
    for reducer in range(job.reducers):
        for key, value in json.loads(store.read(job.output(reducer))):
            merged[key] = value
    return {key: merged[key] for key in sorted(merged)}


class Worker(Node):
    """A worker of ``job`` on the shared ``store``; see the module docstring.

    Args:
        job: the job (its functions run here).
        store: the shared file store.
        coordinator: the coordinator's node id.
        speed: how fast this machine is (1.0 = normal, 0.1 = ten times slower).
        poll: seconds between two requests for work while idle.
        startup: seconds every task costs before it reads anything (at speed 1).
    """

    def __init__(self, job: Job, store: FileStore, *, coordinator: str = "coordinator",
                 speed: float = 1.0, poll: float = 0.1, startup: float = 0.01) -> None:
        super().__init__()
        if not 0 < speed < float("inf"):
            raise ConfigError(f"a worker's speed must be > 0, got {speed!r}")
        if not 0 < poll < float("inf") or not 0 <= startup < float("inf"):
            raise ConfigError(f"a worker needs poll > 0 and startup >= 0, got {poll}, {startup}")
        self.job, self.store, self.coordinator = job, store, coordinator
        self.speed, self.poll, self.startup = speed, poll, startup
        self.task: Assign | None = None          # the task being run, if any
        self.outputs: dict[str, str] = {}        # its outputs: final name -> text
        self.job_done = False
        self.tasks_run = 0

    # ----- the loop: ask, work, commit, report ----------------------------------------------

    def on_start(self) -> None:
        self.ask()

    def ask(self) -> None:
        """Ask the coordinator for a task, and again every ``poll`` seconds until one comes."""
        if not self.job_done and self.task is None:
            self.send(self.coordinator, AskTask())
            self.set_timer("poll", self.poll)

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Assign() if self.task is None and not self.job_done:
                self.begin(msg)
            case JobDone():
                self.job_done = True
                for timer in ("poll", "renew", "work"):
                    self.cancel_timer(timer)
                self.task = None

    def on_timer(self, name: str) -> None:
        if name == "poll":
            self.ask()
        elif name == "renew" and self.task is not None:
            self.send(self.coordinator, Renew(self.task.task, self.task.attempt))
            self.set_timer("renew", self.task.lease / 3)
        elif name == "work" and self.task is not None:
            self.finish()

    def begin(self, task: Assign) -> None:
        """Start ``task``: compute its outputs now, deliver them when the work timer fires."""
        self.cancel_timer("poll")
        self.task = task
        kind = task.task.split("-", 1)[0]
        read = sum(len(self.store.read(name)) for name in task.inputs)
        if kind == "map":
            self.outputs, records = self.run_map(task)
        else:
            self.outputs, records = self.run_reduce(task)
        written = sum(len(text) for text in self.outputs.values())
        self.set_timer("work", self.duration(read, records, written))
        self.set_timer("renew", task.lease / 3)

    def finish(self) -> None:
        """Write the outputs under temporary names, commit each, report, ask again."""
        assert self.task is not None
        task, self.task = self.task, None
        self.cancel_timer("renew")
        for final, text in self.outputs.items():
            temporary = f"{self.job.name}/tmp/{final.rsplit('/', 1)[1]}.{task.attempt}.{self.id}"
            self.store.write(temporary, text, by=self.id, at=self.now)
            self.store.commit(temporary, final, by=self.id, at=self.now)
        self.outputs = {}
        self.tasks_run += 1
        # Finished doubles as a request for the next task (an AskTask sent beside it could
        # overtake it and make the coordinator drop the attempt before it hears it is done).
        self.send(self.coordinator, Finished(task.task, task.attempt))
        self.set_timer("poll", self.poll)

    # ----- the work itself --------------------------------------------------------------

    def run_map(self, task: Assign) -> tuple[dict[str, str], int]:
        """Map task: ``map`` over the input file, pairs split into ``R`` partitions."""
        index = int(task.task.split("-")[1])
        buckets: list[list[tuple[str, Any]]] = [[] for _ in range(self.job.reducers)]
        records = 0
        for name in task.inputs:
            for key, value in self.job.map(name, self.store.read(name)):
                if not isinstance(key, str):
                    raise ConfigError(f"map of job {self.job.name} emitted a non-string key "
                                      f"{key!r}")
                buckets[partition(key, self.job.reducers)].append((key, value))
                records += 1
        if self.job.combine is not None:
            combine = self.job.combine
            buckets = [[(key, combine(key, values)) for key, values in group(bucket).items()]
                       for bucket in buckets]
        outputs = {self.job.map_output(index, r): json.dumps(bucket)
                   for r, bucket in enumerate(buckets)}
        return outputs, records

    def run_reduce(self, task: Assign) -> tuple[dict[str, str], int]:
        """Reduce task: every map task's partition, grouped by key, ``reduce`` per key."""
        index = int(task.task.split("-")[1])
        pairs: list[tuple[str, Any]] = []
        for name in task.inputs:
            pairs.extend((key, value) for key, value in json.loads(self.store.read(name)))
        result = [[key, self.job.reduce(key, values)] for key, values in group(pairs).items()]
        return {self.job.output(index): json.dumps(result)}, len(pairs)

    def duration(self, read: int, records: int, written: int) -> float:
        """Virtual seconds a task takes here: startup, bytes read and written at the store's
        costs, records at the job's cost, all divided by ``speed``."""
        work = (self.startup + read * self.store.read_cost + records * self.job.record_cost
                + written * self.store.write_cost)
        return work / self.speed
