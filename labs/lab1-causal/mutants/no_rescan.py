"""Mutant: after a message arrives, a member looks through the hold-back queue once.

It delivers what is deliverable in one pass over the queue, in arrival order. When a
message late in the queue unblocks one earlier in the queue, the earlier one waits for the
next arrival to be looked at again, and after the last arrival it waits for ever.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab1 = reference_module("lab1")  # the solution.py of the lab
VectorClock = lab1.VectorClock

__all__ = ["Member", "VectorClock"]


class Member(lab1.Member):
    def deliver_ready(self) -> None:
        for msg in list(self.held_back):  # BUG: one pass; a delivery does not start another
            if self.can_deliver(msg):
                self.held_back.remove(msg)
                self.clock = self.clock.increment(msg.origin)
                self.deliver(msg)
