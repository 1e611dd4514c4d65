"""Mutant: VectorClock.compare looks only at the entries of the clock it is called on.

A clock that has never heard of node ``c`` has no entry for it, which means 0: ignoring
the other clock's extra entries makes ``(a=1)`` EQUAL to ``(a=1, c=2)`` instead of BEFORE
it, and hides concurrency.
"""

from __future__ import annotations

from dsys.clocks import Order
from dsys.labs import reference_module

lab1 = reference_module("lab1")  # the solution.py of the lab
Member = lab1.Member

__all__ = ["Member", "VectorClock"]


class VectorClock(lab1.VectorClock):
    def compare(self, other: lab1.VectorClock) -> Order:
        nodes = [node for node, _ in self.items()]  # BUG: other's nodes are not looked at
        smaller = any(self.get(node) < other.get(node) for node in nodes)
        larger = any(self.get(node) > other.get(node) for node in nodes)
        if smaller and larger:
            return Order.CONCURRENT
        if smaller:
            return Order.BEFORE
        if larger:
            return Order.AFTER
        return Order.EQUAL
