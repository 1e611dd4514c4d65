"""Mutant: a member answers an Election from below, but holds no election of its own
(unless it is the coordinator).

The lower member, answered, waits for a Coordinator that only the members above can
send; if they are dead, nobody ever wins: the elector starts over, is answered again,
and waits again, for ever.

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
        self.send(src, lab3.Answer(self.seen_epoch))
        if self.is_leader and epoch <= self.epoch:
            self.send(src, lab3.Coordinator(self.epoch))
        elif self.is_leader:
            self.become_coordinator()
        # BUG: otherwise nothing; the answer promised to take the election over
