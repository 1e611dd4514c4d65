"""The lab built in "Write a grader for a new lab" works: the page's files, written to disk,
make a lab whose reference earns every point and whose mutant loses some."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dsys.cli import main
from dsys.labs import discover, grade, load_implementation, load_reference

PAGE = Path(__file__).resolve().parents[2] / "docs" / "howto" / "write-a-grader.md"
TITLED = re.compile(r'^```\w+ title="(?P<path>labs/[^"]+)"\n(?P<body>.*?)^```$', re.M | re.S)


@pytest.fixture
def labs(tmp_path: Path) -> Path:
    for match in TITLED.finditer(PAGE.read_text(encoding="utf-8")):
        target = tmp_path / match["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(match["body"], encoding="utf-8")
    return tmp_path / "labs"


def test_the_page_holds_a_whole_lab(labs: Path) -> None:
    names = {p.relative_to(labs).as_posix() for p in labs.rglob("*") if p.is_file()}
    assert names == {"echo/lab.toml", "echo/solution.py", "echo/grader.py",
                     "echo/mutants/no_retry.py", "echo/starter/echo.py", "echo/README.md"}


def test_the_reference_passes_and_the_mutant_fails(labs: Path) -> None:
    (lab,) = discover(labs)
    result = grade(lab, load_reference(lab))
    assert result.passed and result.total == 15
    (mutant,) = lab.mutants()
    lost = grade(lab, load_implementation(lab, mutant))
    assert not lost.passed and lost.earned < lost.total
    starter = grade(lab, load_implementation(lab, lab.starter_dir / "echo.py"))
    assert not starter.passed


def test_the_commands_of_the_page_work(labs: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DSYS_LABS", str(labs))
    monkeypatch.setenv("DSYS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    assert main(["lab", "test", "echo", "--reference"]) == 0
    assert "Score: 15/15" in capsys.readouterr().out
    assert main(["lab", "test", "echo-lab", "--impl", str(labs / "echo/mutants/no_retry.py")]) == 1
    assert main(["lab", "start", "echo", str(tmp_path / "attempt")]) == 0
    assert (tmp_path / "attempt" / "echo.py").is_file()
    assert main(["lab", "test", "echo"]) == 1
