"""Mutant: a member that fails a probe is declared dead at once (the basic protocol of
§3 of the paper, without the suspicion of §4.2).

One lost ping and its ping-reqs kill a live member, which must then come back with a
new incarnation: many false deaths under loss.

Caught by ``suspicion_then_death``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def end_period(self) -> None:
        if self.probe is None or self.acked:
            return
        target = self.probe[1]
        status, incarnation = self.view[target]
        if status == lab3.ALIVE:
            self.apply(lab3.Update(lab3.DEAD, target, incarnation))  # BUG: no suspicion
