"""Mutant: broadcast stamps the message with the clock before ticking its own entry.

The stamp of a member's n-th message then says ``n - 1``: receivers take it for the
member's previous message. The first message of every member looks like a copy of nothing
(and waits for ever), and the second is delivered as if it were the first.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab1 = reference_module("lab1")  # the solution.py of the lab
CausalMessage = lab1.CausalMessage
VectorClock = lab1.VectorClock

__all__ = ["Member", "VectorClock"]


class Member(lab1.Member):
    def broadcast(self, payload: str) -> str:
        msg = CausalMessage(self.id, self.clock.to_wire(), payload)
        self.clock = self.clock.increment(self.id)  # BUG: after stamping, not before
        self.note("broadcast", id=msg.id, payload=payload)
        for peer in self.peers:
            self.send(peer, msg)
        self.deliver(msg)
        return msg.id
