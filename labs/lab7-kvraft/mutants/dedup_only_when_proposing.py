"""Mutant: duplicates are recognised when a request arrives, not when it is applied.

The leader checks the session table before proposing and answers a retry of an applied
operation from it; but a retry (or a copy made by the network) that arrives while the
first copy is still in the log, uncommitted, is proposed a second time, and ``apply``
executes every copy. Caught by ``unreliable_network`` (a value held twice).
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab7 = reference_module("lab7")  # the solution.py of the lab
KVClient = lab7.KVClient

__all__ = ["KVClient", "KVServer"]


class KVServer(lab7.KVServer):
    def on_request(self, src: str, request: lab7.Request) -> None:
        session = self.sessions.get(request.client)
        if session is not None and request.seq == session[0] and self.raft.is_leader:
            self.reply(src, request, lab7.OK, session[1])  # a retry of an applied op
            return
        super().on_request(src, request)

    def execute_once(self, command: dict[str, Any]) -> str | None:
        # BUG: no check here: every copy in the log is executed.
        result = self.execute(command["f"], command["key"], command["value"])
        self.sessions[command["client"]] = [command["seq"], result]
        return result
