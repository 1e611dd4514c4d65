"""What theory predicts, to print beside what the simulator measures.

* **Balls into bins.** Throw ``n`` balls into ``n`` bins, each into a bin chosen at
  random: the fullest bin holds about ``ln n / ln ln n`` balls (Gonnet 1981; Raab and
  Steger 1998). Choose two bins at random for each ball and put it in the emptier one,
  and the fullest holds about ``ln ln n / ln 2`` (Azar, Broder, Karlin and Upfal 1994):
  an exponential improvement from one extra sample. ``d`` samples give
  ``ln ln n / ln d``. Both are first-order asymptotics: constant terms are left out, so
  at ``n = 10`` or ``100`` they say how the two grow, not the exact maximum.
* **The supermarket model** (Mitzenmacher 2001; Vvedenskaya, Dobrushin and Karpelevich
  1996): ``n`` servers with exponential service, Poisson arrivals at a total rate
  ``λn`` (utilization ``λ``), each arrival joining the shortest of ``d`` queues sampled
  at random. As ``n`` grows, the fraction of servers holding at least ``i`` requests
  tends to ``λ^i`` for ``d = 1`` (independent M/M/1 queues) and to
  ``λ^((d^i - 1) / (d - 1))`` for ``d >= 2``: doubly exponential. The longest queue at
  a moment is near the ``i`` at which ``n`` times that fraction falls to 1:
  ``ln n / ln(1/λ)`` for one choice, ``log_d(1 + (d - 1) ln n / ln(1/λ))`` for ``d``.
* **M/M/1.** A random split of a Poisson stream is a Poisson stream, so a random
  balancer in front of ``n`` exponential servers makes ``n`` independent M/M/1 queues;
  the time a request spends in one (waiting and served) is exponential with mean
  ``s / (1 - u)`` (service mean ``s``, utilization ``u``), so its ``q``-quantile is
  ``-ln(1 - q) · s / (1 - u)``.

Example:
    >>> round(max_load_one_choice(100), 2), round(max_load_two_choices(100), 2)
    (3.02, 2.2)
    >>> round(supermarket_tail(3, 0.9, d=1), 3), round(supermarket_tail(3, 0.9, d=2), 3)
    (0.729, 0.478)
    >>> round(mm1_sojourn_quantile(0.99, utilization=0.9, mean_service=0.010), 4)
    0.4605
"""

from __future__ import annotations

import math

from dsys.errors import ConfigError

__all__ = [
    "max_load_d_choices",
    "max_load_one_choice",
    "max_load_two_choices",
    "mm1_sojourn_quantile",
    "supermarket_max_queue",
    "supermarket_tail",
]


def _bins(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 3:
        raise ConfigError(f"the formulas need n >= 3 bins (ln ln n > 0), got {n!r}")


def _utilization(value: float) -> None:
    if not 0 < value < 1:
        raise ConfigError(f"a utilization for a steady state is between 0 and 1, got {value!r}")


def max_load_one_choice(n: int) -> float:
    """``ln n / ln ln n``: the fullest of ``n`` bins after ``n`` random throws."""
    _bins(n)
    return math.log(n) / math.log(math.log(n))


def max_load_d_choices(n: int, d: int) -> float:
    """``ln ln n / ln d``: the fullest bin when each ball takes the emptier of ``d``."""
    _bins(n)
    if isinstance(d, bool) or not isinstance(d, int) or d < 2:
        raise ConfigError(f"d must be an int >= 2, got {d!r}")
    return math.log(math.log(n)) / math.log(d)


def max_load_two_choices(n: int) -> float:
    """``ln ln n / ln 2``: the fullest of ``n`` bins with two choices per ball."""
    return max_load_d_choices(n, 2)


def supermarket_tail(i: int, utilization: float, *, d: int) -> float:
    """The fraction of servers holding at least ``i`` requests, as ``n`` grows."""
    _utilization(utilization)
    if d == 1:
        return float(utilization ** i)
    return float(utilization ** ((d ** i - 1) / (d - 1)))


def supermarket_max_queue(n: int, utilization: float, *, d: int) -> float:
    """The queue length at which ``n · supermarket_tail`` falls to 1: about the longest
    of ``n`` queues at a random moment.

    >>> one, two = supermarket_max_queue(100, 0.9, d=1), supermarket_max_queue(100, 0.9, d=2)
    >>> round(one, 1), round(two, 1)
    (43.7, 5.5)
    """
    _utilization(utilization)
    if n < 2:
        raise ConfigError(f"n must be >= 2, got {n!r}")
    depth = math.log(n) / math.log(1 / utilization)
    if d == 1:
        return depth
    return math.log(1 + (d - 1) * depth) / math.log(d)


def mm1_sojourn_quantile(q: float, *, utilization: float, mean_service: float) -> float:
    """The ``q``-quantile of the time a request spends in an M/M/1 queue."""
    _utilization(utilization)
    if not 0 <= q < 1:
        raise ConfigError(f"q must be in [0, 1), got {q!r}")
    return -math.log(1 - q) * mean_service / (1 - utilization)
