"""Rules of dsys.mapreduce that a mutation sample found unpinned (issue 21): the worker's
polling and renewal *rates*, the lease's *bounds*, the coordinator's *counts* read against
the trace, rarely taken branches (a second Assign while busy, reports of unknown or dropped
attempts), the store's directory, and the checker's rarely rendered text."""

from __future__ import annotations

import functools
import itertools
import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from dsys import Simulation
from dsys.core.node import Node
from dsys.demos.mapreduce import Cluster, cluster, crash_workers, finished
from dsys.errors import ConfigError
from dsys.mapreduce import (
    WORD_COUNT,
    Coordinator,
    DirectoryStore,
    MemoryStore,
    Worker,
    check_job,
    sample_documents,
)
from dsys.mapreduce.messages import AskTask, Assign, Finished, JobDone, Renew
from dsys.trace.events import Trace


class Recorder(Node):
    """A stand-in coordinator: records what it hears (time, message) and answers the
    messages in ``script`` (one answer per AskTask, in order) and nothing else."""

    def __init__(self, script: list[Any] | None = None) -> None:
        super().__init__()
        self.heard: list[tuple[float, Any]] = []
        self.script = list(script or [])

    def on_message(self, src: str, msg: Any) -> None:
        self.heard.append((self.now, msg))
        if isinstance(msg, AskTask) and self.script:
            for answer in self.script.pop(0):
                self.send(src, answer)


def lone_worker(script: list[Any] | None = None, *, poll: float = 0.1) -> Simulation:
    store = MemoryStore()
    store.write("in/a", "to be or not to be")
    sim = Simulation(seed=3)
    sim.add_node("coordinator", lambda: Recorder(script))
    sim.add_node("w1", lambda: Worker(WORD_COUNT, store, poll=poll))
    return sim


def heard(sim: Simulation, kind: type) -> list[float]:
    recorder = sim.node("coordinator")
    assert isinstance(recorder, Recorder)
    return [t for t, msg in recorder.heard if isinstance(msg, kind)]


def _sender(sim: Simulation, node: str) -> Any:
    """Send a message to the coordinator as ``node`` (looked up when it is sent)."""
    def send(msg: Any) -> None:
        sender = sim.node(node)
        assert sender is not None
        sender.send("coordinator", msg)

    return send


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


# ----- rates -------------------------------------------------------------------------------

@pytest.mark.parametrize("poll", [None, 0.25])
def test_an_idle_worker_asks_every_poll_seconds(poll: float | None) -> None:
    # (None: the default, so that the default itself is pinned)
    sim = Simulation(seed=3)
    store = MemoryStore()
    sim.add_node("coordinator", Recorder)
    sim.add_node("w1", lambda: Worker(WORD_COUNT, store) if poll is None
                 else Worker(WORD_COUNT, store, poll=poll))
    sim.run(until=2.0)
    every = 0.1 if poll is None else poll  # the documented default is 0.1 s
    asks = heard(sim, AskTask)
    assert len(asks) == pytest.approx(2.0 / every, abs=1)
    # (latency varies per message: the gaps are the poll period give or take a few ms)
    assert all(g == pytest.approx(every, abs=0.01) for g in gaps(asks)), gaps(asks)


def test_a_busy_worker_renews_every_third_of_the_lease_and_asks_nothing() -> None:
    slow = attrs.evolve(WORD_COUNT, record_cost=0.5)  # 6 words: a 3 s task
    store = MemoryStore()
    store.write("in/a", "to be or not to be")
    sim = Simulation(seed=3)
    assign = Assign("map-0", 7, ("in/a",), 0.9)
    sim.add_node("coordinator", lambda: Recorder([[assign]]))
    sim.add_node("w1", lambda: Worker(slow, store))
    sim.run(until=2.0)
    renewals = heard(sim, Renew)
    assert len(heard(sim, AskTask)) == 1   # the first ask only: busy from then on
    assert len(renewals) == 6              # at 0.3, 0.6, ... 1.8 s
    assert all(g == pytest.approx(0.3, abs=0.01) for g in gaps(renewals)), gaps(renewals)
    recorder = sim.node("coordinator")
    assert isinstance(recorder, Recorder)
    assert {msg for _, msg in recorder.heard if isinstance(msg, Renew)} == {Renew("map-0", 7)}


def test_a_task_takes_startup_plus_costs_over_speed() -> None:
    job = attrs.evolve(WORD_COUNT, record_cost=0.01)
    store = MemoryStore(read_cost=0.001, write_cost=0.002)
    worker = Worker(job, store, speed=0.5, startup=0.25)
    # 0.25 + 100 bytes * 0.001 + 10 records * 0.01 + 50 bytes * 0.002, at half speed
    assert worker.duration(100, 10, 50) == pytest.approx((0.25 + 0.1 + 0.1 + 0.1) / 0.5)
    assert Worker(job, MemoryStore()).duration(0, 0, 0) == pytest.approx(0.01)  # default


@pytest.mark.parametrize("options", [
    {"poll": 0}, {"poll": -0.1}, {"poll": float("inf")}, {"poll": float("nan")},
    {"startup": -0.01}, {"startup": float("inf")},
])
def test_a_worker_refuses_a_bad_poll_or_startup(options: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="poll > 0 and startup >= 0"):
        Worker(WORD_COUNT, MemoryStore(), poll=options.get("poll", 0.1),
               startup=options.get("startup", 0.01))


def test_a_worker_accepts_a_zero_startup() -> None:
    assert Worker(WORD_COUNT, MemoryStore(), startup=0.0).duration(0, 0, 0) == 0.0


# ----- rarely taken branches of the worker -------------------------------------------------

def test_a_second_assign_while_busy_is_ignored() -> None:
    first = Assign("map-0", 1, ("in/a",), 1.0)
    second = Assign("map-0", 2, ("in/a",), 1.0)
    sim = lone_worker([[first, second]])
    sim.run(until=1.0)
    recorder = sim.node("coordinator")
    assert isinstance(recorder, Recorder)
    assert [msg for _, msg in recorder.heard if isinstance(msg, Finished)] == [
        Finished("map-0", 1)]
    worker = sim.node("w1")
    assert isinstance(worker, Worker) and worker.tasks_run == 1


def test_job_done_stops_the_worker_and_a_later_assign_is_ignored() -> None:
    late = Assign("map-0", 1, ("in/a",), 1.0)
    sim = lone_worker([[JobDone(), late]])
    sim.run(until=1.0)
    assert len(heard(sim, AskTask)) == 1   # no polling after JobDone
    assert heard(sim, Finished) == [] and heard(sim, Renew) == []
    worker = sim.node("w1")
    assert isinstance(worker, Worker) and worker.job_done and worker.task is None


# ----- the coordinator: bounds and counts ---------------------------------------------------

def test_a_silent_attempt_expires_between_one_lease_and_a_quarter_more() -> None:
    store = MemoryStore()
    store.write("in/a", "to be")
    for lease in (0.4, 1.0):
        sim = Simulation(seed=2)
        sim.add_node("coordinator", functools.partial(Coordinator, WORD_COUNT, ["in/a"], store,
                                                      lease=lease))
        sim.add_node("w1", lambda: Recorder())
        sim.at(0.05, _sender(sim, "w1"), AskTask())
        sim.run(until=3 * lease)
        notes = [e for e in sim.trace if e.kind == "note"]
        [assigned] = [e.time for e in notes if e.data["event"] == "assign"]
        expired = [e.time for e in notes if e.data["event"] == "expire"]
        assert len(expired) == 1
        assert lease < expired[0] - assigned <= 1.25 * lease + 1e-9


def test_renewals_keep_an_attempt_and_cannot_revive_a_dropped_one() -> None:
    store = MemoryStore()
    store.write("in/a", "to be")
    sim = Simulation(seed=2)
    sim.add_node("coordinator", lambda: Coordinator(WORD_COUNT, ["in/a"], store, lease=0.4))
    sim.add_node("w1", lambda: Recorder())
    w1 = _sender(sim, "w1")
    sim.at(0.05, w1, AskTask())
    for k in range(1, 10):  # renew attempt 1000001 every 0.2 s until 1.85 s
        sim.at(0.05 + 0.2 * k, w1, Renew("map-0", 1_000_001))
    sim.at(0.5, w1, Renew("map-0", 999))        # an unknown attempt: ignored
    sim.at(0.5, w1, Renew("map-9", 1_000_001))  # an unknown task: ignored
    sim.run(until=1.0)
    coordinator = sim.node("coordinator")
    assert isinstance(coordinator, Coordinator)
    assert [e.data["event"] for e in sim.trace if e.kind == "note"] == ["assign"]
    assert coordinator.tasks["map-0"].attempts[1_000_001].deadline == pytest.approx(0.85 + 0.4,
                                                                                    abs=0.01)
    # A report of an unknown task is also a request for work: w1 holds nothing any more,
    # its attempt is dropped and it gets a new one, which nobody renews.
    sim.at(1.0, w1, Finished("map-9", 1))
    sim.run(until=2.5)
    notes = [(e.data["event"], e.data["attempt"]) for e in sim.trace if e.kind == "note"]
    assert notes == [("assign", 1_000_001), ("assign", 1_000_002), ("expire", 1_000_002)]
    assert coordinator.done_tasks() == 0 and coordinator.phase() == "map"


def test_a_report_of_a_dropped_attempt_completes_the_task_once_with_no_duration() -> None:
    store = MemoryStore()
    store.write("in/a", "to be")
    sim = Simulation(seed=2)
    sim.add_node("coordinator", lambda: Coordinator(WORD_COUNT, ["in/a"], store, lease=0.4))
    sim.add_node("w1", lambda: Recorder())
    w1 = _sender(sim, "w1")
    sim.at(0.05, w1, AskTask())
    # the lease runs out at about 0.5 s; the report comes later, twice
    sim.at(1.0, w1, Finished("map-0", 1_000_001))
    sim.at(1.1, w1, Finished("map-0", 1_000_001))
    sim.run(until=1.5)
    done = [e.data for e in sim.trace if e.kind == "note" and e.data["event"] == "task_done"]
    assert done == [{"event": "task_done", "task": "map-0", "attempt": 1_000_001,
                     "worker": "w1", "took": None}]
    coordinator = sim.node("coordinator")
    assert isinstance(coordinator, Coordinator)
    assert coordinator.took == {"map": [], "reduce": []}
    assert coordinator.done_tasks() == 1 and coordinator.phase() == "reduce"


def test_a_coordinator_not_yet_started_has_handed_out_nothing() -> None:
    coordinator = Coordinator(WORD_COUNT, ["in/a", "in/b"], MemoryStore())
    assert (coordinator.next_attempt, coordinator.reexecuted, coordinator.backups_run) == (0, 0, 0)
    assert coordinator.done_tasks() == 0 and coordinator.phase() == "map"
    assert len(coordinator.tasks) == 2 + WORD_COUNT.reducers


def _notes(built: Cluster, event: str) -> list[dict[str, Any]]:
    return [e.data for e in built.sim.trace if e.kind == "note" and e.data["event"] == event]


def expected_counts(built: Cluster) -> tuple[int, int, int]:
    """(re-executions, backups, attempts) counted from the assign notes: an attempt that
    is not a backup and not its task's first is a re-execution."""
    seen: set[str] = set()
    reexecuted = backups = 0
    for a in _notes(built, "assign"):
        if a["backup"]:
            backups += 1
        elif a["task"] in seen:
            reexecuted += 1
        seen.add(str(a["task"]))
    return reexecuted, backups, len(_notes(built, "assign"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_counts_agree_with_the_trace(seed: int) -> None:
    built = cluster(seed, inputs=sample_documents(6, 400, seed), speeds={"w4": 0.2})
    crash_workers(built.sim, crashes=2, window=(0.2, 1.5), down=(0.3, 0.6))
    tasks = 6 + built.job.reducers
    halfway = False
    while not finished(built.sim):
        built.sim.run(until=built.sim.now + 0.25)
        done = {d["task"] for d in _notes(built, "task_done")}
        assert built.coordinator.done_tasks() == len(done)
        halfway = halfway or 0 < len(done) < tasks
        assert built.sim.now < 60
    assert halfway
    coordinator = built.coordinator
    reexecuted, backups, attempts = expected_counts(built)
    assert (coordinator.reexecuted, coordinator.backups_run) == (reexecuted, backups)
    assert coordinator.done_tasks() == tasks
    [job_done] = _notes(built, "job_done")
    assert (job_done["tasks"], job_done["attempts"]) == (tasks, attempts)
    assert built.check()


def test_a_fault_free_run_reexecutes_nothing() -> None:
    built = cluster(1, inputs=sample_documents(4, 200, 1), workers=2)
    built.sim.run_until(finished, timeout=30)
    assert (built.coordinator.reexecuted, built.coordinator.backups_run) == (0, 0)
    assert expected_counts(built)[:2] == (0, 0)


def test_crashes_make_reexecutions() -> None:
    """Over a few seeds with crashes, some attempt is re-executed, and the count says so."""
    total = 0
    for seed in range(4):
        built = cluster(seed, inputs=sample_documents(6, 400, seed), workers=3)
        crash_workers(built.sim, crashes=2, window=(0.1, 1.0), down=None)
        built.sim.run_until(finished, timeout=60)
        assert built.coordinator.reexecuted == expected_counts(built)[0]
        total += built.coordinator.reexecuted
    assert total > 0


# ----- the store --------------------------------------------------------------------------

def test_a_directory_store_makes_its_directory(tmp_path: Path) -> None:
    root = tmp_path / "shared" / "store"
    store = DirectoryStore(root)
    assert root.is_dir()
    assert store.names() == [] and store.log == []
    DirectoryStore(root)  # an existing directory is fine


# ----- the checker's rarely rendered text --------------------------------------------------

def _good() -> Cluster:
    built = cluster(2, inputs=sample_documents(3, 200, 2), workers=3)
    built.sim.run_until(finished, timeout=60.0)
    return built


def _texts(built: Cluster, trace: Trace | None = None) -> list[str]:
    report = check_job(built.sim.trace if trace is None else trace, built.store, built.job,
                       built.inputs)
    return [v.text for v in report.violations]


def test_the_checker_counts_missing_files_and_names_the_first() -> None:
    built = _good()
    gone = [built.job.map_output(0, 2), built.job.map_output(2, 1), built.job.output(3)]
    for name in gone:
        del built.store.files[name]
    assert _texts(built) == [f"3 output file(s) missing, first {gone[0]}"]


def test_the_checker_shows_three_wrong_keys_and_counts_all() -> None:
    built = _good()
    name = built.job.output(0)
    out = json.loads(built.store.files[name])
    assert len(out) >= 5
    for pair in out:
        pair[1] += 10
    built.store.files[name] = json.dumps(out)
    [text] = _texts(built)
    first = sorted(key for key, _ in out)[:3]
    assert text.startswith(f"{len(out)} key(s) differ from the sequential run: ")
    assert text.count("(expected") == 3
    assert all(repr(key) in text for key in first)


def test_the_checker_names_a_key_in_two_reduce_outputs() -> None:
    built = _good()
    one = json.loads(built.store.files[built.job.output(0)])
    two = json.loads(built.store.files[built.job.output(1)])
    built.store.files[built.job.output(1)] = json.dumps([*two, one[0]])
    [text] = _texts(built)
    assert text == (f"1 key(s) in two reduce outputs (keys partitioned inconsistently), "
                    f"first {one[0][0]!r}")


def test_the_checker_counts_every_install_of_a_file_once() -> None:
    built = _good()
    name = built.job.output(1)
    for by in ("w8", "w9"):
        built.store.write(name, built.store.read(name), by=by, at=99.0)
    report = check_job(built.sim.trace, built.store, built.job, built.inputs)
    [violation] = report.violations
    assert violation.text == f"{name} written again by w8 (write), 3 times in all"
    assert (violation.time, violation.nodes) == (99.0, ("w8",))


def test_the_checker_places_a_second_completion_at_its_time() -> None:
    built = _good()
    [done] = [e for e in built.sim.trace if e.kind == "note" and e.data["event"] == "job_done"]
    again = attrs.evolve(done, time=done.time + 5.0, node="coordinator2")
    report = check_job(Trace([*built.sim.trace, again]), built.store, built.job, built.inputs)
    [violation] = report.violations
    assert violation.time == done.time + 5.0
    assert violation.nodes == ("coordinator", "coordinator2")
    never = Trace([e for e in built.sim.trace
                   if not (e.kind == "note" and e.data["event"] == "job_done")])
    [missing] = check_job(never, built.store, built.job, built.inputs).violations
    assert missing.time == max(e.time for e in built.sim.trace)
