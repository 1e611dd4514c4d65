"""Lab 8: Dynamo-style quorum replication. The only file you edit.

Build the node of a Dynamo-style key-value store (DeCandia et al., SOSP 2007): every node
is a replica of the keys the ring gives it and the coordinator of the requests clients
send it. The handout (README.md) walks through it step by step; the TODOs below are
numbered by its steps.

The grader builds each node with ``DynamoNode(n, r, w, sloppy=...)``, runs it beside
other nodes (its own, or probes it plays itself) and clients
(``dsys.replication.QuorumClient``), crashes and restarts it, and cuts the network. What
it relies on (keep these names):

* ``DynamoNode(n=3, r=2, w=2, *, sloppy=True)``: refuses bad settings with ``ConfigError``;
* ``homes(key)``: the key's preference list, from ``HashRing((*self.peers, self.id),
  VNODES)``;
* ``self.data``: key -> tuple of ``Version`` (the sibling versions this node holds);
* ``self.hints``: owner -> key -> tuple of ``Version`` (versions held for another node);
* the messages of ``dsys.replication.quorum`` (imported below), used as the handout says:
  they are the wire protocol, between your nodes, the clients and the grader's probes.

Everything else (helpers, the ``Request`` record, timer names) is yours to change. Use
``self.rng`` for random numbers and timers for time (never ``random`` or the wall clock):
the grader replays every failure from its seed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dsys import Node
from dsys.clocks import Order, VectorClock  # noqa: F401  (Order: step 2)
from dsys.errors import ConfigError  # noqa: F401  (step 1)
from dsys.replication.quorum import (
    Fetch,
    FetchReply,
    Get,
    GetReply,  # noqa: F401  (step 4)
    Handoff,
    HandoffAck,
    Put,
    PutReply,  # noqa: F401  (step 4)
    Store,
    StoreAck,
    Version,
)
from dsys.replication.ring import HashRing

#: Tokens per node on the ring (every node, the clients and the grader build the same ring).
VNODES = 64

#: Seconds a coordinator waits for its quorum before answering "not ok".
TIMEOUT = 0.5

#: Seconds a sloppy coordinator waits for a silent replica before asking a stand-in.
FALLBACK_AFTER = 0.1

#: Seconds between two offers of the hints a node holds to their owners.
HANDOFF_INTERVAL = 0.5

# ----- versions ------------------------------------------------------------------------------


def clock_of(version: Version) -> VectorClock:
    """The vector clock of ``version`` (``Version.clock`` is its ``(actor, count)`` pairs)."""
    return VectorClock(dict(version.clock))


def reconcile(versions: Iterable[Version]) -> tuple[Version, ...]:
    """The sibling set of ``versions``: those that no other version overwrites, without
    duplicates, sorted by (clock, value)."""
    # TODO(step 2): drop every version whose clock is BEFORE another's (clock_of(a).compare(
    # clock_of(b)) is Order.BEFORE); keep concurrent ones. For now: everything, once.
    return tuple(sorted(set(versions), key=lambda v: (v.clock, v.value)))


def context_of(versions: Iterable[Version]) -> VectorClock:
    """The merge of the clocks of ``versions``: the context a get hands its client."""
    merged = VectorClock()
    for version in versions:
        merged = merged.merge(clock_of(version))
    return merged


def valid(versions: Any) -> tuple[Version, ...] | None:
    """``versions`` if every clock is a valid vector clock, else None (check what a peer
    sends before storing it)."""
    try:
        for version in versions:
            VectorClock.from_json(dict(version.clock))
    except (TypeError, ValueError):
        return None
    return tuple(versions)


def encode(versions: Iterable[Version]) -> list[Any]:
    """Versions as JSON values, for ``self.storage``."""
    return [[v.value, [list(pair) for pair in v.clock]] for v in versions]


def decode(stored: Any) -> tuple[Version, ...]:
    """The versions :func:`encode` saved."""
    return tuple(Version(value, tuple((actor, count) for actor, count in clock))
                 for value, clock in stored)


# ----- a request in flight -------------------------------------------------------------------


class Request:
    """A get or put this node coordinates: where it went, and what came back."""

    def __init__(self, op: int, kind: str, client: str, request: str, key: str,
                 targets: dict[str, str | None], version: Version | None = None) -> None:
        self.op = op  # this node's number for it (Store.op, Fetch.op)
        self.kind = kind  # "get" or "put"
        self.client = client
        self.request = request  # the client's request id (GetReply.request...)
        self.key = key
        #: node -> the home it stands in for (None: it is a home itself)
        self.targets = targets
        self.version = version  # a put's version
        #: replica -> its versions (a get) or () (a put's acknowledgement)
        self.replies: dict[str, tuple[Version, ...]] = {}
        self.answered = False


# ----- the node ------------------------------------------------------------------------------


class DynamoNode(Node):
    """A replica of a Dynamo-style store, and the coordinator of the requests sent to it."""

    def __init__(self, n: int = 3, r: int = 2, w: int = 2, *, sloppy: bool = True) -> None:
        super().__init__()
        # TODO(step 1): refuse bad settings with ConfigError: n, r, w ints >= 1; r and w at
        # most n; and r + w > n (else a read quorum can miss a write quorum).
        self.n, self.r, self.w, self.sloppy = n, r, w, sloppy

    def on_start(self) -> None:
        """Start, or restart after a crash (a fresh object: only ``self.storage``
        survives)."""
        self.ring = HashRing((*self.peers, self.id), VNODES)
        #: key -> its sibling versions
        self.data: dict[str, tuple[Version, ...]] = {}
        #: owner -> key -> versions held for that owner
        self.hints: dict[str, dict[str, tuple[Version, ...]]] = {}
        # TODO(step 5): reload data and hints from self.storage.
        self.requests: dict[int, Request] = {}
        # TODO(step 5): numbers must not repeat after a restart.
        self.next_op = 0
        # TODO(step 7): arm the handoff timer.

    def homes(self, key: str) -> tuple[str, ...]:
        """The preference list of ``key``: its ``n`` homes."""
        return self.ring.preference_list(key, self.n)

    # ----- the replica: what it stores -----------------------------------------------------

    def store(self, key: str, versions: Iterable[Version], hint: str | None = None) -> None:
        """Merge ``versions`` into the data of ``key`` (or into the hints held for
        ``hint``), and save and sync them."""
        # TODO(step 2): reconcile with what is held; save to self.storage and sync.
        # TODO(step 7): with a hint (another node's id), into self.hints[hint][key] instead.

    # ----- messages --------------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Get():
                pass  # TODO(step 4): coordinate a get
            case Put():
                pass  # TODO(step 4): coordinate a put
            case Store():
                pass  # TODO(step 3): store; acknowledge with StoreAck(op) unless op is None
            case StoreAck():
                pass  # TODO(step 4): a replica stored a put's version
            case Fetch():
                pass  # TODO(step 3): answer FetchReply(op, key, versions held)
            case FetchReply():
                pass  # TODO(step 4): a replica's versions for a get
            case Handoff():
                pass  # TODO(step 7): store the versions, answer HandoffAck
            case HandoffAck():
                pass  # TODO(step 7): delete the acknowledged versions from the hints

    def deliver(self, dst: str, msg: Any) -> None:
        """Send ``msg`` to ``dst``, or handle it at once if ``dst`` is this node (a
        coordinator is often a home too)."""
        if dst == self.id:
            self.on_message(self.id, msg)
        else:
            self.send(dst, msg)

    def on_timer(self, name: str) -> None:
        pass  # TODO(steps 4 and 7): a request's timeout, its fallback, the handoff timer
