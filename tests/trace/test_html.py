"""The trace viewer's page builder (dsys.trace.html), without a browser: what goes into
the page, that nothing in a payload can break out of it, that it is the same bytes every
time, that its size is bounded, and that ``dsys trace view`` writes it."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from dsys import Trace, TraceEvent, UsageError
from dsys.trace import html as viewer
from dsys.trace.html import Mark, causal_predecessors, cone, page_data, render

ROOT = Path(__file__).resolve().parents[2]


def small() -> Trace:
    """a pings b and c; b answers; the ping to c is lost; c crashes and comes back;
    a partition comes and goes; an invariant fails at the end."""
    return Trace([
        TraceEvent(0.0, "a", "start", {}),                                           # 0
        TraceEvent(0.1, "a", "send", {"to": "b", "id": 1, "msg": "ping"}),           # 1
        TraceEvent(0.1, "a", "send", {"to": "c", "id": 2, "msg": "ping"}),           # 2
        TraceEvent(0.2, "b", "recv", {"from": "a", "id": 1, "msg": "ping"}),         # 3
        TraceEvent(0.2, "b", "note", {"event": "pinged", "by": "a"}),                # 4
        TraceEvent(0.3, "a", "drop", {"from": "a", "to": "c", "id": 2,               # 5
                                      "type": "str", "reason": "loss"}),
        TraceEvent(0.3, "b", "send", {"to": "a", "id": 3, "msg": "pong"}),           # 6
        TraceEvent(0.4, "c", "crash", {}),                                           # 7
        TraceEvent(0.5, "", "partition", {"groups": [["a"], ["b", "c"]]}),           # 8
        TraceEvent(0.6, "a", "recv", {"from": "b", "id": 3, "msg": "pong"}),         # 9
        TraceEvent(0.7, "c", "restart", {"incarnation": 1}),                         # 10
        TraceEvent(0.8, "", "heal", {}),                                             # 11
        TraceEvent(0.9, "a", "log", {"text": "done"}),                               # 12
        TraceEvent(1.0, "", "violation", {"invariant": "one leader", "problem": "two"}),  # 13
    ])


def test_causality_follows_each_nodes_order_and_each_message() -> None:
    preds = causal_predecessors(small())
    assert preds[3] == [1]            # b's first event: only the send of what it received
    assert preds[4] == [3]            # b's note follows b's recv
    assert preds[5] == [2]            # a drop follows its send only...
    assert preds[9] == [2, 6]         # ...and a's next event does not follow the drop
    assert preds[8] == [] and preds[13] == []   # network events are nobody's
    assert preds[10] == [7]           # a restart follows the crash on the same node
    past, future = cone(small(), 6)   # b sends pong
    assert past == {0, 1, 3, 4}
    assert future == {9, 12}
    assert cone(small(), 7) == (set(), {10})   # c never heard from anyone
    with pytest.raises(UsageError, match="no event at position 14"):
        cone(small(), 14)


def test_a_reply_pairs_with_its_send_even_when_the_receiver_sent_last() -> None:
    # b's own send comes right before its recv: the pair is a's send, not b's.
    trace = Trace([
        TraceEvent(0.0, "a", "send", {"to": "b", "id": 1, "msg": "x"}),
        TraceEvent(0.0, "b", "send", {"to": "a", "id": 2, "msg": "y"}),
        TraceEvent(0.1, "b", "recv", {"from": "a", "id": 1, "msg": "x"}),
        TraceEvent(0.1, "a", "recv", {"from": "b", "id": 2, "msg": "y"}),
    ])
    data = page_data(trace)
    assert data["peers"] == [[2], [3], [0], [1]]
    assert data["preds"] == [[], [], [1, 0], [0, 1]]


def test_the_page_data_has_lanes_bands_and_problems() -> None:
    data = page_data(small(), title="pings", highlight=[4, Mark("late", start=0.2, end=0.3,
                                                                  node="b", kind="info")])
    assert data["title"] == "pings"
    assert data["lanes"] == ["a", "b", "c"]   # first appearance, not sorted
    assert [(b["kind"], b["node"], b["start"], b["end"]) for b in data["bands"]] == [
        ("crash", "c", 0.4, 0.7), ("partition", None, 0.5, 0.8)]
    assert data["bands"][1]["label"] == "partition a | b,c"
    assert [(m["label"], m["pos"], m["kind"]) for m in data["marks"]] == [
        ("highlighted", 4, "failure"), ("late", None, "info"), ("one leader: two", 13, "failure")]
    assert [e[4] for e in data["events"][1:6]] == ["str", "str", "str", None, "str"]
    assert data["summary"] is None
    assert page_data(small(), nodes=["c", "b"])["lanes"] == ["c", "b", "a"]


def test_marks_are_checked() -> None:
    with pytest.raises(UsageError, match="cannot mark event 99"):
        render(small(), highlight=[99])
    with pytest.raises(UsageError, match="'failure' or 'info'"):
        Mark("x", kind="bad")


def test_no_payload_can_break_out_of_the_page() -> None:
    evil = "</script><script>alert(1)</script><!-- & \u2028 </SCRIPT >"
    trace = Trace([TraceEvent(0.0, "a", "log", {"text": evil}),
                   TraceEvent(0.1, evil, "note", {"event": evil, evil: 1})])
    page = render(trace, title="<b>title</b>", highlight=[Mark(evil, event=0)])
    head, rest = page.split('<script type="application/json" id="dsys-trace-data">')
    data_text, tail = rest.split("</script>", 1)
    assert "<" not in data_text and ">" not in data_text and "&" not in data_text
    assert "\u2028" not in data_text
    assert "<title>&lt;b&gt;title&lt;/b&gt;</title>" in head
    assert "alert" not in head and "alert" not in tail
    data = json.loads(data_text)       # the browser reads the same text back
    assert data["events"][0][6] == {"text": evil}
    assert data["events"][1][2] == evil and data["marks"][0]["label"] == evil
    assert page.count("<script") == 2  # the data and the viewer's own script, no more


def test_the_page_is_self_contained() -> None:
    page = render(small())
    for outside in ("http://", "https://", "src=", "<link", "@import", "url("):
        assert outside not in page.replace("http://www.w3.org/2000/svg", ""), outside


def test_the_same_trace_gives_the_same_bytes_in_any_process() -> None:
    assert render(small()) == render(small())
    code = (
        "import hashlib; from dsys.demos import pingpong; from dsys.trace.html import render\n"
        "sim = pingpong.scenario(3, 2.0); sim.run(2.0)\n"
        "print(hashlib.sha256(render(sim.trace).encode()).hexdigest())"
    )
    digests = set()
    for seed in ("0", "1"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        digests.add(out.strip())
    assert len(digests) == 1 and len(next(iter(digests))) == 64
    assert hashlib.sha256(render(small()).encode()).hexdigest() != next(iter(digests))


def big(count: int, bad: int) -> Trace:
    events = [TraceEvent(i * 0.001, "abc"[i % 3], "log", {"text": f"{i} " + "x" * 200})
              for i in range(count)]
    events[bad] = TraceEvent(bad * 0.001, "", "violation", {"invariant": "safe",
                                                            "problem": "broken"})
    return Trace(events)


def test_a_big_trace_is_summarised_and_says_so() -> None:
    trace = big(20_000, bad=12_345)
    page = render(trace, max_bytes=200_000)
    assets = sum(len(viewer._asset(n)) for n in ("viewer.js", "viewer.css"))
    assert len(page) < 200_000 + assets + 5_000
    data = page_data(trace, max_bytes=200_000)
    kept = [e[0] for e in data["events"]]
    assert kept[0] == 0 and kept[-1] == 19_999          # the first and the last...
    assert 12_345 in kept and 12_345 - 40 in kept       # ...and around the failure
    assert len(kept) < 1_000 and kept == sorted(kept)
    assert data["summary"]["total"] == 20_000 and data["summary"]["kept"] == len(kept)
    assert f"shows {len(kept)} of them" in data["summary"]["text"]
    mark = data["marks"][0]
    assert mark["event"] == 12_345 and data["events"][mark["pos"]][0] == 12_345
    # Causality refers to kept events only, by their place on the page.
    assert all(0 <= p < len(kept) for ps in data["preds"] for p in ps)
    assert page_data(big(100, bad=5), max_bytes=200_000)["summary"] is None


def test_one_huge_payload_is_cut() -> None:
    data = page_data(Trace([TraceEvent(0.0, "a", "log", {"text": "y" * 100_000})]))
    payload = data["events"][0][6]
    assert payload["cut"].startswith("100012 characters, the first 20000 shown")
    assert len(payload["text"]) == viewer.MAX_EVENT_CHARS


def test_jupyter_shows_the_viewer_in_a_frame() -> None:
    shown = small()._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in shown
    assert "<script" not in shown       # all of the page is inside the attribute, escaped
    assert "&lt;script" in shown


def test_dsys_trace_view_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from dsys.cli import main

    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    path = small().save(tmp_path / "run.jsonl")
    assert main(["trace", "view", str(path)]) == 0
    page = tmp_path / "run.html"
    assert f"wrote {page}" in capsys.readouterr().out
    assert "<title>run.jsonl</title>" in page.read_text()
    assert opened == [] or not sys.platform.startswith("linux")   # no display: not opened
    monkeypatch.setenv("DISPLAY", ":0")
    out = tmp_path / "out" / "b.html"
    assert main(["trace", "view", str(path), "-o", str(out), "--node", "b", "--no-open",
                 "--title", "only b"]) == 0
    assert opened == [] or not sys.platform.startswith("linux")
    data = page_data(Trace(e for e in Trace.load(path) if e.node in ("b", "")))
    assert [e[3] for e in data["events"]] == ["recv", "note", "send", "partition", "heal",
                                               "violation"]
    assert f'"events":{json.dumps(data["events"], sort_keys=True, separators=(",", ":"))}' \
        .replace("<", "\\u003c") in out.read_text()
    assert main(["trace", "view", str(path), "-o", str(tmp_path / "c.html")]) == 0
    assert opened == [(tmp_path / "c.html").resolve().as_uri()]
    assert main(["trace", "view", str(tmp_path / "missing.jsonl"), "--no-open"]) == 2
    assert "trace file not found" in capsys.readouterr().err


def test_the_viewers_script_and_style_ship_in_the_wheel() -> None:
    assets = resources.files("dsys.trace").joinpath("viewer")
    names = sorted(p.name for p in assets.iterdir() if p.name.endswith((".js", ".css")))
    assert names == ["viewer.css", "viewer.js"]
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"].get("dsys", [])
    for name in names:
        assert any(fnmatch.fnmatch(f"trace/viewer/{name}", p) for p in patterns), (
            f"pyproject's package-data for dsys does not take trace/viewer/{name}")


def test_a_checkers_report_becomes_marks_that_link_to_events() -> None:
    from dsys.check import Report, Violation
    from dsys.trace.html import marks_from

    report = Report("safety", (Violation(0.45, ("c (applied)", "b"), "c went wrong"),
                               Violation(0.2, ("b",), "b too", events=(3, 4))), 14, "steps")
    marks = marks_from(report)
    assert marks == [Mark("c went wrong", start=0.45, end=0.45, node="c"),
                     Mark("b too", event=3)]
    data = page_data(small(), highlight=marks)
    assert [(m["pos"], m["near"]) for m in data["marks"][:2]] == [(None, 10), (3, None)]
