"""Mutant: a member delivers each message as soon as it arrives (no hold-back queue).

It still ignores copies, so nothing is delivered twice, and on a network that keeps every
link in order it would even look right. But a reply can overtake the message it answers on
the way to a third member, which then reads the answer before the question.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab1 = reference_module("lab1")  # the solution.py of the lab
CausalMessage = lab1.CausalMessage
VectorClock = lab1.VectorClock

__all__ = ["Member", "VectorClock"]


class Member(lab1.Member):
    def receive(self, msg: CausalMessage) -> None:
        if self.is_copy(msg):
            return
        # BUG: no waiting for the messages it depends on
        self.clock = self.clock.increment(msg.origin)
        self.deliver(msg)

    def is_copy(self, msg: CausalMessage) -> bool:
        # Without a queue, "delivered already" is remembered by id.
        return any(seen.id == msg.id for seen in self.delivered)
