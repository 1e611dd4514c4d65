"""dsys.testing.NodeHarness: one node, events in, effects out, no simulator."""

from __future__ import annotations

from random import Random
from typing import Any

import pytest

from dsys import Client, CodecError, Component, ConfigError, Layer, Node, UsageError, message
from dsys.testing import (
    Completed,
    Crashed,
    Invoked,
    Log,
    NodeHarness,
    Note,
    Sent,
    StorageDelete,
    StorageSync,
    StorageWrite,
    TimerCancelled,
    TimerFired,
    TimerSet,
)


@message(name="harness-test:Ping")
class Ping:
    seq: int


@message(name="harness-test:Pong")
class Pong:
    seq: int


@message(name="harness-test:Items")
class Items:
    items: tuple[int, ...]


class Unregistered:
    pass


class Echo(Node):
    """Answers every Ping with a Pong; logs everything else."""

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Ping):
            self.send(src, Pong(msg.seq))
        else:
            self.log(f"got {msg!r} from {src}")


# ----- building the node ----------------------------------------------------------------------


class Introspective(Node):
    def __init__(self) -> None:
        super().__init__()
        self.seen_in_init = (self.id, self.peers, self.now)
        self.first_draw = self.rng.random()


def test_the_node_is_built_at_once_with_its_identity_clock_and_seeded_rng() -> None:
    h = NodeHarness(Introspective, "n2", peers=["n3", "n1"], seed=5, time=2.5)
    node = h.node
    assert isinstance(node, Introspective)
    assert node.seen_in_init == ("n2", ("n1", "n3"), 2.5)
    # Seeded exactly as the simulator seeds incarnation 1 of n2.
    assert node.first_draw == Random("5/node/n2/1").random()
    assert h.incarnation == 1 and not h.crashed
    assert h.effects == []


@pytest.mark.parametrize("kwargs", [
    {"node_id": "a/b"}, {"node_id": ""}, {"peers": ["b", ""]}, {"peers": ["a"]},
    {"peers": ["b", "b"]}, {"clients": ["b"]}, {"peers": "bc"}, {"seed": 1.5},
    {"seed": True},
])
def test_bad_configurations_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        NodeHarness(Echo, **kwargs)


def test_a_factory_that_is_not_a_node_factory_is_refused() -> None:
    with pytest.raises(ConfigError, match="callable"):
        NodeHarness(42)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="not a dsys Node"):
        NodeHarness(lambda: object())  # type: ignore[arg-type, return-value]


def test_initial_storage_is_durable_and_checked() -> None:
    h = NodeHarness(Echo, storage={"term": 3, "log": [1, 2]})
    assert h.node.storage["term"] == 3 and h.node.storage["log"] == [1, 2]
    assert h.storage.dirty == ()
    with pytest.raises(UsageError, match="JSON"):
        NodeHarness(Echo, storage={"bad": object()})


# ----- start and deliver ----------------------------------------------------------------------


class Greeter(Node):
    def on_start(self) -> None:
        self.broadcast(Ping(0))
        self.note("started", peers=list(self.peers))


def test_start_returns_the_effects_of_on_start_and_runs_once() -> None:
    h = NodeHarness(Greeter)
    assert h.start() == [Sent("b", Ping(0)), Sent("c", Ping(0)),
                         Note("started", {"peers": ["b", "c"]})]
    with pytest.raises(UsageError, match="started already"):
        h.start()


def test_events_before_start_are_refused() -> None:
    h = NodeHarness(Echo)
    with pytest.raises(UsageError, match=r"h.start\(\) first"):
        h.deliver("b", Ping(1))


def test_deliver_returns_what_the_handler_did() -> None:
    h = NodeHarness(Echo)
    h.start()
    assert h.deliver("b", Ping(1)) == [Sent("b", Pong(1))]
    assert h.deliver("c", Pong(2)) == [Log("got Pong(seq=2) from c")]
    assert h.effects == [Sent("b", Pong(1)), Log("got Pong(seq=2) from c")]
    assert h.logs == ["got Pong(seq=2) from c"]


def test_deliver_from_an_unknown_node_is_refused_but_a_declared_client_is_fine() -> None:
    h = NodeHarness(Echo, clients=["client1"])
    h.start()
    with pytest.raises(UsageError, match="'zed' is not a node the harness knows"):
        h.deliver("zed", Ping(1))
    assert h.deliver("client1", Ping(1)) == [Sent("client1", Pong(1))]


class Typo(Node):
    def on_message(self, src: str, msg: Any) -> None:
        self.send("nobody", Pong(0))


def test_sending_to_an_unknown_node_raises_the_shared_rule() -> None:
    h = NodeHarness(Typo)
    h.start()
    with pytest.raises(UsageError, match="not a node of this cluster"):
        h.deliver("b", Ping(0))


class Keeper(Node):
    def on_message(self, src: str, msg: Any) -> None:
        self.got = msg


def test_messages_cross_the_wire_codec_by_default() -> None:
    h = NodeHarness(Keeper)
    h.start()
    original = Items((1, 2))
    h.deliver("b", original)
    got = h.node.got  # type: ignore[attr-defined]
    assert got == original and got is not original  # a decoded copy, as on a network
    with pytest.raises(CodecError, match="not a registered message"):
        h.deliver("b", Unregistered())
    with pytest.raises(CodecError, match="would arrive as"):
        h.deliver("b", Items([1, 2]))  # type: ignore[arg-type]


def test_the_codec_can_be_turned_off() -> None:
    h = NodeHarness(Keeper, codec=False)
    h.start()
    thing = Unregistered()
    h.deliver("b", thing)
    assert h.node.got is thing  # type: ignore[attr-defined]


class Forwarder(Node):
    def on_message(self, src: str, msg: Any) -> None:
        self.send("c", msg)


def test_sends_are_checked_by_the_codec_too() -> None:
    h = NodeHarness(Forwarder, codec=False)
    h.start()
    h.deliver("b", Unregistered())  # accepted: the codec is off
    strict = NodeHarness(Forwarder)
    strict.start()
    with pytest.raises(CodecError, match="a cannot send"):
        strict.node.send("c", Unregistered())


# ----- layers and components ------------------------------------------------------------------


class Counting(Layer):
    name = "count"

    def __init__(self) -> None:
        self.sent = 0
        self.received: list[Any] = []

    def stamp(self, dst: str, msg: object) -> int:
        self.sent += 1
        return self.sent

    def on_receive(self, src: str, msg: object, stamp: Any) -> None:
        self.received.append(stamp)


class Layered(Echo):
    def __init__(self) -> None:
        super().__init__()
        self.layer = self.add_layer(Counting())


def test_stamps_reach_the_layers_and_sends_carry_theirs() -> None:
    h = NodeHarness(Layered)
    h.start()
    assert h.deliver("b", Ping(1), stamps={"count": 7}) == [Sent("b", Pong(1), {"count": 1})]
    h.deliver("c", Ping(2))
    assert h.node.layer.received == [7, None]  # type: ignore[attr-defined]


@message(name="harness-test:Hello")
class Hello:
    text: str


class Greeting(Component):
    messages = (Hello,)

    def on_start(self) -> None:
        self.heard: list[tuple[str, str]] = []

    def on_message(self, src: str, msg: Any) -> None:
        self.heard.append((src, msg.text))
        self.send(src, Hello(f"{self.name} heard you"))

    def on_timer(self, name: str) -> None:
        self.log("timer", name)


class TwoGroups(Node):
    def __init__(self) -> None:
        super().__init__()
        self.left = self.add_component(Greeting(), "left")
        self.right = self.add_component(Greeting(), "right")


def test_component_messages_go_to_the_component_named() -> None:
    h = NodeHarness(TwoGroups)
    h.start()
    effects = h.deliver("b", Hello("hi"), component="right")
    node = h.node
    assert node.right.heard == [("b", "hi")] and node.left.heard == []  # type: ignore[attr-defined]
    assert effects == [Sent("b", Hello("right heard you"), {"@component": "right"})]
    assert effects[0].component == "right"  # type: ignore[attr-defined]
    h.deliver("c", Hello("hey"), component="left")
    assert [s.dst for s in h.sent(component="left")] == ["c"]
    assert Sent("b", Ping(0)).component is None


def test_an_unknown_component_name_is_refused() -> None:
    h = NodeHarness(TwoGroups)
    h.start()
    with pytest.raises(UsageError, match=r"no component of that name.*'left', 'right'"):
        h.deliver("b", Hello("hi"), component="middle")


# ----- time and timers ------------------------------------------------------------------------


class Timed(Node):
    def on_start(self) -> None:
        self.fired: list[tuple[str, float]] = []
        self.set_timer("slow", 2.0)
        self.set_timer("fast", 0.5)
        self.set_timer("tie-1", 1.0)
        self.set_timer("tie-2", 1.0)

    def on_timer(self, name: str) -> None:
        self.fired.append((name, self.now))
        if name == "fast":
            self.set_timer("chained", 0.25)  # due at 0.75, before the ties
        if name == "tie-1":
            self.cancel_timer("tie-2")
            self.cancel_timer("never-armed")


def test_timers_set_are_recorded_with_deadlines() -> None:
    h = NodeHarness(Timed, time=10.0)
    assert h.start() == [TimerSet("slow", 2.0, 12.0), TimerSet("fast", 0.5, 10.5),
                         TimerSet("tie-1", 1.0, 11.0), TimerSet("tie-2", 1.0, 11.0)]
    assert list(h.timers.items()) == [("fast", 10.5), ("tie-1", 11.0), ("tie-2", 11.0),
                                      ("slow", 12.0)]


def test_advance_fires_due_timers_in_deadline_then_arming_order() -> None:
    h = NodeHarness(Timed)
    h.start()
    effects = h.advance(1.0)
    assert effects == [
        TimerFired("fast", 0.5), TimerSet("chained", 0.25, 0.75),
        TimerFired("chained", 0.75),
        TimerFired("tie-1", 1.0), TimerCancelled("tie-2"),  # not "never-armed"
    ]
    assert h.node.fired == [("fast", 0.5), ("chained", 0.75), ("tie-1", 1.0)]  # type: ignore[attr-defined]
    assert h.now == 1.0
    assert h.timers == {"slow": 2.0}
    assert h.advance_to(1.5) == [] and h.now == 1.5
    assert h.advance_to(5.0) == [TimerFired("slow", 2.0)]
    assert h.timers == {} and h.now == 5.0


def test_rearming_a_timer_replaces_its_deadline() -> None:
    class Rearm(Node):
        def on_start(self) -> None:
            self.set_timer("t", 1.0)
            self.set_timer("t", 3.0)

    h = NodeHarness(Rearm)
    h.start()
    assert h.advance(2.0) == []
    assert h.advance(1.0) == [TimerFired("t", 3.0)]


def test_a_rearmed_timer_fires_after_the_timers_armed_before_it_for_the_same_deadline() -> None:
    class Ties(Node):
        def on_start(self) -> None:
            self.set_timer("x", 1.0)
            self.set_timer("y", 1.0)
            self.set_timer("x", 1.0)

    h = NodeHarness(Ties)
    h.start()
    assert list(h.timers) == ["y", "x"]
    assert h.advance(1.0) == [TimerFired("y", 1.0), TimerFired("x", 1.0)]


def test_fire_fires_an_armed_timer_now_and_names_the_armed_ones_otherwise() -> None:
    h = NodeHarness(Timed)
    h.start()
    assert h.fire("slow") == [TimerFired("slow", 0.0)]
    assert h.node.fired == [("slow", 0.0)]  # type: ignore[attr-defined]
    assert h.now == 0.0 and "slow" not in h.timers
    with pytest.raises(UsageError, match=r"'slow' of node a is not armed \(armed timers: "
                                         r"'fast', 'tie-1', 'tie-2'\)"):
        h.fire("slow")


def test_setting_the_clock_fires_nothing_until_the_next_advance() -> None:
    h = NodeHarness(Timed)
    h.start()
    h.now = 3.0
    assert h.now == 3.0 and h.node.now == 3.0
    assert h.effects[-1] == TimerSet("tie-2", 1.0, 1.0)
    # Overdue timers fire at the current clock, still in deadline order.
    fired = [e for e in h.advance(0) if isinstance(e, TimerFired)]
    assert fired == [TimerFired("fast", 3.0), TimerFired("tie-1", 3.0),
                     TimerFired("slow", 3.0)]
    assert h.timers == {"chained": 3.25}  # armed by "fast" at 3.0: not due yet


@pytest.mark.parametrize("call", [
    lambda h: h.advance(-1), lambda h: h.advance(float("inf")), lambda h: h.advance_to(-0.5),
    lambda h: h.advance_to(float("nan")), lambda h: setattr(h, "now", float("inf")),
])
def test_bad_times_are_refused(call: Any) -> None:
    h = NodeHarness(Timed)
    h.start()
    h.advance(0.1)
    with pytest.raises(UsageError):
        call(h)


def test_timer_requests_are_checked_by_the_shared_rule() -> None:
    class Negative(Node):
        def on_start(self) -> None:
            self.set_timer("oops", -1)

    h = NodeHarness(Negative)
    with pytest.raises(UsageError, match="delay must be a number >= 0, got -1"):
        h.start()


def test_component_timers_are_prefixed_and_come_back_to_the_component() -> None:
    class WithTimer(TwoGroups):
        def on_start(self) -> None:
            self.right.set_timer("beat", 0.1)

    h = NodeHarness(WithTimer)
    assert h.start() == [TimerSet("right/beat", 0.1, 0.1)]
    assert h.fire("right/beat") == [TimerFired("right/beat", 0.0), Log("[right] timer beat")]


def test_a_timer_loop_at_one_instant_is_stopped() -> None:
    class Spin(Node):
        def on_start(self) -> None:
            self.set_timer("spin", 0)

        def on_timer(self, name: str) -> None:
            self.set_timer("spin", 0)

    h = NodeHarness(Spin)
    h.start()
    with pytest.raises(UsageError, match="re-arms itself with delay 0"):
        h.advance(1.0)


# ----- storage, crash and recover -------------------------------------------------------------


class Durable(Node):
    """Counts its boots durably; keeps ``scratch`` without syncing."""

    def on_start(self) -> None:
        self.storage["boots"] = self.storage.get("boots", 0) + 1
        self.storage.sync()
        self.set_timer("tick", 1.0)

    def on_recover(self) -> None:
        self.recovered = True
        self.on_start()

    def on_message(self, src: str, msg: Any) -> None:
        self.storage[f"k{msg.seq}"] = msg.seq
        if msg.seq == 0 and "boots" in self.storage:
            del self.storage["boots"]


def test_storage_writes_deletes_and_syncs_are_effects() -> None:
    h = NodeHarness(Durable)
    assert h.start() == [StorageWrite("boots", 1), StorageSync(("boots",)),
                         TimerSet("tick", 1.0, 1.0)]
    assert h.deliver("b", Ping(0)) == [StorageWrite("k0", 0), StorageDelete("boots")]
    assert h.storage.dirty == ("k0", "boots")


def test_what_the_test_does_to_the_node_directly_is_recorded_too() -> None:
    h = NodeHarness(Durable)
    h.start()
    h.clear()
    h.storage["set-up"] = 1
    h.storage.sync()
    h.node.send("c", Ping(9))
    assert h.effects == [StorageWrite("set-up", 1), StorageSync(("set-up",)),
                         Sent("c", Ping(9))]


def test_call_runs_an_application_call_as_an_event() -> None:
    h = NodeHarness(Durable)
    h.start()
    assert h.call(h.node.send, "b", Ping(4)) == [Sent("b", Ping(4))]
    assert h.call(lambda: None) == []
    h.crash()
    with pytest.raises(UsageError, match="crashed"):
        h.call(print)


def test_crash_loses_every_unsynced_write_by_default() -> None:
    h = NodeHarness(Durable)
    h.start()
    h.deliver("b", Ping(1))
    h.deliver("b", Ping(2))
    assert h.crash() == [Crashed(("k1", "k2"))]
    assert h.crashed and dict(h.storage) == {"boots": 1}
    assert h.timers == {}


def test_crash_can_keep_every_unsynced_write_delete_included() -> None:
    h = NodeHarness(Durable)
    h.start()
    h.deliver("b", Ping(1))
    h.deliver("b", Ping(0))  # deletes boots, unsynced
    assert h.crash(lose_unsynced="none") == [Crashed(())]
    assert dict(h.storage) == {"k0": 0, "k1": 1}


def _random_crash(seed: int) -> tuple[tuple[str, ...], dict[str, Any]]:
    h = NodeHarness(Durable, seed=seed)
    h.start()
    for n in range(1, 21):
        h.deliver("b", Ping(n))
    [crashed] = h.crash(lose_unsynced="random")
    assert isinstance(crashed, Crashed)
    return crashed.lost, dict(h.storage)


def test_a_random_crash_flips_a_seeded_coin_per_unsynced_write() -> None:
    lost, kept = _random_crash(3)
    assert 0 < len(lost) < 20  # some lost, some kept
    assert set(kept) == {"boots"} | {f"k{n}" for n in range(1, 21)} - set(lost)
    assert _random_crash(3) == (lost, kept)
    assert any(_random_crash(seed)[0] != lost for seed in range(4, 8))


def test_crash_refuses_an_unknown_rule() -> None:
    h = NodeHarness(Durable)
    h.start()
    with pytest.raises(UsageError, match="'all', 'none' or 'random'"):
        h.crash(lose_unsynced="some")  # type: ignore[arg-type]
    assert not h.crashed


def test_a_crashed_node_takes_no_events_and_its_old_object_can_do_nothing() -> None:
    h = NodeHarness(Durable)
    h.start()
    old = h.node
    h.crash()
    for call in (lambda: h.deliver("b", Ping(1)), lambda: h.fire("tick"), h.crash,
                 h.start, lambda: h.node):
        with pytest.raises(UsageError, match="crashed"):
            call()
    with pytest.raises(UsageError, match="incarnation 1\\) has crashed"):
        old.send("b", Ping(1))
    assert h.advance(5.0) == [] and h.now == 5.0  # time passes while it is down


def test_recover_builds_a_fresh_node_on_the_surviving_storage() -> None:
    h = NodeHarness(Durable, seed=9)
    h.start()
    old = h.node
    h.deliver("b", Ping(1))
    h.crash()
    with pytest.raises(UsageError, match="is up"):
        NodeHarness(Durable).recover()
    effects = h.recover()
    assert effects == [StorageWrite("boots", 2), StorageSync(("boots",)),
                       TimerSet("tick", 1.0, 1.0)]
    node = h.node
    assert node is not old and node.recovered  # type: ignore[attr-defined]
    assert h.incarnation == 2 and not h.crashed
    assert node.rng.random() == Random("9/node/a/2").random()
    assert dict(h.storage) == {"boots": 2}
    assert h.deliver("b", Ping(3)) == [StorageWrite("k3", 3)]


# ----- handlers that raise --------------------------------------------------------------------


class Fragile(Node):
    def on_message(self, src: str, msg: Any) -> None:
        self.send(src, Pong(msg.seq))
        if msg.seq < 0:
            raise ValueError(f"negative seq {msg.seq}")


def test_a_handler_exception_reaches_the_test_unchanged_and_the_harness_goes_on() -> None:
    h = NodeHarness(Fragile)
    h.start()
    with pytest.raises(ValueError, match="negative seq -1") as raised:
        h.deliver("b", Ping(-1))
    assert type(raised.value) is ValueError
    assert h.effects == [Sent("b", Pong(-1))]  # what it did before raising
    assert h.deliver("b", Ping(2)) == [Sent("b", Pong(2))]


def test_a_handler_may_not_call_back_into_the_harness() -> None:
    holder: list[NodeHarness] = []

    class Reentrant(Node):
        def on_message(self, src: str, msg: Any) -> None:
            holder[0].deliver("b", msg)

    h = NodeHarness(Reentrant)
    holder.append(h)
    h.start()
    with pytest.raises(UsageError, match="already running an event"):
        h.deliver("b", Ping(1))
    h.advance(1.0)  # still usable


# ----- reading the effects --------------------------------------------------------------------


def test_sent_filters_by_type_and_destination_and_clear_forgets() -> None:
    h = NodeHarness(Echo)
    h.start()
    h.deliver("b", Ping(1))
    h.deliver("c", Ping(2))
    h.node.send("c", Ping(9))
    assert [s.msg for s in h.sent()] == [Pong(1), Pong(2), Ping(9)]
    assert h.sent(to="c") == [Sent("c", Pong(2)), Sent("c", Ping(9))]
    assert h.sent(type=Ping) == [Sent("c", Ping(9))]
    assert h.sent(type=Ping, to="b") == []
    assert len(h.sent(type=(Ping, Pong))) == 3
    effects = h.effects
    effects.clear()  # a copy
    assert len(h.effects) == 3
    h.clear()
    assert h.effects == [] and h.sent() == []


def test_notes_are_records_with_their_data() -> None:
    h = NodeHarness(Greeter)
    h.start()
    assert h.notes == [Note("started", {"peers": ["b", "c"]})]


def test_the_repr_says_where_the_node_is() -> None:
    h = NodeHarness(Echo)
    assert repr(h) == "<NodeHarness a: Echo, not started, t=0.0>"
    h.start()
    h.crash()
    assert repr(h) == "<NodeHarness a: crashed, t=0.0>"


# ----- clients --------------------------------------------------------------------------------


@message(name="harness-test:Put")
class Put:
    key: str
    value: int


@message(name="harness-test:PutOk")
class PutOk:
    pass


class Writer(Client):
    def on_invoke(self, op: dict[str, Any]) -> None:
        self.seen_op = (op, self.current_op)
        self.send("server", Put(op["key"], op["value"]))
        self.set_timer("timeout", 1.0)

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, PutOk) and self.current_op is not None:
            self.cancel_timer("timeout")
            self.ok()

    def on_timer(self, name: str) -> None:
        self.info()


def test_a_client_takes_operations_and_completes_them() -> None:
    h = NodeHarness(Writer, "client1", peers=["server"])
    h.start()
    op = {"f": "write", "key": "x", "value": 3}
    assert h.invoke(op) == [Invoked(op), Sent("server", Put("x", 3)),
                            TimerSet("timeout", 1.0, 1.0)]
    assert h.node.seen_op == (op, op)  # type: ignore[attr-defined]
    assert h.current_op == op
    with pytest.raises(UsageError, match="still running"):
        h.invoke(op)
    assert h.deliver("server", PutOk()) == [TimerCancelled("timeout"), Completed("ok", 3)]
    assert h.current_op is None
    h.invoke({"f": "write", "key": "y", "value": 4})
    assert h.advance(1.0)[-1] == Completed("info", 4)


def test_an_operation_is_normalised_as_the_simulator_does() -> None:
    h = NodeHarness(Writer, "client1", peers=["server"])
    h.start()
    effects = h.invoke({"value": 1, "key": "k", "f": "write", "extra": "dropped"})
    assert effects[0] == Invoked({"f": "write", "key": "k", "value": 1})
    fresh = NodeHarness(Writer, "c1", peers=["server"])
    fresh.start()
    with pytest.raises(UsageError, match="string 'f'"):
        fresh.invoke({"value": 1})


def test_an_operation_without_a_value_gets_none() -> None:
    class Quiet(Client):
        def on_invoke(self, op: dict[str, Any]) -> None:
            self.op = op

    h = NodeHarness(Quiet)
    h.start()
    assert h.invoke({"f": "read"}) == [Invoked({"f": "read", "value": None})]
    assert h.node.op == {"f": "read", "value": None}  # type: ignore[attr-defined]


def test_fail_with_a_value_and_completing_twice() -> None:
    class Refuser(Client):
        def on_invoke(self, op: dict[str, Any]) -> None:
            self.fail(False)
            self.fail(False)

    h = NodeHarness(Refuser)
    h.start()
    with pytest.raises(UsageError, match="none is in progress"):
        h.invoke({"f": "cas", "value": [1, 2]})
    assert h.effects[-1] == Completed("fail", False)


def test_invoke_needs_a_client_and_a_crash_drops_the_operation() -> None:
    h = NodeHarness(Echo)
    h.start()
    with pytest.raises(UsageError, match="not a dsys Client"):
        h.invoke({"f": "read"})
    c = NodeHarness(Writer, "client1", peers=["server"])
    c.start()
    c.invoke({"f": "write", "key": "x", "value": 1})
    c.crash()
    assert c.current_op is None
    c.recover()
    assert c.invoke({"f": "write", "key": "x", "value": 2})[0] == Invoked(
        {"f": "write", "key": "x", "value": 2})


# ----- determinism ----------------------------------------------------------------------------


class Jittery(Node):
    def on_start(self) -> None:
        self.set_timer("t", self.rng.uniform(0.1, 1.0))

    def on_timer(self, name: str) -> None:
        self.send(self.rng.choice(self.peers), Ping(self.rng.randrange(1000)))
        self.set_timer("t", self.rng.uniform(0.1, 1.0))


def _run(seed: int) -> list[Any]:
    h = NodeHarness(Jittery, peers=["b", "c", "d"], seed=seed)
    h.start()
    h.advance(10.0)
    return h.effects


def test_the_same_seed_gives_the_same_effects() -> None:
    assert _run(1) == _run(1)
    assert _run(1) != _run(2)
