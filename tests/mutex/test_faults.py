"""Behaviour under faults, as the docs page describes it.

The three algorithms assume reliable channels and no crashes. Under message loss they stay
safe but get stuck; a crashed token holder loses the token for good; a crashed
coordinator loses its queue, and once restarted may even let a second node in.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsys import InvariantViolation, Network, Simulation
from dsys.demos.mutex_workload import Workload, add_workload, finished, simulate, workloads
from dsys.mutex import (
    ALGORITHMS,
    CentralMutex,
    RicartAgrawala,
    TokenRing,
    check_liveness,
    check_safety,
    safety_invariant,
)
from dsys.testing import SimulationFactory


def enters(sim: Simulation, after: float = 0.0) -> list[tuple[float, str]]:
    return [(e.time, e.node) for e in sim.trace
            if e.kind == "note" and e.data["event"] == "enter" and e.time > after]


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_message_loss_never_breaks_safety_but_leaves_requests_stuck(name: str) -> None:
    stuck = 0
    for seed in range(20):
        # The invariant is checked after every event: loss never lets two nodes in.
        sim = simulate(ALGORITHMS[name], nodes=4, seed=seed, network=Network(drop=0.05))
        done = sim.run_until(finished, timeout=5.0)
        assert check_safety(sim.trace).ok
        liveness = check_liveness(sim.trace)
        assert liveness.ok == done  # stuck exactly when a request was never served
        if not done:
            stuck += 1
            assert "never entered (still waiting when the trace ends" in liveness.explain()
    assert stuck >= 15  # with 5% loss, almost every run loses some message it needed


def token_holder(sim: Simulation) -> str | None:
    """The node holding the token right now (None while it is in flight)."""
    holders = [i for i, node in workloads(sim).items()
               if isinstance(node.mutex, TokenRing) and node.mutex.has_token]
    assert len(holders) <= 1
    return holders[0] if holders else None


@pytest.mark.dsys(runs=10)
def test_a_crashed_token_holder_loses_the_token_for_good(simulation: SimulationFactory) -> None:
    sim = add_workload(simulation(), TokenRing, 4, think=(0.0, 0.0), requests=None)
    sim.run(until=0.1)
    assert sim.run_until(lambda s: token_holder(s) is not None, timeout=1.0)
    holder = token_holder(sim)
    assert holder is not None
    crash_time = sim.now
    sim.crash(holder)
    sim.at(crash_time + 0.1, sim.restart, holder)  # restarting does not bring the token back
    sim.run(until=crash_time + 2.0)
    assert enters(sim, after=crash_time) == []
    assert not any(e.kind == "send" for e in sim.trace if e.time > crash_time)
    # Every node asks again at once (no think time), the restarted one too: all are stuck.
    stuck = check_liveness(sim.trace).violations
    assert sorted(v.nodes[0] for v in stuck) == list(sim.node_ids)
    assert check_safety(sim.trace).ok


def test_the_token_is_also_lost_when_passed_to_a_crashed_node() -> None:
    sim = simulate(TokenRing, nodes=4, requests=3)
    sim.at(0.0, sim.crash, "n3")  # just after it starts
    sim.run(until=2.0)
    stats = sim.statistics()
    assert stats.dropped_by_reason == {"crashed": 1}
    assert not finished(sim)
    assert not check_liveness(sim.trace).ok and check_safety(sim.trace).ok


def one_shot(think: float, hold: float, requests: int = 1) -> Any:
    """A workload node that asks once, at ``think``, and stays ``hold`` seconds."""
    return lambda: Workload(CentralMutex, think=(think, think), hold=(hold, hold),
                            requests=requests)


def coordinator_crash(invariant: bool) -> Simulation:
    """n1 coordinates. n2 enters at ~0.01 and stays 0.5 s; n3 asks at 0.05 and is queued.
    n1 crashes at 0.1 and restarts at 0.2 with an empty memory. n4 asks at 0.3."""
    sim = Simulation(seed=1)
    sim.add_node("n1", one_shot(0.0, 0.0, requests=0))
    sim.add_node("n2", one_shot(0.001, 0.5))
    sim.add_node("n3", one_shot(0.05, 0.01))
    sim.add_node("n4", one_shot(0.3, 0.01))
    if invariant:
        sim.add_invariant(safety_invariant)
    sim.at(0.1, sim.crash, "n1")
    sim.at(0.2, sim.restart, "n1")
    return sim


def test_a_crashed_coordinator_forgets_its_queue_and_the_holder() -> None:
    sim = coordinator_crash(invariant=False)
    sim.run(until=2.0)
    # n3's queued request died with the coordinator's memory: n3 waits forever.
    [waiting] = check_liveness(sim.trace).violations
    assert waiting.nodes == ("n3",)
    # The restarted coordinator thinks the lock is free and lets n4 in beside n2.
    [double] = check_safety(sim.trace).violations
    assert double.nodes == ("n4", "n2")
    assert "n4 entered at t=0.3" in double.text and "n2 (inside since t=0.0" in double.text


def test_the_invariant_catches_the_restarted_coordinator() -> None:
    sim = coordinator_crash(invariant=True)
    with pytest.raises(InvariantViolation, match="n2 and n4 are in the critical section"):
        sim.run(until=2.0)


def test_ricart_agrawala_needs_every_node_alive() -> None:
    # n3 is down from the start: nobody gets its reply, so nobody ever enters.
    sim = simulate(RicartAgrawala, nodes=3, requests=2)
    sim.at(0.0, sim.crash, "n3")  # just after it starts
    sim.run(until=2.0)
    assert enters(sim) == []
    stuck = check_liveness(sim.trace).violations
    assert sorted(v.nodes for v in stuck) == [("n1",), ("n2",)]
