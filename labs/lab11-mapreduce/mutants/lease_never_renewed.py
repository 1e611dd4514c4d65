"""Mutant: the worker never renews its lease.

Every task longer than the lease is handed to another worker while the first still works
on it, and that one's lease runs out too: long tasks run again and again (with backups
off, nothing else finishes them sooner).

Caught by ``long_tasks_keep_their_lease``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab11 = reference_module("lab11")

Coordinator = lab11.Coordinator


class Worker(lab11.Worker):
    def on_timer(self, name: str) -> None:
        if name == "renew":
            return  # BUG: no Renew
        super().on_timer(name)
