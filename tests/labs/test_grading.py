"""The grading framework: graded tests, seeds, failures, replays, loading implementations."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import attrs
import pytest

from dsys import Node, Simulation
from dsys.errors import ConfigError, UsageError
from dsys.labs import GradedTest, Lab, Trial, discover, find_lab, grade, graded, load_grader
from dsys.labs.grading import load_implementation, load_reference, run_trial
from dsys.trace.events import Trace
from tests.labs.helpers import CRASHING, GRADER, make_lab


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return Lab.load(make_lab(tmp_path / "labs"))


# ----- declaring graded tests -------------------------------------------------------------------


def test_graded_takes_points_runs_and_the_docstring_as_title() -> None:
    @graded(points=4, runs=3)
    def checks_something(trial: Trial) -> None:
        """Checks something.

        More details that students do not see in the table.
        """

    assert (checks_something.name, checks_something.points, checks_something.runs) == (
        "checks_something", 4, 3)
    assert checks_something.title == "Checks something."


@pytest.mark.parametrize("bad", [{"points": 0}, {"points": True}, {"points": 1, "runs": 0}])
def test_graded_rejects_bad_points_and_runs(bad: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        graded(**bad)


def test_graded_requires_a_docstring() -> None:
    with pytest.raises(ConfigError, match="docstring"):
        @graded(points=1)
        def silent(trial: Trial) -> None:
            pass


# ----- grading -----------------------------------------------------------------------------------


def test_reference_earns_every_point_over_every_seed(lab: Lab) -> None:
    result = grade(lab, load_reference(lab))
    assert result.passed and (result.earned, result.total) == (10, 10)
    assert [outcome.seeds for outcome in result.results] == [tuple(range(4)), tuple(range(25))]


def test_seeds_can_be_chosen(lab: Lab) -> None:
    result = grade(lab, load_reference(lab), first_seed=40, runs=2)
    assert [outcome.seeds for outcome in result.results] == [(40, 41), (40, 41)]


def test_a_failing_test_stops_at_its_first_failing_seed(lab: Lab, tmp_path: Path) -> None:
    mutant = load_implementation(lab, lab.path / "mutants" / "no_retry.py")
    result = grade(lab, mutant, trace_dir=tmp_path,
                   replay=lambda test, seed: f"replay {test} {seed}")
    perfect, lossy = result.results
    assert perfect.passed and not lossy.passed
    assert (result.earned, result.total) == (3, 10)
    failure = lossy.failure
    assert failure is not None
    assert lossy.seeds[-1] == failure.seed and len(lossy.seeds) == failure.seed + 1
    assert failure.message == "no echo after 5 s"
    assert failure.replay == f"replay lossy {failure.seed}"
    assert "drop" in failure.excerpt  # the lost greeting is in the excerpt
    (path,) = failure.trace_paths
    assert path.name == f"echo-no_retry-lossy-seed{failure.seed}.jsonl"  # named after the file
    assert Trace.load(path).filter(kinds=["drop"])


def test_a_failure_replays_exactly(lab: Lab, tmp_path: Path) -> None:
    mutant = load_implementation(lab, lab.path / "mutants" / "no_retry.py")
    first = grade(lab, mutant, trace_dir=tmp_path / "first").failures[0]
    lossy = next(test for test in load_grader(lab) if test.name == first.test)
    again = run_trial(lab, mutant, lossy, first.seed, replay="r", trace_dir=tmp_path / "again")
    assert again is not None
    assert again.message == first.message and again.excerpt == first.excerpt
    assert Trace.load(again.trace_paths[0]).digest() == Trace.load(first.trace_paths[0]).digest()


def test_fail_fast_stops_at_the_first_failing_test(lab: Lab) -> None:
    crashing = load_implementation(lab, lab.path / "mutants" / "crashing.py")
    assert len(grade(lab, crashing).results) == 2
    assert len(grade(lab, crashing, fail_fast=True).results) == 1


def test_a_crash_in_a_handler_points_at_the_students_line(lab: Lab) -> None:
    crashing = load_implementation(lab, lab.path / "mutants" / "crashing.py")
    failure = grade(lab, crashing, fail_fast=True).failures[0]
    assert "ZeroDivisionError" in failure.message
    assert "on_message" in failure.message  # which handler, on which event
    assert failure.where is not None
    line = CRASHING.splitlines().index("                1 / 0") + 1
    assert failure.where == f"{lab.path / 'mutants' / 'crashing.py'}:{line} in on_message"
    # What the implementation printed is kept for the report, not sent to the terminal.
    assert failure.output == "about to divide"


def test_progress_callbacks_see_every_run_and_every_test(lab: Lab) -> None:
    runs: list[tuple[str, int]] = []
    tests: list[str] = []
    grade(lab, load_reference(lab), runs=2, on_trial=lambda t, s: runs.append((t.name, s)),
          on_outcome=lambda o: tests.append(o.test.name))
    assert runs == [("perfect", 0), ("perfect", 1), ("lossy", 0), ("lossy", 1)]
    assert tests == ["perfect", "lossy"]


def test_a_run_stuck_in_a_loop_fails_instead_of_hanging() -> None:
    class Spinner(Node):
        def on_start(self) -> None:
            self.set_timer("spin", 0.0)

        def on_timer(self, name: str) -> None:
            self.set_timer("spin", 0.0)  # virtual time never advances

    trial = Trial(None, 0, "spin", max_events=500)  # type: ignore[arg-type]
    sim = trial.simulation()
    sim.add_node("a", Spinner)
    with pytest.raises(AssertionError, match="more than 500 events"):
        trial.run(sim, 1.0)


def test_trial_randomness_depends_on_seed_and_test_only() -> None:
    draws = [Trial(None, seed, name).rng.random()  # type: ignore[arg-type]
             for seed, name in [(1, "a"), (1, "a"), (2, "a"), (1, "b")]]
    assert draws[0] == draws[1] and len(set(draws)) == 3
    assert isinstance(Trial(None, 5, "a").simulation(), Simulation)  # type: ignore[arg-type]


# ----- loading implementations ------------------------------------------------------------------


def test_implementations_with_the_same_message_names_do_not_clash(lab: Lab) -> None:
    # Both files define a message class Echo; each must decode into its own class, or the
    # reference's `case Echo()` would stop matching once the mutant is loaded.
    reference = load_implementation(lab, lab.path / "solution.py")
    load_implementation(lab, lab.path / "mutants" / "no_retry.py")
    assert grade(lab, reference).passed


def test_a_missing_file_is_a_usage_error(lab: Lab, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        load_implementation(lab, tmp_path / "nowhere.py")
    (tmp_path / "notes.txt").write_text("x = 1\n")
    with pytest.raises(UsageError, match="not a Python file"):
        load_implementation(lab, tmp_path / "notes.txt")


def test_a_syntax_error_says_where(lab: Lab, tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("x = 1\ndef f(:\n")
    with pytest.raises(UsageError, match=r"broken.py:2: syntax error"):
        load_implementation(lab, broken)


def test_an_error_while_loading_says_where(lab: Lab, tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import math\n\nvalue = math.sqrt(-1)\n")
    with pytest.raises(UsageError, match=r"broken.py:3 in <module>: loading it raised ValueError"):
        load_implementation(lab, broken)


def test_missing_names_are_listed(lab: Lab, tmp_path: Path) -> None:
    partial = tmp_path / "partial.py"
    partial.write_text("class Client:\n    pass\n")
    with pytest.raises(UsageError, match="does not define Server"):
        load_implementation(lab, partial)


def test_an_implementation_can_import_files_beside_it(lab: Lab, tmp_path: Path) -> None:
    (tmp_path / "helper_for_lab_test.py").write_text("GREETING = 'hi'\n")
    solution = (lab.path / "solution.py").read_text()
    (tmp_path / "impl.py").write_text("import helper_for_lab_test\n" + solution)
    assert grade(lab, load_implementation(lab, tmp_path / "impl.py"), runs=1).passed


# ----- finding labs ------------------------------------------------------------------------------


def test_labs_are_found_by_name_or_alias_in_natural_order(tmp_path: Path) -> None:
    root = tmp_path / "labs"
    for name in ("lab10", "lab2", "lab1"):
        make_lab(root, name, toml=f'title = "{name}"\ntopic = "t"\nimplementation = "echo.py"\n'
                 f'reference = "solution.py"\naliases = ["{name}-alias"]\n')
    (root / "not-a-lab").mkdir()
    assert [lab.name for lab in discover(root)] == ["lab1", "lab2", "lab10"]
    assert find_lab("lab2-alias", root).name == "lab2"
    with pytest.raises(UsageError, match=r"no lab named 'lab3'.*lab1, lab2, lab10"):
        find_lab("lab3", root)


def test_the_labs_folder_can_be_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_lab(tmp_path / "mine")
    monkeypatch.setenv("DSYS_LABS", str(tmp_path / "mine"))
    assert [lab.name for lab in discover()] == ["echo"]
    monkeypatch.setenv("DSYS_LABS", str(tmp_path / "nowhere"))
    with pytest.raises(UsageError, match="not a folder"):
        discover()


def test_a_bad_lab_toml_is_a_config_error(tmp_path: Path) -> None:
    folder = make_lab(tmp_path, toml='title = "no topic"\n')
    with pytest.raises(ConfigError, match="missing string key"):
        Lab.load(folder)
    (folder / "lab.toml").write_text("title = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Lab.load(folder)


def test_a_grader_without_graded_tests_is_a_config_error(tmp_path: Path) -> None:
    lab = Lab.load(make_lab(tmp_path, grader="X = 1\n"))
    with pytest.raises(ConfigError, match="no graded tests"):
        load_grader(lab)


def test_a_test_can_focus_the_failure_excerpt_on_the_events_that_explain_it(lab: Lab) -> None:
    from dsys.demos.pingpong import Pinger, Ponger
    from dsys.labs import GradedTest

    def late_check(trial: Trial) -> None:
        """A check made at the end, about something early in the run."""
        sim = trial.simulation()
        sim.add_node("a", Pinger)
        sim.add_node("b", Ponger)
        trial.run(sim, 1.0)
        trial.focus(end=0.01, nodes=["b"])
        raise AssertionError("the first ping was answered too late")

    def unfocused(trial: Trial) -> None:
        """The same check, without saying where to look."""
        sim = trial.simulation()
        sim.add_node("a", Pinger)
        sim.add_node("b", Ponger)
        trial.run(sim, 1.0)
        raise AssertionError("the first ping was answered too late")

    impl = load_reference(lab)
    focused = run_trial(lab, impl, GradedTest("late", 1, 1, late_check, "late"), 0, replay="x")
    plain = run_trial(lab, impl, GradedTest("plain", 1, 1, unfocused, "plain"), 0, replay="x")
    assert focused is not None and plain is not None
    times = [float(line.split()[0]) for line in focused.excerpt.splitlines()]
    assert times and max(times) <= 0.01
    assert all(line.split()[1] == "b" for line in focused.excerpt.splitlines())
    assert "all 10 pongs received" in plain.excerpt  # the default: the end of the run


# ----- determinism: every graded implementation must be a function of its seed -----------------

NONDETERMINISTIC = Path(__file__).resolve().parent / "nondeterministic"

CAUSES = ("global `random`", "wall clock", "set of strings", "id() or hash()")


def only(lab: Lab, name: str) -> list[GradedTest]:
    return [test for test in load_grader(lab) if test.name == name]


def test_a_run_that_differs_in_the_same_process_fails_with_the_likely_causes(
        tmp_path: Path) -> None:
    lab0 = find_lab("lab0")
    impl = load_implementation(lab0, NONDETERMINISTIC / "lab0_global_random.py")
    result = grade(lab0, impl, tests=only(lab0, "perfect_network"), runs=3, trace_dir=tmp_path)
    (outcome,) = result.results
    failure = outcome.failure
    assert failure is not None and failure.nondeterministic
    assert outcome.seeds == (0,) and failure.seed == 0  # the first seed is the one checked
    assert failure.message.startswith("not deterministic: seed 0 gave two different runs "
                                      "(run twice in the same process)")
    assert all(cause in failure.message for cause in CAUSES)
    # Where the runs part: the retry timer, armed with two different random delays.
    first = re.search(r"first run: .*timer_set +timer retry set for ([\d.]+)", failure.message)
    second = re.search(r"second run: .*timer_set +timer retry set for ([\d.]+)", failure.message)
    assert first and second and first[1] != second[1]
    assert "send Request" in failure.excerpt  # the events that led there
    assert [p.name.endswith("-again.jsonl") for p in failure.trace_paths] == [False, True]
    assert failure.replay == f"dsys lab test {lab0.name} --test perfect_network --seed 0"


def test_without_the_check_the_nondeterministic_implementation_would_pass() -> None:
    lab0 = find_lab("lab0")
    impl = load_implementation(lab0, NONDETERMINISTIC / "lab0_global_random.py")
    assert grade(lab0, impl, tests=only(lab0, "perfect_network"), runs=3,
                 check_determinism=False).passed


@pytest.mark.parametrize(("lab_name", "file", "test"), [
    ("lab0", "lab0_set_order.py", "perfect_network"),
    ("lab1", "lab1_set_of_peers.py", "calm_network"),
])
def test_a_run_that_depends_on_the_hash_seed_fails_in_a_fresh_process(
        lab_name: str, file: str, test: str) -> None:
    lab = find_lab(lab_name)
    impl = load_implementation(lab, NONDETERMINISTIC / file)
    # Graded under PYTHONHASHSEED=0 (as `dsys lab test` does), checked under 1: the two
    # orders of the set are fixed, and differ.
    result = grade(lab, impl, tests=only(lab, test), runs=2, hash_seed=0)
    failure = result.failures[0]
    assert failure.nondeterministic and failure.seed == 0
    assert ("(graded under PYTHONHASHSEED=0, then run again in a fresh process under "
            "PYTHONHASHSEED=1)") in failure.message
    assert all(cause in failure.message for cause in CAUSES)
    assert "first run:" in failure.message and "second run:" in failure.message


def test_a_failure_that_does_not_replay_is_reported_as_such(lab: Lab) -> None:
    # Fails on the first run of seed 2 only: its replay would pass.
    runs: Counter[int] = Counter()

    def flaky(trial: Trial) -> None:
        """Fails once."""
        runs[trial.seed] += 1
        sim = trial.simulation()
        sim.add_node("server", trial.impl.Server)
        trial.run(sim, 0.1)
        assert not (trial.seed == 2 and runs[2] == 1), "seed 2 failed"

    result = grade(lab, load_reference(lab), tests=[GradedTest("flaky", 1, 4, flaky, "x")])
    failure = result.failures[0]
    assert failure.nondeterministic and failure.seed == 2
    assert "The two traces are the same, but the outcome differs: the first run failed " \
           "(seed 2 failed), the second passed." in failure.message


def test_graded_code_runs_under_the_grading_hash_seed(tmp_path: Path) -> None:
    words = '{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"}'
    grader = GRADER + f'''

@graded(points=1, runs=1)
def hash_order(trial: Trial) -> None:
    """Fails, saying in which order it iterates over a set of strings."""
    raise AssertionError(" ".join({words}))
'''
    lab = Lab.load(make_lab(tmp_path / "labs", grader=grader))
    under_0 = subprocess.run([sys.executable, "-c", f"print(' '.join({words}))"],
                             env={**os.environ, "PYTHONHASHSEED": "0"},
                             capture_output=True, text=True, check=True).stdout.strip()
    result = grade(lab, load_reference(lab), tests=only(lab, "hash_order"), hash_seed=0,
                   check_determinism=False)
    assert result.failures[0].message == under_0


# ----- grading in parallel ---------------------------------------------------------------------


def test_jobs_give_the_same_outcomes_in_the_same_order(lab: Lab, tmp_path: Path) -> None:
    mutant = load_implementation(lab, lab.path / "mutants" / "no_retry.py")

    def graded(jobs: int) -> tuple[list[tuple[str, int]], list[object]]:
        trials: list[tuple[str, int]] = []
        result = grade(lab, mutant, jobs=jobs, trace_dir=tmp_path / str(jobs),
                       on_trial=lambda test, seed: trials.append((test.name, seed)))
        outcomes: list[object] = [
            (o.test.name, o.seeds, o.earned, o.failure and attrs.evolve(o.failure, trace_paths=()))
            for o in result.results]
        return trials, outcomes

    assert graded(1) == graded(3)
    assert sorted(p.name for p in (tmp_path / "1").iterdir()) == sorted(
        p.name for p in (tmp_path / "3").iterdir())


def test_a_worker_that_dies_is_a_clear_error(lab: Lab, tmp_path: Path) -> None:
    exits = tmp_path / "exits.py"
    exits.write_text((lab.path / "solution.py").read_text().replace(
        "                self.send(src, msg)", "                import os; os._exit(3)"))
    impl = load_implementation(lab, exits)
    with pytest.raises(UsageError, match="a grading process died while running perfect"):
        grade(lab, impl, jobs=2, check_determinism=False)


def test_a_test_no_seed_changes_runs_once_whatever_the_grading_asks() -> None:
    from dsys.errors import ConfigError
    from dsys.labs.grading import seeds_for

    @graded(points=1, runs=1, seeded=False)
    def searched(trial: Trial) -> None:
        """A search: the same verdict for every seed."""

    @graded(points=1, runs=5)
    def sampled(trial: Trial) -> None:
        """Seeds."""

    assert list(seeds_for(searched, 7, runs=100)) == [7]
    assert list(seeds_for(sampled, 7, runs=3)) == [7, 8, 9]
    assert list(seeds_for(sampled, 0)) == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigError, match="runs once"):
        graded(points=1, runs=2, seeded=False)
