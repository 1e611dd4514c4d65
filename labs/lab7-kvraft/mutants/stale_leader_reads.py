"""Mutant: a server that believes it leads answers gets from its own copy of the data.

Fast, and wrong: a leader cut off from the other servers keeps believing it leads while a
new leader, elected by the others, commits new writes; the old one answers gets with the
old value. Reads must go through the log (or confirm leadership first: ReadIndex). Caught
by ``deposed_leader_reads`` (not linearizable).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab7 = reference_module("lab7")  # the solution.py of the lab
KVClient = lab7.KVClient

__all__ = ["KVClient", "KVServer"]


class KVServer(lab7.KVServer):
    def on_request(self, src: str, request: lab7.Request) -> None:
        if request.f == "get" and self.raft.is_leader:
            # BUG: no round trip to a majority: this leader may have been replaced.
            self.reply(src, request, lab7.OK, self.data.get(request.key, ""))
            return
        super().on_request(src, request)
