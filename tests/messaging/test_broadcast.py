"""The broadcast family keeps its promises under loss, duplication, reordering and crashes,
as judged by the trace checkers, and shows its documented limits."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dsys import Nemesis, Network, Node, Simulation
from dsys.messaging import (
    BestEffortBroadcast,
    Broadcast,
    CausalBroadcast,
    Delivery,
    FifoBroadcast,
    IsisBroadcast,
    ReliableBroadcast,
    SequencerBroadcast,
    check_agreement,
    check_broadcast,
    check_total_order,
    check_validity,
)
from tests.messaging.helpers import HOSTILE, run_group

Protocol = Callable[[Callable[[Delivery], None]], Broadcast]
ALL: list[Protocol] = [ReliableBroadcast, FifoBroadcast, CausalBroadcast, SequencerBroadcast,
                       IsisBroadcast]


@pytest.mark.dsys(runs=12)
@pytest.mark.parametrize("protocol", ALL, ids=lambda p: p.__name__)
def test_promises_hold_on_a_hostile_network(protocol: type[Broadcast], dsys_seed: int) -> None:
    sim = run_group(protocol, dsys_seed, nodes=4, count=3, reply=0.3, network=HOSTILE)
    report = check_broadcast(sim.trace, protocol.guarantees)
    assert report, report.explain()
    # Everything was delivered everywhere (validity judged it), and there was plenty of it.
    delivered = [len(sim.nodes[n].components[protocol.default_name].delivered)  # type: ignore[attr-defined]
                 for n in sim.node_ids]
    assert len(set(delivered)) == 1 and delivered[0] >= 12


@pytest.mark.dsys(runs=8)
@pytest.mark.parametrize("protocol", [ReliableBroadcast, FifoBroadcast, CausalBroadcast,
                                      SequencerBroadcast], ids=lambda p: p.__name__)
def test_promises_hold_through_crashes_and_partitions(protocol: type[Broadcast],
                                                      dsys_seed: int) -> None:
    nemesis = Nemesis(faults=("crash", "partition"), interval=(0.2, 0.5),
                      duration=(0.2, 0.5), stop=3.0, max_crashed=1)
    sim = run_group(protocol, dsys_seed, nodes=5, count=4, spread=2.5, reply=0.3,
                    network=HOSTILE, until=6.0, nemesis=nemesis)
    assert any(kind == "crash" for _, kind, _ in nemesis.history)
    report = check_broadcast(sim.trace, protocol.guarantees)
    assert report, report.explain()


def block_all_from(sim: Simulation, node: str, *, but: tuple[str, ...] = ()) -> None:
    for other in sim.node_ids:
        if other != node and other not in but:
            sim.block(node, other)


class OneShot(Node):
    """n1 broadcasts "x" at t = 0.1; nobody else broadcasts."""

    def __init__(self, protocol: Protocol) -> None:
        super().__init__()
        self.bcast = self.add_component(protocol(lambda d: None))

    def on_start(self) -> None:
        if self.id == "n1":
            self.set_timer("go", 0.1)

    def on_timer(self, name: str) -> None:
        self.bcast.broadcast("x")


def one_shot(protocol: Protocol, reach: tuple[str, ...]) -> Simulation:
    """n1 broadcasts while its messages can reach only ``reach``, then crashes for good."""
    sim = Simulation(seed=1)
    for i in range(1, 5):
        sim.add_node(f"n{i}", lambda: OneShot(protocol))
    sim.at(0.05, block_all_from, sim, "n1", but=reach)
    sim.at(0.101, sim.crash, "n1")  # right after its broadcast
    sim.at(0.15, sim.heal)
    sim.run(until=2.0)
    return sim


def test_a_sender_crash_splits_best_effort_but_not_reliable_broadcast() -> None:
    beb = one_shot(BestEffortBroadcast, reach=("n2",))
    assert [v.text for v in check_agreement(beb.trace).violations] == [
        "n1:1:0 ('x') was delivered by n2 at t=0.102580 but never by correct process(es) n3, n4"]
    rb = one_shot(ReliableBroadcast, reach=("n2",))
    assert check_broadcast(rb.trace, ReliableBroadcast.guarantees)  # n2 relayed it


def test_reliable_broadcast_is_not_uniform() -> None:
    sim = one_shot(ReliableBroadcast, reach=())  # n1 delivers its own message, then dies
    assert check_agreement(sim.trace)
    uniform = check_agreement(sim.trace, uniform=True)
    assert [v.nodes for v in uniform.violations] == [("n1", "n2", "n3", "n4")]


@pytest.mark.dsys(runs=6)
def test_a_restarted_sequencer_keeps_the_order_and_resumes(dsys_seed: int) -> None:
    def scenario(sim: Simulation) -> None:
        sim.at(0.4, sim.crash, "n1")  # the sequencer, in the middle of the traffic
        sim.at(1.0, sim.restart, "n1")

    sim = run_group(SequencerBroadcast, dsys_seed, nodes=4, count=5, spread=0.8,
                    network=HOSTILE, until=4.0, scenario=scenario)
    assert sim.node("n1") is not None
    # n1's new incarnation counts as a member: it re-delivers the durable log in order.
    correct = ["n1", "n2", "n3", "n4"]
    report = check_broadcast(sim.trace, SequencerBroadcast.guarantees, correct)
    assert report, report.explain()


def test_a_sequencer_that_stays_down_stops_delivery_but_not_safety() -> None:
    def scenario(sim: Simulation) -> None:
        sim.at(0.2, sim.crash, "n1")

    sim = run_group(SequencerBroadcast, 3, nodes=4, count=4, spread=0.8, network=HOSTILE,
                    until=3.0, scenario=scenario)
    assert not check_validity(sim.trace)
    assert check_broadcast(sim.trace, ["no-duplication", "no-creation", "agreement",
                                       "total-order"])


def test_isis_blocks_when_an_origin_crashes_between_proposals_and_agreement() -> None:
    def scenario(sim: Simulation) -> None:
        sim.at(0.0, sim.block, "n1", "n2")  # n2 never gets n1's messages at first...
        sim.at(0.45, sim.crash, "n1")       # ...and n1 dies before it can agree on them
        sim.at(0.5, sim.heal)

    sim = run_group(IsisBroadcast, 2, nodes=4, count=3, spread=0.4, network={},
                    until=3.0, scenario=scenario)
    validity = check_validity(sim.trace)
    assert not validity, "the survivors should be stuck behind n1's undeliverable messages"
    assert check_total_order(sim.trace)  # what was delivered is still in one order


@pytest.mark.parametrize("protocol", ALL, ids=lambda p: p.__name__)
def test_a_group_can_leave_nodes_out(protocol: type[Broadcast]) -> None:
    class Member(Node):
        def __init__(self) -> None:
            super().__init__()
            self.bcast = self.add_component(protocol(group=["a", "b", "c"]))

        def on_start(self) -> None:
            if self.id != "observer":
                self.bcast.broadcast(self.id)

    sim = Simulation(seed=4, network=Network(**HOSTILE))
    for name in ("a", "b", "c", "observer"):
        sim.add_node(name, Member)
    sim.run(until=2.0)
    assert check_broadcast(sim.trace, protocol.guarantees, correct=["a", "b", "c"])
    assert sim.trace.filter(nodes=["observer"], kinds=["recv"]).nodes == ()


def test_ids_callbacks_and_epochs() -> None:
    got: list[Delivery] = []

    class Member(Node):
        def __init__(self) -> None:
            super().__init__()
            self.bcast = self.add_component(FifoBroadcast(got.append if self.id == "b" else None))

        def on_start(self) -> None:
            if self.id == "a":
                self.ids = [self.bcast.broadcast(n) for n in range(2)]

    sim = Simulation(seed=1)
    sim.add_node("a", Member)
    sim.add_node("b", Member)
    sim.run(until=1.0)
    assert sim.node("a").ids == ["a:1:0", "a:1:1"]  # type: ignore[union-attr]
    assert got == [Delivery("a:1:0", "a", 0), Delivery("a:1:1", "a", 1)]
    sim.crash("a")
    sim.restart("a")  # a new incarnation: a new epoch, so new ids
    sim.run(until=2.0)
    assert sim.node("a").ids == ["a:2:0", "a:2:1"]  # type: ignore[union-attr]
    assert [d.id for d in got[2:]] == ["a:2:0", "a:2:1"]


def test_same_seed_same_trace() -> None:
    digests = {run_group(CausalBroadcast, 9, reply=0.5, network=HOSTILE).trace.digest()
               for _ in range(2)}
    assert len(digests) == 1


@pytest.mark.dsys(runs=6)
@pytest.mark.parametrize("protocol", [ReliableBroadcast, FifoBroadcast, CausalBroadcast],
                         ids=lambda p: p.__name__)
def test_a_member_that_crashes_for_good_does_not_stop_the_others(
    protocol: type[Broadcast], dsys_seed: int
) -> None:
    def scenario(sim: Simulation) -> None:
        sim.at(0.05 + 0.05 * (dsys_seed % 5), sim.crash, "n2")  # in the middle of the traffic

    sim = run_group(protocol, dsys_seed, nodes=4, count=4, reply=0.3, network=HOSTILE,
                    scenario=scenario)
    assert sim.crashed == ("n2",)
    report = check_broadcast(sim.trace, protocol.guarantees)
    assert report, report.explain()
    assert check_validity(sim.trace).judged >= 12  # the survivors' messages all arrived


@pytest.mark.soak
@pytest.mark.parametrize("protocol", [ReliableBroadcast, FifoBroadcast, CausalBroadcast,
                                      SequencerBroadcast], ids=lambda p: p.__name__)
def test_soak_many_seeds_of_crashes_and_partitions(protocol: type[Broadcast]) -> None:
    for seed in range(200):
        nemesis = Nemesis(faults=("crash", "partition", "isolate"), interval=(0.1, 0.4),
                          duration=(0.1, 0.4), stop=4.0, max_crashed=2)
        sim = run_group(protocol, seed, nodes=6, count=5, spread=3.5, reply=0.3,
                        network=HOSTILE, until=8.0, nemesis=nemesis)
        report = check_broadcast(sim.trace, protocol.guarantees)
        assert report, f"seed {seed}: {report.explain()}"


@pytest.mark.soak
def test_soak_isis_and_causal_on_many_hostile_seeds() -> None:
    for protocol in (IsisBroadcast, CausalBroadcast):
        for seed in range(300):
            sim = run_group(protocol, seed, nodes=5, count=4, reply=0.4, network=HOSTILE)
            report = check_broadcast(sim.trace, protocol.guarantees)
            assert report, f"{protocol.__name__} seed {seed}: {report.explain()}"


class TwoGroups(Node):
    """Two causal-broadcast groups on every node: {a, b, c} and {b, c, d}."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: dict[str, CausalBroadcast] = {}
        for name, members in (("g1", "abc"), ("g2", "bcd")):
            if self.id in members:
                self.groups[name] = self.add_component(CausalBroadcast(group=members), name=name)

    def on_start(self) -> None:
        for name, group in self.groups.items():
            group.broadcast(f"{name} from {self.id}")


@pytest.mark.dsys(runs=6)
def test_two_groups_of_one_protocol_share_nodes_and_stay_apart(dsys_seed: int) -> None:
    sim = Simulation(seed=dsys_seed, network=Network(**HOSTILE))
    for node_id in "abcd":
        sim.add_node(node_id, TwoGroups)
    sim.run(until=3.0)
    for name, members in (("g1", "abc"), ("g2", "bcd")):
        report = check_broadcast(sim.trace, CausalBroadcast.guarantees, members, component=name)
        assert report, report.explain()
        expected = sorted(f"{name} from {m}" for m in members)
        for member in members:
            assert sorted(sim.node(member).groups[name].payloads) == expected
