"""The simulated network: latency, loss, duplication, reordering, per-link settings.

A :class:`Network` holds default :class:`LinkSettings` and overrides for directed links.
Every random choice (drop? duplicate? how late?) is drawn from the simulation's network
random generator, so a seed fixes them all.

Latency can be given as:

* a number: constant latency (``0.005``);
* a pair ``(low, high)``: uniform between them;
* a :class:`Constant`, :class:`Uniform` or :class:`Exponential`;
* any callable ``f(rng) -> seconds`` (e.g. ``lambda rng: rng.lognormvariate(-5, 0.5)``).

Example:
    >>> from dsys import Network
    >>> net = Network(latency=(0.001, 0.010), drop=0.05, duplicate=0.01)
    >>> net.set_link("a", "b", drop=1.0)          # a -> b loses everything
    >>> net.link("a", "b").drop, net.link("b", "a").drop
    (1.0, 0.05)
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random
from typing import Any, Protocol, runtime_checkable

import attrs

from dsys.errors import ConfigError


@runtime_checkable
class Latency(Protocol):
    """A latency distribution: ``sample(rng)`` returns a delay in seconds (>= 0)."""

    def sample(self, rng: Random) -> float:
        """A delay in seconds, drawn with ``rng``."""
        ...


@attrs.frozen
class Constant:
    """Always the same latency."""

    value: float

    def sample(self, rng: Random) -> float:
        """The latency (always the same)."""
        return self.value


@attrs.frozen
class Uniform:
    """Uniform between ``low`` and ``high`` seconds."""

    low: float
    high: float

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise ConfigError(
                f"uniform latency needs 0 <= low <= high, got ({self.low}, {self.high})"
            )

    def sample(self, rng: Random) -> float:
        """A latency drawn uniformly from ``[low, high]``."""
        return self.low + (self.high - self.low) * rng.random()


@attrs.frozen
class Exponential:
    """``minimum`` plus an exponential delay with the given ``mean`` (a long tail)."""

    mean: float
    minimum: float = 0.0

    def __attrs_post_init__(self) -> None:
        if self.mean <= 0 or self.minimum < 0:
            raise ConfigError(f"exponential latency needs mean > 0 and minimum >= 0, got {self}")

    def sample(self, rng: Random) -> float:
        """``minimum`` plus an exponentially distributed delay."""
        return self.minimum + rng.expovariate(1.0 / self.mean)


@attrs.frozen
class Custom:
    """A user-supplied distribution: ``fn(rng) -> seconds``."""

    fn: Callable[[Random], float]

    def sample(self, rng: Random) -> float:
        """Whatever the user's function returns (checked to be >= 0)."""
        value = self.fn(rng)
        if not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"custom latency {self.fn!r} returned {value!r}; it must be >= 0")
        return float(value)


def as_latency(spec: Any) -> Latency:
    """Turn a latency specification (see the module docstring) into a :class:`Latency`."""
    if isinstance(spec, bool):
        raise ConfigError(
            f"latency must be a number, a (low, high) pair or a distribution, got {spec!r}"
        )
    if isinstance(spec, int | float):
        if spec < 0:
            raise ConfigError(f"latency must be >= 0, got {spec}")
        return Constant(float(spec))
    if isinstance(spec, tuple | list) and len(spec) == 2:
        return Uniform(float(spec[0]), float(spec[1]))
    if isinstance(spec, Latency):
        return spec
    if callable(spec):
        return Custom(spec)
    raise ConfigError(
        f"latency must be a number, a (low, high) pair, a distribution or a callable, got {spec!r}"
    )


def _probability(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, __: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ConfigError(f"{name} must be a probability between 0 and 1, got {value!r}")

    return check


@attrs.frozen
class LinkSettings:
    """How one directed link behaves.

    ``drop``: probability a message is lost. ``duplicate``: probability it is delivered
    twice (each copy with its own latency). ``reorder``: probability it is held back by an
    extra delay of up to ``reorder_delay`` seconds, so later messages overtake it.
    """

    latency: Latency = attrs.field(default=Uniform(0.001, 0.010), converter=as_latency)
    drop: float = attrs.field(default=0.0, validator=_probability("drop"))
    duplicate: float = attrs.field(default=0.0, validator=_probability("duplicate"))
    reorder: float = attrs.field(default=0.0, validator=_probability("reorder"))
    reorder_delay: float = 0.05

    def delay(self, rng: Random) -> float:
        """Draw the delivery delay of one message."""
        delay = self.latency.sample(rng)
        if self.reorder and rng.random() < self.reorder:
            delay += self.reorder_delay * rng.random()
        return delay


class Network:
    """Default link settings plus per-link overrides.

    ``fifo=True`` makes every link deliver in send order (like TCP); by default messages on a
    link may overtake each other when their latencies differ (like UDP).
    """

    def __init__(
        self,
        latency: Any = (0.001, 0.010),
        drop: float = 0.0,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        reorder_delay: float = 0.05,
        fifo: bool = False,
    ) -> None:
        self.default = LinkSettings(latency, drop, duplicate, reorder, reorder_delay)
        self.fifo = fifo
        self._links: dict[tuple[str, str], LinkSettings] = {}

    def link(self, src: str, dst: str) -> LinkSettings:
        """The settings in force on the directed link ``src -> dst``."""
        return self._links.get((src, dst), self.default) if self._links else self.default

    def set_link(self, src: str, dst: str, *, symmetric: bool = False, **changes: Any) -> None:
        """Override settings (``latency``, ``drop``, ``duplicate``, ``reorder``...) on
        ``src -> dst`` (and ``dst -> src`` if ``symmetric``)."""
        unknown = set(changes) - {f.name for f in attrs.fields(LinkSettings)}
        if unknown:
            raise ConfigError(f"unknown link setting(s) {sorted(unknown)}")
        pairs = [(src, dst), (dst, src)] if symmetric else [(src, dst)]
        for pair in pairs:
            self._links[pair] = attrs.evolve(self.link(*pair), **changes)

    def reset_link(self, src: str, dst: str, *, symmetric: bool = False) -> None:
        """Remove the overrides on ``src -> dst`` (and the reverse if ``symmetric``)."""
        self._links.pop((src, dst), None)
        if symmetric:
            self._links.pop((dst, src), None)

    def update(self, **changes: Any) -> None:
        """Change the default settings of every link without an override."""
        self.default = attrs.evolve(self.default, **changes)

    def __repr__(self) -> str:
        return f"Network({self.default}, fifo={self.fifo}, overrides={len(self._links)})"
