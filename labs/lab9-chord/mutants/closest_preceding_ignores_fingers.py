"""Mutant: a node names only its successor list as the nodes closest before a target,
never its fingers.

Every answer is correct, but each hop now advances by at most R nodes instead of halving
the distance: lookups take O(N) hops, not O(log N). The fingers are kept up to date for
nothing.

Caught by ``find_successor_answers`` (the closest node before the target is a finger).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab9 = reference_module("lab9")


class ChordNode(lab9.ChordNode):
    def closest_preceding(self, target: int) -> list[str]:
        found = [n for n in self.successors  # BUG: the fingers are left out
                 if lab9.in_open(self.id_of(n), self.ident, target)]
        return sorted(found, key=lambda n: (target - self.id_of(n)) % lab9.SIZE)[:3]


in_open = lab9.in_open
in_half_open = lab9.in_half_open
