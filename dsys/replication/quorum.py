"""Dynamo-style quorum replication: N/R/W, vector clocks and siblings, read repair,
sloppy quorums with hinted handoff, and anti-entropy with Merkle trees.

After DeCandia et al., *Dynamo: Amazon's highly available key-value store* (SOSP 2007):

* **Placement** (§4.2): a key is stored by the ``n`` nodes of its preference list on a
  consistent-hashing ring (:class:`~dsys.replication.ring.HashRing`).
* **Quorums** (§4.5): any node *coordinates* a client's request. A put goes to the ``n``
  replicas and is acknowledged after ``w`` of them stored it; a get asks the ``n``
  replicas and answers after ``r`` replied. With ``r + w > n`` every read quorum meets
  every write quorum, so a get sees every put acknowledged before it began.
* **Versions** (§4.4): a get returns every current version of the key with a
  *context*, the vector clock of what was read; the client's next put sends it back, and
  the new version's clock is that context with one more event of the *client session*
  that put it (its *actor*). A version whose clock is before another's was overwritten
  by it (that put's client had read it); versions with concurrent clocks did not see each
  other and are all kept, as *siblings*, until a put whose context covers them reconciles
  them. :func:`reconcile` is that rule. Dynamo counts events per *coordinator* instead
  (its ``(node, counter)`` pairs); that summarises too much: a coordinator's ``n1: 5``
  claims every earlier ``n1`` event was seen, including a concurrent put that went
  through ``n1`` and that the reader never saw, and the reader's next put then erases it
  silently (the tests show the checkers catching it). A session's puts happen one after
  another, each after the one before, so counting per session claims nothing unseen (as
  Voldemort does; Riak's dotted version vectors are another cure).
* **Read repair**: once every replica asked by a get has answered (or the request timed
  out), the coordinator writes the newest versions back to every replica that answered
  with less.
* **Sloppy quorum and hinted handoff** (§4.6): a replica that the failure detector
  suspects, or that stays silent for ``fallback_after`` seconds, is replaced by the next
  node on the ring, which stores the versions aside with a *hint* naming the intended
  owner; when the owner is trusted again, the hints are handed to it, then deleted.
* **Anti-entropy** (§4.7): every ``interval`` seconds a replica compares a Merkle tree
  (:mod:`dsys.replication.merkle`) of the keys it shares with one peer, descending only
  into differing subtrees, and the two exchange the differing keys only.

The rules of this file:

* a node is a :class:`QuorumNode`: a failure detector (``"detector"``), a
  :class:`Replica` (``"replica"``: the data, the coordinator, read repair, hints) and an
  :class:`AntiEntropy` (``"anti-entropy"``), components that run unchanged in the
  simulator and on the trio runtime;
* every stored version is written to ``storage`` and synced before it is acknowledged:
  a restarted node has lost nothing it promised;
* every version a coordinator makes is noted in the trace (``version``, with ``key``,
  ``value`` and ``clock``);
* iteration that reaches the network is in sorted order (keys, nodes), never in the
  order of a set of strings.

Clients (:class:`QuorumClient`) run ``get`` (completing with the sorted list of sibling
values, ``[]`` for a key never written) and ``put`` (``value`` a string, unique per put if
the history is to be judged). Dynamo is **not linearizable**, even with ``r + w > n``: a
get that overlaps a put may see it, and a later get may not (the put is not finished).
What ``r + w > n`` promises without failures is checked by :func:`check_fresh_reads`:
every get returns, for each put of its key acknowledged before the get *began*, that put
or a version whose client had seen it. :func:`check_no_lost_writes` checks that no
acknowledged put vanished (concurrent puts survive as siblings), and
:func:`check_replicas_agree` that the replicas converged. The first two judge causality
from the history alone (what each client had read and written before each put), not from
the clocks the system made, so a system that mislabels versions cannot fool them.

Example:
    >>> from dsys import Simulation
    >>> sim = Simulation(seed=1)
    >>> for name in ("n1", "n2", "n3", "n4", "n5"):
    ...     sim.add_node(name, QuorumNode)
    >>> ops = iter([{"f": "put", "key": "cart", "value": "milk"},
    ...             {"f": "get", "key": "cart", "value": None}])
    >>> sim.add_client("alice", QuorumClient, workload=lambda rng: next(ops), ops=2)
    >>> sim.run(until=2.0)
    >>> [(e["type"], e["f"], e["value"]) for e in sim.history if e["type"] != "invoke"]
    [('ok', 'put', 'milk'), ('ok', 'get', ['milk'])]
    >>> print(check_replicas_agree(sim.nodes).explain())
    replicas agree: ok (1 keys checked)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import attrs

from dsys.check.history import History
from dsys.check.report import Report, Violation
from dsys.clocks.vector import Order, VectorClock
from dsys.core import codec
from dsys.core.client import Client
from dsys.core.messages import message
from dsys.core.node import Component, Node
from dsys.errors import ConfigError, UsageError
from dsys.failure.base import FailureDetector
from dsys.failure.heartbeat import HeartbeatDetector
from dsys.replication.merkle import MerkleTree, digest
from dsys.replication.ring import HashRing

# ----- versions ----------------------------------------------------------------------------

#: A vector clock on the wire: ``(actor, count)`` pairs, sorted by actor.
Clock = tuple[tuple[str, int], ...]


@message(name="quorum:Version")
class Version:
    """One version of a key: a value and its vector clock (the puts it is causally after,
    and itself).

    Example:
        >>> v = Version.of("milk", VectorClock({"alice": 1}))
        >>> v, v.vector
        (Version(value='milk', clock=(('alice', 1),)), VC(alice=1))
    """

    value: str
    clock: Clock

    @classmethod
    def of(cls, value: str, clock: VectorClock) -> Version:
        """The version of ``value`` at ``clock``."""
        return cls(value, tuple(clock.items()))

    @property
    def vector(self) -> VectorClock:
        """The clock as a :class:`~dsys.clocks.VectorClock`."""
        return VectorClock(dict(self.clock))


def order(a: Version, b: Version) -> Order:
    """How version ``a`` relates to ``b``: BEFORE (``b``'s put had read ``a``, so ``b``
    overwrites it), AFTER, EQUAL or CONCURRENT (neither read the other): the order of
    their vector clocks.

    Example:
        >>> milk = Version.of("milk", VectorClock({"alice": 1}))
        >>> eggs = Version.of("milk,eggs", VectorClock({"alice": 2}))
        >>> bread = Version.of("milk,bread", VectorClock({"alice": 1, "bob": 1}))
        >>> order(milk, eggs), order(eggs, bread)
        (<Order.BEFORE: 'before'>, <Order.CONCURRENT: 'concurrent'>)
    """
    return a.vector.compare(b.vector)


def _canonical(version: Version) -> tuple[Clock, str]:
    return version.clock, version.value


def reconcile(versions: Iterable[Version],
              compare: Callable[[VectorClock, VectorClock], Order] = VectorClock.compare
              ) -> tuple[Version, ...]:
    """The *sibling set* of ``versions``: those no other version overwrites, without
    duplicates, in a canonical order (by clock, then value).

    A version whose clock is before another's was overwritten by it and goes; versions
    whose clocks are concurrent all stay: neither put saw the other, so dropping one
    would lose it silently. ``compare`` orders two clocks (the vector-clock order unless a
    test swaps in a broken one).

    Example:
        >>> milk = Version.of("milk", VectorClock({"alice": 1}))
        >>> eggs = Version.of("milk,eggs", VectorClock({"alice": 2}))
        >>> bread = Version.of("milk,bread", VectorClock({"alice": 1, "bob": 1}))
        >>> [v.value for v in reconcile([milk, eggs])]
        ['milk,eggs']
        >>> [v.value for v in reconcile([milk, eggs, bread, bread])]
        ['milk,bread', 'milk,eggs']
    """
    unique = sorted(set(versions), key=_canonical)
    if len(unique) < 2:
        return tuple(unique)
    clocks = [version.vector for version in unique]
    return tuple(version for i, version in enumerate(unique)
                 if not any(j != i and compare(clocks[i], clocks[j]) is Order.BEFORE
                            for j in range(len(unique))))


def context_of(versions: Iterable[Version]) -> VectorClock:
    """The context a get returns: the merge of its siblings' clocks, so a put made with
    it overwrites every one of them.

    >>> context_of([Version("a", (("alice", 2),)), Version("b", (("bob", 1),))])
    VC(alice=2, bob=1)
    """
    merged = VectorClock()
    for version in versions:
        merged = merged.merge(version.vector)
    return merged


def versions_digest(versions: Sequence[Version]) -> str:
    """A digest of a sibling set (in canonical order): what Merkle leaves cover.

    >>> versions_digest(()) == versions_digest([])
    True
    """
    return digest(json.dumps([[v.value, [list(pair) for pair in v.clock]]
                              for v in sorted(versions, key=_canonical)]))


def _valid(versions: Any) -> tuple[Version, ...] | None:
    """``versions`` if every clock is a valid vector clock (from a peer: check first)."""
    try:
        for version in versions:
            VectorClock.from_json(dict(version.clock))
    except (TypeError, ValueError):
        return None
    return tuple(versions)


# ----- messages ----------------------------------------------------------------------------


@message(name="quorum:Get")
class Get:
    """A client asks a node to coordinate a get of ``key``."""

    request: str
    key: str


@message(name="quorum:Put")
class Put:
    """A client asks a node to coordinate a put of ``value`` under ``key``; ``context``
    is the clock of what the client has read and written of the key (empty for a blind
    put); ``actor`` names the client session whose event the put is."""

    request: str
    key: str
    value: str
    actor: str
    context: Clock = ()


@message(name="quorum:GetReply")
class GetReply:
    """The answer to a get: ``ok`` (``r`` replicas answered) with the sibling
    ``versions`` and the ``context`` for the next put."""

    request: str
    key: str
    ok: bool
    versions: tuple[Version, ...] = ()
    context: Clock = ()


@message(name="quorum:PutReply")
class PutReply:
    """The answer to a put: ``ok`` (``w`` replicas stored it) and the ``version`` made."""

    request: str
    key: str
    ok: bool
    version: Version | None = None


@message(name="quorum:Store")
class Store:
    """Coordinator to replica: merge ``versions`` of ``key`` into your data, or set them
    aside for ``hint`` (the node they are meant for); acknowledge unless ``op`` is None
    (a read repair)."""

    op: int | None
    key: str
    versions: tuple[Version, ...]
    hint: str | None = None


@message(name="quorum:StoreAck")
class StoreAck:
    """Replica to coordinator: ``op``'s versions are stored (and synced)."""

    op: int


@message(name="quorum:Fetch")
class Fetch:
    """Coordinator to replica: send me your versions of ``key``."""

    op: int
    key: str


@message(name="quorum:FetchReply")
class FetchReply:
    """Replica to coordinator: my versions of ``key`` (hinted ones included)."""

    op: int
    key: str
    versions: tuple[Version, ...]


@message(name="quorum:Handoff")
class Handoff:
    """Hint holder to owner: versions of ``key`` that were meant for you."""

    key: str
    versions: tuple[Version, ...]


@message(name="quorum:HandoffAck")
class HandoffAck:
    """Owner to hint holder: stored; delete these ``versions`` of ``key``."""

    key: str
    versions: tuple[Version, ...]


@message(name="quorum:SyncHashes")
class SyncHashes:
    """Anti-entropy: the hashes of some tree nodes of ``level`` (``(index, hash)``), for
    session ``session`` that ``initiator`` started."""

    initiator: str
    session: int
    level: int
    hashes: tuple[tuple[int, str], ...]


@message(name="quorum:SyncEntries")
class SyncEntries:
    """Anti-entropy: my ``(key, digest)`` entries of the differing ``leaves`` (None: of
    every key, the full comparison)."""

    initiator: str
    session: int
    leaves: tuple[int, ...] | None
    entries: tuple[tuple[str, str], ...]


@message(name="quorum:SyncData")
class SyncData:
    """Anti-entropy: my versions of the keys that differ, and the keys I ``want``
    yours of."""

    initiator: str
    session: int
    data: tuple[tuple[str, tuple[Version, ...]], ...]
    want: tuple[str, ...] = ()


# ----- configuration -----------------------------------------------------------------------


def _positive_int(_: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"quorum {attribute.name} must be an int >= 1, got {value!r}")


def _positive(_: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"quorum {attribute.name} must be a number > 0, got {value!r}")


@attrs.frozen
class QuorumConfig:
    """The settings of a quorum-replicated store.

    ``n`` replicas per key, ``r`` replies per get, ``w`` acknowledgements per put;
    ``sloppy``: stand-ins with hints for unreachable replicas (else only the ``n`` home
    nodes are ever asked); ``read_repair`` and ``hinted_handoff`` switch those off (to
    watch what they do); ``timeout``: a coordinator's deadline; ``fallback_after``: how
    long a sloppy coordinator waits for a replica before asking the next node on the
    ring; ``handoff_interval``: how often hints are offered to their owners; ``vnodes``:
    tokens per node on the ring.

    Example:
        >>> QuorumConfig(n=3, r=2, w=2).strict
        True
        >>> QuorumConfig(n=3, r=1, w=1).strict
        False
        >>> QuorumConfig(n=3, r=4)
        Traceback (most recent call last):
          ...
        dsys.errors.ConfigError: quorum r=4 and w=2 must each be at most n=3 (a quorum is a
        subset of the n replicas)
    """

    n: int = attrs.field(default=3, validator=_positive_int)
    r: int = attrs.field(default=2, validator=_positive_int)
    w: int = attrs.field(default=2, validator=_positive_int)
    sloppy: bool = True
    read_repair: bool = True
    hinted_handoff: bool = True
    timeout: float = attrs.field(default=0.5, validator=_positive)
    fallback_after: float = attrs.field(default=0.1, validator=_positive)
    handoff_interval: float = attrs.field(default=0.5, validator=_positive)
    vnodes: int = attrs.field(default=64, validator=_positive_int)

    def __attrs_post_init__(self) -> None:
        if self.r > self.n or self.w > self.n:
            raise ConfigError(f"quorum r={self.r} and w={self.w} must each be at most "
                              f"n={self.n} (a quorum is a subset of the n replicas)")

    @property
    def strict(self) -> bool:
        """True when ``r + w > n``: read and write quorums always intersect."""
        return self.r + self.w > self.n


# ----- the replica: data, coordinator, read repair, hinted handoff -------------------------


class _Op:
    """A request this node coordinates: where it was sent, and what came back."""

    __slots__ = ("client", "done", "id", "key", "kind", "replaced", "replies", "request",
                 "targets", "version")

    def __init__(self, op_id: int, kind: str, client: str, request: str, key: str,
                 targets: dict[str, str | None], version: Version | None = None) -> None:
        self.id = op_id
        self.kind = kind  # "get" or "put"
        self.client = client
        self.request = request
        self.key = key
        self.targets = targets  # node -> the owner it stands in for (None: a home node)
        self.version = version
        self.replies: dict[str, tuple[Version, ...]] = {}
        self.replaced: set[str] = set()  # silent targets a stand-in was found for
        self.done = False  # the client has its answer


class Replica(Component):
    """A replica of a Dynamo-style store, and the coordinator of the requests sent to it.

    Args:
        config: the :class:`QuorumConfig` (or give its fields as keyword arguments).
        detector: the node's failure detector: a sloppy coordinator skips the nodes it
            suspects, and hints are offered to an owner it trusts (as soon as it trusts
            it again). None: timeouts only.

    State: ``data`` (key -> sibling versions), ``hints`` (owner -> key -> versions held
    for it), both in ``storage`` (as ``d/<key>`` and ``h/<owner>/<key>``). The methods a
    test may override to build a broken variant: :meth:`make_version`, :meth:`compare`,
    :meth:`repair_versions`, :meth:`hand_off`.

    Example:
        >>> Replica(n=3, r=1, w=1).config.strict
        False
    """

    messages: ClassVar[tuple[type, ...]] = (Get, Put)
    default_name = "replica"

    def __init__(self, config: QuorumConfig | None = None, *,
                 detector: FailureDetector | None = None, **options: Any) -> None:
        if config is not None and options:
            raise ConfigError("give Replica a QuorumConfig or its fields as keywords, not both")
        self.config = config if config is not None else QuorumConfig(**options)
        self.detector = detector
        if detector is not None:
            detector.observe(self._detector_changed)

    # ----- lifecycle ---------------------------------------------------------------------

    def on_start(self) -> None:
        """Build the ring, load what storage holds, and start offering hints."""
        self.ring = HashRing((*self.peers, self.id), self.config.vnodes)
        if self.config.n > len(self.ring.nodes):
            raise ConfigError(f"quorum n={self.config.n} needs at least {self.config.n} nodes; "
                              f"the cluster has {len(self.ring.nodes)}")
        self.data: dict[str, tuple[Version, ...]] = {}
        self.hints: dict[str, dict[str, tuple[Version, ...]]] = {}
        for name in self.storage:
            kind, _, rest = name.partition("/")
            if kind == "d":
                self.data[rest] = _loaded(self.storage[name])
            elif kind == "h":
                owner, _, key = rest.partition("/")
                self.hints.setdefault(owner, {})[key] = _loaded(self.storage[name])
        self.ops: dict[int, _Op] = {}
        # Request numbers of each start are new (the start count, kept in storage, in the
        # high bits): a late answer to a request from before a crash never counts for a
        # request of this start.
        starts = self.storage.get("starts", 0) + 1
        self.storage["starts"] = starts
        self.storage.sync()
        self.next_op = starts << 32
        self.recent: dict[str, int] = {}  # client request id -> op id (duplicates ignored)
        self._homes: dict[str, tuple[str, ...]] = {}
        self._digests: dict[str, str] = {}
        self.set_timer("handoff", self.config.handoff_interval)

    # ----- placement ---------------------------------------------------------------------

    def homes(self, key: str) -> tuple[str, ...]:
        """The preference list of ``key``: the ``n`` nodes meant to store it."""
        homes = self._homes.get(key)
        if homes is None:
            homes = self._homes[key] = self.ring.preference_list(key, self.config.n)
        return homes

    def trusted(self, node: str) -> bool:
        """True unless the failure detector suspects ``node``."""
        return node == self.id or self.detector is None or not self.detector.suspects(node)

    def targets(self, key: str) -> dict[str, str | None]:
        """Where a request for ``key`` goes: node -> the home node it stands in for.

        Strict quorum: the ``n`` home nodes. Sloppy: the first ``n`` trusted nodes met
        walking the ring from the key; each one beyond the home nodes stands in for a
        suspected home node (Dynamo §4.6).
        """
        homes = self.homes(key)
        if not self.config.sloppy:
            return {node: None for node in homes}
        chosen = [node for node in self.ring.walk(key) if self.trusted(node)][:self.config.n]
        skipped = [node for node in homes if node not in chosen]
        return {node: None if node in homes else skipped.pop(0) for node in chosen}

    # ----- versions ----------------------------------------------------------------------

    def make_version(self, value: str, context: VectorClock, actor: str) -> Version:
        """The version a put makes: the client's context and one more event of its
        session, ``actor`` (a broken variant overrides this)."""
        return Version.of(value, context.increment(actor))

    def compare(self, a: VectorClock, b: VectorClock) -> Order:
        """How a version with clock ``a`` relates to one with clock ``b`` (a broken
        variant overrides this)."""
        return a.compare(b)

    def merge(self, current: Iterable[Version], incoming: Iterable[Version]
              ) -> tuple[Version, ...]:
        """The sibling set after ``incoming`` versions arrive where ``current`` ones are."""
        return reconcile((*current, *incoming), self.compare)

    def versions(self, key: str) -> tuple[Version, ...]:
        """The versions of ``key`` in this replica's data."""
        return self.data.get(key, ())

    def local_versions(self, key: str) -> tuple[Version, ...]:
        """What this node can answer a get with: its data and any hinted versions."""
        held = [v for owner in sorted(self.hints) for v in self.hints[owner].get(key, ())]
        return self.merge(self.versions(key), held)

    def digest(self, key: str) -> str:
        """The digest of ``key``'s versions (cached until they change)."""
        found = self._digests.get(key)
        if found is None:
            found = self._digests[key] = versions_digest(self.versions(key))
        return found

    def store(self, key: str, versions: Iterable[Version], hint: str | None = None) -> bool:
        """Merge ``versions`` into the data of ``key`` (or the hints for ``hint``), save
        and sync; True if anything changed."""
        if hint is not None and hint != self.id and hint in self.ring.nodes:
            before = self.hints.get(hint, {}).get(key, ())
            merged = self.merge(before, versions)
            if merged == before:
                return False
            self.hints.setdefault(hint, {})[key] = merged
            self._save(f"h/{hint}/{key}", merged)
            self.note("hint", key=key, owner=hint)
            return True
        merged = self.merge(self.versions(key), versions)
        if merged == self.versions(key):
            return False
        self.data[key] = merged
        self._digests.pop(key, None)
        self._save(f"d/{key}", merged)
        return True

    def _save(self, name: str, versions: tuple[Version, ...]) -> None:
        if versions:
            self.storage[name] = [[v.value, [list(pair) for pair in v.clock]]
                                  for v in versions]
        elif name in self.storage:
            del self.storage[name]
        self.storage.sync()

    # ----- messages ----------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        """Client requests, replica requests and replies, hints."""
        match msg:
            case Get():
                self.coordinate_get(src, msg)
            case Put():
                self.coordinate_put(src, msg)
            case Store(op=op, key=key, versions=versions, hint=hint):
                checked = _valid(versions)
                if checked is None:
                    self.log(f"{src} sent versions with an invalid clock; ignored")
                    return
                self.store(key, checked, hint)
                if op is not None:
                    self.reply(src, StoreAck(op))
            case StoreAck(op=op):
                self.on_reply(src, op, ())
            case Fetch(op=op, key=key):
                self.reply(src, FetchReply(op, key, self.local_versions(key)))
            case FetchReply(op=op, versions=versions):
                checked = _valid(versions)
                if checked is not None:
                    self.on_reply(src, op, checked)
            case Handoff(key=key, versions=versions):
                checked = _valid(versions)
                if checked is not None:
                    self.store(key, checked)
                    self.send(src, HandoffAck(key, checked))
            case HandoffAck(key=key, versions=versions):
                self.handed_off(src, key, versions)

    def reply(self, dst: str, msg: object) -> None:
        """Send ``msg`` to ``dst``, or handle it here if ``dst`` is this node (the
        coordinator is often a replica too)."""
        if dst == self.id:
            self.on_message(self.id, msg)
        else:
            self.send(dst, msg)

    # ----- coordinating ------------------------------------------------------------------

    def coordinate_get(self, client: str, msg: Get) -> None:
        """Ask the replicas of ``msg.key``; answer after ``r`` replies."""
        if msg.request in self.recent:
            return  # a copy of a request we are working on (or have answered)
        op = self._open("get", client, msg.request, msg.key)
        for node in op.targets:
            self.reply(node, Fetch(op.id, op.key))

    def coordinate_put(self, client: str, msg: Put) -> None:
        """Make a version that descends from the client's context, send it to the
        replicas, answer after ``w`` acknowledgements."""
        if msg.request in self.recent:
            return
        try:
            context = VectorClock.from_json(dict(msg.context))
            if not isinstance(msg.actor, str) or not msg.actor:
                raise ValueError("a put needs an actor (the client session)")
        except (TypeError, ValueError) as exc:
            self.send(client, PutReply(msg.request, msg.key, False))
            self.log(f"{client} sent a bad put: {exc}")
            return
        version = self.make_version(msg.value, context, msg.actor)
        self.note("version", key=msg.key, value=msg.value, clock=version.vector.to_json())
        op = self._open("put", client, msg.request, msg.key, version)
        for node, hint in list(op.targets.items()):
            self.reply(node, Store(op.id, op.key, (version,), hint))

    def _open(self, kind: str, client: str, request: str, key: str,
              version: Version | None = None) -> _Op:
        self.next_op += 1
        op = _Op(self.next_op, kind, client, request, key, self.targets(key), version)
        self.ops[op.id] = op
        self.recent[request] = op.id
        if len(self.recent) > 4096:  # remember the newest requests only
            del self.recent[next(iter(self.recent))]
        self.set_timer(f"timeout:{op.id}", self.config.timeout)
        if self.config.sloppy:
            self.set_timer(f"fallback:{op.id}", self.config.fallback_after)
        return op

    def on_reply(self, src: str, op_id: int, versions: tuple[Version, ...]) -> None:
        """A replica answered (an ack or its versions)."""
        op = self.ops.get(op_id)
        if op is None or src not in op.targets or src in op.replies:
            return
        op.replies[src] = versions
        if not op.done:
            if op.kind == "put" and len(op.replies) >= self.config.w:
                op.done = True
                self.send(op.client, PutReply(op.request, op.key, True, op.version))
            elif op.kind == "get" and len(op.replies) >= self.config.r:
                op.done = True
                found = self.merge((), (v for vs in op.replies.values() for v in vs))
                self.send(op.client, GetReply(op.request, op.key, True, found,
                                              tuple(context_of(found).items())))
        if len(op.replies) == len(op.targets):
            self._close(op)

    def on_timer(self, name: str) -> None:
        """``timeout:<op>``, ``fallback:<op>`` and ``handoff``."""
        kind, _, number = name.partition(":")
        if kind == "handoff":
            self.hand_off()
            self.set_timer("handoff", self.config.handoff_interval)
            return
        op = self.ops.get(int(number))
        if op is None:
            return
        if kind == "fallback":
            self.fall_back(op)
        elif kind == "timeout":
            if not op.done:
                op.done = True
                self.send(op.client, PutReply(op.request, op.key, False) if op.kind == "put"
                          else GetReply(op.request, op.key, False))
            self._close(op)

    def fall_back(self, op: _Op) -> None:
        """Sloppy quorum: each target still silent is replaced by the next trusted node
        on the ring not asked yet, with a hint naming the owner it stands in for."""
        if op.done:
            return
        spare = [node for node in self.ring.walk(op.key)
                 if node not in op.targets and self.trusted(node)]
        homes = self.homes(op.key)
        for silent in [node for node in op.targets
                       if node not in op.replies and node not in op.replaced]:
            if not spare:
                break
            node = spare.pop(0)
            op.replaced.add(silent)
            owner = op.targets[silent] or silent
            hint = None if node in homes or owner == node else owner
            op.targets[node] = hint
            if op.kind == "put":
                assert op.version is not None
                self.reply(node, Store(op.id, op.key, (op.version,), hint))
            else:
                self.reply(node, Fetch(op.id, op.key))
        if op.id in self.ops and not op.done:
            self.set_timer(f"fallback:{op.id}", self.config.fallback_after)

    def _close(self, op: _Op) -> None:
        """Everyone answered, or time is up: repair what the get found stale, forget it."""
        self.ops.pop(op.id, None)
        self.cancel_timer(f"timeout:{op.id}")
        self.cancel_timer(f"fallback:{op.id}")
        if op.kind == "get" and self.config.read_repair and op.replies:
            self.read_repair(op)

    # ----- read repair -------------------------------------------------------------------

    def read_repair(self, op: _Op) -> None:
        """Write the newest versions back to every replica that answered with less."""
        newest = self.merge((), (v for vs in op.replies.values() for v in vs))
        for node in sorted(op.replies):
            held = op.replies[node]
            if set(held) != set(newest):
                self.note("read-repair", key=op.key, node=node)
                self.reply(node, Store(None, op.key, self.repair_versions(newest, held),
                                       op.targets.get(node)))

    def repair_versions(self, newest: tuple[Version, ...], held: tuple[Version, ...]
                        ) -> tuple[Version, ...]:
        """What read repair sends a replica that holds ``held``: the newest versions (a
        broken variant overrides this)."""
        return newest

    # ----- hinted handoff ----------------------------------------------------------------

    def hand_off(self, owner: str | None = None) -> None:
        """Offer the hints held for ``owner`` (default: every owner the detector trusts)
        to their owners (a broken variant overrides this)."""
        if not self.config.hinted_handoff:
            return
        for node in [owner] if owner is not None else sorted(self.hints):
            if not self.trusted(node):
                continue
            for key, versions in sorted(self.hints.get(node, {}).items()):
                self.send(node, Handoff(key, versions))

    def handed_off(self, owner: str, key: str, versions: Iterable[Version]) -> None:
        """``owner`` stored ``versions`` of ``key``: delete them from the hints (newer
        hints that arrived meanwhile stay)."""
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
        self._save(f"h/{owner}/{key}", left)
        self.note("handoff", key=key, owner=owner)

    def _detector_changed(self, event: str, peer: str) -> None:
        if event == "alive" and peer in self.hints:
            self.hand_off(peer)


def _loaded(stored: Any) -> tuple[Version, ...]:
    return tuple(Version(value, tuple((actor, count) for actor, count in clock))
                 for value, clock in stored)


# ----- anti-entropy ------------------------------------------------------------------------


class AntiEntropy(Component):
    """Anti-entropy with Merkle trees (Dynamo §4.7), beside a :class:`Replica`.

    Every ``interval`` seconds (the first after a random part of it), this node starts a
    *session* with the next peer in turn that the detector trusts: both build a Merkle tree
    (``depth``, ``fanout``) of the keys whose preference lists hold both nodes, compare
    hashes from the root down, only into differing subtrees, then exchange the entries of
    the differing leaves and the versions of the differing keys, which both merge.
    ``merkle=False`` is the full comparison: every ``(key, digest)`` entry is sent, every
    time. ``bytes_sent`` counts the encoded size of every message it sent,
    ``keys_repaired`` the keys it changed.

    Example:
        >>> AntiEntropy(Replica(), merkle=False).merkle
        False
    """

    messages: ClassVar[tuple[type, ...]] = (SyncHashes, SyncEntries, SyncData)
    default_name = "anti-entropy"

    def __init__(self, replica: Replica, *, interval: float = 1.0, merkle: bool = True,
                 depth: int = 4, fanout: int = 4) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int | float) \
                or not interval > 0:
            raise ConfigError(f"anti-entropy interval must be a number > 0, got {interval!r}")
        MerkleTree({}, depth=depth, fanout=fanout)  # checks the shape
        self.replica = replica
        self.interval = interval
        self.merkle = merkle
        self.depth = depth
        self.fanout = fanout

    def on_start(self) -> None:
        """Start the rounds, at a random offset so the nodes do not all sync at once."""
        self.bytes_sent = 0
        self.keys_repaired = 0
        self.sessions: dict[tuple[str, int], tuple[float, MerkleTree]] = {}
        self.next_session = 0
        self.turn = 0
        self.set_timer("round", self.interval * self.rng.uniform(0.5, 1.5))

    def on_timer(self, name: str) -> None:
        """``round``: start a session with the next trusted peer."""
        self.set_timer("round", self.interval)
        now = self.now
        for stale in [s for s, (started, _) in self.sessions.items()
                      if now - started > 5 * self.interval]:
            del self.sessions[stale]  # its messages were lost: forget it
        peers = [peer for peer in self.peers if self.replica.trusted(peer)]
        if not peers:
            return
        peer = peers[self.turn % len(peers)]
        self.turn += 1
        self.next_session += 1
        session = (self.id, self.next_session)
        tree = self._tree(peer)
        if self.merkle:
            self.sessions[session] = (now, tree)
            self._send(peer, SyncHashes(self.id, self.next_session, 0, ((0, tree.root),)))
        else:
            self._send(peer, SyncEntries(self.id, self.next_session, None, tree.entries()))

    def shared_keys(self, peer: str) -> dict[str, str]:
        """Key -> digest, for the keys of this replica whose preference list holds
        ``peer`` and this node."""
        replica = self.replica
        return {key: replica.digest(key) for key in sorted(replica.data)
                if peer in replica.homes(key) and self.id in replica.homes(key)}

    def _tree(self, peer: str) -> MerkleTree:
        depth = self.depth if self.merkle else 0
        return MerkleTree(self.shared_keys(peer), depth=depth, fanout=self.fanout)

    def _session_tree(self, src: str, session: tuple[str, int]) -> MerkleTree:
        found = self.sessions.get(session)
        if found is None:
            found = self.sessions[session] = (self.now, self._tree(src))
        return found[1]

    def on_message(self, src: str, msg: Any) -> None:
        """One step of a session: compare hashes, entries, or merge data."""
        match msg:
            case SyncHashes(initiator=initiator, session=number, level=level, hashes=hashes):
                session = (initiator, number)
                tree = self._session_tree(src, session)
                if not 0 <= level <= tree.depth or any(
                        not 0 <= index < tree.fanout ** level for index, _ in hashes):
                    self.log(f"{src} sent tree nodes that do not exist; session dropped")
                    self.sessions.pop(session, None)
                    return
                differing = [index for index, theirs in hashes
                             if tree.hash(level, index) != theirs]
                if not differing:
                    self.sessions.pop(session, None)
                elif level == tree.depth:
                    self.sessions.pop(session, None)
                    self._send(src, SyncEntries(initiator, number, tuple(differing),
                                                tree.entries(differing)))
                else:
                    below = tuple((child, tree.hash(level + 1, child))
                                  for index in differing for child in tree.children(index))
                    self._send(src, SyncHashes(initiator, number, level + 1, below))
            case SyncEntries(initiator=initiator, session=number, leaves=leaves,
                             entries=entries):
                session = (initiator, number)
                tree = self._session_tree(src, session)
                self.sessions.pop(session, None)
                if leaves is not None and any(not 0 <= i < tree.leaves for i in leaves):
                    self.log(f"{src} sent leaves that do not exist; session dropped")
                    return
                mine = dict(tree.entries(leaves))
                theirs = dict(entries)
                keys = sorted(k for k in mine.keys() | theirs.keys()
                              if mine.get(k) != theirs.get(k))
                if keys:
                    self._send(src, SyncData(initiator, number, self._data(
                        k for k in keys if k in mine), tuple(k for k in keys if k in theirs)))
            case SyncData(initiator=initiator, session=number, data=data, want=want):
                self.sessions.pop((initiator, number), None)
                changed = 0
                for key, versions in data:
                    checked = _valid(versions)
                    # (only keys this node is a home of: a peer cannot plant others)
                    if checked is not None and self.id in self.replica.homes(key) \
                            and self.replica.store(key, checked):
                        changed += 1
                if changed:
                    self.keys_repaired += changed
                    self.note("anti-entropy", peer=src, keys=changed)
                if want:
                    self._send(src, SyncData(initiator, number, self._data(
                        k for k in want if k in self.replica.data)))

    def _data(self, keys: Iterable[str]) -> tuple[tuple[str, tuple[Version, ...]], ...]:
        return tuple((key, self.replica.versions(key)) for key in keys)

    def _send(self, dst: str, msg: object) -> None:
        self.bytes_sent += len(codec.dumps(codec.encode(msg)))
        self.send(dst, msg)


# ----- the node and the client -------------------------------------------------------------


def default_detector() -> FailureDetector:
    """The detector a :class:`QuorumNode` gets by default: heartbeats every 100 ms, a
    400 ms timeout."""
    return HeartbeatDetector(interval=0.1, timeout=0.4)


class QuorumNode(Node):
    """A node of a Dynamo-style store: a failure detector, a :class:`Replica` and (unless
    ``anti_entropy`` is None) an :class:`AntiEntropy` running every ``anti_entropy``
    seconds.

    Args:
        config: the :class:`QuorumConfig` (or its fields as keyword ``options``).
        detector: builds the failure detector (None: none, timeouts only).
        anti_entropy: seconds between anti-entropy rounds, or None for none.
        merkle: Merkle trees (True) or the full comparison (False).
        depth: the Merkle trees' depth.
        fanout: the Merkle trees' fanout (children per inner node).
        replica: the :class:`Replica` class (a test's broken variant, say).

    Example:
        >>> node = QuorumNode  # add it with sim.add_node(name, QuorumNode)
        >>> from functools import partial
        >>> strict = partial(QuorumNode, n=3, r=2, w=2, sloppy=False)
    """

    def __init__(self, config: QuorumConfig | None = None, *,
                 detector: Callable[[], FailureDetector] | None = default_detector,
                 anti_entropy: float | None = 1.0, merkle: bool = True, depth: int = 4,
                 fanout: int = 4, replica: type[Replica] = Replica, **options: Any) -> None:
        super().__init__()
        self.detector = self.add_component(detector()) if detector is not None else None
        self.replica = self.add_component(replica(config, detector=self.detector, **options))
        self.anti_entropy = None if anti_entropy is None else self.add_component(AntiEntropy(
            self.replica, interval=anti_entropy, merkle=merkle, depth=depth, fanout=fanout))


class QuorumClient(Client):
    """A client of the store: ``get`` and ``put`` operations, Dynamo's get/put(context).

    For each operation it picks a coordinator at random among the key's preference list
    (a "partition-aware" client, Dynamo §4.5), or among ``coordinators`` if given. A put
    carries the context of everything this client has read and written of the key, so a
    put after a get that returned siblings reconciles them. A get completes ``ok`` with
    the sorted sibling values (``[]``: never written) or ``fail`` (fewer than ``r``
    replies, or no answer in ``timeout``: a get changes nothing); a put completes ``ok``
    or ``info`` (it may have been stored by some replicas). Its puts are the events of its
    *actor* in the vector clocks: one after another, each after the one before. After an
    ``info`` the client goes on as a new process (see :mod:`dsys.core.client`) with a new
    actor and no context: the old actor's last put may or may not exist, so nothing
    may count past it.

    Args:
        nodes: the store's nodes (default: every server of the cluster).
        n: as the servers' (to compute preference lists).
        vnodes: as the servers' (to compute preference lists).
        timeout: seconds before giving up on an operation.
        coordinators: send every request to one of these instead.

    Example:
        >>> QuorumClient(coordinators=("n1",)).coordinators
        ('n1',)
    """

    def __init__(self, *, nodes: Iterable[str] | None = None, n: int = 3, vnodes: int = 64,
                 timeout: float = 1.0, coordinators: Iterable[str] | None = None) -> None:
        super().__init__()
        self.nodes = None if nodes is None else tuple(sorted(nodes))
        self.n = n
        self.vnodes = vnodes
        self.timeout = timeout
        self.coordinators = None if coordinators is None else tuple(coordinators)

    def on_start(self) -> None:
        """Build the ring; a new session, no context yet."""
        self.ring = HashRing(self.nodes or self.peers, self.vnodes)
        self.session = f"{self.id}-{self.rng.getrandbits(48):012x}"
        self.seq = 0
        self.pending: str | None = None
        self.new_actor()

    def new_actor(self) -> None:
        """Start a new process: a new actor for the vector clocks, nothing read yet."""
        self.actor = f"{self.id}.{self.rng.getrandbits(20):05x}"
        self.contexts: dict[str, VectorClock] = {}

    def on_invoke(self, op: dict[str, Any]) -> None:
        """Send a get or put to a coordinator."""
        key = op.get("key")
        if op["f"] not in ("get", "put") or not isinstance(key, str):
            raise UsageError(f"{self.id}: a quorum client runs get and put operations on "
                             f"string keys, got {op!r}")
        if op["f"] == "put" and not isinstance(op["value"], str):
            raise UsageError(f"{self.id}: a put's value must be a string, got {op!r}")
        self.seq += 1
        self.pending = f"{self.session}-{self.seq}"
        pool = self.coordinators or self.ring.preference_list(key, self.n)
        target = pool[self.rng.randrange(len(pool))]
        if op["f"] == "get":
            self.send(target, Get(self.pending, key))
        else:
            context = self.contexts.get(key, VectorClock())
            self.send(target, Put(self.pending, key, op["value"], self.actor,
                                  tuple(context.items())))
        self.set_timer("timeout", self.timeout)

    def on_message(self, src: str, msg: Any) -> None:
        """The coordinator's answer: complete the operation, remember the context."""
        if not isinstance(msg, GetReply | PutReply) or msg.request != self.pending:
            return  # a late answer
        self.pending = None
        self.cancel_timer("timeout")
        if isinstance(msg, GetReply):
            if not msg.ok:
                self.fail()
                return
            try:
                context = VectorClock.from_json(dict(msg.context))
            except (TypeError, ValueError) as exc:
                self.log(f"{src} answered with a bad context ({exc}); the get failed")
                self.fail()
                return
            known = self.contexts.get(msg.key, VectorClock())
            self.contexts[msg.key] = known.merge(context)
            self.ok(sorted(version.value for version in msg.versions))
        elif msg.ok and msg.version is not None:
            known = self.contexts.get(msg.key, VectorClock())
            self.contexts[msg.key] = known.merge(msg.version.vector)
            self.ok()
        else:
            self.unknown()

    def on_timer(self, name: str) -> None:
        """No answer in time: a get failed (it changed nothing), a put's outcome is
        unknown."""
        op = self.current_op
        if name != "timeout" or op is None:
            return
        self.pending = None
        if op["f"] == "get":
            self.fail()
        else:
            self.unknown()

    def unknown(self) -> None:
        """Complete the put as ``info``; the next operations belong to a new process,
        a new actor that has read nothing yet (the old one's last event is unknown)."""
        self.new_actor()
        self.info()


# ----- checkers ----------------------------------------------------------------------------


def _history(history: History | Iterable[Mapping[str, Any]]) -> History:
    return history if isinstance(history, History) else History.from_events(history)


def causal_pasts(history: History | Iterable[Mapping[str, Any]]
                 ) -> dict[tuple[Any, Any], frozenset[Any]]:
    """``(key, value) -> past``: for each put, the values of its key its client had seen
    (read, or written and been acknowledged) before invoking it, and its own value.

    A put whose past holds an earlier put's value may overwrite it; a put that is in no
    later put's past must survive. This is judged from the history alone, in event order,
    per process (a process does one operation at a time, and a client that got ``info``
    goes on as a new process that has seen nothing). Values must be unique per key.

    Example:
        >>> pasts = causal_pasts([
        ...     {"process": 0, "type": "invoke", "f": "put", "key": "x", "value": "a"},
        ...     {"process": 0, "type": "ok", "f": "put", "key": "x", "value": "a"},
        ...     {"process": 0, "type": "invoke", "f": "put", "key": "x", "value": "b"},
        ...     {"process": 1, "type": "invoke", "f": "put", "key": "x", "value": "c"}])
        >>> sorted(pasts["x", "b"]), sorted(pasts["x", "c"])
        (['a', 'b'], ['c'])
    """
    ops = _history(history)
    steps = sorted([(op.invoke_at, op, False) for op in ops]
                   + [(op.complete_at, op, True) for op in ops if op.complete_at is not None],
                   key=lambda step: step[0])
    seen: dict[tuple[Any, Any], set[Any]] = {}
    pasts: dict[tuple[Any, Any], frozenset[Any]] = {}
    for _, op, completed in steps:
        mine = seen.setdefault((op.process, op.key), set())
        if op.f == "put" and not completed:
            if (op.key, op.value) in pasts:
                raise UsageError(f"{op.value!r} was written twice under key {op.key!r}; to "
                                 "judge a history, give every put a value of its own")
            pasts[op.key, op.value] = frozenset(mine | {op.value})
        elif completed and op.status == "ok" and op.f == "put":
            mine |= pasts[op.key, op.value]
        elif completed and op.status == "ok" and op.f == "get":
            for value in op.output or ():
                mine |= pasts.get((op.key, value), {value})
    return pasts


def check_fresh_reads(history: History | Iterable[Mapping[str, Any]]) -> Report:
    """Every get returns, for each put of its key acknowledged before the get began,
    that put's value or a value whose put had seen it (concurrent puts: as siblings).

    This is what ``r + w > n`` promises when no node fails (a strict quorum): a read
    quorum meets every write quorum. It is *not* linearizability: a get overlapping a
    put may see it or not, whatever earlier gets saw. A stale get is a violation; with
    ``r + w <= n`` they happen, and ``len(violations) / judged`` is the stale-read rate.
    A get that returns a value no put wrote is a violation too. Judged from the history
    alone (:func:`causal_pasts`).

    Example:
        >>> history = [
        ...     {"process": 0, "type": "invoke", "f": "put", "key": "x", "value": "1"},
        ...     {"process": 0, "type": "ok", "f": "put", "key": "x", "value": "1"},
        ...     {"process": 0, "type": "invoke", "f": "put", "key": "x", "value": "2"},
        ...     {"process": 0, "type": "ok", "f": "put", "key": "x", "value": "2"},
        ...     {"process": 1, "type": "invoke", "f": "get", "key": "x", "value": None},
        ...     {"process": 1, "type": "ok", "f": "get", "key": "x", "value": ["1"]}]
        >>> print(check_fresh_reads(history).explain())
        fresh reads: 1 violation(s) (1 reads checked)
          t=4.000000: get x by process 1 returned ['1'], missing put x='2' (acknowledged at
          t=3.000000, before the get began)
    """
    ops = _history(history)
    pasts = causal_pasts(ops)
    acknowledged: dict[Any, list[Any]] = {}
    for op in ops:
        if op.f == "put" and op.status == "ok":
            acknowledged.setdefault(op.key, []).append(op)
    violations = []
    reads = 0
    for op in ops:
        if op.f != "get" or op.status != "ok":
            continue
        reads += 1
        values = list(op.output or ())
        phantom = [value for value in values if (op.key, value) not in pasts]
        if phantom:
            violations.append(Violation(
                op.invoke_time, (str(op.process),),
                f"get {op.key} by process {op.process} returned {phantom}, which no put "
                "wrote"))
            continue
        covered = frozenset().union(*(pasts[op.key, value] for value in values))
        for put in acknowledged.get(op.key, ()):
            assert put.complete_at is not None
            if put.complete_at < op.invoke_at and put.value not in covered:
                violations.append(Violation(
                    op.invoke_time, (str(op.process),),
                    f"get {op.key} by process {op.process} returned {values}, missing put "
                    f"{op.key}={put.value!r} (acknowledged at t={put.complete_time:.6f}, "
                    "before the get began)"))
                break
    return Report("fresh reads", tuple(violations), reads, "reads")


def replicas_of(nodes: Mapping[str, Node]) -> dict[str, Replica]:
    """The :class:`Replica` component of each node that has one (live nodes only)."""
    found = {}
    for node_id in sorted(nodes):
        for component in nodes[node_id].components.values():
            if isinstance(component, Replica):
                found[node_id] = component
    return found


def check_no_lost_writes(history: History | Iterable[Mapping[str, Any]],
                         nodes: Mapping[str, Node]) -> Report:
    """No acknowledged put was lost: each is held by some live replica (in its data or
    its hints), or was overwritten by a put that had seen it (:func:`causal_pasts`).
    Concurrent puts must both survive, as siblings, until a put reconciles them. Judged
    on the live ``nodes`` (``sim.nodes``) once the run is over.
    """
    ops = _history(history)
    pasts = causal_pasts(ops)
    replicas = replicas_of(nodes)
    covered: dict[Any, set[Any]] = {}
    for replica in replicas.values():
        held = [replica.data.items(), *(by_key.items() for by_key in replica.hints.values())]
        for items in held:
            for key, versions in items:
                for version in versions:
                    covered.setdefault(key, set()).update(
                        pasts.get((key, version.value), {version.value}))
    violations = []
    puts = 0
    for op in ops:
        if op.f != "put" or op.status != "ok":
            continue
        puts += 1
        if op.value not in covered.get(op.key, ()):
            violations.append(Violation(
                op.complete_time or op.invoke_time, tuple(sorted(replicas)),
                f"put {op.key}={op.value!r} was acknowledged but no replica holds it or a "
                "put that had seen it: it was lost"))
    return Report("no lost writes", tuple(violations), puts, "acknowledged puts")


def check_replicas_agree(nodes: Mapping[str, Node]) -> Report:
    """Every key has the same versions on every live replica of its preference list
    (what anti-entropy, read repair and hinted handoff converge to once faults stop).

    Example: see the module docstring.
    """
    replicas = replicas_of(nodes)
    if not replicas:
        return Report("replicas agree", (), 0, "keys")
    any_replica = next(iter(replicas.values()))
    keys = sorted({key for replica in replicas.values() for key in replica.data})
    violations = []
    for key in keys:
        holding = {node: replicas[node].versions(key) for node in any_replica.homes(key)
                   if node in replicas}
        first, *others = holding.values()
        # (versions are kept in one canonical order, so equal sets are equal tuples)
        if any(versions != first for versions in others):
            shown = "; ".join(f"{node}: {sorted(v.value for v in versions)}"
                              for node, versions in holding.items())
            violations.append(Violation(any_replica.now, tuple(holding),
                                        f"key {key} differs between its replicas ({shown})"))
    return Report("replicas agree", tuple(violations), len(keys), "keys")


def pending_hints(nodes: Mapping[str, Node]) -> dict[str, dict[str, int]]:
    """Holder -> owner -> number of keys it still holds hints for (empty once handed
    off)."""
    return {node: {owner: len(keys) for owner, keys in sorted(replica.hints.items())}
            for node, replica in replicas_of(nodes).items() if replica.hints}


def sibling_reads(history: History | Iterable[Mapping[str, Any]]) -> int:
    """How many gets returned more than one sibling."""
    return sum(1 for op in _history(history)
               if op.f == "get" and op.status == "ok" and len(op.output or ()) > 1)
