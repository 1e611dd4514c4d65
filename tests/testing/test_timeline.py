"""Failure timelines: every failing lab trial and every failing plugin test writes the
viewer page beside its saved trace, with the failure and the failing checker's report
marked, and the failure output names the page."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from dsys.check import History, Report, Violation, check_linearizable
from dsys.labs import Lab, grade, load_grader, load_implementation
from dsys.labs.cli import _failure_panel
from dsys.labs.timeline import failure_marks, timeline_path, write_timeline
from dsys.trace import Trace, TraceEvent
from dsys.trace.html import Mark
from tests.labs.helpers import GRADER, make_lab

#: The echo lab's grader, plus a test that judges with a checker's report: the client's
#: echo arrived, else a violation that names the first dropped message.
JUDGED = GRADER + '''

from dsys.check import Report, Violation


@graded(points=1, runs=25)
def judged(trial: Trial) -> None:
    """Echoes under loss, judged by a report."""
    sim = trial.simulation(network=Network(drop=0.5))
    sim.add_node("server", trial.impl.Server)
    sim.add_node("client", lambda: trial.impl.Client("server"))
    trial.run_until(sim, echoed, timeout=5.0)
    drops = [p for p, e in enumerate(sim.trace) if e.kind == "drop"]
    violations = () if echoed(sim) else (
        Violation(sim.now, ("client",), "the client never got its echo", events=drops[:1]),)
    report = Report("echoed", violations, 1, "clients")
    assert report, report.explain()
'''


def page_data(page: Path) -> dict[str, Any]:
    """The data a viewer page carries (the JSON inside it)."""
    text = page.read_text(encoding="utf-8")
    match = re.search(r'id="dsys-trace-data">(.*?)</script>', text, re.S)
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return Lab.load(make_lab(tmp_path / "labs", grader=JUDGED))


def test_a_failing_trial_writes_its_timeline_with_the_checker_marks(lab: Lab,
                                                                    tmp_path: Path) -> None:
    mutant = load_implementation(lab, lab.path / "mutants" / "no_retry.py")
    result = grade(lab, mutant, trace_dir=tmp_path / "traces", check_determinism=False)
    failure = next(f for f in result.failures if f.test == "judged")
    (trace,) = failure.trace_paths
    (page,) = failure.timelines
    assert page == trace.with_suffix(".html") and page.is_file()
    data = page_data(page)
    labels = [m["label"] for m in data["marks"]]
    # The assertion's first line, then the report's violation, on the dropped message.
    assert labels[0] == "echoed: 1 violation(s) (1 clients checked)"
    assert "echoed: the client never got its echo" in labels
    marked = next(m for m in data["marks"] if m["label"].endswith("never got its echo"))
    events = Trace.load(trace)
    assert events[marked["event"]].kind == "drop"
    assert [m.label for m in failure.marks] == labels
    # A test that fails without a report still marks its failure, at the end of the run.
    lossy = next(f for f in result.failures if f.test == "lossy")
    (lossy_page,) = lossy.timelines
    (mark,) = page_data(lossy_page)["marks"]
    assert mark["label"] == "no echo after 5 s"
    assert mark["start"] == pytest.approx(Trace.load(lossy.trace_paths[0])[-1].time, abs=5.0)


def test_the_failure_output_names_the_timeline(lab: Lab, tmp_path: Path) -> None:
    mutant = load_implementation(lab, lab.path / "mutants" / "no_retry.py")
    judged = [test for test in load_grader(lab) if test.name == "judged"]
    result = grade(lab, mutant, tests=judged, check_determinism=False,
                   trace_dir=tmp_path / "traces")
    (failure,) = result.failures
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(_failure_panel(failure, result, full=True))
    out = console.export_text()
    match = re.search(r"timeline: (\S+\.html)", out)
    assert match is not None, out
    page = Path(match.group(1))
    assert page == failure.timelines[0]
    assert "the client never got its echo" in page.read_text()


def test_a_passing_grading_writes_no_timeline(lab: Lab, tmp_path: Path) -> None:
    solution = load_implementation(lab, lab.path / "solution.py")
    result = grade(lab, solution, trace_dir=tmp_path / "traces", check_determinism=False,
                   runs=3)
    assert result.passed and not (tmp_path / "traces").exists()


def test_a_non_linearizable_history_marks_the_operations_that_cannot_be_placed() -> None:
    history = History.from_events([
        {"process": 0, "type": "invoke", "f": "write", "value": 1, "time": 0.0},
        {"process": 0, "type": "ok", "f": "write", "value": 1, "time": 1.0},
        {"process": 1, "type": "invoke", "f": "read", "value": None, "time": 2.0},
        {"process": 1, "type": "ok", "f": "read", "value": 2, "time": 3.0},
    ])

    def judge() -> None:
        result = check_linearizable(history, "register")
        assert result.linearizable, result.explain()

    with pytest.raises(AssertionError) as caught:
        judge()
    marks = failure_marks(caught.value, end=3.0)
    assert marks[0].label.startswith("Not linearizable")
    blocked = [m for m in marks if "completed before it could be placed" in m.label]
    assert [(m.start, m.end, m.kind) for m in blocked] == [(2.0, 3.0, "failure")]
    assert "p1 read" in blocked[0].label
    hints = [m for m in marks if m.kind == "info"]
    assert hints and hints[0].label.startswith("hint: the longest linearization")


def test_reports_that_hold_are_not_marked() -> None:
    def judge() -> None:
        fine = Report("fine", (), 3, "x")
        broken = Report("broken", (Violation(1.0, ("a",), "a broke"),), 3, "x")
        assert fine and broken, broken.explain()

    with pytest.raises(AssertionError) as caught:
        judge()
    labels = [m.label for m in failure_marks(caught.value, end=2.0)]
    assert labels == ["broken: 1 violation(s) (3 x checked)", "broken: a broke"]


def test_a_mark_on_an_event_the_trace_lacks_is_kept_without_it(tmp_path: Path) -> None:
    trace = [TraceEvent(0.0, "a", "log", {"text": "hi"})]
    page = write_timeline(trace, tmp_path / "t.html", [Mark("far away", event=7)])
    (mark,) = page_data(page)["marks"]
    assert mark["label"] == "far away" and mark["event"] is None
    assert timeline_path(tmp_path / "x.jsonl") == tmp_path / "x.html"


PLUGIN_TEST = """
from dsys import Network
from dsys.check import Report, Violation
from dsys.demos.pingpong import Pinger, Ponger

def test_judged(simulation):
    sim = simulation(network=Network(drop=0.2))
    sim.add_node("a", Pinger)
    sim.add_node("b", Ponger)
    sim.run(until=0.5)
    report = Report("pongs", (Violation(0.25, ("b",), "b was too slow"),), 1, "nodes")
    assert report, report.explain()
"""


def test_a_failing_plugin_test_writes_its_timeline(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sim=PLUGIN_TEST)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    name = ".dsys/traces/test_sim.py_test_judged_seed=0_-0.html"
    assert f"timeline (open in a browser, what failed is marked): {name}" in out
    data = page_data(pytester.path / name)
    labels = [m["label"] for m in data["marks"]]
    assert labels == ["pongs: 1 violation(s) (1 nodes checked)", "pongs: b was too slow"]
    assert data["marks"][1]["node"] == "b" and data["marks"][1]["start"] == 0.25
