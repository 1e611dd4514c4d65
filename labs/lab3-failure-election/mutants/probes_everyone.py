"""Mutant: every period, a member pings every other member (all-to-all heartbeats with
SWIM's suspicion on top).

It works, but each member sends N-1 pings and answers N-1 pings a period: the load grows
with the group, which is what SWIM was designed to avoid (one ping a period, whatever N).

Caught by ``probes_round_robin``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab3 = reference_module("lab3")
BullyElection = lab3.BullyElection
Ping = lab3.Ping


class SwimDetector(lab3.SwimDetector):
    def start_period(self) -> None:
        super().start_period()
        if self.probe is None:
            return
        target = self.probe[1]
        for member in self.members:  # BUG: everyone, every period
            if member != target:
                self.send(member, Ping(0, self.piggyback(member)))
