"""Unit tests of the election modules' handlers, one event at a time
(dsys.testing.NodeHarness).

The simulation tests judge whole runs with the checkers; these pin the rules of each
algorithm as the papers state them: who gets an Election and who answers (bully), what a
ring node forwards, replaces or drops (Chang-Roberts), when a lease is granted, held and
given up, and what Ω trusts.
"""

from __future__ import annotations

from typing import Any

from dsys import Node
from dsys.election import (
    Answer,
    Bully,
    Coordinator,
    Election,
    LeaderElection,
    LeaderLease,
    Leading,
    LeaseReply,
    LeaseRequest,
    Omega,
    Probe,
    ProbeReply,
    Ring,
    RingAck,
    RingElected,
    RingElection,
    owned_epoch,
)
from dsys.failure import HeartbeatDetector
from dsys.testing import NodeHarness, Note

ROUTE = {"@component": "election"}  # what a message of the "election" component carries


class Server(Node):
    """A node holding one election module (and the detector Ω needs)."""

    def __init__(self, make: Any) -> None:
        super().__init__()
        if make is Omega:
            self.detector = self.add_component(HeartbeatDetector(interval=0.1, timeout=0.4))
            self.election: Any = self.add_component(Omega(self.detector))
        else:
            self.election = self.add_component(make())


def harness(make: Any, node_id: str = "b", peers: tuple[str, ...] = ("a", "c"),
            **kwargs: Any) -> NodeHarness:
    h = NodeHarness(lambda: Server(make), node_id, peers=peers, **kwargs)
    h.start()
    return h


def election(h: NodeHarness) -> Any:
    return h.node.election  # type: ignore[attr-defined]


def leader_notes(h: NodeHarness) -> list[tuple[str, int]]:
    return [(n.data["leader"], n.data["epoch"]) for n in h.notes if n.event == "leader"]


def messages(h: NodeHarness, kind: type | tuple[type, ...] | None = None) -> list[tuple[str, Any]]:
    return [(s.dst, s.msg) for s in h.sent(kind)]


# ----- epochs ----------------------------------------------------------------------------


def test_each_node_owns_every_nth_epoch_and_takes_the_next_one_above_what_it_saw() -> None:
    nodes = ("a", "b", "c")
    assert [owned_epoch(0, n, nodes) for n in nodes] == [1, 2, 3]
    assert [owned_epoch(7, n, nodes) for n in nodes] == [10, 8, 9]
    owners = {e: n for n in nodes for e in range(1, 30) if owned_epoch(e - 1, n, nodes) == e}
    assert len(owners) == 29  # every epoch has exactly one owner


# ----- bully -----------------------------------------------------------------------------


def bully(node_id: str = "b", **kwargs: Any) -> NodeHarness:
    return harness(lambda: Bully(probe_interval=None, announce_interval=None), node_id,
                   peers=tuple(sorted({"a", "b", "c"} - {node_id})), **kwargs)


def test_bully_an_election_goes_to_the_higher_nodes_only() -> None:
    h = bully("b")
    assert messages(h) == [("c", Election(0))]
    assert election(h).electing and "election/answer" in h.timers


def test_bully_without_an_answer_it_wins_and_tells_the_lower_nodes() -> None:
    h = bully("b")
    h.advance(0.05)
    assert leader_notes(h) == [("b", 2)]
    assert messages(h, Coordinator) == [("a", Coordinator(2))]
    assert h.storage["election.epoch"] == 2  # synced before anyone heard of it
    assert not election(h).electing


def test_bully_the_highest_node_wins_at_once() -> None:
    h = bully("c")
    assert messages(h) == [("a", Coordinator(3)), ("b", Coordinator(3))]
    assert election(h).is_leader


def test_bully_an_answer_makes_it_wait_for_the_coordinator_and_start_over_without_one(
) -> None:
    h = bully("b")
    h.clear()
    h.deliver("c", Answer(0), component="election")
    assert "election/answer" not in h.timers and "election/coordinator" in h.timers
    effects = h.advance(0.15)  # c died during its own election: b starts again
    assert [s.msg for s in effects if hasattr(s, "msg")] == [Election(0)]
    assert not leader_notes(h)


def test_bully_a_lower_node_is_answered_and_bullied() -> None:
    h = bully("b")
    h.advance(0.05)  # b leads epoch 2
    h.clear()
    h.deliver("a", Election(0), component="election")  # sent before b won: no news
    assert messages(h) == [("a", Answer(2))]
    h.clear()
    h.deliver("a", Election(2), component="election")  # a doubts b: b reassures it
    assert messages(h) == [("a", Answer(2)), ("a", Coordinator(2))]


def test_bully_a_coordinator_from_below_starts_an_election() -> None:
    h = bully("c")
    h.clear()
    h.deliver("a", Coordinator(4), component="election")
    assert leader_notes(h) == [("c", 6)]  # c bullies: a new epoch above a's
    assert messages(h, Coordinator) == [("a", Coordinator(6)), ("b", Coordinator(6))]


def test_bully_a_coordinator_from_above_is_adopted_unless_it_is_stale() -> None:
    h = bully("a")
    h.deliver("c", Coordinator(3), component="election")
    assert election(h).leader == "c" and not election(h).electing
    h.clear()
    h.deliver("c", Coordinator(3), component="election")  # a duplicate: nothing
    assert h.effects == []
    h.deliver("b", Coordinator(2), component="election")  # older than c's: settle it
    assert messages(h, Election) == [("b", Election(3)), ("c", Election(3))]


def test_bully_a_restarted_node_never_reuses_an_epoch() -> None:
    h = bully("c")
    h.crash()
    h.recover()
    assert leader_notes(h) == [("c", 3), ("c", 6)]


def test_bully_probes_the_coordinator_and_elects_when_it_is_silent() -> None:
    h = harness(lambda: Bully(probe_interval=0.1, announce_interval=None), "a",
                peers=("b", "c"))
    h.deliver("c", Coordinator(3), component="election")
    h.clear()
    h.advance(0.1)
    assert messages(h) == [("c", Probe(3))]
    h.deliver("c", ProbeReply(3, True), component="election")
    h.clear()
    h.advance(0.1)  # answered: probe again
    assert messages(h) == [("c", Probe(3))]
    h.clear()
    h.advance(0.1)  # unanswered for a whole interval: c is dead
    assert [n.event for n in h.notes] == ["lost"]
    assert messages(h, Election) == [("b", Election(3)), ("c", Election(3))]


# ----- ring ------------------------------------------------------------------------------


def ring(node_id: str = "b", **options: Any) -> NodeHarness:
    options.setdefault("probe_interval", None)
    options.setdefault("announce_interval", None)
    return harness(lambda: Ring(**options), node_id,
                   peers=tuple(sorted({"a", "b", "c"} - {node_id})))


def sent_ring(h: NodeHarness) -> list[tuple[str, Any]]:
    """The ring messages sent, without their sequence numbers."""
    out: list[tuple[str, Any]] = []
    for dst, msg in messages(h, (RingElection, RingElected)):
        out.append((dst, ("election", msg.candidate) if isinstance(msg, RingElection)
                    else ("elected", msg.leader, msg.epoch)))
    return out


def test_ring_an_initiator_sends_its_id_to_its_successor() -> None:
    h = ring("b")
    assert sent_ring(h) == [("c", ("election", "b"))]
    assert election(h).participant


def test_ring_a_higher_id_is_forwarded_and_a_lower_one_replaced_then_dropped() -> None:
    h = ring("b", elect_on_start=False)
    h.deliver("a", RingElection("a", 0, 10), component="election")
    assert messages(h, RingAck) == [("a", RingAck(10))]
    assert sent_ring(h) == [("c", ("election", "b"))]  # a non-participant replaces
    h.clear()
    h.deliver("a", RingElection("a", 0, 11), component="election")
    assert sent_ring(h) == []  # a participant drops a lower id
    h.deliver("a", RingElection("c", 0, 12), component="election")
    assert sent_ring(h) == [("c", ("election", "c"))]


def test_ring_its_own_id_back_makes_it_leader_and_the_result_goes_round() -> None:
    h = ring("b")
    h.clear()
    h.deliver("a", RingElection("b", 0, 10), component="election")
    assert leader_notes(h) == [("b", 2)]
    assert sent_ring(h) == [("c", ("elected", "b", 2))]
    h.clear()
    h.deliver("a", RingElected("b", 2, 11), component="election")  # it came round
    assert sent_ring(h) == []


def test_ring_a_result_is_adopted_and_forwarded_and_a_duplicate_only_acknowledged() -> None:
    h = ring("b", elect_on_start=False)
    h.deliver("a", RingElected("c", 3, 10), component="election")
    assert leader_notes(h) == [("c", 3)] and sent_ring(h) == [("c", ("elected", "c", 3))]
    h.clear()
    h.deliver("a", RingElected("c", 3, 10), component="election")
    assert messages(h) == [("a", RingAck(10))]


def test_ring_an_unacknowledged_message_is_sent_again_then_the_successor_skipped() -> None:
    h = ring("b")  # sends to c
    h.clear()
    h.advance(0.03)  # no ack: again to c
    assert sent_ring(h) == [("c", ("election", "b"))]
    h.clear()
    h.advance(0.03)  # still none: c is skipped, a is next
    assert sent_ring(h) == [("a", ("election", "b"))]
    seq = h.sent()[-1].msg.seq
    h.deliver("a", RingAck(seq), component="election")
    assert not any(name.startswith("election/ack") for name in h.timers)
    h.clear()
    h.deliver("a", RingElection("c", 0, 20), component="election")
    assert sent_ring(h) == [("c", ("election", "c"))]  # the next message tries c first


def test_ring_a_dead_candidate_is_replaced_by_the_node_that_finds_it_dead() -> None:
    h = ring("b", elect_on_start=False)
    h.deliver("a", RingElection("c", 0, 10), component="election")
    h.clear()
    h.advance(0.06)  # c never acknowledges: its own id must not go round forever
    assert sent_ring(h) == [("c", ("election", "c")), ("a", ("election", "b"))]


# ----- the lease ---------------------------------------------------------------------------


def lease(node_id: str = "a", **kwargs: Any) -> NodeHarness:
    return harness(lambda: LeaderLease(duration=1.0, max_drift=0.01), node_id,
                   peers=tuple(sorted({"a", "b", "c"} - {node_id})), **kwargs)


def test_lease_the_wait_is_the_duration_plus_the_drift_bound() -> None:
    module = election(lease())
    assert module.wait == 1.0 + 2 * 0.01 * 1.0 / (1 - 0.01)


def test_lease_a_candidate_asks_everyone_and_leads_with_a_majority() -> None:
    h = lease("a")
    h.clear()
    h.fire("election/campaign")
    assert messages(h) == [("b", LeaseRequest(1, False)), ("c", LeaseRequest(1, False))]
    start = h.now
    h.deliver("b", LeaseReply(1, True), component="election")
    assert leader_notes(h) == [("a", 1)]
    assert h.timers["election/expire"] == start + 1.0
    assert election(h).holds_lease


def test_lease_a_node_grants_one_candidate_until_its_promise_runs_out() -> None:
    h = lease("b")
    h.deliver("a", LeaseRequest(1, False), component="election")
    assert messages(h) == [("a", LeaseReply(1, True))]
    h.clear()
    h.deliver("c", LeaseRequest(3, False), component="election")
    assert messages(h) == [("c", LeaseReply(3, False))]
    h.deliver("a", LeaseRequest(1, True), component="election")  # a renews: b learns
    assert leader_notes(h) == [("a", 1)]
    h.clear()
    h.now += election(h).wait  # a's promise ran out: c may have it
    h.deliver("c", LeaseRequest(3, False), component="election")
    assert messages(h) == [("c", LeaseReply(3, True))]


def test_lease_the_holder_renews_and_gives_up_when_its_lease_runs_out() -> None:
    h = lease("a")
    h.fire("election/campaign")
    h.deliver("b", LeaseReply(1, True), component="election")
    h.clear()
    h.advance(0.5)  # halfway: renew
    assert messages(h, LeaseRequest) == [("b", LeaseRequest(1, True)),
                                         ("c", LeaseRequest(1, True))]
    h.advance(0.5)  # nobody answered the renewal: the lease ran out
    assert [(n.event, n.data.get("why")) for n in h.notes][-1] == ("lost", "the lease ran out")
    assert not election(h).holds_lease


def test_lease_a_restarted_node_grants_nothing_until_its_old_promises_ran_out() -> None:
    h = lease("b")
    h.crash()
    h.recover()
    h.deliver("a", LeaseRequest(1, False), component="election")
    assert messages(h, LeaseReply) == [("a", LeaseReply(1, False))]
    h.now += election(h).wait
    h.deliver("a", LeaseRequest(1, False), component="election")
    assert messages(h, LeaseReply)[-1] == ("a", LeaseReply(1, True))


# ----- Ω -----------------------------------------------------------------------------------


def test_omega_trusts_the_lowest_unsuspected_node_and_leads_when_that_is_itself() -> None:
    h = harness(Omega, "a", peers=("b", "c"))
    assert leader_notes(h) == [("a", 1)]
    assert messages(h, Leading) == [("b", Leading(1)), ("c", Leading(1))]


def test_omega_adopts_a_leader_once_it_hears_its_epoch_and_moves_on_when_suspected() -> None:
    h = harness(Omega, "b", peers=("a", "c"))
    assert election(h).trusted == "a" and election(h).leader is None
    h.deliver("a", Leading(1), component="election")
    assert leader_notes(h) == [("a", 1)]
    h.call(h.node.detector.mark_suspected, "a")  # type: ignore[attr-defined]
    assert election(h).trusted == "b" and leader_notes(h)[-1] == ("b", 2)
    assert messages(h, Leading)[-2:] == [("a", Leading(2)), ("c", Leading(2))]


def test_every_module_is_attached_as_election_and_notes_with_its_name() -> None:
    for make in (Bully, Ring, LeaderLease):
        assert make.default_name == "election"
        assert issubclass(make, LeaderElection)
    h = bully("c")
    assert h.notes[0] == Note("leader", {"component": "election", "leader": "c", "epoch": 3})


# ----- Hirschberg-Sinclair -----------------------------------------------------------------


def hs(node_id: str = "b", **options: Any) -> NodeHarness:
    from dsys.election import HirschbergSinclair

    return harness(lambda: HirschbergSinclair(**options), node_id,
                   peers=tuple(sorted(set("abcde") - {node_id})))


def test_hs_phase_0_probes_both_neighbours_one_hop() -> None:
    from dsys.election import HSProbe

    h = hs("b")
    assert messages(h) == [("a", HSProbe("b", 0, 1)), ("c", HSProbe("b", 0, 1))]


def test_hs_a_higher_probe_is_passed_on_then_replied_to_a_lower_one_swallowed() -> None:
    from dsys.election import HSProbe, HSReply

    h = hs("b", elect_on_start=False)
    h.deliver("a", HSProbe("e", 1, 1), component="election")  # 1 of 2 hops: pass it on
    assert messages(h)[-1] == ("c", HSProbe("e", 1, 2))
    h.clear()
    h.deliver("c", HSProbe("d", 0, 1), component="election")  # 2^0 hops done: reply
    assert messages(h) == [("c", HSReply("d", 0))]
    h.clear()
    h.deliver("a", HSProbe("a", 3, 1), component="election")  # lower: swallowed
    assert messages(h) == []


def test_hs_both_replies_start_the_next_phase_and_its_own_probe_back_wins() -> None:
    from dsys.election import HSElected, HSProbe, HSReply

    h = hs("e")
    h.clear()
    h.deliver("a", HSReply("e", 0), component="election")
    assert messages(h) == []  # one direction only so far
    h.deliver("d", HSReply("e", 0), component="election")
    assert messages(h) == [("a", HSProbe("e", 1, 1)), ("d", HSProbe("e", 1, 1))]
    h.clear()
    h.deliver("d", HSProbe("e", 3, 5), component="election")  # all the way round
    assert leader_notes(h) == [("e", 5)] and messages(h) == [("a", HSElected("e", 5))]
    h.clear()
    h.deliver("a", HSProbe("e", 3, 5), component="election")  # the other way: once only
    assert messages(h) == [] and leader_notes(h) == []
