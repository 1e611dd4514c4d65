"""Mutant: a Coordinator message is adopted whoever sends it, if its epoch is current.

A member that was down (or cut off) when a lower one won comes back and follows it,
although it is higher: the bully algorithm's invariant, the highest live member leads,
is lost.

Caught by ``bullies_a_lower_coordinator``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
SwimDetector = lab3.SwimDetector


class BullyElection(lab3.BullyElection):
    def on_coordinator(self, src: str, epoch: int) -> None:
        if src < self.id and epoch >= self.epoch:
            # BUG: a lower member must be bullied, not followed
            self.electing = False
            self.cancel_timer("answer")
            self.cancel_timer("coordinator")
            self.adopt(src, epoch)
            return
        super().on_coordinator(src, epoch)
