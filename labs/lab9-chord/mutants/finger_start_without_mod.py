"""Mutant: finger i starts at n + 2**i, without "mod 2**BITS".

For a node high on the circle, its far fingers' starts fall past the end of the circle:
identifiers that do not exist. The interval tests then place them wrongly (above every
node, so "between the last node and the first"), and those fingers point at the first
node after 0 instead of the successor of the wrapped start.

Caught by ``fingers_point_at_the_successors_of_their_starts``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab9 = reference_module("lab9")


class ChordNode(lab9.ChordNode):
    def finger_start(self, i: int) -> int:
        return self.ident + 2 ** i  # BUG: no wrap past 2**BITS


in_open = lab9.in_open
in_half_open = lab9.in_half_open
