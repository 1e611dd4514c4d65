"""Mutant: the leader sends its heartbeats every 700 ms, longer than the election timeout
(300 to 600 ms).

Followers time out between two heartbeats and start elections although the leader is
alive and well: on a calm network the leader keeps changing, and the terms keep rising.

Caught by ``calm_network_keeps_its_leader``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab4 = reference_module("lab4")  # the solution.py of the lab


class RaftNode(lab4.RaftNode):
    def set_timer(self, name: str, delay: float) -> None:
        if name == "heartbeat":
            delay = 0.7  # BUG: must be well below the election timeout
        super().set_timer(name, delay)
