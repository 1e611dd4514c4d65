"""Mutant: the duplicate table is keyed by the request id alone, not by (client, id).

Every client numbers its requests 1, 2, 3..., so request 3 of client c2 looks like a retry
of request 3 of client c1: it is answered with c1's reply and never executed.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab2 = reference_module("lab2")  # the solution.py of the lab
KVClient = lab2.KVClient
Reply = lab2.Reply
Request = lab2.Request

__all__ = ["KVClient", "KVServer"]


class KVServer(lab2.KVServer):
    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[int, Reply] = {}

    def on_request(self, client: str, request: Request) -> None:
        known = self.by_id.get(request.seq)  # BUG: whose request number seq?
        if known is not None:
            self.send(client, known)
            return
        result = self.apply(client, request.seq, request.f, request.key, request.value)
        reply = Reply(request.seq, result)
        self.by_id[request.seq] = reply
        self.replies[client] = reply
        self.send(client, reply)
