"""The documentation site builds with ``mkdocs build --strict``: no broken link, anchor or
nav entry; every section's pages are there; lab pages and diagrams are generated."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dsys.labs import discover, load_grader

ROOT = Path(__file__).resolve().parents[2]

#: The pages each section of the site must have (as built: folder/index.html).
REQUIRED_PAGES = [
    "index.html",
    "tutorial/first-simulation/index.html",
    "howto/inject-faults/index.html",
    "howto/replay-a-seed/index.html",
    "howto/draw-a-diagram/index.html",
    "howto/write-a-grader/index.html",
    "concepts/system-model/index.html",
    "concepts/determinism/index.html",
    "concepts/real-networks/index.html",
    "labs/index.html",
    "reference/index.html",
    "reference/dsys/index.html",
    "reference/sim/index.html",
    "reference/trace/index.html",
    "reference/testing/index.html",
    "reference/codec/index.html",
    "reference/labs/index.html",
    "design/index.html",
]


def build(config_dir: Path, site: Path, *, pictures: Path | None = None
          ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    if pictures is not None:  # reuse an earlier build's pictures (see docs/hooks.py)
        env["DSYS_DOCS_PICTURES"] = str(pictures)
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=config_dir, capture_output=True, text=True, timeout=300, env=env,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT, out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_every_section_has_its_pages(site: Path) -> None:
    missing = [page for page in REQUIRED_PAGES if not (site / page).is_file()]
    assert not missing, f"pages missing from the built site: {missing}"


def test_each_lab_handout_is_rendered_from_its_readme(site: Path) -> None:
    index = (site / "labs" / "index.html").read_text(encoding="utf-8")
    for lab in discover(ROOT / "labs"):
        page = site / "labs" / lab.name / "index.html"
        assert page.is_file(), f"no page for {lab.name}"
        html = page.read_text(encoding="utf-8")
        heading = lab.readme.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
        assert heading.split(":")[0] in html
        for test in load_grader(lab):  # the handout's table of tests made it through
            assert test.name in html
        assert f"{lab.name}/" in index and lab.title in index  # the generated table
        assert lab.title in (site / "index.html").read_text(encoding="utf-8")  # in the nav


def test_diagrams_are_drawn_from_real_runs(site: Path) -> None:
    pages = [p for p in site.rglob("index.html")]
    referenced = set()
    for page in pages:
        referenced.update(re.findall(r'assets/generated/([\w.-]+\.svg)', page.read_text("utf-8")))
    assert {"tutorial-pingpong.svg", "tutorial-partition.svg", "tutorial-patient.svg"} <= referenced
    for name in referenced:
        svg = (site / "assets" / "generated" / name).read_text(encoding="utf-8")
        assert svg.startswith("<svg")
    partition = (site / "assets" / "generated" / "tutorial-partition.svg").read_text("utf-8")
    assert "partition a | b" in partition and "Pong" in partition  # drawn from the run


def test_reference_pages_document_the_api(site: Path) -> None:
    labs = (site / "reference" / "labs" / "index.html").read_text(encoding="utf-8")
    for name in ("dsys.labs.grading.graded", "dsys.labs.grading.Trial", "dsys.labs.lab.Lab"):
        assert f'id="{name}"' in labs, name
    core = (site / "reference" / "dsys" / "index.html").read_text(encoding="utf-8")
    assert 'id="dsys.Simulation"' in core and 'id="dsys.Node"' in core


def test_python_files_beside_the_pages_are_not_published(site: Path) -> None:
    assert not list(site.rglob("*.py"))


def test_a_broken_link_fails_the_build(tmp_path: Path, site: Path) -> None:
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", copy / "docs",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "labs").symlink_to(ROOT / "labs")
    page = copy / "docs" / "tutorial" / "first-simulation.md"
    pictures = site / "assets" / "generated"
    page.write_text(page.read_text(encoding="utf-8")
                    + "\nSee [a page that does not exist](../howto/nowhere.md).\n",
                    encoding="utf-8")
    result = build(copy, tmp_path / "site", pictures=pictures)
    assert result.returncode != 0
    assert "nowhere.md" in result.stdout + result.stderr


def test_docstrings_are_made_readable_as_markdown() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("griffe_docstrings",
                                                  ROOT / "docs" / "griffe_docstrings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = ("Runs on a :class:`~dsys.sim.network.Network` (see :mod:`dsys.sim`)::\n\n"
            "    sim.run()\n\nExample:\n    >>> 1 + 1\n    2\n")
    assert module.readable(text) == (
        "Runs on a `Network` (see `dsys.sim`):\n\n    sim.run()\n\n"
        "Examples:\n    >>> 1 + 1\n    2\n")
