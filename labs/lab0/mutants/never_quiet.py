"""Mutant: the client keeps its retry timer running after the last acknowledgement.

Everything is delivered, exactly once and in order, but the client never falls silent: it
retransmits its last request forever, wasting the network (and the server's time) after
the work is done.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab0 = reference_module("lab0")  # the solution.py of the lab
RETRY = lab0.RETRY
RETRY_TIMEOUT = lab0.RETRY_TIMEOUT
Request = lab0.Request
Server = lab0.Server

__all__ = ["Client", "Server"]


class Client(lab0.Client):
    def finish(self) -> None:
        self.log("all requests acknowledged")  # BUG: the retry timer stays armed

    def on_timer(self, name: str) -> None:
        seq = min(self.next_seq, len(self.requests) - 1)
        self.send(self.server, Request(seq, self.requests[seq]))
        self.set_timer(RETRY, RETRY_TIMEOUT)
