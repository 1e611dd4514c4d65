"""Mutant: a ping to a member held suspect or dead does not carry that news first; the
member learns of it only if the news is still being gossiped.

A member that restarts after its death has been gossiped never hears that it is held
dead, so never refutes it: it stays dead for everyone.

Caught by ``crashes_are_detected_everywhere``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def piggyback(self, dst: str) -> tuple[lab3.Update, ...]:
        # BUG: nothing about dst itself first; only the outbox
        chosen: list[lab3.Update] = []
        for member, entry in sorted(self.outbox.items(), key=lambda item: item[1][1]):
            if len(chosen) >= lab3.MAX_PIGGYBACK:
                break
            chosen.append(entry[0])
            entry[1] += 1
            if entry[1] >= lab3.MAX_TRANSMISSIONS:
                del self.outbox[member]
        return tuple(chosen)
