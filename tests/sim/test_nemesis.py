"""The nemesis injects every fault kind on a seeded schedule and cleans up at stop."""

from __future__ import annotations

import pytest

from dsys import ConfigError, Nemesis, Network, Simulation
from dsys.demos.election import SERVERS, Server, settled
from dsys.election import check_agreement, one_leader_per_epoch_invariant


def election_cluster(seed: int, nemesis: Nemesis) -> Simulation:
    """The election demo's servers (bully on a heartbeat detector), without its story."""
    sim = Simulation(seed=seed, network=Network(latency=(0.002, 0.012)))
    for node_id in SERVERS:
        sim.add_node(node_id, Server)
    nemesis.install(sim)
    return sim


def test_nemesis_uses_every_fault_kind_and_never_crashes_a_majority() -> None:
    kinds = set()
    for seed in range(6):
        nemesis = Nemesis(faults=("partition", "isolate", "oneway", "crash", "clock"),
                          interval=(0.1, 0.3), duration=(0.1, 0.4), stop=4.0)
        sim = election_cluster(seed, nemesis)
        sim.add_invariant(lambda s: len(s.crashed) <= 2)
        sim.run(until=4.0)
        assert len(nemesis.history) >= 8
        kinds |= {kind for _, kind, _ in nemesis.history}
        # At stop everything is healed and restarted.
        assert nemesis.history[-1][1] == "halt"
        assert all(sim.is_up(n) for n in sim.node_ids) and not sim.blocked("n1", "n2")
        trace_kinds = {e.kind for e in sim.trace}
        assert {"crash", "restart", "partition", "heal"} <= trace_kinds
    assert kinds == {"partition", "isolate", "oneway", "crash", "clock", "halt"}


@pytest.mark.parametrize("seed", range(4))
def test_after_the_nemesis_stops_the_cluster_elects_exactly_one_leader(seed: int) -> None:
    sim = election_cluster(seed, Nemesis(interval=(0.2, 0.5), duration=(0.2, 0.6), stop=3.0))
    sim.add_invariant(one_leader_per_epoch_invariant)
    sim.run(until=3.0)
    assert len(sim.nodes) == len(SERVERS)  # the nemesis restarted every crashed server
    assert sim.run_until(settled, timeout=3.0)  # all follow one live leader, which leads
    leaders = [n for n, node in sim.nodes.items() if node.election.is_leader]  # type: ignore[attr-defined]
    assert leaders == ["n5"]  # bully: the highest server, once nothing is cut off
    assert check_agreement(sim.trace)


def test_same_seed_same_nemesis_schedule() -> None:
    runs = [election_cluster(7, n := Nemesis(stop=3.0)) for _ in range(2)]
    histories = []
    for sim in runs:
        sim.run(until=3.0)
        histories.append(sim.trace.digest())
    assert histories[0] == histories[1]


@pytest.mark.parametrize("kwargs", [{"faults": ("meteor",)}, {"faults": ()},
                                    {"interval": (0.0, 1.0)}, {"duration": (2.0, 1.0)}])
def test_bad_nemesis_settings(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Nemesis(**kwargs)  # type: ignore[arg-type]


def test_network_faults_can_cut_clients_off_but_never_crash_them() -> None:
    from tests.sim.test_running import Register, Writer, writes

    sim = Simulation(seed=2, network=Network(latency=0.002))
    sim.add_node("server", Register)
    for c in ("c0", "c1"):
        sim.add_client(c, Writer, workload=writes, ops=None, think=0.01)
    nemesis = Nemesis(faults=("partition", "isolate", "oneway", "crash"), include_clients=True,
                      interval=(0.05, 0.1), duration=(0.05, 0.1), max_crashed=1,
                      stop=3.0).install(sim)
    sim.run(until=3.0)
    cut = [e for e in sim.trace if e.kind == "drop" and e.data["reason"] == "partition"]
    assert {e.data["from"] for e in cut} & {"c0", "c1"}  # clients were cut off
    assert {kind for _, kind, _ in nemesis.history} >= {"partition", "isolate", "oneway"}
    assert not [e for e in sim.trace if e.kind == "crash" and e.node in ("c0", "c1")]
    # Without the option, clients are never cut off.
    plain = Simulation(seed=2, network=Network(latency=0.002))
    plain.add_node("server", Register)
    plain.add_node("other", Register)
    plain.add_client("c0", Writer, workload=writes, ops=None, think=0.01)
    Nemesis(faults=("partition", "oneway"), interval=(0.05, 0.1), duration=(0.05, 0.1),
            stop=2.0).install(plain)
    plain.run(until=2.0)
    assert not [e for e in plain.trace if e.kind == "drop" and e.data["from"] == "c0"
                and e.data["reason"] == "partition"]
