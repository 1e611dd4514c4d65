"""Mutant: a member counts a delivery in its clock only after the application saw it.

The application may answer a message from inside ``on_deliver``. The answer is stamped with
the clock at that moment, which does not count the message it answers yet, so other
members may deliver the answer before the question.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab1 = reference_module("lab1")  # the solution.py of the lab
VectorClock = lab1.VectorClock

__all__ = ["Member", "VectorClock"]


class Member(lab1.Member):
    def deliver_ready(self) -> None:
        while (ready := self.next_deliverable()) is not None:
            self.held_back.remove(ready)
            self.deliver(ready)
            self.clock = self.clock.increment(ready.origin)  # BUG: counted too late
