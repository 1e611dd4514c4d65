"""Mutant: compacting the log through ``index`` keeps the entry at ``index`` (off by one).

The snapshot now holds entries up to ``index``, and the log should start at
``index + 1``; but the slice that drops the covered entries stops one short, so the log
still starts with the entry at ``index``, and every index computed with the offset is off
by one: the log looks one entry longer than it is, entries are read (and stored) one
place off, and the node soon looks for an entry that is not where it should be.

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
        for gone in range(self.snapshot_index + 1, covered + 1):
            del self.storage[f"log/{gone}"]
        del self.entries[:covered - self.snapshot_index - 1]  # BUG: one short
        self.snapshot_index, self.snapshot_term, self.snapshot_data = index, term, data
        self.storage["snapshot"] = {"index": index, "term": term, "data": data}
        self.storage["last_log_index"] = self.last_log_index()
