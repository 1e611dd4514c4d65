"""Mutant: the client takes any acknowledgement as the acknowledgement it waits for.

It never compares the acknowledged number with the request in flight. A late copy of
``Ack(3)`` arriving while request 4 is in flight makes the client skip request 4: if that
request was lost, the server never delivers it (and waits for it forever), or the client
declares itself done while the server still misses requests.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab0 = reference_module("lab0")  # the solution.py of the lab
Server = lab0.Server

__all__ = ["Client", "Server"]


class Client(lab0.Client):
    def on_ack(self, seq: int) -> None:
        if self.done:
            return
        # BUG: no check that seq == self.next_seq
        self.next_seq += 1
        if self.done:
            self.finish()
        else:
            self.send_current()
