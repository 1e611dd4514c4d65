"""Drawings: well-formed, self-contained, and showing what the checker found."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from dsys.check import (
    CheckInputError,
    History,
    check_linearizable,
    draw_history,
    render_html,
    render_svg,
)
from dsys.check.draw import linearization_points

SVG = "{http://www.w3.org/2000/svg}"

EVENTS: list[dict[str, Any]] = [
    {"process": 0, "type": "invoke", "f": "write", "value": 1, "time": 0.0},
    {"process": 1, "type": "invoke", "f": "read", "value": None, "time": 0.1},
    {"process": 0, "type": "ok", "f": "write", "value": 1, "time": 0.3},
    {"process": 2, "type": "invoke", "f": "write", "value": 2, "time": 0.35},
    {"process": 1, "type": "ok", "f": "read", "value": 1, "time": 0.4},
    {"process": 2, "type": "info", "f": "write", "value": 2, "time": 0.6},
    {"process": 1, "type": "invoke", "f": "read", "value": None, "time": 0.7},
    {"process": 1, "type": "ok", "f": "read", "value": 2, "time": 0.8},
    {"process": 0, "type": "invoke", "f": "read", "value": None, "time": 0.9},
    {"process": 0, "type": "ok", "f": "read", "value": 1, "time": 1.0},
]


def elements(svg: str, tag: str) -> list[ET.Element]:
    return list(ET.fromstring(svg).iter(f"{SVG}{tag}"))


def test_passing_history_marks_one_point_per_operation() -> None:
    result = check_linearizable(EVENTS[:8], "register")
    assert result.linearizable
    svg = render_svg(result)
    placed = len(result.partitions[0].linearization)
    assert len(elements(svg, "circle")) == placed == 4
    assert "stuck here" not in svg
    rows = {t.text for t in elements(svg, "text")}
    assert {"p0", "p1", "p2"} <= rows


def test_failing_history_shows_where_it_fails() -> None:
    result = check_linearizable(EVENTS, "register")
    failure = result.failure
    assert failure is not None
    svg = render_svg(result, title="stale read")
    assert len(elements(svg, "circle")) == len(failure.linearization)
    assert "stuck here" in svg and "NOT linearizable" in svg and "stale read" in svg
    outlined = [r for r in elements(svg, "rect") if r.get("stroke") == "#c62828"]
    assert len(outlined) >= 2  # the stuck read, and the shaded region
    # The tooltips name every operation.
    titles = [t.text or "" for t in elements(svg, "title")]
    assert len(titles) == len(result.history)


def test_points_lie_inside_their_operations_and_in_order() -> None:
    history = History.from_events(EVENTS[:8])
    result = check_linearizable(history, "register")
    order = result.partitions[0].linearization
    points = linearization_points(order)
    assert points == sorted(points)
    for op, t in zip(order, points, strict=True):
        end = op.complete_time if op.status != "info" else float("inf")
        assert op.invoke_time <= t <= (end if end is not None else float("inf"))


def test_a_bare_history_can_be_drawn() -> None:
    svg = render_svg(History.from_events(EVENTS))
    assert elements(svg, "circle") == []
    assert len(elements(svg, "title")) == 5


def test_html_is_self_contained(tmp_path: Path) -> None:
    result = check_linearizable(EVENTS, "register")
    page = render_html(result)
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "<script" not in page and "<link" not in page
    assert page.count("http") == page.count("http://www.w3.org/2000/svg")
    assert "completed before it could be placed" in page  # the full explanation is there


def test_draw_history_picks_the_format_from_the_suffix(tmp_path: Path) -> None:
    result = check_linearizable(EVENTS, "register")
    assert draw_history(result, tmp_path / "a.svg").read_text().startswith("<svg")
    assert draw_history(result, tmp_path / "a.html").read_text().startswith("<!doctype")
    with pytest.raises(CheckInputError, match=r"must end in \.svg or \.html"):
        draw_history(result, tmp_path / "a.png")


def test_only_the_failing_key_is_drawn_for_a_partitioned_history() -> None:
    events = [dict(e, key="x") for e in EVENTS] + [
        {"process": 5, "type": "invoke", "f": "write", "value": 9, "key": "y", "time": 1.1},
        {"process": 5, "type": "ok", "f": "write", "value": 9, "key": "y", "time": 1.2},
    ]
    svg = render_svg(check_linearizable(events, "register"))
    assert len(elements(svg, "title")) == 5
    assert "p5" not in {t.text for t in elements(svg, "text")}
