"""Mutant: a restarted server does not hand its snapshot to the service.

It reads its snapshot back and starts applying after it, but never calls ``restore``:
the service, which lost its state in the crash, goes on from an empty state, and its
first apply after the restart is not the one after its (empty) state.

Caught by ``snapshot_term_counts``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab6 = reference_module("lab6")  # the solution.py of the lab
CHUNK_SIZE = lab6.CHUNK_SIZE

__all__ = ["CHUNK_SIZE", "RaftNode"]


class RaftNode(lab6.RaftNode):
    def resume(self) -> None:
        pass  # BUG: the service must restart from the snapshot: self.restore(...)
