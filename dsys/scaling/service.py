"""How long a request takes to serve: service-time distributions.

A server draws each request's service time from one of these, with its own seeded
``rng``, so a simulation stays a pure function of its seed. Every distribution knows its
``mean``: utilization is arrival rate times mean service time divided by the number of
workers, and the measurements set their arrival rates from it.

* :class:`Exponential`: the memoryless service of queueing theory's M/M/1 and M/M/k,
  where the textbook formulas (and the power-of-two-choices results) hold exactly;
* :class:`Constant`: every request takes the same time (M/D/1): the least variable;
* :class:`Uniform`: between two bounds;
* :class:`Bimodal`: most requests fast, a few slow (a cache hit or a miss): the
  variability that hurts a balancer which does not look at queues.

Example:
    >>> from random import Random
    >>> service = Exponential(0.010)
    >>> service.mean
    0.01
    >>> round(service.sample(Random(1)), 6)
    0.001443
    >>> round(Bimodal(0.001, 0.050, slow_share=0.1).mean, 6)
    0.0059
    >>> as_service_time(0.02)                 # a number: the mean of an exponential
    Exponential(mean=0.02)
"""

from __future__ import annotations

import math
from random import Random
from typing import Protocol, runtime_checkable

import attrs

from dsys.errors import ConfigError

__all__ = ["Bimodal", "Constant", "Exponential", "ServiceTime", "Uniform", "as_service_time"]


@runtime_checkable
class ServiceTime(Protocol):
    """A service-time distribution: ``sample(rng)`` seconds, ``mean`` seconds on average."""

    @property
    def mean(self) -> float:
        """The mean service time, in seconds."""
        ...

    def sample(self, rng: Random) -> float:
        """One service time in seconds (> 0), drawn with ``rng``."""
        ...


def _positive(what: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            0 < value < math.inf):
        raise ConfigError(f"{what} must be a positive number of seconds, got {value!r}")


@attrs.frozen
class Exponential:
    """Exponentially distributed service times with the given ``mean`` (seconds)."""

    mean: float

    def __attrs_post_init__(self) -> None:
        _positive("an exponential service time's mean", self.mean)

    def sample(self, rng: Random) -> float:
        """An exponential draw with this mean."""
        return rng.expovariate(1.0 / self.mean)


@attrs.frozen
class Constant:
    """Every request takes ``value`` seconds."""

    value: float

    def __attrs_post_init__(self) -> None:
        _positive("a constant service time", self.value)

    @property
    def mean(self) -> float:
        """The service time (always the same)."""
        return self.value

    def sample(self, rng: Random) -> float:
        """The service time (always the same)."""
        return self.value


@attrs.frozen
class Uniform:
    """Service times uniform between ``low`` and ``high`` seconds."""

    low: float
    high: float

    def __attrs_post_init__(self) -> None:
        _positive("a uniform service time's high bound", self.high)
        if not 0 <= self.low <= self.high:
            raise ConfigError(
                f"a uniform service time needs 0 <= low <= high, got ({self.low}, {self.high})")

    @property
    def mean(self) -> float:
        """The midpoint of the bounds."""
        return (self.low + self.high) / 2

    def sample(self, rng: Random) -> float:
        """A uniform draw between the bounds."""
        return self.low + (self.high - self.low) * rng.random()


@attrs.frozen
class Bimodal:
    """``fast`` seconds, except a ``slow_share`` of requests that take ``slow`` seconds."""

    fast: float
    slow: float
    slow_share: float = 0.1

    def __attrs_post_init__(self) -> None:
        _positive("a bimodal service time's fast value", self.fast)
        _positive("a bimodal service time's slow value", self.slow)
        if not 0 <= self.slow_share <= 1:
            raise ConfigError(f"slow_share must be between 0 and 1, got {self.slow_share!r}")

    @property
    def mean(self) -> float:
        """The weighted mean of the two values."""
        return self.fast * (1 - self.slow_share) + self.slow * self.slow_share

    def sample(self, rng: Random) -> float:
        """``slow`` with probability ``slow_share``, else ``fast``."""
        return self.slow if rng.random() < self.slow_share else self.fast


def as_service_time(spec: ServiceTime | float) -> ServiceTime:
    """A distribution as given, or, for a number, an :class:`Exponential` of that mean.

    >>> as_service_time("fast")
    Traceback (most recent call last):
      ...
    dsys.errors.ConfigError: a service time is a distribution (Exponential, Constant, ...) ...
    """
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return Exponential(float(spec))
    if isinstance(spec, ServiceTime):
        return spec
    raise ConfigError("a service time is a distribution (Exponential, Constant, ...) or a "
                      f"mean in seconds, got {spec!r}")
