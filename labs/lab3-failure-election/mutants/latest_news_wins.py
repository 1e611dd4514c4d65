"""Mutant: incarnation numbers are ignored: whatever news arrives about a member is
believed, if it differs from what is held.

Old news overtakes new: a suspicion that was refuted long ago, still being gossiped,
suspects the member again, and an old ``alive`` clears a fresh suspicion.

Caught by ``rules_of_precedence``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def overrides(self, status: str, incarnation: int, held: tuple[str, int]) -> bool:
        return (status, incarnation) != held  # BUG: the last news wins
