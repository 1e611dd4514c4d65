"""Op-based CRDTs over the broadcasts of dsys.messaging.

* Over causal broadcast, the op-based counter and OR-Set converge, and their values are
  the ones the updates make, on a hostile network under the nemesis (no crashes: op-based
  replicas are crash-stop here, see dsys.replication.crdt.ops).
* Over reliable broadcast (exactly once, no order), the counter still converges (its
  operations commute) but the OR-Set does not: a remove delivered before the add it
  observed deletes nothing, the add then arrives and stays. Shown on a scripted run and
  counted over seeds; causal broadcast, on the same runs, never diverges.
* Over best-effort broadcast (a lost operation is lost), even the counter diverges.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsys import Nemesis, Network, Node, Simulation
from dsys.check import Report
from dsys.errors import UsageError
from dsys.messaging import (
    BestEffortBroadcast,
    Broadcast,
    CausalBroadcast,
    Delivery,
    ReliableBroadcast,
)
from dsys.replication.crdt import OpCounter, OpORSet, check_crdt_convergence

HOSTILE = Network(latency=(0.001, 0.010), drop=0.2, duplicate=0.2, reorder=0.4,
                  reorder_delay=0.05)
ELEMENTS = ("ann", "bob", "cid")
STOP, QUIET = 2.0, 2.0


class EagerRemover(OpORSet):
    """An OR-Set whose replica removes every element another replica adds, as soon as
    the add is delivered: removes that race their adds to the other replicas."""

    def effect(self, delivery: Delivery, op: dict[str, Any]) -> bool:
        applied = super().effect(delivery, op)
        if applied and op["op"] == "add" and delivery.origin != self.broadcast.id:
            self.remove(op["element"])
        return applied


class OpReplica(Node):
    """An op-based counter ``likes`` and set ``guests``, each over its own broadcast of
    ``protocol``; with ``until``, random updates every 20 to 80 ms until then; with
    ``eager``, replica ``b``'s set is an :class:`EagerRemover`."""

    def __init__(self, protocol: type[Broadcast], until: float = 0.0, *,
                 eager: bool = False) -> None:
        super().__init__()
        self.likes = OpCounter(self.add_component(protocol(), "likes"))
        kind = EagerRemover if eager and self.id == "b" else OpORSet
        self.guests = kind(self.add_component(protocol(), "guests"))
        self.until = until

    def on_start(self) -> None:
        if self.until:
            self.set_timer("update", self.rng.uniform(0.02, 0.08))

    def on_timer(self, name: str) -> None:
        if self.now >= self.until:
            return
        self.set_timer("update", self.rng.uniform(0.02, 0.08))
        who = self.rng.choice(ELEMENTS)
        match self.rng.randrange(4):
            case 0:
                self.likes.increment(self.rng.randint(1, 3))
            case 1:
                self.likes.decrement()
            case _ if who in self.guests and self.rng.random() < 0.7:
                self.guests.remove(who)
            case _:
                self.guests.add(who)


def member(sim: Simulation, name: str) -> OpReplica:
    node = sim.nodes[name]
    assert isinstance(node, OpReplica)
    return node


def values(sim: Simulation) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for name, node in sorted(sim.nodes.items()):
        assert isinstance(node, OpReplica)
        out[name] = {"likes": node.likes.value, "guests": node.guests.value}
    return out


def random_run(protocol: type[Broadcast], seed: int, *, nemesis: bool = True,
               eager: bool = False, stop: float = STOP, replicas: int = 4) -> Simulation:
    sim = Simulation(seed=seed, network=HOSTILE)
    for name in ("a", "b", "c", "d")[:replicas]:
        sim.add_node(name, lambda: OpReplica(protocol, until=stop, eager=eager))
    if nemesis:
        Nemesis(faults=("partition", "isolate", "oneway", "clock"), interval=(0.05, 0.3),
                duration=(0.1, 0.4), stop=stop).install(sim)
    sim.run(until=stop + QUIET)
    return sim


def judge(sim: Simulation) -> Report:
    return check_crdt_convergence(values(sim), sim.trace)


@pytest.mark.dsys(runs=3)
def test_over_causal_broadcast_both_converge_under_the_nemesis(dsys_seed: int) -> None:
    sim = random_run(CausalBroadcast, dsys_seed)
    report = judge(sim)
    assert report, report.explain()
    ops = [e for e in sim.trace if e.kind == "note" and e.data.get("event") == "crdt"]
    assert len(ops) > 60 and any(e.data["op"] == "remove" for e in ops)


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(3, 40))
def test_soak_over_causal_broadcast_both_converge(seed: int) -> None:
    report = judge(random_run(CausalBroadcast, seed))
    assert report, report.explain()


def scripted(protocol: type[Broadcast], seed: int) -> Simulation:
    """``a`` adds x; ``b`` delivers the add and removes x. ``a``'s link to ``c`` is slow
    and ``b``'s relay of the add to ``c`` is lost (re-sent 50 ms later), so the remove
    reaches ``c`` before the add it observed."""
    sim = Simulation(seed=seed, network=Network(latency=(0.001, 0.010)))
    for name in ("a", "b", "c"):
        sim.add_node(name, lambda: OpReplica(protocol))
    sim.network.set_link("a", "c", latency=0.5)
    sim.at(0.0, sim.block, "b", "c")
    sim.at(0.10, lambda: member(sim, "a").guests.add("x"))
    sim.at(0.12, sim.heal)
    sim.at(0.13, lambda: member(sim, "b").guests.remove("x"))
    sim.run(until=1.5)
    return sim


@pytest.mark.parametrize("seed", range(3))
def test_a_remove_delivered_before_its_add_leaves_the_element_for_ever(seed: int) -> None:
    sim = scripted(ReliableBroadcast, seed)
    assert {n: v["guests"] for n, v in values(sim).items()} == {
        "a": (), "b": (), "c": ("x",)}
    # c delivered the remove first: the trace shows it.
    delivered = [e.data["payload"]["op"] for e in sim.trace
                 if e.node == "c" and e.kind == "note" and e.data.get("event") == "deliver"
                 and e.data.get("component") == "guests"]
    assert delivered == ["remove", "add"]
    report = judge(sim)
    assert not report
    assert "'guests' differs: a, b hold (); c holds ('x',)" in report.explain()
    assert "c: elements ('x',), but the adds not observed-removed are ()" in report.explain()


@pytest.mark.parametrize("seed", range(3))
def test_causal_broadcast_holds_the_remove_back_until_its_add(seed: int) -> None:
    sim = scripted(CausalBroadcast, seed)
    assert {n: v["guests"] for n, v in values(sim).items()} == {"a": (), "b": (), "c": ()}
    delivered = [e.data["payload"]["op"] for e in sim.trace
                 if e.node == "c" and e.kind == "note" and e.data.get("event") == "deliver"
                 and e.data.get("component") == "guests"]
    assert delivered == ["add", "remove"]
    report = judge(sim)
    assert report, report.explain()


@pytest.mark.parametrize("seed", range(2))
def test_over_reliable_broadcast_racing_removes_diverge_the_counter_never(seed: int) -> None:
    # b removes what others add as soon as it sees it; on a reordering network some of
    # those removes overtake their adds on the way to a third replica.
    causal = judge(random_run(CausalBroadcast, seed, eager=True, stop=1.0, replicas=3))
    assert causal, causal.explain()
    reliable = judge(random_run(ReliableBroadcast, seed, eager=True, stop=1.0, replicas=3))
    assert not reliable
    assert "'guests' differs" in reliable.explain()
    assert "'likes'" not in reliable.explain()  # operations that commute converge


def test_over_best_effort_broadcast_a_lost_increment_is_lost() -> None:
    sim = Simulation(seed=1, network=Network(latency=(0.001, 0.010)))
    for name in ("a", "b", "c"):
        sim.add_node(name, lambda: OpReplica(BestEffortBroadcast))
    sim.at(0.1, sim.block, "a", "c")
    sim.at(0.15, lambda: member(sim, "a").likes.increment(2))
    sim.at(0.2, sim.heal)
    sim.run(until=1.0)
    report = judge(sim)
    assert not report
    assert "c: value 0, but the acknowledged updates add up to 2" in report.explain()


def test_each_object_needs_its_own_broadcast() -> None:
    shared = CausalBroadcast()
    OpCounter(shared)
    with pytest.raises(UsageError, match="already delivers to someone else"):
        OpORSet(shared)
    with pytest.raises(UsageError, match="needs a broadcast component"):
        OpCounter(object())  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="positive integer"):
        OpCounter(CausalBroadcast()).increment(0)
