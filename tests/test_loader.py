"""dsys.loader: the one way a user's Python file becomes a module (targets and labs)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import dsys.labs.grading
import dsys.loader
import dsys.runtime.target
import dsys.search.cli
from dsys.errors import UsageError
from dsys.loader import load_file
from dsys.runtime.target import load_target


def test_the_runtime_the_grader_and_the_search_use_the_one_loader() -> None:
    assert dsys.runtime.target.load_target is dsys.loader.load_target
    assert dsys.search.cli.load_target is dsys.loader.load_target
    assert dsys.labs.grading.load_file is load_file


def test_a_file_imports_its_neighbours_and_is_loaded_once(tmp_path: Path) -> None:
    (tmp_path / "loader_neighbour.py").write_text("VALUE = 41\n")
    app = tmp_path / "loader_app.py"
    app.write_text("import loader_neighbour\nVALUE = loader_neighbour.VALUE + 1\n\n"
                   "def make():\n    return VALUE\n")
    module = load_file(app)
    assert module.__name__ == "loader_app" and module.VALUE == 42
    assert sys.modules["loader_app"] is module
    assert str(tmp_path) not in sys.path  # only while it loads
    assert load_file(app) is module  # once per name: its messages are registered once
    assert load_target(f"{app}:make") is module.make  # a target in that file: the same


def test_a_name_taken_by_another_module_is_refused(tmp_path: Path) -> None:
    # It used to be imported by name: a target file json.py gave the standard library's
    # json module ("json has no 'Node'"), a puzzle instead of the actual problem.
    (tmp_path / "json.py").write_text("class Node:\n    pass\n")
    with pytest.raises(UsageError, match=r"as module 'json': that name is taken by .*json.*; "
                                         "rename the file"):
        load_target(f"{tmp_path / 'json.py'}:Node")
    assert sys.modules["json"].__name__ == "json" and hasattr(sys.modules["json"], "dumps")


def test_a_file_that_fails_is_one_line_and_not_left_half_loaded(tmp_path: Path) -> None:
    broken = tmp_path / "loader_broken.py"
    broken.write_text("x = 1\nraise RuntimeError('no')\n")
    with pytest.raises(UsageError, match=r"loader_broken.py:2 in <module>: loading it raised "
                                         r"RuntimeError: no$"):
        load_file(broken)
    assert "loader_broken" not in sys.modules
    broken.write_text("x = 1\n")  # fixed: loads now
    assert load_file(broken).x == 1
    with pytest.raises(UsageError, match="no such file"):
        load_file(tmp_path / "nowhere.py")
    (tmp_path / "notes.txt").write_text("x = 1\n")
    with pytest.raises(UsageError, match=r"not a Python file \(\.py\)"):
        load_file(tmp_path / "notes.txt")
