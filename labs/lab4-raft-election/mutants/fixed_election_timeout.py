"""Mutant: the election timeout is not random: every server waits 450 ms.

Servers that start together time out together: each becomes a candidate in the same
term, votes for itself and refuses the others. Then again, one term later, for ever: a
split vote that never ends, and no leader is ever elected.

Caught by ``calm_network_keeps_its_leader`` (no leader is ever elected), and by every
scenario that expects a leader.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab4 = reference_module("lab4")  # the solution.py of the lab


class RaftNode(lab4.RaftNode):
    def reset_election_timer(self) -> None:
        self.set_timer("election", 0.45)  # BUG: not randomized (§5.2)
