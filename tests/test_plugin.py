"""The pytest plugin: seeds, runs, and what a failing simulated test prints."""

from __future__ import annotations

import pytest

TEST_FILE = """
import pytest
from dsys import Network
from dsys.demos.pingpong import Pinger, Ponger

SEEN = []

@pytest.mark.dsys(runs=4)
def test_seeds(simulation, dsys_seed):
    SEEN.append(dsys_seed)
    sim = simulation(network=Network(drop=0.2))
    sim.add_node("a", Pinger)
    sim.add_node("b", Ponger)
    sim.run(until=0.5)
    assert sim.seed == dsys_seed
    assert dsys_seed != 2, "seed 2 is unlucky"

def test_plain():
    pass
"""


def test_marker_runs_each_seed_and_a_failure_prints_seed_replay_and_trace(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_sim=TEST_FILE)
    result = pytester.runpytest()
    result.assert_outcomes(passed=4, failed=1)
    out = result.stdout.str()
    assert "test_seeds[seed=2]" in out
    assert "dsys: how to replay this failure" in out
    assert "seed: 2" in out
    assert "replay: pytest 'test_sim.py::test_seeds[seed=2]' --dsys-seed 2" in out
    assert "saved to .dsys/traces/test_sim.py_test_seeds_seed=2_-0.jsonl" in out
    assert (pytester.path / ".dsys/traces/test_sim.py_test_seeds_seed=2_-0.jsonl").exists()
    assert "send" in out and "Ping(seq=" in out  # the trace excerpt


def test_replay_command_reruns_exactly_the_failing_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sim=TEST_FILE)
    result = pytester.runpytest("test_sim.py::test_seeds[seed=2]", "--dsys-seed", "2")
    result.assert_outcomes(failed=1)
    result = pytester.runpytest("--dsys-seed", "3")
    result.assert_outcomes(passed=2)


def test_dsys_runs_overrides_the_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sim=TEST_FILE)
    result = pytester.runpytest("--dsys-runs", "2", "-k", "seeds")
    result.assert_outcomes(passed=2)
    result = pytester.runpytest("--dsys-runs", "0")
    assert result.ret != 0 and "--dsys-runs must be at least 1" in result.stdout.str()


def test_simulation_errors_inside_tests_carry_the_pytest_replay_command(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_boom="""
from dsys import Node

class Boom(Node):
    def on_start(self):
        raise RuntimeError("kaboom")

def test_boom(simulation):
    sim = simulation()
    sim.add_node("a", Boom)
    sim.run(until=1.0)
""")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "RuntimeError: kaboom" in out
    assert "replay with:   pytest test_boom.py::test_boom[seed=0] --dsys-seed 0" in out.replace("'", "")
