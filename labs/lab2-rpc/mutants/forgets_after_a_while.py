"""Mutant: the server forgets a reply 0.2 seconds after it made it.

Expiring old entries bounds the table, but a client keeps retrying for as long as it waits
(up to OP_TIMEOUT), and a partition can last longer than 0.2 seconds: a retry that arrives
after its entry expired is executed a second time.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab2 = reference_module("lab2")  # the solution.py of the lab
KVClient = lab2.KVClient
Reply = lab2.Reply
Request = lab2.Request

__all__ = ["KVClient", "KVServer"]

#: Seconds a reply is remembered (BUG: shorter than a client may keep retrying).
KEEP_FOR = 0.2


class KVServer(lab2.KVServer):
    def __init__(self) -> None:
        super().__init__()
        self.made_at: dict[str, float] = {}

    def on_request(self, client: str, request: Request) -> None:
        if client in self.replies and self.now - self.made_at[client] > KEEP_FOR:
            del self.replies[client]  # BUG: the client may still be retrying
        last = self.replies.get(client)
        if last is not None and request.seq < last.seq:
            return
        if last is not None and request.seq == last.seq:
            self.send(client, last)
            return
        result = self.apply(client, request.seq, request.f, request.key, request.value)
        reply = Reply(request.seq, result)
        self.replies[client] = reply
        self.made_at[client] = self.now
        self.send(client, reply)
