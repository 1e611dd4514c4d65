"""Grader of lab 8: Dynamo-style quorum replication.

The student's ``DynamoNode`` speaks the wire protocol of :mod:`dsys.replication.quorum`
(``Get``/``Put`` from clients, ``Store``/``Fetch`` between replicas, ``Handoff`` of
hints) and keeps ``data`` (key -> sibling versions) and ``hints`` (owner -> key ->
versions). Two kinds of tests:

* **Probe tests** (cheap, first): the node under test, ``n1``, runs beside probes
  ``p1``... ``p4`` that the grader plays itself. A probe is a replica of the ring that
  does what the test says (stores and acknowledges, answers fetches, stays silent, sends a
  copy), and acts as a client too, so that one behaviour (a version's clock, siblings,
  the count of a quorum, read repair, a hint's way home, durability) happens exactly, on
  every seed.
* **Run tests**: five nodes ``n1``... ``n5`` (N=3, R=2, W=2) and clients
  (:class:`~dsys.replication.QuorumClient`) of gets and puts on a few hot keys, under
  message loss, copies and reordering, crashes that lose unsynced writes, partitions and
  the seeded :class:`~dsys.Nemesis`, judged by the library's checkers:
  :func:`~dsys.replication.check_fresh_reads` (strict quorums: every get sees every put
  acknowledged before it began), :func:`~dsys.replication.check_no_lost_writes` (no
  acknowledged put vanished; concurrent ones survive as siblings), no get returning a
  value with one its put had overwritten (from :func:`~dsys.replication.causal_pasts`),
  and, once the faults stop, every hint handed off and, after the grader reads every key
  once (read repair), :func:`~dsys.replication.check_replicas_agree`.

Each test runs over many seeds; a seed fixes every choice of the network, the faults and
the workloads, so a failing seed replays exactly.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from dsys import Nemesis, Network, Node, Simulation
from dsys.check.history import History
from dsys.check.report import Report
from dsys.clocks import VectorClock
from dsys.demos.quorum import workload
from dsys.errors import ConfigError
from dsys.labs import Trial, graded
from dsys.replication import (
    QuorumClient,
    Replica,
    Version,
    causal_pasts,
    check_fresh_reads,
    check_no_lost_writes,
    check_replicas_agree,
    reconcile,
)
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
)
from dsys.replication.ring import HashRing

#: The handout's ring: every node, the clients and the grader build the same one.
VNODES = 64
N = 3

#: The handout's timing (the starter's constants).
TIMEOUT = 0.5
FALLBACK_AFTER = 0.1
HANDOFF_INTERVAL = 0.5

#: The node under test in the probe tests, and the probes.
NODE = "n1"
PROBES = ("p1", "p2", "p3", "p4")

#: The servers of the run tests.
SERVERS = ("n1", "n2", "n3", "n4", "n5")

#: A round trip and then some, on the default network (latency 1 to 10 ms).
SETTLE = 0.05

#: Seconds a client waits for an answer (QuorumClient's default timeout).
CLIENT_TIMEOUT = 1.0

#: Seconds the clients get, after the faults stop, to finish their workloads.
LIVENESS_TIMEOUT = 20.0

#: Seconds every hint gets to reach its owner once the faults stop (a few offers).
HANDOFF_WAIT = 4 * HANDOFF_INTERVAL


# ----- the node under test ------------------------------------------------------------------


def node_factory(trial: Trial, **options: Any) -> Callable[[], Node]:
    """What builds the student's node: ``DynamoNode(**options)``."""
    return functools.partial(trial.impl.DynamoNode, **options)


def _versions(where: str, value: Any) -> tuple[Version, ...]:
    if not isinstance(value, tuple | list) or not all(isinstance(v, Version) for v in value):
        raise AssertionError(f"{where} is {value!r}: keep a tuple of Version (the sibling "
                             "versions of the key)")
    return tuple(sorted(value, key=lambda v: (v.clock, v.value)))


def data_of(name: str, node: Any) -> dict[str, tuple[Version, ...]]:
    """``node.data``, checked: key -> its versions, in one canonical order."""
    data = getattr(node, "data", None)
    if not isinstance(data, dict):
        raise AssertionError(f"{name} has no data dict (self.data: key -> tuple of Version): "
                             "keep the data there, the grader reads it")
    return {key: _versions(f"{name}.data[{key!r}]", value)
            for key, value in sorted(data.items()) if value}


def hints_of(name: str, node: Any) -> dict[str, dict[str, tuple[Version, ...]]]:
    """``node.hints``, checked: owner -> key -> versions, without empty entries."""
    hints = getattr(node, "hints", None)
    if not isinstance(hints, dict) or not all(isinstance(h, dict) for h in hints.values()):
        raise AssertionError(f"{name} has no hints dict (self.hints: owner -> key -> tuple of "
                             "Version): keep the hints there, the grader reads them")
    found = {}
    for owner, keys in sorted(hints.items()):
        held = {key: _versions(f"{name}.hints[{owner!r}][{key!r}]", value)
                for key, value in sorted(keys.items()) if value}
        if held:
            found[owner] = held
    return found


def values(versions: Iterable[Version]) -> list[str]:
    """The values of ``versions``, sorted (what a client sees)."""
    return sorted(v.value for v in versions)


def clock_text(clock: Any) -> str:
    """``{alice.1: 3, bob.1: 1}``."""
    pairs = clock.items() if isinstance(clock, VectorClock) else clock
    return "{" + ", ".join(f"{actor}: {count}" for actor, count in pairs) + "}"


def show(versions: Iterable[Version]) -> str:
    """Versions with their clocks: ``['a' {alice.1: 1}, 'b' {bob.1: 1}]``."""
    return "[" + ", ".join(f"{v.value!r} {clock_text(v.clock)}" for v in versions) + "]"


# ----- probes: replicas the grader plays ------------------------------------------------------


class Probe(Node):
    """A node of the ring that the grader plays: it keeps every message it receives, and,
    as the test says, stores and acknowledges ``Store`` (``acks``), answers ``Fetch`` with
    what it holds (``answers``), and sends each answer ``copies`` times. It acts as a
    client too: the test sends ``Get`` and ``Put`` from it."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: list[tuple[float, str, Any]] = []
        self.holds: dict[str, tuple[Version, ...]] = {}
        self.acks = True
        self.answers = True
        self.copies = 1

    def on_message(self, src: str, msg: Any) -> None:
        self.inbox.append((self.now, src, msg))
        match msg:
            case Store(op=op, key=key, versions=versions):
                self.holds[key] = reconcile((*self.holds.get(key, ()), *versions))
                if op is not None and self.acks:
                    for _ in range(self.copies):
                        self.send(src, StoreAck(op))
            case Fetch(op=op, key=key) if self.answers:
                for _ in range(self.copies):
                    self.send(src, FetchReply(op, key, self.holds.get(key, ())))

    def received(self, kind: type, *, since: float = 0.0, src: str = NODE) -> list[Any]:
        """The messages of ``kind`` from ``src`` received at or after ``since``."""
        return [msg for when, s, msg in self.inbox
                if s == src and isinstance(msg, kind) and when >= since]

    def fetch_of(self, key: str) -> Any:
        """The latest Fetch of ``key`` from ``n1``, or None."""
        return next((f for f in reversed(self.received(Fetch)) if f.key == key), None)

    def count(self, kind: type) -> int:
        """How many messages of ``kind`` this probe received from ``n1``."""
        return len(self.received(kind))

    def reply_to(self, request: str) -> Any:
        """The answer to this probe's client request ``request``, or None."""
        return next((msg for _, _, msg in self.inbox
                     if isinstance(msg, GetReply | PutReply) and msg.request == request), None)


class Probes:
    """The node under test, ``n1``, and the probes, in one simulation."""

    def __init__(self, trial: Trial, **options: Any) -> None:
        self.trial = trial
        self.sim = trial.simulation()
        self.sim.add_node(NODE, node_factory(trial, **options))
        for name in PROBES:
            self.sim.add_node(name, Probe)
        self.ring = HashRing((NODE, *PROBES), VNODES)
        self.run(0.001)
        check_homes(self.sim, self.ring)

    def probe(self, name: str) -> Probe:
        node = self.sim.node(name)
        assert isinstance(node, Probe)
        return node

    @property
    def node(self) -> Any:
        node = self.sim.node(NODE)
        assert node is not None, f"{NODE} is down"
        return node

    def run(self, seconds: float) -> None:
        self.trial.run(self.sim, self.sim.now + seconds)

    def wait(self, predicate: Callable[[], Any], timeout: float) -> bool:
        return self.trial.run_until(self.sim, lambda sim: bool(predicate()), timeout=timeout)

    def key(self, condition: Callable[[tuple[str, ...]], bool], avoid: Sequence[str] = ()
            ) -> tuple[str, tuple[str, ...]]:
        """A key whose homes meet ``condition`` (one of the first few, chosen by the
        seed), and its homes."""
        found = []
        for i in range(5000):
            key = f"key{i}"
            homes = self.ring.preference_list(key, N)
            if key not in avoid and condition(homes):
                found.append((key, homes))
                if len(found) == 10:
                    break
        assert found, "the grader found no key with the homes it needs (a grader bug)"
        return self.trial.rng.choice(found)

    def client(self, homes: Sequence[str]) -> Probe:
        """A probe that is not a home of the key: it plays the client."""
        return self.probe(next(p for p in PROBES if p not in homes))

    def request(self, client: Probe, msg: Get | Put, timeout: float = 0.3) -> Any:
        """Send a client request to ``n1``; its answer, or None after ``timeout``."""
        client.send(NODE, msg)
        self.wait(lambda: client.reply_to(msg.request) is not None, timeout)
        return client.reply_to(msg.request)

    def last(self, probe: Probe, kind: type) -> Any:
        """The latest message of ``kind`` ``n1`` sent ``probe``."""
        got = probe.received(kind)
        assert got, (f"{NODE} coordinated a request and sent {probe.id}, a home of its key, no "
                     f"{kind.__name__}: a coordinator sends every home a Store of a put's "
                     "version, and a Fetch for a get")
        return got[-1]


def check_homes(sim: Simulation, ring: HashRing) -> None:
    """The node's ``homes(key)`` is the preference list of the handout's ring."""
    node = sim.node(NODE)
    homes = getattr(node, "homes", None)
    if not callable(homes):
        raise AssertionError(f"{NODE} has no homes(key) method: DynamoNode.homes(key) returns "
                             "the key's preference list (the grader compares it with its own)")
    for key in ("cart", "k1", "key7"):
        expected = ring.preference_list(key, N)
        got = homes(key)
        if tuple(got) != expected:
            raise AssertionError(
                f"{NODE}.homes({key!r}) is {got!r}, but the ring of nodes "
                f"{', '.join(ring.nodes)} gives {expected!r}: build the ring as "
                f"HashRing((*self.peers, self.id), VNODES) with VNODES = {VNODES}, and take "
                "ring.preference_list(key, n)")


def version(value: str, **clock: int) -> Version:
    """A version of ``value`` with that clock (actor names with dots are written with
    underscores: ``alice_1=1`` is ``alice.1: 1``)."""
    return Version.of(value, VectorClock({a.replace("_", "."): c for a, c in clock.items()}))


# ----- the probe tests --------------------------------------------------------------------------


@graded(points=5, runs=1, seeded=False)
def settings_and_placement(trial: Trial) -> None:
    """The node refuses R + W <= N (reads could miss writes) and places keys on the ring."""
    Probes(trial)  # starts n1 with the defaults and checks homes(key)
    refused = [(3, 1, 1), (3, 1, 2), (3, 2, 1), (5, 2, 3), (5, 1, 4), (3, 4, 2), (3, 2, 0)]
    accepted = [(3, 2, 2), (3, 3, 1), (3, 1, 3), (5, 3, 3), (1, 1, 1)]
    for n, r, w in refused:
        try:
            trial.impl.DynamoNode(n=n, r=r, w=w)
        except ConfigError:
            continue
        except Exception as exc:
            raise AssertionError(f"DynamoNode(n={n}, r={r}, w={w}) raised {exc!r}: refuse bad "
                                 "settings with dsys.errors.ConfigError") from None
        why = (f"a quorum of {max(r, w)} cannot be found among {n} homes"
               if max(r, w) > n or min(r, w) < 1 else
               f"with r + w = {r + w} <= n = {n}, a get's {r} replies can all come from "
               f"homes that are not among the {w} that stored the latest put: a stale read")
        raise AssertionError(f"DynamoNode(n={n}, r={r}, w={w}) was accepted: {why}. The store "
                             "promises fresh reads, so its constructor must raise ConfigError")
    for n, r, w in accepted:
        try:
            trial.impl.DynamoNode(n=n, r=r, w=w)
        except Exception as exc:
            raise AssertionError(f"DynamoNode(n={n}, r={r}, w={w}) raised {exc!r}, but r + w = "
                                 f"{r + w} > n = {n}: read and write quorums always meet") \
                from None


@graded(points=6, runs=3)
def a_put_makes_a_version_of_its_context(trial: Trial) -> None:
    """A put's version is its context plus one event of its actor; a newer one replaces it."""
    p = Probes(trial, sloppy=False)
    key, homes = p.key(lambda homes: NODE in homes)
    client = p.client(homes)
    context = (("alice.1", 3),)
    expected = Version("a", (("alice.1", 3), ("bob.1", 1)))
    reply = p.request(client, Put("t1", key, "a", "bob.1", context))
    assert reply is not None and reply.ok, (
        f"{client.id} sent {NODE} a put of {key!r} (its homes are {', '.join(homes)}; every "
        f"probe stores and acknowledges) and got {reply!r} within 0.3 s: a put is answered "
        f"PutReply(ok=True, version=...) once w={2} replicas stored it")
    assert reply.version == expected, (
        f"a put by actor bob.1 with the context {clock_text(context)} made the version "
        f"{show([reply.version]) if reply.version else None}; it should be "
        f"{show([expected])}: the context (what the client had read) plus one event of the "
        "put's actor (context.increment(actor))")
    others = [p.probe(h) for h in homes if h != NODE]
    p.wait(lambda: all(pr.received(Store) for pr in others), 0.2)
    stored = {pr.id: pr.received(Store) for pr in others}
    for home, stores in stored.items():
        assert any(expected in s.versions for s in stores), (
            f"{NODE} coordinated a put of {key!r}, whose homes are {', '.join(homes)}, but "
            f"sent {home} no Store of the version: a put goes to every home")
    held = data_of(NODE, p.node).get(key, ())
    assert held == (expected,), (
        f"{NODE} is a home of {key!r} and coordinated its put, yet holds {show(held)}")
    newer = Version("b", (("alice.1", 3), ("bob.1", 2)))
    reply = p.request(client, Put("t2", key, "b", "bob.1", expected.clock))
    assert reply is not None and reply.ok and reply.version == newer, (
        f"bob.1's next put, with the context {clock_text(expected.clock)} (it had written "
        f"'a'), made {reply!r}; its version should be {show([newer])}")
    held = data_of(NODE, p.node).get(key, ())
    assert held == (newer,), (
        f"after 'b' {clock_text(newer.clock)} overwrote 'a' {clock_text(expected.clock)} (its "
        f"clock is after a's: its put had seen 'a'), {NODE} holds {show(held)}: a version "
        "whose clock is before another's is gone")


@graded(points=8, runs=3)
def concurrent_puts_become_siblings(trial: Trial) -> None:
    """Concurrent puts stay siblings; a get returns them all; a put with its context reconciles."""
    p = Probes(trial, sloppy=False)
    key, homes = p.key(lambda homes: NODE in homes)
    client = p.client(homes)
    for request, value, actor in (("t1", "a", "alice.1"), ("t2", "b", "bob.1")):
        reply = p.request(client, Put(request, key, value, actor))
        assert reply is not None and reply.ok, (
            f"a put of {key!r} through {NODE} got {reply!r} (every home acknowledges)")
    held = data_of(NODE, p.node).get(key, ())
    assert values(held) == ["a", "b"], (
        f"alice.1 put 'a' and bob.1 put 'b' under {key!r}, neither with a context (neither "
        f"had read the other's): their clocks {{alice.1: 1}} and {{bob.1: 1}} are concurrent, "
        f"so both must stay, as siblings; {NODE} holds {show(held)}. Is a concurrent version "
        "treated as older (or newer)? Only a version whose clock is *before* another's goes")
    # carol had read 'a' only: her put replaces 'a', not 'b'
    reply = p.request(client, Put("t3", key, "c", "carol.1", (("alice.1", 1),)))
    assert reply is not None and reply.ok
    held = data_of(NODE, p.node).get(key, ())
    assert values(held) == ["b", "c"], (
        f"carol.1 put 'c' with the context {{alice.1: 1}} (she had read 'a' only): 'c' "
        f"replaces 'a' and is concurrent with 'b'; {NODE} holds {show(held)}, it should hold "
        "'b' and 'c'")
    reply = p.request(client, Get("t4", key))
    context = VectorClock({"alice.1": 1, "bob.1": 1, "carol.1": 1})
    assert reply is not None and reply.ok and values(reply.versions) == ["b", "c"], (
        f"a get of {key!r}, whose sibling versions are 'b' and 'c', was answered {reply!r}: "
        "a get returns every sibling (the merge of the replies, reconciled), not one of them")
    assert VectorClock(dict(reply.context)) == context, (
        f"a get that returned 'b' and 'c' gave the context {clock_text(reply.context)}; it "
        f"should be {clock_text(context)}, the merge of the siblings' clocks, so that a put "
        "made with it replaces them all")
    reply = p.request(client, Put("t5", key, "b+c", "dave.1", tuple(context.items())))
    assert reply is not None and reply.ok
    held = data_of(NODE, p.node).get(key, ())
    assert values(held) == ["b+c"], (
        f"dave.1 put 'b+c' with the context of a get that returned both siblings: his "
        f"version descends from both and replaces them; {NODE} holds {show(held)}")


@graded(points=6, runs=3)
def a_get_merges_r_replies(trial: Trial) -> None:
    """A get waits for R replies and answers with the merge of all of them, not the first."""
    p = Probes(trial, sloppy=False)
    old = version("old", w_1=1)
    new = version("new", w_1=2)
    a, b = version("a", alice_1=1), version("b", bob_1=1)
    cases = [("older first", (old,), (new,), ["new"]), ("concurrent", (a,), (b,), ["a", "b"])]
    used: list[str] = []
    for number, (case, first, second, expected) in enumerate(cases):
        key, homes = p.key(lambda homes: NODE not in homes, avoid=used)
        used.append(key)
        client = p.client(homes)
        one, two, three = (p.probe(h) for h in homes)
        for probe, held in ((one, first), (two, second)):
            probe.holds[key] = held
        for probe in (one, two, three):
            probe.answers = False
        request = f"g{number}"
        client.send(NODE, Get(request, key))
        homes_asked = (one, two, three)
        asked = p.wait(lambda k=key, hs=homes_asked: all(  # type: ignore[misc]
            pr.fetch_of(k) is not None for pr in hs), 0.2)
        assert asked, (f"{NODE} coordinated a get of {key!r} (homes {', '.join(homes)}) but "
                       f"did not send a Fetch to each home within 0.2 s")
        one.send(NODE, FetchReply(one.fetch_of(key).op, key, first))
        p.run(SETTLE)
        early = client.reply_to(request)
        assert early is None, (
            f"{NODE} answered a get of {key!r} with {early!r} after one reply, from "
            f"{one.id}: with r=2 it must wait for a second replica")
        two.send(NODE, FetchReply(two.fetch_of(key).op, key, second))
        p.wait(lambda r=request, c=client: c.reply_to(r) is not None, 0.2)  # type: ignore[misc]
        reply = client.reply_to(request)
        assert reply is not None and reply.ok, (
            f"{one.id} and {two.id} answered {NODE}'s Fetch of {key!r} (r=2), yet the get "
            f"was answered {reply!r} within 0.2 s")
        assert values(reply.versions) == expected, (
            f"({case}) {one.id} answered {show(first)}, then {two.id} answered "
            f"{show(second)}; the get returned {show(reply.versions)}, it should return "
            f"{expected}: the reconciled merge of every reply counted, not the first one")
        for probe in (one, two, three):
            probe.answers = True


@graded(points=6, runs=3)
def a_put_waits_for_w_acknowledgements(trial: Trial) -> None:
    """A put is acknowledged only once W replicas stored it, and as soon as they have."""
    p = Probes(trial, sloppy=False)
    key, homes = p.key(lambda homes: NODE in homes)
    client = p.client(homes)
    others = [p.probe(h) for h in homes if h != NODE]
    for probe in others:
        probe.acks = False
    client.send(NODE, Put("t1", key, "v", "alice.1"))
    p.wait(lambda: all(pr.received(Store) for pr in others), 0.2)
    p.run(SETTLE)
    early = client.reply_to("t1")
    assert early is None or not early.ok, (
        f"{NODE} stored a put of {key!r} itself and answered {early!r}, while the other "
        f"homes ({', '.join(pr.id for pr in others)}) had not acknowledged it: with w=2, "
        f"one copy is not enough (if {NODE} crashed now, or a get asked the other two "
        "homes, the acknowledged put would be missing)")
    store = p.last(others[0], Store)
    others[0].send(NODE, StoreAck(store.op))
    p.wait(lambda: client.reply_to("t1") is not None, 0.2)
    reply = client.reply_to("t1")
    assert reply is not None and reply.ok, (
        f"{NODE} stored a put of {key!r} and {others[0].id} acknowledged it too (w=2), yet "
        f"the put was answered {reply!r} within 0.2 s")


@graded(points=5, runs=3)
def a_reply_counts_once(trial: Trial) -> None:
    """A reply the network copied counts once towards R or W."""
    p = Probes(trial, n=3, r=3, w=3, sloppy=False)
    key, homes = p.key(lambda homes: NODE in homes)
    client = p.client(homes)
    one, two = (p.probe(h) for h in homes if h != NODE)
    for probe in (one, two):
        probe.acks = probe.answers = False

    def answer(kind: str, op: int) -> StoreAck | FetchReply:
        return StoreAck(op) if kind == "put" else FetchReply(op, key, ())

    for request, kind in (("t1", "put"), ("t2", "get")):
        msg: Get | Put = Put(request, key, "v", "alice.1") if kind == "put" else Get(request, key)
        sent: type = Store if kind == "put" else Fetch
        client.send(NODE, msg)
        p.wait(lambda s=sent: all(pr.received(s) for pr in (one, two)),  # type: ignore[misc]
               0.2)
        op = p.last(one, sent).op
        one.send(NODE, answer(kind, op))
        one.send(NODE, answer(kind, op))  # the network's copy
        p.run(SETTLE)
        early = client.reply_to(request)
        assert early is None or not early.ok, (
            f"with {'w' if kind == 'put' else 'r'}=3, {NODE} answered a {kind} of {key!r} with "
            f"{early!r} when only itself and {one.id} had answered ({one.id}'s answer "
            f"arrived twice: the network copied it). Count replicas (a set of node ids), "
            "not replies")
        two.send(NODE, answer(kind, p.last(two, sent).op))
        p.wait(lambda r=request: client.reply_to(r) is not None, 0.2)  # type: ignore[misc]
        reply = client.reply_to(request)
        assert reply is not None and reply.ok, (
            f"all three homes of {key!r} answered {NODE}'s {sent.__name__}, yet the {kind} "
            f"was answered {reply!r}")
        one.acks = one.answers = two.acks = two.answers = False


@graded(points=6, runs=3)
def stored_versions_survive_a_crash(trial: Trial) -> None:
    """What a replica acknowledged (data and hints) survives a crash that loses unsynced writes."""
    p = Probes(trial, sloppy=False)
    key, homes = p.key(lambda homes: NODE in homes)
    away, away_homes = p.key(lambda homes: NODE not in homes)
    owner = away_homes[1]
    sender = p.probe(next(h for h in homes if h != NODE))
    v, hinted = version("v", alice_1=1), version("h", bob_1=1)
    sender.send(NODE, Store(7, key, (v,)))
    sender.send(NODE, Store(8, away, (hinted,), owner))
    p.wait(lambda: {a.op for a in sender.received(StoreAck)} >= {7, 8}, 0.2)
    acked = sorted(a.op for a in sender.received(StoreAck))
    assert 7 in acked and 8 in acked, (
        f"{sender.id} sent {NODE} Store(op=7) of {key!r} and Store(op=8) of {away!r} with "
        f"hint={owner!r}; {NODE} acknowledged {acked or 'neither'} within 0.2 s (a Store "
        "with an op number is answered StoreAck(op) once stored)")
    p.sim.crash(NODE, unsynced="lost")
    p.sim.restart(NODE)
    p.run(SETTLE)
    held = data_of(NODE, p.node).get(key, ())
    assert v in held, (
        f"{NODE} acknowledged Store(op=7) of {key!r}, crashed (losing every write it had not "
        f"synced) and restarted holding {show(held)}: an acknowledgement promises the "
        "version is on disk. Save it to self.storage and sync before sending StoreAck, and "
        "reload the data in on_start")
    hints = hints_of(NODE, p.node)
    assert hinted in hints.get(owner, {}).get(away, ()), (
        f"{NODE} acknowledged Store(op=8) of {away!r} held for {owner} (a hint), crashed "
        f"(losing unsynced writes) and restarted with the hints {hints}: hints must be "
        "synced before the acknowledgement too, and reloaded in on_start")
    sender.send(NODE, Fetch(9, key))
    p.wait(lambda: any(r.op == 9 for r in sender.received(FetchReply)), 0.2)
    reply = next((r for r in sender.received(FetchReply) if r.op == 9), None)
    assert reply is not None and v in reply.versions, (
        f"after the restart, {sender.id} sent {NODE} Fetch(op=9) of {key!r} and got "
        f"{reply!r}: a Fetch is answered FetchReply(op, key, versions) with what it holds")


@graded(points=4, runs=3)
def late_answers_from_before_a_crash_do_not_count(trial: Trial) -> None:
    """An answer to a request made before a crash does not count for one made after it."""
    p = Probes(trial, n=3, r=1, w=3, sloppy=False)
    key, homes = p.key(lambda homes: NODE in homes)
    client = p.client(homes)
    one, two = (p.probe(h) for h in homes if h != NODE)
    for probe in (one, two):
        probe.acks = False  # they hold their answers back
    client.send(NODE, Put("t1", key, "old", "alice.1"))
    p.wait(lambda: one.received(Store) and two.received(Store), 0.2)
    before = [p.last(one, Store).op, p.last(two, Store).op]
    p.sim.crash(NODE, unsynced="lost")
    p.sim.restart(NODE)
    since = p.sim.now
    client.send(NODE, Put("t2", key, "new", "bob.1"))
    p.wait(lambda: one.count(Store) > 1 and two.count(Store) > 1, 0.2)
    after = [p.last(one, Store).op, p.last(two, Store).op]
    # The answers to the request made before the crash arrive now, late.
    one.send(NODE, StoreAck(before[0]))
    two.send(NODE, StoreAck(before[1]))
    p.run(SETTLE)
    early = client.reply_to("t2")
    if early is not None and early.ok:
        trial.focus(start=since, nodes=[NODE, one.id, two.id])
        raise AssertionError(
            f"{NODE} coordinated a put of {key!r} (Store op={before[0]}), crashed and "
            f"restarted, and coordinated another put (Store op={after[0]}); then {one.id} and "
            f"{two.id} acknowledged the *first* Store (StoreAck op={before[0]}), late. With "
            f"w=3, {NODE} answered the second put {early!r}, though neither had stored its "
            "version: a request number must never be reused, not even by the next "
            "incarnation of the node (start from a random number, self.rng, or keep a "
            "counter in storage)")
    for probe, op in zip((one, two), after, strict=True):
        probe.send(NODE, StoreAck(op))
    p.wait(lambda: client.reply_to("t2") is not None, 0.2)
    reply = client.reply_to("t2")
    assert reply is not None and reply.ok, (
        f"every home of {key!r} acknowledged the put {NODE} coordinated after its restart, "
        f"yet it was answered {reply!r}")


@graded(points=6, runs=3)
def read_repair_updates_stale_replicas(trial: Trial) -> None:
    """After a get, every replica that answered with less gets the newest versions."""
    p = Probes(trial, sloppy=False)
    old, new = version("old", w_1=1), version("new", w_1=2)
    a, b = version("a", alice_1=1), version("b", bob_1=1)
    cases = [((old,), (new,), (old,)), ((a,), (b,), (a, b))]
    used: list[str] = []
    for number, holdings in enumerate(cases):
        key, homes = p.key(lambda homes: NODE not in homes, avoid=used)
        used.append(key)
        client = p.client(homes)
        probes = [p.probe(h) for h in homes]
        for probe, held in zip(probes, holdings, strict=True):
            probe.holds[key] = held
        late = probes[2]
        late.answers = False  # it answers after the get is over
        request = f"g{number}"
        began = p.sim.now
        client.send(NODE, Get(request, key))
        p.wait(lambda r=request, c=client, lt=late, k=key:  # type: ignore[misc]
               c.reply_to(r) is not None and lt.fetch_of(k) is not None, 0.3)
        reply = client.reply_to(request)
        newest = reconcile(v for held in holdings for v in held)
        assert reply is not None and reply.ok, (
            f"two homes of {key!r} answered {NODE}'s Fetch, yet the get was answered {reply!r}")
        fetch = late.fetch_of(key)
        assert fetch is not None, f"{NODE} sent {late.id}, a home of {key!r}, no Fetch of it"
        late.send(NODE, FetchReply(fetch.op, key, holdings[2]))
        late.answers = True
        p.run(SETTLE * 2)
        for probe, held in zip(probes, holdings, strict=True):
            repairs = [s for s in probe.received(Store, since=began) if s.key == key]
            after = reconcile([*held, *(v for s in repairs for v in s.versions)])
            if after == newest:
                continue
            trial.focus(start=began, nodes=[NODE, probe.id])
            raise AssertionError(
                f"the homes of {key!r} answered {NODE}'s get with "
                + "; ".join(f"{pr.id}: {show(h)}" for pr, h in zip(probes, holdings,
                                                                      strict=True))
                + f" ({late.id} last, after the get was answered). The newest versions are "
                f"{show(newest)}, but {probe.id}, which held {show(held)}, was sent "
                f"{'; '.join(show(s.versions) for s in repairs) or 'nothing'}. Once every "
                "replica asked has answered (or time is up), the coordinator sends each one "
                "that answered with less Store(None, key, newest versions)")


@graded(points=6, runs=3)
def hints_go_to_their_owner(trial: Trial) -> None:
    """A stand-in keeps a hint aside, hands it to its owner, and deletes it once acknowledged."""
    p = Probes(trial, sloppy=False)
    key, homes = p.key(lambda homes: NODE not in homes)
    owner = p.probe(homes[1])
    coordinator = p.probe(homes[0])
    owner.acks = False
    v = version("v", alice_1=1)
    coordinator.send(NODE, Store(5, key, (v,), owner.id))
    p.wait(lambda: coordinator.received(StoreAck), 0.2)
    assert coordinator.received(StoreAck), (
        f"{coordinator.id} sent {NODE} Store(op=5) of {key!r} with hint={owner.id!r} (a put "
        f"of a sloppy quorum: {NODE} stands in for {owner.id}); {NODE} did not acknowledge it")
    assert key not in data_of(NODE, p.node), (
        f"{NODE} put a version held for {owner.id} into its own data: a stand-in keeps it in "
        f"self.hints[{owner.id!r}][{key!r}], apart, until the owner has it")
    hints = hints_of(NODE, p.node)
    assert hints == {owner.id: {key: (v,)}}, (
        f"after Store(hint={owner.id!r}) of {key!r}, {NODE}.hints is {hints}; it should be "
        f"{{{owner.id!r}: {{{key!r}: ({v!r},)}}}}")
    began = p.sim.now
    p.wait(lambda: owner.received(Handoff), 2 * HANDOFF_INTERVAL + SETTLE)
    offers = {name: p.probe(name).received(Handoff) for name in PROBES}
    wrong = {name: got for name, got in offers.items() if got and name != owner.id}
    if wrong or not offers[owner.id]:
        trial.focus(start=began, nodes=[NODE])
        raise AssertionError(
            f"{NODE} holds a hint of {key!r} for {owner.id} (homes {', '.join(homes)}); "
            f"within {2 * HANDOFF_INTERVAL + SETTLE:g} s it offered it to "
            + (f"{', '.join(sorted(wrong))}" + ("" if offers[owner.id] else f", not to {owner.id}")
               if wrong else "nobody")
            + ". Every HANDOFF_INTERVAL, send Handoff(key, versions) to the hint's owner, "
            "the node named in the Store's hint, and to nobody else")
    offer = offers[owner.id][-1]
    assert offer.key == key and v in offer.versions, (
        f"{NODE} offered {owner.id} {offer!r}; the hint is {key!r}: {show([v])}")
    owner.send(NODE, HandoffAck(key, offer.versions))
    acked = p.sim.now
    p.run(SETTLE)
    hints = hints_of(NODE, p.node)
    assert not hints, (
        f"{owner.id} acknowledged the handoff of {key!r} (HandoffAck), yet {NODE} still holds "
        f"the hints {hints}: delete the acknowledged versions (from storage too)")
    p.run(2 * HANDOFF_INTERVAL)
    again = owner.received(Handoff, since=acked + SETTLE)
    assert not again, (
        f"{owner.id} acknowledged the handoff of {key!r}, yet {NODE} offered it again: {again}")


@graded(points=5, runs=3)
def hints_are_kept_until_acknowledged(trial: Trial) -> None:
    """A hint is offered until acknowledged (after a loss, a crash); an ack covers what it names."""
    p = Probes(trial, sloppy=False)
    key, homes = p.key(lambda homes: NODE not in homes)
    owner, coordinator = p.probe(homes[1]), p.probe(homes[0])
    v = version("v", alice_1=1)
    coordinator.send(NODE, Store(5, key, (v,), owner.id))
    p.wait(lambda: owner.received(Handoff), 2 * HANDOFF_INTERVAL + SETTLE)
    assert owner.received(Handoff), (
        f"{NODE} holds a hint of {key!r} for {owner.id}, and offered it nothing within "
        f"{2 * HANDOFF_INTERVAL + SETTLE:g} s")
    # The owner never answers this offer: it was lost, or the owner crashed.
    p.run(SETTLE)
    hints = hints_of(NODE, p.node)
    assert v in hints.get(owner.id, {}).get(key, ()), (
        f"{NODE} offered its hint of {key!r} to {owner.id}, which has not acknowledged it (the "
        f"offer may have been lost), and {NODE} no longer holds it (its hints: {hints}): "
        "delete a hint only when HandoffAck comes, or the version never reaches its owner")
    p.sim.crash(NODE, unsynced="lost")
    p.sim.restart(NODE)
    restarted = p.sim.now
    p.wait(lambda: owner.received(Handoff, since=restarted), 2 * HANDOFF_INTERVAL + SETTLE)
    offers = owner.received(Handoff, since=restarted)
    assert offers and v in offers[-1].versions, (
        f"{NODE} held an unacknowledged hint of {key!r} for {owner.id}, crashed and restarted; "
        f"within {2 * HANDOFF_INTERVAL + SETTLE:g} s it offered {offers or 'nothing'}. Hints "
        "are stored (and synced), reloaded at a restart, and offered again until acknowledged")
    # Before the owner's acknowledgement arrives, a newer version comes for it.
    newer = version("v2", alice_1=2)
    coordinator.send(NODE, Store(6, key, (newer,), owner.id))
    p.wait(lambda: any(a.op == 6 for a in coordinator.received(StoreAck)), 0.2)
    owner.send(NODE, HandoffAck(key, offers[-1].versions))
    acked = p.sim.now
    p.run(SETTLE)
    hints = hints_of(NODE, p.node)
    assert newer in hints.get(owner.id, {}).get(key, ()), (
        f"{NODE} offered {owner.id} its hint of {key!r}, {show(offers[-1].versions)}; then a "
        f"newer version for {owner.id}, {show([newer])}, arrived; then {owner.id} "
        f"acknowledged the versions it was offered. {NODE} now holds the hints {hints}: the "
        "acknowledgement covers the versions it names, not the newer one, which must stay "
        "and be offered in turn")
    p.wait(lambda: any(newer in h.versions for h in owner.received(Handoff, since=acked)),
           2 * HANDOFF_INTERVAL + SETTLE)
    offers = [h for h in owner.received(Handoff, since=acked) if newer in h.versions]
    assert offers, f"{NODE} did not offer {owner.id} the newer version {show([newer])}"
    owner.send(NODE, HandoffAck(key, offers[-1].versions))
    p.run(SETTLE)
    hints = hints_of(NODE, p.node)
    assert not hints, f"{owner.id} acknowledged every hint, yet {NODE} still holds {hints}"


@graded(points=5, runs=3)
def a_sloppy_quorum_asks_stand_ins(trial: Trial) -> None:
    """A silent home is replaced by the next node of the ring, with a hint (if sloppy)."""
    for sloppy in (True, False):
        p = Probes(trial, n=3, r=1, w=3, sloppy=sloppy)
        key, homes = p.key(lambda homes: homes[0] == NODE)
        walk = p.ring.walk(key)
        silent, stand_in = p.probe(homes[2]), p.probe(walk[3])
        client = p.probe(walk[4])
        silent.acks = False
        began = p.sim.now
        client.send(NODE, Put("t1", key, "v", "alice.1"))
        p.wait(lambda c=client: c.reply_to("t1") is not None,  # type: ignore[misc]
               FALLBACK_AFTER + 0.2)
        reply = client.reply_to("t1")
        stores = stand_in.received(Store)
        if not sloppy:
            assert not stores, (
                f"with sloppy=False, {NODE} sent {stand_in.id} (not a home of {key!r}) "
                f"{stores[0]!r}: a strict quorum asks only the homes")
            assert reply is None or not reply.ok, (
                f"with sloppy=False and w=3, a put of {key!r} was answered {reply!r} though "
                f"{silent.id}, a home, never acknowledged it")
            continue
        if not stores or stores[0].hint != silent.id:
            trial.focus(start=began, nodes=[NODE])
            raise AssertionError(
                f"{key!r} lives on {', '.join(homes)}; {silent.id} never acknowledged the put "
                f"{NODE} coordinated. Within {FALLBACK_AFTER + 0.2:g} s, {NODE} sent "
                f"{stand_in.id}, the next node of the walk ({' '.join(walk)}), "
                f"{repr(stores[0]) if stores else 'nothing'}: after FALLBACK_AFTER = "
                f"{FALLBACK_AFTER} s of silence, a sloppy quorum sends the version to the next "
                f"node not asked yet, with hint={silent.id!r} (the home it stands in for)")
        assert reply is not None and reply.ok, (
            f"the put of {key!r} was stored by {NODE}, {homes[1]} and {stand_in.id} (standing "
            f"in for {silent.id}): three acknowledgements, w=3; yet it was answered {reply!r}")


# ----- run tests: clusters, clients, faults, checkers --------------------------------------------


@attrs.frozen
class Run:
    """A cluster under test: the simulation, the clients' keys, and how many operations
    the clients run in all."""

    sim: Simulation
    keys: tuple[str, ...]
    total: int


def cluster(trial: Trial, network: Network | None = None, *, clients: int = 4, ops: int = 25,
            keys: Sequence[str] = ("k1", "k2", "k3"), reads: float = 0.5,
            think: Any = (0.0, 0.02), anywhere: bool = False, **options: Any) -> Run:
    """Five of the student's nodes (``n1``...), and ``clients`` clients (``c1``...) of
    gets and puts on ``keys`` (every put writes a value of its own). A client sends each
    request to a home of its key, or to any node if ``anywhere``."""
    sim = trial.simulation(network=network or Network())
    for name in SERVERS:
        sim.add_node(name, node_factory(trial, **options))
    coordinators = SERVERS if anywhere else None
    for i in range(1, clients + 1):
        name = f"c{i}"
        sim.add_client(name, functools.partial(QuorumClient, n=N, vnodes=VNODES,
                                               timeout=CLIENT_TIMEOUT,
                                               coordinators=coordinators),
                       workload=workload(name, keys, reads=reads), ops=ops, think=think)
    return Run(sim, tuple(keys), clients * ops)


def finish(trial: Trial, run: Run, *, after: float = 0.0) -> None:
    """Run until every client finished its workload; operations invoked after ``after``
    (the faults stopped) must complete ok."""
    sim, expected = run.sim, run.total

    def done(s: Simulation) -> bool:
        return sum(1 for e in s.history if e["type"] != "invoke") >= expected

    deadline = max(sim.now, after) + LIVENESS_TIMEOUT
    if not trial.run_until(sim, done, timeout=deadline - sim.now):
        ended = Counter(e["type"] for e in sim.history if e["type"] != "invoke")
        pending = _pending(sim)
        who = ", ".join(f"{c} ({op})" for c, op in pending) or "none"
        raise AssertionError(
            f"by t={sim.now:.1f} s the clients had completed {sum(ended.values())} of "
            f"{expected} operations ({ended['ok']} ok, {ended['fail']} fail, {ended['info']} "
            f"info: a client gives up after {CLIENT_TIMEOUT:g} s without an answer); "
            f"still waiting: {who}. A coordinator answers every request: ok once its quorum "
            f"answered, or not ok after TIMEOUT = {TIMEOUT} s")
    for event in _late_failures(sim, after) if after else ():
        trial.focus(start=event["invoked"], end=event["time"], nodes=[event["client"]])
        raise AssertionError(
            f"{event['client']}'s {event['f']} of {event['key']!r}, invoked at "
            f"t={event['invoked']:.3f} s after the faults stopped (t={after:g} s), ended "
            f"{event['type']} at t={event['time']:.3f} s: with every node up and the network "
            "calm, a coordinator reaches its quorum")


def _pending(sim: Simulation) -> list[tuple[str, str]]:
    open_ops: dict[str, str] = {}
    for event in sim.history:
        if event["type"] == "invoke":
            open_ops[event["client"]] = f"{event['f']} {event['key']} since t={event['time']:.3f}"
        else:
            open_ops.pop(event["client"], None)
    return sorted(open_ops.items())


def _late_failures(sim: Simulation, after: float) -> list[dict[str, Any]]:
    invoked: dict[int, float] = {}
    found = []
    for event in sim.history:
        if event["type"] == "invoke":
            invoked[event["process"]] = event["time"]
        elif event["type"] != "ok" and invoked.get(event["process"], -1.0) >= after:
            found.append({**event, "invoked": invoked[event["process"]]})
    return found


class Held(Replica):
    """What one of the student's nodes holds, as the library's checkers read a replica
    (they find replicas by type): ``data``, ``hints``, ``versions(key)`` and
    ``homes(key)``, from the grader's own ring. A view, never attached to a node."""

    def __init__(self, data: dict[str, tuple[Version, ...]],  # (not Replica's arguments)
                 hints: dict[str, dict[str, tuple[Version, ...]]], ring: HashRing,
                 time: float) -> None:
        self.data = data
        self.hints = hints
        self._ring = ring
        self._time = time

    def homes(self, key: str) -> tuple[str, ...]:
        return self._ring.preference_list(key, N)

    def versions(self, key: str) -> tuple[Version, ...]:
        return self.data.get(key, ())

    @property
    def now(self) -> float:
        return self._time


class _Shown:
    """A node as :func:`~dsys.replication.replicas_of` sees it: its components."""

    def __init__(self, replica: Held) -> None:
        self.components = {"replica": replica}


def shown(sim: Simulation) -> dict[str, Any]:
    """The live nodes of ``sim`` as the checkers read them."""
    ring = HashRing(SERVERS, VNODES)
    return {name: _Shown(Held(data_of(name, node), hints_of(name, node), ring, sim.now))
            for name, node in sorted(sim.nodes.items())}


def client_of(sim: Simulation, process: Any) -> str:
    return next((e["client"] for e in sim.history if str(e["process"]) == str(process)), "?")


def coordinator_of(sim: Simulation, client: str, start: float, end: float | None) -> str:
    """The node ``client`` sent its request to between ``start`` and ``end``."""
    for event in sim.trace.filter(nodes=[client], kinds=["send"], start=start, end=end):
        return str(event.data.get("to"))
    return "?"


def judge_fresh_reads(trial: Trial, sim: Simulation) -> Report:
    """Every get saw every put acknowledged before it began (strict quorums)."""
    report = check_fresh_reads(sim.history)
    if report:
        return report
    violation = report.violations[0]
    process = violation.nodes[0]
    get = next(op for op in History.from_events(sim.history)
               if op.f == "get" and str(op.process) == process
               and op.invoke_time == violation.time)
    client = client_of(sim, process)
    coordinator = coordinator_of(sim, client, get.invoke_time, get.complete_time)
    trial.focus(start=get.invoke_time, end=get.complete_time, nodes=[client, coordinator])
    raise AssertionError(
        f"a stale read (r=2, w=2, n=3: every read quorum meets every write quorum): "
        f"{violation.text} (process {process} is {client}; {coordinator} coordinated the "
        "get; the trace below shows what both did meanwhile). A get must hear from r "
        "distinct homes and answer with the reconciled merge of every reply; a put is "
        "acknowledged only once w distinct homes stored and synced it; a replica drops a "
        "version only when another's clock is after it (concurrent versions stay), and read "
        "repair never replaces a newer version with an older one.")


def judge_no_overwritten_siblings(trial: Trial, sim: Simulation) -> None:
    """No get returns a value together with one that its put had overwritten (its client
    had read or written it before the put): judged from the history alone."""
    pasts = causal_pasts(sim.history)
    for op in History.from_events(sim.history):
        if op.f != "get" or op.status != "ok":
            continue
        found = sorted(op.output or ())
        pairs = [(x, y) for x in found for y in found
                 if x != y and y in pasts.get((op.key, x), ())]
        if not pairs:
            continue
        newer, older = pairs[0]
        client = client_of(sim, op.process)
        coordinator = coordinator_of(sim, client, op.invoke_time, op.complete_time)
        trial.focus(start=op.invoke_time, end=op.complete_time, nodes=[client, coordinator])
        raise AssertionError(
            f"{client}'s get of {op.key!r} at t={op.invoke_time:.3f} s (through "
            f"{coordinator}) returned {found}: the put of {newer!r} was made by a client that "
            f"had already read or written {older!r}, so {newer!r} overwrote it, and the two "
            "are not siblings. Does a put's version start from the client's context (the "
            "clock of what it read), and does reconcile drop every version whose clock is "
            "before another's?")


def judge_no_lost_writes(trial: Trial, sim: Simulation) -> Report:
    """No acknowledged put vanished (judged on the live nodes)."""
    report = check_no_lost_writes(sim.history, shown(sim))
    if report:
        return report
    violation = report.violations[0]
    put = next((op for op in History.from_events(sim.history)
                if op.f == "put" and op.status == "ok" and f"={op.value!r}" in
                violation.text), None)
    if put is not None:
        client = client_of(sim, put.process)
        coordinator = coordinator_of(sim, client, put.invoke_time, put.complete_time)
        trial.focus(start=put.invoke_time, end=put.complete_time,
                    nodes=[client, coordinator])
        where = (f" It was put by {client} through {coordinator}, from t={put.invoke_time:.3f}"
                 f" to t={(put.complete_time or 0.0):.3f} s.")
    else:
        where = ""
    raise AssertionError(
        f"a lost write: {violation.text}.{where} How can a version vanish? A reconcile "
        "that drops a concurrent version (only a version whose clock is before another's "
        "may go); an acknowledgement sent before w replicas stored it, or before the "
        "replica synced it (a crash then loses it); a hint deleted before its owner "
        "acknowledged it; read repair that replaces instead of merging.")


def judge_hints_handed_off(trial: Trial, sim: Simulation, since: float) -> None:
    """Every hint reaches its owner and is deleted within ``HANDOFF_WAIT``."""

    def none_left(s: Simulation) -> bool:
        return not any(hints_of(name, node) for name, node in s.nodes.items())

    if trial.run_until(sim, none_left, timeout=HANDOFF_WAIT):
        return
    left = {name: {owner: sorted(keys) for owner, keys in hints_of(name, node).items()}
            for name, node in sorted(sim.nodes.items()) if hints_of(name, node)}
    holder = next(iter(left))
    trial.focus(start=sim.now - HANDOFF_WAIT, nodes=[holder])
    raise AssertionError(
        f"the faults stopped at t={since:g} s; at t={sim.now:.1f} s, every node having been "
        f"up and reachable for {HANDOFF_WAIT:g} s at least, hints are left (holder: owner: "
        f"keys): {left}. Every "
        "HANDOFF_INTERVAL, offer each hint to its owner; the owner stores it (synced) and "
        "answers HandoffAck; then delete those versions")


def sweep(trial: Trial, run: Run) -> None:
    """A client reads every key once (read repair), then the replicas must agree."""
    sim, keys = run.sim, run.keys
    plan = iter(keys)
    sim.add_client("reader", functools.partial(QuorumClient, n=N, vnodes=VNODES),
                   workload=lambda rng: {"f": "get", "key": next(plan), "value": None},
                   ops=len(keys))
    began = sim.now
    ended = trial.run_until(sim, lambda s: sum(
        1 for e in s.history if e["client"] == "reader" and e["type"] != "invoke") == len(keys),
        timeout=5.0)
    reads = [e for e in sim.history if e["client"] == "reader" and e["type"] != "invoke"]
    if not ended or any(e["type"] != "ok" for e in reads):
        trial.focus(start=began, nodes=["reader"])
        raise AssertionError(
            f"after the faults, on a calm network with every node up, the grader read each "
            f"key once; the reads ended {[e['type'] for e in reads]} (of {len(keys)}): a get "
            "reaches r homes and is answered ok")
    trial.run(sim, sim.now + 0.2)  # read repair's Stores arrive
    report = check_replicas_agree(shown(sim))
    if not report:
        trial.focus(start=began, nodes=["reader", *SERVERS])
        raise AssertionError(
            f"once the faults stopped, every hint was handed off and the grader read every key "
            f"once, the homes of a key still disagree: {report.violations[0].text}. "
            "Each get's read repair writes the newest versions to every replica that answered "
            "with less (once all have answered, or time is up)")


def crash_randomly(trial: Trial, sim: Simulation, *, start: float, until: float,
                   max_down: int = 2) -> None:
    """Crash servers at random (losing every unsynced write) and restart them, from
    ``start`` to ``until``; at most ``max_down`` down at once; all up at ``until``."""
    rng = trial.rng
    when = start
    down: list[str] = []

    def crash(name: str) -> None:
        if sim.is_up(name) and len(down) < max_down:
            down.append(name)
            sim.crash(name, unsynced="lost")

    def restart(name: str) -> None:
        if name in down:
            down.remove(name)
            sim.restart(name)

    while when < until:
        name = rng.choice(SERVERS)
        back = min(until, when + rng.uniform(0.1, 0.6))
        sim.at(when, crash, name)
        sim.at(back, restart, name)
        when += rng.uniform(0.1, 0.4)
    def restart_all() -> None:
        for name in list(down):
            restart(name)

    sim.at(until, restart_all)


@graded(points=6, runs=10)
def calm_network(trial: Trial) -> None:
    """A calm network: every operation ok, fresh reads, no lost write, replicas agree."""
    run = cluster(trial)
    finish(trial, run, after=0.001)
    judge_fresh_reads(trial, run.sim)
    judge_no_overwritten_siblings(trial, run.sim)
    judge_no_lost_writes(trial, run.sim)
    judge_hints_handed_off(trial, run.sim, since=0.0)
    trial.run(run.sim, run.sim.now + 0.2)
    report = check_replicas_agree(shown(run.sim))
    assert report, (
        f"on a calm network every Store reaches every home, yet once the clients finished "
        f"the homes of a key disagree: {report.violations[0].text}")


@graded(points=8, runs=12)
def lossy_network(trial: Trial) -> None:
    """Strict quorums; messages lost, copied and reordered: fresh reads, no lost write."""
    network = Network(drop=0.1, duplicate=0.1, reorder=0.3, reorder_delay=0.05)
    run = cluster(trial, network, sloppy=False, anywhere=True)
    finish(trial, run)
    judge_fresh_reads(trial, run.sim)
    judge_no_overwritten_siblings(trial, run.sim)
    judge_no_lost_writes(trial, run.sim)
    network.update(drop=0.0, duplicate=0.0, reorder=0.0)
    sweep(trial, run)


@graded(points=6, runs=12)
def crashes(trial: Trial) -> None:
    """Strict quorums; servers crash (losing unsynced writes) and restart: fresh reads, no loss."""
    run = cluster(trial, think=(0.01, 0.05), sloppy=False)
    calm = 3.0
    crash_randomly(trial, run.sim, start=0.1, until=calm)
    finish(trial, run, after=calm + TIMEOUT)
    judge_fresh_reads(trial, run.sim)
    judge_no_overwritten_siblings(trial, run.sim)
    judge_no_lost_writes(trial, run.sim)
    sweep(trial, run)


@graded(points=7, runs=15)
def partitions_and_crashes(trial: Trial) -> None:
    """Sloppy quorums under partitions and crashes: no lost write, hints go home, replicas agree."""
    run = cluster(trial, keys=[f"k{i}" for i in range(1, 6)], ops=30, reads=0.3,
                  think=(0.02, 0.08))
    calm = 2.5
    Nemesis(faults=("partition", "isolate", "crash"), interval=(0.1, 0.5),
            duration=(0.3, 1.0), stop=calm).install(run.sim)
    finish(trial, run, after=calm + 1.0)
    judge_no_overwritten_siblings(trial, run.sim)
    judge_no_lost_writes(trial, run.sim)
    judge_hints_handed_off(trial, run.sim, since=calm)
    sweep(trial, run)


@graded(points=5, runs=10)
def everything_at_once(trial: Trial) -> None:
    """Loss, copies, partitions and crashes at once: no loss, hints go home, replicas agree."""
    network = Network(drop=0.05, duplicate=0.1, reorder=0.2, reorder_delay=0.05)
    run = cluster(trial, network, keys=[f"k{i}" for i in range(1, 5)], ops=30, reads=0.3,
                  think=(0.02, 0.08))
    calm = 2.5
    Nemesis(faults=("partition", "isolate", "oneway", "crash"), interval=(0.1, 0.4),
            duration=(0.2, 0.8), stop=calm).install(run.sim)
    run.sim.at(calm, network.update, drop=0.0, duplicate=0.0, reorder=0.0)
    finish(trial, run, after=calm + 1.0)
    judge_no_overwritten_siblings(trial, run.sim)
    judge_no_lost_writes(trial, run.sim)
    judge_hints_handed_off(trial, run.sim, since=calm)
    sweep(trial, run)
