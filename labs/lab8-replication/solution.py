"""Reference solution of lab 8: Dynamo-style quorum replication.

After DeCandia et al., *Dynamo: Amazon's highly available key-value store* (SOSP 2007).
Every node is a replica of the keys its place on the ring gives it, and the coordinator of
the requests clients send it:

* **Placement** (§4.2). A key is stored by its *homes*: the first ``n`` nodes of
  :meth:`~dsys.replication.HashRing.walk` from the key (its preference list).
* **Quorums** (§4.5). A put is stored by the homes and acknowledged to the client once
  ``w`` distinct replicas have stored it *and synced it*; a get asks the homes and
  answers once ``r`` distinct replicas replied, with the merge of their versions. The
  constructor refuses ``r + w <= n``: only then does every read quorum meet every write
  quorum.
* **Versions** (§4.4). A put's version has the vector clock of the client's *context*
  (what it had read) plus one event of the client session that put it (its *actor*).
  :func:`reconcile` keeps the versions no other version overwrites: concurrent versions
  stay, as siblings, until a put whose context covers them replaces them all.
* **Read repair.** Once every replica asked by a get has answered (or time is up), the
  coordinator writes the newest versions to each replica that answered with less.
* **Sloppy quorum and hinted handoff** (§4.6). A target silent for ``FALLBACK_AFTER``
  seconds is replaced by the next node of the walk not asked yet, which keeps the version
  aside with a *hint* naming the home it stands in for; every ``HANDOFF_INTERVAL`` it
  offers its hints to their owners, and deletes a version only once the owner
  acknowledged it.

The methods are small on purpose: each mutant in ``labs/lab8-replication/mutants``
overrides one of them with a plausible bug.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dsys import Node
from dsys.clocks import Order, VectorClock
from dsys.errors import ConfigError
from dsys.replication.quorum import (
    Fetch,
    FetchReply,
    Get,
    GetReply,
    Handoff,
    HandoffAck,
    Put,
    PutReply,
    Store,
    StoreAck,
    Version,
)
from dsys.replication.ring import HashRing

#: Tokens per node on the ring (every node, and the grader, build the same ring).
VNODES = 64

#: Seconds a coordinator waits for its quorum before answering "not ok".
TIMEOUT = 0.5

#: Seconds a sloppy coordinator waits for a silent replica before asking a stand-in.
FALLBACK_AFTER = 0.1

#: Seconds between two offers of the hints a node holds to their owners.
HANDOFF_INTERVAL = 0.5

#: How many client request ids a coordinator remembers (to ignore copies of requests).
RECENT = 4096


# ----- versions ------------------------------------------------------------------------------


def clock_of(version: Version) -> VectorClock:
    """The vector clock of ``version``."""
    return VectorClock(dict(version.clock))


def reconcile(versions: Iterable[Version]) -> tuple[Version, ...]:
    """The sibling set of ``versions``: those that no other version overwrites (whose
    clock is not before another's), without duplicates, sorted by (clock, value)."""
    unique = sorted(set(versions), key=lambda v: (v.clock, v.value))
    clocks = [clock_of(v) for v in unique]
    return tuple(v for v, mine in zip(unique, clocks, strict=True)
                 if not any(mine.compare(other) is Order.BEFORE for other in clocks))


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
        self.op = op
        self.kind = kind  # "get" or "put"
        self.client = client
        self.request = request
        self.key = key
        #: node -> the home it stands in for (None: it is a home itself)
        self.targets = targets
        self.version = version  # a put's version
        #: replica -> its versions (a get) or () (a put's acknowledgement)
        self.replies: dict[str, tuple[Version, ...]] = {}
        self.replaced: set[str] = set()  # silent targets a stand-in was asked for
        self.answered = False


# ----- the node ------------------------------------------------------------------------------


class DynamoNode(Node):
    """A replica of a Dynamo-style store, and the coordinator of the requests sent to it.

    ``n`` homes per key, ``r`` replies per get, ``w`` acknowledgements per put;
    ``sloppy``: ask stand-ins (with hints) for silent homes.
    """

    def __init__(self, n: int = 3, r: int = 2, w: int = 2, *, sloppy: bool = True) -> None:
        super().__init__()
        self.check_settings(n, r, w)
        self.n, self.r, self.w, self.sloppy = n, r, w, sloppy

    @staticmethod
    def check_settings(n: int, r: int, w: int) -> None:
        """Refuse settings whose read and write quorums may miss each other."""
        for name, value in (("n", n), ("r", r), ("w", w)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an int >= 1, got {value!r}")
        if r > n or w > n:
            raise ConfigError(f"r={r} and w={w} must each be at most n={n}: a quorum is a "
                              "subset of the n homes")
        if r + w <= n:
            raise ConfigError(f"r + w must be more than n (r={r}, w={w}, n={n}): otherwise a "
                              "get's r replicas can miss every one of a put's w replicas, "
                              "and reads are stale")

    def on_start(self) -> None:
        """Start, or restart after a crash: build the ring, reload data and hints."""
        self.ring = HashRing((*self.peers, self.id), VNODES)
        if self.n > len(self.ring.nodes):
            raise ConfigError(f"n={self.n} needs at least {self.n} nodes; there are "
                              f"{len(self.ring.nodes)}")
        #: key -> its sibling versions (keys this node is a home of, or was repaired on)
        self.data: dict[str, tuple[Version, ...]] = {}
        #: owner -> key -> versions held for that owner
        self.hints: dict[str, dict[str, tuple[Version, ...]]] = {}
        for name in sorted(self.storage):
            kind, _, rest = name.partition("/")
            if kind == "data":
                self.data[rest] = decode(self.storage[name])
            elif kind == "hint":
                owner, _, key = rest.partition("/")
                self.hints.setdefault(owner, {})[key] = decode(self.storage[name])
        self.requests: dict[int, Request] = {}
        # Request numbers start anywhere: a late acknowledgement of a request made before
        # a crash must not count for a request made after the restart.
        self.next_op = self.rng.getrandbits(40)
        self.recent: dict[str, int] = {}  # client request id -> op (copies are ignored)
        self.set_timer("handoff", HANDOFF_INTERVAL)

    # ----- placement -----------------------------------------------------------------------

    def homes(self, key: str) -> tuple[str, ...]:
        """The preference list of ``key``: its ``n`` homes."""
        return self.ring.preference_list(key, self.n)

    # ----- the replica: what it stores -----------------------------------------------------

    def make_version(self, value: str, context: VectorClock, actor: str) -> Version:
        """A put's version: the client's context, and one more event of its session."""
        return Version.of(value, context.increment(actor))

    def merge(self, current: Iterable[Version], incoming: Iterable[Version]
              ) -> tuple[Version, ...]:
        """The sibling set once ``incoming`` versions join ``current`` ones."""
        return reconcile([*current, *incoming])

    def local(self, key: str) -> tuple[Version, ...]:
        """What this node answers a Fetch with: its data, and hinted versions of ``key``."""
        held = [v for owner in sorted(self.hints) for v in self.hints[owner].get(key, ())]
        return self.merge(self.data.get(key, ()), held)

    def store(self, key: str, versions: Iterable[Version], hint: str | None = None) -> None:
        """Merge ``versions`` into the data of ``key`` (or into the hints held for
        ``hint``), and save and sync them."""
        if hint is not None and hint != self.id and hint in self.ring.nodes:
            held = self.hints.setdefault(hint, {})
            merged = self.merge(held.get(key, ()), versions)
            if merged != held.get(key, ()):
                held[key] = merged
                self.save(f"hint/{hint}/{key}", merged)
            return
        merged = self.merge(self.data.get(key, ()), versions)
        if merged != self.data.get(key, ()):
            self.data[key] = merged
            self.save(f"data/{key}", merged)

    def save(self, name: str, versions: tuple[Version, ...]) -> None:
        """Write ``versions`` under ``name`` in storage (delete it if there are none), and
        sync: an acknowledgement promises that a crash loses nothing."""
        if versions:
            self.storage[name] = encode(versions)
        elif name in self.storage:
            del self.storage[name]
        self.storage.sync()

    # ----- messages --------------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Get():
                self.coordinate_get(src, msg)
            case Put():
                self.coordinate_put(src, msg)
            case Store(op=op, key=key, versions=versions, hint=hint):
                checked = valid(versions)
                if checked is None:
                    self.log(f"{src} sent versions of {key} with a bad clock; ignored")
                    return
                self.store(key, checked, hint)
                if op is not None:  # (read repair asks for no acknowledgement)
                    self.deliver(src, StoreAck(op))
            case StoreAck(op=op):
                self.on_reply(src, op, ())
            case Fetch(op=op, key=key):
                self.deliver(src, FetchReply(op, key, self.local(key)))
            case FetchReply(op=op, versions=versions):
                checked = valid(versions)
                if checked is not None:
                    self.on_reply(src, op, checked)
            case Handoff(key=key, versions=versions):
                checked = valid(versions)
                if checked is not None:
                    self.store(key, checked)
                    self.send(src, HandoffAck(key, checked))
            case HandoffAck(key=key, versions=versions):
                self.handed_off(src, key, versions)

    def deliver(self, dst: str, msg: Any) -> None:
        """Send ``msg`` to ``dst``, or handle it at once if ``dst`` is this node (a
        coordinator is often a home too)."""
        if dst == self.id:
            self.on_message(self.id, msg)
        else:
            self.send(dst, msg)

    # ----- the coordinator -------------------------------------------------------------------

    def coordinate_put(self, client: str, msg: Put) -> None:
        """Make the version, send it to the homes, answer after ``w`` acknowledgements."""
        if msg.request in self.recent:
            return  # a copy of a request already under way (or answered)
        try:
            context = VectorClock.from_json(dict(msg.context))
            if not isinstance(msg.actor, str) or not msg.actor:
                raise ValueError("a put needs an actor")
        except (TypeError, ValueError) as exc:
            self.log(f"{client} sent a bad put: {exc}")
            self.send(client, PutReply(msg.request, msg.key, False))
            return
        version = self.make_version(msg.value, context, msg.actor)
        request = self.open("put", client, msg.request, msg.key, version)
        for node, hint in list(request.targets.items()):
            self.deliver(node, Store(request.op, request.key, (version,), hint))

    def coordinate_get(self, client: str, msg: Get) -> None:
        """Ask the homes; answer after ``r`` replies."""
        if msg.request in self.recent:
            return
        request = self.open("get", client, msg.request, msg.key)
        for node in list(request.targets):
            self.deliver(node, Fetch(request.op, request.key))

    def open(self, kind: str, client: str, request_id: str, key: str,
             version: Version | None = None) -> Request:
        """Remember a new request, and arm its timers."""
        self.next_op += 1
        request = Request(self.next_op, kind, client, request_id, key,
                          dict.fromkeys(self.homes(key)), version)
        self.requests[request.op] = request
        self.recent[request_id] = request.op
        if len(self.recent) > RECENT:
            del self.recent[next(iter(self.recent))]
        self.set_timer(f"timeout:{request.op}", TIMEOUT)
        if self.sloppy:
            self.set_timer(f"fallback:{request.op}", FALLBACK_AFTER)
        return request

    def on_reply(self, src: str, op: int, versions: tuple[Version, ...]) -> None:
        """A replica acknowledged a Store, or answered a Fetch: once per replica."""
        request = self.requests.get(op)
        if request is None or src not in request.targets or src in request.replies:
            return  # late, a copy, or not from a replica this request asked
        request.replies[src] = versions
        if not request.answered:
            if request.kind == "put" and len(request.replies) >= self.w:
                self.answer_put(request)
            elif request.kind == "get" and len(request.replies) >= self.r:
                self.answer_get(request)
        if len(request.replies) == len(request.targets):
            self.close(request)

    def answer_put(self, request: Request) -> None:
        """``w`` replicas stored the version: the put is done."""
        request.answered = True
        self.send(request.client, PutReply(request.request, request.key, True,
                                           request.version))

    def answer_get(self, request: Request) -> None:
        """``r`` replicas replied: answer with the merge of their versions, and its
        context."""
        request.answered = True
        found = self.merge((), (v for vs in request.replies.values() for v in vs))
        self.send(request.client, GetReply(request.request, request.key, True, found,
                                           tuple(context_of(found).items())))

    def on_timer(self, name: str) -> None:
        if name == "handoff":
            self.hand_off()
            self.set_timer("handoff", HANDOFF_INTERVAL)
            return
        kind, _, number = name.partition(":")
        request = self.requests.get(int(number))
        if request is None:
            return
        if kind == "fallback":
            self.fall_back(request)
        elif kind == "timeout":
            if not request.answered:
                request.answered = True
                self.send(request.client, PutReply(request.request, request.key, False)
                          if request.kind == "put"
                          else GetReply(request.request, request.key, False))
            self.close(request)

    def fall_back(self, request: Request) -> None:
        """Sloppy quorum: replace each silent target by the next node of the walk not
        asked yet; the stand-in keeps a put's version aside for the home it replaces."""
        if request.answered:
            return
        spare = [node for node in self.ring.walk(request.key) if node not in request.targets]
        for silent in [node for node in request.targets
                       if node not in request.replies and node not in request.replaced]:
            if not spare:
                break
            stand_in = spare.pop(0)
            request.replaced.add(silent)
            owner = request.targets[silent] or silent
            request.targets[stand_in] = owner
            if request.kind == "put":
                assert request.version is not None
                self.deliver(stand_in, Store(request.op, request.key, (request.version,),
                                             owner))
            else:
                self.deliver(stand_in, Fetch(request.op, request.key))
        if request.op in self.requests:
            self.set_timer(f"fallback:{request.op}", FALLBACK_AFTER)

    def close(self, request: Request) -> None:
        """Every target answered, or time is up: repair what a get found stale, forget."""
        self.requests.pop(request.op, None)
        self.cancel_timer(f"timeout:{request.op}")
        self.cancel_timer(f"fallback:{request.op}")
        if request.kind == "get" and request.replies:
            self.read_repair(request)

    # ----- read repair -----------------------------------------------------------------------

    def read_repair(self, request: Request) -> None:
        """Write the newest versions to every replica that answered with less."""
        newest = self.merge((), (v for vs in request.replies.values() for v in vs))
        for node in sorted(request.replies):
            held = request.replies[node]
            if set(held) != set(newest):
                self.deliver(node, Store(None, request.key, newest, request.targets[node]))

    # ----- hinted handoff --------------------------------------------------------------------

    def hand_off(self) -> None:
        """Offer every hint to its owner (again, until the owner acknowledges it)."""
        for owner in sorted(self.hints):
            for key, versions in sorted(self.hints[owner].items()):
                self.send(owner, Handoff(key, versions))

    def handed_off(self, owner: str, key: str, versions: Iterable[Version]) -> None:
        """``owner`` stored ``versions`` of ``key``: delete them from its hints (a newer
        version that arrived since the offer stays)."""
        held = self.hints.get(owner, {})
        if key not in held:
            return
        delivered = set(versions)
        left = tuple(v for v in held[key] if v not in delivered)
        if left == held[key]:
            return
        if left:
            held[key] = left
        else:
            del held[key]
            if not held:
                del self.hints[owner]
        self.save(f"hint/{owner}/{key}", left)
