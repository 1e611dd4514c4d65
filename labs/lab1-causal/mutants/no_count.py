"""Mutant: a member delivers a held-back message without counting it in its clock.

Its clock never learns that the message was delivered: the next message of the same
origin waits for ever, and a copy of the delivered one is "the next message" again, so it
is delivered a second time.
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
            self.deliver(ready)  # BUG: clock[origin] is not incremented
