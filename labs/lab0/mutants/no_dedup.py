"""Mutant: the server delivers every copy of a request it receives.

Retransmissions and duplicates made by the network are delivered again, so some requests
take effect twice. (Imagine each one is "transfer 100 euros".)
"""

from __future__ import annotations

from dsys.labs import reference_module

lab0 = reference_module("lab0")  # the solution.py of the lab
Ack = lab0.Ack
Client = lab0.Client

__all__ = ["Client", "Server"]


class Server(lab0.Server):
    def on_request(self, src: str, seq: int, payload: str) -> None:
        self.deliver(payload)  # BUG: no check whether seq was delivered already
        self.expected = max(self.expected, seq + 1)
        self.send(src, Ack(seq))
