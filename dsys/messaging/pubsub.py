"""Publish/subscribe through a broker: topics, subscriptions, per-subscriber delivery.

Publishers and subscribers do not know each other. A subscriber tells the *broker* which
*topics* interest it; a publisher sends an event on a topic to the broker; the broker
forwards a copy to each current subscriber of that topic. Senders and receivers are
decoupled in space (no addresses) and, with a broker that queues, in time (Eugster et
al., *The many faces of publish/subscribe*, ACM Computing Surveys 35(2), 2003). This is
the shape of MQTT, of Google Pub/Sub and (with a log instead of queues) of Kafka.

Two components: :class:`Broker` on the broker node, and :class:`PubSubClient` on every
node that publishes or subscribes (or both).

**What happens under loss** depends on the quality of service (``qos``) of each
publication, named as in MQTT (OASIS MQTT 3.1.1, §4.3):

* ``qos=0``, *at most once*: each hop (publisher -> broker, broker -> subscriber) sends
  once. A lost message is an event some subscribers never see; nothing is ever repeated
  (except by a duplicating network, which the subscriber cannot tell apart).
* ``qos=1``, *at least once*: each hop re-sends until the next one acknowledges. Every
  subscriber that stays subscribed gets every event, but possibly several times: a lost
  acknowledgement causes a re-send, and the broker forwards a re-sent publication again.
  ``PubSubClient(dedupe=True)`` drops repeats by event id, which makes delivery
  *exactly once per subscriber* as long as the subscriber does not crash (its memory of
  ids is lost then) and the broker does not crash (its re-send queue is lost then).

Subscribing and unsubscribing are always re-sent until acknowledged, and numbered, so
that a delayed "subscribe" cannot undo a later "unsubscribe". The broker keeps its
subscription table in storage, so a broker restart keeps subscriptions (but loses
events in flight). A restarted client starts with no subscriptions: its first message to
the broker (it says so at start) clears what its previous incarnation had.

There is no ordering guarantee: two events may reach a subscriber in either order.
An event delivered after ``unsubscribe(topic)`` is dropped by the client, and a client
gets only the events the broker routes *after* its subscription arrived: no history.

Trace notes: ``publish`` at the publisher; ``deliver`` (with ``topic``) at a subscriber.

Example:
    >>> from dsys import Network, Node, Simulation
    >>> from dsys.messaging import Broker, PubSubClient
    >>> class BrokerNode(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.add_component(Broker())
    >>> class Reader(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.pubsub = self.add_component(PubSubClient("broker", dedupe=True))
    ...     def on_start(self) -> None:
    ...         self.pubsub.subscribe("news")
    >>> class Writer(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.pubsub = self.add_component(PubSubClient("broker"))
    ...     def on_start(self) -> None:
    ...         self.set_timer("later", 0.5)            # after the subscription is in
    ...     def on_timer(self, name: str) -> None:
    ...         for n in range(3):
    ...             self.pubsub.publish("news", n, qos=1)
    >>> sim = Simulation(seed=5, network=Network(drop=0.3, duplicate=0.2))
    >>> sim.add_node("broker", BrokerNode)
    >>> sim.add_node("reader", Reader)
    >>> sim.add_node("writer", Writer)
    >>> sim.run(until=3.0)
    >>> sorted(event.payload for event in sim.node("reader").pubsub.received)
    [0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from dsys.core.messages import message
from dsys.core.node import Component
from dsys.errors import UsageError
from dsys.messaging.broadcast import message_id
from dsys.messaging.links import Retransmitter, next_epoch

# ----- messages ----------------------------------------------------------------------------


@message
class Hello:
    """Client -> broker at start: "I am incarnation ``epoch``" (clears older subscriptions)."""

    epoch: int


@message
class Subscribe:
    """Client -> broker: add me to ``topic``. ``version`` orders a client's changes."""

    topic: str
    epoch: int
    version: int


@message
class Unsubscribe:
    """Client -> broker: remove me from ``topic``."""

    topic: str
    epoch: int
    version: int


@message
class SubscriptionAck:
    """Broker -> client: change ``version`` (or the hello, ``version`` 0) arrived."""

    epoch: int
    version: int


@message
class Publish:
    """Publisher -> broker: an event on ``topic``."""

    origin: str
    epoch: int
    seq: int
    topic: str
    payload: Any
    qos: int


@message
class PublishAck:
    """Broker -> publisher (qos 1): "I have event ``id``"."""

    id: str


@message
class Notify:
    """Broker -> subscriber: event ``id`` published by ``origin`` on ``topic``."""

    id: str
    origin: str
    topic: str
    payload: Any
    qos: int


@message
class NotifyAck:
    """Subscriber -> broker (qos 1): "I have event ``id``"."""

    id: str


# ----- the broker ----------------------------------------------------------------------------


class Broker(Component):
    """Routes every publication to the current subscribers of its topic.

    ``subscribers`` maps each topic to the set of subscribed node ids.
    """

    messages = (Hello, Subscribe, Unsubscribe, Publish, NotifyAck)
    default_name = "broker"

    subscribers: dict[str, set[str]]
    epochs: dict[str, int]  # client -> its newest incarnation seen
    versions: dict[str, int]  # "client topic" -> version of the last change applied
    links: Retransmitter

    def __init__(self, *, resend: float = 0.05) -> None:
        self.resend = resend

    def on_start(self) -> None:
        saved = self.storage.get(f"{self.name}/state", {})
        self.subscribers = {t: set(s) for t, s in saved.get("subscribers", {}).items()}
        self.epochs = dict(saved.get("epochs", {}))
        self.versions = dict(saved.get("versions", {}))
        self.links = Retransmitter(self, self.resend)

    # ----- handlers -------------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Hello():
                self._incarnation(src, msg.epoch)
                self.send(src, SubscriptionAck(msg.epoch, 0))
            case Subscribe() | Unsubscribe():
                if self._incarnation(src, msg.epoch):
                    self._change(src, msg)
                self.send(src, SubscriptionAck(msg.epoch, msg.version))
            case Publish():
                if msg.qos == 1:
                    self.send(src, PublishAck(message_id(msg.origin, msg.epoch, msg.seq)))
                self._route(msg)
            case NotifyAck():
                self.links.acknowledged(src, msg.id)

    def on_timer(self, name: str) -> None:
        if name == self.links.timer:
            self.links.on_timer()

    # ----- helpers ------------------------------------------------------------------------------

    def _incarnation(self, client: str, epoch: int) -> bool:
        """Track the client's incarnation; False if ``epoch`` is an old, dead one."""
        known = self.epochs.get(client, 0)
        if epoch < known:
            return False
        if epoch > known:
            # A restarted client remembers no subscriptions: drop its old ones.
            self.epochs[client] = epoch
            for members in self.subscribers.values():
                members.discard(client)
            self.versions = {k: v for k, v in self.versions.items()
                             if not k.startswith(f"{client} ")}
            self._save()
        return True

    def _change(self, client: str, msg: Subscribe | Unsubscribe) -> None:
        key = f"{client} {msg.topic}"
        if msg.version <= self.versions.get(key, 0):
            return  # an older change arriving late (or a re-sent one): already applied
        self.versions[key] = msg.version
        members = self.subscribers.setdefault(msg.topic, set())
        if isinstance(msg, Subscribe):
            members.add(client)
        else:
            members.discard(client)
        self._save()

    def _route(self, msg: Publish) -> None:
        event = Notify(message_id(msg.origin, msg.epoch, msg.seq), msg.origin, msg.topic,
                       msg.payload, msg.qos)
        for subscriber in sorted(self.subscribers.get(msg.topic, ())):
            if msg.qos == 1:
                self.links.send(subscriber, event.id, event)
            else:
                self.send(subscriber, event)

    def _save(self) -> None:
        self.storage[f"{self.name}/state"] = {
            "subscribers": {t: sorted(s) for t, s in sorted(self.subscribers.items())},
            "epochs": self.epochs,
            "versions": self.versions,
        }
        self.storage.sync()


# ----- the client ----------------------------------------------------------------------------


@attrs.frozen
class Event:
    """A delivered event."""

    id: str
    origin: str
    topic: str
    payload: Any


class PubSubClient(Component):
    """Publishes and subscribes through ``broker``.

    Args:
        broker: the broker's node id.
        on_event: called with each delivered :class:`Event`.
        dedupe: drop events whose id was delivered before (see the module docstring).
        resend: seconds between retransmissions.
    """

    messages = (SubscriptionAck, PublishAck, Notify)
    default_name = "pubsub"

    epoch: int
    next_seq: int
    version: int
    topics: set[str]
    received: list[Event]
    seen: set[str]
    links: Retransmitter

    def __init__(self, broker: str, on_event: Callable[[Event], None] | None = None, *,
                 dedupe: bool = False, resend: float = 0.05) -> None:
        self.broker = broker
        self.on_event = on_event
        self.dedupe = dedupe
        self.resend = resend

    def on_start(self) -> None:
        self.epoch = next_epoch(self.storage, f"{self.name}/epoch")
        self.next_seq = 0
        self.version = 0
        self.topics = set()
        self.received = []
        self.seen = set()
        self.links = Retransmitter(self, self.resend)
        self.links.send(self.broker, "v0", Hello(self.epoch))

    # ----- interface ----------------------------------------------------------------------

    def subscribe(self, topic: str) -> None:
        """Receive the events published on ``topic`` from now on."""
        self.topics.add(topic)
        self._change(Subscribe(topic, self.epoch, self.version + 1))

    def unsubscribe(self, topic: str) -> None:
        """Stop receiving events on ``topic`` (late ones still in flight are dropped here)."""
        self.topics.discard(topic)
        self._change(Unsubscribe(topic, self.epoch, self.version + 1))

    def publish(self, topic: str, payload: Any, *, qos: int = 0) -> str:
        """Publish ``payload`` (a JSON value) on ``topic``; return the event id."""
        if qos not in (0, 1):
            raise UsageError(f"qos must be 0 (at most once) or 1 (at least once), got {qos!r}")
        msg = Publish(self.id, self.epoch, self.next_seq, topic, payload, qos)
        self.next_seq += 1
        mid = message_id(msg.origin, msg.epoch, msg.seq)
        self.note("publish", id=mid, topic=topic, payload=payload, qos=qos)
        if qos == 1:
            self.links.send(self.broker, mid, msg)
        else:
            self.send(self.broker, msg)
        return mid

    # ----- handlers -------------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case SubscriptionAck() if msg.epoch == self.epoch:
                self.links.acknowledged(self.broker, f"v{msg.version}")
            case PublishAck():
                self.links.acknowledged(self.broker, msg.id)
            case Notify():
                if msg.qos == 1:
                    self.send(src, NotifyAck(msg.id))  # every copy: our ack may be lost
                self._receive(msg)

    def on_timer(self, name: str) -> None:
        if name == self.links.timer:
            self.links.on_timer()

    # ----- helpers ------------------------------------------------------------------------------

    def _change(self, msg: Subscribe | Unsubscribe) -> None:
        self.version = msg.version
        self.links.send(self.broker, f"v{msg.version}", msg)

    def _receive(self, msg: Notify) -> None:
        if msg.topic not in self.topics:
            return  # we unsubscribed (or never subscribed in this incarnation)
        if self.dedupe and msg.id in self.seen:
            return
        self.seen.add(msg.id)
        event = Event(msg.id, msg.origin, msg.topic, msg.payload)
        self.received.append(event)
        self.note("deliver", id=msg.id, origin=msg.origin, topic=msg.topic, payload=msg.payload)
        if self.on_event is not None:
            self.on_event(event)
