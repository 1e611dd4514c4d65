"""Mutant: fix_fingers never runs: the finger table stays empty.

Lookups still find the right node, through successor lists, but each hop advances by at
most R nodes: O(N) hops instead of O(log N).

Caught by ``fingers_point_at_the_successors_of_their_starts``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab9 = reference_module("lab9")


class ChordNode(lab9.ChordNode):
    def fix_fingers(self) -> None:
        pass  # BUG: fingers are never refreshed


in_open = lab9.in_open
in_half_open = lab9.in_half_open
