"""Space-time diagrams (dsys.trace.svg): labels never overlap and stay on the canvas (in
every diagram the docs generate, and in runs under faults), lanes keep their order, idle
time is cut short, arrows say what they carry, and the legend explains every glyph."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dsys import Nemesis, Network, Simulation, Trace, TraceEvent, UsageError, message
from dsys.demos import pingpong
from dsys.trace import svg
from dsys.trace.svg import draw, message_label, overlaps, register_label, text_boxes

ROOT = Path(__file__).resolve().parents[2]


def problems(drawing: str) -> list[str]:
    """Every pair of overlapping texts, and every text outside the canvas."""
    width, height = (float(v) for v in
                     re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', drawing).groups())  # type: ignore[union-attr]
    boxes = text_boxes(drawing)
    found = [f"{a!r} overlaps {b!r}" for i, (a, box) in enumerate(boxes)
             for b, other in boxes[i + 1:] if overlaps(box, other)]
    found += [f"{text!r} {box} is outside the {width}x{height} canvas" for text, box in boxes
              if box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height]
    return found


# ----- every diagram the docs draw ------------------------------------------------------------


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hooks() -> ModuleType:
    return _load("dsys_docs_hooks_for_svg_tests", ROOT / "docs" / "hooks.py")


#: Pages whose examples take many seconds to run: their diagrams are checked with --soak
#: (and drawn by every docs build).
SLOW_PAGES = {"docs/howto/debug-your-raft.md"}


def _pages_with_diagrams() -> list[Any]:
    pages = sorted([*(ROOT / "docs").rglob("*.md"), *(ROOT / "labs").glob("*/README.md")])
    return [pytest.param(p, marks=pytest.mark.soak)
            if str(p.relative_to(ROOT)) in SLOW_PAGES else p
            for p in pages if "<!-- diagram:" in p.read_text(encoding="utf-8")]


def _generators_drawing_traces() -> list[Path]:
    """The docs' generators that draw with dsys.trace.svg (others draw with their own
    renderers, and each has its own tests)."""
    uses = re.compile(r"from dsys\.trace import [^\n]*\bsvg\b|from dsys\.trace\.svg import")
    return [p for p in sorted((ROOT / "docs").glob("gen_*.py"))
            if uses.search(p.read_text(encoding="utf-8"))]


def test_the_docs_draw_diagrams_with_this_renderer() -> None:
    # The lists below are found, not written down: a new page or generator joins the test.
    assert len(_pages_with_diagrams()) >= 10
    assert {p.name for p in _generators_drawing_traces()} >= {
        "gen_messaging_pictures.py", "gen_mutex_pictures.py", "gen_raft_pictures.py"}


@pytest.mark.parametrize("page", _pages_with_diagrams(), ids=lambda p: p.name)
def test_page_diagrams_have_no_overlapping_or_cut_labels(page: Path, hooks: ModuleType) -> None:
    drawn = hooks._draw_page_diagrams(page.read_text(encoding="utf-8"),
                                      str(page.relative_to(ROOT)))
    assert drawn, f"{page}: a diagram marker drew nothing"
    for name, drawing in drawn.items():
        assert 'class="dsys-st"' in drawing
        assert not problems(drawing), f"{name}: {problems(drawing)}"


@pytest.mark.parametrize("script", _generators_drawing_traces(), ids=lambda p: p.name)
def test_generated_diagrams_have_no_overlapping_or_cut_labels(script: Path,
                                                              tmp_path: Path) -> None:
    module = _load(f"dsys_docs_test_{script.stem}", script)
    module.main(tmp_path)
    drawings = [p for p in sorted(tmp_path.iterdir()) if p.suffix == ".svg"
                and 'class="dsys-st"' in p.read_text(encoding="utf-8")]
    assert drawings, f"{script.name} drew no space-time diagram"
    for path in drawings:
        drawing = path.read_text(encoding="utf-8")
        assert not problems(drawing), f"{path.name}: {problems(drawing)}"


# ----- the pictures of the other renderers -------------------------------------------------------
# (dsys.check.draw, dsys.failure.draw, dsys.demos.clock_sync and the docs' own charts): the
# same check, over every picture of the generators that use them.

#: Generators drawing with other renderers; those that run for seconds go under --soak.
OTHER_GENERATORS = [
    "gen_check_pictures.py", "gen_consistency_pictures.py", "gen_clock_pictures.py",
    pytest.param("gen_failure_pictures.py", marks=pytest.mark.soak),
]


@pytest.mark.parametrize("name", OTHER_GENERATORS)
def test_other_renderers_pictures_have_no_overlapping_or_cut_labels(name: str,
                                                                   tmp_path: Path) -> None:
    module = _load(f"dsys_docs_test_other_{Path(name).stem}", ROOT / "docs" / name)
    module.main(tmp_path)
    drawings = sorted(tmp_path.glob("*.svg"))
    assert drawings, f"{name} drew nothing"
    for path in drawings:
        drawing = path.read_text(encoding="utf-8")
        assert not problems(drawing), f"{path.name}: {problems(drawing)}"


def test_history_drawings_keep_the_axis_unit_and_the_explanation_apart() -> None:
    from dsys.check import History, check_consistency, render_svg
    from dsys.check.consistency_examples import EXAMPLES

    for example in EXAMPLES.values():  # the longest explanations are the widest pictures
        history = History.from_events(example.events)
        report = check_consistency(history, example.drawn_with, "register",
                                   **example.options_for(example.drawn_with))
        drawing = render_svg(history, title=example.title, report=report, model="register")
        assert "time (s)" in drawing or "event number" in drawing
        assert not problems(drawing), f"{example.name}: {problems(drawing)}"


def test_failure_pictures_ticks_and_state_labels_stay_apart() -> None:
    from dsys.failure.draw import draw_phi, draw_states

    samples = [(k / 10, min(k / 3, 14.0)) for k in range(51)]  # starts at 0 s and φ 0
    phi = draw_phi(samples, threshold=8.0, arrivals=[k / 10 for k in range(40)], crash=4.0,
                   title="φ of b, seen from a")
    states = draw_states()
    for drawing in (phi, states):
        assert not problems(drawing), problems(drawing)
    # every transition of the state machine is labelled
    from dsys.failure.swim import TRANSITIONS

    labels = [text for text, _ in text_boxes(states)]
    events = [event for _, event, _ in TRANSITIONS]
    assert all(labels.count(event) == events.count(event) for event in events)


def _tradeoff(spread: float) -> tuple[str, int]:
    from types import SimpleNamespace

    module = _load("dsys_docs_test_tradeoff", ROOT / "docs" / "gen_failure_pictures.py")
    outcomes = [SimpleNamespace(detector=name, knob=k + 0.5, detection=0.4 + spread * (k + n),
                                false_rate=10 ** (k * spread * 2) - 1)
                for n, name in enumerate(module.KNOBS) for k in range(5)]
    return module.tradeoff_picture(outcomes, "synthetic"), len(outcomes)


def test_tradeoff_point_labels_dodge_each_other_or_go_to_the_tooltip() -> None:
    apart, points = _tradeoff(spread=0.3)
    crowded, _ = _tradeoff(spread=0.001)  # twenty points on one spot
    for drawing in (apart, crowded):
        assert not problems(drawing), problems(drawing)
        assert drawing.count("<title>") == points  # every point has its knob on hover
    knob_labels = re.compile(r'font-size="9">\d')
    assert len(knob_labels.findall(apart)) == points  # with room, every point is labelled
    assert len(knob_labels.findall(crowded)) < points


def test_clock_sync_chart_ticks_stay_apart() -> None:
    from dsys.demos.clock_sync import draw_sync, measure_cristian

    drawing = draw_sync(measure_cristian(seed=1, until=2.0), ("server", "c1"))
    assert not problems(drawing), problems(drawing)


# ----- the checks can fail ----------------------------------------------------------------------


def test_the_overlap_check_sees_overlaps_and_cut_labels() -> None:
    head = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 50" font-size="10">'
    apart = head + '<text x="5" y="15">Ping 1</text><text x="5" y="35">Pong 1</text></svg>'
    piled = head + '<text x="5" y="15">Ping 1</text><text x="20" y="20">Pong 1</text></svg>'
    cut = head + '<text x="80" y="15">no pong for ping</text></svg>'
    middle = head + '<g text-anchor="middle"><text x="3" y="15">Ping</text></g></svg>'
    assert problems(apart) == []
    assert len(problems(piled)) == 1 and "overlaps" in problems(piled)[0]
    assert "outside" in problems(cut)[0] and "outside" in problems(middle)[0]


# ----- under faults, many seeds ---------------------------------------------------------------


def _pingpong_under_faults(seed: int) -> Trace:
    sim = Simulation(seed=seed, network=Network(drop=0.2, duplicate=0.1))
    sim.add_node("a", pingpong.Pinger)
    sim.add_node("b", pingpong.Ponger)
    sim.add_node("c", pingpong.Ponger)
    Nemesis(faults=("crash", "partition", "oneway"), interval=(0.05, 0.2),
            duration=(0.05, 0.2), stop=1.5).install(sim)
    sim.run(until=2.0)
    return sim.trace


@pytest.mark.parametrize("seed", range(3))
def test_runs_under_faults_are_drawn_without_overlaps(seed: int) -> None:
    trace = _pingpong_under_faults(seed)
    drawing = draw(trace, title=f"ping-pong under a nemesis, seed {seed}")
    assert not problems(drawing)
    assert drawing.count("<title>") >= len([e for e in trace if e.kind == "recv"])


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(3, 40))
def test_runs_under_faults_are_drawn_without_overlaps_soak(seed: int) -> None:
    assert not problems(draw(_pingpong_under_faults(seed), height=300))


# ----- layout ---------------------------------------------------------------------------------


@message(name="svgtest:Note")
class Note:
    seq: int


@message(name="svgtest:Said")
class Said:
    text: str
    to: str


def _exchange(*pairs: tuple[float, str, str, object]) -> Trace:
    events = []
    for i, (t, src, dst, msg) in enumerate(pairs):
        events.append(TraceEvent(t, src, "send", {"to": dst, "id": i, "msg": msg}))
        events.append(TraceEvent(t + 0.002, dst, "recv", {"from": src, "id": i, "msg": msg}))
    return Trace(sorted(events, key=lambda e: e.time))


def _lane_x(drawing: str, node: str) -> float:
    found = re.search(rf'<text x="([\d.]+)" y="[\d.]+" text-anchor="middle" class="fg" '
                      rf'font-weight="bold">{node}</text>', drawing)
    assert found, f"no lane named {node}"
    return float(found.group(1))


def test_lanes_in_order_of_first_appearance_or_as_given() -> None:
    trace = _exchange((0.0, "zed", "amy", Note(1)), (0.01, "amy", "bob", Note(2)))
    drawing = draw(trace)
    assert _lane_x(drawing, "zed") < _lane_x(drawing, "amy") < _lane_x(drawing, "bob")
    given = draw(trace, nodes=["bob", "zed", "amy"])
    assert _lane_x(given, "bob") < _lane_x(given, "zed") < _lane_x(given, "amy")
    only_two = draw(trace, nodes=["amy", "bob"])
    assert "zed" not in only_two.split("</style>")[1] and "Note 2" in only_two


def test_idle_time_is_cut_short_with_a_break() -> None:
    busy = [(i * 0.01, "a", "b", Note(i)) for i in range(6)]
    later = [(30.0 + i * 0.01, "a", "b", Note(10 + i)) for i in range(6)]
    trace = _exchange(*busy, *later)
    drawing = draw(trace)
    height = float(re.search(r'height="([\d.]+)"', drawing).group(1))  # type: ignore[union-attr]
    assert 'class="brk"' in drawing and "idle time, cut short" in drawing
    assert "+29.9s" in drawing  # the length of the gap, on the time axis
    linear = draw(trace, idle=math.inf)
    assert 'class="brk"' not in linear
    # Drawn linearly, the two bursts would be squeezed into a few pixels each: cut short,
    # the 12 exchanges spread over the drawing.
    ys = [float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)" text-anchor="middle" '
                                       r'class="message">Note', drawing)]
    assert len(ys) == 12 and max(ys) - min(ys) > 200 and height < 900


def test_arrows_show_a_short_payload() -> None:
    trace = _exchange((0.0, "a", "b", Note(3)), (0.01, "b", "a", Said("lunch?", "a")))
    drawing = draw(trace)
    assert ">Note 3</text>" in drawing and ">Said text='lunch?' to='a'</text>" in drawing
    mine = draw(trace, labels={Said: lambda m: f"Said {m.text!r}"})
    assert ">Said 'lunch?'</text>" in mine and ">Note 3</text>" in mine
    # A saved trace holds messages as JSON: a registered formatter still applies.
    loaded = Trace([TraceEvent(e.time, e.node, e.kind, e.to_json()["data"]) for e in trace])
    assert ">Said 'lunch?'</text>" in draw(loaded, labels={Said: lambda m: f"Said {m.text!r}"})
    assert message_label({"type": "x:Ping", "body": {"seq": 3}}) == "Ping 3"


def test_register_label_applies_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(svg, "_LABELS", {})
    register_label(Note, lambda m: f"#{m.seq}")
    assert message_label(Note(4)) == "#4"
    with pytest.raises(UsageError):
        register_label("Note", str)  # type: ignore[arg-type]


def test_long_labels_are_shortened_with_the_full_text_on_hover() -> None:
    text = "no pong for ping 9 after 12 tries: retransmitting it once more, slowly"
    trace = Trace([TraceEvent(0.0, "a", "log", {"text": text}),
                   TraceEvent(0.0, "b", "log", {"text": text})])
    drawing = draw(trace)
    shown = [t for t, _ in text_boxes(drawing) if t.startswith("no pong")]
    assert len(shown) == 2 and all(t.endswith("…") and len(t) < len(text) for t in shown)
    assert drawing.count(f"<title>0.000000 a: {text}</title>") >= 1
    assert not problems(drawing)


def test_a_long_title_wraps_and_the_canvas_fits_it() -> None:
    title = "Seed 1, 1.53-1.57 s: d asks with 31 entries (pre-vote, then vote); " * 3
    drawing = draw(_exchange((0.0, "a", "b", Note(1))), title=title.strip())
    lines = [t for t, _ in text_boxes(drawing) if t.startswith("Seed") or "vote" in t]
    assert len(lines) >= 2 and " ".join(lines) == title.strip()
    assert not problems(drawing)


def test_the_legend_explains_the_glyphs_used_and_only_those() -> None:
    trace = Trace([
        TraceEvent(0.0, "a", "send", {"to": "b", "id": 1, "msg": Note(1)}),
        TraceEvent(0.001, "a", "drop", {"from": "a", "to": "b", "id": 1, "reason": "loss"}),
        TraceEvent(0.002, "b", "crash", {}),
        TraceEvent(0.003, "b", "restart", {"incarnation": 1}),
        TraceEvent(0.004, "a", "timer_fire", {"name": "tick"}),
    ])
    legend = [t for t, _ in text_boxes(draw(trace))]
    for entry in ("lost message", "crash", "node down", "restart", "timer fired"):
        assert entry in legend
    for entry in ("message", "log line", "partition or blocked link", "client operation"):
        assert entry not in legend
    assert "lost message" not in [t for t, _ in text_boxes(draw(trace, legend=False))]


def test_glyphs_differ_in_shape_or_dash_not_only_colour() -> None:
    style = draw(_exchange((0.0, "a", "b", Note(1)))).split("<style>")[1].split("</style>")[0]
    rules = dict(re.findall(r"\.dsys-st ([.\w, -]+)\{([^}]*)\}", style))
    assert "dasharray" in rules[".drop"] and "dasharray" not in rules["path.message"]
    assert "dasharray" in rules["path.duplicate"] and "dasharray" in rules[".down"]
    assert "dasharray" in rules[".edge"]


def test_a_dark_palette_for_dark_systems_and_dark_pages() -> None:
    drawing = draw(_exchange((0.0, "a", "b", Note(1))))
    assert "@media (prefers-color-scheme: dark){.dsys-st{" in drawing
    assert "[data-md-color-scheme=slate] .dsys-st{" in drawing
    assert 'fill="white"' not in drawing and "#ffffff" in drawing and "--st-bg:#1e2129" in drawing


def test_drawing_is_deterministic_and_well_formed() -> None:
    trace = _pingpong_under_faults(1)
    assert draw(trace) == draw(Trace(list(trace)))
    assert draw(Trace()).startswith("<svg")  # an empty trace draws an empty diagram


@pytest.mark.parametrize("options, complaint", [
    ({"nodes": ["a", "a"]}, "twice"), ({"nodes": "ab"}, "list of node ids"),
    ({"height": 0}, "height"), ({"max_events": 0}, "max_events"), ({"idle": -1}, "idle"),
])
def test_bad_options_are_refused_clearly(options: dict[str, object], complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint):
        draw(_exchange((0.0, "a", "b", Note(1))), **options)  # type: ignore[arg-type]




def test_same_trace_same_drawing_under_any_hash_seed() -> None:
    import subprocess

    program = ("from tests.trace.test_svg import _pingpong_under_faults\n"
               "from dsys.trace.svg import draw\n"
               "print(draw(_pingpong_under_faults(2), title='seed 2'))\n")
    drawings = {subprocess.run([sys.executable, "-c", program], cwd=ROOT, check=True,
                               capture_output=True, text=True,
                               env={**os.environ, "PYTHONHASHSEED": seed}).stdout
                for seed in ("1", "2")}
    assert len(drawings) == 1 and "<svg" in drawings.pop()
