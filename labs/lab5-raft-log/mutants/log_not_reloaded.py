"""Mutant: the log is written to storage but not read back on restart: a restarted server
starts with an empty log (its term and vote survive).

Every server that restarts has forgotten the entries it acknowledged, so committed
entries vanish from a majority, and a leader elected among such servers overwrites them.

Caught by ``persistent_state_survives_a_crash`` (and by ``persist1``).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab5 = reference_module("lab5")  # the solution.py of the lab


class RaftNode(lab5.RaftNode):
    def on_start(self) -> None:
        super().on_start()
        self.entries = []  # BUG: the log is persistent state
