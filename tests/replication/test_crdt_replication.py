"""CrdtReplication in the simulator: random updates on five objects under the seeded
Nemesis (partitions, one-way links, isolation, crashes with restart, clock jumps) and a
network that loses, duplicates and reorders; after the faults stop and a quiet period,
the convergence checker judges every live replica. A few seeds by default, many with
``pytest --soak``. Then what breaks when a piece is missing (the sync before an update
returns, merge itself), the checker's own verdicts, and hostile input.
"""

from __future__ import annotations

import pytest

from dsys import Nemesis, Network, Simulation
from dsys.core import codec
from dsys.demos.crdt import Replica, Workload, cluster
from dsys.errors import UsageError
from dsys.replication.crdt import (
    Crdt,
    CrdtGossip,
    CrdtReplication,
    CrdtState,
    GCounter,
    ORSet,
    PNCounter,
    check_crdt_convergence,
    crdt_states,
)

HOSTILE = Network(latency=(0.001, 0.010), drop=0.2, duplicate=0.2, reorder=0.4,
                  reorder_delay=0.05)
FAULTS = ("partition", "isolate", "oneway", "crash", "clock")
STOP = 3.0  # faults and updates stop here
QUIET = 3.0  # then this long for gossip to carry everything everywhere


def run_under_nemesis(seed: int, *, replicas: int = 5,
                      replication: type[CrdtReplication] = CrdtReplication,
                      ) -> tuple[Simulation, Nemesis]:
    nemesis = Nemesis(faults=FAULTS, interval=(0.05, 0.3), duration=(0.1, 0.5), stop=STOP,
                      max_crashed=2)
    sim = Simulation(seed=seed, network=HOSTILE)
    for i in range(replicas):
        sim.add_node(chr(ord("a") + i), lambda: Replica(workload=Workload(until=STOP),
                                                        replication=replication))
    nemesis.install(sim)
    # One crash and restart on every seed, whatever the nemesis draws.
    sim.at(1.0, sim.crash, "a")
    sim.at(2.0, sim.restart, "a")
    sim.run(until=STOP + QUIET)
    return sim, nemesis


def crdts(sim: Simulation, replica: str) -> CrdtReplication:
    node = sim.nodes[replica]
    assert isinstance(node, Replica)
    return node.crdts


def judge(sim: Simulation) -> None:
    report = check_crdt_convergence(crdt_states(sim.nodes), sim.trace)
    assert report, report.explain()


@pytest.mark.dsys(runs=3)
def test_replicas_converge_and_explain_their_values_under_the_nemesis(dsys_seed: int) -> None:
    sim, nemesis = run_under_nemesis(dsys_seed)
    assert len(nemesis.history) >= 5  # faults, then the halt
    updates = sum(1 for e in sim.trace if e.kind == "note" and e.data.get("event") == "crdt")
    assert updates > 100
    assert sorted(sim.nodes) == ["a", "b", "c", "d", "e"]  # everyone is back
    states = crdt_states(sim.nodes)
    assert sorted(states["a"]) == ["cart", "guests", "likes", "title", "views"]
    judge(sim)


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(4, 60))
def test_soak_replicas_converge_under_the_nemesis(seed: int) -> None:
    sim, _ = run_under_nemesis(seed, replicas=3 + seed % 5)
    judge(sim)


def test_an_update_survives_a_crash_right_after_it_returns() -> None:
    # b increments and crashes at once, losing every unsynced write, before any gossip.
    sim = cluster(1, replicas=3)
    sim.at(0.2, lambda: crdts(sim, "b").counter("likes").increment(5))
    sim.at(0.2, sim.crash, "b", unsynced="lost")
    sim.at(0.2, sim.partition, ["b"], ["a", "c"])  # (and nothing of it got out)
    sim.at(0.5, sim.restart, "b")
    sim.at(0.5, sim.heal)
    sim.run(until=1.5)
    assert [crdts(sim, n).counter("likes").value for n in "abc"] == [5, 5, 5]
    judge(sim)


class NoSync(CrdtReplication):
    """A broken replication that does not sync before an update returns."""

    def update(self, name: str, state: Crdt, op: str, **details: object) -> None:
        self.objects[name] = state
        self.storage[self._key(name)] = state.to_json()
        self.note("crdt", object=name, type=state.type_name, op=op, **details)


def test_without_the_sync_the_checker_sees_acknowledged_updates_lost() -> None:
    sim = Simulation(seed=1, network=Network(latency=(0.001, 0.010)))
    for name in "abc":
        sim.add_node(name, lambda: Replica(replication=NoSync))
    sim.at(0.1, lambda: crdts(sim, "a").counter("likes").increment())
    sim.at(0.2, sim.partition, ["b"], ["a", "c"])
    sim.at(0.3, lambda: crdts(sim, "b").counter("likes").increment(5))
    sim.at(0.3, sim.crash, "b", unsynced="lost")
    sim.at(0.5, sim.restart, "b")
    sim.at(0.5, sim.heal)
    sim.run(until=1.5)
    report = check_crdt_convergence(crdt_states(sim.nodes), sim.trace)
    assert not report
    assert "value 1, but the acknowledged updates add up to 6" in report.explain()


class LastStateWins(CrdtReplication):
    """A broken replication that overwrites its state with whatever arrives (no merge)."""

    def on_message(self, src: str, msg: object) -> None:
        if isinstance(msg, CrdtGossip):
            for entry in msg.objects:
                self.objects[entry.name] = Crdt.from_json(entry.state)


@pytest.mark.parametrize("seed", range(2))
def test_without_merge_the_checker_sees_lost_updates(seed: int) -> None:
    sim, _ = run_under_nemesis(seed, replicas=3, replication=LastStateWins)
    report = check_crdt_convergence(crdt_states(sim.nodes), sim.trace)
    assert not report
    assert "but the acknowledged updates add up to" in report.explain()


# ----- the checker's verdicts ----------------------------------------------------------------


def test_the_checker_flags_equal_states_that_the_updates_do_not_explain() -> None:
    sim = cluster(2, replicas=3)
    sim.at(0.1, lambda: crdts(sim, "a").counter("likes").increment(2))
    sim.at(0.1, lambda: crdts(sim, "b").orset("guests").add("ann"))
    sim.run(until=1.0)
    states = crdt_states(sim.nodes)
    assert check_crdt_convergence(states, sim.trace)
    # Every replica agrees on a wrong counter (b's entry where a's should be)...
    wrong = {r: {**objects, "likes": PNCounter().increment("b", 2)}
             for r, objects in states.items()}
    report = check_crdt_convergence(wrong, sim.trace)
    assert not report and "entry of a is 0" in report.explain()
    # ... or on a set that lost an add: convergence holds, explanation fails.
    lost = {r: {**objects, "guests": ORSet()} for r, objects in states.items()}
    report = check_crdt_convergence(lost, sim.trace)
    assert len(report.violations) == 1
    assert "adds not observed-removed are ('ann',)" in report.explain()
    # Without the trace only agreement is judged.
    assert check_crdt_convergence(lost)


def test_the_checker_names_the_replicas_that_differ() -> None:
    one, two = GCounter().increment("a"), GCounter().increment("a", 2)
    report = check_crdt_convergence({"a": {"n": one}, "b": {"n": two}, "c": {"n": two}})
    assert not report
    assert "a holds 1" in report.explain() and "b, c hold 2" in report.explain()


# ----- usage and hostile input -----------------------------------------------------------------


def test_an_object_has_one_type() -> None:
    sim = cluster(1, replicas=2)
    sim.run(until=0.01)
    replication = crdts(sim, "a")
    replication.counter("likes").increment()
    with pytest.raises(UsageError, match="'likes' is a PNCounter on a, not a ORSet"):
        replication.orset("likes")
    with pytest.raises(UsageError, match="non-empty string"):
        replication.counter("")


def test_a_bad_state_from_a_peer_is_logged_and_ignored() -> None:
    sim = cluster(1, replicas=2)
    sim.at(0.1, lambda: crdts(sim, "a").counter("likes").increment())
    bad = {"type": GCounter().to_json()["type"], "body": {"counts": [["z", -5]]}}
    conflicting = ORSet().add("x", "z").to_json()
    sim.at(0.2, lambda: crdts(sim, "b").send(
        "a", CrdtGossip((CrdtState("views", bad), CrdtState("likes", conflicting)))))
    sim.run(until=1.0)
    logs = [e.data["text"] for e in sim.trace if e.kind == "log" and e.node == "a"]
    assert any("ignored the state of 'views'" in text for text in logs)
    assert any("holds 'likes' as a ORSet" in text for text in logs)
    assert crdts(sim, "a").counter("likes").value == 1


def test_gossip_states_cross_the_codec() -> None:
    msg = CrdtGossip((CrdtState("likes", PNCounter().increment("a").to_json()),), reply=True)
    back = codec.decode(codec.loads(codec.dumps(codec.encode(msg))))
    assert back == msg and Crdt.from_json(back.objects[0].state).value == 1


def test_the_same_seed_gives_the_same_trace() -> None:
    def run() -> str:
        nemesis = Nemesis(faults=FAULTS, interval=(0.05, 0.2), duration=(0.1, 0.3), stop=1.0)
        sim = cluster(5, replicas=3, network=HOSTILE, workload=Workload(until=1.0),
                      nemesis=nemesis)
        sim.run(until=1.5)
        return sim.trace.digest()

    assert run() == run()
