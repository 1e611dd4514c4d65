"""Lab 7: a fault-tolerant key-value service on Raft. Your implementation goes here.

Read the handout (README.md beside this file) first. Grade your work with:

    dsys lab test lab7

The grader starts several ``KVServer`` nodes ("s1" ... "s5"), each built as
``KVServer(max_raft_state, **raft_options)``, and a few ``KVClient`` clients ("c1",
"c2"...), each built as ``KVClient()``. The simulator hands each client the operations of
its workload (``get``, ``put`` and ``append`` on a few keys), one at a time; the client
sends each to the servers and reports the outcome with ``self.ok(...)``. The network
loses, duplicates and delays messages; servers crash and restart; partitions cut leaders
off.

What the grader relies on (keep these names):

* ``KVServer(max_raft_state=None, **raft_options)``: the constructor; pass
  ``raft_options`` on to ``Raft`` unchanged (a test turns check-quorum off);
* ``KVServer.raft``: the ``dsys.raft.Raft`` component; ``KVServer.data``: the store, a
  dict of key -> string value (the grader reads both after every event);
* ``KVClient()``: the constructor (the servers are ``self.peers``).

Everything else (message fields, helper methods, the session table) is yours to change.
The code below runs, but it is not a replicated service: the server that believes it
leads executes requests on its own copy, at once, and nothing reaches the other servers;
the client asks one server, once. The TODOs are numbered in the order of the handout's
steps.
"""

from __future__ import annotations

from typing import Any

from dsys import Client, Node, message
from dsys.raft import Raft

#: Seconds the client waits for an answer before trying the next server.
RETRY_TIMEOUT = 0.1

#: The client's retry timer.
RETRY = "retry"

#: Reply statuses.
OK = "ok"
WRONG_LEADER = "wrong leader"


@message
class Request:
    """Operation ``seq`` of ``client``: ``f`` ("get", "put" or "append") on ``key``."""

    client: str
    seq: int
    f: str
    key: str
    value: str | None  # None for a get


@message
class Reply:
    """The answer to operation ``seq`` of ``client``: ``OK`` with what a get read, or
    ``WRONG_LEADER`` with the leader this server knows of (None if it knows none)."""

    client: str
    seq: int
    status: str
    value: str | None = None
    leader: str | None = None


class KVServer(Node):
    """One server: a Raft component, and the key-value store it replicates. This object is
    Raft's state machine: Raft calls ``apply`` for each committed command, in log order,
    and ``restore`` when a snapshot replaces the state."""

    def __init__(self, max_raft_state: int | None = None, **raft_options: Any) -> None:
        super().__init__()
        #: Snapshot when Raft's log holds more characters than this (None: never).
        self.max_raft_state = max_raft_state
        # The replicated state. Set it up here, not in on_start: Raft's on_start runs
        # before the node's, and restores a snapshot into it at a restart.
        self.data: dict[str, str] = {}
        # TODO(step 3): the session table, client -> [seq, result] of its latest operation.
        self.sessions: dict[str, list[Any]] = {}
        # TODO(step 2): which request waits for which log index (volatile).
        self.waiting: dict[int, tuple[str, Request]] = {}
        self.raft = self.add_component(Raft(self, **raft_options))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Request():
                self.on_request(src, msg)

    def on_request(self, src: str, request: Request) -> None:
        """A request from client ``src``."""
        if not self.raft.is_leader:
            self.send(src, Reply(request.client, request.seq, WRONG_LEADER,
                                 leader=self.raft.leader))
            return
        # TODO(step 1): do not execute here. Propose the request to Raft with
        # self.raft.start(command) (a dict of JSON values: client, seq, f, key, value), and
        # remember that this request waits for the index start returns (step 2).
        result = self.execute(request.f, request.key, request.value)
        self.send(src, Reply(request.client, request.seq, OK, result, self.raft.leader))

    def apply(self, index: int, command: Any) -> Any:
        """Raft applied the committed ``command`` at log ``index``: execute it, on every
        server, in log order."""
        # TODO(step 1): execute the command on self.data.
        # TODO(step 2): if this server proposed a request at this index, answer it, if the
        # command applied here is that request (same client, same number).
        # TODO(step 3): execute each client operation once: skip a command whose number
        # the client's session has seen, and answer it with the first result.
        # TODO(step 5): snapshot when self.raft.log_bytes() exceeds max_raft_state.
        return None

    def execute(self, f: str, key: str, value: str | None) -> str | None:
        """One operation on the data: what a get read; None for put and append."""
        if f == "get":
            return self.data.get(key, "")
        if f == "put":
            self.data[key] = value or ""
        else:
            self.data[key] = self.data.get(key, "") + (value or "")
        return None

    def restore(self, index: int, snapshot: Any) -> None:
        """Raft hands over a snapshot (at a restart, or from the leader): it replaces the
        whole state. ``snapshot`` is what you gave ``raft.snapshot``, or None."""
        # TODO(step 5): replace the data and the session table with the snapshot's.


class KVClient(Client):
    """Sends each operation of its workload to the servers until one answers it."""

    def __init__(self) -> None:
        super().__init__()
        self.servers = tuple(sorted(self.peers))
        self.leader = self.servers[0]
        self.seq = 0
        self.request: Request | None = None  # the operation in flight

    def on_invoke(self, op: dict[str, Any]) -> None:
        # op is {"f": "get" | "put" | "append", "key": ..., "value": ...}.
        self.seq += 1
        self.request = Request(self.id, self.seq, op["f"], op["key"], op.get("value"))
        self.send(self.leader, self.request)
        # TODO(step 4): arm a retry timer: with no answer within RETRY_TIMEOUT, try the
        # next server, with the same request (same number).

    def on_message(self, src: str, msg: Any) -> None:
        request = self.request
        if not isinstance(msg, Reply) or request is None:
            return
        # TODO(step 4): ignore answers to earlier operations (another number); on
        # WRONG_LEADER, send the request to the leader the reply names (or the next
        # server), and remember who answered ok.
        self.request = None
        if request.f == "get":
            self.ok(msg.value)
        else:
            self.ok()

    def on_timer(self, name: str) -> None:
        pass  # TODO(step 4): the retry timer
