"""Mutant: after a restart, the snapshot's last included term reads as 0.

The snapshot's term is saved, but not read back: a restarted server believes the entry at
its snapshot's last index has term 0. The leader's consistency check at that index
(prevLogIndex = the snapshot's index, prevLogTerm = its real term) then fails forever:
the follower asks for an earlier index, the leader has only its snapshot to offer, the
follower already holds it, and round it goes. (And with an empty log after the snapshot,
the server's last log term is 0 in elections.)

Caught by ``snapshot_term_counts``.
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab6 = reference_module("lab6")  # the solution.py of the lab
CHUNK_SIZE = lab6.CHUNK_SIZE

__all__ = ["CHUNK_SIZE", "RaftNode"]


class RaftNode(lab6.RaftNode):
    def read_snapshot(self) -> tuple[int, int, Any]:
        index, _term, data = super().read_snapshot()
        return index, 0, data  # BUG: lastIncludedTerm not kept across a restart
