"""Traces: every event kind is recorded, saved, loaded, filtered, rendered and drawn."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from dsys import Nemesis, Simulation, Trace, TraceEvent, UsageError
from dsys.demos import election, pingpong
from dsys.trace import svg, terminal


@pytest.fixture(scope="module")
def busy() -> Simulation:
    """A run that produces every kind of event."""
    from tests.sim.test_running import Register, Writer, writes

    sim = election.scenario(seed=3)
    sim.network.update(drop=0.1, duplicate=0.1)
    sim.add_node("server", Register)
    sim.add_client("c0", Writer, workload=writes, ops=5)
    Nemesis(faults=("crash", "clock", "oneway", "partition"), interval=(0.05, 0.1),
            duration=(0.05, 0.1), stop=2.0).install(sim)
    sim.at(0.5, sim.block, "n1", "n2")
    sim.run(until=3.0)
    return sim


EXPECTED = {"start", "send", "recv", "drop", "duplicate", "timer_set", "timer_fire",
            "timer_cancel", "crash", "restart", "partition", "block", "heal", "clock",
            "invoke", "complete", "log"}


def test_every_kind_of_event_is_recorded(busy: Simulation) -> None:
    assert {e.kind for e in busy.trace} >= EXPECTED


def test_save_and_load_round_trip(busy: Simulation, tmp_path: Path) -> None:
    path = busy.trace.save(tmp_path / "sub" / "run.jsonl")
    loaded = Trace.load(path)
    assert loaded.digest() == busy.trace.digest()
    assert [e.kind for e in loaded] == [e.kind for e in busy.trace]
    sends = [e for e in loaded if e.kind == "send"]
    assert sends[0].message_name in {"RequestVote", "Vote", "Heartbeat", "Put", "Ack"}
    assert busy.trace[5].describe() == loaded[5].describe()


def test_filter_by_node_kind_and_window(busy: Simulation) -> None:
    part = busy.trace.filter(nodes=["n1"], kinds=["send", "recv"], start=0.5, end=1.0)
    assert len(part) > 0
    assert all(e.node == "n1" and e.kind in ("send", "recv") and 0.5 <= e.time <= 1.0 for e in part)
    with pytest.raises(UsageError, match="unknown event kind"):
        busy.trace.filter(kinds=["sned"])


def test_a_network_arrival_is_recv_and_old_traces_calling_it_deliver_still_read(
        busy: Simulation, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "deliver" is what protocols do with a message (a note); the network's arrival is recv.
    kinds = {e.kind for e in busy.trace}
    assert "recv" in kinds and "deliver" not in kinds
    old = tmp_path / "old.jsonl"
    busy.trace.save(old)
    old.write_text(old.read_text().replace('"kind":"recv"', '"kind":"deliver"'))
    assert '"kind":"deliver"' in old.read_text()
    loaded = Trace.load(old)
    assert loaded.digest() == busy.trace.digest()
    assert len(loaded.filter(kinds=["deliver"])) == len(busy.trace.filter(kinds=["recv"])) > 0
    from dsys.cli import main

    assert main(["trace", "show", str(old), "--kind", "deliver", "--limit", "3"]) == 0
    assert "recv" in capsys.readouterr().out


def test_load_rejects_a_file_that_is_not_a_trace(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"time": 0, "node": "a", "kind": "log", "data": {}}\n{"oops": 1}\n')
    with pytest.raises(UsageError, match=r"bad.jsonl:2: not a dsys trace event"):
        Trace.load(bad)
    with pytest.raises(UsageError, match="not found"):
        Trace.load(tmp_path / "missing.jsonl")


def test_terminal_view_has_a_column_per_node_and_colours_by_kind() -> None:
    sim = pingpong.scenario(seed=1)
    sim.run(until=1.0)
    console = Console(width=200, record=True, color_system="truecolor")
    console.print(terminal.render(sim.trace, limit=40))
    text = console.export_text(clear=False)
    header = text.splitlines()[2]
    assert "time s" in header and " a " in header and " b " in header and "(network)" in header
    assert "last 40 shown" in text
    styled = console.export_html(inline_styles=True)
    assert "color: #008000" in styled or "color: #00ff00" in styled  # recv in green


def test_svg_draws_arrows_drops_crashes_and_restarts(busy: Simulation) -> None:
    drawing = svg.draw(busy.trace, max_events=100_000, legend=False)
    assert drawing.startswith("<svg") and drawing.rstrip().endswith("</svg>")
    delivered = sum(e.kind == "recv" for e in busy.trace)
    arrows = (drawing.count('marker-end="url(#dsys-st-head-message)"')
              + drawing.count('marker-end="url(#dsys-st-head-duplicate)"'))
    assert arrows == delivered
    assert drawing.count('<line class="drop"') == sum(e.kind == "drop" for e in busy.trace)
    assert drawing.count("crashed") >= 1 and '<circle class="restart"' in drawing
    for node in busy.trace.nodes:
        assert f">{node}</text>" in drawing
    small = svg.draw(busy.trace, max_events=50)
    assert "first 50 of" in small


def test_events_hold_message_objects_in_memory_and_json_on_disk() -> None:
    trace = Trace([TraceEvent(0.0, "a", "log", {"text": "x"})])
    assert '"kind":"log"' in next(trace.lines())
    off = Trace(enabled=False)
    off.record(0.0, "a", "log", {})
    assert len(off) == 0


def test_trace_digest_changes_when_anything_changes() -> None:
    a = Trace([TraceEvent(0.0, "a", "log", {"text": "x"})])
    b = Trace([TraceEvent(0.0, "a", "log", {"text": "y"})])
    c = Trace([TraceEvent(0.1, "a", "log", {"text": "x"})])
    assert len({a.digest(), b.digest(), c.digest()}) == 3


def test_notes_are_structured_trace_events() -> None:
    from dsys import Node

    class Noter(Node):
        def on_start(self) -> None:
            self.note("voted", term=2, candidate="b")

    sim = Simulation()
    sim.add_node("a", Noter)
    sim.run(until=0.1)
    (note,) = [e for e in sim.trace if e.kind == "note"]
    assert note.node == "a" and note.data == {"event": "voted", "term": 2, "candidate": "b"}
    assert note.describe() == "voted(term=2, candidate='b')"


def test_a_refused_frame_is_described_without_missing_fields() -> None:
    event = TraceEvent(0.0, "a", "drop", {"from": "127.0.0.1:5555", "to": "a",
                                           "reason": "bad tag", "detail": "no valid HMAC"})
    assert event.describe() == "drop frame 127.0.0.1:5555->a (bad tag, no valid HMAC)"
