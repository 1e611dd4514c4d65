"""Mutant: a member piggybacks what it found itself (its suspicions, its refutations) but
not the news it hears from others: no infection-style dissemination.

Every member must then find each crash by its own probes, and a refutation reaches only
the members its owner talks to.

Caught by ``news_spreads_then_stops``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def on_message(self, src: str, msg: object) -> None:
        self.hearing = True
        try:
            super().on_message(src, msg)
        finally:
            self.hearing = False

    def gossip(self, update: lab3.Update) -> None:
        if getattr(self, "hearing", False) and update.member != self.id:
            return  # BUG: news heard from others is not passed on
        super().gossip(update)
