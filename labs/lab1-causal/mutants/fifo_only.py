"""Mutant: a member waits only for the earlier messages of the same sender (FIFO order).

It checks that a message is the next one from its origin, and ignores the other entries
of the stamp. Each sender's messages arrive in order, but a reply from ``b`` to a message
of ``a`` can still be delivered before ``a``'s message: FIFO order is not causal order.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab1 = reference_module("lab1")  # the solution.py of the lab
CausalMessage = lab1.CausalMessage
VectorClock = lab1.VectorClock

__all__ = ["Member", "VectorClock"]


class Member(lab1.Member):
    def can_deliver(self, msg: CausalMessage) -> bool:
        # BUG: stamp[k] <= clock[k] for the other members k is never checked
        return msg.timestamp.get(msg.origin) == self.clock.get(msg.origin) + 1
