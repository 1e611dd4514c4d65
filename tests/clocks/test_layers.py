"""The clock layers: the rules of each clock, what they write into the trace, and how
they cope with peers that stamp badly or not at all."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from dsys import Layer, Node, Simulation, message
from dsys.clocks import (
    HLCLayer,
    HLCTimestamp,
    LamportLayer,
    VectorClock,
    VectorClockLayer,
    check_lamport,
    read_timestamps,
)
from dsys.trace import Trace


@message(name="clocktest:Token")
class Token:
    hops: int


class Relay(Node):
    """a -> b -> c -> a ...: a token passed around a ring, with a local event before each
    pass; both a Lamport and a vector clock ride along."""

    def __init__(self) -> None:
        super().__init__()
        self.lamport = self.add_layer(LamportLayer())
        self.vector = self.add_layer(VectorClockLayer())

    def on_start(self) -> None:
        if self.id == "a":
            self.pass_on(0)

    def pass_on(self, hops: int) -> None:
        self.lamport.tick("work")
        self.vector.tick("work")
        nxt = {"a": "b", "b": "c", "c": "a"}[self.id]
        self.send(nxt, Token(hops + 1))

    def on_message(self, src: str, msg: Any) -> None:
        if msg.hops < 4:
            self.pass_on(msg.hops)


def ring() -> Simulation:
    sim = Simulation(seed=5)
    for node in "abc":
        sim.add_node(node, Relay)
    sim.run(until=1.0)
    return sim


def test_lamport_and_vector_values_follow_the_rules_on_a_ring() -> None:
    sim = ring()
    # a: tick 1, send 2 | b: recv 3, tick 4, send 5 | c: recv 6, tick 7, send 8 |
    # a: recv 9, tick 10, send 11 | b: recv 12 (hops == 4: stop)
    lamport = [(s.node, s.on, s.value) for s in read_timestamps(sim.trace, "lamport")]
    assert lamport == [
        ("a", "local", 1), ("a", "send", 2), ("b", "receive", 3), ("b", "local", 4),
        ("b", "send", 5), ("c", "receive", 6), ("c", "local", 7), ("c", "send", 8),
        ("a", "receive", 9), ("a", "local", 10), ("a", "send", 11), ("b", "receive", 12),
    ]
    vectors = [VectorClock.from_json(s.value) for s in read_timestamps(sim.trace, "vector")]
    assert vectors[-1] == VectorClock({"a": 5, "b": 4, "c": 3})
    assert all(u < v for u, v in itertools.pairwise(vectors))  # one causal chain
    assert sim.node("b").lamport.time == 12
    assert sim.node("b").vector.time == VectorClock({"a": 5, "b": 4, "c": 3})


def test_stamps_ride_in_send_events_and_receipts_are_noted_right_after_delivery() -> None:
    trace = ring().trace
    first_send = next(e for e in trace if e.kind == "send")
    assert first_send.data["stamps"] == {"lamport": 2, "vector": {"a": 2}}
    i = next(i for i, e in enumerate(trace) if e.kind == "recv")
    notes = [trace[i + 1].data, trace[i + 2].data]
    assert [(n["event"], n["clock"], n["on"], n["from"]) for n in notes] == [
        ("timestamp", "lamport", "receive", "a"), ("timestamp", "vector", "receive", "a")]


def test_recording_can_be_turned_off() -> None:
    class Quiet(Relay):
        def __init__(self) -> None:
            Node.__init__(self)
            self.lamport = self.add_layer(LamportLayer(record=False))
            self.vector = self.add_layer(VectorClockLayer(record=False))

    sim = Simulation(seed=5)
    for node in "abc":
        sim.add_node(node, Quiet)
    sim.run(until=1.0)
    assert not [e for e in sim.trace if e.kind == "note"]
    assert {s.on for s in read_timestamps(sim.trace, "lamport")} == {"send"}


# ----- peers that stamp badly or not at all -------------------------------------------


class Garbage(Layer):
    """Impersonates every clock layer with nonsense stamps."""

    name = "lamport"

    def stamp(self, dst: str, msg: object) -> Any:
        return "seven"


class Liar(Node):
    def __init__(self) -> None:
        super().__init__()
        self.add_layer(Garbage())

    def on_start(self) -> None:
        self.send("honest", Token(9))


class Plain(Node):
    def on_start(self) -> None:
        self.send("honest", Token(9))


class Honest(Node):
    def __init__(self) -> None:
        super().__init__()
        self.clock = self.add_layer(LamportLayer())
        self.vector = self.add_layer(VectorClockLayer())
        self.hlc = self.add_layer(HLCLayer())


@pytest.mark.parametrize("sender", [Liar, Plain])
def test_a_bad_or_missing_stamp_counts_as_unstamped_and_is_logged(sender: type[Node]) -> None:
    sim = Simulation(seed=1)
    sim.add_node("peer", sender)
    sim.add_node("honest", Honest)
    sim.run(until=1.0)
    honest = sim.node("honest")
    assert honest.clock.time == 1 and honest.vector.time == VectorClock({"honest": 1})
    logs = [e.data["text"] for e in sim.trace if e.kind == "log"]
    assert logs == (["lamport: ignored invalid stamp 'seven' from peer"]
                    if sender is Liar else [])


# ----- Lamport across crashes -------------------------------------------------------------


class Chatty(Node):
    persist = False

    def __init__(self) -> None:
        super().__init__()
        self.clock = self.add_layer(LamportLayer(persist=self.persist))

    def on_start(self) -> None:
        self.clock.tick("start")  # after a restart: before hearing from anyone
        self.set_timer("talk", 0.01)

    def on_timer(self, name: str) -> None:
        self.send("b" if self.id == "a" else "a", Token(0))
        self.set_timer("talk", 0.01)


class Durable(Chatty):
    persist = True


@pytest.mark.parametrize("node", [Chatty, Durable])
def test_a_restart_breaks_a_memory_clock_and_not_a_persisted_one(node: type[Node]) -> None:
    sim = Simulation(seed=2)
    sim.add_node("a", node)
    sim.add_node("b", node)
    sim.at(0.2, sim.crash, "a")
    sim.at(0.25, sim.restart, "a")
    sim.run(until=0.5)
    result = check_lamport(sim.trace)
    assert bool(result) is (node is Durable), result.explain()


# ----- hybrid logical clocks: Figure 5, case by case ------------------------------------------


class FakeNode:
    """Just enough of a node for a layer: a settable clock, notes collected."""

    def __init__(self) -> None:
        self.now = 0.0
        self.id = "j"
        self.notes: list[dict[str, Any]] = []

    def note(self, event: str, **data: Any) -> None:
        self.notes.append(data)

    def log(self, *parts: object) -> None:
        raise AssertionError(f"unexpected log: {parts}")


def hlc_at(now: float) -> tuple[HLCLayer, FakeNode]:
    layer, node = HLCLayer(resolution=1.0), FakeNode()
    layer.node = node  # type: ignore[assignment]
    node.now = now
    return layer, node


def test_hlc_send_rule() -> None:
    layer, node = hlc_at(10)
    assert layer.tick() == HLCTimestamp(10, 0)  # first event: l = pt
    assert layer.tick() == HLCTimestamp(10, 1)  # same tick: counter
    node.now = 12
    assert layer.stamp("x", None) == [12, 0]    # pt moved ahead: l = pt, c reset
    node.now = 11.5                              # the clock went back (an adjustment)
    assert layer.tick() == HLCTimestamp(12, 1)   # l never goes back


@pytest.mark.parametrize(("own", "now", "incoming", "expected"), [
    ((10, 3), 11, (9, 7), (11, 0)),    # pt is the largest: fresh counter
    ((10, 3), 5, (9, 7), (10, 4)),     # own l is the largest: own counter + 1
    ((10, 3), 5, (15, 7), (15, 8)),    # message's l is the largest: its counter + 1
    ((10, 3), 5, (10, 7), (10, 8)),    # own l == message l: max counter + 1
    ((10, 9), 5, (10, 7), (10, 10)),
])
def test_hlc_receive_rule(own: tuple[int, int], now: float, incoming: tuple[int, int],
                          expected: tuple[int, int]) -> None:
    layer, node = hlc_at(own[0])
    layer.tick()
    for _ in range(own[1]):
        layer.tick()
    assert layer.time == HLCTimestamp(*own)
    node.now = now
    layer.on_receive("m", None, list(incoming))
    assert layer.time == HLCTimestamp(*expected)
    assert node.notes[-1] == {"clock": "hlc", "on": "receive", "value": list(expected),
                              "from": "m", "pt": int(now)}


def test_hlc_rejects_bad_stamps_and_resolution() -> None:
    with pytest.raises(ValueError, match="resolution"):
        HLCLayer(resolution=0)
    for bad in ([1], [1, -1], ["1", 2], [True, 0], {"l": 1}):
        with pytest.raises(ValueError, match=r"\[l, c\]"):
            HLCTimestamp.from_json(bad)


def test_timestamps_reader_rejects_a_receipt_note_without_its_delivery() -> None:
    trace = ring().trace
    cut = Trace(e for e in trace if e.kind != "recv")
    with pytest.raises(ValueError, match="does not follow a delivery"):
        read_timestamps(cut, "lamport")
