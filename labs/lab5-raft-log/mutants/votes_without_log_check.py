"""Mutant: a server grants its vote without checking that the candidate's log is at
least as up-to-date as its own (§5.4.1).

A server that missed committed entries (it was cut off, or crashed) can then be
elected, and overwrite the entries the others committed: Leader Completeness breaks.

Caught by ``persistent_state_survives_a_crash`` (it votes for a candidate
with an empty log), and by ``fail_agree``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab5 = reference_module("lab5")  # the solution.py of the lab


class RaftNode(lab5.RaftNode):
    def candidate_is_up_to_date(self, msg: lab5.RequestVote) -> bool:
        return True  # BUG: the election restriction (§5.4.1)
