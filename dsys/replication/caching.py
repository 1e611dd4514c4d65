"""Client caches in front of a key-value server: a TTL cache, leases, and invalidations.

A :class:`CacheServer` holds a key-value store (``get``/``put`` of the ``kv`` model: a
missing key reads ``""``); each :class:`CacheClient` keeps a :class:`KeyCache` of values
it read, and answers a ``get`` from it while its copy is valid. What "valid" means is the
*policy*, and it decides which consistency the clients see:

``"ttl"`` (time to live)
    A copy is valid for ``ttl`` seconds of the client's clock after it arrived. The
    server keeps no track of copies, so a write elsewhere leaves them stale until they
    expire: *stale reads* (the history is not linearizable), each at most ``ttl``, plus
    one message delay, behind (:func:`stale_reads` measures it).
``"lease"`` (Gray and Cheriton, SOSP 1989)
    The server grants each copy a lease of ``lease`` seconds and promises not to change
    the key until every lease on it has been given back or has run out. Before applying a
    write it sends each holder a :class:`Revoke`; it applies the write when all have
    answered :class:`Revoked`, or their leases have expired, whichever comes first. A
    client that cannot be reached delays writes to a key by at most one lease. No stale
    reads: the history is linearizable.
``"invalidate"`` (callbacks, as in AFS)
    Copies never expire. The server remembers (durably) who holds a copy of each key,
    and before applying a write it sends each holder a :class:`Revoke` and waits for
    every :class:`Revoked`, resending until it gets them. Linearizable too; but **while a
    holder is unreachable, writes to that key wait**, for as long as it takes: the writer
    times out (its outcome is unknown, ``info``) and the write is applied once the holder
    answers. Reads of other keys, and misses on that key, are still served. This is the
    problem leases solve: a lease bounds the wait.

**The drift bound of leases.** The client counts its lease from the moment it *sent* its
read, on its own clock, and trusts its copy for ``lease`` seconds; the server, which
granted the lease later, keeps its promise for ``wait`` seconds of *its* clock, counted
from the grant. If every clock's rate is within ``max_drift`` (``rho``) of real time,
``lease`` client seconds last at most ``lease / (1 - rho)`` real seconds and ``wait``
server seconds at least ``wait / (1 + rho)``, so the promise outlasts the lease when::

    wait >= lease · (1 + rho) / (1 - rho)  =  lease + divergence(lease, rho)

which is the ``wait`` used (:func:`dsys.clocks.physical.divergence`, as in
:mod:`dsys.election.lease`). Clock *offsets* do not matter: each side measures an interval
on its own clock (the server with a timer, so even a jump of its clock does no harm; the
client by comparing two readings of its clock, so its clock must not jump). A client
clock that runs slower than the bound keeps trusting a copy the server has stopped
protecting: stale reads come back (``tests/replication/test_caching.py`` shows it).

The rules of this file:

1. Every reply carries the key's *version* (how many writes it has had). A :class:`Revoke`
   names the version it revokes up to; a client remembers it and never caches a reply of
   that version or older. (A revocation can overtake the grant it revokes, on a network
   that reorders: the grant then arrives after the client answered the revocation, and
   must not be trusted.)
2. While a write to a key waits, the server grants no new lease or copy of it: a read of
   that key is answered (the old value is still current) but not cached. Otherwise
   readers renewing their copies could hold a write off for ever.
3. The server applies a client's write once, whatever the retries (a per-client sequence
   number, stored with the data), and stores data, sequence numbers and, for
   ``"invalidate"``, the holders, durably before it answers. After a crash with the
   ``"lease"`` policy it has forgotten its leases, so it applies no write for ``wait``
   seconds (every lease granted before the crash has run out by then).
4. A client caches only replies to reads, and, with ``"ttl"``, its own writes (so it reads
   them back); with the other policies its own write revoked its copy.

Layout: messages, the client's cache component, the client, the server, and
:func:`stale_reads`, which measures how far behind a history's reads are.

Example:
    >>> from dsys import Simulation
    >>> from dsys.replication import CacheClient, CacheServer
    >>> sim = Simulation(seed=1)
    >>> sim.add_node("server", lambda: CacheServer(policy="lease"))
    >>> ops = iter([{"f": "put", "key": "x", "value": "1"},
    ...             {"f": "get", "key": "x", "value": None},
    ...             {"f": "get", "key": "x", "value": None}])
    >>> sim.add_client("c1", lambda: CacheClient(policy="lease"), workload=lambda rng: next(ops),
    ...                ops=3)
    >>> sim.run(until=1.0)
    >>> [(e["type"], e["f"], e["value"]) for e in sim.history if e["type"] != "invoke"]
    [('ok', 'put', '1'), ('ok', 'get', '1'), ('ok', 'get', '1')]
    >>> sim.node("c1").cache.hits     # the second get came from the cache
    1
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from dsys.check.history import History
from dsys.clocks.physical import divergence
from dsys.core.client import Client
from dsys.core.messages import message
from dsys.core.node import Component, Node
from dsys.errors import ConfigError

#: The cache policies.
POLICIES = ("ttl", "lease", "invalidate")
Policy = Literal["ttl", "lease", "invalidate"]

#: What a missing key reads (the ``kv`` model's empty value).
EMPTY = ""

# ----- messages ----------------------------------------------------------------------------


@message(name="cache:Read")
class Read:
    """Client -> server: operation ``seq`` reads ``key``."""

    seq: int
    key: str


@message(name="cache:Value")
class Value:
    """Server -> client: ``key`` holds ``value`` at ``version``. ``cacheable``: the client
    may keep a copy (with ``"lease"``: for ``lease`` seconds from sending its read)."""

    seq: int
    key: str
    value: str
    version: int
    cacheable: bool


@message(name="cache:Write")
class Write:
    """Client -> server: operation ``seq`` writes ``value`` to ``key``."""

    seq: int
    key: str
    value: str


@message(name="cache:Written")
class Written:
    """Server -> client: write ``seq`` is applied; ``key`` is now at ``version``."""

    seq: int
    key: str
    version: int


@message(name="cache:Revoke")
class Revoke:
    """Server -> holder: drop your copy of ``key`` (any version up to ``version``)."""

    key: str
    version: int


@message(name="cache:Revoked")
class Revoked:
    """Holder -> server: I hold no copy of ``key`` up to ``version`` any more."""

    key: str
    version: int


def _check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ConfigError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")


def _check_positive(name: str, value: float) -> None:
    if not value > 0 or math.isinf(value):
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")


# ----- the client's cache ------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A cached copy: ``value`` at ``version``, trusted until ``until`` (client clock)."""

    value: str
    version: int
    until: float


class KeyCache(Component):
    """The client's copies, and its side of revocation (a component named ``"cache"``).

    :meth:`lookup` answers from a valid copy (counting hits and misses), :meth:`keep`
    stores one unless a revocation already covers its version, and a :class:`Revoke`
    from the server drops the copy and is answered :class:`Revoked` at once.
    """

    messages: ClassVar[tuple[type, ...]] = (Revoke,)
    default_name = "cache"

    def on_start(self) -> None:
        """Start empty (a restarted client has lost its copies)."""
        self.entries: dict[str, Entry] = {}
        #: The highest version revoked so far, per key (rule 1).
        self.revoked: dict[str, int] = {}
        self.hits = 0
        self.misses = 0

    def lookup(self, key: str) -> Entry | None:
        """The valid copy of ``key``, or None (a miss)."""
        entry = self.entries.get(key)
        if entry is not None and self.now < entry.until:
            self.hits += 1
            return entry
        self.misses += 1
        return None

    def keep(self, key: str, value: str, version: int, until: float) -> None:
        """Store a copy, unless a revocation of that version has already arrived."""
        if version > self.revoked.get(key, -1):
            current = self.entries.get(key)
            if current is None or current.version <= version:
                self.entries[key] = Entry(value, version, until)

    def on_message(self, src: str, msg: Revoke) -> None:
        """Drop the copy of ``msg.key`` (up to its version) and say so."""
        self.revoked[msg.key] = max(self.revoked.get(msg.key, -1), msg.version)
        entry = self.entries.get(msg.key)
        if entry is not None and entry.version <= msg.version:
            del self.entries[msg.key]
        self.send(src, Revoked(msg.key, msg.version))


# ----- the client ---------------------------------------------------------------------------


class CacheClient(Client):
    """A client of a :class:`CacheServer` with a :class:`KeyCache` (``self.cache``).

    Operations: ``get`` and ``put`` (``key``, ``value``: strings), the ``kv`` model of
    :mod:`dsys.check`. A ``get`` is answered from a valid copy if there is one, otherwise
    from the server; a ``put`` always goes to the server. Requests are resent every
    ``retry`` seconds until answered, and given up after ``op_timeout`` (``info``).

    Args:
        policy: ``"ttl"``, ``"lease"`` or ``"invalidate"`` (the server's must match).
        ttl: with ``"ttl"``, how long a copy is trusted, in seconds of this client's clock.
        lease: with ``"lease"``, the lease length (the server's ``lease``).
        server: the server's id.
        retry: seconds before a request is sent again.
        op_timeout: seconds before an operation is given up (its outcome unknown).
    """

    def __init__(self, *, policy: Policy = "lease", ttl: float = 1.0, lease: float = 1.0,
                 server: str = "server", retry: float = 0.1, op_timeout: float = 1.0) -> None:
        super().__init__()
        _check_policy(policy)
        for name, value in (("ttl", ttl), ("lease", lease), ("retry", retry),
                            ("op_timeout", op_timeout)):
            _check_positive(name, value)
        self.policy = policy
        self.ttl = ttl
        self.lease = lease
        self.server = server
        self.retry = retry
        self.op_timeout = op_timeout
        self.cache = self.add_component(KeyCache())

    def on_start(self) -> None:
        """No request in flight."""
        self.seq = 0
        self.request: Read | Write | None = None
        self.first_sent = 0.0  # when the request in flight was first sent (our clock)

    def on_invoke(self, op: dict[str, Any]) -> None:
        """Answer a ``get`` from the cache if possible; otherwise ask the server."""
        key = str(op.get("key", ""))
        if op["f"] == "get":
            entry = self.cache.lookup(key)
            if entry is not None:
                self.ok(entry.value)
                return
            self.seq += 1
            self.send_request(Read(self.seq, key))
        elif op["f"] == "put":
            self.seq += 1
            self.send_request(Write(self.seq, key, str(op["value"])))
        else:
            self.fail()  # not an operation of this store
            return
        self.set_timer("give up", self.op_timeout)

    def send_request(self, request: Read | Write) -> None:
        """Send ``request`` and arm the retry timer."""
        self.request = request
        self.first_sent = self.now
        self.send(self.server, request)
        self.set_timer("retry", self.retry)

    def on_message(self, src: str, msg: Any) -> None:
        """A reply to the request in flight completes the operation."""
        request = self.request
        match msg:
            case Value(seq=seq, key=key, value=value, version=version, cacheable=cacheable) \
                    if isinstance(request, Read) and seq == request.seq:
                if cacheable:
                    self.cache.keep(key, value, version, self.valid_until())
                self.done()
                self.ok(value)
            case Written(seq=seq, key=key, version=version) \
                    if isinstance(request, Write) and seq == request.seq:
                if self.policy == "ttl":  # rule 4: read our own write back
                    self.cache.keep(key, request.value, version, self.now + self.ttl)
                self.done()
                self.ok()
            case _:
                pass  # a late reply to an operation already over

    def valid_until(self) -> float:
        """Until when (this client's clock) a copy that arrives now may be trusted."""
        if self.policy == "ttl":
            return self.now + self.ttl
        if self.policy == "lease":
            return self.first_sent + self.lease  # counted from the first send
        return math.inf

    def on_timer(self, name: str) -> None:
        """``retry``: resend; ``give up``: the outcome is unknown."""
        if name == "retry" and self.request is not None:
            self.send(self.server, self.request)
            self.set_timer("retry", self.retry)
        elif name == "give up" and self.request is not None:
            self.done()
            self.info()

    def done(self) -> None:
        """Stop waiting for the request in flight."""
        self.request = None
        self.cancel_timer("retry")
        self.cancel_timer("give up")


# ----- the server ---------------------------------------------------------------------------


class CacheServer(Node):
    """A key-value server that keeps its clients' caches consistent by ``policy``.

    Args:
        policy: ``"ttl"`` (tracks nothing), ``"lease"`` or ``"invalidate"``.
        lease: with ``"lease"``, the lease length clients use, in seconds.
        max_drift: ``rho``, the bound assumed on every clock's rate error; the server keeps
            its promise for ``wait = lease + divergence(lease, rho)`` of its own seconds.
        retry: seconds between resends of unanswered revocations.

    Durable state (``storage``): ``"data"`` (key -> [value, version]), ``"applied"``
    (client -> [last write seq, the version it made]) and, with ``"invalidate"``,
    ``"holders"`` (key -> clients holding a copy).
    """

    messages: ClassVar[tuple[type, ...]] = ()

    def __init__(self, *, policy: Policy = "lease", lease: float = 1.0,
                 max_drift: float = 1e-3, retry: float = 0.05) -> None:
        super().__init__()
        _check_policy(policy)
        _check_positive("lease", lease)
        _check_positive("retry", retry)
        if not 0 <= max_drift < 1:
            raise ConfigError(f"max_drift must be in [0, 1), got {max_drift!r}")
        self.policy = policy
        self.lease = lease
        self.max_drift = max_drift
        self.retry = retry
        #: How long this server keeps a lease's promise, on its own clock.
        self.wait = lease + divergence(lease, max_drift)

    # --- state -----------------------------------------------------------------------

    def on_start(self) -> None:
        """Load the durable state; nothing is waiting."""
        self.data: dict[str, list[Any]] = dict(self.storage.get("data", {}))
        self.applied: dict[str, list[int]] = dict(self.storage.get("applied", {}))
        # Who holds a copy of each key: for "lease" volatile (leases expire), for
        # "invalidate" durable (copies never expire).
        self.holders: dict[str, set[str]] = {
            key: set(clients) for key, clients in self.storage.get("holders", {}).items()}
        self.pending: dict[str, list[tuple[str, Write]]] = {}  # key -> writes waiting
        self.recovering = False

    def on_recover(self) -> None:
        """After a crash with leases: apply nothing until every old lease has run out."""
        self.on_start()
        if self.policy == "lease":
            self.recovering = True
            self.set_timer("recovered", self.wait)

    def version(self, key: str) -> int:
        """How many writes ``key`` has had."""
        return int(self.data[key][1]) if key in self.data else 0

    def value(self, key: str) -> str:
        """What ``key`` holds."""
        return str(self.data[key][0]) if key in self.data else EMPTY

    # --- reads: grant copies -----------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case Read(seq=seq, key=key):
                self.serve_read(src, seq, key)
            case Write():
                self.accept_write(src, msg)
            case Revoked(key=key, version=version):
                if version >= self.version(key):
                    self.release(key, src)
            case _:
                self.log(f"{src} sent {msg!r}: not a message of this server; ignored")

    def serve_read(self, client: str, seq: int, key: str) -> None:
        """Answer a read; grant a copy unless a write to the key is waiting (rule 2)."""
        cacheable = not self.pending.get(key)
        if cacheable and self.policy == "lease":
            self.holders.setdefault(key, set()).add(client)
            self.set_timer(f"lease {client} {key}", self.wait)  # re-arms a renewed lease
        elif cacheable and self.policy == "invalidate":
            holders = self.holders.setdefault(key, set())
            if client not in holders:
                holders.add(client)
                self.save()  # durable before the copy exists (rule 3)
        self.send(client, Value(seq, key, self.value(key), self.version(key), cacheable))

    # --- writes: revoke copies, then apply ------------------------------------------------

    def accept_write(self, client: str, write: Write) -> None:
        """Queue a write (once: rule 3), revoke the copies of its key, apply when free."""
        last = self.applied.get(client)
        if last is not None and write.seq <= last[0]:
            if write.seq == last[0]:  # a retry of the write we applied last: answer again
                self.send(client, Written(write.seq, write.key, last[1]))
            return
        queue = self.pending.setdefault(write.key, [])
        if any(c == client and w.seq == write.seq for c, w in queue):
            return  # a retry of a write already waiting
        queue.append((client, write))
        self.revoke(write.key)
        self.apply_ready(write.key)

    def revoke(self, key: str) -> None:
        """Ask every holder of a copy of ``key`` to drop it; resend until answered."""
        for holder in sorted(self.holders.get(key, ())):
            self.send(holder, Revoke(key, self.version(key)))
        if self.holders.get(key):
            self.set_timer("resend", self.retry)

    def release(self, key: str, client: str) -> None:
        """``client`` holds no copy of ``key`` any more: maybe a write can go."""
        holders = self.holders.get(key)
        if holders is None or client not in holders:
            return
        holders.discard(client)
        if not holders:
            del self.holders[key]
        if self.policy == "lease":
            self.cancel_timer(f"lease {client} {key}")
        elif self.policy == "invalidate":
            self.save()
        self.apply_ready(key)

    def apply_ready(self, key: str) -> None:
        """Apply the waiting writes to ``key`` once no copy of it is held."""
        if self.recovering or self.holders.get(key):
            return
        queue = self.pending.pop(key, [])
        for client, write in queue:
            self.data[key] = [write.value, self.version(key) + 1]
            self.applied[client] = [write.seq, self.version(key)]
        if queue:
            self.save()
            for client, write in queue:
                self.send(client, Written(write.seq, key, self.applied[client][1]))

    def save(self) -> None:
        """Write the durable state and sync it."""
        self.storage["data"] = self.data
        self.storage["applied"] = self.applied
        if self.policy == "invalidate":
            self.storage["holders"] = {key: sorted(clients)
                                       for key, clients in sorted(self.holders.items())}
        self.storage.sync()

    def on_timer(self, name: str) -> None:
        if name == "resend":
            for key in sorted(self.pending):
                if self.holders.get(key):
                    self.revoke(key)
        elif name == "recovered":
            self.recovering = False
            for key in sorted(self.pending):
                self.apply_ready(key)
        elif name.startswith("lease "):
            _, client, key = name.split(" ", 2)
            self.release(key, client)  # the lease ran out: the promise is kept


# ----- judging: how stale are the reads? ---------------------------------------------------


def stale_reads(history: History | Iterable[Mapping[str, Any]]) -> list[float]:
    """How far behind each stale read of a ``kv`` history (``get``/``put``) is, in seconds.

    A read is stale when it returned the value of a put ``w`` (or the empty value)
    although another put of its key had completed before the read began, and had begun
    after ``w`` completed: then every store orders it after ``w``, and a read that starts
    after it completed must see it (or something later). Its lag is the time from that
    put's completion to the read's invoke. Overlapping puts get the benefit of the doubt,
    so this counts a lower bound of the stale reads: none in a linearizable history, and,
    with a TTL cache, none further behind than the TTL plus one message delay (a copy was
    current when the server sent it, and is trusted for TTL seconds after it arrives).
    Every put must write a fresh value.

    >>> def op(p, f, value, start, end):
    ...     invoke = {"process": p, "type": "invoke", "f": f, "key": "x",
    ...               "value": None if f == "get" else value, "time": start}
    ...     return [invoke, dict(invoke, type="ok", value=value, time=end)]
    >>> events = sorted(op(0, "put", "a", 0, 1) + op(0, "put", "b", 2, 3)
    ...                 + op(1, "get", "a", 3.5, 4), key=lambda e: e["time"])
    >>> stale_reads(events)   # "b" had completed 0.5 s before the read of "a" began
    [0.5]
    """
    if not isinstance(history, History):
        history = History.from_events(history)
    puts = [op for op in history if op.f == "put" and op.status == "ok"]
    writer = {(op.key, op.value): op for op in puts}
    lags = []
    for get in history:
        if get.f != "get" or get.status != "ok":
            continue
        source = writer.get((get.key, get.output))
        if source is None and get.output != EMPTY:
            continue  # the value of a put whose outcome is unknown: no claim
        after = -math.inf if source is None else source.complete_time
        newer = [w.complete_time for w in puts
                 if w.key == get.key and w is not source and w.complete_time is not None
                 and after is not None and w.invoke_time > after
                 and w.complete_time < get.invoke_time]
        if newer:
            lags.append(get.invoke_time - min(newer))
    return lags
