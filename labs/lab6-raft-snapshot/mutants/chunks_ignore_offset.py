"""Mutant: the follower appends every chunk it receives, whatever its offset.

Chunks come one at a time, so this works while the network delivers each chunk once and
in order. A chunk resent by the leader's heartbeat, duplicated or overtaken by the
network is appended again, or in the wrong place: the snapshot's text is garbled, and the
follower installs a wrong state (or fails to parse it).

Caught by ``install_snapshot_receiver``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab6 = reference_module("lab6")  # the solution.py of the lab
CHUNK_SIZE = lab6.CHUNK_SIZE
InstallSnapshot = lab6.InstallSnapshot

__all__ = ["CHUNK_SIZE", "RaftNode"]


class RaftNode(lab6.RaftNode):
    def accept_chunk(self, text: str, msg: InstallSnapshot) -> str:
        return text + msg.data  # BUG: only a chunk at offset len(text) goes next
