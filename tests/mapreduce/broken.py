"""Broken coordinators and workers, each with one classic MapReduce bug: the fault tests and
the checker's own tests must catch every one of them on some seed."""

from __future__ import annotations

import zlib
from typing import Any

from dsys.mapreduce import Coordinator, Worker
from dsys.mapreduce.jobs import partition


class OverwritingWorker(Worker):
    """Writes its outputs straight to their final names: a late or backup attempt
    overwrites the output another attempt already produced (no write-then-rename)."""

    def finish(self) -> None:
        assert self.task is not None
        task, self.task = self.task, None
        self.cancel_timer("renew")
        for final, text in self.outputs.items():
            self.store.write(final, text, by=self.id, at=self.now)
        self.outputs = {}
        from dsys.mapreduce.messages import Finished
        self.send(self.coordinator, Finished(task.task, task.attempt))
        self.set_timer("poll", self.poll)


class SaltedHashWorker(Worker):
    """Partitions by a hash that differs between machines (Python's ``hash()`` of a string
    under each process's own PYTHONHASHSEED), modelled by salting the key with the worker's
    id: one key lands in several reduce tasks."""

    def run_map(self, task: Any) -> tuple[dict[str, str], int]:
        salt = self.id

        def salted(key: str, reducers: int) -> int:
            return zlib.crc32((salt + key).encode()) % reducers

        import dsys.mapreduce.worker as module
        module.partition = salted  # type: ignore[assignment]
        try:
            return super().run_map(task)
        finally:
            module.partition = partition


class NeverReexecutes(Coordinator):
    """Lets leases run out without giving the task to anyone else."""

    def expire_leases(self) -> None:
        pass

    def forget_worker(self, worker: str) -> None:
        pass


class EarlyReduce(Coordinator):
    """Hands out reduce tasks once most (not all) map tasks are done."""

    def phase(self) -> str:
        maps = [t for t in self.tasks.values() if t.kind == "map"]
        return "reduce" if sum(t.done for t in maps) * 4 >= len(maps) * 3 else "map"


class ForgetsItFinished(Coordinator):
    """Keeps nothing in storage: a coordinator restarted after the job finished runs it
    again and announces it a second time."""

    def on_start(self) -> None:
        for key in list(self.storage.keys()):
            del self.storage[key]
        super().on_start()
