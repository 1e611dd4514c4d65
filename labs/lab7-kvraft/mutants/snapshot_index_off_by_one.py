"""Mutant: the snapshot is handed to Raft as the state through index - 1.

It holds the state *after* applying ``index``, but claims to cover only the entries before
it: a server that restarts from it (or installs it) applies ``index`` a second time on top
(saved by the session table, this time) and, for a moment, holds at ``index - 1`` a state
no other server had there. Caught by ``restart_from_snapshots`` (replicas disagree).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab7 = reference_module("lab7")  # the solution.py of the lab
KVClient = lab7.KVClient

__all__ = ["KVClient", "KVServer"]


class KVServer(lab7.KVServer):
    def maybe_snapshot(self, index: int) -> None:
        if self.max_raft_state is not None and self.raft.log_bytes() > self.max_raft_state:
            self.raft.snapshot(index - 1, self.snapshot_state())  # BUG: one too early
