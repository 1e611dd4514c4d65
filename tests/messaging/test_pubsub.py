"""Publish/subscribe through a broker: topics, subscription changes, and what each quality of
service delivers when the network loses and duplicates messages."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from dsys import Network, Node, Simulation, UsageError
from dsys.messaging import Broker, PubSubClient

TOPICS = {"s1": ["news"], "s2": ["news", "sports"], "s3": ["sports"]}


class BrokerNode(Node):
    def __init__(self) -> None:
        super().__init__()
        self.broker = self.add_component(Broker())


class Subscriber(Node):
    def __init__(self, dedupe: bool) -> None:
        super().__init__()
        self.pubsub = self.add_component(PubSubClient("broker", dedupe=dedupe))

    def on_start(self) -> None:
        for topic in TOPICS.get(self.id, []):
            self.pubsub.subscribe(topic)


class Publisher(Node):
    """Publishes ``count`` events from t = 0.5, alternating news and sports."""

    def __init__(self, count: int, qos: int) -> None:
        super().__init__()
        self.pubsub = self.add_component(PubSubClient("broker"))
        self.count = count
        self.qos = qos

    def on_start(self) -> None:
        self.set_timer("publish", 0.5)

    def on_timer(self, name: str) -> None:
        for n in range(self.count):
            self.pubsub.publish(["news", "sports"][n % 2], n, qos=self.qos)


def build(seed: int, *, qos: int, dedupe: bool = False, count: int = 10,
          network: dict[str, Any] | None = None) -> Simulation:
    sim = Simulation(seed=seed, network=Network(**(network or {})))
    sim.add_node("broker", BrokerNode)
    for name in TOPICS:
        sim.add_node(name, lambda: Subscriber(dedupe))
    sim.add_node("pub", lambda: Publisher(count, qos))
    return sim


def received(sim: Simulation, node: str) -> Counter[int]:
    """How many times ``node`` delivered each event (by payload)."""
    return Counter(e.payload for e in sim.node(node).pubsub.received)  # type: ignore[union-attr]


def wanted(node: str, count: int) -> set[int]:
    return {n for n in range(count) if ["news", "sports"][n % 2] in TOPICS[node]}


LOSSY = dict(drop=0.3, duplicate=0.3, reorder=0.3)


def test_each_subscriber_gets_exactly_its_topics() -> None:
    sim = build(1, qos=0)
    sim.run(until=2.0)
    for node in TOPICS:
        assert received(sim, node) == Counter(wanted(node, 10))
    notes = [e for e in sim.trace if e.kind == "note"]
    assert sum(e.data["event"] == "publish" for e in notes) == 10
    assert sum(e.data["event"] == "deliver" for e in notes) == 20


def test_qos0_loses_events_under_loss_but_never_repeats_them() -> None:
    missed = 0
    for seed in range(6):
        sim = build(seed, qos=0, network=dict(drop=0.3))
        sim.run(until=3.0)
        for node in TOPICS:
            got = received(sim, node)
            assert set(got) <= wanted(node, 10) and max(got.values(), default=1) == 1
            missed += len(wanted(node, 10) - set(got))
    assert missed > 0


def test_qos1_delivers_everything_at_least_once() -> None:
    repeated = 0
    for seed in range(6):
        sim = build(seed, qos=1, network=LOSSY)
        sim.run(until=5.0)
        for node in TOPICS:
            got = received(sim, node)
            assert set(got) == wanted(node, 10)  # nothing lost, nothing off-topic
            repeated += sum(n - 1 for n in got.values())
    assert repeated > 0  # duplicates happen: at least once, not exactly once


def test_qos1_with_dedupe_delivers_exactly_once() -> None:
    for seed in range(6):
        sim = build(seed, qos=1, dedupe=True, network=LOSSY)
        sim.run(until=5.0)
        for node in TOPICS:
            assert received(sim, node) == Counter(wanted(node, 10))


class Fickle(Node):
    """Subscribes and unsubscribes to "news" in quick succession, ending unsubscribed."""

    def __init__(self) -> None:
        super().__init__()
        self.pubsub = self.add_component(PubSubClient("broker"))

    def on_start(self) -> None:
        for _ in range(3):
            self.pubsub.subscribe("news")
            self.pubsub.unsubscribe("news")


@pytest.mark.parametrize("seed", range(6))
def test_late_subscription_changes_cannot_undo_newer_ones(seed: int) -> None:
    sim = build(seed, qos=1, network=dict(duplicate=0.5, reorder=0.8, reorder_delay=0.3))
    sim.add_node("fickle", Fickle)
    sim.run(until=5.0)
    broker = sim.node("broker").broker  # type: ignore[union-attr]
    assert "fickle" not in broker.subscribers["news"]
    assert broker.versions["fickle news"] == 6
    assert received(sim, "fickle") == Counter()


def test_unsubscribed_events_stop() -> None:
    sim = build(1, qos=1, count=40)
    sim.at(0.5, lambda: sim.node("s2").pubsub.unsubscribe("news"))  # type: ignore[union-attr]
    sim.run(until=3.0)
    assert received(sim, "s2") == Counter(wanted("s3", 40))  # sports only
    assert received(sim, "s1") == Counter(wanted("s1", 40))


def test_a_restarted_broker_keeps_subscriptions() -> None:
    sim = build(1, qos=1)
    sim.at(0.3, sim.crash, "broker")
    sim.at(0.4, sim.restart, "broker")
    sim.run(until=3.0)
    for node in TOPICS:
        assert received(sim, node) == Counter(wanted(node, 10))


def test_a_restarted_client_starts_without_subscriptions() -> None:
    class Once(Node):
        """Subscribes only in its first life."""

        def __init__(self) -> None:
            super().__init__()
            self.pubsub = self.add_component(PubSubClient("broker"))

        def on_start(self) -> None:
            if self.pubsub.epoch == 1:
                self.pubsub.subscribe("news")

    sim = build(1, qos=1)
    sim.add_node("once", Once)
    sim.at(0.2, sim.crash, "once")
    sim.at(0.3, sim.restart, "once")
    sim.run(until=3.0)
    broker = sim.node("broker").broker  # type: ignore[union-attr]
    assert "once" not in broker.subscribers["news"]
    assert received(sim, "once") == Counter()


def test_qos_must_be_0_or_1() -> None:
    sim = build(1, qos=0)
    sim.run(until=0.1)
    with pytest.raises(UsageError, match="qos"):
        sim.node("pub").pubsub.publish("news", 1, qos=2)  # type: ignore[union-attr]
