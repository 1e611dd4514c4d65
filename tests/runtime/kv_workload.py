"""A workload for the key-value clients of test_clients.py: gets, puts and appends on two
keys, each put and append writing a value no other operation writes (so the checker's
search stays small). A pure function of ``rng``, as the simulator's workloads are."""

from __future__ import annotations

from random import Random
from typing import Any

KEYS = ("x", "y")


def next_op(rng: Random) -> dict[str, Any]:
    key = rng.choice(KEYS)
    draw = rng.random()
    if draw < 0.4:
        return {"f": "get", "key": key, "value": None}
    f = "put" if draw < 0.55 else "append"
    return {"f": f, "key": key, "value": f"{rng.getrandbits(40):010x};"}


def not_an_op(rng: Random) -> object:
    return "put x 1"
