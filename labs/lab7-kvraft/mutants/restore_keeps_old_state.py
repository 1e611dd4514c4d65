"""Mutant: restore installs a snapshot only into an empty server.

At a restart the server is empty and restores fine; but a follower that fell behind while
the leader compacted its log, and is sent the leader's snapshot, keeps its own, older data
(and sessions), then applies the entries after the snapshot on top of it. Caught by
``restart_from_snapshots`` (replicas disagree): a server that restarted from its own
snapshot holds data, and falls behind the leader's next one; ``lagging_follower`` catches
it too (and even on a calm network, a follower one entry behind a leader that has just
compacted its log is sent the snapshot).
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab7 = reference_module("lab7")  # the solution.py of the lab
KVClient = lab7.KVClient

__all__ = ["KVClient", "KVServer"]


class KVServer(lab7.KVServer):
    def restore(self, index: int, snapshot: dict[str, Any] | None) -> None:
        if self.data:
            return  # BUG: "already have a state": the snapshot is ignored
        super().restore(index, snapshot)
