"""Mutant: outputs are written straight to their final names, not committed.

No temporary file, no rename-if-absent: a late attempt (a worker that was cut off, or the
loser of a backup race) writes its output over the one another attempt already
committed, and a reader may have read the first one.

Caught by ``reduce_waits_for_every_map`` (the slow worker's map task gets a backup; the
slow attempt, finishing last, writes the outputs a second time), and by
``late_output_does_not_replace``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab11 = reference_module("lab11")

Coordinator = lab11.Coordinator


class Worker(lab11.Worker):
    def finish(self) -> None:
        assert self.task is not None
        task, self.task = self.task, None
        self.cancel_timer("renew")
        for final, text in self.outputs.items():
            self.store.write(final, text, by=self.id, at=self.now)  # BUG: in place
        self.outputs = {}
        self.send(self.coordinator, lab11.Finished(task.task, task.attempt))
        self.set_timer("poll", lab11.POLL)
