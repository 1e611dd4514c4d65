"""A node for the Maelstrom tests: echo, broadcast with gossip, deferred replies, a crash."""

from __future__ import annotations

from typing import Any

from dsys import Node, message


@message(name="mt:Echo")
class Echo:
    echo: str


@message(name="mt:EchoOk")
class EchoOk:
    echo: str


@message(name="mt:Explode")
class Explode:
    pass


@message(name="mt:Broadcast")
class Broadcast:
    message: int


@message(name="mt:BroadcastOk")
class BroadcastOk:
    pass


@message(name="mt:Gossip")
class Gossip:
    value: int


@message(name="mt:Read")
class Read:
    msg_id: int | None = None  # declared: the node answers later, so it needs the id


@message(name="mt:ReadOk")
class ReadOk:
    messages: tuple[int, ...]
    in_reply_to: int | None = None


@message(name="mt:Topology")
class Topology:
    maelstrom_type = "topology"
    topology: dict[str, tuple[str, ...]]


@message(name="mt:TopologyOk")
class TopologyOk:
    pass


@message(name="mt:Forward")
class Forward:
    """Ask the node to send ``Echo(echo)`` to ``to`` (tests the unknown-destination rule)."""

    to: str
    echo: str


class EchoNode(Node):
    def on_start(self) -> None:
        self.seen: set[int] = set()
        self.waiting: list[tuple[str, int | None]] = []
        print(f"print() from {self.id} goes to stderr")

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Echo(echo=text):
                self.send(src, EchoOk(text))  # a reply: the host sets in_reply_to
            case Explode():
                raise RuntimeError("exploded on purpose")
            case Broadcast(message=value):
                self.seen.add(value)
                for peer in self.peers:
                    self.send(peer, Gossip(value))
                self.send(src, BroadcastOk())
            case Gossip(value=value):
                self.seen.add(value)
            case Read(msg_id=msg_id):
                self.waiting.append((src, msg_id))  # answered from on_timer
                self.set_timer("answer", 0.05)
            case Topology():
                self.send(src, TopologyOk())
            case Forward(to=to, echo=text):
                self.send(to, Echo(text))

    def on_timer(self, name: str) -> None:
        for src, msg_id in self.waiting:
            self.send(src, ReadOk(tuple(sorted(self.seen)), in_reply_to=msg_id))
        self.waiting.clear()
