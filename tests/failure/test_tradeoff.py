"""The detection time / false positive trade-off (dsys.demos.detector_tradeoff): the
measurement counts what it says, the failure detection page's plot is drawn from the
sweep under the conditions its text states, what the text reads from the plot holds on
the plot's data, and bench/failure.py prints the false positives against loss and slow
members for all four detectors with their anchors."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import pytest

from dsys.demos.detector_tradeoff import (
    KNOBS,
    PLOT,
    PLOT_SEEDS,
    Conditions,
    Outcome,
    detector,
    measure,
    sweep,
)
from dsys.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "concepts" / "failure-detection.md"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def plotted() -> list[Outcome]:
    """The sweep the page's plot draws (about 4 s of CPU)."""
    return sweep(PLOT, PLOT_SEEDS)


def curve(outcomes: list[Outcome], name: str) -> list[Outcome]:
    return [o for o in outcomes if o.detector == name]


def test_a_quiet_network_detects_every_crash_and_suspects_nobody_alive() -> None:
    quiet = Conditions(size=6, seconds=8.0, crashes=1)
    for name in KNOBS:
        outcome = measure(name, quiet, range(2))
        # 5 watchers of each crash; every one suspects it, and nobody alive is suspected
        assert (outcome.detections, outcome.missed, outcome.false) == (10, 0, 0), outcome
        assert outcome.false_rate == 0.0 and outcome.wrong_share == 0.0
    # The heartbeat detector notices within its timeout, give or take one interval.
    timeout = 3.5 * 0.1
    assert timeout - 0.1 <= measure("heartbeat", quiet, range(2)).detection <= timeout + 0.12


def test_false_suspicions_are_counted_per_member_minute() -> None:
    lossy = Conditions(size=5, seconds=6.0, loss=0.2)
    outcome = measure("heartbeat", lossy, range(1), knob=1.5)  # a timeout of 1.5 beats
    assert outcome.false > 10  # one lost heartbeat is enough to be suspected
    assert math.isclose(outcome.false_rate, outcome.false / (5 * 6.0 / 60))
    assert math.isnan(outcome.detection) and outcome.detections == 0  # no crash


def test_bad_conditions_and_names_are_refused() -> None:
    with pytest.raises(UsageError, match="slow \\+ crashes < size"):
        Conditions(size=4, slow=2, crashes=2)
    with pytest.raises(UsageError, match="loss"):
        Conditions(loss=1.0)
    with pytest.raises(UsageError, match="no detector 'gossip'"):
        detector("gossip")
    with pytest.raises(UsageError, match="at least one seed"):
        measure("phi", Conditions(size=3, seconds=1.0), [])


def test_what_the_page_reads_from_the_plot_holds_on_its_data(plotted: list[Outcome]) -> None:
    assert [(o.detector, o.knob) for o in plotted] == [
        (name, value) for name, knob in KNOBS.items() for value in knob.sweep]
    for name in ("heartbeat", "phi"):  # a patient knob: slower, never less accurate...
        points = curve(plotted, name)
        assert all(a.detection < b.detection for a, b in zip(points, points[1:], strict=False))
        assert all(a.false_rate >= b.false_rate for a, b in zip(points, points[1:],
                                                                strict=False))
        assert points[0].false_rate > 10 and points[-1].false_rate == 0  # ...down to none
    swim, lifeguard = curve(plotted, "swim"), curve(plotted, "swim+lifeguard")
    assert min(o.false_rate for o in swim) > 0  # SWIM alone never gets to none
    assert lifeguard[-1].false_rate == 0  # with Lifeguard it does
    for plain, guarded in zip(swim, lifeguard, strict=True):  # same knob, fewer mistakes
        assert guarded.false_rate < plain.false_rate, (plain, guarded)
    default = KNOBS["swim"].sweep.index(KNOBS["swim"].default)  # ...and slower detection
    assert lifeguard[default].detection > swim[default].detection


def test_the_plot_is_drawn_and_the_page_states_its_conditions(
        plotted: list[Outcome], tmp_path: Path) -> None:
    generator = load(ROOT / "docs" / "gen_failure_pictures.py")
    text = generator.conditions_text(PLOT, PLOT_SEEDS)
    drawing = generator.tradeoff_picture(plotted, text)
    assert drawing.startswith("<svg") and drawing.count("<polyline") == len(KNOBS)
    for name, knob in KNOBS.items():
        assert f">{name}</text>" in drawing and knob.name in drawing
    assert "8 members, 5% of messages lost, 1 slow member (50-150 ms a message)" in text
    page = PAGE.read_text()
    assert "../assets/generated/failure-tradeoff.svg" in page
    low, high = PLOT.slow_latency
    for stated in (f"{PLOT.size} members", f"{PLOT.loss:.0%} of\nmessages lost",
                   f"{low * 1000:.0f} to {high * 1000:.0f} ms a message",
                   f"{PLOT.seconds:.0f} s per run", f"{len(PLOT_SEEDS)} seeds per point"):
        assert stated in page, stated


def test_the_bench_prints_false_positives_vs_loss_and_slow_members_with_anchors() -> None:
    bench = load(ROOT / "bench" / "failure.py")
    slow = bench.measure_slow_members((0, 2), size=6, seconds=6.0, seeds=1)
    assert [(r["slow"], r["detector"]) for r in slow] == [
        (n, name) for n in (0, 2) for name in KNOBS]
    table = bench.false_table(slow)
    assert "vs swim" in table and all(name in table for name in KNOBS)
    assert "Lifeguard paper, more than 50x" in bench.lifeguard_ratios(slow)
    lossy = bench.measure_false_positives((0.2,), size=6, seconds=6.0, seeds=1)
    assert [r["detector"] for r in lossy] == list(KNOBS)
    hb = next(r for r in lossy if r["detector"] == "heartbeat")
    assert hb["rate"] > 0 and hb["vs"] == 1.0 and "vs hb" in bench.false_table(lossy)
