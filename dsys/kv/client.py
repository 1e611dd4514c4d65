"""The key-value client: finds the leader, retries, and never applies an operation twice.

A :class:`KVClient` opens a *session* before its first write (a ``register`` operation,
itself retried until it is applied) and numbers its operations 1, 2, 3... in it, one at
a time (reads need no session: doing one twice changes nothing). It sends each to
the server it believes leads; on ``wrong leader`` it tries the leader named in the
reply (or the next server), on silence the next server, always with the same number, so
the servers apply the operation once however often it is sent (the session table,
thesis §6.3). After ``op_timeout`` seconds without an answer it gives up: the outcome is
unknown (``info``), and the next operation gets the next number. If the servers forgot
the session (it expired), the operation's outcome is unknown too, and a new session is
opened.

Operations (for ``sim.add_client`` workloads and ``dsys run --workload``): ``get``,
``put``, ``append`` (``key``, ``value``) and ``cas`` (``value`` is ``[old, new]``; a cas
whose compare fails completes as ``fail``), the ``kv`` model of :mod:`dsys.check`.
"""

from __future__ import annotations

from typing import Any

from dsys.core.client import Client
from dsys.kv.messages import EXPIRED, FAILED, OK, WRONG_LEADER, KVReply, KVRequest

#: Seconds without a reply before the client tries the next server.
RETRY = 0.1

#: Seconds before the client gives up on an operation (``info``).
OP_TIMEOUT = 2.0


class KVClient(Client):
    """A client of the key-value service (see the module docstring).

    Args:
        servers: the servers' ids (default: every server of the cluster, ``peers``).
        retry: seconds before trying the next server.
        op_timeout: seconds before giving up on an operation.
    """

    def __init__(self, *, servers: tuple[str, ...] | None = None, retry: float = RETRY,
                 op_timeout: float = OP_TIMEOUT) -> None:
        super().__init__()
        self._servers = servers
        self.retry = retry
        self.op_timeout = op_timeout

    def on_start(self) -> None:
        """Pick a session id for this incarnation and a first server to try."""
        self.servers = tuple(sorted(self._servers or self.peers))
        # A session id of this incarnation: a restarted client must not reuse numbers.
        self.session = f"{self.id}-{self.rng.getrandbits(48):012x}"
        self.registered = False
        self.seq = 0
        self.request: KVRequest | None = None  # what we are waiting for an answer to
        self.target = self.servers[self.rng.randrange(len(self.servers))]

    def on_invoke(self, op: dict[str, Any]) -> None:
        """Start ``op``: open the session first if this is our first write."""
        self.set_timer("give up", self.op_timeout)
        if not self.registered and op["f"] != "get":  # reads need no session
            self.send_request(KVRequest(self.session, 0, "register", "", None))
            return
        self.send_next(op)

    def send_next(self, op: dict[str, Any]) -> None:
        """Send ``op`` as the next operation of the session (a new number)."""
        self.seq += 1
        value: Any = op.get("value")
        if op["f"] == "cas":
            value = list(value)  # [old, new], as it crosses the wire
        self.send_request(KVRequest(self.session, self.seq, op["f"], str(op.get("key", "")),
                                    value))

    def send_request(self, request: KVRequest) -> None:
        """Send ``request`` to the server we believe leads, and arm the retry timer."""
        self.request = request
        self.send(self.target, request)
        self.set_timer("retry", self.retry)

    def on_message(self, src: str, msg: Any) -> None:
        """A reply: follow a ``wrong leader`` hint, or complete the operation."""
        request = self.request
        if not isinstance(msg, KVReply) or request is None or (msg.session, msg.seq) != (
                request.session, request.seq):
            return  # a late reply, to an operation we are done with
        if msg.status == WRONG_LEADER:
            self.target = msg.leader if msg.leader in self.servers and msg.leader != src \
                else self.next_server(src)
            self.send(self.target, request)
            self.set_timer("retry", self.retry)
            return
        if request.f == "register":
            if msg.status == OK:
                self.registered = True
                op = self.current_op
                if op is not None:
                    self.send_next(op)
            return
        self.done()
        if msg.status == OK and request.f == "get":
            self.ok(msg.value)
        elif msg.status == OK:
            self.ok()
        elif msg.status == FAILED:
            self.fail()
        elif msg.status == EXPIRED:
            self.registered = False
            self.session = f"{self.id}-{self.rng.getrandbits(48):012x}"
            self.seq = 0
            self.info()

    def on_timer(self, name: str) -> None:
        """``retry``: try the next server; ``give up``: the outcome is unknown."""
        if name == "retry" and self.request is not None:
            self.target = self.next_server(self.target)
            self.send(self.target, self.request)
            self.set_timer("retry", self.retry)
        elif name == "give up" and self.current_op is not None:
            self.done()
            self.info()

    def done(self) -> None:
        """The operation is over: stop waiting and retrying."""
        self.request = None
        self.cancel_timer("retry")
        self.cancel_timer("give up")

    def next_server(self, after: str) -> str:
        """The server after ``after``, in order (round robin)."""
        index = self.servers.index(after) if after in self.servers else -1
        return self.servers[(index + 1) % len(self.servers)]
