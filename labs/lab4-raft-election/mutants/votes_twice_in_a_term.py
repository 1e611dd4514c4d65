"""Mutant: a server grants every RequestVote of its current term, even when it has voted
for another candidate in that term already.

Two candidates of one term can then both collect a majority: two leaders in one term,
which Election Safety forbids. A split vote is all it takes.

Caught by ``vote_survives_a_crash`` (the voter grants the second candidate of the term,
crash or no crash), by the random elections of the MIT scenarios when a split vote
happens, and every time by the model checker of ``search_election_safety``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab4 = reference_module("lab4")  # the solution.py of the lab


class RaftNode(lab4.RaftNode):
    def on_request_vote(self, src: str, msg: lab4.RequestVote) -> None:
        granted = msg.term == self.current_term  # BUG: votedFor is not checked
        if granted:
            self.set_term(self.current_term, voted_for=msg.candidate)
            self.reset_election_timer()
        self.send(src, lab4.RequestVoteReply(self.current_term, granted))
