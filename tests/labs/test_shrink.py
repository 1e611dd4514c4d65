"""`dsys shrink` and schedules for labs and for pytest: a failing trial shrinks to the
choices it needs, its schedule replays it, also against edited code (saying how far the
new run followed), and the failure output offers both."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dsys.cli import main
from dsys.sim.schedule import Schedule


@pytest.fixture(autouse=True)
def workplace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("DSYS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("DSYS_LABS", raising=False)
    return work


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(args)
    out, err = capsys.readouterr()
    return status, out + err


MUTANT = ["--impl", "mutants/no_dedup.py", "--test", "lossy_network", "--seed", "0"]


def test_shrink_a_lab_failure_and_replay_it_on_the_mutant_and_on_the_solution(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run(["shrink", "lab0", *MUTANT], capsys)
    assert status == 0, out
    # lossy_network seed 0 loses two messages; the duplicate that no_dedup delivers twice
    # needs only one of them (a lost acknowledgement, so the request is sent again).
    assert "message losses: 2 -> 1" in out
    assert re.search(r"shrunk \d+ events -> \d+ events \(\d+ replays\)", out)
    assert "request #0 was delivered twice" in out
    schedule_path = Path(".dsys/traces/lab0-no_dedup-lossy_network-seed0-shrunk.schedule.json")
    assert schedule_path.is_file()
    assert Path(".dsys/traces/lab0-no_dedup-lossy_network-seed0-shrunk.html").is_file()
    command = re.search(r"(dsys lab test lab0 .*--schedule \S+)", out)
    assert command is not None
    schedule = Schedule.load(schedule_path)
    assert schedule.meta["test"] == "lossy_network" and schedule.meta["seed"] == 0
    assert len(schedule.runs[0].losses()) == 1
    # The shrunk schedule fails the mutant again, exactly as saved ...
    status, out = run(command.group(1).split()[1:], capsys)
    assert status == 1
    assert "delivered twice" in out
    assert "the replay followed the old run for all its" in out
    assert "new messages (their own fate): 0" in out
    # ... and the solution (the "edited code") passes it, after following it for a while.
    status, out = run(["lab", "test", "lab0", "--impl", "solution.py", "--schedule",
                       str(schedule_path)], capsys)
    assert status == 0, out
    assert "PASS lossy_network seed 0 on the schedule" in out
    followed = re.search(r"followed the old run for (\d+) of its (\d+) events", out)
    assert followed is not None and 0 < int(followed.group(1)) < int(followed.group(2))


def test_shrinking_a_passing_seed_says_there_is_nothing_to_shrink(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run(["shrink", "lab0", "--reference", "--test", "lossy_network",
                       "--seed", "0"], capsys)
    assert status != 0
    assert "passes with seed 0: there is no failure to shrink" in out


def test_a_failure_panel_offers_the_shrink_command(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run(["lab", "test", "lab0", *MUTANT, "-j", "1"], capsys)
    assert status == 1
    assert ("dsys shrink lab0 --impl mutants/no_dedup.py --test lossy_network --seed 0"
            in out)


def test_a_schedule_without_test_or_seed_needs_them(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = Schedule().save(tmp_path / "empty.schedule.json")
    status, out = run(["lab", "test", "lab0", "--reference", "--schedule", str(path)], capsys)
    assert status != 0 and "give --test NAME and --seed N" in out


PLUGIN_TEST = """
from dsys import Network
from dsys.demos.pingpong import Pinger, Ponger

def test_lossy(simulation, dsys_seed):
    sim = simulation(network=Network(drop=0.3))
    sim.add_node("a", Pinger)
    sim.add_node("b", Ponger)
    sim.run(until=0.5)
    lost = sim.statistics().dropped
    assert not lost, f"{lost} lost"
"""


def test_pytest_plugin_saves_a_schedule_with_a_pinned_seed_and_replays_it(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sim=PLUGIN_TEST)
    result = pytester.runpytest("--dsys-seed", "1")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    match = re.search(r"schedule \(faults, losses, delays\) saved to (\S+);", out)
    assert match is not None, out
    path = pytester.path / match.group(1)
    assert path.is_file()
    assert Schedule.load(path).runs[0].losses()
    result = pytester.runpytest("--dsys-seed", "1", "--dsys-schedule", str(path))
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "replayed the schedule" in out and "0 new messages" in out
    assert "followed the old run for all its" in out
    # A schedule with no losses makes the same seed pass.
    Schedule.load(path).without_losses().save(path)
    pytester.runpytest("--dsys-seed", "1", "--dsys-schedule", str(path)).assert_outcomes(
        passed=1)
