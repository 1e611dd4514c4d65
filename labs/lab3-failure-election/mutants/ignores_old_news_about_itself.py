"""Mutant: news that a member is suspected, of an incarnation it refuted already, is
ignored.

The member holding that old news missed the refutation, whose gossip is over by now:
nothing will ever tell it, and its suspicion becomes a death of a live member.

Caught by ``refutes_suspicion_of_itself``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def about_me(self, update: lab3.Update) -> None:
        if update.incarnation < self.incarnation:
            return  # BUG: whoever sent it still suspects us; tell it again
        super().about_me(update)
