"""Mutant: only a copy of a client's latest operation is taken for a duplicate.

``apply`` skips a command whose number equals the latest number of its client, but
executes one with a *lower* number: a late copy of an older request (held up in the
network, or proposed by a leader before the client moved on) is applied again after the
client's next operation. Caught by ``unreliable_network`` (a value held twice).
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab7 = reference_module("lab7")  # the solution.py of the lab
KVClient = lab7.KVClient

__all__ = ["KVClient", "KVServer"]


class KVServer(lab7.KVServer):
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

    def execute_once(self, command: dict[str, Any]) -> str | None:
        client, seq = command["client"], command["seq"]
        session = self.sessions.get(client)
        if session is not None and seq == session[0]:  # BUG: == instead of <=
            return session[1]
        result = self.execute(command["f"], command["key"], command["value"])
        self.sessions[client] = [seq, result]
        return result
