"""Mutant: every death the detector reports starts an election, the coordinator's or
not.

The right member wins, but a follower's crash costs a whole election (up to N² messages)
and a moment without a coordinator at every member.

Caught by ``coordinator_crash_elects_the_next``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
SwimDetector = lab3.SwimDetector


class BullyElection(lab3.BullyElection):
    def detector_changed(self, event: str, peer: str) -> None:
        if event == "suspect":  # BUG: only the coordinator's death matters
            self.start_election()
