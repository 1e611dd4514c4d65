"""Mutant: the leader sends the entries from ``log[nextIndex]`` of a 0-based list: one
past the entry at ``nextIndex``.

Indexes in the paper count from 1; the list counts from 0. The follower never receives
the entry at ``nextIndex``, and nothing commits.

Caught by ``old_terms_commit_only_with_the_current_one`` (its command of the new
term never commits), and by ``basic_agree``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab5 = reference_module("lab5")  # the solution.py of the lab


class RaftNode(lab5.RaftNode):
    def send_append_entries(self, peer: str) -> None:
        prev = self.next_index[peer] - 1
        entries = tuple(self.entries[prev + 1:prev + 1 + lab5.MAX_ENTRIES])  # BUG: off by one
        self.send(peer, lab5.AppendEntries(self.current_term, self.id, prev,
                                           self.term_at(prev), entries, self.commit_index))
