"""Composition: a node built from two components plus a Lamport-clock layer.

The example is real: a heartbeat failure detector (component 1) feeds a leader module
(component 2) that picks the smallest id it does not suspect, and a Lamport layer stamps
every message without either component knowing about it.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsys import Component, Layer, Network, Node, Simulation, UsageError, message


@message(name="comp:Heartbeat")
class Heartbeat:
    pass


@message(name="comp:Announce")
class Announce:
    leader: str


class FailureDetector(Component):
    """Suspects a peer when no heartbeat came from it for ``timeout`` seconds."""

    messages = (Heartbeat,)
    default_name = "fd"

    def __init__(self, interval: float = 0.05, timeout: float = 0.2) -> None:
        self.interval = interval
        self.timeout = timeout

    def on_start(self) -> None:
        self.last_heard = {p: self.now for p in self.peers}
        self.suspected: set[str] = set()
        self.set_timer("beat", self.interval)
        self.set_timer("check", self.timeout)

    def on_message(self, src: str, msg: Any) -> None:
        self.last_heard[src] = self.now
        if src in self.suspected:
            self.suspected.discard(src)
            self.log(f"trusts {src} again")

    def on_timer(self, name: str) -> None:
        if name == "beat":
            self.send_to_peers(Heartbeat())
            self.set_timer("beat", self.interval)
        elif name == "check":
            for peer, t in sorted(self.last_heard.items()):
                if self.now - t > self.timeout and peer not in self.suspected:
                    self.suspected.add(peer)
                    self.log(f"suspects {peer}")
            self.set_timer("check", self.interval)


class LeaderModule(Component):
    """Leader = the smallest id that the failure detector does not suspect."""

    messages = (Announce,)
    default_name = "leader"

    def __init__(self, detector: FailureDetector) -> None:
        self.detector = detector

    def on_start(self) -> None:
        self.leader: str | None = None
        self.announcements: dict[str, str] = {}
        self.set_timer("decide", 0.1)

    def on_timer(self, name: str) -> None:
        alive = [self.id] + [p for p in self.peers if p not in self.detector.suspected]
        leader = min(alive)
        if leader != self.leader:
            self.leader = leader
            self.send_to_peers(Announce(leader))
        self.set_timer("decide", 0.1)

    def on_message(self, src: str, msg: Any) -> None:
        self.announcements[src] = msg.leader


class Lamport(Layer):
    name = "lamport"

    def __init__(self) -> None:
        self.time = 0
        self.seen: list[tuple[str, int, int]] = []  # (src, stamp, clock after receipt)

    def stamp(self, dst: str, msg: object) -> int:
        self.time += 1
        return self.time

    def on_receive(self, src: str, msg: object, stamp: int | None) -> None:
        self.time = max(self.time, stamp or 0) + 1
        self.seen.append((src, stamp or 0, self.time))


class Server(Node):
    def __init__(self) -> None:
        super().__init__()
        self.clock = self.add_layer(Lamport())
        self.fd = self.add_component(FailureDetector())
        self.election = self.add_component(LeaderModule(self.fd))
        self.other: list[Any] = []

    def on_message(self, src: str, msg: Any) -> None:
        self.other.append(msg)  # nothing else is sent: components take all


def build(seed: int) -> Simulation:
    sim = Simulation(seed=seed, network=Network(latency=(0.001, 0.01), drop=0.05))
    for i in "abcd":
        sim.add_node(i, Server)
    return sim


@pytest.mark.parametrize("seed", range(5))
def test_components_route_messages_and_timers_and_elect_a_new_leader_after_a_crash(seed: int) -> None:
    sim = build(seed)
    sim.run(until=1.0)
    for node in sim.nodes.values():
        assert node.election.leader == "a" and node.other == []
    sim.crash("a")
    sim.run(until=2.0)
    leaders = {i: n.election.leader for i, n in sim.nodes.items()}
    assert leaders == {"b": "b", "c": "b", "d": "b"}
    assert all("a" in n.fd.suspected for n in sim.nodes.values())
    timer_names = {e.data["name"] for e in sim.trace if e.kind == "timer_fire"}
    assert timer_names == {"fd/beat", "fd/check", "leader/decide"}
    assert any(e.kind == "log" and e.data["text"] == "[fd] suspects a" for e in sim.trace)


def test_the_lamport_layer_stamps_every_message_and_respects_causality() -> None:
    sim = build(1)
    sim.run(until=1.0)
    sends = [e for e in sim.trace if e.kind == "send"]
    assert sends and all(isinstance(e.data["stamps"]["lamport"], int) for e in sends)
    for node in sim.nodes.values():
        assert node.clock.seen
        for _, stamp, after in node.clock.seen:
            assert after > stamp  # receipt happens after the send (clock condition)
    # Each node's stamps strictly increase along its own sends.
    for node_id in sim.node_ids:
        own = [e.data["stamps"]["lamport"] for e in sends if e.node == node_id]
        assert own == sorted(own) and len(set(own)) == len(own)


class TwoDetectors(Node):
    """Two instances of one component class: a fast and a slow failure detector."""

    def __init__(self) -> None:
        super().__init__()
        self.fast = self.add_component(FailureDetector(0.02, 0.1), name="fast")
        self.slow = self.add_component(FailureDetector(0.1, 0.5), name="slow")
        self.other: list[Any] = []

    def on_message(self, src: str, msg: Any) -> None:
        self.other.append((src, msg))


def test_two_instances_of_one_component_class_share_a_node_routed_by_name() -> None:
    sim = Simulation(seed=3)
    for i in "abc":
        sim.add_node(i, TwoDetectors)
    sim.run(until=0.3)
    sim.crash("c")
    sim.run(until=0.45)
    # The fast detector suspects c within its 0.1 s timeout; the slow one cannot yet.
    for i in "ab":
        node = sim.node(i)
        assert "c" in node.fast.suspected and "c" not in node.slow.suspected
        assert node.other == []
    sim.run(until=1.2)
    assert all("c" in sim.node(i).slow.suspected for i in "ab")
    # Each heartbeat carries its sender's component name and reached that component only.
    sends = [e for e in sim.trace if e.kind == "send"]
    assert {e.data["stamps"]["@component"] for e in sends} == {"fast", "slow"}
    fast_beats = sum(1 for e in sends if e.node == "a" and e.data["stamps"]["@component"] == "fast")
    slow_beats = sum(1 for e in sends if e.node == "a" and e.data["stamps"]["@component"] == "slow")
    assert fast_beats > 3 * slow_beats > 0
    timers = {e.data["name"] for e in sim.trace if e.kind == "timer_fire"}
    assert timers == {"fast/beat", "fast/check", "slow/beat", "slow/check"}


class Pinger(Node):
    """Sends a Heartbeat without a component name (as a plain node or client does)."""

    def on_start(self) -> None:
        self.send("server", Heartbeat())


def test_an_unnamed_message_goes_to_the_one_component_that_lists_its_type() -> None:
    class OneDetector(Node):
        def __init__(self) -> None:
            super().__init__()
            self.fd = self.add_component(FailureDetector())

    sim = Simulation(seed=1)
    sim.add_node("server", OneDetector)
    sim.add_node("pinger", Pinger)
    sim.run(until=0.01)
    assert sim.node("server").fd.last_heard["pinger"] > 0


def test_an_unnamed_message_two_components_list_is_refused_with_both_names() -> None:
    sim = Simulation(seed=1)
    sim.add_node("server", TwoDetectors)
    sim.add_node("pinger", Pinger)
    with pytest.raises(Exception, match="components 'fast', 'slow' all handle that type"):
        sim.run(until=0.01)


def test_a_named_message_the_receiver_has_no_component_for_reaches_on_message() -> None:
    class Plain(Node):
        def on_start(self) -> None:
            self.got: list[tuple[str, Any]] = []

        def on_message(self, src: str, msg: Any) -> None:
            self.got.append((src, msg))

    class Sender(Node):
        def __init__(self) -> None:
            super().__init__()
            self.fd = self.add_component(FailureDetector(0.05, 10.0))

    sim = Simulation(seed=1)
    sim.add_node("a", Sender)
    sim.add_node("plain", Plain)
    sim.run(until=0.06)
    assert sim.node("plain").got == [("a", Heartbeat())]


def test_components_start_in_order_then_everything_is_started() -> None:
    calls: list[str] = []

    class Part(Component):
        def __init__(self, label: str) -> None:
            self.label = label
            calls.append(f"{label} init on {self.id}, peers {','.join(self.peers)}")

        def on_start(self) -> None:
            calls.append(f"{self.label} start")

        def on_recover(self) -> None:
            calls.append(f"{self.label} recover")

        def on_started(self) -> None:
            calls.append(f"{self.label} started")

    class Whole(Node):
        def __init__(self) -> None:
            super().__init__()
            self.add_component(Part("p1"), name="p1")
            self.add_component(Part("p2"), name="p2")

        def on_start(self) -> None:
            calls.append("node start")

        def on_started(self) -> None:
            calls.append("node started")

    sim = Simulation()
    sim.add_node("a", Whole)
    sim.add_node("b", Node)
    sim.run(until=0.1)
    assert calls == ["p1 init on a, peers b", "p2 init on a, peers b", "p1 start", "p2 start",
                     "node start", "p1 started", "p2 started", "node started"]
    calls.clear()
    sim.crash("a")
    sim.restart("a")
    sim.run(until=0.2)
    assert calls == ["p1 init on a, peers b", "p2 init on a, peers b", "p1 recover",
                     "p2 recover", "node start", "p1 started", "p2 started", "node started"]


def test_bad_names_and_detached_use_are_refused_with_what_is_true() -> None:
    class Twice(Node):
        def __init__(self) -> None:
            super().__init__()
            self.add_component(FailureDetector())
            self.add_component(FailureDetector())

    sim = Simulation()
    sim.add_node("a", Twice)
    with pytest.raises(Exception, match="already has a component named 'fd'"):
        sim.run(until=0.1)

    class Reused(Node):
        def __init__(self) -> None:
            super().__init__()
            shared = FailureDetector()
            self.add_component(shared)
            self.add_component(shared, name="again")

    sim = Simulation()
    sim.add_node("a", Reused)
    with pytest.raises(Exception, match="already part of a node"):
        sim.run(until=0.1)
    node = Node()
    with pytest.raises(UsageError, match="no '/'"):
        node.add_component(FailureDetector(), name="a/b")
    with pytest.raises(UsageError, match="not running on a host"):
        _ = node.id
    with pytest.raises(UsageError, match="not part of a running node.*built inside a node"):
        _ = FailureDetector().id

    class Routed(Layer):
        name = "@component"

    with pytest.raises(UsageError, match="not starting with '@'"):
        node.add_layer(Routed())


def test_a_chosen_component_name_is_inherited_and_others_name_themselves() -> None:
    class Base(Component):
        default_name = "base"

    class Variant(Base):
        pass

    class Fresh(Component):
        pass

    class FreshChild(Fresh):
        pass

    assert Variant.default_name == "base"
    assert Fresh.default_name == "fresh" and FreshChild.default_name == "freshchild"


def test_a_chosen_layer_name_is_inherited() -> None:
    class Broken(Lamport):
        pass

    class Plain(Layer):
        pass

    assert Broken.name == "lamport" and Plain.name == "plain"


def test_a_different_class_under_a_taken_message_tag_is_refused_naming_both() -> None:
    from dsys.core.messages import lookup_message

    with pytest.raises(UsageError, match=r"'comp:Heartbeat' is taken by .*test_composition"
                                         r"\.Heartbeat; .*Impostor cannot"):
        @message(name="comp:Heartbeat")
        class Impostor:
            pass
    assert lookup_message("comp:Heartbeat") is Heartbeat

    def define() -> type:
        @message(name="comp:Redefined")
        class Redefined:
            n: int
        return Redefined

    first, second = define(), define()  # the same class defined again replaces it
    assert lookup_message("comp:Redefined") is second is not first
