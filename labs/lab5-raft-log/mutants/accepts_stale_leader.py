"""Mutant: a follower accepts AppendEntries from a leader of an older term.

Figure 2, AppendEntries, step 1: "reply false if term < currentTerm". Without it, a
deposed leader that comes back (cut off, then reconnected; or its messages delayed) still
writes its stale entries into followers' logs, over entries the current leader has
committed.

Caught by ``late_and_stale_appends_change_nothing`` (and by ``rejoin``, where a deposed
leader's entries overwrite committed ones).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab5 = reference_module("lab5")  # the solution.py of the lab


class RaftNode(lab5.RaftNode):
    def on_append_entries(self, src: str, msg: lab5.AppendEntries) -> None:
        if msg.term < self.current_term:
            # BUG: treated as if it came from the current leader
            msg = lab5.AppendEntries(self.current_term, msg.leader, msg.prev_log_index,
                                     msg.prev_log_term, msg.entries, msg.leader_commit)
        super().on_append_entries(src, msg)
