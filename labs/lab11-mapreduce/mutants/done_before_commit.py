"""Mutant: the worker reports a task finished when it starts writing, before the commit.

It sends ``Finished`` as soon as the work is computed, then waits out the work time and
commits. The coordinator counts the task done at once: the reduce phase may begin before
the map outputs exist, and a worker that crashes in between leaves a task done with no
output at all.

Caught by ``calm_word_count``.
"""

from __future__ import annotations

from typing import Any

from dsys.labs import reference_module

lab11 = reference_module("lab11")

Coordinator = lab11.Coordinator


class Worker(lab11.Worker):
    def begin(self, task: Any) -> None:
        super().begin(task)
        self.send(self.coordinator, lab11.Finished(task.task, task.attempt))  # BUG: early
