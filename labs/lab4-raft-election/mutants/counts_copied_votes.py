"""Mutant: votes are kept in a list, so a vote the network copied counts twice.

Two votes of five (its own and one voter's, received twice) make a "majority": two
leaders in one term.

Caught by ``a_vote_counts_once``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab = reference_module("lab4")
RequestVoteReply = lab.RequestVoteReply


class RaftNode(lab.RaftNode):
    def start_election(self) -> None:
        super().start_election()
        self.votes = [self.id]  # type: ignore[assignment]

    def on_request_vote_reply(self, src: str, msg: lab.RequestVoteReply) -> None:
        if self.role != lab.CANDIDATE or msg.term != self.current_term or not msg.granted:
            return
        self.votes.append(src)  # BUG: a copy of the same vote counts again
        if len(self.votes) * 2 > len(self.peers) + 1:
            self.become_leader()
