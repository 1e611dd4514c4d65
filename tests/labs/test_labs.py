"""Every lab, present and future: the reference solution earns every point, every mutant
loses some (to the test the table of ``caught_by.py`` names, when it names one), the
starter is not already a solution, and the handout's points table matches the grader.

Labs are discovered by scanning ``labs/``, so a new lab folder is covered without touching
this file.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from dsys.labs import (
    Lab,
    discover,
    grade,
    load_grader,
    load_implementation,
    load_reference,
)
from tests.labs.caught_by import caught_by, table_of

ROOT = Path(__file__).resolve().parents[2]
LABS = discover(ROOT / "labs")
MUTANTS = [(lab, mutant) for lab in LABS for mutant in lab.mutants()]

#: Worker processes for grading the references (the results are the same as in one
#: process; the mutants, mostly caught on their first seeds, are faster in one).
JOBS = 2


def test_the_labs_folder_holds_lab0() -> None:
    assert "lab0" in [lab.name for lab in LABS]


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.name)
def test_lab_folder_is_complete(lab: Lab) -> None:
    assert lab.readme.is_file(), f"{lab.name} has no README.md"
    assert lab.grader_path.is_file(), f"{lab.name} has no grader.py"
    starter = [p.relative_to(lab.starter_dir).as_posix() for p in lab.starter_files()]
    assert lab.implementation in starter, f"{lab.name}: starter/ lacks {lab.implementation}"
    assert len(lab.mutants()) >= 1, f"{lab.name} has no mutants: the grader is untested"
    tests = load_grader(lab)
    assert sum(test.points for test in tests) > 0
    assert all(test.title.strip() for test in tests)
    assert len({test.name for test in tests}) == len(tests)


#: Seeds per graded test when the default run grades a reference; the soak run grades
#: every seed a student's grading runs (and each lab's own checks go to 100 seeds).
REFERENCE_RUNS = 4


def _grade_reference(lab: Lab, tmp_path: Path, runs: int | None) -> None:
    tests = [test if runs is None else attrs.evolve(test, runs=min(test.runs, runs))
             for test in load_grader(lab)]
    result = grade(lab, load_reference(lab), tests=tests, trace_dir=tmp_path, jobs=JOBS)
    failures = "\n\n".join(f"{f.test} seed {f.seed}: {f.message}\n{f.excerpt}"
                           for f in result.failures)
    assert result.passed and result.earned == result.total, failures


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.name)
def test_reference_solution_earns_every_point(lab: Lab, tmp_path: Path) -> None:
    """Every graded test, on its first seeds (all of them: the soak test below)."""
    _grade_reference(lab, tmp_path, REFERENCE_RUNS)


@pytest.mark.soak
@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.name)
def test_reference_solution_earns_every_point_on_every_graded_seed(lab: Lab,
                                                                   tmp_path: Path) -> None:
    _grade_reference(lab, tmp_path, None)


@pytest.mark.parametrize(("lab", "mutant"), MUTANTS,
                         ids=[f"{lab.name}-{mutant.stem}" for lab, mutant in MUTANTS])
def test_every_mutant_loses_points(lab: Lab, mutant: Path, tmp_path: Path) -> None:
    impl = load_implementation(lab, mutant)
    expected = caught_by(lab, mutant)
    if expected is None:
        result = grade(lab, impl, trace_dir=tmp_path, fail_fast=True)
        assert not result.passed, f"the grader of {lab.name} gives full points to {mutant.name}"
    else:
        # The test written for this mutant rejects it (that no earlier test does is
        # checked by the soak test below: it grades every test).
        tests = [test for test in load_grader(lab) if test.name == expected]
        assert tests, f"caught_by.py names {expected} for {mutant.name}: no such test"
        result = grade(lab, impl, tests=tests, trace_dir=tmp_path, fail_fast=True)
        assert not result.passed, f"{lab.name}'s {expected} does not reject {mutant.name}"
    failure = result.failures[0]
    assert failure.replay and failure.trace_paths and failure.trace_paths[0].is_file()


@pytest.mark.soak
@pytest.mark.parametrize(("lab", "mutant"), MUTANTS,
                         ids=[f"{lab.name}-{mutant.stem}" for lab, mutant in MUTANTS])
def test_each_mutant_passes_every_test_before_its_own(lab: Lab, mutant: Path,
                                                      tmp_path: Path) -> None:
    expected = caught_by(lab, mutant)
    if expected is None:
        pytest.skip(f"caught_by.py does not say which test catches {mutant.name}")
    result = grade(lab, load_implementation(lab, mutant), trace_dir=tmp_path, fail_fast=True)
    assert result.failures, f"the grader of {lab.name} gives full points to {mutant.name}"
    first = result.failures[0]
    assert first.test == expected, (
        f"{mutant.name} should be caught first by {expected}, but {first.test} rejects it "
        f"(seed {first.seed}: {first.message})")


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.name)
def test_the_mutant_table_names_real_mutants_and_tests(lab: Lab) -> None:
    table = table_of(lab)
    mutants = {mutant.stem for mutant in lab.mutants()}
    tests = {test.name for test in load_grader(lab)}
    assert set(table) <= mutants, f"caught_by.py names missing mutants: {set(table) - mutants}"
    assert set(table.values()) <= tests, (
        f"caught_by.py names tests {lab.name} does not have: {set(table.values()) - tests}")


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.name)
def test_starter_loads_but_is_not_a_solution(lab: Lab, tmp_path: Path) -> None:
    # The starter's own folder is on sys.path while it loads, as in a student's folder.
    impl = load_implementation(lab, lab.starter_dir / lab.implementation)
    result = grade(lab, impl, runs=2, fail_fast=True, trace_dir=tmp_path)
    assert not result.passed


#: A row of a handout's points table: | `test` | points | runs | ...
_ROW = re.compile(r"^\|\s*`(\w+)`\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", re.M)


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.name)
def test_handout_points_table_is_the_grader(lab: Lab) -> None:
    text = lab.readme.read_text(encoding="utf-8")
    rows = [(name, int(points), int(runs)) for name, points, runs in _ROW.findall(text)]
    tests = [(test.name, test.points, test.runs) for test in load_grader(lab)]
    assert rows == tests, (
        f"{lab.name}/README.md's points table (test, points, runs) differs from the grader:\n"
        f"  handout: {rows}\n  grader:  {tests}")
    total = re.search(r"\*\*Points:\*\*\s*(\d+)", text)
    assert total is not None, f"{lab.name}/README.md does not say its points (**Points:** N)"
    assert int(total[1]) == sum(points for _, points, _ in tests), (
        f"{lab.name}/README.md says **Points:** {total[1]}; its tests add up to "
        f"{sum(points for _, points, _ in tests)}")


def test_lab0_has_a_mutant_for_each_classic_bug() -> None:
    lab = next(lab for lab in LABS if lab.name == "lab0")
    names = {mutant.stem for mutant in lab.mutants()}
    assert {"no_retransmission", "no_dedup", "ack_mismatch", "timer_not_rearmed"} <= names


def test_lab0_reference_passes_many_more_seeds_than_the_grader_runs(tmp_path: Path) -> None:
    lab = next(lab for lab in LABS if lab.name == "lab0")
    result = grade(lab, load_reference(lab), first_seed=1000, runs=100, trace_dir=tmp_path)
    assert result.passed, [f"{f.test} seed {f.seed}: {f.message}" for f in result.failures]
