"""Mutant: a candidate counts every granted vote it receives, whatever term it was cast in.

A vote that arrives late, from an election this candidate has since given up on, counts
in its new election, although the voter may have voted for someone else in the new term:
two leaders in one term.

Caught by ``old_terms_do_not_count``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab4 = reference_module("lab4")  # the solution.py of the lab


class RaftNode(lab4.RaftNode):
    def on_request_vote_reply(self, src: str, msg: lab4.RequestVoteReply) -> None:
        if self.role != lab4.CANDIDATE or not msg.granted:  # BUG: msg.term not checked
            return
        self.votes.add(src)
        if self.is_majority(self.votes):
            self.become_leader()
