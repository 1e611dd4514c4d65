"""Mutant: the client advances its request counter only when a reply arrives.

After a timeout, the next operation goes out with the id of the abandoned one. If the
server did execute the abandoned request (only its replies were lost), it takes the new
operation for a retry, answers with the old reply, and never executes it.
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab2 = reference_module("lab2")  # the solution.py of the lab
GIVE_UP = lab2.GIVE_UP
OP_TIMEOUT = lab2.OP_TIMEOUT
KVServer = lab2.KVServer
Request = lab2.Request

__all__ = ["KVClient", "KVServer"]


class KVClient(lab2.KVClient):
    def on_invoke(self, op: dict[str, Any]) -> None:
        # BUG: seq + 1 is only a new id if the previous request got its reply
        self.request = Request(self.seq + 1, op["f"], op["key"], op["value"])
        self.set_timer(GIVE_UP, OP_TIMEOUT)
        self.send_request()

    def on_reply(self, seq: int, value: str) -> None:
        if self.request is not None and seq == self.request.seq:
            self.seq = seq
        super().on_reply(seq, value)
