"""Mutant: the vote is stored, but not read back on restart: a restarted server has not
voted in its current term, as far as it knows.

If it had voted for ``b`` before the crash, it can vote for ``c`` in the same term after
it: ``b`` and ``c`` may both win that term.

Caught by ``vote_survives_a_crash``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab4 = reference_module("lab4")  # the solution.py of the lab


class RaftNode(lab4.RaftNode):
    def on_start(self) -> None:
        super().on_start()
        self.voted_for = None  # BUG: votedFor is persistent state
