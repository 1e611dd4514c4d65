"""Mutant: the election does not listen to the detector: nobody notices that the
coordinator died, and its followers trust it for ever.

Caught by ``partition_heals_to_one_coordinator`` (its side without the coordinator must
notice that it is gone; and later the coordinator crashes).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
SwimDetector = lab3.SwimDetector


class BullyElection(lab3.BullyElection):
    def detector_changed(self, event: str, peer: str) -> None:
        pass  # BUG: the detector's "suspect" of the coordinator goes unheard
