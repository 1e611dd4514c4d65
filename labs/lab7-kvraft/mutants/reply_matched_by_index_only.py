"""Mutant: when index i is applied, the server answers the request it proposed at i,
whatever command is there.

After a leader change, the new leader may put another command at that index: the old
leader, now a follower, applies it and tells its waiting client "ok" (with the other
command's result), though the client's own command was never committed. Caught by
``partitions`` (an ok write that no committed entry carries, or a get with another
command's result).
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab7 = reference_module("lab7")  # the solution.py of the lab
KVClient = lab7.KVClient

__all__ = ["KVClient", "KVServer"]


class KVServer(lab7.KVServer):
    def answer(self, index: int, command: dict[str, Any], result: str | None) -> None:
        waiting = self.waiting.pop(index, None)
        if waiting is not None:
            src, request = waiting
            self.reply(src, request, lab7.OK, result)  # BUG: never checks it is our command
