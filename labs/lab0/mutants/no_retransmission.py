"""Mutant: the client never retransmits.

The retry timer fires, but nothing is sent again: the first lost request or lost
acknowledgement stops the client for good. Fine on a perfect network; stuck on a lossy one.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab0 = reference_module("lab0")  # the solution.py of the lab
Server = lab0.Server

__all__ = ["Client", "Server"]


class Client(lab0.Client):
    def on_timer(self, name: str) -> None:
        pass  # BUG: a lost message is never sent again
