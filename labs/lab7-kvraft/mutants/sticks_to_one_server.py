"""Mutant: the client only ever changes server when told who the leader is.

It follows the leader a "wrong leader" reply names, but when no answer comes it sends its
request to the same server again: once the leader it found crashes for good, it waits
forever. Caught by ``crashes`` (the clients never finish).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab7 = reference_module("lab7")  # the solution.py of the lab
KVServer = lab7.KVServer

__all__ = ["KVClient", "KVServer"]


class KVClient(lab7.KVClient):
    def on_timer(self, name: str) -> None:
        if name == lab7.RETRY and self.request is not None:
            self.send_request()  # BUG: the same server again, forever
