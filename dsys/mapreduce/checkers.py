"""The checker of a MapReduce run: :func:`check_job`.

It judges four promises, from the trace's coordinator notes and the store's log:

* **output**: the merged output files equal :func:`~dsys.mapreduce.run_sequential` of the
  same job over the same inputs (key by key);
* **every task completed**: each map and reduce task has a ``task_done`` note, and every
  file it must produce (``R`` partitions per map task, one output per reduce task) exists;
* **no output written twice**: in the store's log, no map partition or reduce output was
  installed more than once (by a commit that succeeded, or by a direct write);
* **completed once**: exactly one ``job_done`` note.

It returns the one :class:`~dsys.check.Report` type: truthy when all four hold.

Example:
    >>> from dsys import Simulation
    >>> from dsys.mapreduce import Coordinator, MemoryStore, WORD_COUNT, Worker, check_job
    >>> store = MemoryStore()
    >>> inputs = {"in/a": "to be or not to be", "in/b": "be quick"}
    >>> for name, text in inputs.items():
    ...     store.write(name, text)
    >>> sim = Simulation(seed=4)
    >>> sim.add_node("coordinator", lambda: Coordinator(WORD_COUNT, list(inputs), store))
    >>> sim.add_node("w1", lambda: Worker(WORD_COUNT, store))
    >>> sim.run(until=5.0)
    >>> print(check_job(sim.trace, store, WORD_COUNT, inputs).explain())
    mapreduce: ok (6 tasks checked)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from dsys.check.report import Report, Violation
from dsys.mapreduce.jobs import Job, run_sequential
from dsys.mapreduce.store import FileStore

__all__ = ["check_job"]


def check_job(trace: Iterable[Any], store: FileStore, job: Job,
              inputs: Mapping[str, str]) -> Report:
    """Judge a run of ``job`` over ``inputs`` (name -> text, in map task order); see the
    module docstring. ``trace`` is the simulation's (or a real run's) trace events."""
    found: list[Violation] = []
    names = list(inputs)
    tasks = [f"map-{m}" for m in range(len(names))] + [f"reduce-{r}"
                                                       for r in range(job.reducers)]
    done: dict[str, float] = {}
    finished: list[tuple[float, str]] = []
    end = 0.0
    for e in trace:
        end = max(end, e.time)
        if e.kind != "note":
            continue
        if e.data.get("event") == "task_done":
            done.setdefault(str(e.data["task"]), e.time)
        elif e.data.get("event") == "job_done":
            finished.append((e.time, e.node))

    # every task completed, every file it owes exists
    for task in tasks:
        if task not in done:
            found.append(Violation(end, (), f"{task} never completed"))
    owed = [job.map_output(m, r) for m in range(len(names)) for r in range(job.reducers)]
    owed += [job.output(r) for r in range(job.reducers)]
    missing = [name for name in owed if not store.exists(name)]
    if missing:
        found.append(Violation(end, (), f"{len(missing)} output file(s) missing, first "
                                        f"{missing[0]}"))

    # no output written twice
    outputs = set(owed)
    log = [w for w in store.log if w.installed and w.name in outputs]
    installed = Counter(w.name for w in log)
    seen: Counter[str] = Counter()
    for w in log:
        seen[w.name] += 1
        if seen[w.name] == 2:  # one violation per file, at its second write
            found.append(Violation(w.at, (w.by,), f"{w.name} written again by {w.by} "
                                                  f"({w.how}), {installed[w.name]} times in all"))

    # completed once
    if len(finished) != 1:
        found.append(Violation(finished[1][0] if len(finished) > 1 else end,
                               tuple(sorted({n for _, n in finished})),
                               f"job completion reported {len(finished)} times, not once"))

    # output equals the sequential run
    if not missing:
        output: dict[str, Any] = {}
        twice = []
        for r in range(job.reducers):
            for key, value in json.loads(store.read(job.output(r))):
                if key in output:
                    twice.append(key)
                output[key] = value
        if twice:
            found.append(Violation(end, (), f"{len(twice)} key(s) in two reduce outputs (keys "
                                            f"partitioned inconsistently), first {twice[0]!r}"))
        expected = run_sequential(job, inputs)
        wrong = sorted(k for k in set(expected) | set(output)
                       if json.dumps(expected.get(k)) != json.dumps(output.get(k)))
        if wrong:
            shown = ", ".join(f"{k!r}: {output.get(k)!r} (expected {expected.get(k)!r})"
                              for k in wrong[:3])
            found.append(Violation(end, (), f"{len(wrong)} key(s) differ from the sequential "
                                            f"run: {shown}"))
    return Report("mapreduce", tuple(found), len(tasks), "tasks")
