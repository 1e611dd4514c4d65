"""docs/screenshots.py, the screenshot review of the site: it serves pages on loopback,
looks at them in headless Chromium at 1280 and 400 px, light and dark, writes the
screenshots, and fails on console errors, overlapping or cut labels, and pages wider
than the window. Bounded here to a few small pages; with --soak, on the built site."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from dsys import Simulation
from dsys.demos import pingpong
from dsys.trace.svg import draw
from tests.browser import chromium_path

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script() -> ModuleType:
    if chromium_path() is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    pytest.importorskip("playwright", reason="playwright is not installed (the dev extra)")
    return _load("dsys_docs_screenshots", ROOT / "docs" / "screenshots.py")


def _html(body: str) -> str:
    css = (ROOT / "docs" / "stylesheets" / "figures.css").read_text("utf-8")
    return (f'<!doctype html><html><head><meta charset="utf-8"><style>{css}</style>'
            f'</head><body><div class="md-typeset">{body}</div></body></html>')


def test_the_review_passes_good_pages_and_names_what_is_wrong(script: ModuleType,
                                                              tmp_path: Path) -> None:
    hooks = _load("dsys_docs_hooks_for_screenshots", ROOT / "docs" / "hooks.py")
    sim = Simulation(seed=1)
    sim.add_node("a", pingpong.Pinger)
    sim.add_node("b", pingpong.Ponger)
    sim.run(until=0.05)
    good = hooks.inline_figure(draw(sim.trace, title="ping-pong"), "ping-pong", "x.svg", 1)
    piled = hooks.inline_figure(
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60" '
        'viewBox="0 0 200 60"><text x="10" y="30">Ping 1</text>'
        '<text x="20" y="32">Pong 1</text><text x="180" y="50">cut off</text></svg>',
        "piled", "y.svg", 1)
    site = tmp_path / "site"
    for name, body in {"good": good,
                       "bad": piled + "<script>undefined_function()</script>",
                       "wide": '<div style="width:2000px">a table too wide</div>'}.items():
        (site / name).mkdir(parents=True)
        (site / name / "index.html").write_text(_html(body), encoding="utf-8")
    (site / "favicon.ico").write_bytes(b"")  # browsers ask for one
    out = tmp_path / "shots"
    lines: list[str] = []
    with script.serve(site) as base:
        found = script.review(base, ["good/", "bad/", "wide/"], widths=(1280, 400),
                              schemes=("light", "dark"), out=out, report=lines.append)
    assert len(found) == 12 and len(lines) >= 12
    assert all(found[f"good/ at {w} px, {s}"] == [] for w in (1280, 400)
               for s in ("light", "dark"))
    bad = found["bad/ at 1280 px, light"]
    assert any('"Ping 1" overlaps "Pong 1"' in p for p in bad)
    assert any('"cut off" falls outside the picture' in p for p in bad)
    assert any("undefined_function" in p for p in bad)
    assert found["wide/ at 1280 px, light"] != [] and "px wide in a 400 px window" in \
        found["wide/ at 400 px, dark"][0]
    assert (out / "good-400-dark.png").stat().st_size > 1000
    assert (out / "good-400-dark-figure1.png").is_file()


@pytest.mark.soak
def test_the_review_of_the_built_site_passes(script: ModuleType, tmp_path: Path) -> None:
    status = script.main(["tutorial/first-simulation/", "concepts/communication/",
                          "--out", str(tmp_path / "shots")])
    assert status == 0
    assert len(list((tmp_path / "shots").glob("*-400-dark.png"))) == 2
