"""Every history in Porcupine's test data gets the verdict Porcupine's own tests expect.

The data lives outside the repository, in ``shared/data/porcupine`` beside it (as CI has
it). Without it these tests skip and say so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dsys.check import History, Verdict, check_linearizable

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "porcupine"
VERDICTS = DATA / "VERDICTS.txt"


def _cases() -> list[tuple[str, str]]:
    if not VERDICTS.exists():
        return []
    cases = []
    for line in VERDICTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, expected = line.split()
            cases.append((name, expected))
    return cases


CASES = _cases()
NO_DATA = pytest.mark.skip(reason=f"Porcupine test data not found at {DATA}")


def _model(name: str) -> str:
    # The etcd logs are one compare-and-set register; the kv logs a key-value store.
    return "kv" if name.startswith("kv/") else "cas-register"


@pytest.mark.parametrize(
    ("name", "expected"),
    CASES or [pytest.param("(no data)", "", marks=NO_DATA)],
)
def test_verdict_matches_porcupine(name: str, expected: str) -> None:
    history = History.read(DATA / name)
    result = check_linearizable(history, _model(name), timeout=30)
    assert result.verdict == Verdict(expected), result.explain()
    if result.verdict is Verdict.NOT_LINEARIZABLE:
        failure = result.failure
        assert failure is not None
        assert failure.stuck or failure.blocked_by is not None
        assert len(failure.linearization) < len(failure.operations)


@pytest.mark.skipif(not CASES, reason=f"Porcupine test data not found at {DATA}")
def test_every_listed_file_exists_and_is_checked() -> None:
    listed = {name for name, _ in CASES}
    on_disk = {
        f"{path.parent.name}/{path.name}"
        for path in DATA.glob("*/*")
        if path.suffix in (".log", ".txt") and path.stat().st_size > 0
    }
    # Only the empty etcd_095.log has no verdict.
    assert listed == on_disk
    assert len(listed) == 108


@pytest.mark.skipif(not CASES, reason=f"Porcupine test data not found at {DATA}")
def test_kv_histories_are_split_by_key() -> None:
    history = History.read(DATA / "kv" / "c10-ok.txt")
    result = check_linearizable(history, "kv")
    assert result.linearizable
    keys = {op.key for op in history}
    assert len(result.partitions) == len(keys) > 1
    assert {part.key for part in result.partitions} == keys


@pytest.mark.skipif(not CASES, reason=f"Porcupine test data not found at {DATA}")
def test_jepsen_log_conventions() -> None:
    history = History.read(DATA / "jepsen" / "etcd_000.log")
    timed_out = [op for op in history if op.status == "info"]
    failed_cas = [op for op in history if op.status == "fail"]
    assert timed_out and all(op.f in ("write", "cas", "read") for op in timed_out)
    assert failed_cas and all(op.f == "cas" for op in failed_cas)
    # A failed cas is an observation, so the model keeps it; a timed-out read is not.
    model_kept = check_linearizable(history, "cas-register").partitions[0].operations
    assert set(failed_cas) <= set(model_kept)
    assert not any(op.f == "read" and op.status == "info" for op in model_kept)
