"""Mutant: a member that hears it is suspected (or held dead) keeps quiet.

Every suspicion of a live member, after a lost ping, becomes its death once the
suspicion times out, and it stays dead: the detector is not accurate at all.

Caught by ``refutes_suspicion_of_itself``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def about_me(self, update: lab3.Update) -> None:
        pass  # BUG: no refutation
