"""Grading: graded tests run over many seeds, points, and replayable failure reports.

A lab's ``grader.py`` defines its graded tests with :func:`graded`. A graded test is a
function of one :class:`Trial`: the implementation under test (``trial.impl``, a module),
the seed of this run (``trial.seed``), a random generator for the test's own choices
(``trial.rng``), and a factory of simulations seeded with that seed
(``trial.simulation``). The test builds a scenario with faults, runs it, and judges what
happened with invariants (``sim.add_invariant``, checked after every event) and checks at
the end: never with one expected output, because a correct system may do many different
correct things. It fails by raising, usually ``AssertionError`` with a message that says
what went wrong, or a :class:`~dsys.SimulationError` from the simulator.

:func:`grade` runs every test over many seeds (``runs`` of them, 0, 1, 2...). A test earns
its points only if it passes on every seed; at the first failing seed it stops and keeps a
:class:`Failure`: the seed, what went wrong, the last events of the trace, where the full
trace was saved, and the command that replays exactly that run. Everything is
deterministic, so the replay fails in exactly the same way.

Example: a tiny grader for an echo server.

    >>> from dsys import Network, Node, message
    >>> from dsys.labs import Trial, graded
    >>> @message(name="doc:Echo")
    ... class Echo:
    ...     text: str
    >>> @graded(points=5, runs=10)
    ... def echoes_under_loss(trial: Trial) -> None:
    ...     '''Every request is eventually echoed, even when 30% of messages are lost.'''
    ...     sim = trial.simulation(network=Network(drop=0.3))
    ...     sim.add_node("server", trial.impl.Server)
    ...     sim.add_node("client", trial.impl.Client)
    ...     done = trial.run_until(sim, lambda s: s.node("client").echoed, timeout=5.0)
    ...     assert done, "the client never got its echo"
    >>> echoes_under_loss.points, echoes_under_loss.title
    (5, 'Every request is eventually echoed, even when 30% of messages are lost.')
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from random import Random
from types import ModuleType
from typing import Any

import attrs

import dsys
from dsys.errors import ConfigError, UsageError
from dsys.labs.lab import Lab
from dsys.loader import load_file
from dsys.sim.network import Network
from dsys.sim.report import SimulationError, replay_command
from dsys.sim.simulation import Simulation
from dsys.trace.events import format_events

#: A simulation that processes more events than this in one trial is stuck in a loop (a
#: timer re-armed with delay 0, messages bouncing forever) and fails the trial.
MAX_EVENTS = 200_000

#: How many trace events a failure report shows.
EXCERPT_EVENTS = 12

TestFunction = Callable[["Trial"], None]


@attrs.frozen
class GradedTest:
    """A test of a lab's grader, worth ``points``, run over ``runs`` seeds by default.

    ``title`` is the first line of the function's docstring: one sentence saying what the
    test checks, shown to students in the grading table.
    """

    name: str
    points: int
    runs: int
    func: TestFunction
    title: str

    def __call__(self, trial: Trial) -> None:
        self.func(trial)


def graded(*, points: int, runs: int = 20) -> Callable[[TestFunction], GradedTest]:
    """Declare a graded test worth ``points``, run over ``runs`` seeds (see the module
    docstring for an example). The function's docstring must say what it checks."""
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise ConfigError(f"a graded test's points must be a positive int, got {points!r}")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs <= 0:
        raise ConfigError(f"a graded test's runs must be a positive int, got {runs!r}")

    def wrap(func: TestFunction) -> GradedTest:
        doc = (func.__doc__ or "").strip()
        if not doc:
            raise ConfigError(
                f"graded test {func.__name__} needs a docstring saying what it checks")
        return GradedTest(func.__name__, points, runs, func, doc.splitlines()[0])

    return wrap


class Trial:
    """One run of a graded test: an implementation, a seed, and what the test builds.

    Attributes:
        impl: the implementation under test (a module).
        seed: the seed of this run; every simulation built with :meth:`simulation` uses it.
        rng: a random generator for the test's own choices (workloads, fault times),
            seeded from the seed and the test's name.
        sims: the simulations built so far (their traces are saved when the trial fails).
    """

    def __init__(self, impl: ModuleType, seed: int, test: str, *,
                 max_events: int = MAX_EVENTS) -> None:
        self.impl = impl
        self.seed = seed
        self.rng = Random(f"{seed}/grader/{test}")
        self.sims: list[Simulation] = []
        self.max_events = max_events
        self.focused: dict[str, Any] = {}

    def focus(self, *, start: float | None = None, end: float | None = None,
              nodes: Iterable[str] | None = None, kinds: Iterable[str] | None = None) -> None:
        """Say which events explain the failure about to be raised.

        By default a failure report shows the last events of the run, which is right for
        a violation caught as it happens (an invariant) but not for a check made at the
        end (a history that is not linearizable). Call this before raising to show the
        last events within ``start``..``end`` on ``nodes`` of ``kinds`` instead.

        Example: ``trial.focus(start=op_time - 0.5, end=op_time, nodes=["c1", "server"])``.
        """
        self.focused = {"start": start, "end": end,
                        "nodes": list(nodes) if nodes is not None else None,
                        "kinds": list(kinds) if kinds is not None else None}

    def simulation(self, network: Network | None = None, *, codec: bool = True) -> Simulation:
        """A new :class:`~dsys.Simulation` seeded with this trial's seed, recording a trace."""
        sim = Simulation(self.seed, network, trace=True, codec=codec)
        self.sims.append(sim)
        return sim

    def run_until(self, sim: Simulation, predicate: Callable[[Simulation], Any], *,
                  timeout: float) -> bool:
        """Run ``sim`` until ``predicate(sim)`` is true (True) or ``timeout`` virtual
        seconds pass (False), failing the trial if it takes more than ``max_events``
        events: an implementation stuck in a loop must not hang the grader."""
        events = 0

        def watched(s: Simulation) -> bool:
            nonlocal events
            events += 1
            if events > self.max_events:
                raise AssertionError(
                    f"the simulation processed more than {self.max_events} events by virtual "
                    f"time {s.now:.6f} s: is a timer re-armed with delay 0, or do messages "
                    "bounce back and forth forever?"
                )
            return bool(predicate(s))

        return sim.run_until(watched, timeout=timeout)

    def run(self, sim: Simulation, until: float) -> None:
        """Run ``sim`` up to virtual time ``until``, with the same event limit."""
        self.run_until(sim, lambda s: False, timeout=max(0.0, until - sim.now))


@attrs.frozen
class Failure:
    """Why a graded test failed, and how to see it again."""

    test: str
    seed: int
    message: str
    excerpt: str
    replay: str
    trace_paths: tuple[Path, ...] = ()
    where: str | None = None
    output: str = ""


@attrs.frozen
class Outcome:
    """The outcome of one graded test: the seeds it ran and its failure, if any."""

    test: GradedTest
    seeds: tuple[int, ...]
    failure: Failure | None

    @property
    def passed(self) -> bool:
        """True if the test passed on every seed it ran."""
        return self.failure is None

    @property
    def earned(self) -> int:
        """The points earned: all of the test's points, or none."""
        return self.test.points if self.passed else 0


@attrs.frozen
class Grade:
    """The outcome of grading one implementation of a lab."""

    lab: Lab
    results: tuple[Outcome, ...]

    @property
    def earned(self) -> int:
        """Points earned."""
        return sum(r.earned for r in self.results)

    @property
    def total(self) -> int:
        """Points available in the tests that were graded."""
        return sum(r.test.points for r in self.results)

    @property
    def passed(self) -> bool:
        """True if every graded test passed."""
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[Failure]:
        """The failures, in test order."""
        return [r.failure for r in self.results if r.failure is not None]


# ----- loading graders and implementations --------------------------------------------------


def _module_name(kind: str, lab: str, path: Path) -> str:
    # A name per file, so two implementations of the same lab (a solution and a mutant,
    # in one process) never share message tags in the codec's registry.
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"_dsys_{kind}_{lab}_{stem}_{digest}"


def load_grader(lab: Lab) -> list[GradedTest]:
    """The graded tests of ``lab``, in the order its ``grader.py`` defines them."""
    module = load_file(lab.grader_path, _module_name("grader", lab.name, lab.grader_path))
    tests = [value for value in vars(module).values() if isinstance(value, GradedTest)]
    if not tests:
        raise ConfigError(f"{lab.grader_path} defines no graded tests (use @graded)")
    return tests


def _check_interface(lab: Lab, module: ModuleType, origin: str) -> ModuleType:
    missing = [name for name in lab.requires if not hasattr(module, name)]
    if missing:
        raise UsageError(
            f"{origin} does not define {', '.join(missing)}; a {lab.name} implementation must "
            f"define {', '.join(lab.requires)} (start from the starter file: "
            f"dsys lab start {lab.name} DIR)"
        )
    return module


def load_implementation(lab: Lab, path: Path) -> ModuleType:
    """Load an implementation of ``lab`` from the Python file ``path``."""
    module = load_file(Path(path), _module_name("impl", lab.name, Path(path)))
    return _check_interface(lab, module, str(path))


def load_reference(lab: Lab) -> ModuleType:
    """Load the reference solution of ``lab`` (a dsys module, or a file in the lab folder)."""
    if lab.reference.endswith(".py"):
        return load_implementation(lab, lab.path / lab.reference)
    try:
        module = importlib.import_module(lab.reference)
    except ImportError as exc:
        raise ConfigError(
            f"{lab.name}: cannot import its reference {lab.reference}: {exc}") from None
    return _check_interface(lab, module, lab.reference)


# ----- running --------------------------------------------------------------------------------


def seeds_for(test: GradedTest, first_seed: int = 0, runs: int | None = None) -> range:
    """The seeds a test runs: ``runs`` (default: the test's own) seeds from ``first_seed``."""
    return range(first_seed, first_seed + (test.runs if runs is None else runs))


def grade(
    lab: Lab,
    impl: ModuleType,
    *,
    tests: Sequence[GradedTest] | None = None,
    first_seed: int = 0,
    runs: int | None = None,
    replay: Callable[[str, int], str] | None = None,
    trace_dir: Path | None = None,
    fail_fast: bool = False,
    on_trial: Callable[[GradedTest, int], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Grade:
    """Grade ``impl`` with ``lab``'s graded tests (default: all of them).

    Each test runs over :func:`seeds_for` its seeds and stops at the first failure.
    ``replay(test_name, seed)`` gives the command that replays a run (it goes into the
    failure and into any simulator report); failing runs' traces are saved in
    ``trace_dir``. ``fail_fast`` stops at the first failing test. ``on_trial`` is called
    after each run and ``on_outcome`` after each test (for progress bars).

    Example:
        >>> from dsys.labs import find_lab, grade, load_reference
        >>> lab = find_lab("lab0")
        >>> result = grade(lab, load_reference(lab), runs=1)
        >>> result.passed, result.earned == result.total
        (True, True)
    """
    tests = list(load_grader(lab) if tests is None else tests)
    replay = replay or (lambda name, seed: f"dsys lab test {lab.name} --test {name} --seed {seed}")
    results = []
    for test in tests:
        result = _run_test(lab, impl, test, seeds_for(test, first_seed, runs), replay, trace_dir,
                           on_trial)
        results.append(result)
        if on_outcome is not None:
            on_outcome(result)
        if fail_fast and not result.passed:
            break
    return Grade(lab, tuple(results))


def _run_test(lab: Lab, impl: ModuleType, test: GradedTest, seeds: range,
              replay: Callable[[str, int], str], trace_dir: Path | None,
              on_trial: Callable[[GradedTest, int], None] | None) -> Outcome:
    ran: list[int] = []
    for seed in seeds:
        ran.append(seed)
        failure = run_trial(lab, impl, test, seed, replay=replay(test.name, seed),
                            trace_dir=trace_dir)
        if on_trial is not None:
            on_trial(test, seed)
        if failure is not None:
            return Outcome(test, tuple(ran), failure)
    return Outcome(test, tuple(ran), None)


def run_trial(lab: Lab, impl: ModuleType, test: GradedTest, seed: int, *, replay: str,
              trace_dir: Path | None = None) -> Failure | None:
    """Run ``test`` once with ``seed``; return its :class:`Failure`, or None if it passed."""
    trial = Trial(impl, seed, test.name)
    output = io.StringIO()
    token = replay_command.set(replay)
    try:
        # A student's print() must not tear the progress bar; it is shown with the failure.
        with contextlib.redirect_stdout(output):
            test(trial)
    except Exception as exc:
        message, where = _explain(exc, impl)
    else:
        return None
    finally:
        replay_command.reset(token)
    sim = trial.sims[-1] if trial.sims else None
    paths: list[Path] = []
    if trace_dir is not None:
        for index, each in enumerate(trial.sims):
            suffix = f"-{index}" if len(trial.sims) > 1 else ""
            name = f"{lab.name}-{test.name}-seed{seed}{suffix}.jsonl"
            paths.append(each.trace.save(Path(trace_dir) / name))
    return Failure(
        test=test.name,
        seed=seed,
        message=message,
        excerpt=_excerpt(sim, trial.focused) if sim is not None else "",
        replay=replay,
        trace_paths=tuple(paths),
        where=where,
        output="\n".join(output.getvalue().splitlines()[-10:]),
    )


def _excerpt(sim: Simulation, focus: dict[str, Any]) -> str:
    trace = sim.trace.filter(**focus) if focus else sim.trace
    # The violation or error event repeats the failure message: show what led to it.
    events = [e for e in trace if e.kind not in ("violation", "error")]
    return format_events(events[-EXCERPT_EVENTS:])


def _explain(exc: Exception, impl: ModuleType) -> tuple[str, str | None]:
    """What went wrong, in words, and where in the implementation (if it crashed)."""
    impl_files = {str(Path(f).resolve()) for f in [getattr(impl, "__file__", None)] if f}
    if isinstance(exc, SimulationError):
        lines = [exc.headline, f"while: {exc.event}",
                 f"node: {exc.node or '-'}, virtual time: {exc.time:.6f} s"]
        cause = exc.__cause__
        where = _where(cause, impl_files) if isinstance(cause, BaseException) else None
        return "\n".join(lines), where
    if isinstance(exc, AssertionError):
        return str(exc) or "a check failed (no message)", None
    return f"{type(exc).__name__}: {exc}", _where(exc, impl_files)


# Frames in these files are dsys's machinery, not code a student wants to be pointed at.
_MACHINERY = tuple(
    str(Path(dsys.__file__).resolve().parent / part)
    for part in ("core", "sim", "trace", "labs/grading.py", "labs/lab.py")
)


def _where(exc: BaseException | None, preferred: set[str]) -> str | None:
    """``file:line in function`` of the deepest frame of ``exc`` in a preferred file, else
    the deepest frame outside dsys's machinery."""
    if exc is None:
        return None
    frames = traceback.extract_tb(exc.__traceback__)
    paths = [str(Path(frame.filename).resolve()) for frame in frames]
    mine = [f for f, path in zip(frames, paths, strict=True) if path in preferred]
    outside = [f for f, path in zip(frames, paths, strict=True) if not path.startswith(_MACHINERY)]
    chosen = mine or outside
    if not chosen:
        return None
    frame = chosen[-1]
    return f"{frame.filename}:{frame.lineno} in {frame.name}"
