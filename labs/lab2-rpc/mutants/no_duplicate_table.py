"""Mutant: the server has no duplicate table; it executes every request it receives.

This is at-least-once RPC: a retry sent because a reply was lost, and every copy the
network makes, runs the operation again. Gets do not mind; an append applied twice leaves
its value in the store twice.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab2 = reference_module("lab2")  # the solution.py of the lab
KVClient = lab2.KVClient
Reply = lab2.Reply
Request = lab2.Request

__all__ = ["KVClient", "KVServer"]


class KVServer(lab2.KVServer):
    def on_request(self, client: str, request: Request) -> None:
        # BUG: no check whether this request was executed already
        result = self.apply(client, request.seq, request.f, request.key, request.value)
        self.send(client, Reply(request.seq, result))
