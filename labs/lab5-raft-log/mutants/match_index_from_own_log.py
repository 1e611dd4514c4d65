"""Mutant: on a success reply, the leader sets the follower's matchIndex to the end of its
*own* log, as if the follower held everything the leader holds now.

The reply answers an AppendEntries sent earlier: entries appended since were not in it.
The leader counts replicas that do not exist, and commits entries a majority does not
hold; a crash or an election then loses them.

Caught by ``leader_counts_only_acknowledged_entries`` (and by ``backup``, where the
leader never sends followers what they lack).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab5 = reference_module("lab5")  # the solution.py of the lab


class RaftNode(lab5.RaftNode):
    def on_append_entries_reply(self, src: str, msg: lab5.AppendEntriesReply) -> None:
        if self.role == lab5.LEADER and msg.term == self.current_term and msg.success:
            self.match_index[src] = self.last_log_index()  # BUG: not what the reply says
            self.next_index[src] = self.last_log_index() + 1
            self.advance_commit_index()
            return
        super().on_append_entries_reply(src, msg)
