"""Every ```python block of the docs and of the lab handouts runs, and prints what it shows.

Blocks of one page run in order in one namespace, in a temporary folder; a block followed
by a ```text title="Output" block must print exactly that text.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _load_examples() -> ModuleType:
    name = "dsys_docs_examples"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, DOCS / "examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


examples = _load_examples()


def _pages() -> list[Path]:
    pages = sorted(DOCS.rglob("*.md")) + sorted(ROOT.glob("labs/*/README.md"))
    return [page for page in pages if examples.blocks(page.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run_and_print_what_the_page_shows(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("DSYS_HOME", str(tmp_path / "home"))
    relative = str(page.relative_to(ROOT))
    for block, printed, _namespace in examples.run(page.read_text(encoding="utf-8"), relative):
        if block.output is not None:
            assert printed == block.output, (
                f"{relative}, block at line {block.line}: printed\n{printed}\nbut the page "
                f"shows\n{block.output}"
            )


def test_the_pages_with_examples_include_the_tutorial_and_the_lab_handouts() -> None:
    names = {str(page.relative_to(ROOT)) for page in _pages()}
    assert "docs/tutorial/first-simulation.md" in names
    assert "labs/lab0/README.md" in names


# ----- the extractor itself -------------------------------------------------------------------

PAGE = '''# A page

```python
x = 2
print(x * 21)
```

```text title="Output"
42
```

<!-- diagram: first.svg from sim: The first picture -->

```console
$ echo not python
```

```python
print(x)
```

<!-- diagram: second.svg from other kinds=send,recv: Only messages -->

```text
not an expected output: no title
```
'''


def test_blocks_pair_code_with_outputs_and_diagrams() -> None:
    blocks = examples.blocks(PAGE)
    assert [b.code for b in blocks] == ["x = 2\nprint(x * 21)\n", "print(x)\n"]
    assert blocks[0].output == "42\n"
    assert blocks[1].output is None
    assert [(d.file, d.var, d.caption) for d in blocks[0].diagrams] == [
        ("first.svg", "sim", "The first picture")]
    assert [(d.file, d.var, d.kinds) for d in blocks[1].diagrams] == [
        ("second.svg", "other", ["send", "recv"])]


def test_a_wrong_output_is_noticed() -> None:
    results = list(examples.run(PAGE.replace("\n42\n", "\n43\n"), "page.md"))
    block, printed, _ = results[0]
    assert printed == "42\n" and block.output == "43\n"


def test_blocks_of_a_page_share_one_namespace_and_report_the_page_line() -> None:
    page = "```python\nvalue = 1\n```\n\n```python\nassert value == 2\n```\n"
    with pytest.raises(AssertionError) as failure:
        list(examples.run(page, "page.md"))
    frame = failure.traceback[-1]
    assert str(frame.path) == "page.md" and frame.lineno + 1 == 6
