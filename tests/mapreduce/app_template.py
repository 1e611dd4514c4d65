"""A word count for `dsys cluster up`: one coordinator, workers, a shared directory.

The test copies this file next to its cluster file; ``shared/`` beside it is the store,
with the input files under ``shared/input/``.
"""

from pathlib import Path

from dsys.mapreduce import WORD_COUNT, Coordinator, DirectoryStore, Worker

STORE = DirectoryStore(Path(__file__).parent / "shared")


def coordinator() -> Coordinator:
    return Coordinator(WORD_COUNT, STORE.names("input/"), STORE, lease=2.0)


def worker() -> Worker:
    return Worker(WORD_COUNT, STORE, poll=0.05)
