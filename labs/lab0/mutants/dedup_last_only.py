"""Mutant: the server remembers only the last request it delivered.

It suppresses a copy of the request it has just delivered, but not a copy of an older one.
With stop-and-wait that looks enough, until the network delays a copy of request 3 until
after request 5 was delivered: then request 3 is delivered a second time.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab0 = reference_module("lab0")  # the solution.py of the lab
Ack = lab0.Ack
Client = lab0.Client

__all__ = ["Client", "Server"]


class Server(lab0.Server):
    def __init__(self) -> None:
        super().__init__()
        self.last_seq = -1

    def on_request(self, src: str, seq: int, payload: str) -> None:
        if seq != self.last_seq:  # BUG: should be "seq == the next expected number"
            self.deliver(payload)
            self.last_seq = seq
        self.send(src, Ack(seq))
