"""`dsys check model --from FILE --at EVENT`: the model checker starts from the state a
failing lab run reached (named by its shrunk schedule or its saved trace), finds a
violation from there, and confirms it by replaying the run and the path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dsys.cli import main
from dsys.labs.branch import branch_point, source_of
from dsys.sim.simulation import Simulation


@pytest.fixture(autouse=True)
def workplace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(Path(__file__).parents[2] / "labs" / "lab4-raft-election")
    monkeypatch.setenv("DSYS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("DSYS_LABS", raising=False)
    return tmp_path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(args)
    out, err = capsys.readouterr()
    return status, out + err


MUTANT = ["--impl", "mutants/votes_twice_in_a_term.py", "--test", "many_elections",
          "--seed", "0"]


@pytest.fixture
def shrunk(capsys: pytest.CaptureFixture[str], tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shrunk schedule of a mutant that grants two votes in one term."""
    saved = Path(".dsys/traces")
    before = set(saved.glob("*")) if saved.is_dir() else set()
    status, out = run(["shrink", "lab4", *MUTANT], capsys)
    assert status == 0, out
    path = saved / "lab4-raft-election-votes_twice_in_a_term-many_elections-seed0-shrunk" \
        ".schedule.json"
    assert path.is_file(), out
    kept = tmp_path / path.name
    kept.write_bytes(path.read_bytes())
    # Leave the lab folder as it was (the lab's .dsys/ is the student's).
    for made in set(saved.glob("*")) - before:
        made.unlink()
    return kept


def test_branching_before_the_end_of_a_shrunk_run_finds_and_confirms_the_violation(
        shrunk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run(["check", "model", "--from", str(shrunk), "--at", "-20",
                       "--depth", "8"], capsys)
    assert status == 1, out
    branched = re.search(r"branching from lab4-raft-election many_elections seed 0 on its "
                         r"schedule \(votes_twice_in_a_term\.py\), simulation 0 after "
                         r"(\d+) trace events", out)
    assert branched is not None, out
    assert "bfs: VIOLATION" in out
    assert re.search(r"confirmed: .*both lead term \d+", out), out
    # The counterexample is saved beside the schedule, with its timeline page: the run up
    # to the branch point, then the path, both marked.
    trace = shrunk.with_name(shrunk.name.replace(".schedule.json", "-branch.jsonl"))
    assert f"trace saved to {trace}" in out and trace.is_file()
    page = trace.with_suffix(".html")
    assert f"timeline: {page}" in out
    html = page.read_text()
    assert "branch point: the run until here, then the model checker's path (3 steps)" in html
    assert "both lead term" in html


def test_the_fixed_code_from_the_same_point_is_not_confirmed_or_safe(
        shrunk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The reference from the same schedule: every order of the next three steps is safe.
    status, out = run(["check", "model", "--from", str(shrunk), "--at", "-20", "--depth",
                       "3", "--impl", "solution.py"], capsys)
    assert "(solution.py)" in out
    assert status == 0, out
    assert "confirmed" not in out


def test_a_branch_point_is_the_run_stopped_after_that_many_events(shrunk: Path) -> None:
    source = source_of(shrunk)
    assert (source.lab.name, source.test.name, source.seed) == \
        ("lab4-raft-election", "many_elections", 0)
    # Stopped after the event that records the 50th trace entry (one event may record a
    # few: a receive and the sends it makes).
    sim, rebuild = branch_point(source, 50)
    assert isinstance(sim, Simulation) and 50 <= len(sim.trace) < 60
    again = rebuild()
    assert again.trace.digest() == sim.trace.digest()
    end, _ = branch_point(source, -1)
    late, _ = branch_point(source, -20)
    assert 0 < len(end.trace) - len(late.trace) <= 19
    assert late.now <= end.now


def test_bad_branch_requests_say_what_to_do(shrunk: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run(["check", "model", "--from", str(shrunk), "--at", "-100000",
                       "--depth", "2"], capsys)
    assert status != 0 and "is before its start" in out
    status, out = run(["check", "model", "--from", str(shrunk), "--at", "100000000",
                       "--depth", "2"], capsys)
    assert status != 0 and "choose an earlier --at" in out
    status, out = run(["check", "model", "--from", str(tmp_path / "nope.jsonl")], capsys)
    assert status != 0 and "no such file" in out
    odd = tmp_path / "run.jsonl"
    odd.write_text("")
    status, out = run(["check", "model", "--from", str(odd)], capsys)
    assert status != 0 and "is not a trace saved by a lab run" in out
    status, out = run(["check", "model", "some.module:Node", "--from", str(shrunk)], capsys)
    assert status != 0 and "give no TARGET" in out
