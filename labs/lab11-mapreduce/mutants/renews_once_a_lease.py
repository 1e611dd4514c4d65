"""Mutant: the worker renews its lease once a lease (every 1 s), not every third of one.

It looks right: the lease is renewed before it runs out... at the sender. The renewal
takes a few milliseconds to arrive, and the coordinator checks the leases every 1/4 s, so
now and then it finds a lease a moment past its deadline and hands a running task to
another worker: wasted work, and with backups off, tasks run twice for no failure.

(The lab's self-written mutant. The first grader let it through: it only counted how
often a task was handed out, and the race is rare, a check landing in a gap of a few
milliseconds. ``long_tasks_keep_their_lease`` now also checks the time between two
renewals of an attempt, which the handout states.)

Caught by ``long_tasks_keep_their_lease``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab11 = reference_module("lab11")

Coordinator = lab11.Coordinator


class Worker(lab11.Worker):
    def on_timer(self, name: str) -> None:
        if name == "renew" and self.task is not None:
            self.send(self.coordinator, lab11.Renew(self.task.task, self.task.attempt))
            self.set_timer("renew", self.task.lease)  # BUG: no margin for the network
            return
        super().on_timer(name)
