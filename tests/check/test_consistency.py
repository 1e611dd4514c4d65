"""The consistency checkers on the classic histories that separate the models, on real data,
and from the command line.

Every example of ``dsys.check.consistency_examples`` is judged by every model, and the
table below is what the literature says of each (Lamport 1979; Lipton and Sandberg 1988;
Terry et al. 1994; Ahamad et al. 1995; Bouajjani et al. 2017). Each strict inclusion of
the map, and each session guarantee, is shown by an example one model allows and the next
stronger forbids.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from dsys.check import (
    CONSISTENCY_MODELS,
    UNDECIDED,
    History,
    HistoryError,
    check_causal,
    check_consistency,
    check_converged,
    check_eventual,
    check_pram,
    check_sequential,
    check_session_guarantees,
    render_svg,
)
from dsys.check.consistency_examples import EXAMPLES
from dsys.check.consistency_search import find_order_staged
from dsys.check.history import CheckInputError
from dsys.check.models import Model, get_model
from dsys.cli import main

# Which models allow each example (all others forbid it). "eventual" is listed only where
# reads after the quiet period exist; elsewhere it has nothing to judge.
ALLOWED: dict[str, set[str]] = {
    "stale-read": {"sequential", "causal", "weak-causal", "pram", "sessions",
                   "read-your-writes", "monotonic-reads", "monotonic-writes",
                   "writes-follow-reads"},
    "store-buffering": {"causal", "weak-causal", "pram", "sessions", "read-your-writes",
                        "monotonic-reads", "monotonic-writes", "writes-follow-reads"},
    "two-readers-disagree": {"causal", "weak-causal", "pram", "read-your-writes",
                             "monotonic-writes", "writes-follow-reads"},
    "flip-flop": {"weak-causal", "read-your-writes", "monotonic-writes",
                  "writes-follow-reads"},
    "cause-missing": {"pram", "sessions", "read-your-writes", "monotonic-reads",
                      "monotonic-writes", "writes-follow-reads"},
    "fifo-violation": {"sessions", "read-your-writes", "monotonic-reads",
                       "monotonic-writes", "writes-follow-reads"},
    "read-your-writes": {"monotonic-reads", "monotonic-writes", "writes-follow-reads"},
    "monotonic-writes": {"sequential", "causal", "weak-causal", "pram", "read-your-writes",
                         "monotonic-reads", "writes-follow-reads"},
    "writes-follow-reads": {"sequential", "causal", "weak-causal", "pram",
                            "read-your-writes", "monotonic-reads", "monotonic-writes"},
    "converges": {"read-your-writes", "monotonic-writes", "writes-follow-reads",
                  "eventual"},
    "diverges": {"sequential", "causal", "weak-causal", "pram", "sessions",
                 "read-your-writes", "monotonic-reads", "monotonic-writes",
                 "writes-follow-reads"},
}
EVENTUAL_JUDGED = {"converges", "diverges"}


def judge(name: str, consistency: str) -> Any:
    example = EXAMPLES[name]
    return check_consistency(example.events, consistency, "register",
                             **example.options_for(consistency))


def test_every_example_is_in_the_table() -> None:
    assert set(ALLOWED) == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_is_allowed_exactly_by_the_models_the_literature_says(name: str) -> None:
    for consistency in CONSISTENCY_MODELS:
        report = judge(name, consistency)
        if consistency == "eventual" and name not in EVENTUAL_JUDGED:
            assert report.ok and report.judged == 0, report.explain()
            continue
        expected = consistency in ALLOWED[name]
        assert bool(report) is expected, f"{name}, {consistency}:\n{report.explain()}"
        if not expected:
            # A violation names operations of the history, and says something.
            for violation in report.violations:
                assert violation.events and violation.text
                assert not violation.text.startswith(UNDECIDED)


# Each pair: an example the weaker model allows and the stronger one forbids.
SEPARATIONS = [
    ("stale-read", "sequential", "linearizable"),
    ("two-readers-disagree", "causal", "sequential"),
    ("store-buffering", "causal", "sequential"),
    ("flip-flop", "weak-causal", "causal"),
    ("cause-missing", "pram", "causal"),
    ("store-buffering", "sessions", "sequential"),
    ("read-your-writes", "monotonic-reads", "read-your-writes"),
    ("flip-flop", "read-your-writes", "monotonic-reads"),
    ("monotonic-writes", "writes-follow-reads", "monotonic-writes"),
    ("writes-follow-reads", "monotonic-writes", "writes-follow-reads"),
    ("diverges", "sequential", "eventual"),
    ("converges", "eventual", "pram"),
    ("converges", "eventual", "sessions"),
]


@pytest.mark.parametrize(("name", "weaker", "stronger"), SEPARATIONS)
def test_an_example_separates_each_pair(name: str, weaker: str, stronger: str) -> None:
    assert judge(name, weaker), judge(name, weaker).explain()
    assert not judge(name, stronger)


# ----- what the violations say -------------------------------------------------------------


def positions(name: str, report: Any) -> list[str]:
    """The operations a report's first violation names, as `p1 read x -> 1`-like labels."""
    history = History.from_events(EXAMPLES[name].events)
    model = get_model("register")
    return [f"p{history.operations[i].process} "
            f"{model.describe_operation(history.operations[i])}"
            for i in report.violations[0].events]


def test_cause_missing_names_the_causal_chain_in_order() -> None:
    report = judge("cause-missing", "causal")
    assert positions("cause-missing", report) == [
        "p0 write x 1", "p1 read x -> 1", "p1 write y 2", "p2 read y -> 2", "p2 read x -> null"]
    assert "returned the initial value" in report.violations[0].text
    assert report.violations[0].nodes == ("p0", "p1", "p2")


def test_an_overwritten_value_in_the_causal_past_is_named() -> None:
    report = judge("converges", "weak-causal")
    text = report.violations[0].text
    assert "p1 read x -> 1 returned the value of p0 write x 1, which p0 write x 2 overwrote" in text
    assert positions("converges", report) == [
        "p0 write x 1", "p0 write x 2", "p1 read x -> 2", "p1 read x -> 1"]


def test_sequential_violation_lists_the_smallest_failing_part() -> None:
    # In "converges", the three final reads are not needed to show the problem.
    report = judge("converges", "sequential")
    text = report.violations[0].text
    assert "no one order of the 7 operations" in text and "these 4 already have none" in text
    assert sorted(positions("converges", report)) == [
        "p0 write x 1", "p0 write x 2", "p1 read x -> 1", "p1 read x -> 2"]
    # And the part is a true explanation: on its own, it is not sequentially consistent.
    history = History.from_events(EXAMPLES["converges"].events)
    kept = set(report.violations[0].events)
    part = [op for op in history.operations if op.index in kept]
    assert not check_sequential(History(part, event_count=0), "register")


def test_causal_memory_failure_names_the_process_whose_view_is_impossible() -> None:
    report = judge("flip-flop", "causal")
    assert report.violations[0].text.startswith("p2 cannot see the writes in one order")
    assert "p2 read x -> 1: not possible, because register x holds 2" in report.violations[0].text


def test_session_cycles_say_which_guarantees_conflict() -> None:
    text = judge("converges", "sessions").violations[0].text
    assert "satisfies monotonic writes and monotonic reads" in text
    text = judge("two-readers-disagree", "monotonic-reads").violations[0].text
    assert "p2 read x -> 1, then p2 read x -> 2" in text
    assert "p3 read x -> 2, then p3 read x -> 1" in text


def test_session_guarantees_with_the_stores_order() -> None:
    # The same history is fine with the order the writes were made in, not the reverse.
    events = EXAMPLES["monotonic-writes"].events
    assert check_session_guarantees(events, "register", order={"x": [1, 2]})
    report = check_session_guarantees(events, "register", order={"x": [2, 1]},
                                      guarantees="mw")
    assert report.check == "monotonic writes" and len(report.violations) == 1
    # Monotonic writes alone cannot fail without an order: any order can be the store's.
    assert check_session_guarantees(events, "register", guarantees="monotonic-writes")


def test_reading_your_write_back_after_another_write_is_fine() -> None:
    events = [
        *_op(0, "write", "x", 1), *_op(1, "write", "x", 2), *_op(0, "read", "x", 2),
    ]
    assert check_session_guarantees(events, "register")
    assert not check_session_guarantees(events, "register", order={"x": [2, 1]})


def _op(process: int, f: str, key: str, value: Any, status: str = "ok") -> list[dict[str, Any]]:
    invoke = {"process": process, "type": "invoke", "f": f, "key": key,
              "value": None if f in ("read", "get") else value}
    return [invoke, dict(invoke, type=status, value=value)]


def test_store_buffering_shows_sequential_consistency_is_not_local() -> None:
    events = EXAMPLES["store-buffering"].events
    for key in ("x", "y"):
        assert check_sequential([e for e in events if e["key"] == key], "register")
    assert not check_sequential(events, "register")


def test_kv_histories_use_get_and_put() -> None:
    events = [*_op(0, "put", "k", "a"), *_op(1, "get", "k", ""), *_op(1, "get", "k", "a"),
              *_op(1, "get", "k", "")]
    assert not check_sequential(events, "kv")
    assert not check_causal(events, "kv")
    assert not check_session_guarantees(events, "kv", guarantees="mr")
    assert check_session_guarantees(events, "kv", guarantees="ryw")


def test_thin_air_and_causal_cycles() -> None:
    thin = [*_op(0, "write", "x", 1), *_op(1, "read", "x", 7)]
    for check in (check_causal, check_pram, check_session_guarantees):
        report = check(thin, "register")
        assert "(a read from thin air)" in report.violations[0].text
    cycle = [*_op(0, "read", "x", 2), *_op(0, "write", "y", 1),
             *_op(1, "read", "y", 1), *_op(1, "write", "x", 2)]
    report = check_causal(cycle, "register", definition="weak")
    assert report.violations[0].text.startswith("the causal order has a cycle")
    assert len(report.violations[0].events) == 4


def test_info_writes_may_or_may_not_have_happened() -> None:
    # p0's write timed out; a read saw it, so it happened.
    events = [*_op(0, "write", "x", 1, status="info"), *_op(1, "read", "x", 1)]
    assert check_sequential(events, "register")
    assert check_causal(events, "register")
    # Nobody saw p0's write of 2: it may never have happened, so reading 1 is fine.
    events = [*_op(0, "write", "x", 1), *_op(0, "write", "x", 2, status="info"),
              *_op(1, "read", "x", 1), *_op(1, "read", "x", 1)]
    assert check_sequential(events, "register")
    assert check_eventual(events, "register")


def test_check_converged_compares_replica_states() -> None:
    assert check_converged({"a": {"x": 1}, "b": {"x": 1}})
    report = check_converged({"a": {"x": 1}, "b": {"x": 2}, "c": {}})
    assert not report and report.judged == 1
    assert report.violations[0].text == (
        "replicas disagree on key x: a holds 1; b holds 2; c holds nothing")


def test_eventual_judges_only_reads_after_the_quiet_period() -> None:
    events = list(EXAMPLES["converges"].events)
    assert check_eventual(events, "register", quiet=3.0)
    # With no quiet period, p1's read of the old value counts, and the reads disagree.
    assert not check_eventual(events, "register", quiet=0.0)
    assert check_eventual(events, "register", after=6.0)
    # A lost write: the reads agree on a value its own writer overwrote.
    lost = [*_op(0, "write", "x", 1), *_op(0, "write", "x", 2), *_op(1, "read", "x", 1)]
    report = check_eventual(lost, "register")
    assert "a lost write" in report.violations[0].text


def test_undecided_searches_say_so() -> None:
    # Many concurrent writes and an impossible read: ruling every order out takes work.
    events: list[dict[str, Any]] = []
    for p in range(9):
        events += _op(p, "write", "x", p + 1)
    events += _op(9, "read", "x", 3) + _op(9, "read", "x", 5) + _op(9, "read", "x", 3)
    report = check_sequential(events, "register", max_steps=0)
    assert not report and report.violations[0].text.startswith(UNDECIDED)
    assert not check_sequential(events, "register")  # decided, given the time


# ----- bad input ---------------------------------------------------------------------------


def test_values_must_be_written_once() -> None:
    events = [*_op(0, "write", "x", 1), *_op(1, "write", "x", 1)]
    with pytest.raises(HistoryError, match=r"as p0 did at history\[0\].*at most once per key"):
        check_causal(events, "register")
    with pytest.raises(HistoryError, match="writes the initial value"):
        check_pram(_op(0, "put", "k", ""), "kv")
    assert check_sequential(events, "register")  # sequential consistency does not care


def test_causal_checks_need_reads_and_writes() -> None:
    with pytest.raises(HistoryError, match="not 'cas'"):
        check_causal(_op(0, "cas", "x", [1, 2]), "cas-register")
    with pytest.raises(CheckInputError, match="needs a read/write model"):
        check_causal([], _Counter())


class _Counter(Model[int]):
    name = "counter"


def test_bad_options_are_refused() -> None:
    events = EXAMPLES["stale-read"].events
    with pytest.raises(CheckInputError, match="unknown consistency model"):
        check_consistency(events, "strong", "register")
    with pytest.raises(CheckInputError, match="unknown session guarantee"):
        check_session_guarantees(events, "register", guarantees="rw")
    with pytest.raises(CheckInputError, match="definition"):
        check_causal(events, "register", definition="strong")
    with pytest.raises(CheckInputError, match="does not list 1"):
        check_session_guarantees(EXAMPLES["monotonic-writes"].events, "register",
                                 order={"x": [2]})
    with pytest.raises(CheckInputError, match="quiet"):
        check_eventual(events, "register", quiet=-1)


# ----- drawings ----------------------------------------------------------------------------


def test_drawing_marks_the_operations_of_the_first_violation() -> None:
    history = History.from_events(EXAMPLES["cause-missing"].events)
    report = check_causal(history, "register")
    svg = render_svg(history, report=report, model="register", title="cause missing")
    assert "cause missing: causal consistency VIOLATED (5 operations)" in svg
    badges = re.findall(r'font-size="9" fill="white">(\d+)</text>', svg)
    assert badges == ["1", "2", "3", "4", "5"]
    assert "returned the initial value" in svg
    ok = render_svg(history, report=check_pram(history, "register"), model="register")
    assert "PRAM consistency holds" in ok and 'fill="white">1<' not in ok


# ----- real data -----------------------------------------------------------------------------

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "porcupine"
VERDICTS = DATA / "VERDICTS.txt"


def _linearizable_files() -> list[str]:
    if not VERDICTS.exists():
        return []
    return [line.split()[0] for line in VERDICTS.read_text().splitlines()
            if line.strip() and not line.startswith("#") and line.split()[1] == "linearizable"]


LINEARIZABLE = _linearizable_files()
NO_DATA = pytest.mark.skipif(not LINEARIZABLE, reason=f"Porcupine test data not found at {DATA}")


ETCD = [name for name in LINEARIZABLE if name.startswith("jepsen/")]


@NO_DATA
@pytest.mark.parametrize("share", [
    pytest.param(slice(0, None, 4), id="a-quarter"),
    pytest.param(slice(None), id="all", marks=pytest.mark.soak),
])
def test_linearizable_jepsen_histories_are_sequentially_consistent(share: slice) -> None:
    """The etcd logs Porcupine judges linearizable are sequentially consistent: found by
    the order search itself (not only by the linearizability shortcut of check_sequential),
    and the order it finds keeps program order and gives every result."""
    model = get_model("cas-register")
    assert len(ETCD) >= 20
    for name in ETCD[share]:
        history = History.read(DATA / name)
        assert check_sequential(history, model, timeout=30), name
        needed = [op for op in history.operations if model.needed(op)]
        before, optional = _program_order(needed)
        outcome = find_order_staged(needed, model, before, optional, max_steps=200_000)
        assert outcome.verdict == "found", name
        assert_valid_sequential_order(model, needed, outcome.order)


@NO_DATA
@pytest.mark.parametrize("files", [
    pytest.param(("c01-ok.txt", "c10-ok.txt"), id="small"),
    pytest.param(("c50-ok.txt",), id="c50", marks=pytest.mark.soak),
])
def test_linearizable_kv_histories_are_sequentially_consistent(files: tuple[str, ...]) -> None:
    model = get_model("kv")
    for name in files:
        history = History.read(DATA / "kv" / name)
        assert check_sequential(history, model, timeout=60), name
    # The search alone, on one key of the 10-client history (the whole of it is decided
    # by linearizability's key-by-key shortcut).
    history = History.read(DATA / "kv" / "c10-ok.txt")
    for key in ("0", "1"):
        needed = [op for op in history.operations if op.key == key and model.needed(op)]
        before, optional = _program_order(needed)
        outcome = find_order_staged(needed, model, before, optional, max_steps=200_000)
        assert outcome.verdict == "found"
        assert_valid_sequential_order(model, needed, outcome.order)


def _program_order(ops: list[Any]) -> tuple[list[list[int]], list[bool]]:
    from dsys.check.consistency import _program_order as program_order

    return program_order(ops)


def assert_valid_sequential_order(model: Any, ops: list[Any], order: list[Any]) -> None:
    """Replay ``order`` on the model: every op legal, every required op present, each
    process's required ops in invoke order."""
    placed = {op.index for op in order}
    assert all(op.index in placed for op in ops if op.status != "info")
    state = model.init()
    for op in order:
        legal, state = model.step(state, op)
        assert legal, op
    last: dict[Any, int] = {}
    for op in order:
        if op.status != "info":
            assert last.get(op.process, -1) < op.invoke_at
            last[op.process] = op.invoke_at


# ----- the command line ------------------------------------------------------------------------


def write(path: Path, events: Any) -> Path:
    path.write_text("".join(json.dumps(event) + "\n" for event in events))
    return path


def test_cli_table_and_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = write(tmp_path / "stale.jsonl", EXAMPLES["stale-read"].events)
    assert main(["check", "consistency", "-c", "sequential,causal,pram", "--model",
                 "register", str(stale)]) == 0
    out = capsys.readouterr().out
    assert "sequential" in out and "holds" in out and "VIOLATED" not in out
    assert main(["check", "consistency", "--model", "register", str(stale)]) == 1
    out = capsys.readouterr().out
    assert "linearizable" in out and "VIOLATED" in out and "Not linearizable" in out


def test_cli_order_quiet_and_drawing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = write(tmp_path / "mw.jsonl", EXAMPLES["monotonic-writes"].events)
    order = tmp_path / "order.json"
    order.write_text(json.dumps({"x": [2, 1]}))
    drawing = tmp_path / "mw.svg"
    assert main(["check", "consistency", "-c", "monotonic-writes", "--model", "register",
                 "--order", str(order), "--draw", str(drawing), str(history)]) == 1
    assert "monotonic writes VIOLATED" in drawing.read_text()
    assert "the store ordered p0 write x 2 before p0 write x 1" in capsys.readouterr().out
    converges = write(tmp_path / "c.jsonl", EXAMPLES["converges"].events)
    assert main(["check", "consistency", "-c", "eventual", "--model", "register",
                 "--quiet", "3", str(converges)]) == 0


def test_cli_undecided_exits_2(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    for p in range(12):
        events += _op(p, "write", "x", p + 1)
    events += _op(12, "read", "x", 3) + _op(12, "read", "x", 5) + _op(12, "read", "x", 3)
    path = write(tmp_path / "hard.jsonl", events)
    assert main(["check", "consistency", "-c", "sequential", "--model", "register",
                 "--timeout", "0.05", str(path)]) == 2


@pytest.mark.parametrize("args", [
    ["-c", "strong"],
    ["--order", "missing.json"],
    ["--draw", "out.png", "-c", "causal"],
    ["--draw", "out.svg"],
    ["--timeout", "0"],
])
def test_cli_bad_input_exits_3(tmp_path: Path, args: list[str],
                               capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "h.jsonl", EXAMPLES["stale-read"].events)
    assert main(["check", "consistency", "--model", "register", *args, str(path)]) == 3
    assert "dsys: error:" in capsys.readouterr().err


# ----- the docs' pictures ---------------------------------------------------------------------


def test_the_docs_pictures_are_drawn_from_the_examples(tmp_path: Path) -> None:
    import importlib.util

    docs = Path(__file__).resolve().parents[2] / "docs"
    spec = importlib.util.spec_from_file_location("gen_consistency_pictures",
                                                  docs / "gen_consistency_pictures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.main(tmp_path)
    names = sorted(path.name for path in written)
    assert names == sorted(["consistency-map.svg",
                            *(f"consistency-{name}.svg" for name in EXAMPLES)])
    page = (docs / "concepts" / "consistency-models.md").read_text()
    for name in names:
        assert f"../assets/generated/{name}" in page
    # Each example is drawn against its model, with the verdict the table above expects.
    for name, example in EXAMPLES.items():
        svg = (tmp_path / f"consistency-{name}.svg").read_text()
        allowed = example.drawn_with in ALLOWED[name]
        assert ("VIOLATED" in svg) is not allowed, name


def test_cli_marks_models_a_history_cannot_be_judged_against(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = [*_op(0, "write", "x", 1), *_op(1, "cas", "x", [1, 2]), *_op(2, "read", "x", 2)]
    path = write(tmp_path / "cas.jsonl", events)
    assert main(["check", "consistency", "--model", "cas-register", str(path)]) == 0
    out = capsys.readouterr().out
    assert "n/a (cannot be judged): causal, weak-causal, pram" in out and "not 'cas'" in out
    # Asked for by name, it is an error.
    assert main(["check", "consistency", "-c", "causal", "--model", "cas-register",
                 str(path)]) == 3
