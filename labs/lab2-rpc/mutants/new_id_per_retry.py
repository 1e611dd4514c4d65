"""Mutant: the client gives every retransmission a new request id.

To the server, each retry is a request it has never seen, so it executes it: the duplicate
table is there, but it can never match.
"""

from __future__ import annotations

import attrs

from dsys.labs import reference_module

lab2 = reference_module("lab2")  # the solution.py of the lab
RETRY = lab2.RETRY
KVServer = lab2.KVServer

__all__ = ["KVClient", "KVServer"]


class KVClient(lab2.KVClient):
    def on_timer(self, name: str) -> None:
        if self.request is not None and name == RETRY:
            self.seq += 1  # BUG: a retry must carry the id of the request it repeats
            self.request = attrs.evolve(self.request, seq=self.seq)
        super().on_timer(name)
