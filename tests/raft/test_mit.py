"""MIT 6.5840's Raft tests (3A-3D), in virtual time, against the dsys reference Raft.

Every scenario of :mod:`dsys.testing.raft_scenarios` runs against
``RaftAdapter.for_component()`` (with a snapshotting service for 3D) over a few seeds,
with the harness's safety invariants after every event and the trace checkers of
:mod:`dsys.raft.checkers` at the end. ``pytest --soak`` runs many more seeds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dsys import Simulation
from dsys.raft import check_all
from dsys.testing import SimulationFactory
from dsys.testing.raft import RaftAdapter, RaftCluster
from dsys.testing.raft_scenarios import (
    SCENARIOS,
    SNAPSHOT_EVERY,
    cluster_factory,
    scenarios,
)

FEW = (0, 1, 2)
MANY = range(3, 50)


def run(name: str, seed: int, simulation: Callable[[], Simulation] | None = None
        ) -> RaftCluster:
    """Run scenario ``name`` against the reference with ``seed`` (in simulations built
    by ``simulation``, default plain ones); judge its trace too."""
    scenario = SCENARIOS[name]
    adapter = RaftAdapter.for_component(
        snapshot_every=SNAPSHOT_EVERY if scenario.snapshots else None)
    cluster = scenario(cluster_factory(adapter, simulation or (lambda: Simulation(seed=seed))))
    report = check_all(cluster.sim.trace)
    assert report.ok, f"{name}, seed {seed}: {report.explain()}"
    assert not cluster.warnings, f"{name}, seed {seed}: {cluster.warnings}"
    return cluster


@pytest.mark.dsys(runs=len(FEW))
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_mit_scenario(name: str, dsys_seed: int, simulation: SimulationFactory) -> None:
    """Through the pytest plugin: ``--dsys-runs N`` runs N seeds, and a failure prints
    its seed, the end of its trace and the command that replays it."""
    run(name, dsys_seed, lambda: simulation())


@pytest.mark.soak
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_mit_scenario_soak(name: str) -> None:
    for seed in MANY:
        run(name, seed)


def test_every_mit_test_has_a_scenario() -> None:
    parts = {part: [s.name for s in scenarios(part)] for part in ("3A", "3B", "3C", "3D")}
    assert parts == {
        "3A": ["initial_election", "reelection", "many_elections"],
        "3B": ["basic_agree", "rpc_bytes", "follower_failure", "leader_failure",
               "fail_agree", "fail_no_agree", "concurrent_starts", "rejoin", "backup",
               "count"],
        "3C": ["persist1", "persist2", "persist3", "figure8", "unreliable_agree",
               "figure8_unreliable", "reliable_churn", "unreliable_churn"],
        "3D": ["snapshot_basic", "snapshot_install", "snapshot_install_unreliable",
               "snapshot_install_crash", "snapshot_install_unreliable_crash",
               "snapshot_all_crash", "snapshot_init"],
    }
    assert all(s.snapshots == (s.part == "3D") for s in SCENARIOS.values())
    assert all(s.func.__doc__ and s.title for s in SCENARIOS.values())


def test_the_snapshot_scenarios_really_snapshot_install_and_restore() -> None:
    cluster = run("snapshot_install_crash", 0)
    events = [e.data["event"] for e in cluster.sim.trace if e.kind == "note"]
    assert events.count("snapshot") >= 30 and events.count("restore") >= 10
    assert max(cluster.log) > 200  # thirty rounds of about ten commands


def test_a_scenario_is_a_pure_function_of_the_seed_under_any_hash_seed() -> None:
    here = run("persist2", 4).sim.trace.digest()
    assert run("persist2", 4).sim.trace.digest() == here
    code = ("from dsys import Simulation\n"
            "from dsys.testing.raft import RaftAdapter\n"
            "from dsys.testing.raft_scenarios import SCENARIOS, cluster_factory\n"
            "make = cluster_factory(RaftAdapter.for_component(), lambda: Simulation(seed=4))\n"
            "print(SCENARIOS['persist2'](make).sim.trace.digest())\n")
    root = Path(__file__).resolve().parents[2]
    for hash_seed in ("0", "4242"):
        out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                             text=True, timeout=120,
                             env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == here
