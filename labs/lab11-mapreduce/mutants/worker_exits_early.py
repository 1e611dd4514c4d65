"""Mutant: a worker that is told nothing for two polls in a row decides the job is done.

At the barrier between the phases, and near the end, idle workers get no task for a
while; this worker stops asking then. When the coordinator restarts, it has forgotten
who runs what: the tasks that were running are idle again, but every worker that would
run them has gone.

Caught by ``coordinator_restarts``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab11 = reference_module("lab11")

Coordinator = lab11.Coordinator


class Worker(lab11.Worker):
    unanswered = 0

    def on_message(self, src: str, msg: object) -> None:
        if isinstance(msg, lab11.Assign):
            self.unanswered = 0
        super().on_message(src, msg)

    def on_timer(self, name: str) -> None:
        if name == "poll" and self.task is None:
            self.unanswered += 1
            if self.unanswered >= 2:
                self.job_done = True  # BUG: "no work now" is not "the job is done"
                return
        super().on_timer(name)
