"""Mutant: a Coordinator whose epoch is older than the one a member follows is ignored,
even when it comes from a higher member that is not its coordinator.

After a partition heals, each side keeps its coordinator: the higher one's epoch is the
older (the other side elected later), so the lower side never hears it, and the higher
one never hears the lower one (a coordinator tells only the members below it).

Caught by ``partition_heals_to_one_coordinator``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
SwimDetector = lab3.SwimDetector


class BullyElection(lab3.BullyElection):
    def on_coordinator(self, src: str, epoch: int) -> None:
        if src > self.id and epoch < self.epoch:
            return  # BUG: two coordinators claim this member; an election must settle it
        super().on_coordinator(src, epoch)
