"""Mutant: the client completes its operation with whatever reply arrives.

A reply can arrive late, or twice: the reply to the previous request, held up in the
network, then completes the *current* one, with the wrong result (and, for a put or an
append, before the server even got it).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab2 = reference_module("lab2")  # the solution.py of the lab
KVServer = lab2.KVServer

__all__ = ["KVClient", "KVServer"]


class KVClient(lab2.KVClient):
    def on_reply(self, seq: int, value: str) -> None:
        if self.request is not None:
            super().on_reply(self.request.seq, value)  # BUG: whose reply is it?
