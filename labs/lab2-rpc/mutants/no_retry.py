"""Mutant: the client sends each request once, and waits.

If the request or its reply is lost, the client can only give up when OP_TIMEOUT passes:
on a lossy network, half of the operations end with an unknown outcome.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab2 = reference_module("lab2")  # the solution.py of the lab
KVServer = lab2.KVServer

__all__ = ["KVClient", "KVServer"]


class KVClient(lab2.KVClient):
    def send_request(self) -> None:
        assert self.request is not None
        self.send(self.server, self.request)  # BUG: no retry timer

    def on_timer(self, name: str) -> None:
        if self.request is not None and name == lab2.GIVE_UP:
            self.give_up()
