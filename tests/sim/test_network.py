"""The network model: latency distributions, loss, duplication, reordering, links."""

from __future__ import annotations

import statistics as stats

import pytest

from dsys import ConfigError, Constant, Exponential, Network, Simulation, Uniform
from tests.sim.helpers import Recorder, Sender, sends_and_delivers


def run_pair(network: Network, seed: int = 0, count: int = 400, gap: float = 0.0) -> Simulation:
    class S(Sender):
        pass

    S.count, S.gap = count, gap
    sim = Simulation(seed=seed, network=network)
    sim.add_node("a", S)
    sim.add_node("b", Recorder)
    sim.run(until=100.0)
    return sim


def delays(sim: Simulation) -> list[float]:
    sent, delivered = sends_and_delivers(sim)
    return [t - sent[i] for i, ts in delivered.items() for t in ts]


def test_constant_latency_is_exact_and_keeps_order() -> None:
    sim = run_pair(Network(latency=0.004))
    assert set(round(d, 12) for d in delays(sim)) == {0.004}
    got = [n for _, _, n in sim.node("b").got]
    assert got == list(range(400))


def test_uniform_latency_stays_in_bounds_and_covers_them() -> None:
    d = delays(run_pair(Network(latency=(0.001, 0.010))))
    assert len(d) == 400
    assert min(d) >= 0.001 and max(d) <= 0.010
    assert min(d) < 0.0015 and max(d) > 0.0095


def test_exponential_latency_has_its_mean_and_minimum() -> None:
    d = delays(run_pair(Network(latency=Exponential(mean=0.005, minimum=0.001)), count=3000))
    assert min(d) >= 0.001
    assert 0.0055 < stats.mean(d) < 0.0065  # minimum + mean
    assert max(d) > 0.02  # a long tail


def test_user_supplied_latency_function_is_used() -> None:
    d = delays(run_pair(Network(latency=lambda rng: 0.002 if rng.random() < 0.5 else 0.008)))
    assert {round(x, 9) for x in d} == {0.002, 0.008}


def test_drop_all_and_drop_some() -> None:
    sim = run_pair(Network(drop=1.0))
    assert sim.node("b").got == []
    st = sim.statistics()
    assert st.dropped == 400 and st.dropped_by_reason == {"loss": 400} and st.delivered == 0
    some = run_pair(Network(drop=0.3), count=2000).statistics()
    assert some.sent == 2000 and some.delivered + some.dropped == 2000
    assert 0.25 < some.dropped / 2000 < 0.35


def test_duplicates_arrive_twice_with_the_same_id() -> None:
    sim = run_pair(Network(duplicate=1.0), count=50)
    _, delivered = sends_and_delivers(sim)
    assert all(len(ts) == 2 for ts in delivered.values()) and len(delivered) == 50
    assert sorted(n for _, _, n in sim.node("b").got) == sorted(list(range(50)) * 2)
    assert sim.statistics().duplicated == 50


def out_of_order(sim: Simulation) -> int:
    got = [n for _, _, n in sim.node("b").got]
    return sum(1 for x, y in zip(got, got[1:], strict=False) if y < x)


def test_reordering_happens_only_when_asked_and_fifo_prevents_it() -> None:
    assert out_of_order(run_pair(Network(latency=0.005))) == 0
    assert out_of_order(run_pair(Network(latency=0.005, reorder=0.3))) > 10
    assert out_of_order(run_pair(Network(latency=(0.001, 0.01)))) > 10
    fifo = run_pair(Network(latency=(0.001, 0.01), reorder=0.3, fifo=True))
    assert out_of_order(fifo) == 0 and len(fifo.node("b").got) == 400


def test_per_link_overrides_one_way_and_symmetric() -> None:
    net = Network(latency=0.001)
    net.set_link("a", "b", drop=1.0)
    assert net.link("a", "b").drop == 1.0 and net.link("b", "a").drop == 0.0
    net.set_link("a", "c", latency=0.5, symmetric=True)
    assert net.link("c", "a").latency == Constant(0.5) and net.link("c", "a").drop == 0.0
    net.reset_link("a", "b")
    assert net.link("a", "b").drop == 0.0
    slow = Network(latency=0.001)
    slow.set_link("a", "b", latency=Uniform(0.3, 0.3))
    assert {round(d, 9) for d in delays(run_pair(slow, count=10))} == {0.3}


@pytest.mark.parametrize(
    "kwargs",
    [{"drop": 1.5}, {"duplicate": -0.1}, {"latency": -1}, {"latency": "fast"}, {"reorder": True},
     {"latency": (0.5, 0.1)}],
)
def test_bad_network_settings_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Network(**kwargs)  # type: ignore[arg-type]


def test_unknown_link_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown link setting"):
        Network().set_link("a", "b", dorp=0.5)
