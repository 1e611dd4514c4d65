"""MapReduce: a coordinator hands map and reduce tasks to workers over a shared file store.

Dean and Ghemawat, "MapReduce: Simplified Data Processing on Large Clusters" (OSDI 2004).
A :class:`Job` is two plain functions, ``map(key, value) -> pairs`` and
``reduce(key, values) -> value``. The :class:`Coordinator` splits the job into one map task
per input file and ``R`` reduce tasks, hands them to :class:`Worker` nodes that ask for
work, re-executes a task whose worker crashes or falls silent (its lease runs out), and
runs *backup* attempts of the last running tasks so a slow machine does not hold the job
back. Outputs are committed by an atomic rename-if-absent in a :class:`FileStore`
(:class:`MemoryStore` in the simulator, :class:`DirectoryStore` for real processes), so
each is written once however many attempts run. :func:`check_job` judges a run: output
equal to :func:`run_sequential`, every task completed, no output written twice, the job
completed once. See the concept page "MapReduce".

Example:
    >>> from dsys import Simulation
    >>> from dsys.mapreduce import (Coordinator, MemoryStore, WORD_COUNT, Worker, check_job,
    ...                             read_output, sample_documents)
    >>> inputs = sample_documents(8, 200, seed=1)
    >>> store = MemoryStore(read_cost=1e-6, write_cost=1e-6)
    >>> for name, text in inputs.items():
    ...     store.write(name, text)
    >>> sim = Simulation(seed=1)
    >>> sim.add_node("coordinator", lambda: Coordinator(WORD_COUNT, list(inputs), store))
    >>> for n in range(3):
    ...     sim.add_node(f"w{n}", lambda: Worker(WORD_COUNT, store))
    >>> sim.run(until=10.0)
    >>> bool(check_job(sim.trace, store, WORD_COUNT, inputs))
    True
    >>> read_output(store, WORD_COUNT)["the"]
    327
"""

from dsys.mapreduce.checkers import check_job
from dsys.mapreduce.coordinator import Attempt, Coordinator, Task
from dsys.mapreduce.jobs import (
    INVERTED_INDEX,
    JOIN,
    WORD_COUNT,
    Job,
    grep,
    group,
    partition,
    run_sequential,
    sample_documents,
)
from dsys.mapreduce.messages import AskTask, Assign, Finished, JobDone, Renew
from dsys.mapreduce.store import DirectoryStore, FileStore, MemoryStore, Write
from dsys.mapreduce.worker import Worker, read_output

__all__ = [
    "INVERTED_INDEX",
    "JOIN",
    "WORD_COUNT",
    "AskTask",
    "Assign",
    "Attempt",
    "Coordinator",
    "DirectoryStore",
    "FileStore",
    "Finished",
    "Job",
    "JobDone",
    "MemoryStore",
    "Renew",
    "Task",
    "Worker",
    "Write",
    "check_job",
    "grep",
    "group",
    "partition",
    "read_output",
    "run_sequential",
    "sample_documents",
]
