"""Mutant: installing a snapshot does not raise commitIndex and lastApplied to its index.

The service now holds every command up to the snapshot's index, but Raft still thinks it
has applied only its old lastApplied: at the next commit it applies again the commands
the snapshot holds, which are no longer in its log.

Caught by ``snapshot_basic``.
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab6 = reference_module("lab6")  # the solution.py of the lab
CHUNK_SIZE = lab6.CHUNK_SIZE

__all__ = ["CHUNK_SIZE", "RaftNode"]


class RaftNode(lab6.RaftNode):
    def install_snapshot(self, index: int, term: int, data: Any) -> None:
        if not (index <= self.last_log_index() and self.term_at(index) == term):
            self.truncate_log(self.snapshot_index)
        self.compact(index, term, data)
        self.restore(index, data)  # BUG: commitIndex and lastApplied stay where they were
