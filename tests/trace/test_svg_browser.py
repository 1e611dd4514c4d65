"""Space-time diagrams in a real browser (the system's headless Chromium, or a skip): as
the docs inline them, no two texts overlap and none leaves its picture by the browser's
own measure (getBBox), the text measurement the layout relies on is never narrower than
the browser's, and the dark palette follows the page's scheme."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dsys import Nemesis, Network, Simulation
from dsys.demos import pingpong
from dsys.trace.svg import draw, text_width
from tests.browser import chromium, console_errors

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def figures() -> list[tuple[str, str]]:
    """A few docs diagrams and a busy run under faults: (name, SVG)."""
    hooks = _load("dsys_docs_hooks_for_browser_tests", ROOT / "docs" / "hooks.py")
    drawn: dict[str, str] = {}
    for page in ("docs/tutorial/first-simulation.md", "labs/lab0/README.md",
                 "docs/howto/draw-a-diagram.md"):
        drawn.update(hooks._draw_page_diagrams((ROOT / page).read_text("utf-8"), page))
    sim = Simulation(seed=4, network=Network(drop=0.2, duplicate=0.1))
    for node, factory in (("a", pingpong.Pinger), ("b", pingpong.Ponger),
                          ("c", pingpong.Ponger)):
        sim.add_node(node, factory)
    Nemesis(faults=("crash", "partition"), interval=(0.05, 0.2), duration=(0.05, 0.2),
            stop=1.0).install(sim)
    sim.run(until=1.2)
    drawn["nemesis.svg"] = draw(sim.trace, title="ping-pong under a nemesis (seed 4)")
    return sorted(drawn.items())


def _page(hooks: ModuleType, figures: list[tuple[str, str]], scheme: str) -> str:
    body = "\n".join(hooks.inline_figure(svg, name, name, n)
                     for n, (name, svg) in enumerate(figures, start=1))
    css = (ROOT / "docs" / "stylesheets" / "figures.css").read_text("utf-8")
    return (f'<!doctype html><html><head><meta charset="utf-8"><style>{css}</style></head>'
            f'<body data-md-color-scheme="{scheme}"><div class="md-typeset">{body}</div>'
            "</body></html>")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:  # one browser for the module: launching one takes seconds
        yield launched


@pytest.fixture(scope="module")
def screenshots() -> ModuleType:
    return _load("dsys_docs_screenshots_for_svg_tests", ROOT / "docs" / "screenshots.py")


def test_in_a_browser_no_label_overlaps_or_leaves_its_picture(
        figures: list[tuple[str, str]], screenshots: ModuleType, browser: Any) -> None:
    hooks = sys.modules["dsys_docs_hooks_for_browser_tests"]
    for width in (1280, 400):
        page = browser.new_page(viewport={"width": width, "height": 800})
        errors = console_errors(page)
        page.set_content(_page(hooks, figures, "default"))
        result: dict[str, Any] = page.evaluate(screenshots.CHECK_FIGURES)
        assert result["figures"] == len(figures)
        assert result["problems"] == [] and errors == []
        page.close()


def test_the_browser_measures_no_text_wider_than_the_layout_does(
        figures: list[tuple[str, str]], browser: Any) -> None:
    page = browser.new_page()
    page.set_content("".join(svg for _, svg in figures))
    measured = page.evaluate("""() => [...document.querySelectorAll('svg text')].map(
        t => [t.textContent, t.getBBox().width, parseFloat(getComputedStyle(t).fontSize)])""")
    page.close()
    assert len(measured) > 100
    too_wide = [(text, width, text_width(text, size)) for text, width, size in measured
                if width > text_width(text, size) + 0.5]
    assert not too_wide, too_wide[:5]


def test_the_palette_follows_the_page_scheme(figures: list[tuple[str, str]],
                                            browser: Any) -> None:
    hooks = sys.modules["dsys_docs_hooks_for_browser_tests"]
    background = """() => getComputedStyle(document.querySelector('.dsys-st rect.bg')).fill"""
    fills = {}
    for scheme in ("default", "slate"):
        page = browser.new_page(color_scheme="dark")  # the page's scheme wins
        page.set_content(_page(hooks, figures[:1], scheme))
        fills[scheme] = page.evaluate(background)
        page.close()
    assert fills == {"default": "rgb(255, 255, 255)", "slate": "rgb(30, 33, 41)"}
