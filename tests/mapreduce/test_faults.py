"""Many seeds with crashed, slow and cut-off workers, a crashing coordinator and message
loss: :func:`check_job` must find the output equal to the sequential run, every task
completed, no output written twice and the job completed once, within a time bound.
Broken variants (tests/mapreduce/broken.py) must be caught on some seed."""

from __future__ import annotations

import pytest

from dsys.demos.mapreduce import Cluster, cluster, crash_workers, finished
from dsys.mapreduce import JOIN, WORD_COUNT, Coordinator, Worker, grep, sample_documents
from dsys.mapreduce.jobs import INVERTED_INDEX, Job
from dsys.sim import Nemesis
from tests.mapreduce import broken

#: Virtual seconds a faulty run may take: about 3x the fault-free time (word count of 8
#: documents on 4 workers, one at a fifth of normal speed, takes about 6 s).
BOUND = 25.0


def faulty_run(seed: int, *, job: Job = WORD_COUNT, inputs: dict[str, str] | None = None,
               worker: type[Worker] = Worker, coordinator: type[Coordinator] = Coordinator,
               backups: bool = True) -> Cluster:
    """4 workers (w4 at 0.2 speed), 5% loss, worker crashes, and a nemesis that also
    crashes the coordinator and cuts nodes off, for the first 6 s."""
    built = cluster(seed, job=job.__class__(job.name, job.map, job.reduce, job.reducers, 5e-4),
                    inputs=inputs or sample_documents(8, 1000, seed), workers=4,
                    speeds={"w4": 0.2}, drop=0.05, worker=worker, coordinator=coordinator,
                    backups=backups)
    crash_workers(built.sim, crashes=3, window=(0.2, 5.0), down=(0.5, 2.0))
    Nemesis(faults=("crash", "isolate", "partition"), interval=(0.5, 2.0),
            duration=(0.1, 1.0), stop=6.0, max_crashed=1).install(built.sim)
    built.sim.run_until(finished, timeout=BOUND)
    built.sim.run(until=built.sim.now + 2.0)  # late attempts and messages land
    return built


def problems(built: Cluster) -> list[str]:
    found = []
    report = built.check()
    if not report:
        found.append(report.explain())
    # (judged from the trace: the coordinator may be down again when the run ends)
    if not any(e.kind == "note" and e.data.get("event") == "job_done" and e.time <= BOUND
               for e in built.sim.trace):
        found.append(f"not finished within {BOUND} virtual seconds")
    return found


def notes(built: Cluster, event: str) -> list[dict[str, object]]:
    return [e.data for e in built.sim.trace if e.kind == "note" and e.data.get("event") == event]


def check_seeds(seeds: range) -> None:
    expired = backups = 0
    for seed in seeds:
        built = faulty_run(seed)
        assert problems(built) == [], f"seed {seed}: {problems(built)}"
        expired += len(notes(built, "expire"))
        backups += sum(bool(a["backup"]) for a in notes(built, "assign"))
    # the faults bite: leases ran out and backups ran on many seeds
    assert expired >= len(seeds) and backups >= len(seeds)


def test_word_count_correct_under_faults() -> None:
    check_seeds(range(25))


@pytest.mark.soak
def test_word_count_correct_under_faults_soak() -> None:
    check_seeds(range(25, 400))


def _tables(seed: int) -> dict[str, str]:
    docs = sample_documents(6, 40, seed)
    # two tables keyed by the first word of each line: many keys join, some do not
    return {f"{'left' if n % 2 else 'right'}/{name}": "\n".join(
        f"{line.split()[0]},{name}-{i}" for i, line in enumerate(text.splitlines()))
        for n, (name, text) in enumerate(docs.items())}


@pytest.mark.parametrize(("job", "inputs"), [
    (INVERTED_INDEX, None),
    (grep(r"\bcrash\b.*\blease\b", reducers=3), None),
    (JOIN, "tables"),
], ids=["inverted-index", "grep", "join"])
def test_other_jobs_equal_the_sequential_run_under_faults(job: Job, inputs: str | None) -> None:
    for seed in range(6):
        built = faulty_run(seed, job=job, inputs=_tables(seed) if inputs else None)
        assert problems(built) == [], f"seed {seed}: {problems(built)}"


@pytest.mark.parametrize(("worker", "coordinator", "expected"), [
    (broken.OverwritingWorker, Coordinator, "written again"),
    (broken.SaltedHashWorker, Coordinator, "in two reduce outputs"),
    (Worker, broken.NeverReexecutes, "never completed"),
    (Worker, broken.EarlyReduce, ""),
], ids=["overwrite", "salted-hash", "no-reexecution", "early-reduce"])
def test_broken_variants_are_caught(worker: type[Worker], coordinator: type[Coordinator],
                                    expected: str) -> None:
    caught = []
    for seed in range(12):
        try:
            found = problems(faulty_run(seed, worker=worker, coordinator=coordinator))
        except Exception as exc:  # a handler that raised: the simulator's report
            found = [f"{type(exc).__name__}: {exc}"]
        if found:
            caught.append(" / ".join(found))
    assert caught, "no seed caught the bug"
    assert any(expected in c for c in caught), caught


def test_without_backups_a_straggler_dominates() -> None:
    """Same faults, backups off: the job still completes correctly, but slower."""
    with_backups = faulty_run(3)
    without = faulty_run(3, backups=False)
    assert problems(without) == [] or problems(without) == [
        f"not finished within {BOUND} virtual seconds"]
    assert with_backups.sim.now < without.sim.now


@pytest.mark.parametrize(("coordinator", "announcements"), [
    (Coordinator, 1), (broken.ForgetsItFinished, 2)], ids=["durable", "forgetful"])
def test_a_coordinator_restarted_after_the_job_does_not_finish_it_again(
        coordinator: type[Coordinator], announcements: int) -> None:
    built = cluster(1, inputs=sample_documents(4, 200, 1), coordinator=coordinator)
    built.sim.run_until(finished, timeout=BOUND)
    built.sim.crash("coordinator")
    built.sim.crash("w1")  # a worker that restarts asks for work again
    built.sim.after(0.5, built.sim.restart, "coordinator")
    built.sim.after(0.6, built.sim.restart, "w1")
    built.sim.run(until=built.sim.now + 20.0)
    assert len(notes(built, "job_done")) == announcements
    assert bool(built.check()) == (announcements == 1)
