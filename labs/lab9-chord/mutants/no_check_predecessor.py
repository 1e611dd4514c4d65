"""Mutant: check_predecessor never runs: a predecessor that crashed is kept forever.

notify accepts a new predecessor only if it lies between the old one and the node; the
crashed predecessor's own predecessor, the node's true predecessor now, lies *behind* the
dead one, so it is refused, again and again. Stabilize then tells it "my predecessor is
(the dead node)", and the ring never closes over the gap.

Caught by ``dead_predecessor_is_cleared``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab9 = reference_module("lab9")


class ChordNode(lab9.ChordNode):
    def check_predecessor(self) -> None:
        pass  # BUG: never pings the predecessor


in_open = lab9.in_open
in_half_open = lab9.in_half_open
