"""Mutant: the piggyback slots go to the news sent most often, not the least.

With more news than MAX_PIGGYBACK, fresh news waits until older news has been sent
MAX_TRANSMISSIONS times: a suspicion spreads periods late. (A lead engineer's own bug,
written after the grader; ``news_spreads_then_stops`` was sharpened for it.)

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
        # BUG: most-sent first
        for member, entry in sorted(self.outbox.items(), key=lambda item: -item[1][1]):
            if len(chosen) >= lab3.MAX_PIGGYBACK:
                break
            if entry[0] in chosen:
                continue
            chosen.append(entry[0])
            entry[1] += 1
            if entry[1] >= lab3.MAX_TRANSMISSIONS:
                del self.outbox[member]
        return tuple(chosen)
