"""Mutant: the follower writes a chunk at its offset, whichever snapshot it belongs to.

It keeps one buffer for the snapshot being received: a chunk at offset 0 starts it over,
and a chunk whose offset is the buffer's length extends it, as Figure 13 says ("write
data into snapshot file at given offset"), but it never checks that the chunk is of the
snapshot in the buffer. When the leader takes a newer snapshot in the middle of a
transfer and starts over with it, a late chunk of the older one (resent, duplicated or
overtaken on the network) lands in the newer one's text at the right offset: the
follower installs a garbled snapshot. The 3D scenarios almost never line this up.

Caught by ``chunks_of_two_snapshots_do_not_mix``.
"""

from __future__ import annotations

import json

from dsys.labs import reference_module

lab6 = reference_module("lab6")  # the solution.py of the lab
CHUNK_SIZE = lab6.CHUNK_SIZE

__all__ = ["CHUNK_SIZE", "RaftNode"]


class RaftNode(lab6.RaftNode):
    def on_install_snapshot(self, src: str, msg: lab6.InstallSnapshot) -> None:
        if msg.term < self.current_term:
            self.send(src, lab6.InstallSnapshotReply(self.current_term,
                                                     msg.last_included_index, 0, False))
            return
        self.role = lab6.FOLLOWER
        self.reset_election_timer()
        index = msg.last_included_index
        if self.holds(index):
            self.send(src, lab6.InstallSnapshotReply(self.current_term, index, 0, True))
            return
        text = "" if msg.offset == 0 or self.incoming is None else self.incoming[2]
        # BUG: the chunk extends the buffer even if the buffer holds another snapshot.
        text = self.accept_chunk(text, msg)
        self.incoming = (index, msg.last_included_term, text)
        if not (msg.done and msg.offset + len(msg.data) == len(text)):
            self.send(src, lab6.InstallSnapshotReply(self.current_term, index, len(text),
                                                     False))
            return
        self.incoming = None
        self.install_snapshot(index, msg.last_included_term, json.loads(text))
        self.send(src, lab6.InstallSnapshotReply(self.current_term, index, len(text), True))
