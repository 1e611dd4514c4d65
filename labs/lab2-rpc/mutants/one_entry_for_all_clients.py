"""Mutant: the duplicate table remembers only the latest request of any client.

With one client that would be enough. With several, client c1's entry is replaced as soon
as c2's next request is executed; if c1's reply was lost, c1's retry finds no entry and is
executed again.
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
        self.last: tuple[str, Reply] | None = None

    def on_request(self, client: str, request: Request) -> None:
        if self.last is not None and self.last[0] == client:
            last = self.last[1]
            if request.seq < last.seq:
                return
            if request.seq == last.seq:
                self.send(client, last)
                return
        result = self.apply(client, request.seq, request.f, request.key, request.value)
        reply = Reply(request.seq, result)
        self.last = (client, reply)  # BUG: forgets every other client's latest reply
        self.replies = {client: reply}
        self.send(client, reply)
