"""Mutant: ``in_half_open`` leaves out the end of the interval: (a, b) instead of (a, b].

A key whose identifier is exactly a node's identifier then belongs to no node: the node
just before it does not answer "done" (the key is not in its (n, successor)), and the
lookup goes past the owner. The off-by-one of every interval test on a ring.

Caught by ``intervals_on_the_circle``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab9 = reference_module("lab9")  # the solution.py of the lab

ChordNode = lab9.ChordNode
in_open = lab9.in_open


def in_half_open(x: int, a: int, b: int) -> bool:
    return in_open(x, a, b)  # BUG: (a, b], not (a, b)
