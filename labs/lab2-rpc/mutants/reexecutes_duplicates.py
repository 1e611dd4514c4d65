"""Mutant: the server recognises a retry and sends the remembered reply, but executes
the operation again first.

The reply the client sees is the right one, so the client is happy; the store is not: an
append retried after a lost reply is in it twice.
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
        last = self.replies.get(client)
        if last is not None and request.seq < last.seq:
            return
        # BUG: executed before looking in the table, so a retry runs again
        result = self.apply(client, request.seq, request.f, request.key, request.value)
        if last is not None and request.seq == last.seq:
            self.send(client, last)
            return
        reply = Reply(request.seq, result)
        self.replies[client] = reply
        self.send(client, reply)
