"""Mutant: finger i starts at n + 2**(i+1) instead of n + 2**i.

The paper numbers fingers from 1 and writes 2**(k-1); counting from 0 and keeping the
formula's ``+ 1`` skips the first finger's distance and doubles every other: finger 0
(which should be the successor) points two identifiers on, and the last finger wraps all
the way round to the node itself.

Caught by ``fingers_point_at_the_successors_of_their_starts``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab9 = reference_module("lab9")


class ChordNode(lab9.ChordNode):
    def finger_start(self, i: int) -> int:
        return (self.ident + 2 ** (i + 1)) % lab9.SIZE  # BUG: 2**i


in_open = lab9.in_open
in_half_open = lab9.in_half_open
