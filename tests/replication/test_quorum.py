"""Dynamo-style quorum replication (dsys.replication.quorum), judged by checkers.

Which checker applies. Dynamo is not linearizable, even with R+W>N (a get that overlaps
a put may see it while a later get does not), and concurrent puts make *siblings*, not a
register value; so the linearizability checker's models do not fit its histories. What
a strict quorum with R+W>N promises without failures is judged by
``check_fresh_reads``: every get returns, for each put of its key acknowledged before
the get began, that put's value or the value of a put that had seen it (which puts had
seen which is read from the history alone: ``causal_pasts``). With R+W<=N the same
checker counts stale reads. ``check_no_lost_writes`` says no acknowledged put vanished
(concurrent ones survive as siblings), ``check_replicas_agree`` that replicas converged.

Each mechanism has a broken variant here (concurrent clocks treated as ordered; read
repair that writes the older version back; hints never handed back; R+W<=N taken for a
strict quorum), and a test asserts the checker catches it on the same scenario the real
one passes. Default runs use a few seeds; ``pytest --soak`` runs many more.
"""

from __future__ import annotations

import functools
import io
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import trio

from dsys import Nemesis, Network, Simulation, Trace
from dsys.clocks.vector import Order, VectorClock
from dsys.demos.quorum import (
    CART,
    HEAL,
    QuorumDemo,
    add_clients,
    cluster,
    measure_quorum,
    scenario,
    scheduled,
    workload,
)
from dsys.errors import ConfigError, UsageError
from dsys.replication import (
    QuorumClient,
    QuorumConfig,
    QuorumNode,
    Replica,
    Version,
    check_fresh_reads,
    check_no_lost_writes,
    check_replicas_agree,
    context_of,
    order,
    pending_hints,
    reconcile,
    replicas_of,
    sibling_reads,
)
from dsys.replication.quorum import (
    Handoff,
    HandoffAck,
    Put,
    PutReply,
    Store,
    StoreAck,
    SyncHashes,
)
from dsys.replication.ring import HashRing
from dsys.runtime import NodeHost, parse_cluster, run_client
from dsys.sim import HandlerError
from dsys.testing import NodeHarness
from dsys.testing.harness import Log, Sent, StorageSync, StorageWrite
from tests.runtime.helpers import cluster_text

SEEDS = range(4)
SOAK_SEEDS = range(4, 60)
RING = HashRing(["n1", "n2", "n3", "n4", "n5"])


# ----- broken variants ---------------------------------------------------------------------


class ConcurrentAsOrdered(Replica):
    """Version comparison that treats concurrent versions as ordered (the one whose clock
    counts more events wins, as a last-writer-wins store would): one of two concurrent
    puts is lost."""

    def compare(self, a: VectorClock, b: VectorClock) -> Order:
        found = a.compare(b)
        if found is Order.CONCURRENT:
            return Order.BEFORE if (a.total(), tuple(a.items())) < (
                b.total(), tuple(b.items())) else Order.AFTER
        return found


class CoordinatorClocks(Replica):
    """Dynamo's own scheme: the coordinator counts the events, not the client session.
    Its ``n1: 5`` claims a reader saw every earlier put through ``n1``, concurrent ones
    included, so the reader's next put erases a put it never saw."""

    def make_version(self, value: str, context: VectorClock, actor: str) -> Version:
        counter = int(self.storage.get("counter", 0)) + 1
        self.storage["counter"] = counter
        self.storage.sync()
        return Version.of(value, context.merge(VectorClock({self.id: counter})))


class RepairsWithTheOlderVersion(Replica):
    """Read repair that writes back the stale replica's own, older versions."""

    def repair_versions(self, newest: tuple[Version, ...], held: tuple[Version, ...]
                        ) -> tuple[Version, ...]:
        return held


class NeverHandsOff(Replica):
    """Hints are stored, and never handed back to their owners."""

    def hand_off(self, owner: str | None = None) -> None:
        pass


# ----- helpers -----------------------------------------------------------------------------


def finished(sim: Simulation) -> bool:
    """Every client operation has completed (simulated clients run a fixed number)."""
    events = sim.history
    return bool(events) and sum(e["type"] == "invoke" for e in events) * 2 == len(events) \
        and all(not state.busy for state in sim._clients.clients.values())


def keys_homed_on(node: str, count: int, *, not_first: bool = False) -> list[str]:
    """``count`` keys whose preference list (N=3) holds ``node``."""
    found = []
    for i in range(1000):
        homes = RING.preference_list(f"key{i}", 3)
        if node in homes and not (not_first and homes[0] == node):
            found.append(f"key{i}")
        if len(found) == count:
            return found
    raise AssertionError("not enough keys")


def strict_run(seed: int, *, r: int = 2, w: int = 2, replica: type[Replica] = Replica,
               network: Network | None = None, ops: int = 30,
               keys: Iterable[str] = ("k1", "k2")) -> Simulation:
    """No failures, a strict quorum, four clients of gets and puts on a few hot keys."""
    sim = cluster(seed=seed, network=network, n=3, r=r, w=w, sloppy=False, detector=None,
                  anti_entropy=None, replica=replica)
    add_clients(sim, 4, keys=tuple(keys), ops=ops, reads=0.5)
    assert sim.run_until(finished, timeout=30.0)
    return sim


def fresh(sim: Simulation) -> Any:
    return check_fresh_reads(sim.history)


def harness(**options: Any) -> NodeHarness:
    factory = functools.partial(QuorumNode, detector=None, anti_entropy=None, **options)
    h = NodeHarness(factory, "n1", ("n2", "n3"), clients=("c",))
    h.start()
    return h


def replica_of(h: NodeHarness) -> Replica:
    node = h.node
    assert isinstance(node, QuorumNode)
    return node.replica


def sent(effects: Iterable[Any], kind: type) -> list[Any]:
    return [e for e in effects if isinstance(e, Sent) and isinstance(e.msg, kind)]


# ----- versions ----------------------------------------------------------------------------


def test_reconcile_drops_overwritten_versions_and_keeps_concurrent_ones() -> None:
    milk = Version.of("milk", VectorClock({"a": 1}))
    eggs = Version.of("eggs", VectorClock({"a": 2}))              # a read milk
    bread = Version.of("bread", VectorClock({"a": 1, "b": 1}))    # b read milk, not eggs
    assert reconcile([milk, eggs]) == (eggs,)
    assert set(reconcile([milk, eggs, bread, bread, milk])) == {eggs, bread}
    assert order(eggs, bread) is Order.CONCURRENT
    both = reconcile([eggs, bread])
    merged = Version.of("eggs,bread", context_of(both).increment("a"))
    assert reconcile([*both, merged]) == (merged,)  # a put with the read's context wins
    assert reconcile([]) == ()


def test_a_put_descends_from_its_context_and_nothing_else() -> None:
    h = harness()
    first = sent(h.deliver("c", Put("r1", "x", "a", "bob.1", (("alice.1", 3),))), Store)
    clocks = {e.msg.versions[0].clock for e in first}
    assert clocks == {(("alice.1", 3), ("bob.1", 1))}  # the context, one more bob event
    # a blind put of another session, through the same coordinator: concurrent with the
    # first (it saw nothing), so both are kept as siblings
    blind = sent(h.deliver("c", Put("r2", "x", "b", "carol.1")), Store)[0].msg.versions[0]
    assert blind.clock == (("carol.1", 1),)
    assert {v.value for v in replica_of(h).versions("x")} == {"a", "b"}
    # a put that read both overwrites both
    context = tuple(context_of(replica_of(h).versions("x")).items())
    h.deliver("c", Put("r3", "x", "a+b", "bob.1", context))
    assert [v.value for v in replica_of(h).versions("x")] == ["a+b"]
    # a duplicate of a request makes no second version
    assert sent(h.deliver("c", Put("r3", "x", "a+b", "bob.1", context)), Store) == []


def test_a_replica_syncs_what_it_stores_before_it_acknowledges() -> None:
    h = harness()
    version = Version.of("v", VectorClock({"a": 1}))
    effects = h.deliver("n2", Store(7, "x", (version,)), component="replica")
    kinds = [type(e) for e in effects if isinstance(e, StorageWrite | StorageSync | Sent)]
    assert kinds == [StorageWrite, StorageSync, Sent]
    assert sent(effects, StoreAck)[0].msg == StoreAck(7)
    h.crash(lose_unsynced="all")
    h.recover()
    assert replica_of(h).versions("x") == (version,)


def test_a_late_acknowledgement_from_before_a_crash_never_counts_for_a_new_put() -> None:
    """Request numbers are new after a restart: with N = W = 3, an acknowledgement of a
    put coordinated before the crash cannot complete a put coordinated after it."""
    h = harness(n=3, r=1, w=3)
    before = sent(h.deliver("c", Put("r1", "x", "a", "s.1")), Store)[0].msg.op
    h.crash()
    h.recover()
    after = sent(h.deliver("c", Put("r2", "x", "b", "s.1", (("s.1", 1),))), Store)[0].msg.op
    assert after != before
    for peer in ("n2", "n3"):  # the old put's acknowledgements arrive late
        effects = h.deliver(peer, StoreAck(before), component="replica")
        assert not sent(effects, PutReply)
    effects = [e for peer in ("n2", "n3")
               for e in h.deliver(peer, StoreAck(after), component="replica")]
    assert [e.msg.ok for e in sent(effects, PutReply)] == [True]


def test_versions_with_a_bad_clock_are_refused() -> None:
    h = harness()
    bad = Version("v", (("a", -1),))
    effects = h.deliver("n2", Store(1, "x", (bad,)), component="replica")
    assert not sent(effects, StoreAck) and replica_of(h).versions("x") == ()
    assert any(isinstance(e, Log) and "invalid clock" in e.text for e in effects)


def test_hints_are_kept_aside_offered_to_the_owner_and_deleted_once_acknowledged() -> None:
    h = harness(handoff_interval=0.5)
    version = Version.of("v", VectorClock({"a": 1}))
    h.deliver("n2", Store(1, "x", (version,), hint="n3"), component="replica")
    assert replica_of(h).versions("x") == ()  # not in the data: held for n3
    assert replica_of(h).hints == {"n3": {"x": (version,)}}
    offers = sent(h.advance(0.5), Handoff)
    assert [(e.dst, e.msg) for e in offers] == [("n3", Handoff("x", (version,)))]
    h.deliver("n3", HandoffAck("x", (version,)), component="replica")
    assert replica_of(h).hints == {} and not any(k.startswith("h/") for k in h.storage)


def test_anti_entropy_drops_a_session_that_names_tree_nodes_that_do_not_exist() -> None:
    h = NodeHarness(functools.partial(QuorumNode, detector=None), "n1", ("n2", "n3"))
    h.start()
    effects = h.deliver("n2", SyncHashes("n2", 1, 1, ((99, "0" * 16),)),
                        component="anti-entropy")
    assert any(isinstance(e, Log) and "do not exist" in e.text for e in effects)
    assert not [e for e in effects if isinstance(e, Sent)]


def test_bad_settings_are_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="r=4 and w=2 must each be at most n=3"):
        QuorumConfig(r=4)
    with pytest.raises(ConfigError, match="quorum w must be an int >= 1"):
        QuorumConfig(w=0)
    with pytest.raises(ConfigError, match="a QuorumConfig or its fields"):
        Replica(QuorumConfig(), n=3)
    sim = cluster(nodes=2, n=3)
    with pytest.raises((ConfigError, HandlerError), match="n=3 needs at least 3 nodes"):
        sim.run(until=0.1)
    sim = cluster(nodes=3)
    sim.add_client("c", QuorumClient, workload=lambda rng: {"f": "cas", "key": "x",
                                                            "value": None})
    with pytest.raises((UsageError, HandlerError), match="get and put operations"):
        sim.run(until=1.0)


# ----- strict quorums: R+W>N reads are fresh, R+W<=N ones are not ---------------------------


def fresh_reads_hold(seeds: Iterable[int]) -> None:
    siblings = reads = 0
    for seed in seeds:
        sim = strict_run(seed)
        report = fresh(sim)
        assert report, f"seed {seed}: {report.explain()}"
        reads += report.judged
        siblings += sibling_reads(sim.history)
    assert reads > 100 and siblings > 0  # many reads, and concurrent puts among them


def test_with_r_plus_w_above_n_and_no_failures_every_read_is_fresh() -> None:
    fresh_reads_hold(SEEDS)


@pytest.mark.soak
def test_with_r_plus_w_above_n_every_read_is_fresh_soak() -> None:
    fresh_reads_hold(SOAK_SEEDS)


def test_with_r_plus_w_at_most_n_stale_reads_happen_and_the_checker_catches_them() -> None:
    # The broken variant "R+W<=N taken for a strict quorum": the same workload, judged
    # by the same checker (measure_quorum counts check_fresh_reads' violations), fails
    # with R=W=1 where R=W=2 passes; the stale-read rate is measured > 0.
    slow = Network(latency=(0.001, 0.03))
    weak = measure_quorum(3, 1, 1, seeds=range(3), network=slow, keys=("k1",), ops=20)
    strict = measure_quorum(3, 2, 2, seeds=range(3), network=slow, keys=("k1",), ops=20)
    assert weak.stale_reads > 0 and weak.stale_rate > 0
    assert strict.stale_reads == 0 and strict.reads == weak.reads > 100
    # and the weaker quorums answer sooner: that is what they are for
    assert weak.get_latency.p50 < strict.get_latency.p50
    assert weak.put_latency.p50 < strict.put_latency.p50


def test_dynamo_s_coordinator_clocks_lose_puts_and_the_checkers_catch_it() -> None:
    # Counting events per coordinator (the paper's scheme) instead of per client session
    runs = [strict_run(seed, replica=CoordinatorClocks) for seed in range(2)]
    assert not all(fresh(sim) for sim in runs)
    assert not all(check_no_lost_writes(sim.history, sim.nodes) for sim in runs)


def test_a_sloppy_quorum_can_read_stale_data_even_with_r_plus_w_above_n() -> None:
    # Split {one home node, one outsider} from the rest: a put through the majority is
    # acknowledged (two homes and a stand-in); a get through the minority is answered by
    # its own home node and a stand-in, two replies, R=2, and both are stale.
    homes, walk = RING.preference_list(CART, 3), RING.walk(CART)
    minority = [homes[0], next(n for n in walk if n not in homes)]
    sim = cluster(seed=1, n=3, r=2, w=2, sloppy=True, anti_entropy=None)
    steps = [(0.5, {"f": "put", "key": CART, "value": "old"}),
             (2.0, {"f": "put", "key": CART, "value": "new"})]
    ops, think = scheduled(sim, steps)
    sim.add_client("writer", functools.partial(QuorumClient, coordinators=(homes[1],)),
                   workload=ops, think=think, ops=len(steps))
    ops, think = scheduled(sim, [(2.5, {"f": "get", "key": CART, "value": None})])
    sim.add_client("reader", functools.partial(QuorumClient, coordinators=(homes[0],)),
                   workload=ops, think=think, ops=1)
    sim.at(1.0, sim.partition, minority, [n for n in RING.nodes if n not in minority])
    sim.run(until=3.0)
    outcomes = [(e["client"], e["type"], e["value"]) for e in sim.history
                if e["type"] != "invoke"]
    assert outcomes == [("writer", "ok", "old"), ("writer", "ok", "new"),
                        ("reader", "ok", ["old"])]
    assert not fresh(sim)


# ----- concurrent puts: siblings, never lost ----------------------------------------------


def concurrent_puts(replica: type[Replica]) -> Simulation:
    """alice and bob put the same key at the same moment, neither having read it; then
    carol reads it (siblings), and puts with that read's context (reconciled)."""
    sim = cluster(seed=3, n=3, r=2, w=2, anti_entropy=None, replica=replica)
    plans: dict[str, list[tuple[float, dict[str, Any]]]] = {
        "alice": [(0.5, {"f": "put", "key": "x", "value": "a"})],
        "bob": [(0.5, {"f": "put", "key": "x", "value": "b"})],
        "carol": [(1.0, {"f": "get", "key": "x", "value": None}),
                  (1.5, {"f": "put", "key": "x", "value": "a+b"}),
                  (2.0, {"f": "get", "key": "x", "value": None})],
    }
    for name, plan in plans.items():
        ops, think = scheduled(sim, plan)
        sim.add_client(name, QuorumClient, workload=ops, think=think, ops=len(plan))
    sim.run(until=3.0)
    return sim


def test_concurrent_puts_are_kept_as_siblings_until_a_put_reconciles_them() -> None:
    sim = concurrent_puts(Replica)
    reads = [e["value"] for e in sim.history if e["f"] == "get" and e["type"] == "ok"]
    assert reads == [["a", "b"], ["a+b"]]
    report = check_no_lost_writes(sim.history, sim.nodes)
    assert report and report.judged == 3, report.explain()


def test_treating_concurrent_versions_as_ordered_loses_a_put_and_is_caught() -> None:
    sim = concurrent_puts(ConcurrentAsOrdered)
    reads = [e["value"] for e in sim.history if e["f"] == "get" and e["type"] == "ok"]
    assert reads[0] != ["a", "b"]  # one of the two vanished
    report = check_no_lost_writes(sim.history, sim.nodes)
    assert not report and "was lost" in report.explain()


def nemesis_run(seed: int, *, replica: type[Replica] = Replica, **options: Any
                ) -> Simulation:
    """Five nodes, partitions, isolations and crashes until t=2.5, then quiet until t=6;
    four clients of gets and puts on six keys."""
    options.setdefault("anti_entropy", 0.3)
    sim = cluster(seed=seed, n=3, r=2, w=2, replica=replica, **options)
    Nemesis(faults=("partition", "isolate", "crash"), interval=(0.1, 0.5),
            duration=(0.3, 1.0), stop=2.5).install(sim)
    add_clients(sim, 4, keys=tuple(f"k{i}" for i in range(6)), ops=30, reads=0.3,
                think=(0.02, 0.08), timeout=0.6)
    sim.run(until=6.0)
    return sim


def no_loss_and_convergence(seeds: Iterable[int]) -> None:
    siblings = puts = 0
    for seed in seeds:
        sim = nemesis_run(seed)
        lost = check_no_lost_writes(sim.history, sim.nodes)
        assert lost, f"seed {seed}: {lost.explain()}"
        agree = check_replicas_agree(sim.nodes)
        assert agree, f"seed {seed}: {agree.explain()}"
        assert pending_hints(sim.nodes) == {}, f"seed {seed}"
        siblings += sibling_reads(sim.history)
        puts += lost.judged
    assert siblings > 0 and puts > 100


def test_under_the_nemesis_no_acknowledged_put_is_lost_and_replicas_converge() -> None:
    no_loss_and_convergence(SEEDS[:3])


@pytest.mark.soak
def test_no_lost_puts_and_convergence_under_the_nemesis_soak() -> None:
    no_loss_and_convergence(SOAK_SEEDS)


# ----- hinted handoff ----------------------------------------------------------------------


def handoff_run(replica: type[Replica]) -> tuple[Simulation, dict[str, Any], list[str]]:
    """n3 is cut off while its keys are written (sloppy quorum: stand-ins keep hints),
    then comes back. Returns the simulation, the hints held just before the heal, and
    the keys n3 is still stale on at the end. No read repair, no anti-entropy."""
    keys = keys_homed_on("n3", 6)
    sim = cluster(seed=2, n=3, r=2, w=2, read_repair=False, anti_entropy=None,
                  replica=replica)
    coordinator = next(n for n in RING.nodes if n != "n3")
    plan = [(1.5 + 0.1 * i, {"f": "put", "key": key, "value": f"v{i}"})
            for i, key in enumerate(keys)]
    ops, think = scheduled(sim, plan)
    sim.add_client("c", functools.partial(QuorumClient, coordinators=(coordinator,)),
                   workload=ops, think=think, ops=len(plan))
    sim.at(1.0, sim.isolate, "n3")
    sim.at(3.0, sim.heal)
    sim.run(until=2.9)
    held = pending_hints(sim.nodes)
    sim.run(until=5.0)
    owner = replicas_of(sim.nodes)["n3"]
    stale = [key for i, key in enumerate(keys)
             if [v.value for v in owner.versions(key)] != [f"v{i}"]]
    assert all(e["type"] == "ok" for e in sim.history if e["type"] != "invoke")
    return sim, held, stale


def test_hinted_handoff_brings_a_recovered_node_up_to_date() -> None:
    sim, held, stale = handoff_run(Replica)
    assert sum(owners.get("n3", 0) for owners in held.values()) == 6  # all 6 went aside
    assert stale == []
    assert pending_hints(sim.nodes) == {}  # handed back, then deleted


def test_without_a_detector_a_silent_replica_is_replaced_after_a_timeout() -> None:
    key = keys_homed_on("n3", 1)[0]
    coordinator = next(n for n in RING.preference_list(key, 3) if n != "n3")
    sim = cluster(seed=5, n=3, r=2, w=3, detector=None, anti_entropy=None,
                  read_repair=False)  # W=3: the put needs the stand-in's ack
    ops, think = scheduled(sim, [(1.0, {"f": "put", "key": key, "value": "v"})])
    sim.add_client("c", functools.partial(QuorumClient, coordinators=(coordinator,)),
                   workload=ops, think=think, ops=1)
    sim.at(0.5, sim.isolate, "n3")
    sim.at(2.0, sim.heal)
    sim.run(until=1.9)
    assert [e["type"] for e in sim.history] == ["invoke", "ok"]
    held = pending_hints(sim.nodes)
    assert list(held.values()) == [{"n3": 1}]  # one stand-in, for n3 only
    sim.run(until=3.0)  # trusted by default: offered every half second until taken
    assert pending_hints(sim.nodes) == {}
    assert [v.value for v in replicas_of(sim.nodes)["n3"].versions(key)] == ["v"]


def test_hints_never_handed_back_are_caught() -> None:
    sim, held, stale = handoff_run(NeverHandsOff)
    assert held and len(stale) == 6 and pending_hints(sim.nodes)


# ----- read repair -------------------------------------------------------------------------


def read_repair_run(replica: type[Replica]) -> tuple[list[str], list[str]]:
    """n3 misses puts to its keys (strict quorum: W=2 of the other two), then every key
    is read. Returns the keys n3 is stale on before the reads and after them. No hints,
    no anti-entropy: only read repair can bring n3 up to date."""
    keys = keys_homed_on("n3", 5)
    sim = cluster(seed=4, n=3, r=2, w=2, sloppy=False, hinted_handoff=False,
                  anti_entropy=None, detector=None, replica=replica)
    coordinator = next(n for n in RING.nodes if n != "n3")
    plan: list[tuple[float, dict[str, Any]]] = [
        (1.0 + 0.1 * i, {"f": "put", "key": key, "value": f"v{i}"})
        for i, key in enumerate(keys)]
    plan += [(3.0 + 0.1 * i, {"f": "get", "key": key, "value": None})
             for i, key in enumerate(keys)]
    ops, think = scheduled(sim, plan)
    sim.add_client("c", functools.partial(QuorumClient, coordinators=(coordinator,)),
                   workload=ops, think=think, ops=len(plan))
    sim.at(0.5, sim.isolate, "n3")
    sim.at(2.5, sim.heal)

    def stale() -> list[str]:
        owner = replicas_of(sim.nodes)["n3"]
        return [key for i, key in enumerate(keys)
                if [v.value for v in owner.versions(key)] != [f"v{i}"]]

    sim.run(until=2.9)
    before = stale()
    sim.run(until=5.0)
    assert [e["type"] for e in sim.history if e["type"] != "invoke"] == ["ok"] * 10
    return before, stale()


def test_read_repair_brings_stale_replicas_up_to_date() -> None:
    before, after = read_repair_run(Replica)
    assert len(before) == 5 and after == []


def test_read_repair_that_writes_the_older_version_is_caught() -> None:
    before, after = read_repair_run(RepairsWithTheOlderVersion)
    assert len(before) == 5 and after == before


# ----- anti-entropy ------------------------------------------------------------------------


def anti_entropy_converges(seeds: Iterable[int], **options: Any) -> list[bool]:
    """Whether replicas agreed after the nemesis, per seed: anti-entropy is the only
    repair (no hints, no read repair, strict quorums)."""
    agreed = []
    for seed in seeds:
        sim = nemesis_run(seed, sloppy=False, read_repair=False, hinted_handoff=False,
                          **options)
        lost = check_no_lost_writes(sim.history, sim.nodes)
        assert lost, f"seed {seed}: {lost.explain()}"
        agreed.append(bool(check_replicas_agree(sim.nodes)))
    return agreed


@pytest.mark.parametrize("merkle", [True, False], ids=["merkle", "full"])
def test_anti_entropy_converges_every_replica_after_partitions_heal(merkle: bool) -> None:
    assert all(anti_entropy_converges(SEEDS, merkle=merkle))


def test_without_anti_entropy_the_same_runs_leave_replicas_apart() -> None:
    # the control: the nemesis leaves replicas behind, and nothing else repairs them
    assert not all(anti_entropy_converges(SEEDS, anti_entropy=None))


@pytest.mark.soak
def test_anti_entropy_converges_soak() -> None:
    assert all(anti_entropy_converges(SOAK_SEEDS))


# ----- the demo, determinism, the real runtime ---------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_the_demo_shows_hints_siblings_and_convergence(seed: int) -> None:
    sim = scenario(seed=seed)
    sim.run(until=12.0)
    assert isinstance(sim, QuorumDemo)
    during, healed, reconciled = (sim.holdings[t] for t in (5.6, 6.8, 7.9))
    # during the split: each side's put is on its own side, some of it as hints
    assert any(hints for _, hints in during.values())
    # after the heal and the handoff: siblings on every home node, no hint left
    for node in sim.homes:
        assert sorted(v.value for v in healed[node][0]) == ["milk,bread", "milk,eggs"]
    assert not any(hints for _, hints in healed.values())
    gets = [e["value"] for e in sim.history
            if e["client"] == "alice" and e["f"] == "get" and e["type"] == "ok"]
    assert gets == [["milk"], ["milk,bread", "milk,eggs"], ["milk,eggs,bread"]]
    for node in sim.homes:
        assert [v.value for v in reconciled[node][0]] == ["milk,eggs,bread"]
    assert check_replicas_agree(sim.nodes)
    assert check_no_lost_writes(sim.history, sim.nodes)
    assert HEAL < 7.0 and pending_hints(sim.nodes) == {}


def test_same_seed_same_trace_under_another_hash_seed() -> None:
    program = ("from dsys.demos.quorum import scenario\n"
               "sim = scenario(seed=5, until=8.0)\nsim.run(until=8.0)\n"
               "print(sim.trace.digest())")
    there = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                           env={"PYTHONHASHSEED": "12345"}, check=True).stdout
    here = scenario(seed=5, until=8.0)
    here.run(until=8.0)
    assert there == here.trace.digest() + "\n"


async def test_the_same_nodes_and_client_run_on_the_trio_runtime(tmp_path: Path) -> None:
    config = parse_cluster(cluster_text({"n1": None, "n2": None, "n3": None}))
    hosts = [NodeHost(functools.partial(QuorumNode, anti_entropy=0.2), node, config,
                      trace=tmp_path / f"{node}.jsonl", echo_logs=False, stderr=io.StringIO())
             for node in ("n1", "n2", "n3")]
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for host in hosts:
                await nursery.start(host.run)
            history = await run_client(QuorumClient, config, "c1",
                                       workload=workload("c1", ["x", "y"]), ops=30, seed=3,
                                       echo_logs=False, stderr=io.StringIO())
            nursery.cancel_scope.cancel()
    assert [e["type"] for e in history if e["type"] != "invoke"] == ["ok"] * 30
    report = check_fresh_reads(history)
    assert report and report.judged > 0, report.explain()
    # every node's trace has its own versions' notes: the same code ran there
    made = [event for node in ("n1", "n2", "n3")
            for event in Trace.load(tmp_path / f"{node}.jsonl")
            if event.kind == "note" and event.data["event"] == "version"]
    assert len(made) == sum(e["f"] == "put" and e["type"] == "ok" for e in history)
