"""The MapReduce coordinator (the paper's *master*): tasks, leases, re-execution, backups.

The rules of this file:

* The job is ``M`` map tasks (``"map-0"`` ...), one per input file, then ``R`` reduce tasks
  (``"reduce-0"`` ...). A task is *idle*, *running* (one or more attempts hold a lease) or
  *done*. No reduce task is handed out before every map task is done: reduce task ``r``
  reads partition ``r`` of *every* map output (paper, section 3.1).
* An idle worker asks (:class:`~dsys.mapreduce.messages.AskTask`); it gets the first idle
  task of the current phase, as a new *attempt* with a lease of ``lease`` seconds. A worker
  that asks holds nothing any more (it finished, or it crashed and restarted), so any
  attempt still listed under its name is dropped at once.
* Leases: a worker renews its attempt's lease while it works; every ``lease / 4`` seconds
  the coordinator drops the attempts whose lease ran out (the worker crashed, is cut off,
  or its messages are lost), and a task left with no attempt is idle again: it will be
  *re-executed* (paper, section 3.3, "worker failure").
* Backup tasks (paper, section 3.6): when every task of the phase has been handed out, an
  asking worker gets a second attempt of the running task that started first, if that
  task has already run longer than the median task of the phase so far. Whichever attempt
  finishes first completes the task; the other's commit finds the output there.
* The first :class:`~dsys.mapreduce.messages.Finished` of a task makes it done; later ones
  are ignored. When the last reduce task is done the job is finished: noted once
  (``job_done``), recorded in storage (synced) so that a restarted coordinator neither
  redoes nor re-announces it, and marked in the store by ``<job>/_SUCCESS``.
* Done tasks are kept in ``storage`` (synced when each completes); a restarted
  coordinator reloads them and treats every other task as idle.

Notes in the trace (what the checkers and the pictures read): ``assign`` (task, attempt,
worker, backup), ``expire`` (task, attempt, worker), ``task_done`` (task, attempt, worker,
took), ``job_done`` (tasks, attempts).

Example: one worker, which crashes in its first task and comes back 2 s later; the lease
of its attempt runs out and the task runs again.

    >>> from dsys import Simulation
    >>> from dsys.mapreduce import Coordinator, MemoryStore, WORD_COUNT, Worker
    >>> store = MemoryStore()
    >>> store.write("in/a", "to be or not to be")
    >>> sim = Simulation(seed=1)
    >>> sim.add_node("coordinator", lambda: Coordinator(WORD_COUNT, ["in/a"], store))
    >>> sim.add_node("w1", lambda: Worker(WORD_COUNT, store, startup=0.5))
    >>> sim.at(0.1, sim.crash, "w1")
    >>> sim.at(2.0, sim.restart, "w1")
    >>> sim.run(until=6.0)
    >>> [(e.data["event"], e.data.get("task")) for e in sim.trace
    ...  if e.kind == "note" and e.data["event"] in ("expire", "job_done")]
    [('expire', 'map-0'), ('job_done', None)]
    >>> coordinator = sim.node("coordinator")
    >>> coordinator.phase(), coordinator.done_tasks(), coordinator.reexecuted
    ('reduce', 5, 1)
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import attrs

from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.mapreduce.jobs import Job
from dsys.mapreduce.messages import AskTask, Assign, Finished, JobDone, Renew
from dsys.mapreduce.store import FileStore

__all__ = ["Attempt", "Coordinator", "Task"]


@attrs.define
class Attempt:
    """One running attempt of a task: who runs it, since when, until when its lease holds."""

    worker: str
    started: float
    deadline: float


@attrs.define
class Task:
    """A map or reduce task and its running attempts (attempt number -> :class:`Attempt`)."""

    name: str
    inputs: tuple[str, ...]
    done: bool = False
    attempts: dict[int, Attempt] = attrs.field(factory=dict)
    runs: int = 0           # attempts handed out so far (in this incarnation)

    @property
    def kind(self) -> str:
        """``"map"`` or ``"reduce"``."""
        return self.name.split("-", 1)[0]

    @property
    def idle(self) -> bool:
        """Neither done nor running: waiting for a worker."""
        return not self.done and not self.attempts


class Coordinator(Node):
    """The coordinator of ``job`` over the store files ``inputs``; see the module docstring.

    Args:
        job: the job to run.
        inputs: the store names of its input files, one map task each.
        store: the shared file store (the coordinator writes only ``<job>/_SUCCESS``).
        lease: seconds an attempt may go without a renewal before its task is re-executed.
        backups: schedule backup attempts of the last running tasks (section 3.6).
    """

    def __init__(self, job: Job, inputs: Sequence[str], store: FileStore, *,
                 lease: float = 1.0, backups: bool = True) -> None:
        super().__init__()
        if isinstance(inputs, str) or not inputs:
            raise ConfigError("a MapReduce job needs a non-empty list of input file names")
        if not 0 < lease < float("inf"):
            raise ConfigError(f"the lease must be > 0 seconds, got {lease!r}")
        self.job, self.store, self.lease, self.backups = job, store, lease, backups
        maps = [Task(f"map-{m}", (name,)) for m, name in enumerate(inputs)]
        reduces = [Task(f"reduce-{r}", tuple(job.map_output(m, r) for m in range(len(maps))))
                   for r in range(job.reducers)]
        self.tasks = {t.name: t for t in maps + reduces}
        self.finished = False
        self.next_attempt = 0
        self.took: dict[str, list[float]] = {"map": [], "reduce": []}  # done tasks' durations
        self.reexecuted = 0     # attempts handed out because an earlier one was lost
        self.backups_run = 0    # backup attempts handed out

    # ----- start and recovery -------------------------------------------------------------

    def on_start(self) -> None:
        # Attempt numbers stay unique across restarts: each incarnation has its own range.
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

    # ----- handlers ---------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case AskTask():
                self.assign(src)
            case Renew(task=name, attempt=attempt):
                self.renew(name, attempt)
            case Finished(task=name, attempt=attempt):
                self.complete(name, attempt, src)
                self.assign(src)  # a worker that finished is asking for more

    def on_timer(self, name: str) -> None:
        if name == "leases":
            self.expire_leases()
            self.set_timer("leases", self.lease / 4)

    # ----- task assignment ------------------------------------------------------------------

    def phase(self) -> str:
        """``"map"`` until every map task is done, then ``"reduce"``."""
        maps_done = all(t.done for t in self.tasks.values() if t.kind == "map")
        return "reduce" if maps_done else "map"

    def assign(self, worker: str) -> None:
        """Give the asking ``worker`` an idle task of the phase, or a backup, or nothing."""
        if self.finished:
            self.send(worker, JobDone())
            return
        self.forget_worker(worker)
        phase = self.phase()
        in_phase = [t for t in self.tasks.values() if t.kind == phase]
        idle = [t for t in in_phase if t.idle]
        if idle:
            self.start_attempt(idle[0], worker, backup=False)
        elif self.backups:
            task = self.straggler(in_phase, worker)
            if task is not None:
                self.start_attempt(task, worker, backup=True)

    def straggler(self, tasks: list[Task], worker: str) -> Task | None:
        """The running task that most deserves a backup attempt on ``worker``, if any: the
        one that started first among those with a single attempt (not ``worker``'s), once
        it has run longer than the median task of its phase so far."""
        took = self.took[tasks[0].kind]
        if not took:
            return None
        typical = statistics.median(took)
        candidates = [(attempt.started, t.name) for t in tasks if len(t.attempts) == 1
                      for attempt in t.attempts.values() if attempt.worker != worker
                      and self.now - attempt.started > typical]
        return self.tasks[min(candidates)[1]] if candidates else None

    def start_attempt(self, task: Task, worker: str, *, backup: bool) -> None:
        """Hand ``task`` to ``worker`` as a new attempt with a fresh lease."""
        self.next_attempt += 1
        attempt = self.next_attempt
        task.attempts[attempt] = Attempt(worker, self.now, self.now + self.lease)
        if backup:
            self.backups_run += 1
        elif task.runs:
            self.reexecuted += 1
        task.runs += 1
        self.note("assign", task=task.name, attempt=attempt, worker=worker, backup=backup)
        self.send(worker, Assign(task.name, attempt, task.inputs, self.lease))

    def forget_worker(self, worker: str) -> None:
        """``worker`` is asking, so it runs nothing: drop the attempts listed under it."""
        for task in self.tasks.values():
            for attempt in [a for a, held in task.attempts.items() if held.worker == worker]:
                del task.attempts[attempt]

    # ----- leases -----------------------------------------------------------------------

    def renew(self, name: str, attempt: int) -> None:
        """Extend the lease of a running attempt (an unknown or dropped one stays dropped)."""
        task = self.tasks.get(name)
        if task is not None and attempt in task.attempts:
            task.attempts[attempt].deadline = self.now + self.lease

    def expire_leases(self) -> None:
        """Drop every attempt whose lease ran out; its task is idle again if it was alone."""
        for task in self.tasks.values():
            for attempt, held in list(task.attempts.items()):
                if held.deadline < self.now:
                    del task.attempts[attempt]
                    self.note("expire", task=task.name, attempt=attempt, worker=held.worker)

    # ----- completion ---------------------------------------------------------------------

    def complete(self, name: str, attempt: int, worker: str) -> None:
        """The first report of a task makes it done; the last task finishes the job."""
        task = self.tasks.get(name)
        if task is None or task.done:
            return
        held = task.attempts.get(attempt)
        took = self.now - held.started if held is not None else None
        if took is not None:
            self.took[task.kind].append(took)
        task.done = True
        task.attempts.clear()
        self.storage["done"] = sorted(t.name for t in self.tasks.values() if t.done)
        self.storage.sync()
        self.note("task_done", task=name, attempt=attempt, worker=worker, took=took)
        if all(t.done for t in self.tasks.values()):
            self.finish_job()

    def finish_job(self) -> None:
        """Record, once and durably, that the job is finished, then tell the workers."""
        self.finished = True
        self.storage["finished"] = True
        self.storage.sync()
        self.note("job_done", tasks=len(self.tasks), attempts=self.next_attempt % 1_000_000)
        self.announce()

    def announce(self) -> None:
        """Mark the job finished in the store (once) and tell every worker."""
        marker = f"{self.job.name}/_SUCCESS"
        if not self.store.exists(marker):
            self.store.write(marker, "", by=self.id, at=self.now)
        for peer in self.peers:
            self.send(peer, JobDone())

    # ----- for tests, benches and the docs ------------------------------------------------

    def done_tasks(self) -> int:
        """How many tasks are done."""
        return sum(t.done for t in self.tasks.values())
