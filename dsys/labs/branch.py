"""Branching from a failing lab run into the model checker (``dsys check model --from``).

A failing trial is a random run that reached a bad state; a few events before it, the
system was in a state from which *other* orders of events may fail sooner, or fail
differently, or show that the failure was inevitable. :func:`branch_point` re-runs the
trial (with its seed, or on a saved schedule) and stops it after a chosen number of trace
events; :meth:`dsys.search.Search.from_simulation` then explores every order of
deliveries and timers from there.

The run to branch from is named by a file the lab tools saved: a schedule
(``dsys shrink`` writes one, with the lab, test, seed and implementation in it) or a
trace of a failing trial (``.dsys/traces/LAB-IMPL-TEST-seedN.jsonl``, whose name says
the same).

Example::

    dsys check model --from .dsys/traces/lab4-raft-election-votes_twice_in_a_term-\\
many_elections-seed0-shrunk.schedule.json --at -20 --depth 12
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

from dsys.errors import UsageError
from dsys.labs import attempts
from dsys.labs.grading import (
    GradedTest,
    Trial,
    load_grader,
    load_implementation,
    load_reference,
)
from dsys.labs.lab import Lab, discover, find_lab
from dsys.sim.schedule import Schedule, StopRun, recording, replaying, stopping_at
from dsys.sim.simulation import Simulation

__all__ = ["BranchSource", "branch_point", "source_of"]


@attrs.frozen
class BranchSource:
    """Which lab run to branch from."""

    lab: Lab
    impl: ModuleType
    test: GradedTest
    seed: int
    simulation: int = 0
    schedule: Schedule | None = None

    def describe(self) -> str:
        """One line: lab, test, seed, implementation."""
        on = " on its schedule" if self.schedule is not None else ""
        return (f"{self.lab.name} {self.test.name} seed {self.seed}{on} "
                f"({Path(getattr(self.impl, '__file__', '?')).name}), simulation "
                f"{self.simulation}")


def _run(source: BranchSource, events: int | None) -> Simulation | int:
    """Run the trial; stopped after ``events`` events of the chosen simulation (returns
    it), or to its end (returns that simulation's event count)."""
    trial = Trial(source.impl, source.seed, source.test.name)
    context: contextlib.AbstractContextManager[Any]
    if events is not None:
        context = stopping_at(events, simulation=source.simulation, schedule=source.schedule)
    elif source.schedule is not None:
        context = replaying(source.schedule)
    else:
        context = recording()
    try:
        with context, contextlib.redirect_stdout(io.StringIO()):
            source.test(trial)
    except StopRun as stop:
        return stop.sim
    except Exception:  # the failure being branched from: the run ends here
        pass
    if source.simulation >= len(trial.sims):
        raise UsageError(f"the run built {len(trial.sims)} simulation(s); there is no "
                         f"simulation {source.simulation}")
    return len(trial.sims[source.simulation].trace)


def branch_point(source: BranchSource, at: int) -> tuple[Simulation, Callable[[], Simulation]]:
    """The simulation of ``source`` stopped after ``at`` trace events (``at < 0``: that
    many events before the end of the run), and a function that rebuilds it (for
    :meth:`SearchResult.replay`)."""
    events = at
    if at <= 0:
        total = _run(source, None)
        assert isinstance(total, int)
        events = total + at
        if events < 1:
            raise UsageError(f"the run has only {total} events: --at {at} is before its start")

    def rebuild() -> Simulation:
        sim = _run(source, events)
        if not isinstance(sim, Simulation):
            raise UsageError(f"the run ended after {sim} events of simulation "
                             f"{source.simulation}, before event {events}: choose an earlier "
                             "--at (a negative one counts back from the end)")
        return sim

    return rebuild(), rebuild


_TRACE_NAME = re.compile(r"^(?P<rest>.+)-seed(?P<seed>\d+)(?:-(?P<sim>\d+))?"
                         r"(?P<tag>-shrunk|-replayed)?(?:\.schedule\.json|\.jsonl)$")


def _implementation(lab: Lab, name: str, path: str | None) -> ModuleType:
    if path is not None:
        return load_implementation(lab, Path(path))
    if name == "reference":
        return load_reference(lab)
    mutant = lab.path / "mutants" / f"{name}.py"
    if mutant.is_file():
        return load_implementation(lab, mutant)
    attempt = attempts.find_attempt(lab)
    if attempt is not None and attempt.implementation_path.stem == name:
        return load_implementation(lab, attempt.implementation_path)
    raise UsageError(f"cannot find the implementation {name!r} of {lab.name}: give it with "
                     "--impl PATH")


def source_of(path: str | Path, *, impl: str | None = None) -> BranchSource:
    """The run a saved schedule or lab trace is of (``impl`` overrides its implementation)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    schedule = None
    if path.name.endswith(".json"):
        schedule = Schedule.load(path)
        meta = schedule.meta
        if not {"lab", "test", "seed"} <= set(meta):
            raise UsageError(f"{path} does not say which lab run it is of (saved by an old "
                             "dsys?): run `dsys shrink` again")
        lab = find_lab(str(meta["lab"]))
        module = _implementation(lab, str(meta.get("implementation", "")),
                                 impl or meta.get("implementation_path"))
        tests = {t.name: t for t in load_grader(lab)}
        if str(meta["test"]) not in tests:
            raise UsageError(f"{path} is of the test {meta['test']!r}, which {lab.name}'s "
                             f"grader no longer has (its tests: {', '.join(sorted(tests))})")
        return BranchSource(lab, module, tests[str(meta["test"])], int(meta["seed"]),
                            0, schedule)
    match = _TRACE_NAME.match(path.name)
    if match is None:
        raise UsageError(f"{path.name} is not a trace saved by a lab run (LAB-IMPL-TEST-seedN"
                         ".jsonl) nor a schedule (.schedule.json)")
    rest = match.group("rest")
    for lab in sorted(discover(), key=lambda lab: -len(lab.name)):
        if not rest.startswith(lab.name + "-"):
            continue
        remainder = rest[len(lab.name) + 1:]
        for test in sorted(load_grader(lab), key=lambda t: -len(t.name)):
            if remainder.endswith("-" + test.name):
                impl_name = remainder[:-len(test.name) - 1]
                return BranchSource(lab, _implementation(lab, impl_name, impl), test,
                                    int(match.group("seed")), int(match.group("sim") or 0))
    raise UsageError(f"{path.name}: no lab and graded test match this name")
