"""Mutant: after a follower installs the snapshot, the leader raises its matchIndex but not
its nextIndex.

The follower's nextIndex stays inside the leader's snapshot, so every heartbeat sends it
the snapshot again (which it already holds), and never the entries after it: the follower
lags behind by up to a snapshot's worth of commands, for good.

Caught by ``install_snapshot``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab6 = reference_module("lab6")  # the solution.py of the lab
CHUNK_SIZE = lab6.CHUNK_SIZE

__all__ = ["CHUNK_SIZE", "RaftNode"]


class RaftNode(lab6.RaftNode):
    def snapshot_installed(self, peer: str, index: int) -> None:
        self.sending.pop(peer, None)
        if index > self.match_index[peer]:
            self.match_index[peer] = index
            self.advance_commit_index()
        # BUG: nextIndex[peer] should move past index too
