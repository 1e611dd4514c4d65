"""Mutant: VectorClock.merge takes the other clock's entry wherever it has one.

``{**mine, **theirs}`` looks like a merge, but it is not the pointwise maximum: an old
message carrying ``a=1`` makes a node that knew ``a=3`` forget two of a's events.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab1 = reference_module("lab1")  # the solution.py of the lab
Member = lab1.Member

__all__ = ["Member", "VectorClock"]


class VectorClock(lab1.VectorClock):
    def merge(self, other: lab1.VectorClock) -> lab1.VectorClock:
        return type(self)({**dict(self.items()), **dict(other.items())})  # BUG: not max
