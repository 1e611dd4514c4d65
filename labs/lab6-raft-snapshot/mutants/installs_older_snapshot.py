"""Mutant: a follower installs a snapshot older than its commit index.

It skips only snapshots no newer than its own snapshot, not those it has already
committed and applied past: such an InstallSnapshot (from a leader whose nextIndex for it
lags behind) takes the service back to an older state (``restore`` with an index below
what it had applied), and the commands after it are applied a second time. The dsys
leader never sends one, which is why the test that catches it sends it by hand.

Caught by ``install_snapshot_receiver``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab6 = reference_module("lab6")  # the solution.py of the lab
CHUNK_SIZE = lab6.CHUNK_SIZE

__all__ = ["CHUNK_SIZE", "RaftNode"]


class RaftNode(lab6.RaftNode):
    def holds(self, index: int) -> bool:
        return index <= self.snapshot_index  # BUG: should be self.commit_index
