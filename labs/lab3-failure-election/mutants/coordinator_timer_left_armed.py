"""Mutant: adopting a coordinator does not cancel the elector's "coordinator" timer.

An elector that got an Answer arms the timer; the Coordinator message comes, the
elector adopts it, and the timer still fires COORDINATOR_TIMEOUT later: the member starts
an election it does not need, forgets its coordinator, asks again, is answered again...
The loop ends only when a Coordinator overtakes its Answer on the network.

Written as a bug no test aimed at: the group tests caught it on a few seeds only (seed
1 of ``coordinator_crash_elects_the_next``, by its message budget; seed 1 of
``elections_under_faults``), so ``an_answered_election_ends`` was added, which pins the
order (Answer, then Coordinator) and catches it on every seed.

Caught by ``an_answered_election_ends``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
SwimDetector = lab3.SwimDetector


class BullyElection(lab3.BullyElection):
    def on_coordinator(self, src: str, epoch: int) -> None:
        if src > self.id and epoch >= self.epoch:
            self.electing = False
            self.cancel_timer("answer")  # BUG: the "coordinator" timer stays armed
            if (self.leader, self.epoch) != (src, epoch):
                self.adopt(src, epoch)
            return
        super().on_coordinator(src, epoch)
