"""Mutant: the snapshot is persisted, but the entries it replaces stay in storage.

In memory the log is compacted, and a restart reads only the entries after the snapshot,
so every run looks right; but the stored log is never trimmed, and the storage grows
with every command, which is what compaction is for.

Caught by ``snapshot_basic``.
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab6 = reference_module("lab6")  # the solution.py of the lab
CHUNK_SIZE = lab6.CHUNK_SIZE

__all__ = ["CHUNK_SIZE", "RaftNode"]


class RaftNode(lab6.RaftNode):
    def compact(self, index: int, term: int, data: Any) -> None:
        covered = min(index, self.last_log_index())
        del self.entries[:covered - self.snapshot_index]  # BUG: the stored entries stay
        self.snapshot_index, self.snapshot_term, self.snapshot_data = index, term, data
        self.storage["snapshot"] = {"index": index, "term": term, "data": data}
        self.storage["last_log_index"] = self.last_log_index()
