"""Mutant: compaction deletes the stored entries and syncs, then saves the snapshot.

Each step is synced, but not together: a crash between the two syncs leaves storage
with neither the entries nor the snapshot that replaces them, and the server restarts
with a hole in its log (or with a log that starts in the middle and no snapshot).

Caught by ``crash_between_writes``.
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
        for gone in range(self.snapshot_index + 1, covered + 1):
            del self.storage[f"log/{gone}"]
        self.storage.sync()  # BUG: a crash here loses the entries, and has no snapshot
        del self.entries[:covered - self.snapshot_index]
        self.snapshot_index, self.snapshot_term, self.snapshot_data = index, term, data
        self.storage["snapshot"] = {"index": index, "term": term, "data": data}
        self.storage["last_log_index"] = self.last_log_index()
