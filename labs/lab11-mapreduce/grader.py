"""Grader of lab 11: MapReduce.

Every test builds a coordinator (``coordinator``) and workers (``w1``...) of the student's
``mapreduce.py`` on a shared :class:`~dsys.mapreduce.MemoryStore` holding the inputs, runs
a job (word count, or the inverted index) with faults, and judges the run with
:func:`dsys.mapreduce.check_job` (output equal to the sequential run, every task
completed, no output installed twice, the job reported done once) plus what the test is
about, read from the store's log and the messages in the trace:

* a reduce task is handed out only after every map task reported done;
* every key of a map output lies in the partition the handout's CRC-32 gives it;
* a crashed or cut-off worker's task runs again, and its late output does not replace the
  one committed first;
* a task longer than the lease runs once (its lease is renewed);
* a straggler does not hold the job back (backup tasks);
* the job ends within a bound of virtual time, and the workers then stop asking.

Every bound follows from the handout's constants: a lease of 1 s, renewed every 1/3 s,
checked every 1/4 s; idle workers ask every 0.1 s; messages take 1 to 5 ms. A map task of
the word count takes about 0.5 s at speed 1, a reduce task about 0.05 s.
"""

from __future__ import annotations

import functools
import json
import zlib

import attrs

from dsys import Network, Simulation
from dsys.labs import Trial, graded
from dsys.mapreduce import (
    INVERTED_INDEX,
    WORD_COUNT,
    AskTask,
    Assign,
    Finished,
    Job,
    MemoryStore,
    Renew,
    check_job,
    sample_documents,
)

#: The word count of most tests: 8 documents of 1000 words, 4 reduce tasks, a map task
#: of about 0.5 s at speed 1.
JOB = attrs.evolve(WORD_COUNT, record_cost=5e-4)
READ_COST, WRITE_COST = 1e-7, 2e-7
LATENCY = (0.001, 0.005)


@attrs.define
class Run:
    """One built run: the simulation, the store, the job and its inputs."""

    sim: Simulation
    store: MemoryStore
    job: Job
    inputs: dict[str, str]

    def check(self) -> None:
        report = check_job(self.sim.trace, self.store, self.job, self.inputs)
        assert report, report.explain()

    def finished(self) -> bool:
        return self.store.exists(f"{self.job.name}/_SUCCESS")

    def done_at(self) -> float:
        return min(w.at for w in self.store.log if w.name == f"{self.job.name}/_SUCCESS")

    def assigns(self) -> list[tuple[float, str, Assign]]:
        """(time, worker, message) of every Assign the coordinator sent."""
        return [(e.time, str(e.data["to"]), e.data["msg"]) for e in self.sim.trace
                if e.kind == "send" and e.node == "coordinator"
                and isinstance(e.data.get("msg"), Assign)]


def build(trial: Trial, *, workers: int = 4, speeds: dict[str, float] | None = None,
          job: Job = JOB, documents: int = 8, words: int = 1000, drop: float = 0.0,
          lease: float = 1.0, backups: bool = True) -> Run:
    inputs = sample_documents(documents, words, trial.seed)
    store = MemoryStore(read_cost=READ_COST, write_cost=WRITE_COST)
    for name, text in inputs.items():
        store.write(name, text, by="input")
    sim = trial.simulation(Network(latency=LATENCY, drop=drop))
    sim.add_node("coordinator", functools.partial(trial.impl.Coordinator, job, list(inputs),
                                                  store, lease=lease, backups=backups))
    for n in range(1, workers + 1):
        sim.add_node(f"w{n}", functools.partial(trial.impl.Worker, job, store,
                                                speed=(speeds or {}).get(f"w{n}", 1.0)))
    return Run(sim, store, job, inputs)


def finish(trial: Trial, run: Run, within: float, what: str) -> None:
    """Run until the job is done (at most ``within`` virtual seconds), then 2 s more, and
    judge it."""
    done = trial.run_until(run.sim, lambda s: run.finished(), timeout=within)
    assert done, (f"{what}: the job was not done after {within:g} virtual seconds "
                  f"({sum(1 for _ in run.assigns())} tasks handed out)")
    trial.run(run.sim, run.sim.now + 2.0)
    run.check()


def crash_and_restart(trial: Trial, run: Run, *, crashes: int, window: tuple[float, float],
                      down: tuple[float, float] | None) -> None:
    """Crash ``crashes`` random workers at random times in ``window`` (from the trial's
    rng), each back after ``down`` seconds (None: never)."""
    workers = [n for n in run.sim.node_ids if n != "coordinator"]
    for _ in range(crashes):
        at, node = trial.rng.uniform(*window), trial.rng.choice(workers)
        back = None if down is None else trial.rng.uniform(*down)

        def crash(node: str = node, back: float | None = back) -> None:
            if run.sim.is_up(node):
                run.sim.crash(node)
                if back is not None:
                    run.sim.after(back, run.sim.restart, node)

        run.sim.at(at, crash)


# ----- the tests, cheapest first ----------------------------------------------------------------


@graded(points=10, runs=3)
def calm_word_count(trial: Trial) -> None:
    """With no faults, 3 workers count the words of 8 documents: right, and in time."""
    run = build(trial, workers=3)
    # 8 maps of ~0.5 s on 3 workers: 3 waves; the reduce tasks are short.
    finish(trial, run, 4.0, "no faults")


@graded(points=5, runs=2)
def keys_go_to_their_partition(trial: Trial) -> None:
    """Every key of map output ``map-m-r`` is one the handout's CRC-32 sends to ``r``."""
    run = build(trial, workers=3, job=attrs.evolve(INVERTED_INDEX, record_cost=5e-4,
                                                   reducers=5), words=300)
    finish(trial, run, 6.0, "inverted index")
    for m in range(len(run.inputs)):
        for r in range(run.job.reducers):
            for key, _ in json.loads(run.store.read(run.job.map_output(m, r))):
                home = zlib.crc32(key.encode("utf-8")) % run.job.reducers
                assert home == r, (f"key {key!r} is in {run.job.map_output(m, r)}, but "
                                   f"crc32 % {run.job.reducers} sends it to partition {home}")


@graded(points=10, runs=3)
def reduce_waits_for_every_map(trial: Trial) -> None:
    """No reduce task is handed out before every map task reported done."""
    run = build(trial, workers=4, speeds={"w2": 0.3})
    finish(trial, run, 10.0, "one slow worker")
    reported: set[str] = set()
    maps = {f"map-{m}" for m in range(len(run.inputs))}
    for e in run.sim.trace:
        msg = e.data.get("msg")
        if e.kind == "recv" and e.node == "coordinator" and isinstance(msg, Finished):
            reported.add(msg.task)
        if (e.kind == "send" and e.node == "coordinator" and isinstance(msg, Assign)
                and msg.task.startswith("reduce-")):
            missing = sorted(maps - reported)
            assert not missing, (f"t={e.time:.3f}: {msg.task} handed to {e.data['to']} while "
                                 f"{', '.join(missing)} had not reported done")


@graded(points=10, runs=6)
def crashed_workers_tasks_run_again(trial: Trial) -> None:
    """Two workers crash for good in the middle of the job: their tasks run elsewhere."""
    run = build(trial, workers=4)
    for node, at in zip(trial.rng.sample(["w1", "w2", "w3", "w4"], 2),
                        (trial.rng.uniform(0.1, 1.0), trial.rng.uniform(0.5, 2.0)), strict=True):
        run.sim.at(at, run.sim.crash, node)
    # 8 maps on 2 workers is 4 waves of 0.5 s, a lease or two lost: well within 8 s.
    finish(trial, run, 8.0, "two workers crashed for good")


@graded(points=5, runs=4)
def leases_expire_without_backups(trial: Trial) -> None:
    """Backups off, two workers crash for good: only their leases expiring brings their
    tasks back (the coordinator must keep looking for expired leases, all job long)."""
    run = build(trial, workers=4, backups=False)
    for node, at in zip(trial.rng.sample(["w1", "w2", "w3", "w4"], 2),
                        (trial.rng.uniform(0.1, 1.0), trial.rng.uniform(1.0, 3.0)), strict=True):
        run.sim.at(at, run.sim.crash, node)
    finish(trial, run, 10.0, "two workers crashed for good, no backup tasks")


@graded(points=10, runs=4)
def restarted_workers_join_again(trial: Trial) -> None:
    """Workers crash and come back (empty-handed) again and again: the job still ends."""
    run = build(trial, workers=4)
    crash_and_restart(trial, run, crashes=6, window=(0.1, 3.0), down=(0.1, 1.0))
    finish(trial, run, 10.0, "workers crashing and restarting")


@graded(points=10, runs=4)
def late_output_does_not_replace(trial: Trial) -> None:
    """A worker cut off for 3 s finishes its task late: its output replaces nothing."""
    run = build(trial, workers=3)
    victim = trial.rng.choice(["w1", "w2", "w3"])
    at = trial.rng.uniform(0.1, 0.4)
    run.sim.at(at, run.sim.isolate, victim)
    run.sim.at(at + 3.0, run.sim.heal)
    finish(trial, run, 10.0, f"{victim} cut off for 3 s")


@graded(points=10, runs=3)
def long_tasks_keep_their_lease(trial: Trial) -> None:
    """Map tasks of 3 leases (backups off): each runs once, renewed every 1/3 s."""
    run = build(trial, workers=4, job=attrs.evolve(JOB, record_cost=3e-3), backups=False)
    finish(trial, run, 15.0, "map tasks of 3 s with a lease of 1 s")
    handed: dict[str, int] = {}
    for _, _, msg in run.assigns():
        handed[msg.task] = handed.get(msg.task, 0) + 1
    again = sorted(task for task, times in handed.items() if times > 1)
    assert not again, (f"{', '.join(again)} handed out more than once though no worker failed: "
                       "is the lease renewed while the task runs?")
    # A renewal needs a margin for the network and the coordinator's checks: at least two
    # per lease (the handout says every third of one), measured between Renew sends.
    last: dict[tuple[str, int], float] = {}
    for e in run.sim.trace:
        renewal = e.data.get("msg")
        if e.kind == "send" and isinstance(renewal, Renew):
            key = (e.node, renewal.attempt)
            if key in last:
                gap = e.time - last[key]
                assert gap <= 0.5 + 1e-9, (
                    f"t={e.time:.3f}: {e.node} renewed attempt {renewal.attempt} of "
                    f"{renewal.task} "
                    f"{gap:.3f} s after its previous renewal; with a lease of 1 s, renew every "
                    "1/3 s so that a late message or a lease check does not lose the task")
            last[key] = e.time


@graded(points=10, runs=3)
def straggler_gets_a_backup(trial: Trial) -> None:
    """One worker runs 20 times slower: backup tasks finish the job long before it would."""
    run = build(trial, workers=4, speeds={"w1": 0.05})
    # Without backups the slow worker's first map task alone takes about 10 s.
    finish(trial, run, 5.0, "a worker at 1/20 speed")
    early = [w for w in run.store.log if w.by == "w1" and w.how == "commit" and w.at < 5.0]
    assert not early, (f"w1 runs at 1/20 speed (a map task takes it about 10 s), yet it "
                       f"committed {early[0].name} at t={early[0].at:.3f}: does the worker "
                       "wait task_duration(...) (which divides by its speed) before it commits?")


@graded(points=10, runs=6)
def lossy_network_and_crashes(trial: Trial) -> None:
    """10% of messages lost, workers crashing and restarting, one slow: still exact."""
    run = build(trial, workers=4, speeds={"w4": 0.3}, drop=0.1)
    crash_and_restart(trial, run, crashes=3, window=(0.1, 3.0), down=(0.2, 2.0))
    finish(trial, run, 15.0, "10% loss and crashes")


@graded(points=5, runs=3)
def coordinator_restarts(trial: Trial) -> None:
    """The coordinator crashes mid-job and restarts: the job ends, reported done once."""
    run = build(trial, workers=3)
    at = trial.rng.uniform(0.3, 2.0)
    run.sim.at(at, run.sim.crash, "coordinator")
    run.sim.at(at + 0.5, run.sim.restart, "coordinator")
    finish(trial, run, 10.0, "the coordinator restarted")


@graded(points=5, runs=2)
def workers_stop_when_done(trial: Trial) -> None:
    """Once the job is done (and the workers told), no worker asks for work any more."""
    run = build(trial, workers=3)
    finish(trial, run, 4.0, "no faults")
    quiet_from = run.done_at() + 0.5
    late = [(e.time, e.node) for e in run.sim.trace
            if e.kind == "send" and isinstance(e.data.get("msg"), AskTask)
            and e.time > quiet_from]
    assert not late, (f"{len(late)} AskTask sent more than 0.5 s after the job was done, "
                      f"first by {late[0][1]} at t={late[0][0]:.3f}")
