"""Mutant: a node keeps one successor, not a list of R.

Fine until the successor crashes: the node then knows no other node to take its place,
falls back on whatever finger it has (often far ahead), and the nodes in between are cut
out until stabilization finds them again, one round at a time; with several failures in a
row the ring breaks.

Caught by ``successor_list_survives_a_failure``.
"""

from __future__ import annotations

from collections.abc import Iterable

from dsys.labs import reference_module

lab9 = reference_module("lab9")


class ChordNode(lab9.ChordNode):
    def set_successors(self, listed: Iterable[str]) -> None:
        super().set_successors(listed)
        self.successors = self.successors[:1]  # BUG: R = 1


in_open = lab9.in_open
in_half_open = lab9.in_half_open
