"""Lab 2: RPC semantics. Your implementation goes here.

Read the handout (README.md beside this file) first. Grade your work with:

    dsys lab test lab2

The grader starts one ``KVServer`` as node "server" and several ``KVClient`` nodes ("c1",
"c2"...), each built as ``KVClient("server")``. The simulator hands each client the
operations of its workload (``get``, ``put`` and ``append`` on a few keys), one at a time;
the client turns each into a request to the server and reports the outcome: ``ok``, or
``info`` when it gave up waiting. The network loses, duplicates and delays messages, and
cuts clients off from the server for a while.

What the grader relies on (keep these names):

* ``KVClient(server)`` and ``KVServer()``: the constructors;
* ``KVServer.apply``: the only way to execute an operation on the store (the grader reads
  the trace notes it makes: it checks that no put or append is applied twice);
* ``KVServer.replies``: the duplicate table, a dict (the grader checks its size).

Everything else (message fields, helper methods) is yours to change. The code below works
on a perfect network: the client already retransmits on a timer and gives up after
``OP_TIMEOUT``, but the server executes every copy of every request it receives, and the
client takes any reply as its answer. The TODOs are numbered in the order of the handout's
steps.
"""

from __future__ import annotations

from typing import Any

from dsys import Client, Node, message

#: Seconds to wait for a reply before sending the request again: a bit more than a round
#: trip (two one-way latencies of up to 10 ms each).
RETRY_TIMEOUT = 0.05

#: Seconds after which the client gives up on an operation and reports it as ``info``.
OP_TIMEOUT = 1.0

#: The client's timers: retransmission, and giving up.
RETRY = "retry"
GIVE_UP = "give-up"


@message
class Request:
    """A request from a client to the server: do ``f`` on ``key``."""

    f: str  # "get", "put" or "append"
    key: str
    value: str | None  # None for a get
    # TODO(step 1): add a request id, so the server can tell a retry from a new request.
    # Number each client's requests 1, 2, 3...; a retry carries the id of the request it
    # repeats.


@message
class Reply:
    """The server's answer: what a get read ("" for put and append)."""

    value: str
    # TODO(step 1): say which request this reply answers (its request id).


class KVClient(Client):
    """Turns each get, put and append of its workload into a request to ``server``,
    retransmitted until the reply comes (or ``OP_TIMEOUT`` passes)."""

    def __init__(self, server: str) -> None:
        super().__init__()
        self.server = server
        # The request in flight, or None between operations.
        self.request: Request | None = None
        # TODO(step 1): a counter, to give each request a new id.

    def on_invoke(self, op: dict[str, Any]) -> None:
        # op is {"f": "get" | "put" | "append", "key": ..., "value": ...}.
        # TODO(step 1): give this request a new id.
        self.request = Request(op["f"], op["key"], op["value"])
        self.set_timer(GIVE_UP, OP_TIMEOUT)
        self.send_request()

    def send_request(self) -> None:
        """Send the request in flight and (re-)arm the retry timer."""
        assert self.request is not None
        self.send(self.server, self.request)
        self.set_timer(RETRY, RETRY_TIMEOUT)

    def on_message(self, src: str, msg: object) -> None:
        match msg:
            case Reply(value=value):
                self.on_reply(value)

    def on_reply(self, value: str) -> None:
        """Complete the operation in flight with this reply."""
        if self.request is None:
            return
        # TODO(step 2): take only the reply to the request in flight. A reply to an earlier
        # request (late, or a copy made by the network) must not complete this one.
        f = self.request.f
        self.end_request()
        if f == "get":
            self.ok(value)  # a get completes with what it read
        else:
            self.ok()  # a put or an append completes with the value it wrote

    def on_timer(self, name: str) -> None:
        if self.request is None:
            return
        if name == RETRY:
            self.send_request()  # no reply yet: send the same request again
        elif name == GIVE_UP:
            self.give_up()

    def give_up(self) -> None:
        """No reply in time. The request may have been executed (only the replies were
        lost), or may still be (a copy is late): the outcome is unknown, ``info``."""
        assert self.request is not None
        self.log("no reply: outcome unknown")
        self.end_request()
        self.info()

    def end_request(self) -> None:
        """Forget the request in flight and stop its timers."""
        self.request = None
        self.cancel_timer(RETRY)
        self.cancel_timer(GIVE_UP)


class KVServer(Node):
    """A key-value store that must execute each request at most once."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        # The duplicate table (steps 3 and 4). The grader checks that it stays small: keep
        # it in this dict.
        self.replies: dict[str, Reply] = {}

    def apply(self, client: str, request_id: int | None, f: str, key: str,
              value: str | None) -> str:
        """Execute one operation on the store and return its result: what a get read,
        "" for put and append. Do not change it: the grader watches the notes it makes."""
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
        """Handle a request from ``client`` (the sender's node id)."""
        # TODO(step 1): pass the request's id to apply, instead of None.
        # TODO(step 3): a retry, or a copy made by the network, of a request you have
        # executed must not be executed again: answer it with the reply you sent the first
        # time. Remember replies in self.replies.
        # TODO(step 4): remember only what a client may still ask for again, and ignore
        # late copies of requests the client has finished with.
        result = self.apply(client, None, request.f, request.key, request.value)
        self.send(client, Reply(result))
