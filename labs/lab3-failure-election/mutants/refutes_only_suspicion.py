"""Mutant: a member refutes a suspicion of itself, but not news of its death.

A member declared dead while alive (it was slow, cut off, or it restarted) never comes
back: the two sides of a healed partition stay dead to each other.

Caught by ``refutes_suspicion_of_itself``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def about_me(self, update: lab3.Update) -> None:
        if update.status == lab3.DEAD:
            return  # BUG: "dead" must be refuted too
        super().about_me(update)
