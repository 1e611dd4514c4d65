"""Flake rates through the pytest plugin: with ``--dsys-runs N`` each seeded test gets its
failure rate, kinds of failure and first failing seeds with replay commands, in a table at
the end of the run and in ``--dsys-json PATH``."""

from __future__ import annotations

import json

import pytest

TEST_FILE = """
import pytest
from dsys import Network
from dsys.demos.pingpong import Pinger, Ponger

def test_flaky(simulation, dsys_seed):
    sim = simulation(network=Network(drop=0.2))
    sim.add_node("a", Pinger)
    sim.add_node("b", Ponger)
    sim.run(until=0.1)
    assert dsys_seed % 3 != 1, f"unlucky seed {dsys_seed}"
    assert dsys_seed % 3 != 2 or dsys_seed > 4, "too early"

def test_steady(dsys_seed):
    pass

def test_plain():
    pass
"""


def test_runs_report_rates_kinds_and_replays(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sim=TEST_FILE)
    result = pytester.runpytest("--dsys-runs", "9", "--dsys-json", "out/rates.json")
    result.assert_outcomes(passed=9 + 5 + 1, failed=4)
    data = json.loads((pytester.path / "out" / "rates.json").read_text())
    flaky, steady = data["tests"]
    assert (flaky["test"], flaky["runs"], flaky["failures"]) == ("test_sim.py::test_flaky", 9, 4)
    assert flaky["rate"] == pytest.approx(4 / 9)
    # Seeds 1, 4, 7 fail one way (numbers blanked out), seed 2 another.
    assert [(k["kind"], k["count"], k["seeds"]) for k in flaky["kinds"]] == [
        ("AssertionError: unlucky seed #", 3, [1, 4, 7]),
        ("AssertionError: too early", 1, [2])]
    assert flaky["first_failing"][0] == {
        "seed": 1, "replay": "pytest 'test_sim.py::test_flaky[seed=1]' --dsys-seed 1"}
    assert (steady["test"], steady["failures"], steady["rate"]) == (
        "test_sim.py::test_steady", 0, 0.0)
    out = result.stdout.str()
    assert "dsys: failure rate per seeded test" in out
    row = next(line for line in out.splitlines() if line.startswith("test_sim.py::test_flaky "))
    assert row.split() == ["test_sim.py::test_flaky", "9", "4", "44.4%", "2", "1,", "2,", "4,",
                           "7"]
    assert "replay the first: pytest 'test_sim.py::test_flaky[seed=1]' --dsys-seed 1" in out


def test_one_seed_prints_no_table(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sim=TEST_FILE)
    result = pytester.runpytest("--dsys-seed", "1")
    result.assert_outcomes(passed=2, failed=1)
    assert "failure rate per seeded test" not in result.stdout.str()


# A soak test: its two worker processes each start pytest and import dsys (~20 s on a busy
# machine), more than the default run's budget.
@pytest.mark.soak
def test_jobs_run_the_seeded_tests_in_workers_with_the_same_outcomes(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sim=TEST_FILE)
    pytester.runpytest("--dsys-runs", "9", "--dsys-json", "one.json")
    two = pytester.runpytest("--dsys-runs", "9", "--dsys-jobs", "2", "--dsys-json",
                               "two.json")
    two.assert_outcomes(passed=9 + 5 + 1, failed=4)
    assert json.loads((pytester.path / "two.json").read_text()) == json.loads(
        (pytester.path / "one.json").read_text())
    out = two.stdout.str()
    # A worker's failure still prints how to replay it, and its trace is saved here.
    assert "replay: pytest 'test_sim.py::test_flaky[seed=1]' --dsys-seed 1" in out
    assert (pytester.path / ".dsys/traces/test_sim.py_test_flaky_seed=1_-0.html").is_file()
    assert pytester.runpytest("--dsys-jobs", "0").ret != 0
