"""Mutant: the settings check lets R + W = N through (``r + w < n`` instead of ``<=``).

With N=3, R=1 and W=2 the store is taken for a strict quorum: a put acknowledged by two
homes and a get answered by the third one alone miss each other, and the get is stale,
with no failure at all.

Caught by ``settings_and_placement``.
"""

from __future__ import annotations

from dsys.errors import ConfigError
from dsys.labs import reference_module

lab8 = reference_module("lab8")  # the solution.py of the lab


class DynamoNode(lab8.DynamoNode):
    @staticmethod
    def check_settings(n: int, r: int, w: int) -> None:
        for name, value in (("n", n), ("r", r), ("w", w)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an int >= 1, got {value!r}")
        if r > n or w > n:
            raise ConfigError(f"r={r} and w={w} must each be at most n={n}")
        if r + w < n:  # BUG: r + w == n lets a read quorum miss a write quorum
            raise ConfigError(f"r + w must be at least n (r={r}, w={w}, n={n})")
