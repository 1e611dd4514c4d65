"""Mutant: the leader sends its heartbeats every 10 ms, a hundred rounds a second.

Elections work, but an idle group floods the network: the handout allows ten rounds of
heartbeats a second.

Caught by ``idle_message_budget``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab4 = reference_module("lab4")  # the solution.py of the lab


class RaftNode(lab4.RaftNode):
    def set_timer(self, name: str, delay: float) -> None:
        if name == "heartbeat":
            delay = 0.01  # BUG: at most ten rounds a second
        super().set_timer(name, delay)
