"""Mutant: each period's target is drawn at random from the members.

Every member is probed once per period *on average*, but nothing bounds the wait: a
member can go unprobed for many periods, so a crash may be noticed (by this member's own
probes) arbitrarily late. SWIM's randomized round-robin (§4.3) bounds it to 2(N-1)-1
periods.

Caught by ``probes_round_robin``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")  # the solution.py of the lab
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def next_target(self) -> str | None:
        members = list(self.members)
        return self.rng.choice(members) if members else None  # BUG: no round-robin
