"""Mutant: the coordinator looks for expired leases once, then never again.

Its ``leases`` timer fires once and is not set again. With backup tasks on, a crashed
worker's task is usually started again as a backup, so most tests pass; with backups off
(or before any task of the phase has finished, when there is no typical duration to
compare with) a task held by a worker that never comes back is never handed out again,
and the job never ends.

Caught by ``leases_expire_without_backups``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab11 = reference_module("lab11")


class Coordinator(lab11.Coordinator):
    def on_timer(self, name: str) -> None:
        if name == "leases":
            self.expire_leases()  # BUG: the timer is not set again
            return
        super().on_timer(name)


Worker = lab11.Worker
