"""Unit tests of the clock layers' handlers, one event at a time (dsys.testing.NodeHarness).

The simulation tests (test_layers.py) judge whole runs with the checkers; these pin the
exact rules: what a receipt does to the clock, and what the next send carries.
"""

from __future__ import annotations

from typing import Any

from dsys import Node, message
from dsys.clocks import HLCLayer, LamportLayer, VectorClock, VectorClockLayer
from dsys.core.codec import INT_MAX
from dsys.testing import Log, NodeHarness, Note, Sent, StorageSync, StorageWrite


@message(name="clock-unit:Ping")
class Ping:
    seq: int


@message(name="clock-unit:Pong")
class Pong:
    seq: int


class LamportEcho(Node):
    """Answers each Ping with a Pong, under a Lamport clock."""

    def __init__(self, persist: bool = False) -> None:
        super().__init__()
        self.clock = self.add_layer(LamportLayer(persist=persist))

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Ping):
            self.send(src, Pong(msg.seq))


def receipt(clock: str, src: str, value: Any) -> Note:
    return Note("timestamp", {"clock": clock, "on": "receive", "value": value, "from": src})


def test_lamport_receipt_jumps_past_the_stamp_and_the_reply_carries_one_more() -> None:
    h = NodeHarness(LamportEcho)
    h.start()
    # IR2: max(0, 5) + 1 = 6 on receipt; IR1: the reply is an event, stamped 7.
    assert h.deliver("b", Ping(1), stamps={"lamport": 5}) == [
        receipt("lamport", "b", 6), Sent("b", Pong(1), {"lamport": 7})]
    # An older stamp does not move the clock back: max(7, 2) + 1 = 8.
    assert h.deliver("c", Ping(2), stamps={"lamport": 2}) == [
        receipt("lamport", "c", 8), Sent("c", Pong(2), {"lamport": 9})]
    assert h.node.clock.time == 9  # type: ignore[attr-defined]


def test_lamport_counts_an_unstamped_or_invalid_stamp_as_none() -> None:
    h = NodeHarness(LamportEcho)
    h.start()
    h.deliver("b", Pong(0))  # no stamp: a receipt all the same, 0 -> 1
    assert h.node.clock.time == 1  # type: ignore[attr-defined]
    for bad in (-1, True, "7"):
        effects = h.deliver("b", Pong(0), stamps={"lamport": bad})
        assert effects[0] == Log(f"lamport: ignored invalid stamp {bad!r} from b")
    assert h.node.clock.time == 4  # type: ignore[attr-defined]


def test_a_local_event_ticks_and_is_noted() -> None:
    h = NodeHarness(LamportEcho)
    h.start()
    assert h.call(h.node.clock.tick, "wake up") == [  # type: ignore[attr-defined]
        Note("timestamp", {"clock": "lamport", "on": "local", "what": "wake up", "value": 1})]


def test_a_persistent_lamport_clock_syncs_every_event_and_survives_a_crash() -> None:
    h = NodeHarness(lambda: LamportEcho(persist=True))
    h.start()
    effects = h.deliver("b", Ping(1), stamps={"lamport": 5})
    assert [e for e in effects if isinstance(e, StorageWrite | StorageSync)] == [
        StorageWrite("clocks/lamport", 6), StorageSync(("clocks/lamport",)),
        StorageWrite("clocks/lamport", 7), StorageSync(("clocks/lamport",))]
    h.crash()  # loses every unsynced write: there are none
    h.recover()
    assert h.node.clock.time == 7  # type: ignore[attr-defined]
    assert h.deliver("b", Ping(2))[-1] == Sent("b", Pong(2), {"lamport": 9})


class VectorEcho(LamportEcho):
    def __init__(self) -> None:
        Node.__init__(self)
        self.clock = self.add_layer(VectorClockLayer())  # type: ignore[assignment]


def test_vector_receipt_merges_then_ticks_and_the_reply_carries_the_whole_vector() -> None:
    h = NodeHarness(VectorEcho)
    h.start()
    assert h.deliver("b", Ping(1), stamps={"vector": {"b": 3, "c": 1}}) == [
        receipt("vector", "b", {"a": 1, "b": 3, "c": 1}),
        Sent("b", Pong(1), {"vector": {"a": 2, "b": 3, "c": 1}})]
    # A vector that knows less changes nothing but our own entry.
    h.deliver("c", Ping(2), stamps={"vector": {"c": 1}})
    assert h.node.clock.time == VectorClock({"a": 4, "b": 3, "c": 1})  # type: ignore[attr-defined]


def test_vector_ignores_an_invalid_stamp_but_counts_the_receipt() -> None:
    h = NodeHarness(VectorEcho)
    h.start()
    effects = h.deliver("b", Pong(0), stamps={"vector": {"b": -1}})
    assert effects[0] == Log("vector: ignored invalid stamp from b: vector clock entry for "
                             "'b' must be a non-negative integer, got -1")
    assert h.node.clock.time == VectorClock({"a": 1})  # type: ignore[attr-defined]


class HLCEcho(LamportEcho):
    def __init__(self) -> None:
        Node.__init__(self)
        self.clock = self.add_layer(HLCLayer())  # type: ignore[assignment]


def test_lamport_refuses_a_stamp_its_next_send_would_overflow() -> None:
    h = NodeHarness(LamportEcho)
    h.start()
    effects = h.deliver("b", Ping(1), stamps={"lamport": INT_MAX})
    assert effects[0] == Log(f"lamport: ignored stamp {INT_MAX} from b: over the 64-bit bound")
    assert effects[-1] == Sent("b", Pong(1), {"lamport": 2})  # counted as unstamped
    # The largest stamp accepted leaves room for the receipt and the reply.
    effects = h.deliver("b", Ping(2), stamps={"lamport": INT_MAX - 2})
    assert effects[-1] == Sent("b", Pong(2), {"lamport": INT_MAX})


def test_vector_refuses_a_stamp_its_next_send_would_overflow() -> None:
    h = NodeHarness(VectorEcho)
    h.start()
    effects = h.deliver("b", Ping(1), stamps={"vector": {"a": INT_MAX, "b": 1}})
    assert effects[0] == Log("vector: ignored stamp from b: an entry is over the 64-bit bound")
    assert effects[-1] == Sent("b", Pong(1), {"vector": {"a": 2}})
    effects = h.deliver("b", Ping(2), stamps={"vector": {"a": INT_MAX - 2}})
    assert effects[-1] == Sent("b", Pong(2), {"vector": {"a": INT_MAX}})


def test_hlc_refuses_a_stamp_its_next_send_would_overflow() -> None:
    h = NodeHarness(HLCEcho)
    h.start()
    effects = h.deliver("b", Ping(1), stamps={"hlc": [5, INT_MAX]})
    assert effects[0] == Log(f"hlc: ignored stamp [5, {INT_MAX}] from b: over the 64-bit "
                             "bound")
    assert effects[-1] == Sent("b", Pong(1), {"hlc": [0, 1]})  # counted as unstamped
    effects = h.deliver("b", Ping(2), stamps={"hlc": [5, INT_MAX - 2]})
    assert effects[-1] == Sent("b", Pong(2), {"hlc": [5, INT_MAX]})
