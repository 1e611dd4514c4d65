"""Code shown in the docs fits the page, and every output shown is an output checked.

* Lines of ```python blocks (the docs' pages and the lab handouts) are at most 88 columns,
  the width of the code in dsys itself: wider lines scroll sideways on the site, and a
  reader copying the example gets code the linters reject.
* A ```text block right after a ```python block is what that block prints, so it must be
  titled ``Output``: ``tests/docs/test_examples.py`` then compares it with what the block
  really prints. An untitled one would be an output nobody checks.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIDTH = 88


def _load_examples() -> ModuleType:
    name = "dsys_docs_examples"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


examples = _load_examples()


def _pages() -> list[Path]:
    return sorted((ROOT / "docs").rglob("*.md")) + sorted(ROOT.glob("labs/*/README.md"))


def too_wide(text: str) -> list[tuple[int, int]]:
    """(line number, width) of each line of a python block wider than ``WIDTH``."""
    found = []
    for info, body, line, _start, _end in examples._fences(text):
        if info.split()[:1] == ["python"]:
            for offset, code in enumerate(body.splitlines()):
                if len(code) > WIDTH:
                    found.append((line + 1 + offset, len(code)))
    return found


def untitled_outputs(text: str) -> list[int]:
    """Line numbers of ```text blocks right after a python block, without a title."""
    fences = list(examples._fences(text))
    found = []
    for before, (info, _body, line, start, _end) in itertools.pairwise(fences):
        follows = before[0].split()[:1] == ["python"] and not text[before[4]:start].strip()
        if follows and info.split()[:1] == ["text"] and 'title="Output"' not in info:
            found.append(line)
    return found


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_python_lines_fit_in_88_columns(page: Path) -> None:
    wide = too_wide(page.read_text(encoding="utf-8"))
    assert not wide, f"{page.relative_to(ROOT)}: lines wider than {WIDTH} columns " + \
        ", ".join(f"line {line} ({width})" for line, width in wide)


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_what_a_python_block_prints_is_titled_output(page: Path) -> None:
    lines = untitled_outputs(page.read_text(encoding="utf-8"))
    assert not lines, (f"{page.relative_to(ROOT)}: a ```text block right after a python "
                       f"block, at line(s) {lines}, is not titled \"Output\", so nobody "
                       "checks it: write ```text title=\"Output\"")


def test_the_checks_catch_what_they_are_for() -> None:
    wide = "x" * (WIDTH + 1)
    page = (f'# A page\n\n```python\nok = 1\n{wide}\n```\n\n```text\n1\n```\n\n'
            '```console\n$ ' + wide + '\n```\n\n```python\nprint(2)\n```\n\n'
            '```text title="Output"\n2\n```\n')
    assert too_wide(page) == [(5, WIDTH + 1)]  # the console line is not code to copy
    assert untitled_outputs(page) == [8]
