"""Mutant: members held dead are left out of the round-robin (as in the paper, where a
confirmed member is removed from the membership list).

Nothing ever pings them again: two sides of a partition, each holding the other dead,
never find out that the partition healed.

Caught by ``partitions_heal_and_views_converge`` (and, more rarely, by the accuracy
test: a live member held dead by mistake is never pinged by those who hold it dead).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def next_target(self) -> str | None:
        for _ in range(2 * len(self.members) + 1):
            target = super().next_target()
            if target is None or self.view[target][0] != lab3.DEAD:
                return target  # BUG: the dead are never pinged again
        return None
