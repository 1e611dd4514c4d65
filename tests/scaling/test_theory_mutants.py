"""The queueing formulas at known values (issue 21: a mutation sample found them unpinned)."""

from __future__ import annotations

import math

import pytest

from dsys.errors import ConfigError
from dsys.scaling.theory import mm1_sojourn_quantile


def test_mm1_sojourn_time_is_exponential_with_rate_mu_minus_lambda() -> None:
    # Time in an M/M/1 system is exponential with rate mu - lambda = (1 - rho) / S.
    assert mm1_sojourn_quantile(0.0, utilization=0.5, mean_service=1.0) == 0.0
    median = mm1_sojourn_quantile(0.5, utilization=0.5, mean_service=0.01)
    assert median == pytest.approx(0.02 * math.log(2))
    p99 = mm1_sojourn_quantile(0.99, utilization=0.9, mean_service=1.0)
    assert p99 == pytest.approx(10 * math.log(100))
    for q in (1.0, -0.1):
        with pytest.raises(ConfigError, match=r"q must be in \[0, 1\)"):
            mm1_sojourn_quantile(q, utilization=0.5, mean_service=1.0)
