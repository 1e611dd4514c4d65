"""Mutant: the leader sends the whole snapshot in one InstallSnapshot.

Correct, on this network, but it ignores Figure 13's chunks: a large snapshot is one
huge message, which a real network (and dsys's runtime, which limits frame sizes) would
refuse.

Caught by ``chunks``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab6 = reference_module("lab6")  # the solution.py of the lab
CHUNK_SIZE = lab6.CHUNK_SIZE
InstallSnapshot = lab6.InstallSnapshot

__all__ = ["CHUNK_SIZE", "RaftNode"]


class RaftNode(lab6.RaftNode):
    def send_snapshot_chunk(self, peer: str) -> None:
        text = self.snapshot_text()  # BUG: at most CHUNK_SIZE characters per message
        self.send(peer, InstallSnapshot(self.current_term, self.id, self.snapshot_index,
                                        self.snapshot_term, 0, text, True))
