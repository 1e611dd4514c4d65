"""Mutant: version comparison treats concurrent versions as ordered.

When two clocks are concurrent, the one that counts more events (then the larger one)
wins, as in a last-writer-wins store: of two puts that did not see each other, one is
silently dropped, though both were acknowledged.

Caught by ``concurrent_puts_become_siblings``.
"""

from __future__ import annotations

from collections.abc import Iterable

from dsys.clocks import Order
from dsys.labs import reference_module

lab8 = reference_module("lab8")


def newest(versions: Iterable[lab8.Version]) -> tuple[lab8.Version, ...]:
    unique = sorted(set(versions), key=lambda v: (v.clock, v.value))
    clocks = [lab8.clock_of(v) for v in unique]

    def older(a: int, b: int) -> bool:
        found = clocks[a].compare(clocks[b])
        if found is Order.CONCURRENT:  # BUG: concurrent is not "before"
            return (clocks[a].total(), unique[a].clock) < (clocks[b].total(), unique[b].clock)
        return found is Order.BEFORE

    return tuple(v for i, v in enumerate(unique)
                 if not any(older(i, j) for j in range(len(unique)) if j != i))


class DynamoNode(lab8.DynamoNode):
    def merge(self, current: Iterable[lab8.Version], incoming: Iterable[lab8.Version]
              ) -> tuple[lab8.Version, ...]:
        return newest([*current, *incoming])
