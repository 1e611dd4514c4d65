"""Mutant: a snapshot at ``index`` discards the entry after it too (an off-by-one).

``snapshot(index, data)`` compacts the log through ``index + 1``: the entry at
``index + 1``, which the snapshot does not hold, is gone. The next apply reads an entry
that is no longer there (or, on a leader, a follower is sent the wrong entries).

Caught by ``snapshot_basic``.
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab6 = reference_module("lab6")  # the solution.py of the lab
CHUNK_SIZE = lab6.CHUNK_SIZE

__all__ = ["CHUNK_SIZE", "RaftNode"]


class RaftNode(lab6.RaftNode):
    def snapshot(self, index: int, data: Any) -> None:
        if index <= self.snapshot_index:
            return
        through = min(index + 1, self.last_log_index())  # BUG: one entry too many
        self.compact(through, self.term_at(through), data)
        self.persist()
