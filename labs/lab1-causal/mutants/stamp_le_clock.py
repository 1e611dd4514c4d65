"""Mutant: a member delivers a message when its stamp is <= its own clock.

"Deliver once I have delivered everything the stamp mentions" sounds right, but the stamp
also counts the message itself: ``stamp[origin]`` is one more than the messages of its
origin that it depends on. So ``stamp <= clock`` holds only for messages delivered
already, and no message of another member is ever delivered. The exact condition is
``stamp[origin] == clock[origin] + 1`` and ``stamp[k] <= clock[k]`` for the other ``k``.
"""

from __future__ import annotations

from dsys.clocks import Order
from dsys.labs import reference_module

lab1 = reference_module("lab1")  # the solution.py of the lab
CausalMessage = lab1.CausalMessage
VectorClock = lab1.VectorClock

__all__ = ["Member", "VectorClock"]


class Member(lab1.Member):
    def can_deliver(self, msg: CausalMessage) -> bool:
        # BUG: <= everywhere, also for the entry of the message's origin
        return msg.timestamp.compare(self.clock) in (Order.BEFORE, Order.EQUAL)
