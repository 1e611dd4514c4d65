"""Mutant: snapshots hold the data but not the session table.

After a restart from the snapshot (or on a follower that installs the leader's), the
server has forgotten which operations each client already did: a retry of an append that
was applied before the snapshot is applied again. Caught by ``restart_from_snapshots``
(a value held twice).
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab7 = reference_module("lab7")  # the solution.py of the lab
KVClient = lab7.KVClient

__all__ = ["KVClient", "KVServer"]


class KVServer(lab7.KVServer):
    def snapshot_state(self) -> dict[str, Any]:
        return {"data": dict(self.data)}  # BUG: the session table is left out
