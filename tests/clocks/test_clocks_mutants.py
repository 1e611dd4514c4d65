"""The clocks package held to exact geometry, texts and bounds (issue 21: the gaps one-token
mutants of ``dsys/clocks`` showed). The drawings are checked against a small hand-made
trace whose layout follows from the rules in :mod:`dsys.clocks.draw` (lanes ``LANE_GAP``
apart, rows by virtual time but at least ``MIN_STEP`` apart, arrows stopping short of the
dot); the checkers' rarely rendered texts (a violation one step apart, a longer causal
path) on traces with one wrong timestamp; and the old module names that must keep
working."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsys import Node, TraceEvent, message
from dsys.clocks import (
    CristianClient,
    VectorClock,
    VectorClockLayer,
    check_hlc,
    check_lamport,
    check_vector,
    checkers,
)
from dsys.clocks.cristian import TimeReply, TimeRequest
from dsys.clocks.draw import LANE_GAP, LEFT, MIN_STEP, TOP, draw_clocks, save
from dsys.testing import NodeHarness, Note


def stamp_note(time: float, node: str, on: str, clock: str, value: Any,
               **data: Any) -> TraceEvent:
    return TraceEvent(time, node, "note", {"event": "timestamp", "clock": clock, "on": on,
                                           "value": value, **data})


def send(time: float, node: str, to: str, mid: int, **stamps: Any) -> TraceEvent:
    return TraceEvent(time, node, "send", {"to": to, "id": mid, "msg": {"type": "Ping"},
                                           "stamps": stamps})


def recv(time: float, node: str, src: str, mid: int) -> TraceEvent:
    return TraceEvent(time, node, "recv", {"from": src, "id": mid, "msg": {"type": "Ping"}})


def small_run() -> list[TraceEvent]:
    """a sends to b; b receives, sends to c, and that message is lost; c has a local
    event (noted by both clocks: one dot). Trace indices: the dots are e0, e1, e4, e6."""
    return [
        send(0.0, "a", "b", 1, lamport=1, vector={"a": 1}),  # e0
        recv(0.5, "b", "a", 1),  # e1
        stamp_note(0.5, "b", "receive", "lamport", 2, **{"from": "a"}),
        stamp_note(0.5, "b", "receive", "vector", {"a": 1, "b": 1}, **{"from": "a"}),
        send(0.5, "b", "c", 2, lamport=3, vector={"a": 1, "b": 2}),  # e4
        TraceEvent(0.5, "b", "drop", {"from": "b", "to": "c", "id": 2, "type": "Ping",
                                      "reason": "loss"}),  # e5
        stamp_note(1.0, "c", "local", "lamport", 1, what="x"),  # e6
        stamp_note(1.0, "c", "local", "vector", {"c": 1}, what="x"),
    ]


# ----- the drawing's geometry ----------------------------------------------------------------


def test_lanes_rows_arrows_and_the_lost_message_are_where_the_layout_rules_put_them() -> None:
    svg = draw_clocks(small_run())
    x = [LEFT + 40 + i * LANE_GAP for i in range(3)]
    assert x == [100, 300, 500]
    for node, lane in zip("abc", x, strict=True):
        assert f'<text x="{lane}" y="{TOP - 16}" text-anchor="middle" font-weight="bold">' \
               f"{node}</text>" in svg
    # Rows: the span of 1 s is drawn over the default height of 500 px; e1 is 0.5 s after
    # e0 (250 px); e4 and the drop happen at the same instant, MIN_STEP below each other.
    y0, y1 = TOP, TOP + 250
    y4, y5 = y1 + MIN_STEP, y1 + 2 * MIN_STEP
    y6 = y5 + 250
    dots = [(100, y0, "1 [1,0,0]"), (300, y1, "2 [1,1,0]"), (300, y4, "3 [1,2,0]"),
            (500, y6, "1 [0,0,1]")]
    for cx, cy, label in dots:
        assert (f'<circle cx="{cx}" cy="{cy:.1f}" r="4" fill="#2d3748"/><text x="{cx + 9}" '
                f'y="{cy + 4:.1f}"') in svg
        assert f">{label}</text>" in svg
    assert svg.count("<circle") == 4
    # The arrow e0 -> e1 stops 5 px short of e1's dot, along the line.
    length = ((300 - 100) ** 2 + (y1 - y0) ** 2) ** 0.5
    end_x, end_y = 300 - 200 * 5 / length, y1 - (y1 - y0) * 5 / length
    assert f'<path d="M100,{y0:.1f} L{end_x:.1f},{end_y:.1f}"' in svg
    assert "L296.9,330.1" in svg
    # The lost message: a dashed line 45% of the way to c's lane, down to the drop's row.
    assert (f'<line x1="300" y1="{y4:.1f}" x2="390.0" y2="{y5:.1f}" stroke="#c53030" '
            'stroke-dasharray="4,3"/>') in svg
    assert '<path d="M386.0,370.0 L394.0,378.0 M386.0,378.0 L394.0,370.0"' in svg
    width, height = 100 + 2 * LANE_GAP + 160, y6 + 40 + 30
    assert svg.startswith(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
                          f'height="{height:.0f}"')
    assert "labels: lamport then vector [a,b,c]</text>" in svg
    assert "in red; its past" not in svg  # no highlight: no second legend line


def test_a_highlighted_event_colours_its_past_future_and_concurrent_events() -> None:
    svg = draw_clocks(small_run(), highlight=1, title="a & b")
    assert ">a &amp; b</text>" in svg
    assert '<text x="10" y="48" fill="#4a5568">e1 in red; its past in blue' in svg
    assert '<circle cx="100" cy="84.0" r="4" fill="#2b6cb0"/>' in svg  # past
    assert '<circle cx="300" cy="334.0" r="6" fill="#c53030"/>' in svg  # e1 itself
    assert '<circle cx="300" cy="354.0" r="4" fill="#2f855a"/>' in svg  # future
    assert '<circle cx="500" cy="624.0" r="4" fill="#dd6b20"/>' in svg  # concurrent


def test_only_the_chosen_lanes_are_drawn_and_half_visible_messages_are_left_out() -> None:
    svg = draw_clocks(small_run(), nodes=["a", "b"], clocks=("lamport",))
    assert svg.count("<circle") == 3 and "stroke-dasharray" not in svg  # c is not drawn
    assert svg.count("marker-end") == 1
    assert "labels: lamport</text>" in svg
    svg = draw_clocks(small_run(), nodes=["b", "c"])
    assert svg.count("marker-end") == 0  # the arrow from a has no lane to start from
    assert svg.count("stroke-dasharray") == 1


def test_a_message_to_itself_is_a_loop_and_hybrid_stamps_are_pairs() -> None:
    trace = [send(0.0, "a", "a", 1, hlc=[5, 0]), recv(0.0, "a", "a", 1),
             stamp_note(0.0, "a", "receive", "hlc", [5, 1], **{"from": "a"}),
             stamp_note(1.0, "a", "local", "hlc", [7, 0, 1], what="odd")]
    svg = draw_clocks(trace, clocks=("hlc",))
    assert ">(5,0)</text>" in svg and ">(5,1)</text>" in svg
    assert ">[7, 0, 1]</text>" in svg  # not a pair: shown as it is
    assert '<path d="M100,84.0 C150,84.0 150,104.0 103,104.0"' in svg


def test_save_creates_the_folders_it_needs(tmp_path: Path) -> None:
    path = save(small_run(), tmp_path / "deep" / "er" / "run.svg", highlight=1)
    assert path == tmp_path / "deep" / "er" / "run.svg"
    assert path.read_text(encoding="utf-8") == draw_clocks(small_run(), highlight=1)


# ----- the checkers' texts -------------------------------------------------------------------


def test_a_violation_one_message_apart_says_one_step() -> None:
    trace = [send(0.0, "a", "b", 1, lamport=4), recv(0.1, "b", "a", 1),
             stamp_note(0.1, "b", "receive", "lamport", 4, **{"from": "a"})]
    report = check_lamport(trace)
    assert [v.text for v in report.violations] == [
        "e0 (a: send Ping() to b (#1)) happened before e1 (b: recv Ping() from a (#1)) "
        "(one step), but L(e0) = 4 is not less than L(e1) = 4"]
    assert report.violations[0].events == (0, 1) and report.judged == 2


def test_a_violation_far_apart_names_the_message_hops_between() -> None:
    trace = [
        send(0.0, "a", "b", 1, lamport=9),  # e0
        recv(0.1, "b", "a", 1),  # e1
        stamp_note(0.1, "b", "receive", "lamport", 10, **{"from": "a"}),
        TraceEvent(0.2, "b", "log", {"text": "thinking"}),  # e3: not stamped
        send(0.3, "b", "c", 2, lamport=11),  # e4
        recv(0.4, "c", "b", 2),  # e5
        stamp_note(0.4, "c", "receive", "lamport", 3, **{"from": "b"}),
    ]
    report = check_lamport(trace)
    assert [v.text for v in report.violations] == [
        "e4 (b: send Ping() to c (#2)) happened before e5 (c: recv Ping() from b (#2)) "
        "(one step), but L(e4) = 11 is not less than L(e5) = 3"]
    # The witness is the stamped ancestor with the greatest timestamp; with e4 stamped
    # lower, the witness is e1, two steps and a local one away.
    trace[4] = send(0.3, "b", "c", 2, lamport=1)
    texts = [v.text for v in check_lamport(trace).violations]
    assert any("causal path e1 → e4 → e5" in t and "L(e1) = 10" in t for t in texts), texts


def test_vector_and_hlc_reports_count_the_stamped_events() -> None:
    trace = [send(0.0, "a", "b", 1, vector={"a": 1}, hlc=[3, 0]), recv(0.1, "b", "a", 1),
             stamp_note(0.1, "b", "receive", "vector", {"a": 1, "b": 1}, **{"from": "a"}),
             stamp_note(0.1, "b", "receive", "hlc", [3, 1], pt=2, **{"from": "a"})]
    assert check_vector(trace).judged == 2 and check_vector(trace).ok
    report = check_hlc(trace, epsilon=1)
    assert report.ok and report.judged == 2
    assert report.explain() == ("hlc clock condition (e → f ⇒ hlc(e) < hlc(f)) and pt <= l "
                                "<= pt + 1: ok (2 timestamped events checked)")
    assert not check_hlc(trace, epsilon=0)


# ----- the old module names ---------------------------------------------------------------------


def test_the_old_module_names_still_give_the_same_objects() -> None:
    from dsys.check import Report
    from dsys.clocks import check as old
    from dsys.demos import clock_sync

    assert old.check_lamport is checkers.check_lamport and old.ClockCheck is Report
    from dsys.clocks import measure

    assert measure.measure_berkeley is clock_sync.measure_berkeley


# ----- a vector's JSON: the edges of what is accepted ------------------------------------------


def test_a_zero_entry_is_a_valid_count_and_is_dropped() -> None:
    assert VectorClock.from_json({"a": 0, "b": 2}) == VectorClock({"b": 2})
    assert VectorClock.from_json({}) == VectorClock()
    h = NodeHarness(Gossiper)
    h.start()
    assert h.deliver("b", Hop(), stamps={"vector": {"a": 0, "b": 3}}) == [
        Note("timestamp", {"clock": "vector", "on": "receive", "value": {"a": 1, "b": 3},
                           "from": "b"})]


# ----- Cristian's client: numbering, memory, and what it adopts ------------------------------


@message(name="clock-mutants:Hop")
class Hop:
    pass


class Gossiper(Node):
    def __init__(self) -> None:
        super().__init__()
        self.clock = self.add_layer(VectorClockLayer())


class Laptop(Node):
    def __init__(self) -> None:
        super().__init__()
        self.sync = self.add_component(CristianClient("server", interval=1.0, min_delay=0.01,
                                                      max_drift=1e-3))


def laptop() -> NodeHarness:
    h = NodeHarness(Laptop, "laptop", ("server", "other"))
    h.start()
    return h


def sync(h: NodeHarness) -> CristianClient:
    return h.node.sync  # type: ignore[attr-defined, no-any-return]


def test_the_client_numbers_its_requests_and_asks_every_interval() -> None:
    h = laptop()
    h.advance(3.0)
    assert [(s.dst, s.msg) for s in h.sent()] == [
        ("server", TimeRequest(n)) for n in (1, 2, 3, 4)]
    assert h.timers["cristian/request"] == 4.0


def test_the_client_adopts_the_estimate_of_a_reply_with_its_bound() -> None:
    h = laptop()
    h.advance(0.1)
    h.deliver("other", TimeReply(1, 50.0), component="cristian")  # not its server
    h.deliver("server", TimeReply(7, 50.0), component="cristian")  # a request never sent
    assert sync(h).error_bound is None and sync(h).correction == 0.0
    h.deliver("server", TimeReply(1, 50.0), component="cristian")
    # rtt 0.1: the server's time now is 50.05; the error is rtt/2 - min_delay plus drift
    assert sync(h).correction == pytest.approx(50.05 - 0.1)
    bound = 0.05 - 0.01 + 3 * 1e-3 * 0.1 / (1 - 1e-3)
    assert sync(h).error_bound == pytest.approx(bound)
    assert [n.data for n in h.notes if n.event == "clock_sync"] == [
        {"component": "cristian", "rtt": pytest.approx(0.1),
         "correction": pytest.approx(49.95), "bound": pytest.approx(bound)}]
    # The bound grows with the drift since it was established: 2 rho per second
    h.advance(0.5)
    assert sync(h).error_bound == pytest.approx(bound + 2 * 1e-3 * 0.5 / (1 - 1e-3))


def test_the_client_forgets_requests_beyond_its_memory() -> None:
    h = laptop()
    remember = CristianClient.REMEMBER
    h.advance(remember + 0.5)  # requests 1 .. REMEMBER + 1 are out
    h.deliver("server", TimeReply(1, 9.0), component="cristian")  # forgotten
    assert sync(h).error_bound is None
    h.deliver("server", TimeReply(2, 9.0), component="cristian")  # still remembered
    assert sync(h).error_bound is not None
