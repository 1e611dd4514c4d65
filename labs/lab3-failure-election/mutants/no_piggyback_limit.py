"""Mutant: every piece of news in the outbox rides on every message (no MAX_PIGGYBACK).

After a burst of changes (a partition, many crashes), messages grow with the group.

Caught by ``news_spreads_then_stops``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def piggyback(self, dst: str) -> tuple[lab3.Update, ...]:
        chosen: list[lab3.Update] = []
        status, incarnation = self.view.get(dst, (lab3.ALIVE, 0))
        if status != lab3.ALIVE:
            chosen.append(lab3.Update(status, dst, incarnation))
        for member, entry in list(self.outbox.items()):  # BUG: no MAX_PIGGYBACK
            if entry[0] in chosen:
                continue
            chosen.append(entry[0])
            entry[1] += 1
            if entry[1] >= lab3.MAX_TRANSMISSIONS:
                del self.outbox[member]
        return tuple(chosen)
