"""Rules of the failure detectors that a third mutation sample (20 mutants, seed 0)
found unpinned (issue 21): heartbeats sent by a plain node reach the detector by their
type; a phi detector forgets a member that left entirely; SWIM counts each period's
nacks from zero."""

from __future__ import annotations

from dsys.failure import Heartbeat, HeartbeatDetector, PhiAccrualDetector
from dsys.failure.swim import Ack, Nack, Ping, PingReq, Update
from dsys.testing import NodeHarness
from tests.failure.test_handlers import holding, start_swim, swim


def test_a_heartbeat_without_a_component_name_reaches_the_detector_by_its_type() -> None:
    # A node (not a component) may send Heartbeat(): the detector lists the type it takes.
    h = NodeHarness(holding(lambda: HeartbeatDetector(interval=0.1, timeout=0.5)), "a",
                    ("b",))
    h.start()
    for _ in range(10):
        h.advance(0.3)
        h.deliver("b", Heartbeat())  # no component= : routed by type
    assert h.node.detector.suspected() == ()  # type: ignore[attr-defined]
    assert h.node.events == []  # type: ignore[attr-defined]
    h.advance(0.6)  # and silence is still noticed
    assert h.node.detector.suspected() == ("b",)  # type: ignore[attr-defined]


def test_a_phi_detector_forgets_a_member_that_left() -> None:
    h = NodeHarness(holding(lambda: PhiAccrualDetector(interval=1.0)), "a", ("b", "c"))
    h.start()
    detector = h.node.detector  # type: ignore[attr-defined]
    h.call(detector.remove_member, "b")
    assert "b" not in detector.members and "b" not in detector.arrivals
    assert detector.phi("b") == 0.0
    h.advance(60.0)  # a long silence from both: only the member still watched is suspected
    assert detector.suspected() == ("c",)


def test_swim_counts_each_periods_nacks_from_zero() -> None:
    """Lifeguard: a helper's nack that went missing *this* period raises local health
    once more; nacks of an earlier period must not stand in for it."""
    h = start_swim(lifeguard=True)
    swim = h.node.detector  # type: ignore[attr-defined]
    # Period 1: the probe times out, the helpers are asked, every one of them nacks.
    h.advance(0.2)
    first = h.sent(Ping)[-1].msg.seq
    for req in h.sent(PingReq):
        h.deliver(req.dst, Nack(first), component="detector")
    assert swim._nacks == swim._nacks_expected > 0
    h.advance_to(h.timers["detector/tick"])
    health = swim.health  # +1 (no ack), no nack missing
    # Period 2: no ack and, this time, no nack at all: +1, and +1 for the missing nacks.
    second = h.sent(Ping)[-1].msg.seq
    assert second != first and swim._nacks == 0
    h.advance_to(h.timers["detector/tick"])
    assert swim.health == health + 2


def test_an_ack_of_another_sequence_number_does_not_end_the_probe() -> None:
    h = start_swim()
    ping = h.sent(Ping)[-1]
    h.deliver(ping.dst, Ack(ping.msg.seq + 1), component="detector")
    h.advance(0.2)
    assert h.sent(PingReq)  # still unanswered: the helpers are asked


def test_the_ack_of_a_reconnect_ping_is_not_taken_for_the_probes() -> None:
    """A member held dead is pinged now and then with sequence number 0, which no probe
    uses: its answer must not count as the ack of this period's probe."""
    h = NodeHarness(swim(reconnect_every=1), "a", ("b", "c", "d", "e"), seed=3)
    h.start()
    h.deliver("b", Ping(50, (Update("confirm", "e", 0, "b"),)), component="detector")
    h.advance_to(h.timers["detector/tick"])  # period 1: a probe, and a ping to e
    (reconnect,) = h.sent(Ping, to="e")
    probe = [s for s in h.sent(Ping) if s.dst != "e"]
    assert reconnect.msg.seq == 0 and [s.msg.seq for s in probe] == [1]
    h.deliver("e", Ack(reconnect.msg.seq), component="detector")
    h.advance(0.2)  # the probe's timeout: still unanswered, so the helpers are asked
    assert h.sent(PingReq)
