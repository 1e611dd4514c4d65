"""Mutant: the retry timer is not re-armed after a retransmission.

When the timer fires the client sends the request again, but it forgets to arm the timer
again. If that retransmission is lost too, nothing will ever fire again: the client waits
forever for an acknowledgement that will not come.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab0 = reference_module("lab0")  # the solution.py of the lab
Request = lab0.Request
Server = lab0.Server

__all__ = ["Client", "Server"]


class Client(lab0.Client):
    def on_timer(self, name: str) -> None:
        if not self.done:
            # BUG: sends again, but does not call set_timer: one retransmission only
            self.send(self.server, Request(self.next_seq, self.requests[self.next_seq]))
