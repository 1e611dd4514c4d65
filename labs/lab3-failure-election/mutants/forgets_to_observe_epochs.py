"""Mutant: the epochs carried by Election, Answer and Coordinator messages are not
remembered (no ``observe``).

``new_epoch()`` then picks an epoch above only the ones this member chose itself: a new
coordinator may announce an epoch older than the one its followers know, and they ignore
it, or hold elections that never end.

Caught by ``bullies_a_lower_coordinator``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
SwimDetector = lab3.SwimDetector


class BullyElection(lab3.BullyElection):
    def observe(self, epoch: int) -> None:
        pass  # BUG: seen_epoch never learns of other members' epochs
