"""Shrinking a failing lab trial, and replaying a saved schedule (``dsys shrink``,
``dsys lab test --schedule``).

A failing graded test is re-run with its seed while its choices are recorded (a
:class:`~dsys.sim.schedule.Schedule`), then :func:`dsys.sim.shrink.shrink` removes the
faults, losses and client operations the failure does not need. The smaller run is saved
as a schedule beside its trace and timeline; ``dsys lab test LAB --schedule FILE``
replays it, also against an edited implementation, and says how far the new run followed
the old one.

Example (a mutant of lab 5 that acknowledges entries before syncing them)::

    dsys shrink lab5 --impl mutants/replies_before_sync.py --test persistence --seed 3
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

from dsys.errors import UsageError
from dsys.labs.grading import (
    GradedTest,
    Run,
    Trial,
    _save,
    implementation_name,
    run_once,
    trace_file_name,
)
from dsys.labs.lab import Lab
from dsys.sim.schedule import Divergence, Schedule, divergence, recording, replaying
from dsys.sim.shrink import ShrinkResult, shrink
from dsys.trace.events import Trace

__all__ = ["Replayed", "Shrunk", "replay_schedule", "shrink_trial"]


@attrs.frozen
class Shrunk:
    """A shrunk failing trial: the figures, and where its schedule and traces are."""

    result: ShrinkResult
    schedule_path: Path
    trace_paths: tuple[Path, ...]
    replay: str


def _scenario(impl: ModuleType, test: GradedTest, seed: int) -> Callable[[], None]:
    def scenario() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            test(Trial(impl, seed, test.name))
    return scenario


def shrink_trial(lab: Lab, impl: ModuleType, test: GradedTest, seed: int, *,
                 replay: str, trace_dir: Path, name: str | None = None,
                 max_runs: int = 200, time_limit: float | None = None,
                 progress: Callable[[str], None] | None = None) -> Shrunk:
    """Record the failing run of ``test`` with ``seed``, shrink it, and save the smaller
    run's schedule, traces and timelines in ``trace_dir``.

    ``replay`` is the command that replays the seed (``dsys lab test ... --seed N``); the
    returned :attr:`Shrunk.replay` adds ``--schedule FILE`` to it.
    """
    impl_name = name or implementation_name(impl)
    meta: dict[str, Any] = {"lab": lab.name, "test": test.name, "seed": seed,
                            "implementation": impl_name}
    if impl.__file__:
        meta["implementation_path"] = str(Path(impl.__file__).resolve())
    with recording(meta) as schedule:
        original = run_once(lab, impl, test, seed, replay=replay)
    if original.failure is None:
        raise UsageError(f"{test.name} passes with seed {seed}: there is no failure to shrink "
                         f"(find a failing seed with `dsys lab test {lab.name} --rates`)")
    result = shrink(_scenario(impl, test, seed), schedule, max_runs=max_runs,
                    time_limit=time_limit, progress=progress)
    stem = trace_file_name(lab, impl_name, test.name, seed, tag="-shrunk")
    schedule_path = Path(trace_dir) / stem.replace(".jsonl", ".schedule.json")
    command = f"{replay} --schedule {schedule_path}"
    with replaying(result.schedule):
        shrunk_run = run_once(lab, impl, test, seed, replay=command)
    paths = _save(trace_dir, lab, impl_name, shrunk_run, tag="-shrunk")
    saved = Schedule(result.schedule.runs, {**meta, "traces": [str(p) for p in paths],
                                            "failure": result.signature})
    saved.save(schedule_path)
    return Shrunk(result, schedule_path, paths, command)


@attrs.frozen
class Replayed:
    """A trial replayed on a schedule: its run, and how far it followed the saved one."""

    run: Run
    matched: int      # messages whose fate the schedule had
    fallbacks: int    # messages it had none for (new in edited code)
    divergence: Divergence | None  # against the schedule's saved trace, if there is one
    trace_paths: tuple[Path, ...]


def replay_schedule(lab: Lab, impl: ModuleType, test: GradedTest, seed: int,
                    schedule: Schedule, *, replay: str, trace_dir: Path | None,
                    name: str | None = None) -> Replayed:
    """Run ``test`` with ``seed`` on ``schedule`` (also against edited code) and compare
    the run with the one the schedule was saved from."""
    with replaying(schedule) as session:
        run = run_once(lab, impl, test, seed, replay=replay, keep=True)
    paths: tuple[Path, ...] = ()
    if run.failure is not None and trace_dir is not None:
        paths = _save(trace_dir, lab, name or implementation_name(impl), run, tag="-replayed")
    compared = None
    saved = [Path(p) for p in schedule.meta.get("traces", [])]
    if saved and saved[-1].is_file() and session.sims:
        compared = divergence(Trace.load(saved[-1]), session.sims[-1].trace)
    return Replayed(run, session.matched, session.fallbacks, compared, paths)
