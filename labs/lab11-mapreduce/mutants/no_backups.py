"""Mutant: no backup tasks: a straggler's task is waited for, however slow it is.

Correct, but a worker twenty times slower than the others holds the whole job back: its
last task ends long after every other one (the MapReduce paper's sort took 44% longer
with backups disabled).

Caught by ``straggler_gets_a_backup``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab11 = reference_module("lab11")


class Coordinator(lab11.Coordinator):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.backups = False  # BUG: never starts a backup attempt


Worker = lab11.Worker
