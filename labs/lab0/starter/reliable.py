"""Lab 0: reliable delivery over a lossy network. Your implementation goes here.

Read the handout (README.md beside this file) first. Grade your work with:

    dsys lab test lab0

The grader starts a ``Server`` as node "server" and a ``Client`` as node "client", gives the
client a list of requests, puts both on a network that loses, duplicates and reorders
messages, and checks that the server delivers every request exactly once and in order.

What the grader relies on (keep these names):

* ``Client(server, requests)``: the constructor's arguments;
* ``Client.done``: True once the client knows the server delivered every request;
* ``Server.delivered``: the list of delivered requests; append to it only through
  ``Server.deliver``.

Everything else (messages, fields, timers, helper methods) is yours to design. The code
below works on a perfect network only: it sends every request once, and the server
delivers whatever arrives, in the order it arrives. Replace it step by step; the TODOs are
numbered in the order of the handout's steps.
"""

from __future__ import annotations

from collections.abc import Sequence

from dsys import Node, message

#: Seconds to wait for an acknowledgement before sending a request again (step 3).
RETRY_TIMEOUT = 0.05


@message
class Request:
    """A request on its way from the client to the server."""

    payload: str
    # TODO(step 1): add a sequence number, so the server can tell request 4 from a copy
    # of request 3, and put requests back in order.


# TODO(step 2): define an acknowledgement message, with which the server tells the client
# which request it has delivered.


class Client(Node):
    """Delivers ``requests`` to the node ``server``, exactly once and in order."""

    def __init__(self, server: str, requests: Sequence[str]) -> None:
        super().__init__()
        self.server = server
        self.requests = tuple(requests)
        # True once the server has delivered every request. The grader checks that it
        # becomes true, and that it is never true too early.
        self.done = False
        # TODO(step 1): remember which request is in flight.

    def on_start(self) -> None:
        # TODO(step 1): send one request at a time, in order, not all of them at once.
        # TODO(step 3): arm a timer (self.set_timer) to retransmit if no ack comes back.
        for payload in self.requests:
            self.send(self.server, Request(payload))

    def on_message(self, src: str, msg: object) -> None:
        # TODO(step 2): on the acknowledgement of the request in flight, move on to the next
        # request; ignore acknowledgements of anything else (they are old copies).
        # TODO(step 5): when every request is acknowledged, set done and fall silent.
        pass

    def on_timer(self, name: str) -> None:
        # TODO(step 3): no acknowledgement in time: send the request in flight again, and
        # re-arm the timer (a retransmission can be lost too).
        pass


class Server(Node):
    """Delivers each request of the client exactly once, in the client's order."""

    def __init__(self) -> None:
        super().__init__()
        self.delivered: list[str] = []  # the grader watches this list: do not rename it
        # TODO(step 1): remember which request you expect next.

    def deliver(self, payload: str) -> None:
        """Hand a request to the application. Call it exactly once per request, in order."""
        self.delivered.append(payload)
        self.log(f"deliver {payload!r}")

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Request(payload=payload):
                # TODO(step 1): deliver only the request you expect next.
                # TODO(step 2): acknowledge it, so the client can move on.
                # TODO(step 4): copies of requests you already delivered (retransmissions,
                # duplicates) must not be delivered again, but do acknowledge them: the
                # client sends a copy exactly when your first acknowledgement was lost.
                self.deliver(payload)
