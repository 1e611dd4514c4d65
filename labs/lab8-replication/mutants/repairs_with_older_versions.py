"""Mutant: read repair sends a stale replica back its own, older versions.

The coordinator notices which replicas answered with less, and writes to each what *it*
held, not the newest versions: nothing is repaired, and a replica that missed a put stays
behind until (if ever) another mechanism fixes it.

Caught by ``read_repair_updates_stale_replicas``.
"""

from __future__ import annotations

from dsys.labs import reference_module
from dsys.replication.quorum import Store

lab8 = reference_module("lab8")


class DynamoNode(lab8.DynamoNode):
    def read_repair(self, request: lab8.Request) -> None:
        newest = self.merge((), (v for vs in request.replies.values() for v in vs))
        for node in sorted(request.replies):
            held = request.replies[node]
            if set(held) != set(newest):
                # BUG: the replica's own versions, not the newest ones
                self.deliver(node, Store(None, request.key, held, request.targets[node]))
