"""Mutant: the service never snapshots; Raft's log grows without bound.

Everything works, until the log fills the disk and a restart replays it all. Caught by
``snapshot_size`` (the log outgrows max_raft_state).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab7 = reference_module("lab7")  # the solution.py of the lab
KVClient = lab7.KVClient

__all__ = ["KVClient", "KVServer"]


class KVServer(lab7.KVServer):
    def maybe_snapshot(self, index: int) -> None:
        pass  # BUG: max_raft_state is ignored
