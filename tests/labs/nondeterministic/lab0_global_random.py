"""Lab 0's reference, with a retry timeout jittered by the global ``random`` module.

Jitter is a good idea (it keeps clients from retrying in lock step), but ``random.random()``
draws from a generator that nobody seeds: every run of a seed waits differently. ``self.rng``
is the node's own generator, seeded by the simulation, and would be right.
"""

from __future__ import annotations

import random

from dsys.labs import reference_module

lab0 = reference_module("lab0")  # the solution.py of the lab
Server = lab0.Server
Request = lab0.Request

__all__ = ["Client", "Server"]


class Client(lab0.Client):
    def send_current(self) -> None:
        self.send(self.server, Request(self.next_seq, self.requests[self.next_seq]))
        # NONDETERMINISTIC: the global random module is not seeded by the simulation.
        self.set_timer(lab0.RETRY, lab0.RETRY_TIMEOUT * (1 + random.random()))
