"""Mutant: the leader answers a request as soon as it has proposed it, before Raft commits it.

A leader that is cut off from the other servers (or about to crash) accepts the request,
answers ok, and the entry never commits: the client believes its append happened, yet no
server ever applies it, and a get answered before its command is applied reads a state
that misses earlier writes. Caught by ``basic``: even with no fault at all, an append
answered before it commits is missing from the log when the run ends, or a get answered
at once misses the put its client completed just before.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab7 = reference_module("lab7")  # the solution.py of the lab
KVClient = lab7.KVClient

__all__ = ["KVClient", "KVServer"]


class KVServer(lab7.KVServer):
    def wait(self, index: int, src: str, request: lab7.Request) -> None:
        # BUG: answers now, with what the leader's own copy holds, instead of after apply.
        value = self.data.get(request.key, "") if request.f == "get" else None
        self.reply(src, request, lab7.OK, value)
