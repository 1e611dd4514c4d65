"""Mutant: a follower does not reset its election timer when it grants a vote.

Figure 2, Followers: "if election timeout elapses without receiving AppendEntries RPC
from current leader *or granting vote to candidate*: convert to candidate". A voter whose
timer was about to fire stands for election right after voting, in the next term, and
can depose the candidate it just elected before that one's first heartbeat arrives.

Caught by ``granting_a_vote_resets_the_timer``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab4 = reference_module("lab4")  # the solution.py of the lab


class RaftNode(lab4.RaftNode):
    def on_request_vote(self, src: str, msg: lab4.RequestVote) -> None:
        granted = msg.term == self.current_term and self.voted_for in (None, msg.candidate)
        if granted:
            self.set_term(self.current_term, voted_for=msg.candidate)  # BUG: no timer reset
        self.send(src, lab4.RequestVoteReply(self.current_term, granted))
