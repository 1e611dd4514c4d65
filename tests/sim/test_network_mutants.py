"""The network model's rates, bounds and edges, pinned exactly (issue 21).

The tests in test_network.py show each feature *happens*; these pin *how much*: the share
of messages reordered, the bounds of a reordered delay, which direction a link reset
touches, and which settings are refused. Each was a surviving mutant before.
"""

from __future__ import annotations

import statistics as stats
from random import Random

import pytest

from dsys import ConfigError, Constant, Exponential, Network, Uniform
from dsys.sim.network import Custom, LinkSettings, as_latency
from tests.sim.test_network import delays, run_pair

BASE = 0.005


def draws(settings: LinkSettings, n: int = 4000, seed: int = 7) -> list[float]:
    rng = Random(seed)
    return [settings.delay(rng) for _ in range(n)]


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.8])
def test_reorder_holds_back_the_asked_fraction_of_messages(rate: float) -> None:
    d = draws(LinkSettings(latency=BASE, reorder=rate, reorder_delay=0.05))
    late = sum(1 for x in d if x > BASE) / len(d)
    assert abs(late - rate) < 0.04, late


def test_a_reordered_delay_lies_between_the_latency_and_latency_plus_reorder_delay() -> None:
    d = draws(LinkSettings(latency=BASE, reorder=1.0, reorder_delay=0.05))
    assert min(d) >= BASE  # never earlier than the latency, never negative
    assert max(d) <= BASE + 0.05  # never unboundedly late
    assert max(d) > BASE + 0.049 and min(d) < BASE + 0.001  # and the whole range is used
    assert abs(stats.mean(d) - (BASE + 0.025)) < 0.002  # uniform extra delay


def test_no_reorder_means_exactly_the_latency() -> None:
    assert set(draws(LinkSettings(latency=BASE), n=200)) == {BASE}


def test_reorder_in_a_simulation_delays_by_at_most_reorder_delay() -> None:
    d = delays(run_pair(Network(latency=BASE, reorder=0.5, reorder_delay=0.02), count=1000))
    assert len(d) == 1000
    assert min(d) >= BASE - 1e-12 and max(d) <= BASE + 0.02 + 1e-12
    late = sum(1 for x in d if x > BASE + 1e-12) / len(d)
    assert 0.45 < late < 0.55


def test_default_settings() -> None:
    default = LinkSettings()
    assert default.latency == Uniform(0.001, 0.010)
    assert (default.drop, default.duplicate, default.reorder, default.reorder_delay) == (
        0.0,
        0.0,
        0.0,
        0.05,
    )
    net = Network()
    assert net.default == default and net.fifo is False


def test_uniform_accepts_equal_bounds_and_zero_and_refuses_the_rest() -> None:
    assert Uniform(0.0, 0.0).sample(Random(1)) == 0.0
    assert Uniform(0.2, 0.2).sample(Random(1)) == 0.2
    for low, high in [(-0.1, 0.2), (0.2, 0.1)]:
        with pytest.raises(ConfigError, match="low <= high"):
            Uniform(low, high)


def test_uniform_samples_span_low_to_high() -> None:
    rng = Random(3)
    d = [Uniform(0.1, 0.3).sample(rng) for _ in range(2000)]
    assert 0.1 <= min(d) < 0.101 and 0.299 < max(d) <= 0.3
    assert abs(stats.mean(d) - 0.2) < 0.005


@pytest.mark.parametrize("mean, minimum", [(0, 0.0), (-1.0, 0.0), (0.01, -0.001)])
def test_exponential_refuses_a_zero_or_negative_mean_and_a_negative_minimum(
    mean: float, minimum: float
) -> None:
    with pytest.raises(ConfigError, match="mean > 0 and minimum >= 0"):
        Exponential(mean=mean, minimum=minimum)


def test_exponential_mean_and_minimum_exactly() -> None:
    rng = Random(5)
    d = [Exponential(mean=0.01).sample(rng) for _ in range(5000)]
    assert min(d) >= 0.0 and abs(stats.mean(d) - 0.01) < 0.0006
    d = [Exponential(mean=0.01, minimum=0.02).sample(rng) for _ in range(5000)]
    assert min(d) >= 0.02 and min(d) < 0.0201 and abs(stats.mean(d) - 0.03) < 0.0006


def test_custom_latency_accepts_zero_and_ints_and_refuses_negative_or_non_numbers() -> None:
    assert Custom(lambda rng: 0).sample(Random(0)) == 0.0
    value = Custom(lambda rng: 2).sample(Random(0))
    assert value == 2.0 and type(value) is float
    for bad in (-0.001, "1", None):
        with pytest.raises(ConfigError, match="must be >= 0"):
            Custom(lambda rng, bad=bad: bad).sample(Random(0))


def test_as_latency_forms() -> None:
    assert as_latency(0) == Constant(0.0)
    assert as_latency(0.25) == Constant(0.25)
    assert as_latency([0.1, 0.2]) == Uniform(0.1, 0.2)
    expo = Exponential(mean=0.1)
    assert as_latency(expo) is expo
    assert isinstance(as_latency(lambda rng: 0.1), Custom)
    for bad in (True, False, -0.001, (0.1, 0.2, 0.3), "fast", None):
        with pytest.raises(ConfigError, match="latency must be"):
            as_latency(bad)


@pytest.mark.parametrize("name", ["drop", "duplicate", "reorder"])
def test_probabilities_accept_0_and_1_and_refuse_outside_or_non_numbers(name: str) -> None:
    for ok in (0, 1, 0.0, 1.0, 0.5):
        assert getattr(LinkSettings(**{name: ok}), name) == ok
    for bad in (-0.001, 1.001, True, "0.5", None):
        with pytest.raises(ConfigError, match=f"{name} must be a probability"):
            LinkSettings(**{name: bad})


def test_set_link_keeps_earlier_overrides_of_the_same_link() -> None:
    net = Network(latency=0.001)
    net.set_link("a", "b", drop=1.0)
    net.set_link("a", "b", duplicate=0.5)
    assert (net.link("a", "b").drop, net.link("a", "b").duplicate) == (1.0, 0.5)
    assert net.link("b", "a") == net.default and net.link("a", "c") == net.default


def test_resetting_a_link_one_way_leaves_the_other_way_alone() -> None:
    net = Network(latency=0.001)
    net.set_link("a", "b", drop=1.0, symmetric=True)
    net.reset_link("a", "b")
    assert net.link("a", "b").drop == 0.0
    assert net.link("b", "a").drop == 1.0
    net.set_link("a", "b", drop=1.0)
    net.reset_link("b", "a", symmetric=True)
    assert net.link("a", "b").drop == 0.0 and net.link("b", "a").drop == 0.0
    net.reset_link("x", "y", symmetric=True)  # resetting a link with no override is fine


def test_update_changes_the_default_but_not_overrides() -> None:
    net = Network(latency=0.001)
    net.set_link("a", "b", drop=0.5)
    net.update(drop=0.2, latency=0.003)
    assert net.link("c", "d").drop == 0.2 and net.link("c", "d").latency == Constant(0.003)
    assert net.link("a", "b").drop == 0.5 and net.link("a", "b").latency == Constant(0.001)


def test_repr_counts_overrides() -> None:
    net = Network(latency=0.001, fifo=True)
    net.set_link("a", "b", drop=0.5, symmetric=True)
    text = repr(net)
    assert text.startswith("Network(LinkSettings(") and "fifo=True" in text
    assert text.endswith("overrides=2)")
