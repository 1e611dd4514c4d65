"""Soak tests: `pytest --soak` is the one way to run them; `pytest -m soak` alone fails
loudly instead of reporting every soak test as skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()

TESTS = """
import pytest

@pytest.mark.soak
def test_long():
    pass

def test_short():
    pass
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)  # this repository's own test configuration
    pytester.makeini("[pytest]\nmarkers =\n    soak: long-running tests\n")
    pytester.makepyfile(test_things=TESTS)
    return pytester


def test_soak_tests_are_skipped_by_default_and_run_with_the_option(
        project: pytest.Pytester) -> None:
    project.runpytest().assert_outcomes(passed=1, skipped=1)
    project.runpytest("--soak").assert_outcomes(passed=2)
    project.runpytest("--soak", "-m", "soak").assert_outcomes(passed=1, deselected=1)
    project.runpytest("-m", "not soak").assert_outcomes(passed=1, deselected=1)


@pytest.mark.parametrize("expression", ["soak", "soak or slow", "(soak)"])
def test_asking_for_soak_tests_without_the_option_is_a_usage_error(
        project: pytest.Pytester, expression: str) -> None:
    result = project.runpytest("-m", expression)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*selects soak tests, which run only with --soak: use "
                                 "`pytest --soak`*"])
    assert "skipped" not in result.stdout.str()


def test_the_marker_and_the_readme_give_the_same_instruction() -> None:
    root = Path(__file__).resolve().parent.parent
    pyproject = (root / "pyproject.toml").read_text()
    assert "run with `pytest --soak`" in pyproject and "`pytest -m soak`" not in pyproject
    assert "`pytest --soak`" in (root / "README.md").read_text()
