"""More rules of the failure detectors that a larger mutation sample found unpinned
(issue 21): the statistics of the arrival window, the margins added to them, and the
checkers' rarely taken branches and rarely rendered text."""

from __future__ import annotations

import re
import statistics

import pytest

from dsys.failure import Heartbeat, HeartbeatDetector, PhiAccrualDetector, Swim, phi_of
from dsys.failure.checkers import check_convergence, detection_times
from dsys.failure.draw import draw_states
from dsys.failure.phi import ArrivalWindow
from dsys.failure.swim import TRANSITIONS, Ack, Ping, PingReq
from dsys.testing import NodeHarness
from dsys.trace import Trace, TraceEvent
from tests.failure.test_handlers import holding, start_swim


def test_a_sliding_window_forgets_the_square_of_what_falls_out() -> None:
    # Intervals other than 1.0 fall out, so old * old and old / old differ.
    window = ArrivalWindow(size=3)
    intervals = [0.5, 3.0, 0.25, 2.0, 4.0, 0.75]
    for i, interval in enumerate(intervals):
        window.add(interval)
        kept = intervals[max(0, i - 2): i + 1]
        assert window.intervals() == tuple(kept)
        assert window.mean == pytest.approx(statistics.fmean(kept))
        assert window.std == pytest.approx(statistics.pstdev(kept))


def phi_with_pause(pause: float, silence: float) -> tuple[float, float]:
    h = NodeHarness(holding(lambda: PhiAccrualDetector(interval=1.0, acceptable_pause=pause)),
                    "a", ("b",))
    h.start()
    t = 0.0
    for interval in (0.8, 1.2) * 10:
        t += interval
        h.now = t
        h.deliver("b", Heartbeat(), component="detector")
    window = h.node.detector.arrivals["b"]  # type: ignore[attr-defined]
    expected = phi_of(silence, window.mean + pause, max(window.std, 0.1))
    h.now = t + silence
    return h.node.detector.phi("b"), expected  # type: ignore[attr-defined]


def test_the_acceptable_pause_is_added_to_the_mean_interval() -> None:
    got, expected = phi_with_pause(2.0, 3.0)
    assert got == pytest.approx(expected)
    # A pause makes the same silence less suspicious, never more.
    assert phi_with_pause(2.0, 3.0)[0] < 1.0 < phi_with_pause(0.0, 3.0)[0]


def note(t: float, node: str, event: str, **data: object) -> TraceEvent:
    return TraceEvent(t, node, "note", {"event": event, "component": "detector", **data})


def group(*nodes: str) -> list[TraceEvent]:
    events = [TraceEvent(0.0, n, "start") for n in nodes]
    return events + [note(0.0, n, "members", peers=[p for p in nodes if p != n])
                     for n in nodes]


def test_a_monitor_that_left_owes_no_detection_and_its_late_suspicions_do_not_count() -> None:
    trace = Trace([*group("a", "b", "c"), TraceEvent(1.0, "c", "crash"),
                   note(1.5, "a", "leave"),
                   note(2.0, "a", "suspect", peer="c"), note(2.5, "b", "suspect", peer="c")])
    found = detection_times(trace)
    assert [(d.monitor, d.crashed, d.delay) for d in found] == [("b", "c", 1.5)]


def test_convergence_explains_what_is_missing_and_what_is_extra_with_a_dash_for_none() -> None:
    # b crashed and a still trusts it: nothing missing, b extra.
    extra = check_convergence(Trace([*group("a", "b"), TraceEvent(1.0, "b", "crash"),
                                     TraceEvent(3.0, "a", "log", {"text": "."})]), by=2.0)
    assert not extra.ok and extra.judged == 1
    assert "missing -; trusts b which" in extra.explain()
    # a suspects b, which is up: b missing, nothing extra.
    missing = check_convergence(Trace([*group("a", "b"), note(1.0, "a", "suspect", peer="b"),
                                       TraceEvent(3.0, "a", "log", {"text": "."})]), by=2.0)
    assert not missing.ok
    assert "missing b; trusts - which" in missing.explain()


def test_convergence_by_a_time_after_the_trace_judges_its_final_state() -> None:
    trace = Trace([*group("a", "b"), TraceEvent(1.0, "b", "crash")])
    late = check_convergence(trace, by=5.0)
    assert not late.ok and late.judged == 1
    assert late.violations[0].time == 5.0


def test_the_state_diagram_draws_every_curve_and_label_inside_the_picture() -> None:
    svg = draw_states()
    curves = re.findall(r'<path d="M ([\d. ]+) Q ([\d. ]+)"', svg)
    assert len(curves) == len(TRANSITIONS)
    for start, rest in curves:
        xs_ys = [float(v) for v in (start + " " + rest).split()]
        assert all(0 <= x <= 820 for x in xs_ys[0::2]), (start, rest)
        assert all(0 <= y <= 360 for y in xs_ys[1::2]), (start, rest)
    for x, y in re.findall(r'<text x="([\d.-]+)" y="([\d.-]+)"', svg):
        assert 0 <= float(x) <= 820 and 0 <= float(y) <= 360


def test_the_defaults_are_those_of_the_signatures() -> None:
    # The defaults are API (the docs' examples and the demos rely on them): a changed
    # constant must be a decision, not an accident. HeartbeatDetector suspects after four
    # missed beats; Swim probes one member a second with 3 helpers.
    heartbeat = HeartbeatDetector()
    assert (heartbeat.interval, heartbeat.timeout) == (0.5, 2.0)
    swim = Swim()
    assert (swim.period, swim.ping_timeout, swim.indirect_probes, swim.suspicion_mult,
            swim.retransmit_mult, swim.max_piggyback) == (1.0, 0.5, 3, 4.0, 4, 8)
    assert swim.suspicion and swim.refute and not swim.lifeguard
    assert (swim.max_health, swim.suspicion_max_mult, swim.reconnect_every) == (8, 6.0, 10)


def test_a_probe_acked_in_time_asks_no_helpers() -> None:
    h = start_swim()
    for _ in range(3):  # three periods, each probe acked before the ping timeout
        ping = h.sent(Ping)[-1]
        h.deliver(ping.dst, Ack(ping.msg.seq), component="detector")
        h.advance(1.0)
    assert h.sent(PingReq) == []
    # a probe not acked does ask (so the assertion above can fail)
    h.advance(0.3)
    assert len(h.sent(PingReq)) == 3
