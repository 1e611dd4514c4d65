"""Elasticity (dsys.scaling.autoscaler), in the simulator: the autoscaler follows a step in
demand within the bound its cooldown, window and boot time give, and settles; under a
steady load at the target, or near the scale-out threshold, it does not flap (hysteresis),
while the same pool without hysteresis does and the checker says so; scaling in drains
servers and loses no request, while a manager that turns servers off without draining is
caught by two checkers."""

from __future__ import annotations

import math

import pytest

from dsys.demos.scaling import (
    BOOT,
    DEMO_SERVICE,
    INTERVAL,
    POLICY,
    WINDOW,
    AutoscaleRun,
    autoscaled,
)
from dsys.errors import ConfigError, UsageError
from dsys.scaling import PoolManager, RateSchedule, TargetUtilization
from tests.scaling.broken import NO_HYSTERESIS, TurnsOffWithoutDraining

SEEDS = range(1, 3)
SOAK_SEEDS = range(3, 30)
CAPACITY = 1 / DEMO_SERVICE  # requests a second one server serves


def reversals(run: AutoscaleRun, window: float) -> list[tuple[float, float]]:
    """Changes that undid the one before within ``window`` seconds: (first, second)."""
    pairs = zip(run.changes, run.changes[1:], strict=False)
    return [(t0, t1) for (t0, a0, b0), (t1, a1, b1) in pairs
            if (b0 - a0) * (b1 - a1) < 0 and t1 - t0 < window]


def serving_at_least(run: AutoscaleRun, count: int, since: float) -> float | None:
    """The first sampled time from ``since`` on with at least ``count`` servers serving."""
    return next((t for t, _, _, serving, _ in run.timeline if t >= since and serving >= count),
                None)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_autoscaler_follows_a_step_in_demand_within_its_bound(seed: int) -> None:
    step_at, low, high = 60.0, 12.0, 48.0  # two servers' worth at the target, then eight
    demand = RateSchedule(((0, low), (step_at, low), (step_at, high)))
    run = autoscaled(seed, demand=demand, until=200.0)
    needed = math.ceil(high / (CAPACITY * POLICY.high))  # utilization back under `high`
    bound = POLICY.step_bound(2, math.ceil(high / (CAPACITY * POLICY.target)),
                              interval=INTERVAL, window=WINDOW, boot=BOOT)
    followed = serving_at_least(run, needed, step_at)
    assert followed is not None and followed - step_at <= bound, (run.changes, bound)
    # And it settles inside the band: over the last 40 s the servers run at 45% to 75%
    # (the backlog of the step makes it overshoot first; the stabilization window lets
    # the extra servers go only after 30 s). It scales in only on readings below 45%
    # for 30 s, so it may stay a little under the band: by the noise of a reading, whose
    # relative spread is sqrt(2 / requests in a window) (Poisson arrivals, exponential
    # service), three times that.
    noise = 3 * math.sqrt(2 / (high * WINDOW)) * POLICY.low
    settled = {serving for t, _, _, serving, _ in run.timeline if t >= 160}
    assert all(POLICY.low - noise <= high / (s * CAPACITY) <= POLICY.high for s in settled), (
        settled, run.changes)
    assert not reversals(run, POLICY.cooldown + 3 * INTERVAL), run.changes
    assert run.answered == run.issued


@pytest.mark.parametrize("seed", SEEDS)
def test_no_flapping_under_a_steady_load_at_the_target(seed: int) -> None:
    run = autoscaled(seed, demand=RateSchedule.constant(60.0), until=150.0, initial=10)
    assert run.changes == ()


@pytest.mark.parametrize("seed", SEEDS)
def test_no_flapping_under_a_steady_load_near_the_scale_out_threshold(seed: int) -> None:
    # 72% on 10 servers: noise crosses 75% now and then; one scale-out, never back.
    run = autoscaled(seed, demand=RateSchedule.constant(72.0), until=150.0, initial=10)
    assert len(run.changes) <= 1 and all(after > before for _, before, after in run.changes)


@pytest.mark.parametrize("seed", SEEDS)
def test_without_hysteresis_the_same_load_flaps_and_the_checker_says_so(seed: int) -> None:
    run = autoscaled(seed, demand=RateSchedule.constant(60.0), until=100.0, initial=10,
                     policy=NO_HYSTERESIS, trace=True)
    flapping = run.checks[2]
    assert "flapping" in flapping.check and not flapping, run.changes
    assert len(run.changes) >= 3


@pytest.mark.soak
@pytest.mark.parametrize("seed", SOAK_SEEDS)
def test_soak_steady_loads_do_not_flap_and_the_demo_ramp_checks_out(seed: int) -> None:
    assert autoscaled(seed, demand=RateSchedule.constant(60.0), until=150.0,
                      initial=10).changes == ()
    for manager in (PoolManager, TurnsOffWithoutDraining):
        answered, drained, _ = scale_in_under_load(seed, manager).checks
        assert bool(answered) == bool(drained) == (manager is PoolManager)
    near = autoscaled(seed, demand=RateSchedule.constant(72.0), until=150.0, initial=10)
    assert len(near.changes) <= 1 and not reversals(near, math.inf)
    ramp = autoscaled(seed, trace=True)
    assert all(ramp.checks), [r.explain() for r in ramp.checks]


def scale_in_under_load(seed: int, manager: type[PoolManager] = PoolManager
                        ) -> AutoscaleRun:
    """Ten servers at 85%, their queues long; at t = 20 s four are taken out (by hand),
    at t = 25 s four come back (the six left are overloaded meanwhile)."""
    return autoscaled(seed, demand=RateSchedule.constant(85.0), until=40.0, initial=10,
                      policy=None, trace=True, manager=manager, resize=((20.0, 6), (25.0, 10)))


def test_scaling_in_drains_servers_and_loses_nothing() -> None:
    run = scale_in_under_load(1)
    assert [(before, after) for _, before, after in run.changes] == [(10, 6), (6, 10)]
    answered, drained, _ = run.checks
    assert answered and drained, (answered.explain(), drained.explain())
    assert run.answered == run.issued


def test_a_manager_that_turns_servers_off_without_draining_is_caught() -> None:
    run = scale_in_under_load(1, TurnsOffWithoutDraining)
    answered, drained, _ = run.checks
    assert not answered and "never answered (lost)" in answered.explain()
    assert not drained and "turned off with" in drained.explain()


def test_policy_decisions_and_bad_settings() -> None:
    policy = TargetUtilization(target=0.5, low=0.3, high=0.7, min_servers=2, max_servers=6)
    assert policy.desired(4, 0.5) == 4 and policy.desired(4, 0.69) == 4  # in the band
    assert policy.desired(4, 0.9) == 6  # ceil(7.2) = 8, capped at 6
    assert policy.desired(4, 0.1) == 2  # ceil(0.8) = 1, floored at 2
    assert policy.hysteresis and not NO_HYSTERESIS.hysteresis
    with pytest.raises(ConfigError, match="low <= target <= high"):
        TargetUtilization(target=0.8, low=0.5, high=0.7)
    with pytest.raises(ConfigError, match="max_servers"):
        TargetUtilization(min_servers=3, max_servers=2)
    with pytest.raises(UsageError, match="step up"):
        POLICY.step_bound(4, 2, interval=1, window=1, boot=1)
    with pytest.raises(ConfigError, match="initial"):
        PoolManager("lb", ["a", "b"], initial=3)
    with pytest.raises(ConfigError, match="window must be at least one interval"):
        PoolManager("lb", ["a"], interval=2.0, window=1.0)
