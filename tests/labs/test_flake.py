"""Flake rates (``dsys lab test LAB --rates``): every seed runs, failures are counted and
grouped by kind, the first failing seeds come with replay commands, the report is the same
for any number of jobs, and the JSON report says the same as the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsys.cli import main
from dsys.labs import find_lab, load_grader, load_implementation
from dsys.labs.flake import FIRST_SEEDS, failure_kind, flake_rates
from dsys.labs.grading import GradedTest, run_trial

LAB0 = find_lab("lab0")
#: Gives up after a few retries: fails on the seeds whose losses outlast its patience.
GIVES_UP = LAB0.path / "mutants" / "gives_up.py"


def graded_tests(*names: str) -> list[GradedTest]:
    return [test for test in load_grader(LAB0) if test.name in names]


def test_every_seed_runs_and_failures_are_counted_by_kind(tmp_path: Path) -> None:
    mutant = load_implementation(LAB0, GIVES_UP)
    (lossy,) = graded_tests("lossy_network")
    report = flake_rates(LAB0, mutant, tests=[lossy], runs=8, trace_dir=tmp_path,
                         replay=lambda test, seed: f"replay {test} {seed}")
    (rate,) = report.tests
    assert rate.runs == 8 and 0 < rate.failures < 8, rate  # flaky: some seeds only
    assert sum(kind.count for kind in rate.kinds) == rate.failures
    failing = [f.seed for f in rate.first_failing]
    assert failing == sorted(failing) and len(failing) == min(FIRST_SEEDS, rate.failures)
    # The listed seeds fail, the seeds before the first listed one pass, each replays.
    for seed in range(failing[-1] + 1):
        failure = run_trial(LAB0, mutant, lossy, seed, replay="r")
        assert (failure is not None) == (seed in failing), seed
        if failure is not None:
            listed = next(f for f in rate.first_failing if f.seed == seed)
            assert listed.headline == failure.headline
            assert listed.replay == f"replay lossy_network {seed}"
            assert listed.kind == failure_kind(failure.headline)
    # The first failure of each kind has its trace and timeline saved.
    for kind in rate.kinds:
        assert kind.seeds[0] in failing
        (page,) = kind.timelines
        assert page.is_file() and page.parent == tmp_path


def test_the_report_is_the_same_for_any_number_of_jobs() -> None:
    mutant = load_implementation(LAB0, GIVES_UP)
    tests = graded_tests("lossy_network", "quiet_when_done")
    one = flake_rates(LAB0, mutant, tests=tests, runs=6, jobs=1, hash_seed=0)
    two = flake_rates(LAB0, mutant, tests=tests, runs=6, jobs=2, hash_seed=0)
    assert one == two
    assert [rate.test for rate in one.tests] == ["lossy_network", "quiet_when_done"]


def test_failure_kinds_ignore_the_numbers() -> None:
    assert failure_kind("no reply to request 7 after 12.5 s") == failure_kind(
        "no reply to request 31 after 3 s")
    assert failure_kind("s1 and s2 both lead term 4") == "s# and s# both lead term #"
    assert failure_kind("") == "failed (no message)"


def test_the_command_prints_the_rates_and_writes_json(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DSYS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setenv("NO_COLOR", "1")
    status = main(["lab", "test", "lab0", "--impl", "mutants/gives_up.py", "--test",
                   "lossy_network", "--runs", "6", "--jobs", "1", "--json", "out/r.json"])
    out = capsys.readouterr().out
    assert status == 1
    data = json.loads((tmp_path / "out" / "r.json").read_text())
    (test,) = data["tests"]
    assert test["test"] == "lossy_network" and test["runs"] == 6
    assert 0 < test["failures"] < 6 and test["rate"] == test["failures"] / 6
    first = test["first_failing"][0]
    assert first["replay"] == ("dsys lab test lab0 --impl mutants/gives_up.py --test "
                               f"lossy_network --seed {first['seed']}")
    assert first["replay"] in out
    row = next(line for line in out.splitlines() if line.strip("│ ").startswith("lossy_network"))
    assert f"{100 * test['rate']:.1f}%" in row
    assert "timeline: " in out and test["kinds"][0]["timelines"][0] in out
    assert "failure rate per test" in out

    status = main(["lab", "test", "lab0", "--reference", "--test", "lossy_network",
                   "--runs", "3", "--jobs", "1", "--rates"])
    out = capsys.readouterr().out
    assert status == 0 and "0.0%" in out
