"""Lab 1's reference, whose members send a broadcast to a set of peers.

The set removes nothing (the peers are distinct already), but it sends the copies in the
order of the peers' string hashes, which changes from one process to the next: the
messages, their ids and their arrival times change with it.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab1 = reference_module("lab1")  # the solution.py of the lab
CausalMessage = lab1.CausalMessage
VectorClock = lab1.VectorClock

__all__ = ["Member", "VectorClock"]


class Member(lab1.Member):
    def broadcast(self, payload: str) -> str:
        self.clock = self.clock.increment(self.id)
        msg = CausalMessage(self.id, self.clock.to_wire(), payload)
        self.note("broadcast", id=msg.id, payload=payload)
        for peer in set(self.peers):  # NONDETERMINISTIC: a set of strings, in hash order
            self.send(peer, msg)
        self.deliver(msg)
        return msg.id
