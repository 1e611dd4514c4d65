"""Run the Python examples of a documentation page, as the docs build and the tests do.

A page's ```` ```python ```` blocks run in order, in one namespace (a fresh module per
page, so ``@message`` classes get a tag of their own). A block may be followed by:

* an ```` ```text title="Output" ```` block: what the block must print, exactly;
* diagram markers, HTML comments that GitHub does not show and the docs build turns into
  a picture drawn from the simulation in a variable after the block ran::

      <!-- diagram: tutorial-partition.svg from sim: A partition cuts a from b -->
      <!-- diagram: lossy.svg from sim kinds=send,recv,drop: Only the messages -->

Used by ``docs/hooks.py`` (diagrams) and ``tests/docs/test_examples.py`` (every block runs,
every shown output is checked).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$", re.MULTILINE)
DIAGRAM = re.compile(
    r"<!--\s*diagram:\s*(?P<file>[\w.-]+\.svg)\s+from\s+(?P<var>\w+)"
    r"(?:\s+kinds=(?P<kinds>[\w,]+))?\s*:\s*(?P<caption>.*?)\s*-->"
)


@dataclass
class Diagram:
    """A picture to draw from variable ``var`` after a block ran."""

    file: str
    var: str
    caption: str
    kinds: list[str] | None = None
    marker: str = ""


@dataclass
class Block:
    """A ```python block of a page, with what must follow from it."""

    code: str
    line: int
    output: str | None = None
    diagrams: list[Diagram] = field(default_factory=list)


def _fences(text: str) -> Iterator[tuple[str, str, int, int, int]]:
    """(info, body, first line, start offset, end offset) of each fenced block."""
    position = 0
    while True:
        opening = FENCE.search(text, position)
        if opening is None:
            return
        fence = opening.group("fence")
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$",
                             re.MULTILINE)
        end = closing.search(text, opening.end())
        if end is None:
            return
        body = text[opening.end() + 1 : end.start()]
        indent = opening.group("indent")
        if indent:
            body = "\n".join(line.removeprefix(indent) for line in body.splitlines()) + "\n"
        line = text.count("\n", 0, opening.start()) + 1
        yield opening.group("info").strip(), body, line, opening.start(), end.end()
        position = end.end()


def blocks(text: str) -> list[Block]:
    """The python blocks of a markdown page, with their expected outputs and diagrams."""
    found: list[Block] = []
    fences = list(_fences(text))
    for index, (info, body, line, _start, end) in enumerate(fences):
        language = info.split()[0] if info else ""
        if language != "python":
            continue
        block = Block(body, line)
        following = fences[index + 1] if index + 1 < len(fences) else None
        gap_end = following[3] if following is not None else len(text)
        if following is not None and following[0].split()[:1] == ["text"] \
                and 'title="Output"' in following[0] and not text[end:gap_end].strip():
            block.output = following[1]
            after_output = fences[index + 2][3] if index + 2 < len(fences) else len(text)
            gap = text[following[4]:after_output]
        else:
            gap = text[end:gap_end]
        for match in DIAGRAM.finditer(gap):
            kinds = match.group("kinds")
            block.diagrams.append(Diagram(match.group("file"), match.group("var"),
                                          match.group("caption"),
                                          kinds.split(",") if kinds else None, match.group(0)))
        found.append(block)
    return found


def diagrams(text: str) -> list[Diagram]:
    """Every diagram marker of a page."""
    return [diagram for block in blocks(text) for diagram in block.diagrams]


def module_name(page: str) -> str:
    """The module a page's examples run in."""
    return "docs_example_" + re.sub(r"\W", "_", page)


@contextlib.contextmanager
def in_folder(folder: Path) -> Iterator[None]:
    """Run with ``folder`` as the current directory (examples may write files)."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def run(text: str, page: str) -> Iterator[tuple[Block, str, dict[str, Any]]]:
    """Run the page's python blocks in order; yield each block, what it printed, and the
    namespace after it. The caller chooses the current directory."""
    name = module_name(page)
    module = types.ModuleType(name)
    module.__file__ = page
    sys.modules[name] = module  # attrs resolves annotations through sys.modules
    try:
        for block in blocks(text):
            printed = io.StringIO()
            code = compile("\n" * (block.line) + block.code, page, "exec")
            with contextlib.redirect_stdout(printed):
                exec(code, module.__dict__)
            yield block, printed.getvalue(), module.__dict__
    finally:
        sys.modules.pop(name, None)
