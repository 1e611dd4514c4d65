"""Mutant: a request with an older id than the client's remembered one is executed.

The server keeps one entry per client, as it should, and answers retries of the latest
request from it. But a copy of an *earlier* request, held up in the network until the
client had moved on, is taken for a new request and executed a second time.
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
        if last is not None and request.seq == last.seq:
            self.send(client, last)
            return
        # BUG: request.seq < last.seq is a late copy of a finished request, not a new one
        result = self.apply(client, request.seq, request.f, request.key, request.value)
        reply = Reply(request.seq, result)
        self.replies[client] = reply
        self.send(client, reply)
