"""Unit tests of reliable broadcast's handlers, one event at a time (dsys.testing.NodeHarness).

The simulation tests judge whole runs with the checkers; these pin the exact steps of
Cachin et al.'s Alg. 3.3 with retransmission: ack every copy, relay on first sight to the
members that may lack it, deliver once, re-send until acknowledged.
"""

from __future__ import annotations

from typing import Any

from dsys import Node
from dsys.messaging import ReliableBroadcast
from dsys.messaging.reliable import RbAck, RbMessage
from dsys.testing import NodeHarness, Note, Sent, StorageSync, StorageWrite, TimerFired, TimerSet

RB = {"@component": "rb"}  # what a message the "rb" component sends carries


class Member(Node):
    def __init__(self) -> None:
        super().__init__()
        self.rb = self.add_component(ReliableBroadcast())


def delivered(mid: str, origin: str, payload: Any) -> Note:
    return Note("deliver", {"component": "rb", "id": mid, "origin": origin, "payload": payload})


def started() -> NodeHarness:
    h = NodeHarness(Member, "a", peers=["b", "c"])
    assert h.start() == [StorageWrite("rb/epoch", 1), StorageSync(("rb/epoch",))]
    return h


def test_first_copy_is_acked_relayed_to_the_others_and_delivered() -> None:
    h = started()
    msg = RbMessage("b", 1, 0, "hello")
    assert h.deliver("b", msg, component="rb") == [
        Sent("b", RbAck("b:1:0"), RB),        # ack to the sender
        Sent("c", msg, RB),                   # relay: not to b (sender and origin)
        TimerSet("rb/resend", 0.05, 0.05),    # until c acknowledges
        delivered("b:1:0", "b", "hello"),
    ]
    assert h.node.rb.payloads == ["hello"]  # type: ignore[attr-defined]


def test_a_duplicate_is_acked_again_but_not_relayed_or_delivered() -> None:
    h = started()
    msg = RbMessage("b", 1, 0, "hello")
    h.deliver("b", msg, component="rb")
    assert h.deliver("b", msg, component="rb") == [Sent("b", RbAck("b:1:0"), RB)]
    # A relayed copy from c is a duplicate too: acked to c, nothing else.
    assert h.deliver("c", msg, component="rb") == [Sent("c", RbAck("b:1:0"), RB)]
    assert h.node.rb.payloads == ["hello"]  # type: ignore[attr-defined]


def test_a_relay_from_a_third_member_goes_to_everyone_but_it_and_the_origin() -> None:
    h = NodeHarness(Member, "a", peers=["b", "c", "d"])
    h.start()
    msg = RbMessage("b", 1, 0, "x")
    effects = h.deliver("c", msg, component="rb")
    assert [s.dst for s in h.sent(type=RbMessage)] == ["d"]
    assert effects[0] == Sent("c", RbAck("b:1:0"), RB)


def test_relays_are_resent_until_acknowledged() -> None:
    h = started()
    msg = RbMessage("b", 1, 0, "hello")
    h.deliver("b", msg, component="rb")
    assert h.advance(0.05) == [TimerFired("rb/resend", 0.05), Sent("c", msg, RB),
                               TimerSet("rb/resend", 0.05, 0.1)]
    assert h.deliver("c", RbAck("b:1:0"), component="rb") == []
    assert h.advance(0.05) == [TimerFired("rb/resend", 0.1)]  # nothing left: goes quiet
    assert h.timers == {}


def test_own_broadcast_is_numbered_sent_to_all_and_delivered_at_once() -> None:
    h = started()
    effects = h.call(h.node.rb.broadcast, "mine")  # type: ignore[attr-defined]
    mine = RbMessage("a", 1, 0, "mine")
    assert effects == [
        Note("broadcast", {"component": "rb", "id": "a:1:0", "payload": "mine"}),
        Sent("b", mine, RB),
        TimerSet("rb/resend", 0.05, 0.05),    # armed by the first send that waits
        Sent("c", mine, RB),
        delivered("a:1:0", "a", "mine"),
    ]


def test_a_restarted_member_broadcasts_under_a_new_epoch() -> None:
    h = started()
    h.crash()  # the epoch was synced: it survives even a crash that loses every unsynced write
    assert h.recover()[:2] == [StorageWrite("rb/epoch", 2), StorageSync(("rb/epoch",))]
    h.call(h.node.rb.broadcast, "again")  # type: ignore[attr-defined]
    assert h.sent(to="b")[-1].msg == RbMessage("a", 2, 0, "again")
