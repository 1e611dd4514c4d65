"""The labs ship inside the package: the link in dsys/labs points at labs/, and the package
data patterns of pyproject.toml take every lab file (and nothing generated), except the
reference solutions, which stay in the repository."""

from __future__ import annotations

import fnmatch
import glob
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from dsys.errors import ConfigError
from dsys.labs import discover
from dsys.labs import lab as lab_module

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "dsys" / "labs"


def test_the_bundled_labs_are_the_repositorys_labs() -> None:
    assert lab_module.BUNDLED.parent == PACKAGE
    assert lab_module.BUNDLED.is_dir(), "dsys/labs/.lab-folders is missing: wheels get no labs"
    assert lab_module.BUNDLED.resolve() == (ROOT / "labs").resolve()


def test_package_data_takes_every_lab_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    include = config["package-data"]["dsys.labs"]
    exclude = config.get("exclude-package-data", {}).get("dsys.labs", [])
    # setuptools expands the patterns with glob.glob, relative to the package's folder.
    shipped = {
        Path(name).relative_to(PACKAGE).as_posix()
        for pattern in include
        for name in glob.glob(str(PACKAGE / pattern), recursive=True)
        if Path(name).is_file()
    }
    shipped = {p for p in shipped if not any(fnmatch.fnmatch(p, x) for x in exclude)}
    expected = {
        (Path(".lab-folders") / path.relative_to(ROOT / "labs")).as_posix()
        for path in (ROOT / "labs").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.name != "solution.py"
        and not any(part.startswith(".") for part in path.relative_to(ROOT / "labs").parts)
    }
    assert expected <= shipped
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in shipped)
    assert not [p for p in shipped if p.endswith("/solution.py")], "a solution would ship"
    assert ".lab-folders/lab0/grader.py" in shipped
    assert ".lab-folders/lab0/starter/reliable.py" in shipped


def test_a_clone_without_the_link_still_finds_its_labs(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSYS_LABS", raising=False)
    monkeypatch.setattr(lab_module, "BUNDLED", tmp_path / "missing")
    assert lab_module.labs_root() == lab_module.SOURCE == ROOT / "labs"
    monkeypatch.setattr(lab_module, "SOURCE", tmp_path / "also-missing")
    with pytest.raises(ConfigError, match="cannot find the labs"):
        lab_module.labs_root()


def test_every_lab_keeps_its_reference_solution_in_the_repository() -> None:
    for lab in discover(ROOT / "labs"):
        assert lab.reference == "solution.py", f"{lab.name}: reference = {lab.reference!r}"
        assert (lab.path / "solution.py").is_file()
    assert not (PACKAGE / "solutions").exists(), "solutions inside the package would ship"


def _setuptools_version() -> tuple[int, ...]:
    try:
        import setuptools
    except ImportError:  # pragma: no cover
        return (0,)
    return tuple(int(part) for part in setuptools.__version__.split(".")[:2] if part.isdigit())


@pytest.mark.skipif(_setuptools_version() < (77,),
                    reason="building the wheel needs setuptools>=77 (pip install -e '.[dev]')")
def test_a_built_wheel_has_every_lab_but_no_solution(tmp_path: Path) -> None:
    # Build from a copy, so that the build leaves nothing in the working tree.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".dsys")
    shutil.copytree(ROOT / "dsys", source / "dsys", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "labs", source / "labs", ignore=ignore)
    built = subprocess.run(
        [sys.executable, "-c", "from setuptools import build_meta as b; "
         f"print(b.build_wheel({str(tmp_path / 'dist')!r}))"],
        cwd=source, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = tmp_path / "dist" / built.stdout.split()[-1]
    names = zipfile.ZipFile(wheel).namelist()
    for lab in discover(ROOT / "labs"):
        folder = f"dsys/labs/.lab-folders/{lab.name}"
        assert f"{folder}/grader.py" in names and f"{folder}/lab.toml" in names
        assert f"{folder}/solution.py" not in names
    assert not [name for name in names if name.endswith("solution.py")]
    assert not [name for name in names if "/solutions/" in name]
