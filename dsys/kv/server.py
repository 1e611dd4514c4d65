"""A key-value server: a node holding a Raft component and the service on top of it.

The service (:class:`KVService`, a component named ``"kv"``) takes client requests:

* a write (``put``, ``append``, ``cas``, ``register``) is proposed to Raft with the
  leader's clock stamped on it, and answered once it is applied, with the result the
  state machine computed (a retry is answered from the session table);
* a ``get`` is served by ReadIndex (``reads="index"``: no log write, thesis §6.4) or
  through the log like a write (``reads="log"``, for comparison);
* a server that is not the leader answers ``wrong leader``, naming the leader it knows.

A client with many sessions may send their ready requests together in one
:class:`~dsys.kv.messages.KVBatch`: each is handled as if it came alone, and the answers
to such requests that are ready together leave together, in one
:class:`~dsys.kv.messages.KVReplies` per client (after the request batch is handled, after
each run of applies). That is one frame and one handler run for many operations, the
main cost of a busy server, not one each.

After each apply, if the log kept by Raft grows past ``max_raft_state`` characters, the
service hands Raft a snapshot of the store (data and session table).

Example:
    >>> from dsys import Simulation
    >>> from dsys.kv import KVClient, KVServer
    >>> sim = Simulation(seed=1)
    >>> for name in ("s1", "s2", "s3"):
    ...     sim.add_node(name, KVServer)
    >>> ops = iter([{"f": "put", "key": "x", "value": "1"},
    ...             {"f": "append", "key": "x", "value": "2"},
    ...             {"f": "get", "key": "x", "value": None}])
    >>> sim.add_client("c1", KVClient, workload=lambda rng: next(ops), ops=3)
    >>> sim.run(until=3.0)
    >>> [(e["type"], e["f"], e["value"]) for e in sim.history if e["type"] != "invoke"]
    [('ok', 'put', '1'), ('ok', 'append', '2'), ('ok', 'get', '12')]
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from dsys.core.node import Component, Node
from dsys.errors import ConfigError
from dsys.kv.messages import OK, WRONG_LEADER, KVBatch, KVReplies, KVReply, KVRequest
from dsys.kv.store import OPERATIONS, READS, KVStore
from dsys.raft import Raft


class KVService(Component):
    """The key-value service beside a :class:`~dsys.raft.Raft` component (see the
    module docstring).

    Args:
        raft: the Raft component of the same node.
        store: the state machine (the Raft component must apply to it).
        reads: ``"index"`` (ReadIndex) or ``"log"`` (every get through the log).
        max_raft_state: snapshot once Raft's log holds more than this many characters
            (None: never).
    """

    messages: ClassVar[tuple[type, ...]] = (KVRequest, KVBatch)
    default_name = "kv"

    def __init__(self, raft: Raft, store: KVStore, *, reads: Literal["index", "log"] = "index",
                 max_raft_state: int | None = None) -> None:
        if reads not in ("index", "log"):
            raise ConfigError(f"reads must be 'index' or 'log', got {reads!r}")
        if max_raft_state is not None and max_raft_state < 1:
            raise ConfigError(f"max_raft_state must be >= 1 (or None), got {max_raft_state}")
        self.raft = raft
        self.store = store
        self.reads = reads
        self.max_raft_state = max_raft_state

    def on_start(self) -> None:
        """Start with no write waiting for its apply."""
        # Log index -> (client, request, came in a batch) of the writes this server
        # proposed as leader, in index order.
        self.waiting: dict[int, tuple[str, KVRequest, bool]] = {}
        # The answers to requests that came in a KVBatch, per client, until flush().
        self.gathered: dict[str, list[KVReply]] = {}

    def on_message(self, src: str, msg: KVRequest | KVBatch) -> None:
        """A client's request, or a batch of them (each handled as if it came alone)."""
        if isinstance(msg, KVBatch):
            for request in msg.requests:
                self.on_request(src, request, batched=True)
            self.raft.replicate()  # the batch's writes together, in one AppendEntries
            self.flush()
            return
        self.on_request(src, msg)

    def on_request(self, src: str, msg: KVRequest, *, batched: bool = False) -> None:
        """One request: a read by ReadIndex, a write through the log, or "ask the
        leader". ``batched``: it came in a :class:`~dsys.kv.messages.KVBatch`, so its
        answer is gathered for :meth:`flush`."""
        if msg.f not in OPERATIONS or not isinstance(msg.key, str):
            self.log(f"{src} sent {msg!r}: no such operation (or a key that is not a "
                     "string); ignored")
            return
        if not self.raft.is_leader:
            self.reply(src, msg, WRONG_LEADER, batched=batched)
            return
        if msg.f in READS and self.reads == "index":
            self.raft.read(lambda ok: self.on_read(src, msg, ok, batched=batched))
            return
        command = {"session": msg.session, "seq": msg.seq, "f": msg.f, "key": msg.key,
                   "value": msg.value, "time": self.now}
        # A batch's writes are sent together, by replicate() after the batch.
        started = (self.raft.start(command, replicate=False) if batched
                   else self.raft.start(command))
        if started is None:  # handing leadership over
            self.reply(src, msg, WRONG_LEADER, batched=batched)
            return
        waiting = self.waiting
        if waiting and started[0] <= next(reversed(waiting)):  # (after a leader change)
            waiting[started[0]] = (src, msg, batched)
            self.waiting = dict(sorted(waiting.items()))
        else:
            waiting[started[0]] = (src, msg, batched)  # in index order: see applied()

    def on_read(self, src: str, msg: KVRequest, ok: bool, *, batched: bool = False) -> None:
        """ReadIndex's answer: serve the get from the store, or send the client on."""
        if ok:
            self.reply(src, msg, OK, self.store.read(msg.key), batched=batched)
        else:
            self.reply(src, msg, WRONG_LEADER, batched=batched)
        if batched:
            self.flush()

    def applied(self, index: int, command: Any, result: Any) -> None:
        """Raft applied ``command`` at ``index``: answer its client if we proposed it
        (another command at that index means ours was lost with a leader change), and
        snapshot if the log grew too long."""
        pending = self.waiting  # in index order: the skipped ones come first
        while pending:
            first = next(iter(pending))
            if first >= index:
                break
            src, msg, batched = pending.pop(first)  # replaced by a snapshot
            self.reply(src, msg, WRONG_LEADER, batched=batched)
        waiting = pending.pop(index, None)
        if waiting is not None:
            src, msg, batched = waiting
            if (command["session"], command["seq"]) == (msg.session, msg.seq):
                self.reply(src, msg, result["status"], result["value"], batched=batched)
            else:
                self.reply(src, msg, WRONG_LEADER, batched=batched)
        if self.raft.last_applied == self.raft.commit_index:
            self.flush()  # (KVServer also flushes after every run of applies)
        # One snapshot per batch of applies (at its last entry), not one per entry: a
        # backlog of committed entries stays in the log until applied, and snapshotting
        # at each of them would rewrite the whole state once per entry.
        if (self.max_raft_state is not None and self.raft.log_bytes() > self.max_raft_state
                and self.raft.last_applied == self.raft.commit_index):
            self.raft.snapshot(index, self.store.snapshot())

    def reply(self, src: str, msg: KVRequest, status: str, value: Any = None, *,
              batched: bool = False) -> None:
        """Answer request ``msg`` of client ``src``, naming the leader we know; the
        answer to a ``batched`` request waits for :meth:`flush`."""
        reply = KVReply(msg.session, msg.seq, status, value, self.raft.leader)
        if batched:
            self.gathered.setdefault(src, []).append(reply)
        else:
            self.send(src, reply)

    def flush(self) -> None:
        """Send the gathered answers: one KVReplies per client (a lone one as itself).
        Called after each request batch and each run of applies (see KVServer)."""
        if not self.gathered:
            return
        gathered, self.gathered = self.gathered, {}
        for src, replies in gathered.items():
            self.send(src, replies[0] if len(replies) == 1 else KVReplies(tuple(replies)))


class KVServer(Node):
    """A server of the key-value service: Raft and the service, as components.

    Args:
        reads: see :class:`KVService`.
        max_raft_state: see :class:`KVService`.
        session_timeout: see :class:`~dsys.kv.store.KVStore`.
        raft_options: passed to :class:`~dsys.raft.Raft` (``members``, timeouts...).
    """

    def __init__(self, *, reads: Literal["index", "log"] = "index",
                 max_raft_state: int | None = 1_000_000, session_timeout: float = 60.0,
                 **raft_options: Any) -> None:
        super().__init__()
        self.store = KVStore(session_timeout)
        self.raft = self.add_component(Raft(self.store, on_apply=self._applied,
                                            after_applies=self._after_applies,
                                            **raft_options))
        self.kv = self.add_component(KVService(self.raft, self.store, reads=reads,
                                               max_raft_state=max_raft_state))

    def _applied(self, index: int, command: Any, result: Any) -> None:
        self.kv.applied(index, command, result)

    def _after_applies(self) -> None:
        self.kv.flush()
