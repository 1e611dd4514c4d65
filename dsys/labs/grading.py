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

That holds only if the implementation is deterministic too, so :func:`grade` checks it: the
first seed of every test runs twice in the same process and once more in a fresh process
under another ``PYTHONHASHSEED``, and so does every failing seed; if two runs of one seed
differ, the test fails with a message that names the likely causes (the global
``random``, the wall clock, the order of a set of strings, ``id()``) and shows where the
two traces first differ (see :mod:`dsys.labs.determinism`). ``jobs`` runs seeds in that
many worker processes at once (see :mod:`dsys.labs.processes`), with the same results as
one: runs are handed back, and tests decided, in the order of the seeds.

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
import importlib.util
import io
import sys
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from random import Random
from types import ModuleType
from typing import Any, Protocol

import attrs

import dsys
from dsys.errors import ConfigError, UsageError
from dsys.labs import determinism
from dsys.labs.lab import Lab, find_lab
from dsys.labs.processes import (
    WorkerDied,
    Workers,
    another_hash_seed,
    runs_under_hash_seed,
    shared_worker,
)
from dsys.labs.timeline import failure_marks, timeline_path, write_timeline
from dsys.loader import load_file
from dsys.search import SearchResult
from dsys.sim.network import Network
from dsys.sim.report import SimulationError, replay_command
from dsys.sim.simulation import Simulation
from dsys.trace.events import Trace, format_events
from dsys.trace.html import Mark

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
    #: False for a test whose verdict no seed changes (a model-checking search test): it
    #: runs once, whatever ``--runs`` asks of the others.
    seeded: bool = True

    def __call__(self, trial: Trial) -> None:
        self.func(trial)


def graded(*, points: int, runs: int = 20, seeded: bool = True
           ) -> Callable[[TestFunction], GradedTest]:
    """Declare a graded test worth ``points``, run over ``runs`` seeds (see the module
    docstring for an example). The function's docstring must say what it checks.

    ``seeded=False`` declares a test that no seed changes, such as a search test
    (:meth:`Trial.search`): it runs once (``runs`` must then be 1), even when a grading
    asks for more seeds per test."""
    if not seeded and runs != 1:
        raise ConfigError("a test with seeded=False runs once: give it runs=1")
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise ConfigError(f"a graded test's points must be a positive int, got {points!r}")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs <= 0:
        raise ConfigError(f"a graded test's runs must be a positive int, got {runs!r}")

    def wrap(func: TestFunction) -> GradedTest:
        doc = (func.__doc__ or "").strip()
        if not doc:
            raise ConfigError(
                f"graded test {func.__name__} needs a docstring saying what it checks")
        return GradedTest(func.__name__, points, runs, func, doc.splitlines()[0], seeded)

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

    def search(self, result: SearchResult) -> None:
        """Judge a model-checking result (a *search test*, as in DSLabs): fail the trial if
        the search found a violation, with the path it found, and keep the path's replay
        in the simulator as this trial's trace (so the failure report shows and saves it).

        Example::

            search = Search({"server": trial.impl.Server, ...}, drops=1)
            search.add_invariant(delivered_in_order)
            trial.search(search.bfs(max_depth=12, time_limit=10))
        """
        if result.verdict != "violation":
            return
        sim = result.replay()
        self.sims.append(sim)
        steps = "\n".join(f"    {i:2d}. {step.describe()}"
                          for i, step in enumerate(result.path, 1))
        raise AssertionError(
            f"the model checker found a path of {len(result.path)} step(s) to a bad state "
            f"({result.problem}), searching every order of deliveries and timers:\n{steps}"
        )


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
    #: True when two runs of the seed differed: the replay command may not replay it.
    nondeterministic: bool = False
    #: What the failure's timeline points out (see :mod:`dsys.labs.timeline`): the
    #: failure, and the failing checkers' reports found where it was raised.
    marks: tuple[Mark, ...] = ()

    @property
    def timelines(self) -> tuple[Path, ...]:
        """The timeline pages (the interactive viewer, ``.html``) written beside the saved
        traces: open one in a browser to see the failing run with what failed marked."""
        return tuple(page for page in map(timeline_path, self.trace_paths) if page.is_file())

    @property
    def headline(self) -> str:
        """The first line of the message."""
        return self.message.splitlines()[0] if self.message else ""


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
    # in one process) never share message tags in the codec's registry. The same file gets
    # the same name in every process, so a worker's traces name the same message types.
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
    """Load the reference solution of ``lab``: a file of the lab folder (``solution.py``)
    or a module of dsys, as its ``lab.toml`` says.

    Reference solutions stay in the dsys repository, beside each lab: they are not in the
    package students install. Without one, this raises a :class:`~dsys.errors.UsageError`
    that says where to get it.
    """
    if lab.reference.endswith(".py"):
        path = lab.path / lab.reference
        if not path.is_file():
            raise UsageError(
                f"{lab.name} has no reference solution in this installation of dsys ({path} "
                "is missing): reference solutions are not shipped in the dsys package, so "
                "that students do not come across them. Instructors find it in the dsys "
                f"repository, labs/{lab.name}/{lab.reference}: run dsys from a clone of the "
                "repository, or set DSYS_LABS=CLONE/labs"
            )
        return load_implementation(lab, path)
    try:
        module = importlib.import_module(lab.reference)
    except ImportError as exc:
        raise ConfigError(
            f"{lab.name}: cannot import its reference {lab.reference}: {exc}") from None
    return _check_interface(lab, module, lab.reference)


def reference_module(lab: str | Lab) -> ModuleType:
    """The reference solution of ``lab`` (a lab or its name), loaded once per process.

    Mutants and tests build on it: ``lab0 = reference_module("lab0")``, then
    ``class Server(lab0.Server): ...`` overrides the one method a mutant breaks.
    """
    return load_reference(find_lab(lab) if isinstance(lab, str) else lab)


def implementation_name(impl: ModuleType) -> str:
    """A short name for ``impl`` (its file's stem), used to name its saved traces."""
    file = getattr(impl, "__file__", None)
    return Path(file).stem if file else impl.__name__.rsplit(".", 1)[-1]


# ----- one run ----------------------------------------------------------------------------------


@attrs.frozen
class Run:
    """What one run of a graded test with one seed gave, as plain data (runs cross process
    boundaries): its failure (None if it passed), the traces of its simulations as JSON
    lines (kept for failing runs and for runs whose determinism is checked), and ``again``,
    a second run of the same seed in the same process, when it differed from this one."""

    test: str
    seed: int
    failure: Failure | None
    traces: tuple[tuple[str, ...], ...] = ()
    again: Run | None = None

    @property
    def headline(self) -> str | None:
        """The failure's first line, or None if the run passed."""
        return None if self.failure is None else self.failure.headline

    def differs(self, other: Run) -> bool:
        """True if ``other`` (the same seed) had another trace or another verdict."""
        return self.traces != other.traces or (self.failure is None) != (other.failure is None)


def run_once(lab: Lab, impl: ModuleType, test: GradedTest, seed: int, *, replay: str,
             keep: bool = False) -> Run:
    """Run ``test`` once with ``seed``, in this process; keep its traces if ``keep`` or if
    it fails. Nothing is saved to disk (see :func:`run_trial`)."""
    trial = Trial(impl, seed, test.name)
    output = io.StringIO()
    token = replay_command.set(replay)
    try:
        # A student's print() must not tear the progress bar; it is shown with the failure.
        with contextlib.redirect_stdout(output):
            test(trial)
    except Exception as exc:
        message, where = _explain(exc, impl)
        marks = _marks(trial, exc)
    else:
        traces = _lines(trial) if keep else ()
        return Run(test.name, seed, None, traces)
    finally:
        replay_command.reset(token)
    sim = trial.sims[-1] if trial.sims else None
    failure = Failure(
        test=test.name,
        seed=seed,
        message=message,
        excerpt=_excerpt(sim, trial.focused) if sim is not None else "",
        replay=replay,
        where=where,
        output="\n".join(output.getvalue().splitlines()[-10:]),
        marks=marks,
    )
    return Run(test.name, seed, failure, _lines(trial))


def _marks(trial: Trial, exc: Exception) -> tuple[Mark, ...]:
    """The marks of a failing trial's timeline: at the span it focused on, else at the
    end of its last simulation."""
    sim = trial.sims[-1] if trial.sims else None
    end = trial.focused.get("end")
    if end is None:
        end = sim.now if sim is not None else 0.0
    nodes = trial.focused.get("nodes") or []
    return tuple(failure_marks(exc, start=trial.focused.get("start"), end=end,
                               node=nodes[0] if len(nodes) == 1 else None))


def _lines(trial: Trial) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(sim.trace.lines()) for sim in trial.sims)


def run_trial(lab: Lab, impl: ModuleType, test: GradedTest, seed: int, *, replay: str,
              trace_dir: Path | None = None, name: str | None = None) -> Failure | None:
    """Run ``test`` once with ``seed``; return its :class:`Failure` (with its traces saved
    in ``trace_dir``, named after ``name``, by default the implementation's file), or None
    if it passed."""
    run = run_once(lab, impl, test, seed, replay=replay)
    if run.failure is None:
        return None
    paths = _save(trace_dir, lab, name or implementation_name(impl), run)
    return attrs.evolve(run.failure, trace_paths=paths)


def trace_file_name(lab: Lab, impl_name: str, test: str, seed: int, *, index: int = 0,
                    count: int = 1, tag: str = "") -> str:
    """The name of a saved trace: the lab, the implementation, the test and the seed, so
    that grading another file never overwrites the traces of yours."""
    suffix = f"-{index}" if count > 1 else ""
    return f"{lab.name}-{impl_name}-{test}-seed{seed}{suffix}{tag}.jsonl"


def _save(trace_dir: Path | None, lab: Lab, impl_name: str, run: Run,
          tag: str = "") -> tuple[Path, ...]:
    if trace_dir is None:
        return ()
    paths = []
    for index, lines in enumerate(run.traces):
        path = Path(trace_dir) / trace_file_name(lab, impl_name, run.test, run.seed,
                                                 index=index, count=len(run.traces), tag=tag)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
        paths.append(path)
        # Its timeline, beside it; the failure is marked on the last simulation's, the one
        # the failing checks judged.
        last = index == len(run.traces) - 1
        marks = run.failure.marks if run.failure is not None and last else ()
        verdict = "failed" if run.failure is not None else "passed"
        write_timeline(Trace.load(path), timeline_path(path), marks,
                       title=f"{lab.name} {impl_name}: {run.test} seed {run.seed} {verdict}"
                             f"{' (simulation ' + str(index) + ')' if len(run.traces) > 1 else ''}")
    return tuple(paths)


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


# ----- where runs happen: this process, or worker processes -------------------------------------


@attrs.frozen
class Task:
    """A run to make: ``test`` with ``seed``. With ``check``, a failing run is made again
    in the same process and compared; with ``twice`` (the seed checked for determinism),
    a passing one too. ``keep`` keeps the traces of a passing run (they are compared with
    another process's); ``twice`` implies it."""

    test: str
    seed: int
    replay: str
    check: bool = False
    twice: bool = False
    keep: bool = False


def _execute(lab: Lab, impl: ModuleType, test: GradedTest, task: Task) -> Run:
    run = run_once(lab, impl, test, task.seed, replay=task.replay, keep=task.keep or task.twice)
    if task.twice or (task.check and run.failure is not None):
        # A failure must replay: run it again, as its replay command will.
        again = run_once(lab, impl, test, task.seed, replay=task.replay, keep=True)
        if run.differs(again):
            return attrs.evolve(run, again=again)
    return run


@attrs.frozen
class _Source:
    """How a fresh process loads the same lab, implementation and tests: the module is
    loaded under the same name, so that its message types have the same tags."""

    lab: Lab
    module: str
    file: str | None


def _source_of(lab: Lab, impl: ModuleType, tests: Sequence[GradedTest]) -> _Source | None:
    """None if a fresh process cannot load them (a module made in memory, a test that is
    not in the lab's grader)."""
    if sys.modules.get(impl.__name__) is not impl:
        return None
    file = getattr(impl, "__file__", None)
    try:
        grader = {test.name: test for test in load_grader(lab)}
    except ConfigError:
        return None
    if any(grader.get(test.name) != test for test in tests):
        return None
    return _Source(lab, impl.__name__, str(file) if file else None)


# What a worker process has loaded: one source (lab, implementation, tests) per grading, so
# each is loaded once per worker, not once per run.
_LOADED: dict[_Source, tuple[ModuleType, dict[str, GradedTest]]] = {}


def _load(source: _Source) -> tuple[ModuleType, dict[str, GradedTest]]:
    if source not in _LOADED:
        # What the file prints as it loads was shown once already, by the parent process.
        with contextlib.redirect_stdout(io.StringIO()):
            impl = _import(source.module, source.file)
            tests = {test.name: test for test in load_grader(source.lab)}
        _LOADED[source] = impl, tests
    return _LOADED[source]


def _import(module: str, file: str | None) -> ModuleType:
    if module in sys.modules:
        return sys.modules[module]
    with contextlib.suppress(ImportError, ValueError):
        spec = importlib.util.find_spec(module)
        if spec is not None and (file is None or (
                spec.origin is not None and Path(spec.origin).resolve() == Path(file).resolve())):
            return importlib.import_module(module)
    if file is None:
        return importlib.import_module(module)
    return load_file(Path(file), module)


def _work(source: _Source, task: Task) -> Run:
    """A task, in a worker process."""
    impl, tests = _load(source)
    return _execute(source.lab, impl, tests[task.test], task)


class _Pending(Protocol):
    def result(self) -> Run: ...

    def cancel(self) -> bool: ...


class _Later:
    """A task to run in this process, when its result is asked for."""

    def __init__(self, run: Callable[[], Run]) -> None:
        self._run = run

    def result(self) -> Run:
        return self._run()

    def cancel(self) -> bool:
        return True


class _Ahead:
    """Runs the tasks in order, up to ``window`` of them submitted ahead, and hands back
    their runs in that order. The remaining tasks of a test that is decided are skipped."""

    def __init__(self, submit: Callable[[Task], _Pending], tasks: Iterable[Task],
                 window: int) -> None:
        self._submit = submit
        self._tasks: Iterator[Task] = iter(tasks)
        self._window = window
        self._pending: deque[tuple[Task, _Pending]] = deque()
        self._decided: set[str] = set()

    def result(self, test: str, seed: int) -> Run:
        """The run of ``test`` with ``seed`` (the next one in the plan that is not skipped)."""
        while True:
            self._fill()
            task, pending = self._pending.popleft()
            if (task.test, task.seed) == (test, seed):
                return _result(pending, task)
            pending.cancel()

    def decided(self, test: str) -> None:
        """Skip the rest of ``test``'s tasks."""
        self._decided.add(test)

    def _fill(self) -> None:
        while len(self._pending) < self._window:
            task = next(self._tasks, None)
            if task is None:
                return
            if task.test not in self._decided:
                self._pending.append((task, self._submit(task)))


def _result(pending: _Pending, task: Task) -> Run:
    try:
        return pending.result()
    except WorkerDied:
        raise UsageError(
            f"a grading process died while running {task.test} with seed {task.seed}: does "
            f"the implementation call os._exit() or crash the interpreter? Replay it alone: "
            f"{task.replay}"
        ) from None


class _FreshProcess:
    """Runs tasks again in a fresh process under another ``PYTHONHASHSEED`` (the shared,
    long-lived worker of :func:`~dsys.labs.processes.shared_worker`)."""

    def __init__(self, workers: Workers, source: _Source) -> None:
        self._workers = workers
        self._source = source
        self._futures: dict[tuple[str, int], _Pending] = {}
        self.hash_seed = workers.hash_seed

    def start(self, task: Task) -> None:
        """Start ``task`` (its result is asked for later)."""
        key = (task.test, task.seed)
        if key not in self._futures:
            self._futures[key] = self._workers.submit(
                _work, self._source, attrs.evolve(task, check=False, twice=False, keep=True))

    def result(self, task: Task) -> Run:
        """The run of ``task`` (started now if it was not)."""
        self.start(task)
        return _result(self._futures[(task.test, task.seed)], task)

    def close(self) -> None:
        """Cancel the tasks not started: the worker is shared with later gradings."""
        for future in self._futures.values():
            future.cancel()


# ----- grading ----------------------------------------------------------------------------------


def seeds_for(test: GradedTest, first_seed: int = 0, runs: int | None = None) -> range:
    """The seeds a test runs: ``runs`` (default: the test's own) seeds from ``first_seed``;
    a test that no seed changes runs once."""
    if not test.seeded:
        return range(first_seed, first_seed + 1)
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
    jobs: int = 1,
    hash_seed: int | None = None,
    check_determinism: bool = True,
    name: str | None = None,
) -> Grade:
    """Grade ``impl`` with ``lab``'s graded tests (default: all of them).

    Each test runs over :func:`seeds_for` its seeds and stops at the first failure.
    ``replay(test_name, seed)`` gives the command that replays a run (it goes into the
    failure and into any simulator report); failing runs' traces are saved in
    ``trace_dir``, named after the implementation (``name``, by default its file's stem).
    ``fail_fast`` stops at the first failing test. ``on_trial`` is called after each run
    and ``on_outcome`` after each test (for progress bars), in order.

    ``jobs`` runs seeds in that many worker processes; ``hash_seed`` runs the graded code
    under that ``PYTHONHASHSEED`` (in workers, unless this process runs under it; None:
    in this process as it is). Both give the same results as a run in this process, for a
    deterministic implementation; ``check_determinism`` (on by default) checks that it is
    (see the module docstring). Tests or implementations that a fresh process cannot load
    (made in memory) run in this process, and only get the same-process check.

    Example:
        >>> from dsys.labs import find_lab, grade, load_reference
        >>> lab = find_lab("lab0")
        >>> result = grade(lab, load_reference(lab), runs=1)
        >>> result.passed, result.earned == result.total
        (True, True)
    """
    tests = list(load_grader(lab) if tests is None else tests)
    replay = replay or (lambda name, seed: f"dsys lab test {lab.name} --test {name} --seed {seed}")
    impl_name = name or implementation_name(impl)
    plan = [(test, seeds_for(test, first_seed, runs)) for test in tests]
    tasks = [Task(test.name, seed, replay(test.name, seed), check=check_determinism,
                  twice=check_determinism and seed == seeds[0])
             for test, seeds in plan for seed in seeds]
    source = _source_of(lab, impl, tests) if jobs > 1 or hash_seed is not None \
        or check_determinism else None
    here = source is None or (jobs <= 1 and (hash_seed is None or runs_under_hash_seed(hash_seed)))
    by_name = {test.name: test for test in tests}
    results = []
    with contextlib.ExitStack() as stack:
        submit: Callable[[Task], _Pending]
        if here:
            def submit(task: Task) -> _Pending:
                return _Later(lambda: _execute(lab, impl, by_name[task.test], task))
            window = 1
        else:
            assert source is not None
            workers = stack.enter_context(Workers(min(jobs, len(tasks)), hash_seed=hash_seed))

            def submit(task: Task) -> _Pending:
                return workers.submit(_work, source, task)
            window = 4 * max(1, jobs)
        fresh = None
        if check_determinism and source is not None:
            fresh = _FreshProcess(shared_worker(another_hash_seed(hash_seed)), source)
            stack.callback(fresh.close)
        checked = {task.test: task for task in tasks if task.twice}
        names = [test.name for test in tests]
        ahead = _Ahead(submit, tasks, window)
        for number, (test, seeds) in enumerate(plan):
            if fresh is not None:
                # This test's checked seed, and the next test's: ahead, not all at once (a
                # grading that stops early must not wait for checks it does not need).
                for each in names[number:number + 2]:
                    if each in checked:
                        fresh.start(checked[each])
            ran: list[Run] = []
            for seed in seeds:
                run = ahead.result(test.name, seed)
                ran.append(run)
                if on_trial is not None:
                    on_trial(test, seed)
                if run.failure is not None or run.again is not None:
                    break
            ahead.decided(test.name)
            outcome = Outcome(test, tuple(r.seed for r in ran),
                              _judge(lab, impl_name, ran, tasks, fresh, trace_dir,
                                     check_determinism, hash_seed))
            results.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
            if fail_fast and not outcome.passed:
                break
    return Grade(lab, tuple(results))


def _judge(lab: Lab, impl_name: str, ran: list[Run], tasks: list[Task],
           fresh: _FreshProcess | None, trace_dir: Path | None,
           check_determinism: bool, hash_seed: int | None) -> Failure | None:
    """The failure of a test whose runs are ``ran`` (stopped at the first failing one)."""
    if not ran:
        return None
    first, last = ran[0], ran[-1]
    suspects = [] if not check_determinism else [first] if last is first else [first, last]
    for run in suspects:  # the checked seed, then the failing one
        task = next(t for t in tasks if (t.test, t.seed) == (run.test, run.seed))
        if run.again is not None:
            return _nondeterministic(lab, impl_name, task, run, run.again,
                                     "run twice in the same process", trace_dir)
        if fresh is not None and (run is first or run.failure is not None):
            other = fresh.result(task)
            if run.differs(other):
                how = f"run again in a fresh process under PYTHONHASHSEED={fresh.hash_seed}"
                if hash_seed is not None:
                    how = f"graded under PYTHONHASHSEED={hash_seed}, then {how}"
                return _nondeterministic(lab, impl_name, task, run, other, how, trace_dir)
    if last.failure is None:
        return None
    return attrs.evolve(last.failure, trace_paths=_save(trace_dir, lab, impl_name, last))


def _nondeterministic(lab: Lab, impl_name: str, task: Task, run: Run, other: Run, how: str,
                      trace_dir: Path | None) -> Failure:
    message, excerpt = determinism.explain(run.traces, other.traces, how=how, seed=run.seed,
                                           first_failed=run.headline,
                                           second_failed=other.headline)
    paths = _save(trace_dir, lab, impl_name, run) + _save(trace_dir, lab, impl_name, other,
                                                          tag="-again")
    return Failure(test=run.test, seed=run.seed, message=message, excerpt=excerpt,
                   replay=task.replay, trace_paths=paths, nondeterministic=True)
