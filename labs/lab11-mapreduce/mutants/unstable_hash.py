"""Mutant: keys are partitioned with Python's ``hash()``.

``hash()`` of a string is salted per process (``PYTHONHASHSEED``): two workers on two
machines send the same word to different reduce tasks, which then both count it, each
wrongly. In one simulation (one process) the salt is the same for every worker, so the
output even looks right: but the keys are not where the handout's CRC-32 puts them.

Caught by ``calm_word_count``, whose first seed the grader runs again in a fresh process
under another ``PYTHONHASHSEED``: keys land in other partitions, the files have other
sizes, the tasks other durations, and the two runs differ. On its own,
``keys_go_to_their_partition`` names the misplaced key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dsys.labs import reference_module

lab11 = reference_module("lab11")

Coordinator = lab11.Coordinator


def map_task(job: Any, store: Any, index: int, inputs: Sequence[str]
             ) -> tuple[dict[str, str], int]:
    buckets: list[list[Any]] = [[] for _ in range(job.reducers)]
    records = 0
    for name in inputs:
        for key, value in job.map(name, store.read(name)):
            buckets[hash(key) % job.reducers].append((key, value))  # BUG: salted hash
            records += 1
    if job.combine is not None:
        buckets = [[(k, job.combine(k, vs)) for k, vs in lab11.group(b).items()]
                   for b in buckets]
    return {job.map_output(index, r): json.dumps(b) for r, b in enumerate(buckets)}, records


class Worker(lab11.Worker):
    def begin(self, task: Any) -> None:
        self.cancel_timer("poll")
        self.task = task
        kind, index = task.task.split("-")
        run = map_task if kind == "map" else lab11.reduce_task
        self.outputs, records = run(self.job, self.store, int(index), task.inputs)
        read = sum(len(self.store.read(name)) for name in task.inputs)
        written = sum(len(text) for text in self.outputs.values())
        self.set_timer("work", lab11.task_duration(self.job, self.store, read, records,
                                                   written, self.speed))
        self.set_timer("renew", task.lease / 3)
