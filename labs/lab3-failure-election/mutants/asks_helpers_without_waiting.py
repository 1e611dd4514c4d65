"""Mutant: the ping-reqs go out with the ping, without waiting PING_TIMEOUT for its ack.

Detection works, but every probe costs 1 + 2k + 2k messages more than it should, though
almost every ping is answered directly.

Caught by ``probes_round_robin``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection


class SwimDetector(lab3.SwimDetector):
    def start_period(self) -> None:
        super().start_period()
        self.probe_indirectly()  # BUG: at once, as if the ping had timed out
