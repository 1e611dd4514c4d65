"""Mutant: a task is never handed out again after its worker crashes.

Leases run out but nothing happens: ``expire_leases`` does nothing, and a worker that asks
again after a restart still "holds" the task it was running when it crashed. The task
stays running forever, with no one working on it.

Caught by ``crashed_workers_tasks_run_again``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab11 = reference_module("lab11")


class Coordinator(lab11.Coordinator):
    def expire_leases(self) -> None:
        pass  # BUG: leases are never enforced

    def assign(self, worker: str) -> None:
        if self.finished:
            self.send(worker, lab11.JobDone())
            return
        # BUG: the attempts listed under an asking worker are kept
        maps_done = all(t.done for t in self.tasks.values() if t.kind == "map")
        phase = "reduce" if maps_done else "map"
        idle = [t for t in self.tasks.values()
                if t.kind == phase and not t.done and not t.attempts]
        if idle:
            self.start_attempt(idle[0], worker, backup=False)


Worker = lab11.Worker
