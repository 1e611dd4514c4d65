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
            self.broadcast(Heartbeat())
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
            self.broadcast(Announce(leader))
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


def test_conflicting_components_and_names_are_rejected() -> None:
    class Twice(Node):
        def __init__(self) -> None:
            super().__init__()
            self.add_component(FailureDetector())
            self.add_component(FailureDetector(), name="fd2")

    sim = Simulation()
    sim.add_node("a", Twice)
    with pytest.raises(Exception, match="claimed by both components 'fd' and 'fd2'"):
        sim.run(until=0.1)
    node = Node()
    with pytest.raises(UsageError, match="no '/'"):
        node.add_component(FailureDetector(), name="a/b")
    with pytest.raises(UsageError, match="not running on a host"):
        _ = node.id


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
