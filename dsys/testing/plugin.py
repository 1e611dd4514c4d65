"""The dsys pytest plugin (see :mod:`dsys.testing` for what it offers)."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from dsys.sim.network import Network
from dsys.sim.report import replay_command
from dsys.sim.schedule import Schedule, Session, divergence, recording, replaying
from dsys.sim.simulation import Simulation
from dsys.trace.events import Trace

_RECORDS = pytest.StashKey[dict[str, Any]]()
_RUN_PROPERTY = "dsys-run"
#: How many failing seeds the summary lists per test (all are counted).
FIRST_SEEDS = 5


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dsys", "dsys simulated tests")
    group.addoption("--dsys-seed", type=int, default=None, metavar="N",
                    help="run seeded dsys tests with this one seed (replays a failure)")
    group.addoption("--dsys-runs", type=int, default=None, metavar="N",
                    help="run seeded dsys tests over seeds 0..N-1")
    group.addoption("--dsys-trace-dir", default=".dsys/traces", metavar="DIR",
                    help="where traces of failing simulated tests are saved")
    group.addoption("--dsys-json", default=None, metavar="PATH",
                    help="write each seeded test's failure rate, kinds of failure and "
                         "failing seeds (with replay commands) to PATH as JSON")
    group.addoption("--dsys-jobs", type=int, default=1, metavar="J",
                    help="run the seeded dsys tests in J worker processes (the other tests "
                         "run here); the outcomes are the same for any J")
    group.addoption("--dsys-schedule", default=None, metavar="FILE",
                    help="replay a saved schedule (the faults, losses and delays of a run, "
                         "saved when a test fails with --dsys-seed): also against edited code")
    group.addoption("--dsys-worker-out", default=None, help=argparse.SUPPRESS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "dsys(runs=N): run this seeded test over N seeds by default")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "dsys_seed" not in metafunc.fixturenames:
        return
    pinned = metafunc.config.getoption("--dsys-seed")
    if pinned is not None:
        seeds = [pinned]
    else:
        runs = metafunc.config.getoption("--dsys-runs")
        if runs is None:
            marker = metafunc.definition.get_closest_marker("dsys")
            runs = int(marker.kwargs.get("runs", 1)) if marker else 1
        if runs < 1:
            raise pytest.UsageError(f"--dsys-runs must be at least 1, got {runs}")
        seeds = list(range(runs))
    metafunc.parametrize("dsys_seed", seeds, ids=[f"seed={s}" for s in seeds], indirect=True)


def seeded_test_name(nodeid: str) -> str:
    """The test a seeded run belongs to: its node id without the ``seed=N`` parameter.

    Example:
        >>> seeded_test_name("tests/test_x.py::test_y[seed=3]")
        'tests/test_x.py::test_y'
        >>> seeded_test_name("t.py::f[a-seed=3]")
        't.py::f[a]'
    """
    name = re.sub(r"-?seed=\d+", "", nodeid)
    return name.replace("[]", "").replace("[-", "[")


def replay_for(nodeid: str, seed: int) -> str:
    """The command that re-runs test ``nodeid`` with ``seed``."""
    return f"pytest {shlex.quote(nodeid)} --dsys-seed {seed}"


@pytest.fixture
def dsys_seed(request: pytest.FixtureRequest) -> Iterator[int]:
    """The simulation seed of this run of the test (see ``--dsys-seed``/``--dsys-runs``)."""
    seed = int(getattr(request, "param", 0))
    records = request.node.stash.setdefault(_RECORDS, {})
    records["seed"] = seed
    records.setdefault("sims", [])
    token = replay_command.set(replay_for(request.node.nodeid, seed))
    # With one seed pinned (a failure being replayed), the run's choices are recorded, so
    # that a failure can save them as a schedule; with --dsys-schedule they are replayed.
    given = request.config.getoption("--dsys-schedule")
    pinned = request.config.getoption("--dsys-seed") is not None
    context: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if given is not None:
        context = replaying(Schedule.load(given))
    elif pinned:
        context = recording({"test": request.node.nodeid, "seed": seed})
    try:
        with context as taken:
            records["schedule"] = taken
            yield seed
    finally:
        replay_command.reset(token)


class SimulationFactory:
    """Builds simulations seeded with the test's seed and remembers them for reports."""

    def __init__(self, seed: int, sims: list[Simulation]) -> None:
        self.seed = seed
        self._sims = sims

    def __call__(self, network: Network | None = None, *, trace: bool = True,
                 codec: bool = True, seed: int | None = None) -> Simulation:
        sim = Simulation(self.seed if seed is None else seed, network, trace=trace, codec=codec)
        self._sims.append(sim)
        return sim


@pytest.fixture
def simulation(request: pytest.FixtureRequest, dsys_seed: int) -> SimulationFactory:
    """A factory of :class:`~dsys.Simulation` objects seeded with ``dsys_seed``."""
    return SimulationFactory(dsys_seed, request.node.stash[_RECORDS]["sims"])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    records = item.stash.get(_RECORDS, None)
    if records is None:
        return report
    seed = records["seed"]
    if call.when == "call" or (report.failed and call.when == "setup"):
        # For the flake-rate summary (as a user property, so it travels with the report).
        headline = ""
        if report.failed and call.excinfo is not None:
            headline = call.excinfo.exconly().strip().splitlines()[0]
        report.user_properties.append((_RUN_PROPERTY, {
            "test": seeded_test_name(item.nodeid), "seed": seed, "failed": report.failed,
            "headline": headline, "replay": replay_for(item.nodeid, seed)}))
    if not report.failed or call.when != "call":
        return report
    lines = [f"seed: {seed}", f"replay: {replay_for(item.nodeid, seed)}"]
    trace_dir = Path(item.config.getoption("--dsys-trace-dir"))
    safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", item.nodeid)
    sims = [sim for sim in records["sims"] if sim.trace.enabled and len(sim.trace)]
    for index, sim in enumerate(records["sims"]):
        if not sim.trace.enabled or not len(sim.trace):
            continue
        path = sim.trace.save(trace_dir / f"{safe}-{index}.jsonl")
        lines.append(f"trace of simulation {index} ({len(sim.trace)} events) saved to {path}")
        lines.append(f"  view it: dsys trace show {path}")
        page = _timeline(sim, path, call.excinfo.value if call.excinfo else None,
                         marked=sim is sims[-1], title=f"{item.nodeid} seed {seed} failed")
        lines.append(f"  timeline (open in a browser, what failed is marked): {page}")
        lines.append(f"  last events at virtual time {sim.now:.6f}:")
        lines.append(sim.trace.tail(12))
    taken = records.get("schedule")
    if isinstance(taken, Schedule):
        taken.meta["traces"] = [str(trace_dir / f"{safe}-{index}.jsonl")
                                for index, sim in enumerate(records["sims"])
                                if sim.trace.enabled and len(sim.trace)]
        path = taken.save(trace_dir / f"{safe}.schedule.json")
        lines.append(f"schedule (faults, losses, delays) saved to {path}; replay it, also "
                     f"after editing your code: {replay_for(item.nodeid, seed)} "
                     f"--dsys-schedule {path}")
    elif isinstance(taken, Session):
        lines.append(f"replayed the schedule {item.config.getoption('--dsys-schedule')}: "
                     f"{taken.matched} message fates from it, {taken.fallbacks} new messages")
        saved = [Path(p) for p in taken.schedule.meta.get("traces", [])]
        if saved and saved[-1].is_file() and taken.sims:
            lines.append(divergence(Trace.load(saved[-1]), taken.sims[-1].trace).describe())
    report.sections.append(("dsys: how to replay this failure", "\n".join(lines)))
    return report


def _timeline(sim: Simulation, trace_path: Path, exc: BaseException | None, *, marked: bool,
              title: str) -> Path:
    """Write the failure timeline of ``sim`` beside its saved trace (see
    :mod:`dsys.labs.timeline`); the failure is marked on the test's last simulation."""
    # Imported here: the plugin loads in every pytest run, the lab machinery only on failure.
    from dsys.labs.timeline import failure_marks, timeline_path, write_timeline

    marks = failure_marks(exc, end=sim.now) if marked else []
    return write_timeline(sim.trace, timeline_path(trace_path), marks, title=title)


# ----- flake rates: the summary of the seeded tests' runs -------------------------------------


def rates(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per seeded test, in order of first run: its runs, failures, failure rate, kinds of
    failure (the first line with numbers blanked, see :func:`dsys.labs.flake.failure_kind`)
    and first failing seeds with their replay commands.

    Example:
        >>> rows = rates([
        ...     {"test": "t", "seed": 0, "failed": False, "headline": "", "replay": "r0"},
        ...     {"test": "t", "seed": 1, "failed": True, "headline": "x 5", "replay": "r1"}])
        >>> rows[0]["runs"], rows[0]["failures"], rows[0]["rate"], rows[0]["kinds"][0]["kind"]
        (2, 1, 0.5, 'x #')
    """
    from dsys.labs.flake import failure_kind

    by_test: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_test.setdefault(run["test"], []).append(run)
    rows = []
    for test, seen in by_test.items():
        seen = sorted({run["seed"]: run for run in seen}.values(), key=lambda r: r["seed"])
        failing = [run for run in seen if run["failed"]]
        kinds: dict[str, list[dict[str, Any]]] = {}
        for run in failing:
            kinds.setdefault(failure_kind(run["headline"]), []).append(run)
        rows.append({
            "test": test, "runs": len(seen), "failures": len(failing),
            "rate": len(failing) / len(seen),
            "kinds": [{"kind": kind, "count": len(of),
                       "seeds": [r["seed"] for r in of][:FIRST_SEEDS],
                       "example": of[0]["headline"], "replay": of[0]["replay"]}
                      for kind, of in sorted(kinds.items(), key=lambda kv: -len(kv[1]))],
            "first_failing": [{"seed": r["seed"], "replay": r["replay"]}
                              for r in failing[:FIRST_SEEDS]],
        })
    return rows


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    # The runs' records travel with their reports, which the terminal reporter keeps.
    runs: list[dict[str, Any]] = [
            value for reports in terminalreporter.stats.values() for report in reports
            if isinstance(report, pytest.TestReport)
            for name, value in report.user_properties
            if name == _RUN_PROPERTY and isinstance(value, dict)]
    rows = rates(runs)
    path = config.getoption("--dsys-json")
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"tests": rows}, indent=2) + "\n", encoding="utf-8")
    # The table is for tests run over several seeds.
    shown = [row for row in rows if row["runs"] > 1]
    if not shown:
        return
    write = terminalreporter.write_line
    terminalreporter.section("dsys: failure rate per seeded test")
    width = max(len(row["test"]) for row in shown)
    write(f"{'test':<{width}}  seeds  failed    rate  kinds  first failing seeds")
    for row in shown:
        seeds = ", ".join(str(f["seed"]) for f in row["first_failing"])
        write(f"{row['test']:<{width}}  {row['runs']:>5}  {row['failures']:>6}  "
              f"{100 * row['rate']:>5.1f}%  {len(row['kinds']):>5}  {seeds}")
    for row in shown:
        for kind in row["kinds"]:
            write(f"{row['test']}: {kind['count']}/{row['runs']} seeds: {kind['example']}")
            write(f"  replay the first: {kind['replay']}")
    if path:
        write(f"JSON report: {path}")


# ----- --dsys-jobs: the seeded tests in worker processes ---------------------------------------


def _worker_args(config: pytest.Config, out: Path) -> list[str]:
    """The options a worker runs with: the seeds and the trace folder of this run (as an
    absolute path: workers run in the root folder), and where to write its reports."""
    args = ["-p", "no:cacheprovider", "-q", "--dsys-worker-out", str(out),
            "--dsys-trace-dir",
            str(Path(config.invocation_params.dir, config.getoption("--dsys-trace-dir")))]
    for option in ("--dsys-seed", "--dsys-runs"):
        value = config.getoption(option)
        if value is not None:
            args += [option, str(value)]
    return args


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    """With ``--dsys-jobs J``: run the seeded tests in J worker processes (``pytest`` on
    their node ids, seeds dealt round-robin), report their outcomes here in the order of
    the items, then let pytest run the other tests as usual."""
    config = session.config
    jobs = config.getoption("--dsys-jobs")
    if jobs < 1:
        raise pytest.UsageError(f"--dsys-jobs must be at least 1, got {jobs}")
    if jobs == 1 or config.getoption("--dsys-worker-out") or config.option.collectonly \
            or session.testsfailed:
        return None  # pytest's own loop (which stops on collection errors)
    seeded = [item for item in session.items
              if "dsys_seed" in getattr(item, "fixturenames", ())]
    if not seeded:
        return None
    root = Path(config.rootpath)
    with tempfile.TemporaryDirectory(prefix="dsys-jobs-") as folder:
        chunks = [seeded[i::jobs] for i in range(jobs)]
        workers = []
        for number, chunk in enumerate(c for c in chunks if c):
            out = Path(folder) / f"worker-{number}.json"
            command = [sys.executable, "-m", "pytest", *_worker_args(config, out),
                       *(item.nodeid for item in chunk)]
            workers.append((out, subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.PIPE)))
        reports: dict[str, list[dict[str, Any]]] = {}
        for out, process in workers:
            _, err = process.communicate()
            if not out.is_file():
                raise pytest.UsageError(
                    "a --dsys-jobs worker process stopped without reporting (exit status "
                    f"{process.returncode}): {err.decode(errors='replace')[-2000:]}")
            for data in json.loads(out.read_text(encoding="utf-8")):
                reports.setdefault(data["nodeid"], []).append(data)
    hook = config.hook
    for item in seeded:
        hook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for data in reports.get(item.nodeid, []):
            report = hook.pytest_report_from_serializable(config=config, data=data)
            hook.pytest_runtest_logreport(report=report)
        hook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    done = set(reports)
    missing = [item.nodeid for item in seeded if item.nodeid not in done]
    if missing:
        raise pytest.UsageError(f"--dsys-jobs workers did not run {', '.join(missing[:5])}")
    # The others, here, as pytest's own loop would (which is not used: it would take the
    # workers' failures for collection errors).
    rest = [item for item in session.items if item not in seeded]
    for index, item in enumerate(rest):
        following = rest[index + 1] if index + 1 < len(rest) else None
        hook.pytest_runtest_protocol(item=item, nextitem=following)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
    return True


def pytest_sessionstart(session: pytest.Session) -> None:
    out = session.config.getoption("--dsys-worker-out")
    if out:
        session.config.pluginmanager.register(_WorkerRecorder(session.config, Path(out)),
                                              "dsys-worker-recorder")


class _WorkerRecorder:
    """Writes a worker's reports, serialized as pytest-xdist does, for the main process."""

    def __init__(self, config: pytest.Config, out: Path) -> None:
        self.config = config
        self.out = out
        self.reports: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.reports.append(self.config.hook.pytest_report_to_serializable(
            config=self.config, report=report))

    def pytest_sessionfinish(self) -> None:
        self.out.write_text(json.dumps(self.reports), encoding="utf-8")
