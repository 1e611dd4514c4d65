"""Mutant: a lookup waits for an answer forever: no timer, so a node that crashed after
being named stalls every lookup that asks it.

The ring itself heals (stabilize has its own timeout), but the lookups in flight when a
node fails never end, and the dead node stays in the tables of the nodes that asked it.

Caught by ``lookups_walk_to_the_successor``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab9 = reference_module("lab9")


class ChordNode(lab9.ChordNode):
    def lookup_timed_out(self, qid: int) -> None:
        pass  # BUG: keep waiting for the silent node


in_open = lab9.in_open
in_half_open = lab9.in_half_open
