"""Mutant: a candidate that receives AppendEntries from the leader of its own term stays a
candidate (and does not reset its election timer).

After a split vote, the losing candidate times out, starts an election in the next term
and deposes a leader that was doing fine: one needless election after each split vote.

Caught by ``calm_network_keeps_its_leader``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab4 = reference_module("lab4")  # the solution.py of the lab


class RaftNode(lab4.RaftNode):
    def on_append_entries(self, src: str, msg: lab4.AppendEntries) -> None:
        if self.role == lab4.CANDIDATE and msg.term == self.current_term:
            # BUG: Candidates: "if AppendEntries RPC received from new leader: convert
            # to follower".
            self.send(src, lab4.AppendEntriesReply(self.current_term, True))
            return
        super().on_append_entries(src, msg)
