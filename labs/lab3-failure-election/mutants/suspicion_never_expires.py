"""Mutant: the suspicion timer is never armed, so a suspected member stays suspected for
ever: a crashed member is never declared dead (the detector is not complete).

Caught by ``suspicion_then_death``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def set_timer(self, name: str, delay: float) -> None:
        if name.startswith("suspect:"):
            return  # BUG: the suspicion never times out
        super().set_timer(name, delay)
