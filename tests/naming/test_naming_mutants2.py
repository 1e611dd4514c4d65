"""Rules of the naming package that a larger mutation sample found unpinned (issue 21):
what exactly a Chord node puts in its answers."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from dsys import Simulation
from dsys.demos.chord import Peer, build_ring
from dsys.naming.chord import FindSuccessor, FindSuccessorReply, GetPredecessor, PredecessorReply
from dsys.naming.registry import Deregister, Lookup, LookupReply, NameServer, Register
from dsys.testing import NodeHarness


def recording(component: Any) -> list[tuple[str, object]]:
    """Keep what ``component`` sends from now on, instead of sending it."""
    sent: list[tuple[str, object]] = []
    component.send = lambda dst, msg: sent.append((dst, msg))
    return sent


def test_a_node_that_owns_the_target_answers_with_its_whole_successor_list() -> None:
    # Installed tables: a stable ring at once, so successor lists are full (r = 4).
    sim = build_ring(8, seed=1, how="install")
    sim.run(until=0.1)
    for name in sorted(sim.nodes)[:3]:
        chord: Any = sim.node(name).chord  # type: ignore[attr-defined]
        assert len(chord.successors) == 4
        sent = recording(chord)
        target = chord.id_of(chord.successor)  # in (me, successor]: I know the answer
        chord.on_message("asker", FindSuccessor(7, target))
        assert sent == [("asker", FindSuccessorReply(7, True, tuple(chord.successors)))]


def test_each_stabilize_round_asks_with_a_new_number_and_ignores_late_answers() -> None:
    sim = build_ring(8, seed=2, how="install")
    sim.run(until=0.1)
    chord: Any = sim.node(sorted(sim.nodes)[0]).chord  # type: ignore[attr-defined]
    sent = recording(chord)
    chord.stabilize()
    successor, first = sent[-1]
    assert successor == chord.successor and isinstance(first, GetPredecessor)
    me, kept = chord.node.id, list(chord.successors)
    chord.on_message(successor, PredecessorReply(first.seq, me, tuple(kept[1:])))
    chord.stabilize()
    second = sent[-1][1]
    assert isinstance(second, GetPredecessor) and second.seq != first.seq
    # A late answer to the first round, with a different list: not taken.
    chord.on_message(successor, PredecessorReply(first.seq, me, ("late",)))
    assert chord.successors == kept
    # The answer to this round is.
    chord.on_message(successor, PredecessorReply(second.seq, me, ("n-new",)))
    assert chord.successors[:2] == [successor, "n-new"]


def test_a_join_that_finds_no_one_is_tried_again_until_it_succeeds() -> None:
    sim = Simulation(seed=3)
    sim.add_node("a", Peer)  # creates the ring
    sim.add_node("b", functools.partial(Peer, join="a"))
    sim.at(0.0, sim.crash, "a")  # b's first join finds no one
    sim.at(2.0, sim.restart, "a")
    sim.run(until=1.9)
    b: Any = sim.node("b").chord  # type: ignore[attr-defined]
    assert not b.joined
    # Each attempt times out (rpc_timeout 0.1 s), is given up (no lookup left pending),
    # and the next waits stabilize_every (0.5 s): asks at 0, 0.6, 1.2, 1.8.
    asks = [e.time for e in sim.trace if e.node == "b" and e.kind == "send"]
    assert asks == pytest.approx([0.0, 0.6, 1.2, 1.8])
    assert len(b._pending) <= 1
    sim.run(until=6.0)
    assert b.joined and b.successor == "a"


def test_a_deregistered_name_keeps_its_tombstone_for_a_lease_from_the_deregistration() -> None:
    h = NodeHarness(lambda: NameServer(lease=1.0), "names", ["p1"], clients=["c"])
    h.start()
    h.deliver("p1", Register("svc", "p1", "i1", 1))
    h.advance(0.5)
    h.deliver("p1", Deregister("svc", "i1", 2))
    h.advance(0.75)  # past the registration's lease, not the tombstone's
    h.deliver("p1", Register("svc", "p1", "i1", 1))  # a late copy of the first
    h.deliver("c", Lookup("svc", 1))
    assert h.sent(LookupReply)[-1].msg.address is None
    h.advance(0.5)  # a lease after the deregistration: the tombstone is gone
    assert "svc" not in h.node.bindings  # type: ignore[attr-defined]
