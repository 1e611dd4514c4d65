"""Mutant: a follower resets its election timer on every AppendEntries, those of a deposed
leader (an older term) too.

Figure 2, Followers: the timer is reset by AppendEntries "from *current* leader". A leader
that was deposed while cut off, and can still reach some followers, keeps them from
ever standing for election: if the current leader crashes, nobody replaces it.

Caught by ``stale_heartbeats_do_not_hold_elections``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab4 = reference_module("lab4")  # the solution.py of the lab


class RaftNode(lab4.RaftNode):
    def on_append_entries(self, src: str, msg: lab4.AppendEntries) -> None:
        if msg.term < self.current_term:
            self.reset_election_timer()  # BUG: a deposed leader is not the current leader
        super().on_append_entries(src, msg)
