"""Mutant: a follower sets its commitIndex to leaderCommit, even past the last entry the
AppendEntries carried.

Figure 2, AppendEntries, step 5: "set commitIndex = min(leaderCommit, index of last new
entry)". Past that entry the follower's log may still hold stale entries of an old term
that the leader has not yet replaced; with the bug it applies them.

Caught by ``commit_stops_at_the_last_new_entry`` (and by ``reliable_churn``, where
a stale entry gets applied).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab5 = reference_module("lab5")  # the solution.py of the lab


class RaftNode(lab5.RaftNode):
    def on_append_entries(self, src: str, msg: lab5.AppendEntries) -> None:
        super().on_append_entries(src, msg)
        consistent = (msg.term >= self.current_term
                      and msg.prev_log_index <= self.last_log_index()
                      and self.term_at(msg.prev_log_index) == msg.prev_log_term)
        if consistent and msg.leader_commit > self.commit_index:
            # BUG: min(leaderCommit, index of last new entry) forgotten
            self.commit(min(msg.leader_commit, self.last_log_index()))
