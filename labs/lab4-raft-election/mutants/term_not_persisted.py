"""Mutant: the current term is not read back on restart: every restart begins at term 0.

A restarted server goes back in time: the first RequestVote of its old term looks new to
it, it forgets its vote in that term along with the term, and votes again.

Caught by ``vote_survives_a_crash``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab4 = reference_module("lab4")  # the solution.py of the lab


class RaftNode(lab4.RaftNode):
    def on_start(self) -> None:
        super().on_start()
        self.current_term = 0  # BUG: currentTerm is persistent state
