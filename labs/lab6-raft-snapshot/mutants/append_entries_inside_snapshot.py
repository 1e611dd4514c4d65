"""Mutant: the leader never sends InstallSnapshot; it sends AppendEntries from its snapshot on.

When a follower's nextIndex falls inside the leader's snapshot, the leader moves
nextIndex up to the first entry after its snapshot and sends AppendEntries with
prevLogIndex = the snapshot's last index. A follower that lacks the entries up to that
index fails the consistency check every time, and never catches up.

Caught by ``lagging_follower_gets_snapshot``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab6 = reference_module("lab6")  # the solution.py of the lab
CHUNK_SIZE = lab6.CHUNK_SIZE

__all__ = ["CHUNK_SIZE", "RaftNode"]


class RaftNode(lab6.RaftNode):
    def send_snapshot_chunk(self, peer: str) -> None:
        # BUG: the entries before nextIndex are gone; only the snapshot can replace them.
        self.next_index[peer] = self.snapshot_index + 1
        self.send_append_entries(peer)
