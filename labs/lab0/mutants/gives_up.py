"""Mutant: the client gives up on a request after three retransmissions.

A bounded number of retries looks prudent, but the network promises nothing about how long
a partition lasts. After a long enough partition, the client has given up and the request
is never delivered.
"""

from __future__ import annotations

from collections.abc import Sequence

from dsys.labs import reference_module

lab0 = reference_module("lab0")  # the solution.py of the lab
Server = lab0.Server

__all__ = ["Client", "Server"]

MAX_RETRIES = 3


class Client(lab0.Client):
    def __init__(self, server: str, requests: Sequence[str]) -> None:
        super().__init__(server, requests)
        self.retries = 0

    def on_ack(self, seq: int) -> None:
        if seq == self.next_seq:
            self.retries = 0
        super().on_ack(seq)

    def on_timer(self, name: str) -> None:
        self.retries += 1
        if self.retries > MAX_RETRIES:  # BUG: no number of retries is ever "enough"
            self.log(f"giving up on request {self.next_seq}")
            return
        super().on_timer(name)
