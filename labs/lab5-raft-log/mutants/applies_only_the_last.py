"""Mutant: when the commit index moves, the node applies only the entry at the new commit
index, skipping those between the last applied one and it.

Figure 2: "if commitIndex > lastApplied: increment lastApplied, apply
log[lastApplied]", again and again until they are equal: every entry, in order.

Caught by ``old_terms_commit_only_with_the_current_one`` (indexes 1 and 2 commit
together; only 2 is applied), and by the harness's in-order check in the scenarios.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab5 = reference_module("lab5")  # the solution.py of the lab


class RaftNode(lab5.RaftNode):
    def commit(self, index: int) -> None:
        if index <= self.commit_index:
            return
        self.commit_index = index
        self.last_applied = index  # BUG: the entries in between are never applied
        self.apply(index, self.entries[index - 1].command)
