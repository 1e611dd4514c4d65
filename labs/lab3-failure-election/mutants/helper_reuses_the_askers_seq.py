"""Mutant: a helper pings the target with the asker's seq instead of one of its own, and
keys its relay table by that seq.

Seqs are counted per member, so the asker's seq can equal the helper's own probe's seq:
the target's ack is then taken as an ack of the helper's own probe of someone else (a
crashed member can go unsuspected for a period), and is not passed on to the asker
(which suspects a live member).

Written as a bug no test aimed at: no test caught it (in 10 seeds of each), so
``indirect_probes`` now asks the student's member to help with the very seq of its own
outstanding probe, and catches it on every seed.

Caught by ``indirect_probes``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def relay(self, asker: str, asker_seq: int, target: str) -> None:
        self.relays[asker_seq] = (asker, asker_seq)  # BUG: the asker's seq, not a new one
        self.send(target, lab3.Ping(asker_seq, self.piggyback(target)))
