"""Mutant: a server steps down for a higher term found in a request, but not in a reply.

A leader cut off from the new leader (but not from the followers) keeps sending
heartbeats; the followers answer with the new term, which it ignores: it goes on
believing it leads, for ever.

Caught by ``stale_leader_steps_down``.
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab4 = reference_module("lab4")  # the solution.py of the lab


class RaftNode(lab4.RaftNode):
    def on_message(self, src: str, msg: Any) -> None:
        replies = (lab4.RequestVoteReply, lab4.AppendEntriesReply)
        if isinstance(msg, replies) and msg.term > self.current_term:
            return  # BUG: Rules for All Servers: "RPC request *or response*"
        super().on_message(src, msg)
