"""The syllabus places every page of the course, and every lab, in a unit.

A concept page or a how-to that no unit links is one a student following the course
never reads: a new page must be given its place. The labs come in through the generated
table of all labs, so a new lab is listed without editing the page.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SYLLABUS = DOCS / "syllabus.md"


def links(text: str) -> set[str]:
    """The pages a Markdown text links to (anchors dropped)."""
    return {target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+\.md)(?:#[\w-]*)?\)", text)}


def test_links_are_read_without_their_anchors() -> None:
    text = "[a](concepts/raft.md#the-log), [b](howto/x.md) and [c](https://example.org)"
    assert links(text) == {"concepts/raft.md", "howto/x.md"}


def test_every_concept_page_how_to_and_tutorial_is_in_a_unit() -> None:
    linked = links(SYLLABUS.read_text(encoding="utf-8"))
    pages = [str(page.relative_to(DOCS)) for folder in ("concepts", "howto", "tutorial")
             for page in sorted((DOCS / folder).glob("*.md"))]
    assert "concepts/raft.md" in pages
    missing = [page for page in pages if page not in linked]
    assert not missing, f"pages no unit of docs/syllabus.md links to: {missing}"


def test_every_lab_is_listed_and_the_lab_links_exist() -> None:
    text = SYLLABUS.read_text(encoding="utf-8")
    assert "<!-- labs-table -->" in text  # docs/hooks.py turns it into a table of every lab
    labs = {path.name for path in (ROOT / "labs").iterdir() if (path / "lab.toml").is_file()}
    for page in links(text):
        if page.startswith("labs/") and page != "labs/index.md":
            assert Path(page).stem in labs, f"the syllabus links {page}: no such lab"


def test_every_page_ends_with_previous_and_next_links() -> None:
    # mkdocs-material's footer navigation: the course reads page after page, in nav order.
    features = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("features:", 1)[1]
    features = features.split("\n  palette:", 1)[0]
    assert "- navigation.footer" in [line.strip() for line in features.splitlines()]
