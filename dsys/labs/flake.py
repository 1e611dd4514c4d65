"""Flake rates: run every seed of a lab's tests, and say how often and how each one fails.

A bug that shows once in 500 runs passes most gradings. :func:`flake_rates` runs each
graded test over ``runs`` seeds (``first_seed``, ``first_seed + 1``...), without stopping
at the first failure, in ``jobs`` worker processes, and reports per test: the failure rate,
the distinct *kinds* of failure (the failure's first line with its numbers blanked out, so
"s1 and s4 both lead term 1" and "s0 and s2 both lead term 3" are one kind), and the first
failing seeds, each with the command that replays it. The first failing seed of each kind
is run again in this process with its trace and its timeline (:mod:`dsys.labs.timeline`)
saved.

``dsys lab test LAB --rates --runs N --jobs J`` prints it as a table; ``--json PATH`` writes
:meth:`FlakeReport.to_json` for CI. Everything is deterministic: the same seeds give the
same report, whatever ``jobs``.

Example:
    >>> from dsys.labs import find_lab, load_reference
    >>> lab = find_lab("lab0")
    >>> report = flake_rates(lab, load_reference(lab), runs=2)
    >>> [(rate.test, rate.runs, rate.failures) for rate in report.tests][:2]
    [('perfect_network', 2, 0), ('lossy_network', 2, 0)]
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

from dsys.errors import UsageError
from dsys.labs.grading import (
    GradedTest,
    Run,
    Task,
    _execute,
    _Source,
    _source_of,
    _work,
    implementation_name,
    load_grader,
    run_trial,
    seeds_for,
)
from dsys.labs.lab import Lab
from dsys.labs.processes import Workers, runs_under_hash_seed

#: How many failing seeds a report lists per test (all are counted).
FIRST_SEEDS = 5
#: How many kinds of failure per test get their trace and timeline saved.
SAVED_KINDS = 3

_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def failure_kind(headline: str) -> str:
    """The kind of a failure: its first line with numbers blanked out (``#``, in node names
    too), so that runs failing the same way on different seeds and nodes count as one kind.

    Example:
        >>> failure_kind("no leader at t=3.250000 after 12 elections")
        'no leader at t=# after # elections'
        >>> failure_kind("election safety: s1 and s4 both lead term 1 (s4 since t=0.47)")
        'election safety: s# and s# both lead term # (s# since t=#)'
    """
    return _NUMBER.sub("#", headline.strip()) or "failed (no message)"


@attrs.frozen
class FailedSeed:
    """One failing seed: its kind, its first line, and the command that replays it."""

    seed: int
    kind: str
    headline: str
    replay: str


@attrs.frozen
class Kind:
    """One kind of failure of a test: how many seeds failed so, the first of them, and
    where the first one's trace and timeline were saved (if they were)."""

    kind: str
    count: int
    seeds: tuple[int, ...]
    example: str
    replay: str
    trace_paths: tuple[Path, ...] = ()
    timelines: tuple[Path, ...] = ()


@attrs.frozen
class FlakeRate:
    """How one test fared over its seeds."""

    test: str
    title: str
    runs: int
    failures: int
    kinds: tuple[Kind, ...]
    first_failing: tuple[FailedSeed, ...]

    @property
    def rate(self) -> float:
        """The fraction of seeds that failed."""
        return self.failures / self.runs if self.runs else 0.0


@attrs.frozen
class FlakeReport:
    """The flake rates of every test graded (see the module docstring)."""

    lab: str
    implementation: str
    first_seed: int
    tests: tuple[FlakeRate, ...]

    @property
    def passed(self) -> bool:
        """True if no seed of any test failed."""
        return all(rate.failures == 0 for rate in self.tests)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-able data (``--json``), for CI."""
        return {
            "lab": self.lab,
            "implementation": self.implementation,
            "first_seed": self.first_seed,
            "passed": self.passed,
            "tests": [{
                "test": rate.test,
                "title": rate.title,
                "runs": rate.runs,
                "failures": rate.failures,
                "rate": rate.rate,
                "kinds": [{"kind": k.kind, "count": k.count, "seeds": list(k.seeds),
                           "example": k.example, "replay": k.replay,
                           "traces": [str(p) for p in k.trace_paths],
                           "timelines": [str(p) for p in k.timelines]} for k in rate.kinds],
                "first_failing": [attrs.asdict(f) for f in rate.first_failing],
            } for rate in self.tests],
        }


def _verdict(run: Run) -> Run:
    """A run without its traces: only verdicts cross back from the workers (the first
    failure of each kind is run again here, to save its trace)."""
    return attrs.evolve(run, traces=())


def _flake_work(source: _Source, task: Task) -> Run:
    """A task in a worker process, handed back without its traces."""
    return _verdict(_work(source, task))


def flake_rates(
    lab: Lab,
    impl: ModuleType,
    *,
    runs: int | None = None,
    tests: Sequence[GradedTest] | None = None,
    first_seed: int = 0,
    jobs: int = 1,
    hash_seed: int | None = None,
    replay: Callable[[str, int], str] | None = None,
    trace_dir: Path | None = None,
    name: str | None = None,
    on_trial: Callable[[GradedTest, int], None] | None = None,
) -> FlakeReport:
    """Run each test of ``lab`` (default: all) over ``runs`` seeds (default: the test's
    own number) from ``first_seed``, in
    ``jobs`` processes (under ``PYTHONHASHSEED=hash_seed``, as :func:`~dsys.labs.grade`),
    and report the failure rates (see the module docstring). A test that no seed changes
    runs once. ``on_trial`` is called after each run, in seed order."""
    if runs is not None and runs < 1:
        raise UsageError(f"runs must be at least 1, got {runs}")
    if jobs < 1:
        raise UsageError(f"jobs must be at least 1, got {jobs}")
    tests = list(load_grader(lab) if tests is None else tests)
    replay = replay or (lambda test, seed: f"dsys lab test {lab.name} --test {test} --seed {seed}")
    impl_name = name or implementation_name(impl)
    plan = [(test, seeds_for(test, first_seed, runs)) for test in tests]
    tasks = [Task(test.name, seed, replay(test.name, seed)) for test, seeds in plan
             for seed in seeds]
    source = _source_of(lab, impl, tests) if jobs > 1 or hash_seed is not None else None
    here = source is None or (jobs <= 1 and (hash_seed is None
                                             or runs_under_hash_seed(hash_seed)))
    by_name = {test.name: test for test in tests}
    verdicts: dict[tuple[str, int], Run] = {}
    with contextlib.ExitStack() as stack:
        if here:
            results = (_verdict(_execute(lab, impl, by_name[task.test], task)) for task in tasks)
        else:
            assert source is not None
            workers = stack.enter_context(Workers(min(jobs, len(tasks)), hash_seed=hash_seed))
            # All submitted at once (verdicts are small); read back in seed order.
            futures = [workers.submit(_flake_work, source, task) for task in tasks]
            results = (future.result() for future in futures)
        for task, run in zip(tasks, results, strict=True):
            verdicts[(task.test, task.seed)] = run
            if on_trial is not None:
                on_trial(by_name[task.test], task.seed)
    rates = []
    for test, seeds in plan:
        failed = [(seed, verdicts[(test.name, seed)].failure) for seed in seeds]
        failing = [FailedSeed(seed, failure_kind(f.headline), f.headline, f.replay)
                   for seed, f in failed if f is not None]
        kinds: dict[str, list[FailedSeed]] = {}
        for each in failing:
            kinds.setdefault(each.kind, []).append(each)
        described = []
        # Most frequent kind first; ties in order of first appearance (dicts keep it).
        for number, (kind, seen) in enumerate(sorted(kinds.items(), key=lambda kv: -len(kv[1]))):
            first = seen[0]
            paths: tuple[Path, ...] = ()
            pages: tuple[Path, ...] = ()
            if trace_dir is not None and number < SAVED_KINDS:
                again = run_trial(lab, impl, test, first.seed, replay=first.replay,
                                  trace_dir=trace_dir, name=impl_name)
                if again is not None:
                    paths, pages = again.trace_paths, again.timelines
            described.append(Kind(kind, len(seen), tuple(s.seed for s in seen[:FIRST_SEEDS]),
                                  first.headline, first.replay, paths, pages))
        rates.append(FlakeRate(test.name, test.title, len(seeds), len(failing), tuple(described),
                              tuple(failing[:FIRST_SEEDS])))
    return FlakeReport(lab.name, impl_name, first_seed, tuple(rates))
