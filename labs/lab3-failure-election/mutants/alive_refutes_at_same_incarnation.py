"""Mutant: ``alive`` news of the same incarnation clears a suspicion (``>=`` where the
rule says ``>``).

Copies of old ``alive`` news still travelling clear suspicions of a crashed member, which
the member itself never refuted: crashes are noticed late, and a suspicion means nothing.

Caught by ``rules_of_precedence``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def overrides(self, status: str, incarnation: int, held: tuple[str, int]) -> bool:
        held_status, held_incarnation = held
        if status == lab3.ALIVE and held_status == lab3.SUSPECT:
            return incarnation >= held_incarnation  # BUG: only a newer one refutes
        return super().overrides(status, incarnation, held)
