"""Running: invariants, failure reports, the wire check, clients, run modes, statistics."""

from __future__ import annotations

from typing import Any

import pytest

from dsys import (
    Client,
    HandlerError,
    InvariantViolation,
    Network,
    Node,
    Simulation,
    UsageError,
    WireError,
    message,
)
from dsys.core.codec import CodecError
from dsys.sim.report import replay_command


@message(name="run:Put")
class Put:
    value: int


@message(name="run:Ack")
class Ack:
    value: int


@message(name="run:Batch")
class Batch:
    items: tuple[int, ...]


@message(name="run:Shared")
class Shared:
    items: list[int]


class Unregistered:
    pass


class Crasher(Node):
    def on_start(self) -> None:
        self.set_timer("boom", 0.25)

    def on_timer(self, name: str) -> None:
        self.log("about to fail")
        _ = 1 // 0


def test_a_raising_handler_stops_the_run_with_a_full_report() -> None:
    sim = Simulation(seed=42)
    sim.add_node("a", Crasher)
    token = replay_command.set("pytest tests/x.py::test_y --dsys-seed 42")
    try:
        with pytest.raises(HandlerError) as info:
            sim.run(until=1.0)
    finally:
        replay_command.reset(token)
    err = info.value
    assert err.node == "a" and err.seed == 42 and err.time == pytest.approx(0.25)
    assert "timer 'boom' fired" in err.event
    assert isinstance(err.__cause__, ZeroDivisionError)
    report = str(err)
    for fragment in ("ZeroDivisionError", "seed:          42", "0.250000", "about to fail",
                     "pytest tests/x.py::test_y --dsys-seed 42"):
        assert fragment in report
    assert sim.trace[-1].kind == "error"


class Pinger(Node):
    def on_start(self) -> None:
        for i in range(5):
            self.send("b", Put(i))


class Holder(Node):
    def on_start(self) -> None:
        self.values: list[int] = []

    def on_message(self, src: str, msg: Any) -> None:
        self.values.append(msg.value)


def test_invariants_are_checked_after_every_event() -> None:
    sim = Simulation(seed=3, network=Network(latency=0.01))
    sim.add_node("a", Pinger)
    sim.add_node("b", Holder)
    checks = []

    def at_most_three(s: Simulation) -> bool:
        checks.append(s.now)
        node = s.node("b")
        return node is None or len(node.values) <= 3

    sim.add_invariant(at_most_three)
    with pytest.raises(InvariantViolation, match="'at_most_three' violated: returned False") as info:
        sim.run(until=1.0)
    assert info.value.time == pytest.approx(0.01)
    assert len(checks) == 1 + 4  # one start (both nodes), then deliveries up to the 4th value
    assert sim.trace[-1].kind == "violation"


def test_assertion_messages_of_invariants_are_reported() -> None:
    sim = Simulation()
    sim.add_node("a", Pinger)
    sim.add_node("b", Holder)

    def no_values(s: Simulation) -> None:
        node = s.node("b")
        assert node is None or not node.values, f"b holds {node.values}"

    sim.add_invariant(no_values)
    with pytest.raises(InvariantViolation, match=r"b holds \[\d\]"):
        sim.run(until=1.0)


class BadSender(Node):
    def __init__(self, what: object) -> None:
        super().__init__()
        self.what = what

    def on_start(self) -> None:
        self.send("b", self.what)


@pytest.mark.parametrize(
    ("what", "fragment"),
    [
        (Unregistered(), "not a registered message type"),
        (Batch([1, 2]), "would arrive as"),  # type: ignore[arg-type]
        (Put(float("nan")), "not JSON-serialisable"),  # type: ignore[arg-type]
    ],
)
def test_a_message_that_could_not_cross_a_real_network_fails_naming_node_and_message(
    what: object, fragment: str
) -> None:
    sim = Simulation()
    sim.add_node("a", lambda: BadSender(what))
    sim.add_node("b", Holder)
    with pytest.raises(HandlerError) as info:
        sim.run(until=1.0)
    assert isinstance(info.value.__cause__, CodecError)
    assert "node a" in str(info.value) and fragment in str(info.value)


def test_without_the_codec_unregistered_messages_pass_through() -> None:
    sim = Simulation(codec=False, trace=False)
    sim.add_node("a", lambda: BadSender(Unregistered()))
    sim.add_node("b", Node)
    sim.run(until=1.0)
    assert sim.statistics().delivered == 1


class Mutator(Node):
    def on_start(self) -> None:
        self.items = [1]
        self.send("b", Shared(self.items))
        self.items.append(2)  # the bug: the message still refers to this list


class Copier(Node):
    def on_start(self) -> None:
        items = [1]
        self.send("b", Shared(list(items)))
        items.append(2)


class SharedHolder(Node):
    def on_message(self, src: str, msg: Any) -> None:
        self.got = msg.items


def test_mutating_a_sent_message_is_caught_and_a_copy_is_fine() -> None:
    sim = Simulation()
    sim.add_node("a", Mutator)
    sim.add_node("b", SharedHolder)
    with pytest.raises(WireError, match="changed after it was sent") as info:
        sim.run(until=1.0)
    assert info.value.node == "a"
    ok = Simulation()
    ok.add_node("a", Copier)
    ok.add_node("b", SharedHolder)
    ok.run(until=1.0)
    assert ok.node("b").got == [1]


def test_sending_to_an_unknown_node_names_the_sender_and_the_known_nodes() -> None:
    class Lost(Node):
        def on_start(self) -> None:
            self.send("zz", Put(1))

    sim = Simulation()
    sim.add_node("a", Lost)
    with pytest.raises(HandlerError, match="node a sent Put to 'zz'"):
        sim.run(until=1.0)


def test_bad_configuration_is_rejected_early() -> None:
    from dsys import ConfigError

    sim = Simulation()
    sim.add_node("a", Node)
    with pytest.raises(ConfigError, match="already a node named 'a'"):
        sim.add_node("a", Node)
    with pytest.raises(ConfigError, match="without '/'"):
        sim.add_node("x/y", Node)
    with pytest.raises(ConfigError, match="seed must be an int"):
        Simulation(seed="7")  # type: ignore[arg-type]
    bad = Simulation()
    bad.add_node("a", lambda: 42)  # type: ignore[arg-type, return-value]
    with pytest.raises(HandlerError, match="not a dsys Node"):
        bad.run(until=1.0)


# ----- clients and histories -------------------------------------------------------------


class Register(Node):
    def on_start(self) -> None:
        self.value = None

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Put(value=v):
                self.value = v
                self.send(src, Ack(v))


class Writer(Client):
    def on_invoke(self, op: dict[str, Any]) -> None:
        self.send("server", Put(op["value"]))
        self.set_timer("timeout", 0.05)

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Ack) and self.current_op and msg.value == self.current_op["value"]:
            self.cancel_timer("timeout")
            self.ok()

    def on_timer(self, name: str) -> None:
        self.info()


def writes(rng: Any) -> dict[str, Any]:
    return {"f": "write", "value": rng.randint(0, 9)}


def test_clients_record_a_well_formed_history_with_info_on_timeouts() -> None:
    sim = Simulation(seed=2, network=Network(latency=(0.001, 0.02), drop=0.3))
    sim.add_node("server", Register)
    sim.add_client("c0", Writer, workload=writes, ops=20, think=(0.0, 0.01))
    sim.add_client("c1", Writer, workload=writes, ops=20)
    assert sim.run_until_quiet(timeout=30.0)
    invokes = [e for e in sim.history if e["type"] == "invoke"]
    assert len(invokes) == 40
    open_ops: dict[int, dict[str, Any]] = {}
    processes_by_client: dict[str, set[int]] = {"c0": set(), "c1": set()}
    for e in sim.history:
        processes_by_client[e["client"]].add(e["process"])
        if e["type"] == "invoke":
            assert e["process"] not in open_ops, "two open operations on one process"
            open_ops[e["process"]] = e
        else:
            inv = open_ops.pop(e["process"])
            assert e["f"] == inv["f"] and e["value"] == inv["value"] and e["time"] >= inv["time"]
            assert e["type"] in ("ok", "info")
    assert not open_ops
    infos = sum(e["type"] == "info" for e in sim.history)
    assert infos > 0 and sum(e["type"] == "ok" for e in sim.history) > 0
    # After each info a client continues as a new process (stride = number of clients).
    assert len(processes_by_client["c0"]) == 1 + sum(
        e["type"] == "info" for e in sim.history if e["client"] == "c0")
    assert all(p % 2 == 0 for p in processes_by_client["c0"])
    assert all(p % 2 == 1 for p in processes_by_client["c1"])
    assert "server" in sim.node_ids and "c0" not in sim.node_ids
    assert sim.client_ids == ("c0", "c1")


def test_completing_twice_is_a_clear_error() -> None:
    class Twice(Client):
        def on_invoke(self, op: dict[str, Any]) -> None:
            self.ok()
            self.ok()

    sim = Simulation()
    sim.add_client("c", Twice, workload=writes, ops=1)
    with pytest.raises(HandlerError, match="none is in progress"):
        sim.run(until=1.0)


def test_a_bad_workload_is_reported() -> None:
    sim = Simulation()
    sim.add_client("c", Writer, workload=lambda rng: 3, ops=1)  # type: ignore[arg-type, return-value]
    with pytest.raises(HandlerError, match="must return a dict"):
        sim.run(until=1.0)


# ----- run modes and statistics ---------------------------------------------------------


def test_run_until_predicate_and_timeout() -> None:
    sim = Simulation(network=Network(latency=0.01))
    sim.add_node("a", Pinger)
    sim.add_node("b", Holder)
    assert sim.run_until(lambda s: (b := s.node("b")) is not None and len(b.values) == 2,
                         timeout=1.0)
    assert sim.now == pytest.approx(0.01) and len(sim.node("b").values) == 2
    assert not sim.run_until(lambda s: False, timeout=0.5)
    assert sim.now == pytest.approx(0.51)


def test_run_until_quiet_stops_when_nothing_is_in_flight() -> None:
    sim = Simulation(network=Network(latency=0.01))
    sim.add_node("a", Pinger)
    sim.add_node("b", Holder)
    assert sim.run_until_quiet(timeout=5.0)
    assert sim.in_flight == 0 and sim.node("b").values == [0, 1, 2, 3, 4]
    assert sim.now == pytest.approx(0.01)


def test_stop_ends_the_run_early() -> None:
    sim = Simulation(network=Network(latency=0.01))
    sim.add_node("a", Pinger)
    sim.add_node("b", Holder)
    sim.at(0.005, sim.stop)
    sim.run(until=1.0)
    assert sim.now == pytest.approx(0.005) and sim.node("b").values == []


def test_statistics_by_node_type_and_reason() -> None:
    net = Network(latency=0.001)
    net.set_link("a", "b", drop=1.0)
    sim = Simulation(network=net)
    sim.add_node("a", Pinger)
    sim.add_node("b", Pinger)  # b sends to itself
    sim.run(until=1.0)
    st = sim.statistics()
    assert st.sent == 10 and st.delivered == 5 and st.dropped == 5
    assert st.by_node["a"] == {"sent": 5, "dropped": 5}
    assert st.by_node["b"] == {"sent": 5, "delivered": 5}
    assert st.by_type["Put"] == {"sent": 10, "delivered": 5, "dropped": 5}
    assert st.dropped_by_reason == {"loss": 5}
    with pytest.raises(TypeError):
        st.by_node["a"]["sent"] = 0  # type: ignore[index]


def test_recording_can_be_switched_off_without_changing_the_run() -> None:
    runs = []
    for trace in (True, False):
        sim = Simulation(seed=9, trace=trace)
        sim.add_node("a", Pinger)
        sim.add_node("b", Holder)
        sim.run(until=1.0)
        runs.append((len(sim.trace), sim.node("b").values, sim.statistics().events))
    (traced, values, events), (untraced, values_off, events_off) = runs
    assert traced > 0 and untraced == 0
    assert values == values_off and sorted(values) == [0, 1, 2, 3, 4] and events == events_off


def test_unknown_node_lookups_are_usage_errors() -> None:
    sim = Simulation()
    with pytest.raises(UsageError, match="no node named 'q'"):
        sim.crash("q")


def test_nodes_starting_together_are_all_built_before_any_invariant_or_predicate() -> None:
    sim = Simulation()
    for i in "abc":
        sim.add_node(i, Holder)
    seen = []
    sim.add_invariant(lambda s: seen.append(len(s.nodes)) or True)
    assert sim.run_until(lambda s: len(s.nodes) == 3, timeout=1.0)
    assert seen == [3] and sim.now == 0.0


def test_an_event_budget_never_lets_time_jump_over_waiting_events() -> None:
    sim = Simulation(network=Network(latency=0.01))
    sim.add_node("a", Pinger)
    sim.add_node("b", Holder)
    sim.run(until=1.0, max_events=1)
    assert sim.now == 0.0 and sim.in_flight == 5
    sim.run(until=1.0)
    assert sim.now == 1.0 and sim.node("b").values
