"""Mutant: news is never dropped from the outbox: every message carries every piece of
news ever heard, for ever (up to MAX_PIGGYBACK).

Messages stay large although nothing happens, and old news keeps travelling.

Caught by ``news_spreads_then_stops``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def piggyback(self, dst: str) -> tuple[lab3.Update, ...]:
        chosen = super().piggyback(dst)
        for update in chosen:
            if update.member in self.outbox:
                self.outbox[update.member][1] = 0  # BUG: never counts up to the limit
            elif update.member != dst:
                self.gossip(update)
        return chosen
