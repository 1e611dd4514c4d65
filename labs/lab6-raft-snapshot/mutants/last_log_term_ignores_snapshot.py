"""Mutant: with an empty log after its snapshot, a server's last log term reads as 0.

Lab 5's ``log[-1].term if log else 0``, kept after the log became offset: once the
entries after the snapshot are gone (every snapshot the service takes right after an
apply leaves the log empty until the next command), the server's last log term is 0,
not the snapshot's ``lastIncludedTerm``. As a voter, it then grants its vote to a
candidate whose log ends at a later index in an older term: a stale server that lacks
committed entries can win an election (§5.4.1 is broken), and overwrite them. As a
candidate, it undersells its own log. The 3D scenarios rarely meet a stale candidate at
that moment.

Caught by ``snapshot_term_counts``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab6 = reference_module("lab6")  # the solution.py of the lab
CHUNK_SIZE = lab6.CHUNK_SIZE

__all__ = ["CHUNK_SIZE", "RaftNode"]


class RaftNode(lab6.RaftNode):
    def last_log_term(self) -> int:
        # BUG: with no entry after the snapshot, the last term is the snapshot's, not 0.
        return self.entries[-1].term if self.entries else 0

    def start_election(self) -> None:
        self.role = lab6.CANDIDATE
        self.set_term(self.current_term + 1, voted_for=self.id)
        self.votes = {self.id}
        self.reset_election_timer()
        if self.is_majority(self.votes):
            self.become_leader()
            return
        request = lab6.RequestVote(self.current_term, self.id, self.last_log_index(),
                                   self.last_log_term())
        for peer in self.peers:
            self.send(peer, request)

    def candidate_is_up_to_date(self, msg: lab6.RequestVote) -> bool:
        ours = (self.last_log_term(), self.last_log_index())
        return (msg.last_log_term, msg.last_log_index) >= ours
