"""Mutant: an elector that got an Answer waits for the Coordinator message for ever (no
COORDINATOR_TIMEOUT).

If the member that answered dies before announcing itself, the election never ends: the
elector has no coordinator, and since it is "electing" it starts no new election (its
detector's news of the death concerns a member that is not its coordinator).

Caught by ``election_restarts_when_the_winner_dies``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
SwimDetector = lab3.SwimDetector


class BullyElection(lab3.BullyElection):
    def set_timer(self, name: str, delay: float) -> None:
        if name == "coordinator":
            return  # BUG: Garcia-Molina's T' is missing
        super().set_timer(name, delay)
