"""Simulator events as data: pending() lists what can happen next, fire() makes one happen,
and every event describes itself in failure reports."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from dsys import Client, HandlerError, Network, Node, Simulation, UsageError, message
from dsys.sim.events import Call, Deliver, Fault, Invoke, Start, Timer


@message(name="simevents:Hello")
class Hello:
    n: int


class Greeter(Node):
    """Greets every peer at start; answers a greeting with the next number."""

    def on_start(self) -> None:
        self.got: list[tuple[str, int]] = []
        self.broadcast(Hello(0))
        self.set_timer("tick", 1.0)

    def on_message(self, src: str, msg: Hello) -> None:
        self.got.append((src, msg.n))
        if msg.n == 0:
            self.send(src, Hello(1))

    def on_timer(self, name: str) -> None:
        self.log("tick")


def three() -> Simulation:
    sim = Simulation(seed=5, network=Network(latency=0.01))
    for name in ("a", "b", "c"):
        sim.add_node(name, Greeter)
    return sim


def test_pending_lists_a_start_then_every_delivery_and_timer_in_run_order() -> None:
    sim = three()
    [start] = sim.pending()
    assert isinstance(start, Start) and start.describe() == "start a, b, c"
    sim.fire(start)
    pending = sim.pending()
    deliveries = [e for e in pending if isinstance(e, Deliver)]
    timers = [e for e in pending if isinstance(e, Timer)]
    assert [(d.src, d.dst, d.msg) for d in deliveries] == [
        ("a", "b", Hello(0)), ("a", "c", Hello(0)), ("b", "a", Hello(0)),
        ("b", "c", Hello(0)), ("c", "a", Hello(0)), ("c", "b", Hello(0))]
    assert [(t.node, t.name, t.time) for t in timers] == [("a", "tick", 1.0), ("b", "tick", 1.0),
                                                          ("c", "tick", 1.0)]
    assert [e.time for e in pending] == sorted(e.time for e in pending)
    assert all(d.time == pytest.approx(0.01) for d in deliveries)
    assert deliveries[0].describe() == "deliver Hello(n=0) a -> b (message #1)"
    assert deliveries[0].node == "b" and timers[0].node == "a"


def test_firing_events_in_a_chosen_order_changes_what_nodes_see() -> None:
    sim = three()
    sim.fire(sim.pending()[0])
    # Deliver c's greeting to a before b's: the reverse of the natural order.
    to_a = [e for e in sim.pending() if isinstance(e, Deliver) and e.dst == "a"]
    assert [e.src for e in to_a] == ["b", "c"]
    sim.fire(to_a[1])
    sim.fire(to_a[0])
    assert sim.node("a").got == [("c", 0), ("b", 0)]
    assert sim.now == pytest.approx(0.01)
    # The fired events are gone; the replies they caused are pending.
    pending = sim.pending()
    assert not any(e is to_a[0] or e is to_a[1] for e in pending)
    replies = [(e.src, e.dst) for e in pending if isinstance(e, Deliver) and e.msg == Hello(1)]
    assert replies == [("a", "c"), ("a", "b")]
    with pytest.raises(UsageError, match="not pending in this simulation"):
        sim.fire(to_a[0])


def test_firing_a_later_event_moves_time_but_never_back() -> None:
    sim = three()
    sim.fire(sim.pending()[0])
    tick = next(e for e in sim.pending() if isinstance(e, Timer) and e.node == "b")
    sim.fire(tick)
    assert sim.now == 1.0
    assert [e.node for e in sim.trace if e.kind == "log"] == ["b"]
    early = next(e for e in sim.pending() if isinstance(e, Deliver))
    sim.fire(early)  # due at 0.01, fired at 1.0: it happens now
    assert sim.now == 1.0
    assert sim.statistics().events == 3


def test_a_cancelled_or_rearmed_timer_is_not_pending() -> None:
    class Rearm(Node):
        def on_start(self) -> None:
            self.set_timer("t", 1.0)
            self.set_timer("t", 2.0)
            self.set_timer("gone", 1.0)
            self.cancel_timer("gone")

    sim = Simulation()
    sim.add_node("a", Rearm)
    sim.run(until=0.5)
    assert [(e.describe(), e.time) for e in sim.pending()] == [("timer 't' of a", 2.0)]


def test_scripted_faults_and_calls_are_described_records() -> None:
    sim = three()
    sim.at(0.5, sim.crash, "b")
    sim.at(0.6, sim.set_clock, "c", offset=0.25)
    seen: list[str] = []
    sim.at(0.7, seen.append, "x")
    later = [e for e in sim.pending() if not isinstance(e, Start)]
    assert [type(e) for e in later] == [Fault, Fault, Call]
    assert [e.describe() for e in later[:2]] == ["crash('b')", "set_clock('c', offset=0.25)"]
    assert later[2].describe() == "call list.append('x')" and later[2].kind == "call"
    assert {e.kind for e in later[:2]} == {"fault"}
    sim.run(until=1.0)
    assert sim.crashed == ("b",) and seen == ["x"]


def test_a_failure_report_names_the_event_from_its_record() -> None:
    class Fussy(Node):
        def on_message(self, src: str, msg: Any) -> None:
            raise ValueError("no thanks")

    sim = Simulation(seed=2)
    sim.add_node("a", Greeter)
    sim.add_node("b", Fussy)
    with pytest.raises(HandlerError) as caught:
        sim.run(until=1.0)
    assert caught.value.node == "b"
    assert caught.value.event == "on_message: delivery of Hello(n=0) from a (message #1)"


def test_a_client_invocation_is_a_pending_event() -> None:
    class Silent(Client):
        def on_invoke(self, op: dict[str, Any]) -> None:
            self.ok()

    sim = Simulation()
    sim.add_node("s", Node)
    sim.add_client("c", Silent, workload=lambda rng: {"f": "read", "value": None}, ops=1,
                   think=0.5)
    sim.fire(sim.pending()[0])
    [invoke] = sim.pending()
    assert isinstance(invoke, Invoke) and invoke.node == "c" and invoke.time == 0.5
    sim.fire(invoke)
    assert [e["type"] for e in sim.history] == ["invoke", "ok"]
    assert sim.pending() == []


def test_run_and_fire_give_the_same_trace_when_fire_takes_the_natural_order() -> None:
    ran = three()
    ran.run(until=2.0)
    stepped = three()
    while (pending := stepped.pending()) and pending[0].time <= 2.0:
        stepped.fire(pending[0])
    assert stepped.trace.digest() == ran.trace.digest()


def test_gc_freeze_is_undone_after_a_run_and_never_touches_someone_elses_freeze() -> None:
    from tests.sim.helpers import Recorder, Sender

    class Many(Sender):
        count = 20_000

    def run() -> None:
        sim = Simulation(seed=1)
        sim.add_node("a", Many)
        sim.add_node("b", Recorder)
        sim.run(until=1.0)
        assert sim.statistics().delivered == 20_000  # long enough to freeze

    assert gc.get_freeze_count() == 0
    run()
    assert gc.get_freeze_count() == 0  # what it froze, it unfroze
    keep = [object() for _ in range(10)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        run()
        # Someone else's freeze is left alone: not undone, and nothing of ours added to it
        # (a few of its objects may have been freed meanwhile).
        assert 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
    del keep
