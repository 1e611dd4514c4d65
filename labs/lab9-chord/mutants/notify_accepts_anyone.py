"""Mutant: notify makes whoever sends it the predecessor, closer or not.

Two nodes that both believe they precede n take turns being its predecessor; a node far
behind (a newcomer that joined with a stale successor) replaces the right one, and every
stabilize that asks n for its predecessor is told a wrong node.

Caught by ``notify_keeps_the_closest_predecessor``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab9 = reference_module("lab9")


class ChordNode(lab9.ChordNode):
    def notify(self, candidate: str) -> None:
        if candidate != self.id:
            self.predecessor = candidate  # BUG: no check that it lies in (predecessor, n)


in_open = lab9.in_open
in_half_open = lab9.in_half_open
