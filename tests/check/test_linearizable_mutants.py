"""The linearizability checker's budgets, part accounting and rarely rendered text (issue 21).

test_check_linearizable.py shows the verdicts; these pin what a mutant of the checker got
away with before: how a step budget is shared by the independent parts of a history, that
checking stops at the first failing part, the exact text of long explanations, and a user
model whose state comes back to its initial value.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsys.check import CheckInputError, Model, Operation, Verdict, check_linearizable
from dsys.check._search import _CLOCK_MASK, search
from dsys.check.history import History
from dsys.check.linearizable import CheckResult, PartitionResult, _why_not
from dsys.check.models import get_model

CHECKPOINT = _CLOCK_MASK + 1  # the budget is looked at every this many steps


def ev(process: int, type_: str, f: str, value: Any, key: str | None = None) -> dict[str, Any]:
    event = {"process": process, "type": type_, "f": f, "value": value}
    if key is not None:
        event["key"] = key
    return event


def overlapping_puts(
    key: str, writers: int, read: str, first_process: int = 0
) -> list[dict[str, Any]]:
    """``writers`` overlapping puts of "0", "1", ... on ``key``, then a get of ``read``.

    With ``read="0"`` it is linearizable, but only after the search has tried putting the
    first writer's put last among many orders: it takes a known, large number of steps.
    """
    procs = range(first_process, first_process + writers)
    rows = [ev(p, "invoke", "put", str(p - first_process), key) for p in procs]
    rows += [ev(p, "ok", "put", str(p - first_process), key) for p in procs]
    reader = first_process + writers
    rows += [ev(reader, "invoke", "get", None, key), ev(reader, "ok", "get", read, key)]
    return rows


def steps_of(rows: list[dict[str, Any]], model: str = "kv") -> int:
    return search(History.from_events(rows).operations, get_model(model)).steps


# -- the step budget --------------------------------------------------------------------


def test_a_step_budget_is_checked_every_checkpoint_and_exceeded_only_past_it() -> None:
    rows = overlapping_puts("k", 9, "0")
    needed = steps_of(rows)
    assert 2 * CHECKPOINT < needed < 3 * CHECKPOINT  # passes two checkpoints
    for budget, verdict in [
        (2 * CHECKPOINT, Verdict.LINEARIZABLE),  # 2048 steps are not more than 2048
        (2 * CHECKPOINT - 1, Verdict.UNKNOWN),
        (0, Verdict.UNKNOWN),
        (None, Verdict.LINEARIZABLE),
    ]:
        assert check_linearizable(rows, "kv", max_steps=budget).verdict is verdict, budget
    small = overlapping_puts("k", 4, "0")
    assert steps_of(small) < CHECKPOINT
    assert check_linearizable(small, "kv", max_steps=0).linearizable  # never looked at


def test_one_step_budget_is_shared_by_all_the_parts() -> None:
    a, b = overlapping_puts("a", 9, "0"), overlapping_puts("b", 9, "0", first_process=20)
    first, second = steps_of(a), steps_of(b)
    rows = a + b
    total = check_linearizable(rows, "kv")
    assert total.linearizable and total.part_count == 2 and len(total.partitions) == 2
    # The second part gets what the first left: enough only if that reaches its last
    # checkpoint (2 * CHECKPOINT).
    enough = first + 2 * CHECKPOINT
    assert check_linearizable(rows, "kv", max_steps=enough).linearizable
    short = check_linearizable(rows, "kv", max_steps=enough - 1)
    assert short.verdict is Verdict.UNKNOWN
    assert [p.verdict for p in short.partitions] == [Verdict.LINEARIZABLE, Verdict.UNKNOWN]
    assert second > 2 * CHECKPOINT  # (so the second part does reach that checkpoint)
    # A budget smaller than the first part's steps leaves the second none at all.
    assert check_linearizable(rows, "kv", max_steps=2 * CHECKPOINT - 1).verdict is Verdict.UNKNOWN


def test_checking_stops_at_the_first_part_that_is_not_linearizable() -> None:
    stale = [
        ev(50, "invoke", "put", "x", "s"),
        ev(50, "ok", "put", "x", "s"),
        ev(51, "invoke", "get", None, "s"),
        ev(51, "ok", "get", "", "s"),
    ]
    hard = overlapping_puts("h", 9, "0")
    # The small failing part is checked first; the hard part (which the budget could not
    # decide) is never looked at, so its "unknown" cannot overwrite the failure.
    result = check_linearizable(hard + stale, "kv", max_steps=10)
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert result.part_count == 2 and len(result.partitions) == 1
    assert result.failure is result.partitions[0] and result.failure.key == "s"
    assert "Not linearizable (key 's')" in result.explain()


def test_checking_stops_when_a_part_runs_out_of_budget() -> None:
    hard = overlapping_puts("h", 9, "0")
    easy = [ev(40 + i, t, "put", str(i), "e") for i in range(12) for t in ("invoke", "ok")]
    result = check_linearizable(hard + easy, "kv", max_steps=100)
    assert result.verdict is Verdict.UNKNOWN and result.failure is None
    assert result.part_count == 2
    assert [p.key for p in result.partitions] == ["h"]  # the smaller part, first and only


def test_a_generous_time_limit_decides_and_elapsed_is_measured_with_the_clock() -> None:
    class Clock:
        def __init__(self) -> None:
            self.now = 0.0

        def __call__(self) -> float:
            self.now += 1.0
            return self.now

    rows = overlapping_puts("k", 9, "0")
    clock = Clock()
    result = check_linearizable(rows, "kv", timeout=10, clock=clock)
    assert result.linearizable
    assert result.elapsed == clock.now - 1.0  # from the first reading to the last
    no_limit = check_linearizable(rows, "kv", clock=Clock())
    assert no_limit.elapsed == 1.0  # with no limit, only the start and the end are read
    assert check_linearizable(rows, "kv", timeout=0, clock=Clock()).verdict is Verdict.UNKNOWN
    with pytest.raises(CheckInputError, match="timeout must not be negative"):
        check_linearizable(rows, "kv", timeout=-0.5)


def test_configurations_add_up_over_parts_and_skipped_operations_are_kept() -> None:
    rows = overlapping_puts("a", 4, "0") + overlapping_puts("b", 5, "0", first_process=10)
    rows += [ev(30, "invoke", "put", "z", "a"), ev(30, "fail", "put", "z", "a")]
    result = check_linearizable(rows, "kv")
    assert result.linearizable and len(result.partitions) == 2
    assert result.configurations == sum(p.configurations for p in result.partitions)
    assert all(p.configurations > 1 for p in result.partitions)
    assert [op.process for op in result.skipped] == [30]
    assert [p.key for p in result.partitions] == ["a", "b"]
    assert sorted(len(p.operations) for p in result.partitions) == [5, 6]


# -- explanations -------------------------------------------------------------------------


def test_explain_a_long_linearization_shows_its_last_six_operations_numbered() -> None:
    rows = []
    for value in range(10):
        rows += [ev(0, "invoke", "write", value), ev(0, "ok", "write", value)]
    rows += [ev(1, "invoke", "read", None), ev(1, "ok", "read", 0)]
    assert check_linearizable(rows, "register").explain() == "\n".join(
        [
            "Not linearizable. The longest linearization found places 10 of 11 operations:",
            "  ... 4 earlier operations ...",
            "  5. p0 write 4",
            "  6. p0 write 5",
            "  7. p0 write 6",
            "  8. p0 write 7",
            "  9. p0 write 8",
            "  10. p0 write 9",
            "after which the register holds 9, and nothing can go next:",
            "  - p1 read -> 0: not possible, because the register holds 9",
            "p1 read -> 0 (history[20] to history[21]) completed before it could be placed.",
        ]
    )


def test_explain_shows_a_linearization_of_eight_in_full() -> None:
    rows = []
    for value in range(8):
        rows += [ev(0, "invoke", "write", value), ev(0, "ok", "write", value)]
    rows += [ev(1, "invoke", "read", None), ev(1, "ok", "read", 0)]
    text = check_linearizable(rows, "register").explain()
    assert "earlier operations" not in text
    assert [line for line in text.splitlines() if line.startswith("  ")][:8] == [
        f"  {n + 1}. p0 write {n}" for n in range(8)
    ]


def test_explain_lists_ten_stuck_operations_and_counts_the_rest() -> None:
    rows = [ev(0, "invoke", "write", 1), ev(0, "ok", "write", 1)]
    rows += [ev(p, "invoke", "read", None) for p in range(1, 13)]
    rows += [ev(p, "ok", "read", 100 + p) for p in range(1, 13)]
    lines = check_linearizable(rows, "register").explain().splitlines()
    assert lines[:3] == [
        "Not linearizable. The longest linearization found places 1 of 13 operations:",
        "  1. p0 write 1",
        "after which the register holds 1, and nothing can go next:",
    ]
    stuck = [line for line in lines if line.startswith("  - ")]
    assert stuck == [
        f"  - p{p} read -> {100 + p}: not possible, because the register holds 1"
        for p in range(1, 11)
    ]
    assert lines[-2:] == [
        "  ... and 2 more",
        "p1 read -> 101 (history[2] to history[14]) completed before it could be placed.",
    ]
    rows = (
        rows[:2]
        + [
            ev(p, t, "read", None if t == "invoke" else 100 + p)
            for p in range(1, 11)
            for t in ("invoke",)
        ]
        + [ev(p, "ok", "read", 100 + p) for p in range(1, 11)]
    )
    assert "more" not in check_linearizable(rows, "register").explain()  # exactly ten


def test_explain_when_nothing_can_go_first() -> None:
    rows = [ev(1, "invoke", "read", None), ev(1, "ok", "read", 5)]
    assert check_linearizable(rows, "register").explain() == "\n".join(
        [
            "Not linearizable. No operation can even go first.",
            "At the start the register is empty, and nothing can go next:",
            "  - p1 read -> 5: not possible, because the register is empty",
            "p1 read -> 5 (history[0] to history[1]) completed before it could be placed.",
        ]
    )


def test_explain_linearizable_counts_operations_and_parts() -> None:
    rows = [ev(p, t, "put", "v", key) for p, key in enumerate("abc") for t in ("invoke", "ok")]
    result = check_linearizable(rows, "kv")
    assert result.part_count == 3
    assert result.explain() == "Linearizable: all 3 operations fit in 3 independent parts."
    one = check_linearizable(rows[:2], "kv")
    assert one.part_count == 1 and one.explain() == "Linearizable: all 1 operations fit."


def test_explain_two_parts_and_the_defaults_of_a_result() -> None:
    rows = [ev(p, t, "put", "v", key) for p, key in enumerate("ab") for t in ("invoke", "ok")]
    result = check_linearizable(rows, "kv")
    assert result.explain() == "Linearizable: all 2 operations fit in 2 independent parts."
    bare = CheckResult(result.verdict, result.model, result.history, result.partitions)
    assert (bare.elapsed, bare.part_count, bare.skipped) == (0.0, 1, ())


def test_explain_a_failure_without_stuck_operations() -> None:
    # The search always names what could not go next; a hand-built result may not.
    rows = [ev(0, "invoke", "write", 1), ev(0, "ok", "write", 1)]
    result = check_linearizable(rows, "register")
    op = result.history.operations[0]
    for order, start in [
        ((op,), "after which the register holds 1."),
        ((), "At the start the register holds 1."),
    ]:
        part = PartitionResult(
            None,
            Verdict.NOT_LINEARIZABLE,
            (op,),
            order,
            1,
            final_state=result.partitions[0].final_state,
        )
        failed = CheckResult(Verdict.NOT_LINEARIZABLE, result.model, result.history, (part,))
        assert failed.explain().splitlines()[-1] == start


def test_why_an_operation_cannot_go_next() -> None:
    rows = [ev(0, "invoke", "write", 1), ev(0, "ok", "write", 1)]
    (op,) = History.from_events(rows).operations
    model = get_model("register")
    assert _why_not(model, model.init(), op) == (
        "possible next, but then the operations after it cannot all be placed"
    )
    read = History.from_events([ev(1, "invoke", "read", None), ev(1, "ok", "read", 2)])
    assert _why_not(model, model.init(), read.operations[0]) == (
        "not possible, because the register is empty"
    )


def test_explain_why_adds_the_diagnosis_to_a_failure_only() -> None:
    stale = [ev(0, "invoke", "write", 1), ev(0, "ok", "write", 1)]
    stale += [ev(1, "invoke", "read", None), ev(1, "ok", "read", None)]
    failed = check_linearizable(stale, "register")
    why = failed.explain(why=True)
    assert why.startswith(failed.explain() + "\n\n") and len(why) > len(failed.explain()) + 2
    fine = check_linearizable(stale[:2], "register")
    assert fine.explain(why=True) == fine.explain()


def test_explain_unknown_counts_configurations() -> None:
    result = check_linearizable(overlapping_puts("k", 9, "0"), "kv", max_steps=0)
    assert result.verdict is Verdict.UNKNOWN and result.configurations > 100
    assert f"({result.configurations} configurations explored)" in result.explain()
    # The partial order found so far is kept, for drawings.
    assert len(result.partitions[0].linearization) > 0


def test_the_key_of_a_part_is_shown_only_when_it_has_one() -> None:
    rows = [
        ev(0, "invoke", "put", "x", "k"),
        ev(0, "ok", "put", "x", "k"),
        ev(1, "invoke", "get", None, "k"),
        ev(1, "ok", "get", "y", "k"),
    ]
    result = check_linearizable(rows, "kv")
    assert result.failure is not None and result.failure.key == "k"
    assert result.explain().startswith("Not linearizable (key 'k'). ")
    register = check_linearizable(
        [ev(1, "invoke", "read", None), ev(1, "ok", "read", 5)], "register"
    )
    assert register.failure is not None and register.failure.key is None


# -- a user model whose state comes back to where it started ------------------------------


class Counter(Model[int]):
    """The counter of the models docstring: add n, read."""

    name = "counter"

    def init(self) -> int:
        return 0

    def step(self, state: int, op: Operation) -> tuple[bool, int]:
        if op.f == "add":
            return True, state + op.value
        return op.status != "ok" or op.output == state, state


def counter_history(read: int, concurrent: bool) -> list[dict[str, Any]]:
    if concurrent:  # add 1 and add -1 overlap the read
        return [
            ev(0, "invoke", "add", 1),
            ev(1, "invoke", "add", -1),
            ev(2, "invoke", "read", None),
            ev(2, "ok", "read", read),
            ev(0, "ok", "add", 1),
            ev(1, "ok", "add", -1),
        ]
    return [
        ev(0, "invoke", "add", 1),
        ev(0, "ok", "add", 1),
        ev(1, "invoke", "add", -1),
        ev(1, "ok", "add", -1),
        ev(2, "invoke", "read", None),
        ev(2, "ok", "read", read),
    ]


@pytest.mark.parametrize(
    "read, concurrent, linearizable",
    [
        (0, False, True),
        (1, False, False),
        (-1, False, False),
        (0, True, True),
        (1, True, True),
        (-1, True, True),
        (2, True, False),
    ],
)
def test_a_state_that_returns_to_its_initial_value(
    read: int, concurrent: bool, linearizable: bool
) -> None:
    result = check_linearizable(counter_history(read, concurrent), Counter())
    assert result.linearizable is linearizable
    if linearizable:
        (part,) = result.partitions
        assert len(part.linearization) == 3 and part.final_state == 0
    else:
        assert result.failure is not None


def test_a_state_back_at_its_start_does_not_hide_a_later_stale_read() -> None:
    # add 1, add -1, read 0 (fine), then add 5 and a read that still sees 0.
    rows = [
        *counter_history(0, False),
        ev(0, "invoke", "add", 5),
        ev(0, "ok", "add", 5),
        ev(2, "invoke", "read", None),
        ev(2, "ok", "read", 0),
    ]
    result = check_linearizable(rows, Counter())
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    failure = result.failure
    assert failure is not None and len(failure.linearization) == 4 and failure.final_state == 5
    assert failure.blocked_by is not None and failure.blocked_by.output == 0


# -- the search on its own ----------------------------------------------------------------


def test_a_history_of_only_unfinished_operations_is_linearizable_at_once() -> None:
    rows = [ev(0, "invoke", "write", 1), ev(0, "info", "write", 1)]
    outcome = search(History.from_events(rows).operations, get_model("register"))
    assert (outcome.verdict, outcome.order, outcome.configurations) == ("linearizable", [], 1)
    assert outcome.state == get_model("register").init()


def test_the_search_reports_its_steps_and_configurations_exactly() -> None:
    # Figures of the algorithm as written (Wing & Gong with Lowe's cache): a change to
    # the search that explores more or less shows here first.
    outcome = search(History.from_events(overlapping_puts("k", 6, "0")).operations, get_model("kv"))
    assert (outcome.verdict, outcome.steps, outcome.configurations) == ("linearizable", 176, 93)
    assert [op.value for op in outcome.order][-2:] == ["0", None]
    failing = search(History.from_events(overlapping_puts("k", 6, "z")).operations, get_model("kv"))
    assert (failing.verdict, failing.steps, failing.configurations) == (
        "not-linearizable",
        384,
        193,
    )
    assert len(failing.order) == 6 and len(failing.candidates) == 1


def test_reads_that_fit_are_placed_at_once_which_keeps_the_search_small() -> None:
    # Four overlapping puts and four overlapping gets, each get seeing a different put:
    # placing each get as soon as it fits finds the order with almost no search.
    rows = [ev(p, "invoke", "put", str(p), "k") for p in range(4)]
    rows += [ev(p, "invoke", "get", None, "k") for p in range(4, 8)]
    rows += [ev(p, "ok", "put", str(p), "k") for p in range(4)]
    rows += [ev(p, "ok", "get", str(p - 4), "k") for p in range(4, 8)]
    outcome = search(History.from_events(rows).operations, get_model("kv"))
    assert (outcome.verdict, outcome.steps, outcome.configurations) == ("linearizable", 4, 9)
    rows[-1] = ev(7, "ok", "get", "9", "k")
    outcome = search(History.from_events(rows).operations, get_model("kv"))
    assert (outcome.verdict, outcome.steps, outcome.configurations) == ("not-linearizable", 64, 57)


def test_a_read_already_placed_from_the_same_configuration_is_not_tried_again() -> None:
    # Writes of the same value reach one configuration by several orders; a read that fits
    # there was explored before, so the search backtracks at once (Lowe's cache).
    rows = [
        ev(6, "invoke", "read", None), ev(1, "invoke", "write", 1), ev(4, "invoke", "read", None),
        ev(3, "invoke", "write", 1), ev(1, "ok", "write", 1), ev(2, "invoke", "write", 1),
        ev(5, "invoke", "read", None), ev(0, "invoke", "read", None), ev(0, "ok", "read", 2),
        ev(4, "ok", "read", 2), ev(2, "ok", "write", 1), ev(3, "ok", "write", 1),
        ev(6, "ok", "read", 2), ev(5, "ok", "read", 1),
    ]  # fmt: skip
    outcome = search(History.from_events(rows).operations, get_model("register"))
    assert (outcome.verdict, outcome.steps, outcome.configurations) == ("not-linearizable", 12, 8)


def overlapping_writes(writers: int, read: int) -> list[Operation]:
    rows = [ev(p, "invoke", "write", p) for p in range(writers)]
    rows += [ev(p, "ok", "write", p) for p in range(writers)]
    rows += [ev(writers, "invoke", "read", None), ev(writers, "ok", "read", read)]
    return list(History.from_events(rows).operations)


@pytest.mark.parametrize(
    "writers, read, budget, stop",
    [(8, 999, 1000, 1), (9, 999, 1000, 1), (9, 0, 1000, 1), (11, 1, 1000, 1), (9, 999, 3000, 3),
     (10, 0, 3000, 3)],
)  # fmt: skip
def test_the_budget_stops_the_search_at_the_first_checkpoint_past_it(
    writers: int, read: int, budget: int, stop: int
) -> None:
    # Whether that checkpoint falls on a step forward or a step back (backtracking).
    outcome = search(overlapping_writes(writers, read), get_model("register"), max_steps=budget)
    assert (outcome.verdict, outcome.steps) == ("unknown", stop * CHECKPOINT)
    assert outcome.blocked_by is None and outcome.candidates == []
