"""Mutant: an operation that timed out is reported as failed (fail) instead of info.

fail promises that the operation had no effect. A client that got no reply cannot know
that: only the replies may have been lost, and the operation executed.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab2 = reference_module("lab2")  # the solution.py of the lab
KVServer = lab2.KVServer

__all__ = ["KVClient", "KVServer"]


class KVClient(lab2.KVClient):
    def give_up(self) -> None:
        self.end_request()
        self.fail()  # BUG: no reply does not mean no effect
