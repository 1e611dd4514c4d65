"""Each detector's handlers, one event at a time (NodeHarness): what it sends, when it
suspects, and how it comes back, with no network and no randomness in the way."""

from __future__ import annotations

import math

import pytest

from dsys import Node
from dsys.errors import UsageError
from dsys.failure import (
    FailureDetector,
    Heartbeat,
    HeartbeatDetector,
    Membership,
    PhiAccrualDetector,
    Swim,
    Update,
    overrides,
    phi_of,
)
from dsys.failure.phi import ArrivalWindow
from dsys.failure.swim import Ack, Gossip, Join, JoinAck, Nack, Ping, PingReq
from dsys.testing import NodeHarness


def holding(make):  # a node factory with one detector (and a membership view)
    class Holder(Node):
        def __init__(self) -> None:
            super().__init__()
            self.detector = self.add_component(make())
            self.group = self.add_component(Membership(self.detector))
            self.events: list[tuple[str, str]] = []
            self.detector.on_suspect = lambda p: self.events.append(("suspect", p))
            self.detector.on_alive = lambda p: self.events.append(("alive", p))

    return Holder


def notes(h: NodeHarness, event: str) -> list[dict]:
    return [n.data for n in h.notes if n.event == event]


# ----- the interface ---------------------------------------------------------------------


def test_every_detector_is_attached_as_detector_and_starts_trusting_everyone() -> None:
    for make in (HeartbeatDetector, PhiAccrualDetector, Swim):
        h = NodeHarness(holding(make), "a", ("b", "c"))
        h.start()
        detector = h.node.detector
        assert isinstance(detector, FailureDetector)
        assert detector.name == "detector"
        assert detector.members == ("b", "c")
        assert detector.suspected() == ()
        assert detector.alive() == ("a", "b", "c")
        assert notes(h, "members") == [{"component": "detector", "peers": ["b", "c"]}]


def test_bad_parameters_are_refused_with_a_message() -> None:
    with pytest.raises(UsageError, match="timeout > 0"):
        HeartbeatDetector(timeout=0)
    with pytest.raises(UsageError, match="window >= 2"):
        PhiAccrualDetector(window=1)
    with pytest.raises(UsageError, match="ping_timeout < period"):
        Swim(period=1.0, ping_timeout=1.0)


# ----- heartbeat -------------------------------------------------------------------------


def test_heartbeat_suspects_after_the_timeout_and_trusts_again_on_a_heartbeat() -> None:
    h = NodeHarness(holding(lambda: HeartbeatDetector(interval=1.0, timeout=3.0)), "a",
                    ("b", "c"))
    h.start()
    assert {s.dst for s in h.sent(Heartbeat)} == {"b", "c"}
    h.advance_to(2.0)
    h.deliver("b", Heartbeat(), component="detector")
    h.advance_to(3.0)  # c silent for 3 s: suspected; b heard at 2.0
    assert h.node.detector.suspected() == ("c",)
    assert h.node.events == [("suspect", "c")]
    assert h.node.group.members() == ("a", "b")
    h.deliver("c", Heartbeat(), component="detector")
    assert h.node.detector.suspected() == ()
    assert h.node.events == [("suspect", "c"), ("alive", "c")]
    assert [n["peer"] for n in notes(h, "suspect")] == ["c"]
    assert [n["peer"] for n in notes(h, "alive")] == ["c"]
    assert h.node.group.members() == ("a", "b", "c")


def test_heartbeat_to_a_monitor_only_the_monitor_watches() -> None:
    member = NodeHarness(holding(lambda: HeartbeatDetector(monitor="m")), "a", ("b", "m"))
    member.start()
    assert [s.dst for s in member.sent(Heartbeat)] == ["m"]
    assert member.node.detector.members == ()
    monitor = NodeHarness(holding(lambda: HeartbeatDetector(monitor="m")), "m", ("a", "b"))
    monitor.start()
    assert monitor.sent(Heartbeat) == []
    assert monitor.node.detector.members == ("a", "b")


# ----- phi -----------------------------------------------------------------------------------


def test_phi_is_minus_log10_of_the_chance_of_a_heartbeat_this_late() -> None:
    assert phi_of(1.0, 1.0, 0.1) == pytest.approx(math.log10(2))
    # 1 - F(mu + 3 sigma) = 0.00135 for a normal distribution
    assert phi_of(1.3, 1.0, 0.1) == pytest.approx(-math.log10(0.0013499), rel=1e-3)
    assert phi_of(100.0, 1.0, 0.1) == 300.0  # capped, not infinite


def test_arrival_window_slides() -> None:
    window = ArrivalWindow(size=2)
    for t in (0.0, 1.0, 3.0, 4.0):
        window.arrived(t)
    assert window.intervals() == (2.0, 1.0)
    assert window.mean == 1.5
    assert window.std == pytest.approx(0.5)


def test_phi_grows_with_silence_and_suspects_over_the_threshold() -> None:
    h = NodeHarness(holding(lambda: PhiAccrualDetector(interval=1.0, threshold=8.0)), "a",
                    ("b",))
    h.start()
    for t in range(1, 21):  # regular heartbeats, every second
        h.advance_to(float(t))
        h.deliver("b", Heartbeat(), component="detector")
    detector = h.node.detector
    assert detector.phi("b") < 1.0
    values = []
    for t in (21.0, 21.2, 21.4, 21.6):
        h.now = t
        values.append(detector.phi("b"))
    assert values == sorted(values)
    h.now = 20.0
    h.advance_to(21.0)
    assert detector.suspected() == ()
    h.advance_to(23.0)  # 3 s of silence, sigma floored at 0.1 s: far over 8
    assert detector.suspected() == ("b",)
    h.deliver("b", Heartbeat(), component="detector")
    assert detector.suspected() == ()


def test_phi_adapts_a_jittery_member_needs_a_longer_silence() -> None:
    def phi_after(intervals: list[float], silence: float) -> float:
        h = NodeHarness(holding(lambda: PhiAccrualDetector(interval=1.0)), "a", ("b",))
        h.start()
        t = 0.0
        for dt in intervals:
            t += dt
            h.now = t
            h.deliver("b", Heartbeat(), component="detector")
        h.now = t + silence
        return h.node.detector.phi("b")

    regular = [1.0] * 50
    jittery = [0.5, 1.5] * 25
    assert phi_after(regular, 2.0) > 8.0 > phi_after(jittery, 2.0)


# ----- SWIM ------------------------------------------------------------------------------------


def swim(**options):
    return holding(lambda: Swim(period=1.0, ping_timeout=0.2, **options))


def test_swim_rules_of_precedence() -> None:  # §4.2 of the paper
    assert overrides("suspect", 2, "alive", 2)
    assert not overrides("suspect", 1, "alive", 2)
    assert not overrides("suspect", 2, "suspect", 2)
    assert overrides("alive", 3, "suspect", 2)
    assert not overrides("alive", 2, "suspect", 2)
    assert overrides("confirm", 2, "suspect", 2)
    assert not overrides("confirm", 1, "alive", 2)   # an older incarnation's death
    assert overrides("alive", 3, "dead", 2)          # back, with a higher incarnation
    assert overrides("leave", 2, "alive", 2)
    assert not overrides("suspect", 9, "left", 2)


def start_swim(peers=("b", "c", "d", "e"), **options) -> NodeHarness:
    h = NodeHarness(swim(**options), "a", peers, seed=3)
    h.start()
    h.advance_to(h.timers["detector/tick"])  # the first protocol period begins
    return h


def test_swim_probes_one_member_per_period_in_round_robin() -> None:
    h = start_swim()
    targets = []
    for _ in range(8):
        ping = h.sent(Ping)[-1]
        targets.append(ping.dst)
        h.deliver(ping.dst, Ack(ping.msg.seq), component="detector")
        h.advance(1.0)
    # each pass of four probes every member once
    assert sorted(targets[:4]) == ["b", "c", "d", "e"] == sorted(targets[4:])


def test_swim_asks_k_helpers_after_the_ping_timeout_and_takes_a_relayed_ack() -> None:
    h = start_swim(indirect_probes=2)
    ping = h.sent(Ping)[-1]
    h.clear()
    h.advance(0.2)
    reqs = h.sent(PingReq)
    assert len(reqs) == 2 and {r.msg.target for r in reqs} == {ping.dst}
    assert ping.dst not in {r.dst for r in reqs}
    h.deliver(reqs[0].dst, Ack(ping.msg.seq), component="detector")
    h.advance(0.8)
    assert h.node.detector.state(ping.dst) == "alive"


def test_swim_a_failed_probe_suspects_then_the_timeout_confirms() -> None:
    h = start_swim()
    target = h.sent(Ping)[-1].dst
    h.advance(1.0)  # no ack, direct or indirect: suspected at the period's end
    assert h.node.detector.state(target) == "suspect"
    assert notes(h, "swim-suspect")[0]["peer"] == target
    assert not h.node.detector.suspects(target)  # suspicion is not yet the output
    # the suspicion is piggybacked on the next probe
    assert Update("suspect", target, 0, "a") in h.sent(Ping)[-1].msg.updates
    h.advance(4.0 * 1.0)  # suspicion_mult * max(1, log10 N) periods (N = 5 here)
    assert h.node.detector.state(target) == "dead"
    assert h.node.detector.suspected() == (target,)
    assert h.node.events[-1] == ("suspect", target)


def test_swim_without_suspicion_a_failed_probe_is_death() -> None:
    h = start_swim(suspicion=False)
    target = h.sent(Ping)[-1].dst
    h.advance(1.0)
    assert h.node.detector.state(target) == "dead"


def test_swim_a_refutation_with_a_higher_incarnation_clears_the_suspicion() -> None:
    h = start_swim()
    target = h.sent(Ping)[-1].dst
    h.advance(1.0)
    assert h.node.detector.state(target) == "suspect"
    h.deliver("c" if target != "c" else "b", Ping(99, (Update("alive", target, 1),)),
              component="detector")
    assert h.node.detector.state(target) == "alive"
    assert f"detector/suspect:{target}" not in h.timers  # no confirmation will come


def test_swim_a_member_refutes_a_suspicion_of_itself() -> None:
    h = start_swim()
    h.clear()
    h.deliver("b", Ping(7, (Update("suspect", "a", 0, "b"),)), component="detector")
    assert h.node.detector.incarnation == 1
    assert notes(h, "refute") == [{"component": "detector", "incarnation": 1}]
    ack = h.sent(Ack)[0]
    assert Update("alive", "a", 1) in ack.msg.updates


def test_swim_without_refutation_keeps_quiet() -> None:
    h = start_swim(refute=False)
    h.deliver("b", Ping(7, (Update("suspect", "a", 0, "b"),)), component="detector")
    assert h.node.detector.incarnation == 0


def test_swim_helps_others_probe_and_relays_the_ack() -> None:
    h = start_swim(lifeguard=True)
    h.clear()
    h.deliver("b", PingReq(5, "c"), component="detector")
    ping = h.sent(Ping, to="c")[0]
    h.deliver("c", Ack(ping.msg.seq), component="detector")
    assert [s.msg.seq for s in h.sent(Ack, to="b")] == [5]


def test_lifeguard_helper_nacks_when_the_target_is_silent() -> None:
    h = start_swim(lifeguard=True)
    h.clear()
    h.deliver("b", PingReq(5, "c"), component="detector")
    h.advance(0.2)
    assert [s.msg.seq for s in h.sent(Nack, to="b")] == [5]


def test_lifeguard_local_health_slows_probing_when_probes_fail() -> None:
    h = start_swim(lifeguard=True)
    assert h.node.detector.health == 0
    h.advance(1.0)  # no ack and no nacks from helpers: health rises by 2
    assert h.node.detector.health == 2
    # the next period (and its ping timeout) is health + 1 = 3 times as long
    assert h.timers["detector/tick"] == pytest.approx(h.now + 3.0)
    assert h.timers["detector/probe timeout"] == pytest.approx(h.now + 0.6)


def test_lifeguard_suspicion_timeout_shrinks_with_independent_suspicions() -> None:
    def confirmed_after(others: int) -> float:
        h = start_swim(lifeguard=True)
        target = h.sent(Ping)[-1].dst
        h.advance(1.0)
        began = h.now
        helpers = [p for p in ("b", "c", "d", "e") if p != target]
        for helper in helpers[:others]:
            h.deliver(helper, Ping(50, (Update("suspect", target, 0, helper),)),
                      component="detector")
        return h.timers[f"detector/suspect:{target}"] - began

    timeouts = [confirmed_after(n) for n in range(4)]
    assert timeouts == sorted(timeouts, reverse=True)
    assert timeouts[0] == pytest.approx(6 * timeouts[3])  # beta * min, then min


def test_swim_join_through_a_seed_and_leave_gracefully() -> None:
    newcomer = NodeHarness(holding(lambda: Swim(seeds=["b"])), "z", ("b", "c"), seed=1)
    newcomer.start()
    assert newcomer.node.detector.members == ()
    join = newcomer.sent(Join, to="b")[0]
    newcomer.deliver("b", JoinAck((("b", "alive", 0), ("c", "alive", 2))),
                     component="detector")
    assert newcomer.node.detector.members == ("b", "c")
    assert newcomer.node.group.members() == ("b", "c", "z")
    seed = start_swim(peers=("b", "c", "z"))
    seed.clear()
    seed.deliver("z", join.msg, component="detector")
    assert seed.sent(JoinAck, to="z")
    seed.deliver("z", Gossip((Update("leave", "z", 0),)), component="detector")
    assert "z" not in seed.node.detector.members
    assert "z" not in seed.node.group.members()
    assert seed.node.detector.suspected() == ()


def test_a_member_that_left_answers_with_its_farewell() -> None:
    h = start_swim()
    h.call(h.node.detector.leave)
    h.clear()
    h.deliver("b", Ping(3), component="detector")
    assert [s.msg for s in h.sent()] == [Gossip((Update("leave", "a", 0),))]


def test_swim_restart_comes_back_with_a_higher_incarnation_and_asks_for_the_group() -> None:
    h = start_swim()
    h.crash()
    h.recover()
    assert h.node.detector.incarnation == 1
    assert h.sent(Join)[-1].msg == Join(1)


def test_piggyback_is_bounded_and_each_update_is_sent_a_limited_number_of_times() -> None:
    h = start_swim(max_piggyback=2, retransmit_mult=1)
    for i, peer in enumerate(("b", "c", "d", "e")):
        h.deliver(peer, Ping(i, (Update("alive", peer, 5),)), component="detector")
    sizes = [len(s.msg.updates) for s in h.sent(Ack)]
    assert max(sizes) <= 2
    sent = [u for s in h.sent((Ping, Ack)) for u in s.msg.updates]
    # lambda * ceil(log10(N + 1)) = 1 * 1 sends of each update
    assert max(sent.count(u) for u in sent) == 1
