"""Mutant: a follower acknowledges the entries of an AppendEntries before they are synced
(they are synced later, with the next vote or term change).

The leader counts the follower's copy to commit the entries. A crash of the follower
then may lose them: a committed entry is on fewer servers than the leader counted, and a
new leader without it can overwrite it.

Caught by ``persistent_state_survives_a_crash`` (and by ``persist1``, where a
restarted server finds its log's length but not its entries).
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab5 = reference_module("lab5")  # the solution.py of the lab


class RaftNode(lab5.RaftNode):
    def on_message(self, src: str, msg: Any) -> None:
        self.lazy = isinstance(msg, lab5.AppendEntries)
        try:
            super().on_message(src, msg)
        finally:
            self.lazy = False

    def persist(self) -> None:
        if not getattr(self, "lazy", False):  # BUG: the success reply leaves unsynced
            super().persist()
