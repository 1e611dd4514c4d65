"""Nodes and messages the runtime tests run, in this process and in `dsys run` children.

Message tags are explicit (``rt:...``) so that this module means the same messages whether
it is imported as ``tests.runtime.apps`` (here) or loaded from its path by a child.
"""

from __future__ import annotations

from dsys import Node, message


@message(name="rt:Echo")
class Echo:
    text: str


@message(name="rt:EchoOk")
class EchoOk:
    text: str


@message(name="rt:Put")
class Put:
    key: str
    value: int


@message(name="rt:PutOk")
class PutOk:
    key: str


@message(name="rt:Get")
class Get:
    key: str


@message(name="rt:Value")
class Value:
    key: str
    value: int | None


@message(name="rt:Boom")
class Boom:
    pass


@message(name="rt:Relay")
class Relay:
    """Ask the server to send ``Echo(text)`` to node ``to`` (tests routing and drops)."""

    to: str
    text: str


@message(name="rt:Blob")
class Blob:
    data: str


class Server(Node):
    """Echoes, stores (synced before the answer), raises on Boom, relays on request."""

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Echo(text=text):
                self.send(src, EchoOk(text))
            case Put(key=key, value=value):
                self.storage[key] = value
                self.storage.sync()  # durable before we say so
                self.send(src, PutOk(key))
            case Get(key=key):
                self.send(src, Value(key, self.storage.get(key)))
            case Boom():
                raise RuntimeError("boom, as asked")
            case Relay(to=to, text=text):
                self.send(to, Echo(text))
            case Blob(data=data):
                self.send(src, Blob(data + data))  # may be too big to send
