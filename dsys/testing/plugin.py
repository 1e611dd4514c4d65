"""The dsys pytest plugin (see :mod:`dsys.testing` for what it offers)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from dsys.sim.network import Network
from dsys.sim.report import replay_command
from dsys.sim.simulation import Simulation

_RECORDS = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dsys", "dsys simulated tests")
    group.addoption("--dsys-seed", type=int, default=None, metavar="N",
                    help="run seeded dsys tests with this one seed (replays a failure)")
    group.addoption("--dsys-runs", type=int, default=None, metavar="N",
                    help="run seeded dsys tests over seeds 0..N-1")
    group.addoption("--dsys-trace-dir", default=".dsys/traces", metavar="DIR",
                    help="where traces of failing simulated tests are saved")


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
    try:
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
    if records is None or not report.failed or call.when != "call":
        return report
    seed = records["seed"]
    lines = [f"seed: {seed}", f"replay: {replay_for(item.nodeid, seed)}"]
    trace_dir = Path(item.config.getoption("--dsys-trace-dir"))
    safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", item.nodeid)
    for index, sim in enumerate(records["sims"]):
        if not sim.trace.enabled or not len(sim.trace):
            continue
        path = sim.trace.save(trace_dir / f"{safe}-{index}.jsonl")
        lines.append(f"trace of simulation {index} ({len(sim.trace)} events) saved to {path}")
        lines.append(f"  view it: dsys trace show {path}")
        lines.append(f"  last events at virtual time {sim.now:.6f}:")
        lines.append(sim.trace.tail(12))
    report.sections.append(("dsys: how to replay this failure", "\n".join(lines)))
    return report
