"""Explaining non-linearizability: the smallest set of operations that cannot be ordered.

On hand-made histories of each familiar shape, and on the Jepsen/etcd and Porcupine kv
histories with known verdicts: the core of a failing history must itself fail, leaving out
any one of its operations must make it linearizable (minimality, up to the sources a read
needs), the sentence must name the core's operations, and the hint must point at the
first completion no order explains.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from dsys.check import History, Model, Operation, Verdict, check_linearizable
from dsys.check._search import search
from dsys.check.explain import Diagnosis, _built_in, _relax, _sources_closure, diagnose

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "porcupine"
VERDICTS = DATA / "VERDICTS.txt"


def _timed(*rows: tuple[Any, str, str, Any, float]) -> list[dict[str, Any]]:
    """Events from (process, type, f, value, time) rows."""
    return [{"process": p, "type": t, "f": f, "value": v, "time": time}
            for p, t, f, v, time in rows]


def _failing(ops: Sequence[Operation], model: Model[Any]) -> bool:
    outcome = search([op for op in ops if model.needed(op)], model)
    return outcome.verdict == "not-linearizable"


def _assert_sound_and_minimal(d: Diagnosis) -> None:
    """The core fails on its own; dropping any one operation either makes the rest
    linearizable or takes away a write a remaining read needs (which the core keeps).

    For a model of your own, the operations outside the core stay, relaxed to "outcome
    unknown": the core fails whatever they did, and not once one of its own is relaxed.
    """
    core = list(d.core)

    def with_context(ops: list[Operation]) -> list[Operation]:
        if _built_in(d.model):
            return ops
        kept = {op.index for op in ops}
        return ops + [_relax(op) for op in d.operations if op.index not in kept]

    assert _failing(with_context(core), d.model), "the core must not be linearizable"
    assert d.minimal
    close = _sources_closure(d.model, d.operations)
    for op in core:
        rest = [o for o in core if o is not op]
        if len(close(rest)) > len(rest):
            continue  # `op` could have written what a remaining read saw
        assert not _failing(with_context(rest), d.model), (
            f"without p{op.process} {op.label()} the rest still fails: core not minimal")
    # The sentence names every operation of the core, with who ran it.
    for op in d.core:
        who = f"p{op.process}" if isinstance(op.process, int) else op.process
        assert f"{d.model.describe_operation(op)} ({who}, " in d.sentence


# --- hand-made histories ----------------------------------------------------------------


def test_read_before_any_write_began() -> None:
    events = _timed(
        ("c1", "invoke", "write", 1, 0.10), ("c1", "ok", "write", 1, 0.20),
        ("c2", "invoke", "read", None, 1.20), ("c2", "ok", "read", 3, 1.35),
        ("c1", "invoke", "write", 3, 1.50), ("c1", "ok", "write", 3, 1.60),
        ("c3", "invoke", "read", None, 1.70), ("c3", "ok", "read", 3, 1.80),
    )
    d = diagnose(check_linearizable(events, "register"))
    _assert_sound_and_minimal(d)
    assert [op.label() for op in d.core] == ["read -> 3"]
    assert d.sentence == ("read -> 3 (c2, 1.2-1.35) returned before any write of 3 began "
                          "(the only write of 3, by c1, was invoked at 1.5).")
    assert [op.label() for op in d.witnesses] == ["write 3"]
    # The hint: everything up to the read's completion (the 3rd event... the 4th) fits.
    assert d.first_bad is not None and d.first_bad.output == 3
    assert d.prefix_events == 3


def test_stale_read() -> None:
    events = _timed(
        (0, "invoke", "write", 1, 0.0), (0, "ok", "write", 1, 1.0),
        (0, "invoke", "write", 2, 2.0), (0, "ok", "write", 2, 3.0),
        (1, "invoke", "read", None, 2.5), (1, "ok", "read", 2, 3.5),   # a fine read
        (2, "invoke", "read", None, 4.0), (2, "ok", "read", 1, 5.0),   # stale
    )
    d = diagnose(check_linearizable(events, "register"))
    _assert_sound_and_minimal(d)
    assert sorted(op.label() for op in d.core) == ["read -> 1", "write 1", "write 2"]
    assert "after it had been overwritten" in d.sentence
    assert d.sentence.startswith("read -> 1 (p2, 4-5)")


def test_lost_write() -> None:
    events = _timed(
        (0, "invoke", "write", 7, 0.0), (0, "ok", "write", 7, 1.0),
        (1, "invoke", "read", None, 1.5), (1, "ok", "read", None, 2.0),
    )
    d = diagnose(check_linearizable(events, "register"))
    _assert_sound_and_minimal(d)
    assert len(d.core) == 2
    assert d.sentence == ("read -> null (p1, 1.5-2) found the register empty, but write 7 "
                          "(p0, 0-1) had completed before the read began: the write was lost.")


def test_cas_that_saw_a_value_never_written() -> None:
    events = _timed(
        (0, "invoke", "write", 1, 0.0), (0, "ok", "write", 1, 1.0),
        (1, "invoke", "cas", [5, 6], 2.0), (1, "ok", "cas", [5, 6], 3.0),
    )
    d = diagnose(check_linearizable(events, "cas-register"))
    _assert_sound_and_minimal(d)
    assert [op.f for op in d.core] == ["cas"]
    assert d.sentence == "cas 5->6 (p1, 2-3) found 5, but no operation ever wrote 5."


def test_failed_cas_after_a_write_of_its_old_value() -> None:
    events = _timed(
        (0, "invoke", "write", 4, 0.0), (0, "ok", "write", 4, 1.0),
        (1, "invoke", "cas", [4, 5], 2.0), (1, "fail", "cas", [4, 5], 3.0),
    )
    d = diagnose(check_linearizable(events, "cas-register"))
    _assert_sound_and_minimal(d)
    assert "failed, so it did not find 4" in d.sentence


class Counter(Model[int]):
    """A counter: ``add`` n, ``read`` the total. No built-in words: the generic sentence."""

    name = "counter"

    def init(self) -> int:
        return 0

    def step(self, state: int, op: Operation) -> tuple[bool, int]:
        if op.f == "add":
            return True, state + op.value
        return op.status != "ok" or op.output == state, state


def test_counter_model_gets_the_generic_sentence() -> None:
    events = _timed(
        (0, "invoke", "add", 5, 0.0), (0, "ok", "add", 5, 1.0),
        (1, "invoke", "add", 1, 0.5), (1, "ok", "add", 1, 1.5),
        (2, "invoke", "read", None, 2.0), (2, "ok", "read", 5, 3.0),
        (3, "invoke", "add", 100, 4.0), (3, "ok", "add", 100, 5.0),
    )
    d = diagnose(check_linearizable(events, Counter()))
    _assert_sound_and_minimal(d)
    assert sorted(op.label() for op in d.core) == ["add 1", "read -> 5"]
    assert d.sentence.startswith("No order of add 1 (p1, 0.5-1.5); read -> 5 (p2, 2-3) works")
    assert "because the state is 1" in d.sentence
    assert "p1  add 1" in d.ascii() and "p2  read -> 5" in d.ascii()


def test_explain_report_and_drawings() -> None:
    events = _timed(
        (0, "invoke", "write", 1, 0.0), (0, "ok", "write", 1, 1.0),
        (1, "invoke", "read", None, 1.5), (1, "ok", "read", None, 2.0),
    )
    result = check_linearizable(events, "register")
    text = result.explain(why=True)
    assert text.startswith(result.explain())
    assert "Why: these 2 of 2 operations cannot be ordered:" in text
    assert "Hint (longest linearizable prefix)" in text
    d = result.diagnose()
    report = d.report()
    assert not report and report.violations[0].events == tuple(op.index for op in d.core)
    svg = d.svg()
    assert svg.startswith("<svg") and "the write was lost" in svg
    assert svg.count("<rect x=") == len(d.core)  # one bar per operation at fault
    assert ">p1  read -&gt; null</text>" in svg and ">1.5</text>" in svg  # label, axis
    assert len(d.core_history()) == 2
    assert d.ascii().splitlines()[0].rstrip().endswith("[====]")


def test_diagnose_refuses_a_linearizable_result_and_a_bad_budget() -> None:
    ok = check_linearizable(_timed((0, "invoke", "write", 1, 0), (0, "ok", "write", 1, 1)),
                            "register")
    with pytest.raises(ValueError, match="only a history that is not linearizable"):
        diagnose(ok)
    bad = check_linearizable(_timed((0, "invoke", "read", None, 0), (0, "ok", "read", 1, 1)),
                             "register")
    with pytest.raises(ValueError, match="budget"):
        diagnose(bad, budget=-1)


def test_a_small_budget_says_the_core_is_not_shown_minimal() -> None:
    events = _timed(*[row for k in range(12) for row in (
        (k % 3, "invoke", "write", k, 2.0 * k), (k % 3, "ok", "write", k, 2.0 * k + 1))],
        (9, "invoke", "read", None, 30.0), (9, "ok", "read", 3, 31.0))
    result = check_linearizable(events, "register")
    d = diagnose(result, budget=5)
    assert not d.minimal
    assert "not shown minimal" in d.explain()
    full = diagnose(result)
    assert full.minimal and len(full.core) < len(d.core)
    # Deterministic: the same result and budget give the same diagnosis.
    assert diagnose(result, budget=5) == d


# --- recorded histories with known verdicts ---------------------------------------------------


def _failing_cases() -> list[str]:
    if not VERDICTS.exists():
        return []
    return [line.split()[0] for line in VERDICTS.read_text().splitlines()
            if line.strip() and not line.startswith("#") and line.split()[1] == "not-linearizable"]


FAILING = _failing_cases()
#: Quick ones for the default run (each well under a second); all of them under --soak.
QUICK = ["jepsen/etcd_000.log", "jepsen/etcd_003.log", "jepsen/etcd_064.log",
         "jepsen/etcd_072.log", "kv/c01-bad.txt", "kv/c10-bad.txt"]
NO_DATA = pytest.mark.skip(reason=f"Porcupine test data not found at {DATA}")


def _check_recorded(name: str) -> Diagnosis:
    history = History.read(DATA / name)
    result = check_linearizable(history, "kv" if name.startswith("kv/") else "cas-register")
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    d = diagnose(result)
    _assert_sound_and_minimal(d)
    assert len(d.core) < len(d.operations)
    if name.startswith("jepsen/"):
        assert 4 * len(d.core) < len(d.operations), "a core should be a small part"
    # The hint: the prefix is linearizable, and adding the next event breaks it.
    assert d.first_bad is not None and d.first_bad.complete_where is not None
    assert d.first_bad.complete_where in d.hint()
    return d


@pytest.mark.parametrize("name", QUICK if FAILING else [pytest.param("-", marks=NO_DATA)])
def test_recorded_history_core(name: str) -> None:
    _check_recorded(name)


@pytest.mark.soak
@pytest.mark.parametrize("name", FAILING or [pytest.param("-", marks=NO_DATA)])
def test_every_recorded_failure_has_a_minimal_core(name: str) -> None:
    _check_recorded(name)


@pytest.mark.skipif(not FAILING, reason=f"Porcupine test data not found at {DATA}")
def test_recorded_sentences_say_what_happened() -> None:
    d = _check_recorded("jepsen/etcd_064.log")
    assert d.sentence == (
        "read -> 0 (p7, lines 61-62) returned 0 after it had been overwritten: write 0 (p0, "
        "lines 33-34) completed before write 1 (p1, lines 45-47) began, and write 1 "
        "completed before the read began.")
    lost = _check_recorded("kv/c10-bad.txt")
    assert lost.sentence.endswith("the write was lost.")


# --- the command line -------------------------------------------------------------------------


def test_dsys_check_lin_says_why_and_draws_the_core(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from dsys.cli import main

    path = tmp_path / "lost.jsonl"
    events = _timed(
        (0, "invoke", "write", 7, 0.0), (0, "ok", "write", 7, 1.0),
        (1, "invoke", "read", None, 1.5), (1, "ok", "read", None, 2.0),
    )
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    core = tmp_path / "core.svg"
    assert main(["check", "lin", "--model", "register", str(path),
                 "--draw-core", str(core)]) == 1
    out = capsys.readouterr().out
    assert "Why: these 2 of 2 operations cannot be ordered:" in out
    assert "the write was lost." in out
    assert "Hint (longest linearizable prefix)" in out
    assert core.read_text().startswith("<svg")
    assert main(["check", "lin", "--model", "register", str(path),
                 "--draw-core", str(tmp_path / "core.png")]) == 3
