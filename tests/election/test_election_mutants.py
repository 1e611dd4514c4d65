"""Rules of the election modules that a mutation sample found unpinned (issue 21)."""

from __future__ import annotations

from dsys.election import LeaderLease, Leading, Omega
from tests.election.test_handlers import harness, messages


def test_omega_tells_a_peer_that_comes_back_who_leads() -> None:
    h = harness(Omega, "a", peers=("b", "c"))
    assert messages(h, Leading) == [("b", Leading(1)), ("c", Leading(1))]
    h.call(h.node.detector.mark_suspected, "b")  # type: ignore[attr-defined]
    h.call(h.node.detector.mark_alive, "b")  # type: ignore[attr-defined]
    # b may have missed the announcement while it was cut off: a, still leading, repeats it.
    assert messages(h, Leading)[-1] == ("b", Leading(1))
    assert [dst for dst, _ in messages(h, Leading)].count("c") == 1


def test_lease_defaults() -> None:
    lease = LeaderLease()
    assert (lease.duration, lease.max_drift, lease.backoff, lease.attempt_timeout) == (
        1.0,
        1e-3,
        (0.05, 0.3),
        0.05,
    )
