"""Reference solution of lab 7: a fault-tolerant key-value service on Raft.

The service is a *replicated state machine* (Raft paper §2; Ongaro's thesis ch. 6): every
server holds a :class:`~dsys.raft.Raft` component and a copy of the key-value store, and
applies the same commands in the same order, the order of Raft's log.

* **Writes and reads go through the log.** The server that leads proposes each request
  with ``raft.start(command)``, remembers which client waits for which log index, and
  answers once Raft applies that index, with the result the state machine computed. A
  get goes through the log too: answering it from the leader's own copy would be stale if
  that leader had been replaced without knowing it.
* **The right answer.** When index ``i`` is applied, the command there may not be the one
  this server proposed: after a leader change, the new leader may have put another
  command at ``i``. The server compares the client and number of the command with the
  request it remembered, and tells the client to try again if they differ.
* **Exactly once** (thesis §6.3). Clients number their operations; the *session table*
  (client -> number and result of its latest operation) is part of the replicated state:
  every server checks it *when it applies* a command, so a command proposed twice (a
  retry, a copy made by the network, a retry sent to a new leader) changes the store
  once, on every server, and a retry is answered with the first result.
* **Snapshots** (Raft paper §7). After each apply, if Raft's log holds more than
  ``max_raft_state`` characters, the server hands Raft a snapshot of its state through
  that index: the data *and* the session table (without the table, a retry after a restart
  would be applied again). Raft calls ``restore`` with a snapshot when one replaces the
  state: at restart, or when the leader sends one to a server that fell behind.
* **The client** sends each operation to the server it believes leads, and tries another
  one when the answer is "wrong leader" or none comes within ``RETRY_TIMEOUT``, always
  with the same number, until the answer comes.

The methods are small on purpose: each mutant in ``labs/lab7-kvraft/mutants`` overrides one
of them with a plausible bug.
"""

from __future__ import annotations

from typing import Any

from dsys import Client, Node, message
from dsys.raft import Raft

#: Seconds the client waits for an answer before trying the next server: a few round trips,
#: and well below an election timeout.
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
    """One server: Raft, and the key-value store it replicates (this object is Raft's
    state machine: Raft calls its ``apply`` and ``restore``)."""

    def __init__(self, max_raft_state: int | None = None, **raft_options: Any) -> None:
        super().__init__()
        #: Snapshot when Raft's log holds more characters than this (None: never).
        self.max_raft_state = max_raft_state
        # The replicated state: the same on every server that applied the same prefix.
        # It is set up here, not in on_start: Raft's on_start runs first, and may restore
        # a snapshot into it at a restart.
        self.data: dict[str, str] = {}
        self.sessions: dict[str, list[Any]] = {}  # client -> [seq, result] of its latest op
        # Volatile: log index -> the request this server proposed there, and its sender.
        self.waiting: dict[int, tuple[str, Request]] = {}
        self.raft = self.add_component(Raft(self, **raft_options))

    # ----- requests from clients --------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Request():
                self.on_request(src, msg)

    def on_request(self, src: str, request: Request) -> None:
        """Propose the request to Raft, or send the client to the leader."""
        session = self.sessions.get(request.client)
        if session is not None and request.seq < session[0]:
            return  # a late copy of an operation its client is done with: nobody waits
        if not self.raft.is_leader:
            self.reply(src, request, WRONG_LEADER)
            return
        command = {"client": request.client, "seq": request.seq, "f": request.f,
                   "key": request.key, "value": request.value}
        started = self.raft.start(command)
        if started is None:
            self.reply(src, request, WRONG_LEADER)
            return
        index, _term = started
        self.wait(index, src, request)

    def wait(self, index: int, src: str, request: Request) -> None:
        """Remember that ``request`` from ``src`` waits for log ``index``."""
        earlier = self.waiting.get(index)
        if earlier is not None:  # proposed there in an earlier term, and lost
            self.reply(earlier[0], earlier[1], WRONG_LEADER)
        self.waiting[index] = (src, request)

    def reply(self, src: str, request: Request, status: str, value: str | None = None) -> None:
        self.send(src, Reply(request.client, request.seq, status, value, self.raft.leader))

    # ----- the state machine (Raft calls these) --------------------------------------------

    def apply(self, index: int, command: dict[str, Any]) -> Any:
        """Apply the committed ``command`` at log ``index``, exactly once per operation;
        answer the client if this server proposed it; snapshot if the log is too long."""
        result = self.execute_once(command)
        self.answer(index, command, result)
        self.maybe_snapshot(index)
        return result

    def execute_once(self, command: dict[str, Any]) -> str | None:
        """Execute ``command`` unless its client's session has seen its number: then it
        is a duplicate, answered with the result of the first time."""
        client, seq = command["client"], command["seq"]
        session = self.sessions.get(client)
        if session is not None and seq <= session[0]:
            return session[1] if seq == session[0] else None
        result = self.execute(command["f"], command["key"], command["value"])
        self.sessions[client] = [seq, result]
        return result

    def execute(self, f: str, key: str, value: str | None) -> str | None:
        """One operation on the data: what a get read; None for put and append."""
        if f == "get":
            return self.data.get(key, "")
        if f == "put":
            self.data[key] = value or ""
        else:
            self.data[key] = self.data.get(key, "") + (value or "")
        return None

    def answer(self, index: int, command: dict[str, Any], result: str | None) -> None:
        """Answer the request that waits for ``index``, if it is the command applied there;
        requests waiting for earlier indexes were skipped (a snapshot replaced them)."""
        for skipped in [i for i in self.waiting if i < index]:
            src, request = self.waiting.pop(skipped)
            self.reply(src, request, WRONG_LEADER)
        waiting = self.waiting.pop(index, None)
        if waiting is None:
            return
        src, request = waiting
        if (command["client"], command["seq"]) == (request.client, request.seq):
            self.reply(src, request, OK, result)
        else:  # another leader put another command at this index: ours was lost
            self.reply(src, request, WRONG_LEADER)

    def maybe_snapshot(self, index: int) -> None:
        """Compact Raft's log once it holds more than ``max_raft_state`` characters."""
        if self.max_raft_state is not None and self.raft.log_bytes() > self.max_raft_state:
            self.raft.snapshot(index, self.snapshot_state())

    def snapshot_state(self) -> dict[str, Any]:
        """The whole replicated state, as a JSON value: data and session table."""
        return {"data": dict(self.data),
                "sessions": {client: list(entry) for client, entry in self.sessions.items()}}

    def restore(self, index: int, snapshot: dict[str, Any] | None) -> None:
        """Replace the whole state with a snapshot's (Raft calls it)."""
        snapshot = snapshot or {}
        self.data = dict(snapshot.get("data", {}))
        self.sessions = {client: list(entry)
                         for client, entry in snapshot.get("sessions", {}).items()}


class KVClient(Client):
    """Sends each operation to the server it believes leads, and tries the others until
    one answers it (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.servers = tuple(sorted(self.peers))
        self.leader = self.servers[self.rng.randrange(len(self.servers))]  # a first guess
        self.seq = 0
        self.request: Request | None = None  # the operation in flight

    def on_invoke(self, op: dict[str, Any]) -> None:
        self.seq += 1
        self.request = Request(self.id, self.seq, op["f"], op["key"], op.get("value"))
        self.send_request()

    def send_request(self) -> None:
        """Send the operation in flight to ``self.leader`` and arm the retry timer."""
        assert self.request is not None
        self.send(self.leader, self.request)
        self.set_timer(RETRY, RETRY_TIMEOUT)

    def on_message(self, src: str, msg: Any) -> None:
        request = self.request
        if not isinstance(msg, Reply) or request is None or msg.seq != request.seq:
            return  # a late answer to an operation we are done with
        if msg.status == WRONG_LEADER:
            hint = msg.leader
            self.leader = hint if hint in self.servers and hint != src else self.next_server(src)
            self.send_request()
            return
        self.leader = src
        self.request = None
        self.cancel_timer(RETRY)
        if request.f == "get":
            self.ok(msg.value)
        else:
            self.ok()

    def on_timer(self, name: str) -> None:
        if name == RETRY and self.request is not None:
            self.leader = self.next_server(self.leader)  # no answer: try another server
            self.send_request()

    def next_server(self, after: str) -> str:
        """The server after ``after``, in order (round robin)."""
        index = self.servers.index(after) if after in self.servers else -1
        return self.servers[(index + 1) % len(self.servers)]
