"""Mutant: the leader commits an entry of an earlier term as soon as a majority holds it.

This is the situation of Figure 8 of the paper: an entry of an old term stored on a
majority can still be overwritten by a later leader (one elected by servers that do
not hold it). Raft commits only entries of the current term by counting replicas; the
earlier ones commit with them (§5.4.2).

Caught by ``old_terms_commit_only_with_the_current_one`` (and, on some seeds, by
``figure8_unreliable``).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab5 = reference_module("lab5")  # the solution.py of the lab


class RaftNode(lab5.RaftNode):
    def advance_commit_index(self) -> None:
        for n in range(self.last_log_index(), self.commit_index, -1):
            # BUG: no "log[N].term == currentTerm"
            if self.is_majority(peer for peer, match in self.match_index.items()
                                if match >= n):
                self.commit(n)
                return
