"""Mutant: a server grants its vote to a candidate of an older term, answering with the
candidate's term (it checks votedFor only in its own term).

The vote it cast in that older term is forgotten: a candidate of an old term can collect
a majority for a term whose leader has been elected already: two leaders in one term.

Caught by ``old_terms_do_not_count``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab4 = reference_module("lab4")  # the solution.py of the lab


class RaftNode(lab4.RaftNode):
    def on_request_vote(self, src: str, msg: lab4.RequestVote) -> None:
        if msg.term < self.current_term:
            # BUG: Figure 2, RequestVote, 1: "reply false if term < currentTerm"
            self.send(src, lab4.RequestVoteReply(msg.term, True))
            return
        super().on_request_vote(src, msg)
