"""The trace viewer in a real browser (headless Chromium, see tests/browser.py): the page
loads without errors, shows every event, filters, shows a message's payload and its other
end, steps through events, and highlights the right happens-before cone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dsys import Trace, TraceEvent
from dsys.trace.html import Mark, cone, save
from tests.browser import chromium, console_errors

EVIL = "</script><script>document.title='pwned'</script>"


def hand_made() -> Trace:
    """Three nodes, spread out in time so that every arrow and glyph can be clicked."""
    return Trace([
        TraceEvent(0.0, "a", "start", {}),                                               # 0
        TraceEvent(1.0, "a", "send", {"to": "b", "id": 1,                                # 1
                                      "msg": {"type": "demo:Ping", "body": {"n": 1}}}),
        TraceEvent(2.0, "b", "recv", {"from": "a", "id": 1,                              # 2
                                      "msg": {"type": "demo:Ping", "body": {"n": 1}}}),
        TraceEvent(3.0, "b", "note", {"event": "pinged", "text": EVIL}),                 # 3
        TraceEvent(4.0, "b", "send", {"to": "c", "id": 2,                                # 4
                                      "msg": {"type": "demo:Pong", "body": {"n": 2}}}),
        TraceEvent(4.5, "c", "log", {"text": "idle"}),                                   # 5
        TraceEvent(5.0, "c", "recv", {"from": "b", "id": 2,                              # 6
                                      "msg": {"type": "demo:Pong", "body": {"n": 2}}}),
        TraceEvent(6.0, "a", "send", {"to": "c", "id": 3,                                # 7
                                      "msg": {"type": "demo:Ping", "body": {"n": 3}}}),
        TraceEvent(7.0, "a", "drop", {"from": "a", "to": "c", "id": 3, "type": "Ping",  # 8
                                      "reason": "partition"}),
        TraceEvent(6.5, "", "partition", {"groups": [["a"], ["b", "c"]]}),               # 9
        TraceEvent(8.0, "c", "crash", {}),                                               # 10
        TraceEvent(9.0, "", "heal", {}),                                                 # 11
        TraceEvent(10.0, "c", "restart", {"incarnation": 1}),                            # 12
        TraceEvent(11.0, "", "violation", {"invariant": "pong once", "problem": "twice"}),  # 13
    ])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    path = save(hand_made(), tmp_path / "t.html", title="hand-made",
                highlight=[Mark("looked odd", event=5, kind="info")])
    tab = browser.new_page(viewport={"width": 1200, "height": 800})
    errors = console_errors(tab)
    tab.goto(path.as_uri())
    tab.wait_for_selector("#dsys-count[data-shown]")
    yield tab
    assert errors == []
    tab.close()


def shown(page: Any) -> int:
    return int(page.get_attribute("#dsys-count", "data-shown"))


def drawn(page: Any, selector: str = "g.ev") -> list[int]:
    return sorted(int(p) for p in page.eval_on_selector_all(
        selector, "els => els.map(e => e.getAttribute('data-pos'))"))


def selected(page: Any) -> int:
    return int(page.get_attribute("#dsys-details", "data-pos"))


def test_it_loads_and_shows_every_event(page: Any) -> None:
    assert page.title() == "hand-made"            # the payload's script did not run
    assert shown(page) == len(hand_made()) == 14
    assert drawn(page) == list(range(14))
    assert len(page.query_selector_all("line.msg")) == 3   # two arrivals and one loss
    assert len(page.query_selector_all("line.msg.lost")) == 1
    assert len(page.query_selector_all("#dsys-diagram rect.band-partition")) == 1
    assert len(page.query_selector_all("#dsys-diagram rect.band-crash")) == 1
    problems = page.inner_text("#dsys-problems")
    assert "looked odd" in problems and "pong once: twice" in problems
    assert "pinged" in page.inner_text("#dsys-diagram")   # the note's text is on its lane


def test_filters_reduce_the_shown_events(page: Any) -> None:
    page.click("#dsys-filters summary")
    page.uncheck('input[data-filter="node"][value="b"]')
    on_b = [i for i, e in enumerate(hand_made()) if e.node == "b"]
    assert shown(page) == 14 - len(on_b) == 11
    assert drawn(page) == [i for i in range(14) if i not in on_b]
    assert len(page.query_selector_all("line.msg")) == 1   # only a's lost ping is left
    page.check('input[data-filter="node"][value="b"]')
    page.uncheck('input[data-filter="type"][value="Ping"]')
    pings = [1, 2, 7, 8]                                    # sends, arrival and the drop
    assert shown(page) == 14 - len(pings)
    assert drawn(page) == [i for i in range(14) if i not in pings]
    page.uncheck('input[data-filter="kind"][value="note"]')
    assert shown(page) == 14 - len(pings) - 1
    assert "of 14 events shown" in page.inner_text("#dsys-count")


def test_clicking_a_message_shows_its_payload_and_its_pair(page: Any) -> None:
    page.click('line.hit[data-send="4"][data-recv="6"]')
    assert selected(page) == 6
    details = page.inner_text("#dsys-details")
    assert '"n": 2' in details and "demo:Pong" in details
    assert "sent by b at 4s" in page.inner_text('#dsys-details [data-role="pair"]')
    page.click('#dsys-details [data-role="pair"] button[data-goto="4"]')
    assert selected(page) == 4
    assert "received by c at 5s" in page.inner_text('#dsys-details [data-role="pair"]')
    page.click('line.hit[data-send="7"]')
    assert selected(page) == 8
    assert "sent by a" in page.inner_text('#dsys-details [data-role="pair"]')
    page.click('g.ev[data-pos="3"]')                        # a note, with a hostile text
    assert EVIL in page.inner_text('#dsys-details [data-role="payload"]')
    assert page.title() == "hand-made"


def test_stepping_moves_the_selection(page: Any) -> None:
    page.click('g.ev[data-pos="2"]')
    page.keyboard.press("ArrowRight")
    assert selected(page) == 3
    page.click("#dsys-next")
    assert selected(page) == 4
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("p")
    assert selected(page) == 2
    page.click("#dsys-filters summary")
    page.uncheck('input[data-filter="kind"][value="note"]')   # stepping skips hidden events
    page.click('g.ev[data-pos="2"]')
    page.keyboard.press("ArrowRight")
    assert selected(page) == 4
    page.keyboard.press("Escape")
    assert page.get_attribute("#dsys-details", "data-pos") is None or \
        "Click an event" in page.inner_text("#dsys-details")


def test_the_happens_before_cone_has_the_right_members(page: Any) -> None:
    page.click('g.ev[data-pos="4"]')                        # b sends Pong to c
    past, future = cone(hand_made(), 4)
    assert past == {0, 1, 2, 3} and future == {6, 10, 12}
    assert drawn(page, "g.ev.past") == sorted(past)
    # The selected send's arrival is drawn as its pair, the rest of its future as future.
    assert drawn(page, "g.ev.peer") == [6]
    assert drawn(page, "g.ev.future") == [10, 12]
    assert drawn(page, "g.ev.dim") == [5, 7, 8, 9, 11, 13]
    cone_info = page.query_selector('#dsys-details [data-role="cone"]')
    assert cone_info.get_attribute("data-past") == "4"
    assert cone_info.get_attribute("data-future") == "3"
    page.uncheck("#dsys-cone")
    assert drawn(page, "g.ev.dim") == [] and drawn(page, "g.ev.past") == []


def test_zoom_and_problems(page: Any) -> None:
    page.click('#dsys-problems button[data-goto="13"]')
    assert selected(page) == 13
    for _ in range(3):
        page.click("#dsys-zoom-in")
    assert 0 < len(drawn(page)) < 14                # zoomed in around the selection
    assert 13 in drawn(page)
    page.click("#dsys-fit")
    assert drawn(page) == list(range(14))
    page.select_option("#dsys-mode", "order")
    assert drawn(page) == list(range(14))


def test_the_pages_the_docs_embed_load_and_show_their_runs(browser: Any, tmp_path: Path) -> None:
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gen_viewer_pages",
                                                  root / "docs" / "gen_viewer_pages.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    generator.main(tmp_path)
    pages = sorted(p.name for p in tmp_path.glob("*.html"))
    assert pages == ["viewer-pingpong.html", "viewer-raft-figure8-bug.html", "viewer-raft.html"]
    for name in pages:
        tab = browser.new_page(viewport={"width": 1000, "height": 700})
        errors = console_errors(tab)
        tab.goto((tmp_path / name).as_uri())
        tab.wait_for_selector("#dsys-count[data-shown]")
        assert int(tab.get_attribute("#dsys-count", "data-total")) == shown(tab) > 100
        problems = tab.query_selector_all("#dsys-problems li")
        if "figure8-bug" in name:    # Raft's checkers found the overwritten commit
            assert len(problems) >= 1 and "differ at index 2" in tab.inner_text("#dsys-problems")
        else:
            assert problems == []
        if name == "viewer-raft.html":  # the partition and the crashes are drawn
            assert len(tab.query_selector_all("#dsys-diagram rect.band-partition")) == 1
            assert len(tab.query_selector_all("#dsys-diagram rect.band-crash")) == 2
        assert errors == [], name
        tab.close()


def test_a_busy_view_is_drawn_light_and_zooming_in_brings_the_details_back(
        browser: Any, tmp_path: Path) -> None:
    events = []
    for i in range(1500):
        src, dst = f"n{i % 3}", f"n{(i + 1) % 3}"
        events.append(TraceEvent(i * 0.01, src, "send", {"to": dst, "id": i, "msg": i}))
        events.append(TraceEvent(i * 0.01 + 0.005, dst, "recv", {"from": src, "id": i,
                                                                  "msg": i}))
    path = save(Trace(events), tmp_path / "busy.html")
    tab = browser.new_page(viewport={"width": 1000, "height": 600})
    errors = console_errors(tab)
    tab.goto(path.as_uri())
    tab.wait_for_selector("#dsys-count[data-shown]")
    assert shown(tab) == 3000 and len(drawn(tab)) == 3000
    assert tab.get_attribute("#dsys-diagram svg", "data-dense") == "yes"
    assert tab.query_selector_all("line.hit") == []          # arrows are one path per class
    tab.dispatch_event('g.ev[data-pos="1000"]', "click")
    tab.keyboard.press("ArrowRight")
    assert selected(tab) == 1001
    for _ in range(4):
        tab.click("#dsys-zoom-in")
    assert tab.get_attribute("#dsys-diagram svg", "data-dense") == "no"
    assert 0 < len(drawn(tab)) < 2500 and 1001 in drawn(tab)
    recv = tab.query_selector('line.hit[data-send="1000"]')   # zoomed in: clickable again
    assert recv is not None and recv.get_attribute("data-recv") == "1001"
    assert errors == []
    tab.close()


def test_the_jupyter_frame_runs_the_viewer(browser: Any, tmp_path: Path) -> None:
    notebook = tmp_path / "notebook.html"
    notebook.write_text(f"<html><body>{hand_made()._repr_html_()}</body></html>",
                        encoding="utf-8")
    tab = browser.new_page()
    errors = console_errors(tab)
    tab.goto(notebook.as_uri())
    frame = tab.frame_locator("iframe")
    assert frame.locator("#dsys-count").get_attribute("data-shown") == "14"
    frame.locator('g.ev[data-pos="6"]').click()
    assert "sent by b" in frame.locator('#dsys-details [data-role="pair"]').inner_text()
    assert errors == []
    tab.close()
