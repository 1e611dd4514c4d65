"""Mutant: reduce tasks are handed out once every map task has been handed out, not once
every map task is done.

A reduce task must read partition ``r`` of *every* map output; handed out while a map task
still runs, it finds that map's output missing (or, with a more forgiving worker, reduces
without it and gets the counts wrong).

Caught by ``calm_word_count``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab11 = reference_module("lab11")


class Coordinator(lab11.Coordinator):
    def assign(self, worker: str) -> None:
        if self.finished:
            self.send(worker, lab11.JobDone())
            return
        for task in self.tasks.values():
            for attempt in [a for a, held in task.attempts.items() if held[0] == worker]:
                del task.attempts[attempt]
        maps = [t for t in self.tasks.values() if t.kind == "map"]
        # BUG: "no map task waiting" is not "every map task done"
        phase = "reduce" if all(t.done or t.attempts for t in maps) else "map"
        idle = [t for t in self.tasks.values()
                if t.kind == phase and not t.done and not t.attempts]
        if idle:
            self.start_attempt(idle[0], worker, backup=False)


Worker = lab11.Worker
