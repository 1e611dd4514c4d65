"""Mutant: the server recognizes duplicates by their contents instead of their number.

It refuses any payload it has delivered before. That suppresses retransmissions, but it
also drops the second of two *different* requests that happen to say the same thing
("deposit 10" twice is two deposits).
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
        self.seen: set[str] = set()

    def on_request(self, src: str, seq: int, payload: str) -> None:
        if payload not in self.seen:  # BUG: equal contents are not the same request
            self.seen.add(payload)
            self.deliver(payload)
        self.send(src, Ack(seq))
