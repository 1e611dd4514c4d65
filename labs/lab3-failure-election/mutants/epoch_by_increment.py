"""Mutant: a new coordinator takes as its epoch the highest epoch it has seen, plus one.

Two members that win at the same time (the two sides of a partition, say) after seeing
the same epochs take the same one: one epoch, two coordinators. ``new_epoch()`` picks an
epoch only this member owns.

Caught by ``partition_heals_to_one_coordinator``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
SwimDetector = lab3.SwimDetector


class BullyElection(lab3.BullyElection):
    def new_epoch(self) -> int:
        self.seen_epoch += 1  # BUG: another member may pick this one too
        return self.seen_epoch
