"""Mutant: the client retransmits after 15 ms, less than a round trip.

The author took the 10 ms one-way latency for the round trip. The server answers every
retry from its duplicate table, so nothing is executed twice and every result is right;
but on a network where messages take 10 ms each way, every request is sent twice before
its reply can arrive, and the server answers both.

Caught by ``message_budget``: twice the messages an operation needs on a calm network.
"""

from __future__ import annotations

from typing import Any

from dsys import Client, Node, message

#: Seconds to wait for a reply before sending the request again: a bit more than a round
#: trip (two one-way latencies of up to 10 ms each on the default network).
RETRY_TIMEOUT = 0.015  # BUG: a round trip takes up to 20 ms

#: Seconds after which the client gives up on an operation and reports it as ``info``.
OP_TIMEOUT = 1.0

#: The client's timers: retransmission, and giving up.
RETRY = "retry"
GIVE_UP = "give-up"


@message
class Request:
    """Request number ``seq`` of the sending client: do ``f`` on ``key``."""

    seq: int
    f: str  # "get", "put" or "append"
    key: str
    value: str | None  # None for a get


@message
class Reply:
    """The answer to request number ``seq``: what a get read ("" for put and append)."""

    seq: int
    value: str


class KVClient(Client):
    """Turns each get, put and append of its workload into a request to ``server``,
    retransmitted until the reply comes (or ``OP_TIMEOUT`` passes)."""

    def __init__(self, server: str) -> None:
        super().__init__()
        self.server = server
        # The number of the latest request; every one before it is finished with.
        self.seq = 0
        # The request in flight, or None between operations.
        self.request: Request | None = None

    def on_invoke(self, op: dict[str, Any]) -> None:
        self.seq += 1
        self.request = Request(self.seq, op["f"], op["key"], op["value"])
        self.set_timer(GIVE_UP, OP_TIMEOUT)
        self.send_request()

    def send_request(self) -> None:
        """Send the request in flight and (re-)arm the retry timer."""
        assert self.request is not None
        self.send(self.server, self.request)
        self.set_timer(RETRY, RETRY_TIMEOUT)

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Reply(seq=seq, value=value):
                self.on_reply(seq, value)

    def on_reply(self, seq: int, value: str) -> None:
        """Complete the operation if this is the reply to the request in flight."""
        if self.request is None or seq != self.request.seq:
            return  # a late or duplicated reply to a request already finished with
        f = self.request.f
        self.end_request()
        if f == "get":
            self.ok(value)
        else:
            self.ok()

    def on_timer(self, name: str) -> None:
        if self.request is None:
            return
        if name == RETRY:
            self.send_request()
        elif name == GIVE_UP:
            self.give_up()

    def give_up(self) -> None:
        """No reply in time: the request may or may not have been executed (``info``)."""
        assert self.request is not None
        self.log(f"no reply to request {self.request.seq}: outcome unknown")
        self.end_request()
        self.info()

    def end_request(self) -> None:
        """Forget the request in flight and stop its timers."""
        self.request = None
        self.cancel_timer(RETRY)
        self.cancel_timer(GIVE_UP)


class KVServer(Node):
    """A key-value store that executes each request at most once."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        # The duplicate table: for each client, the reply to its latest request.
        self.replies: dict[str, Reply] = {}

    def apply(self, client: str, request_id: int | None, f: str, key: str,
              value: str | None) -> str:
        """Execute one operation on the store and return its result: what a get read,
        "" for put and append. The grader watches the trace notes it makes."""
        self.note("apply", client=client, request=request_id, f=f, key=key, value=value)
        if f == "get":
            return self.data.get(key, "")
        if f == "put":
            self.data[key] = value or ""
        else:
            self.data[key] = self.data.get(key, "") + (value or "")
        return ""

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Request():
                self.on_request(src, msg)

    def on_request(self, client: str, request: Request) -> None:
        """Execute a new request once; answer a retry from the table; ignore late copies."""
        last = self.replies.get(client)
        if last is not None and request.seq < last.seq:
            return  # a late copy: the client has finished with this request
        if last is not None and request.seq == last.seq:
            self.send(client, last)  # a retry or a copy: the same reply, not a new execution
            return
        result = self.apply(client, request.seq, request.f, request.key, request.value)
        reply = Reply(request.seq, result)
        self.replies[client] = reply  # the client is done with its earlier requests
        self.send(client, reply)
