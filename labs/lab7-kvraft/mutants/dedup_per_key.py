"""Mutant: the duplicate table remembers the latest operation on each key, not of each client.

A retry of c1's append on x is recognised only while c1's operation is still the latest
one on x: once another client has written x, the retry is applied again. (And an old
operation of another client on x may be taken for a duplicate and skipped.) Caught by
``unreliable_network`` (a value held twice).
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab7 = reference_module("lab7")  # the solution.py of the lab
KVClient = lab7.KVClient

__all__ = ["KVClient", "KVServer"]


class KVServer(lab7.KVServer):
    def execute_once(self, command: dict[str, Any]) -> str | None:
        client, seq, key = command["client"], command["seq"], command["key"]
        last = self.sessions.get(key)  # BUG: keyed by the key
        if last is not None and [client, seq] == last[:2]:
            return last[2]
        result = self.execute(command["f"], key, command["value"])
        self.sessions[key] = [client, seq, result]
        return result

    def on_request(self, src: str, request: lab7.Request) -> None:
        if not self.raft.is_leader:
            self.reply(src, request, lab7.WRONG_LEADER)
            return
        started = self.raft.start({"client": request.client, "seq": request.seq,
                                   "f": request.f, "key": request.key,
                                   "value": request.value})
        if started is None:
            self.reply(src, request, lab7.WRONG_LEADER)
            return
        self.wait(started[0], src, request)
