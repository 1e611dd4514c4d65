"""Mutant: a member puts every copy it receives in the hold-back queue.

The delivery condition is exact, so a copy is never delivered twice: once the original is
delivered, the copy is no longer "the next message from its origin". But it is never
delivered at all, so it waits in the queue for ever. Every duplicate the network makes
leaks a little memory, and a long-running member runs out of it.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab1 = reference_module("lab1")  # the solution.py of the lab
CausalMessage = lab1.CausalMessage
VectorClock = lab1.VectorClock

__all__ = ["Member", "VectorClock"]


class Member(lab1.Member):
    def is_copy(self, msg: CausalMessage) -> bool:
        return False  # BUG: copies of delivered and of waiting messages are kept
