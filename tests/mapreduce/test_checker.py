"""check_job against runs known to be good and runs made bad by hand: each broken promise
(wrong output, a task never done, an output written twice, completion reported twice or
never) is reported, and only that one."""

from __future__ import annotations

import json

from dsys.demos.mapreduce import Cluster, cluster, finished
from dsys.mapreduce import check_job, sample_documents
from dsys.trace.events import Trace


def good_run() -> Cluster:
    built = cluster(2, inputs=sample_documents(4, 300, 2), workers=3)
    built.sim.run_until(finished, timeout=60.0)
    return built


def texts(built: Cluster, trace: Trace | None = None) -> list[str]:
    report = check_job(built.sim.trace if trace is None else trace, built.store, built.job,
                       built.inputs)
    return [v.text for v in report.violations]


def test_a_good_run_passes() -> None:
    built = good_run()
    report = built.check()
    assert report, report.explain()
    assert report.judged == 4 + built.job.reducers


def test_a_wrong_value_is_reported() -> None:
    built = good_run()
    out = json.loads(built.store.files[built.job.output(0)])
    out[0][1] += 1
    built.store.files[built.job.output(0)] = json.dumps(out)
    [text] = texts(built)
    assert "1 key(s) differ from the sequential run" in text and repr(out[0][0]) in text


def test_a_missing_key_is_reported() -> None:
    built = good_run()
    built.store.files[built.job.output(1)] = "[]"
    [text] = texts(built)
    assert "differ from the sequential run" in text


def test_an_output_written_twice_is_reported() -> None:
    built = good_run()
    name = built.job.output(2)
    built.store.write(name, built.store.read(name), by="w9", at=99.0)
    [text] = texts(built)
    assert text.startswith(f"{name} written again by w9 (write), 2 times")


def test_a_refused_commit_is_not_a_second_write() -> None:
    built = good_run()
    name = built.job.map_output(0, 0)
    built.store.write("wordcount/tmp/late", "[]", by="w9")
    assert not built.store.commit("wordcount/tmp/late", name, by="w9")
    assert texts(built) == []


def test_a_task_never_done_and_a_missing_file_are_reported() -> None:
    built = good_run()
    trace = Trace([e for e in built.sim.trace
                   if not (e.kind == "note" and e.data.get("task") == "map-1"
                           and e.data.get("event") == "task_done")])
    del built.store.files[built.job.map_output(3, 1)]
    assert texts(built, trace) == ["map-1 never completed",
                                   f"1 output file(s) missing, first {built.job.map_output(3, 1)}"]


def test_completion_reported_twice_or_never_is_reported() -> None:
    built = good_run()
    [done] = [e for e in built.sim.trace if e.kind == "note" and e.data["event"] == "job_done"]
    twice = Trace([*built.sim.trace, done])
    never = Trace([e for e in built.sim.trace
                   if not (e.kind == "note" and e.data["event"] == "job_done")])
    assert texts(built, twice) == ["job completion reported 2 times, not once"]
    assert texts(built, never) == ["job completion reported 0 times, not once"]
