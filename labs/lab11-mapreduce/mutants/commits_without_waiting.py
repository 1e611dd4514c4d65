"""Mutant: the worker commits as soon as it has computed the outputs, without waiting out
the task's duration.

The simulator models the work by time: a task takes ``task_duration(...)`` seconds,
divided by the worker's speed. A worker that skips the wait makes every machine equally
(and infinitely) fast: the slow machine is slow no more, and nothing this lab measures
(leases, stragglers, backups) means anything.

Caught by ``straggler_gets_a_backup``.
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab11 = reference_module("lab11")

Coordinator = lab11.Coordinator


class Worker(lab11.Worker):
    def begin(self, task: Any) -> None:
        super().begin(task)
        self.set_timer("work", 0.001)  # BUG: the work takes no time
