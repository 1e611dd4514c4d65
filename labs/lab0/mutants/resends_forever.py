"""Mutant: the server re-sends its latest acknowledgement on a timer, forever.

"In case the acknowledgement was lost", the server repeats it every 50 ms. That is
harmless for correctness (the client ignores acknowledgements it does not wait for) and
useless (the client retransmits when an acknowledgement is lost), and it never stops: the
server keeps talking long after the client is done.

Caught by ``quiet_when_done``, which now watches every node, not only the client.
"""

from __future__ import annotations

from collections.abc import Sequence

from dsys import Node, message

#: Seconds to wait for an acknowledgement before retransmitting. It must exceed a round
#: trip (two one-way latencies, up to 10 ms each on the default network), or every request
#: is sent twice; it must not be huge, or every lost message costs that long.
RETRY_TIMEOUT = 0.05

#: The name of the client's retransmission timer.
RETRY = "retry"


@message
class Request:
    """Request number ``seq`` of the client, carrying ``payload``."""

    seq: int
    payload: str


@message
class Ack:
    """The server has delivered request number ``seq``."""

    seq: int


class Client(Node):
    """Sends ``requests`` to ``server``, one at a time, until each is acknowledged."""

    def __init__(self, server: str, requests: Sequence[str]) -> None:
        super().__init__()
        self.server = server
        self.requests = tuple(requests)
        # The number of the request in flight; every request before it is acknowledged.
        self.next_seq = 0

    @property
    def done(self) -> bool:
        """True once the server has acknowledged every request."""
        return self.next_seq >= len(self.requests)

    def on_start(self) -> None:
        if self.done:
            self.finish()
        else:
            self.send_current()

    def send_current(self) -> None:
        """Send the request in flight and (re-)arm the retry timer."""
        self.send(self.server, Request(self.next_seq, self.requests[self.next_seq]))
        self.set_timer(RETRY, RETRY_TIMEOUT)

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Ack(seq=seq):
                self.on_ack(seq)

    def on_ack(self, seq: int) -> None:
        """Move on if ``seq`` acknowledges the request in flight; ignore stale acks."""
        if seq != self.next_seq:
            return
        self.next_seq += 1
        if self.done:
            self.finish()
        else:
            self.send_current()

    def finish(self) -> None:
        """Every request is acknowledged: stop the timer, so the client falls silent."""
        self.cancel_timer(RETRY)
        self.log(f"all {len(self.requests)} requests acknowledged")

    def on_timer(self, name: str) -> None:
        if name == RETRY and not self.done:
            self.log(f"no ack for request {self.next_seq}: retransmit")
            self.send_current()


class Server(Node):
    """Delivers each request once, in order, and acknowledges every copy it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.delivered: list[str] = []  # the grader watches this list
        # The number of the next request to deliver; all before it are delivered.
        self.expected = 0

    def deliver(self, payload: str) -> None:
        """Hand ``payload`` to the application: exactly once per request, in order."""
        self.delivered.append(payload)
        self.log(f"deliver {payload!r}")

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Request(seq=seq, payload=payload):
                self.on_request(src, seq, payload)

    def on_request(self, src: str, seq: int, payload: str) -> None:
        """Deliver ``seq`` if it is the next one; acknowledge anything already delivered."""
        if seq == self.expected:
            self.deliver(payload)
            self.expected += 1
        if seq < self.expected:
            self.send(src, Ack(seq))
            self.client = src
            self.set_timer("repeat-ack", RETRY_TIMEOUT)  # BUG: re-armed forever below

    def on_timer(self, name: str) -> None:
        if name == "repeat-ack":
            self.send(self.client, Ack(self.expected - 1))
            self.set_timer("repeat-ack", RETRY_TIMEOUT)
