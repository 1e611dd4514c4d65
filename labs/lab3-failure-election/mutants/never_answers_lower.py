"""Mutant: a member that receives an Election from a lower member holds its own
election, but sends no Answer.

The lower member hears nothing within ANSWER_TIMEOUT, concludes that every higher member
is dead, and makes itself coordinator, while a higher one is alive and wins too: two
coordinators, elections that never settle.

Caught by ``answers_lower_elections``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
SwimDetector = lab3.SwimDetector


class BullyElection(lab3.BullyElection):
    def on_election(self, src: str, epoch: int) -> None:
        if src > self.id:
            return
        # BUG: no Answer to src
        if self.is_leader and epoch <= self.epoch:
            self.send(src, lab3.Coordinator(self.epoch))
        elif self.is_leader:
            self.become_coordinator()
        else:
            self.start_election()
