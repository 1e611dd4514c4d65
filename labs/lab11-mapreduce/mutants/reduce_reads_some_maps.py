"""Mutant: a reduce task reads partition ``r`` of every map output but the last.

An off-by-one in the list of a reduce task's inputs: the counts of the last input file
are missing from every reduce output.

Caught by ``calm_word_count``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab11 = reference_module("lab11")


class Coordinator(lab11.Coordinator):
    def __init__(self, job, inputs, store, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(job, inputs, store, **kwargs)
        maps = len(inputs)
        for r in range(job.reducers):
            # BUG: range(maps - 1)
            self.tasks[f"reduce-{r}"].inputs = tuple(job.map_output(m, r)
                                                     for m in range(maps - 1))


Worker = lab11.Worker
