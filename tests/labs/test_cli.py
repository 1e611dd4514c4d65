"""``dsys lab list|start|test``, as a student and an instructor use them."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dsys.cli import main
from dsys.labs import find_lab
from dsys.labs.attempts import MARKER, find_attempt
from dsys.trace.events import Trace

ROOT = Path(__file__).resolve().parents[2]
LAB0 = find_lab("lab0")
MUTANTS = LAB0.path / "mutants"
SOLUTION = LAB0.path / "solution.py"
NONDETERMINISTIC = Path(__file__).resolve().parent / "nondeterministic"


@pytest.fixture(autouse=True)
def workplace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current folder, a private state folder, wide output without colour."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("DSYS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "220")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("DSYS_LABS", raising=False)
    return work


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(args)
    out, err = capsys.readouterr()
    return status, out, err


def replay_of(output: str) -> list[str]:
    match = re.search(r"^.*replay: (dsys lab test .*?)\s*[│|]?\s*$", output, re.M)
    assert match is not None, output
    return shlex.split(match.group(1))[1:]


# ----- list and start ----------------------------------------------------------------------------


def test_list_shows_each_lab_its_points_and_the_attempt(capsys: pytest.CaptureFixture[str],
                                                        workplace: Path) -> None:
    status, out, _ = run(["lab", "list"], capsys)
    assert status == 0
    assert "lab0" in out and "100" in out and "not started" in out
    run(["lab", "start", "lab0", "attempt"], capsys)
    _, out, _ = run(["lab", "list"], capsys)
    assert f"started in {workplace / 'attempt'}" in out


def test_start_copies_the_starter_and_the_handout(capsys: pytest.CaptureFixture[str],
                                                  workplace: Path) -> None:
    status, out, _ = run(["lab", "start", "0", "my lab"], capsys)  # by alias, a folder to make
    assert status == 0
    folder = workplace / "my lab"
    lab = find_lab("lab0")
    assert (folder / "reliable.py").read_text() == (lab.starter_dir / "reliable.py").read_text()
    assert (folder / "README.md").read_text() == lab.readme.read_text()
    assert (folder / "try_it.py").is_file()
    assert json.loads((folder / MARKER).read_text())["lab"] == "lab0"
    assert "dsys lab test lab0" in out


def test_start_never_overwrites_work_without_force(capsys: pytest.CaptureFixture[str],
                                                   workplace: Path) -> None:
    run(["lab", "start", "lab0", "a"], capsys)
    (workplace / "a" / "reliable.py").write_text("# my work\n")
    status, _, err = run(["lab", "start", "lab0", "a"], capsys)
    assert status == 2 and "not overwriting" in err and "--force" in err
    assert (workplace / "a" / "reliable.py").read_text() == "# my work\n"
    assert run(["lab", "start", "lab0", "a", "--force"], capsys)[0] == 0
    assert (workplace / "a" / "reliable.py").read_text() != "# my work\n"


def test_unknown_lab_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["lab", "start", "lab99", "x"], capsys)
    assert status == 2 and out == ""
    from dsys.labs.lab import discover

    names = ", ".join(lab.name for lab in discover())
    assert "lab0" in names
    assert err == (f"dsys: error: no lab named 'lab99'; the labs are: {names} "
                   "(see `dsys lab list`)\n")


# ----- grading an attempt ------------------------------------------------------------------------


def test_without_an_attempt_test_says_how_to_start(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["lab", "test", "lab0"], capsys)
    assert status == 2 and "dsys lab start lab0 DIR" in err and "--impl" in err


def test_the_starter_fails_with_seed_trace_and_replay(capsys: pytest.CaptureFixture[str],
                                                      workplace: Path) -> None:
    run(["lab", "start", "lab0", "attempt"], capsys)
    status, out, _ = run(["lab", "test", "lab0", "-x"], capsys)
    assert status == 1
    assert "FAIL perfect_network (seed 0)" in out
    assert "replay: dsys lab test lab0 --test perfect_network --seed 0" in out
    assert "last trace events:" in out and "send Request" in out
    # Named after the implementation: grading another file does not overwrite it.
    assert (workplace / ".dsys" / "traces" / f"{LAB0.name}-reliable-perfect_network-seed0.jsonl"
            ).is_file()
    assert "Score: 0/100" in out and "not run" in out


def test_a_solved_attempt_passes_and_its_score_is_recorded(
        capsys: pytest.CaptureFixture[str], workplace: Path) -> None:
    run(["lab", "start", "lab0", "attempt"], capsys)
    shutil.copyfile(SOLUTION, workplace / "attempt" / "reliable.py")
    # Run from the folder above the attempt: it is found through the state file.
    status, out, _ = run(["lab", "test", "lab0"], capsys)
    assert status == 0, out
    assert "Score: 100/100" in out and "FAIL" not in out
    attempt = find_attempt(find_lab("lab0"))
    assert attempt is not None and (attempt.earned, attempt.total) == (100, 100)
    _, listing, _ = run(["lab", "list"], capsys)
    assert "100/100" in listing


def test_a_partial_grading_is_not_recorded(capsys: pytest.CaptureFixture[str],
                                           workplace: Path) -> None:
    run(["lab", "start", "lab0", "attempt"], capsys)
    shutil.copyfile(SOLUTION, workplace / "attempt" / "reliable.py")
    status, out, _ = run(["lab", "test", "lab0", "--runs", "1"], capsys)
    assert status == 0
    assert "Not recorded as your grade: this grading ran fewer seeds than the full grade" in out
    attempt = find_attempt(find_lab("lab0"))
    assert attempt is not None and attempt.earned is None


def test_more_seeds_than_the_grade_is_not_called_partial(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["lab", "test", "lab0", "--reference", "--test", "perfect_network",
                          "--runs", "12"], capsys)
    assert status == 0 and "partial" not in out.lower()
    assert "ran more seeds than the full grade (12 per test)" in " ".join(out.split())
    status, out, _ = run(["lab", "test", "lab0", "--reference", "--test", "perfect_network",
                          "--seed", "3"], capsys)
    assert status == 0 and "ran one seed per test (seed 3)" in " ".join(out.split())


def test_the_attempt_of_the_current_folder_comes_first(capsys: pytest.CaptureFixture[str],
                                                       workplace: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    run(["lab", "start", "lab0", "one"], capsys)
    run(["lab", "start", "lab0", "two"], capsys)  # the state file now points at "two"
    shutil.copyfile(SOLUTION, workplace / "one" / "reliable.py")
    monkeypatch.chdir(workplace / "one")
    status, out, _ = run(["lab", "test", "lab0", "--runs", "1"], capsys)
    assert status == 0 and str(workplace / "one" / "reliable.py") in out.replace("\n", "")


# ----- grading files: mutants, the reference ---------------------------------------------------


def test_reference_scores_full_points(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["lab", "test", "lab0", "--reference"], capsys)
    assert status == 0 and "Score: 100/100" in out


@pytest.mark.parametrize("mutant", sorted(MUTANTS.glob("*.py")), ids=lambda p: p.stem)
def test_every_mutant_fails_on_the_command_line(mutant: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["lab", "test", "lab0", "--impl", str(mutant), "-x"], capsys)
    assert status == 1 and "FAIL" in out


def test_the_replay_command_replays_exactly_that_failure(
        capsys: pytest.CaptureFixture[str], workplace: Path) -> None:
    mutant = str(MUTANTS / "dedup_last_only.py")
    status, out, _ = run(["lab", "test", "lab0", "--impl", mutant, "-x"], capsys)
    assert status == 1
    args = replay_of(out)
    assert args[:4] == ["lab", "test", "lab0", "--impl"] and args[4] == mutant
    headline = re.search(r"(seed \d+: .*)", out)
    assert headline is not None
    trace = next((workplace / ".dsys" / "traces").glob("*.jsonl"))
    first = Trace.load(trace).digest()
    status, again, _ = run(args, capsys)
    assert status == 1
    assert headline.group(1) in again
    assert Trace.load(trace).digest() == first  # saved again, identical


def test_bad_options_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["lab", "test", "lab0", "--reference", "--test", "nope"], capsys)
    assert status == 2 and "has no test 'nope'" in err and "perfect_network" in err
    status, _, err = run(["lab", "test", "lab0", "--reference", "--runs", "0"], capsys)
    assert status == 2 and "--runs" in err
    status, _, err = run(["lab", "test", "lab0", "--impl", "missing.py"], capsys)
    assert status == 2 and "no such file: missing.py" in err
    with pytest.raises(SystemExit):
        main(["lab", "test", "lab0", "--reference", "--impl", "x.py"])


def test_try_it_runs_an_attempt_once(capsys: pytest.CaptureFixture[str], workplace: Path) -> None:
    run(["lab", "start", "lab0", "attempt"], capsys)
    shutil.copyfile(SOLUTION, workplace / "attempt" / "reliable.py")
    result = subprocess.run(
        [sys.executable, "try_it.py", "3", "--requests", "4", "--svg", "run.svg"],
        cwd=workplace / "attempt", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "delivered: ['request 0', 'request 1', 'request 2', 'request 3']" in result.stdout
    assert "client done: True" in result.stdout
    assert (workplace / "attempt" / "run.svg").read_text().startswith("<svg")


def test_mutant_paths_are_found_in_the_lab_folder_from_anywhere(
        capsys: pytest.CaptureFixture[str]) -> None:
    # From an empty folder (as with an installed wheel), both spellings find the mutant.
    for path in ("mutants/no_dedup.py", "labs/lab0/mutants/no_dedup.py"):
        status, out, _ = run(["lab", "test", "lab0", "--impl", path, "-x"], capsys)
        assert status == 1 and "FAIL" in out
        assert f"replay: dsys lab test lab0 --impl {path} --test" in out


# ----- determinism, parallel grading, trace names, the reference -------------------------------


def flat(output: str) -> str:
    """The output without panel borders and line breaks (rich wraps long lines)."""
    return " ".join(output.replace("│", " ").split())


def without_timing(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if not line.startswith("graded in "))


def test_jobs_change_the_time_but_not_what_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["lab", "test", "lab0", "--impl", str(MUTANTS / "dedup_last_only.py")]
    status_one, one, _ = run([*args, "--jobs", "1"], capsys)
    status_two, two, _ = run([*args, "--jobs", "2"], capsys)
    assert status_one == status_two == 1
    assert "FAIL" in one and "failed on seed" in one and "Score: " in one
    assert re.search(r"^graded in [\d.]+ s \(\d+ runs, --jobs 1\)$", one, re.M), one
    assert re.search(r"^graded in [\d.]+ s \(\d+ runs, --jobs 2\)$", two, re.M), two
    assert without_timing(one) == without_timing(two)


def test_traces_are_named_after_the_implementation(capsys: pytest.CaptureFixture[str],
                                                   workplace: Path) -> None:
    run(["lab", "start", "lab0", "attempt"], capsys)
    run(["lab", "test", "lab0", "-x"], capsys)
    traces = workplace / ".dsys" / "traces"
    mine = traces / f"{LAB0.name}-reliable-perfect_network-seed0.jsonl"
    before = mine.read_bytes()
    status, _, _ = run(["lab", "test", "lab0", "--impl", str(MUTANTS / "no_retransmission.py"),
                        "-x"], capsys)
    assert status == 1
    assert mine.read_bytes() == before  # the student's own failing trace is still there
    assert any(p.name.startswith(f"{LAB0.name}-no_retransmission-") for p in traces.iterdir())


def test_a_nondeterministic_implementation_fails_with_the_likely_causes(
        capsys: pytest.CaptureFixture[str]) -> None:
    impl = NONDETERMINISTIC / "lab0_set_order.py"
    status, out, _ = run(["lab", "test", "lab0", "--impl", str(impl), "--test",
                          "perfect_network", "--runs", "2"], capsys)
    text = flat(out)
    assert status == 1
    assert ("not deterministic: seed 0 gave two different runs (graded under PYTHONHASHSEED=0, "
            "then run again in a fresh process under PYTHONHASHSEED=1)") in text
    for cause in ("global `random`", "wall clock", "set of strings", "id() or hash()"):
        assert cause in text
    assert "first run:" in text and "second run:" in text and "distinct requests:" in text
    assert "the events before the runs part:" in text
    assert "-again.jsonl" in text
    assert f"replay: dsys lab test lab0 --impl {impl} --test perfect_network --seed 0" in text


def test_bad_jobs_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["lab", "test", "lab0", "--reference", "--jobs", "0"], capsys)
    assert status == 2 and "--jobs must be at least 1" in err


def test_reference_says_where_it_is_when_this_installation_has_none(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # As installed from a wheel: the lab folders, without their solutions.
    installed = tmp_path / "installed"
    shutil.copytree(LAB0.path, installed / LAB0.name,
                    ignore=shutil.ignore_patterns("solution.py", "__pycache__"))
    monkeypatch.setenv("DSYS_LABS", str(installed))
    status, out, err = run(["lab", "test", "lab0", "--reference"], capsys)
    assert status == 2 and out == ""
    assert "not shipped in the dsys package" in err
    assert f"labs/{LAB0.name}/solution.py" in err and "clone" in err
