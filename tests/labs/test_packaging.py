"""The labs ship inside the package: the link in dsys/labs points at labs/, and the package
data patterns of pyproject.toml take every lab file (and nothing generated)."""

from __future__ import annotations

import fnmatch
import glob
import tomllib
from pathlib import Path

import pytest

from dsys.errors import ConfigError
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
        if path.is_file() and "__pycache__" not in path.parts
        and not any(part.startswith(".") for part in path.relative_to(ROOT / "labs").parts)
    }
    assert expected <= shipped
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in shipped)
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
