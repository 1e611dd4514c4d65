"""Mutant: stabilize adopts the successor's predecessor whatever it is, without checking
that it lies between the node and its successor.

When the successor's predecessor is behind the node (the successor has not heard of the
node yet, or the node joined with a stale answer), the node takes a successor *behind*
itself: the ring folds back on itself.

Caught by ``stabilize_adopts_a_closer_successor``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab9 = reference_module("lab9")


class ChordNode(lab9.ChordNode):
    def on_predecessor_reply(self, src: str, msg: lab9.PredecessorReply) -> None:
        x = msg.predecessor
        self._waiting_for = None
        self.cancel_timer("stabilize-timeout")
        listed = [src, *msg.successors]
        if x is not None and x != self.id:  # BUG: no check that x is in (n, successor)
            listed.insert(0, x)
        self.set_successors(listed)
        self.send(self.successor, lab9.Notify())


in_open = lab9.in_open
in_half_open = lab9.in_half_open
