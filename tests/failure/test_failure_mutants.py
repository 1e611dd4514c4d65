"""Rules of the failure detectors that a mutation sample found unpinned (issue 21)."""

from __future__ import annotations

from dsys.failure import HeartbeatDetector
from dsys.failure.swim import Ack, Nack, Ping
from dsys.testing import NodeHarness
from tests.failure.test_handlers import holding, notes, start_swim, swim


def first_pass(seed: int) -> list[str]:
    h = NodeHarness(swim(), "a", ("b", "c", "d", "e"), seed=seed)
    h.start()
    h.advance_to(h.timers["detector/tick"])
    targets = []
    for _ in range(4):
        ping = h.sent(Ping)[-1]
        targets.append(ping.dst)
        h.deliver(ping.dst, Ack(ping.msg.seq), component="detector")
        h.advance(1.0)
    return targets


def test_swim_probes_members_in_a_random_order() -> None:
    # SWIM §4.3: round-robin over a random permutation, so no member is always probed last.
    orders = {tuple(first_pass(seed)) for seed in range(6)}
    assert all(sorted(order) == ["b", "c", "d", "e"] for order in orders)
    assert len(orders) > 1


def test_only_a_nack_for_this_periods_probe_counts() -> None:
    h = start_swim(lifeguard=True)
    probe = h.sent(Ping)[-1].msg.seq
    swim = h.node.detector  # type: ignore[attr-defined]
    h.deliver("c", Nack(probe + 100), component="detector")
    assert swim._nacks == 0
    h.deliver("c", Nack(probe), component="detector")
    assert swim._nacks == 1


def test_the_membership_version_counts_every_change() -> None:
    h = NodeHarness(holding(lambda: HeartbeatDetector(interval=0.1, timeout=0.4)), "a", ("b", "c"))
    h.start()
    group = h.node.group  # type: ignore[attr-defined]
    start = group.version
    h.call(h.node.detector.mark_suspected, "b")  # type: ignore[attr-defined]
    assert group.version == start + 1
    assert notes(h, "leave")[-1]["version"] == start + 1
    h.call(h.node.detector.mark_alive, "b")  # type: ignore[attr-defined]
    assert group.version == start + 2 and notes(h, "join")[-1]["version"] == start + 2
