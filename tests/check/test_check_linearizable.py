"""The checker on hand-made histories: models, explanations, time limits, user models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from dsys.check import (
    CheckInputError,
    History,
    HistoryError,
    Model,
    Operation,
    Verdict,
    check_linearizable,
    get_model,
)


def events(*rows: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Compact events: (process, type, f, value) or (process, type, f, value, key)."""
    out = []
    for row in rows:
        event = {"process": row[0], "type": row[1], "f": row[2], "value": row[3]}
        if len(row) > 4:
            event["key"] = row[4]
        out.append(event)
    return out


def test_stale_read_after_a_write_completed_is_caught() -> None:
    history = events(
        (0, "invoke", "write", 1), (0, "ok", "write", 1),
        (1, "invoke", "read", None), (1, "ok", "read", None),
    )  # fmt: skip
    result = check_linearizable(history, "register")
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    failure = result.failure
    assert failure is not None
    assert [op.f for op in failure.linearization] == ["write"]
    assert failure.blocked_by is not None and failure.blocked_by.f == "read"
    assert "the register holds 1" in result.explain()


def test_order_of_concurrent_writes_is_found_whichever_is_tried_first() -> None:
    # Both writes overlap; only "2 then 1" explains the final read. A cache that forgot the
    # state would remember {write 1, write 2} as a dead end after trying "1 then 2".
    history = events(
        (0, "invoke", "write", 1), (1, "invoke", "write", 2),
        (0, "ok", "write", 1), (1, "ok", "write", 2),
        (2, "invoke", "read", None), (2, "ok", "read", 1),
    )  # fmt: skip
    result = check_linearizable(history, "register")
    assert result.linearizable
    assert [op.value for op in result.partitions[0].linearization][:2] == [2, 1]


def test_failed_cas_is_an_observation() -> None:
    written = [(0, "invoke", "write", 1), (0, "ok", "write", 1)]
    # cas(1 -> 2) returning false while the register certainly holds 1 is impossible...
    bad = events(*written, (1, "invoke", "cas", [1, 2]), (1, "fail", "cas", [1, 2]))
    assert check_linearizable(bad, "cas-register").verdict is Verdict.NOT_LINEARIZABLE
    # ...but cas(5 -> 2) returning false is fine, and changes nothing.
    good = events(
        *written,
        (1, "invoke", "cas", [5, 2]), (1, "fail", "cas", [5, 2]),
        (1, "invoke", "read", None), (1, "ok", "read", 1),
    )  # fmt: skip
    assert check_linearizable(good, "cas-register").linearizable


def test_failed_write_has_no_effect() -> None:
    history = events(
        (0, "invoke", "write", 1), (0, "fail", "write", 1),
        (1, "invoke", "read", None), (1, "ok", "read", 1),
    )  # fmt: skip
    assert check_linearizable(history, "register").verdict is Verdict.NOT_LINEARIZABLE
    history[3]["value"] = None  # the register was never written
    assert check_linearizable(history, "register").linearizable


@pytest.mark.parametrize("completion", ["info", None])
def test_info_write_may_take_effect_late_or_never(completion: str | None) -> None:
    write = [(0, "invoke", "write", 7)] + ([(0, completion, "write", 7)] if completion else [])
    late = events(
        *write,
        (1, "invoke", "read", None), (1, "ok", "read", None),
        (1, "invoke", "read", None), (1, "ok", "read", 7),
    )  # fmt: skip
    assert check_linearizable(late, "register").linearizable
    never = events(*write, (1, "invoke", "read", None), (1, "ok", "read", None))
    assert check_linearizable(never, "register").linearizable
    # But it cannot take effect before it was invoked.
    early = events((1, "invoke", "read", None), (1, "ok", "read", 7), *write)
    assert check_linearizable(early, "register").verdict is Verdict.NOT_LINEARIZABLE


def test_keys_are_independent_registers() -> None:
    history = events(
        (0, "invoke", "write", 1, "x"), (0, "ok", "write", 1, "x"),
        (1, "invoke", "read", None, "y"), (1, "ok", "read", None, "y"),
        (1, "invoke", "read", None, "x"), (1, "ok", "read", 1, "x"),
    )  # fmt: skip
    result = check_linearizable(history, "register")
    assert result.linearizable
    assert sorted(part.key for part in result.partitions) == ["x", "y"]
    history[3]["value"] = 1  # y was never written
    failing = check_linearizable(history, "register")
    assert failing.failure is not None and failing.failure.key == "y"
    assert "(key 'y')" in failing.explain()


def test_kv_model_appends_and_reads_missing_keys_as_empty() -> None:
    history = events(
        (0, "invoke", "get", None, "k"), (0, "ok", "get", "", "k"),
        (0, "invoke", "append", "ab", "k"), (0, "ok", "append", "ab", "k"),
        (1, "invoke", "append", "c", "k"), (2, "invoke", "get", None, "k"),
        (1, "ok", "append", "c", "k"), (2, "ok", "get", "abc", "k"),
        (0, "invoke", "put", "z", "k"), (0, "ok", "put", "z", "k"),
    )  # fmt: skip
    assert check_linearizable(history, "kv").linearizable
    history[7]["value"] = "cab"
    assert check_linearizable(history, "kv").verdict is Verdict.NOT_LINEARIZABLE


def test_unknown_operations_are_reported_with_their_line() -> None:
    history = events((0, "invoke", "cas", [1, 2]), (0, "ok", "cas", [1, 2]))
    with pytest.raises(HistoryError, match=r"history\[0\]: the register model has no 'cas'"):
        check_linearizable(history, "register")
    with pytest.raises(HistoryError, match=r"cas needs value \[old, new\], got 3"):
        check_linearizable(events((0, "invoke", "cas", 3)), "cas-register")
    with pytest.raises(CheckInputError, match="unknown model 'queue'"):
        get_model("queue")


class _FakeClock:
    """Advances a second every time it is read, so any time limit soon runs out."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += 1.0
        return self.now


def _hard_history(writers: int) -> list[dict[str, Any]]:
    """Many overlapping writes and a read no order can explain: an exhaustive search."""
    rows: list[tuple[Any, ...]] = []
    rows += [(p, "invoke", "write", p) for p in range(writers)]
    rows += [(writers, "invoke", "read", None), (writers, "ok", "read", -1)]
    rows += [(p, "ok", "write", p) for p in range(writers)]
    return events(*rows)


def test_time_limit_gives_unknown_not_a_guess() -> None:
    clock = _FakeClock()
    result = check_linearizable(_hard_history(14), "register", timeout=5, clock=clock)
    assert result.verdict is Verdict.UNKNOWN
    assert not result.linearizable and result.failure is None
    assert clock.reads > 2  # the search itself looked at the clock
    assert "Undecided" in result.explain()
    # Without a limit the same history is decided.
    assert check_linearizable(_hard_history(6), "register").verdict is Verdict.NOT_LINEARIZABLE


class Counter(Model[int]):
    """A user model: an integer counter with add and read."""

    name = "counter"

    def init(self) -> int:
        return 0

    def step(self, state: int, op: Operation) -> tuple[bool, int]:
        if op.f == "add":
            return True, state + op.value
        return op.status != "ok" or op.output == state, state

    def read_only(self, op: Operation) -> bool:
        return op.f == "read"

    def describe_state(self, state: int) -> str:
        return f"the counter is {state}"


def test_user_models_need_only_init_and_step() -> None:
    history = events(
        (0, "invoke", "add", 2), (1, "invoke", "add", 3),
        (2, "invoke", "read", None), (2, "ok", "read", 3),
        (0, "ok", "add", 2), (1, "ok", "add", 3),
        (2, "invoke", "read", None), (2, "ok", "read", 4),
    )  # fmt: skip
    result = check_linearizable(history, Counter())
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert "the counter is 5" in result.explain()
    history[-1]["value"] = 5
    assert check_linearizable(history, Counter()).linearizable


class Registers(Model[tuple[Any, ...]]):
    """A user model that partitions: one counter per key, state a (key, total) pair."""

    name = "per-key"

    def init(self) -> tuple[Any, ...]:
        return ()

    def step(self, state: tuple[Any, ...], op: Operation) -> tuple[bool, tuple[Any, ...]]:
        total = state[1] if state else 0
        if op.f == "add":
            return True, (op.key, total + op.value)
        return op.output == total, state

    def partition(self, operations: Sequence[Operation]) -> list[list[Operation]] | None:
        by_key: dict[Any, list[Operation]] = {}
        for op in operations:
            by_key.setdefault(op.key, []).append(op)
        return list(by_key.values())


def test_user_model_partitions_are_checked_separately() -> None:
    history = events(
        (0, "invoke", "add", 2, "a"), (0, "ok", "add", 2, "a"),
        (0, "invoke", "add", 5, "b"), (0, "ok", "add", 5, "b"),
        (0, "invoke", "read", None, "a"), (0, "ok", "read", 2, "a"),
    )  # fmt: skip
    result = check_linearizable(history, Registers())
    assert result.linearizable and len(result.partitions) == 2


def test_a_model_that_lies_about_read_only_is_reported() -> None:
    class Liar(Counter):
        def read_only(self, op: Operation) -> bool:
            return True

    history = events((0, "invoke", "add", 1), (0, "ok", "add", 1))
    with pytest.raises(ValueError, match="read-only, but its step changed the state"):
        check_linearizable(history, Liar())


def test_history_objects_and_event_lists_give_the_same_result() -> None:
    rows = events((0, "invoke", "write", 1), (0, "ok", "write", 1))
    assert check_linearizable(History.from_events(rows), "register").linearizable
    assert check_linearizable(rows, get_model("register")).linearizable


def _hard_history(writers: int = 12) -> list[dict[str, object]]:
    """Many overlapping writes, then a read of a value nobody wrote: not linearizable, and
    only found out after trying many orders of the writes."""
    events: list[dict[str, object]] = []
    for p in range(writers):
        events.append({"process": p, "type": "invoke", "f": "write", "value": p})
    for p in range(writers):
        events.append({"process": p, "type": "ok", "f": "write", "value": p})
    events.append({"process": writers, "type": "invoke", "f": "read", "value": None})
    events.append({"process": writers, "type": "ok", "f": "read", "value": 999})
    return events


def test_a_step_budget_gives_the_same_unknown_every_time_and_a_big_one_decides() -> None:
    from dsys.check import Verdict, check_linearizable

    small = [check_linearizable(_hard_history(), "register", max_steps=1000) for _ in range(2)]
    assert [r.verdict for r in small] == [Verdict.UNKNOWN, Verdict.UNKNOWN]
    assert small[0].partitions[0].configurations == small[1].partitions[0].configurations
    decided = check_linearizable(_hard_history(), "register", max_steps=10_000_000)
    assert decided.verdict is Verdict.NOT_LINEARIZABLE


def test_a_negative_step_budget_is_an_input_error() -> None:
    from dsys.check import CheckInputError, check_linearizable

    with pytest.raises(CheckInputError, match="max_steps"):
        check_linearizable(_hard_history(2), "register", max_steps=-1)
