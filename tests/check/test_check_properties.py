"""Property tests: the checker against histories whose answer is known by construction,
and against a brute-force search on small ones."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsys.check import History, Verdict, check_linearizable
from tests.check.lin_reference import (
    FUNCTIONS,
    apply,
    brute_force_linearizable,
    is_valid_linearization,
)

MODELS = sorted(FUNCTIONS)
# How an operation ends: completes normally, fails without effect, times out after taking
# effect, times out without taking effect, or never completes (with or without effect).
FATES = ["ok", "ok", "ok", "fail", "info-applied", "info-lost", "open-applied", "open-lost"]


def _value(draw: st.DrawFn, model: str, f: str) -> Any:
    if f in ("read", "get"):
        return None
    if model == "kv":
        return draw(st.sampled_from(["a", "b", "c"]))
    if f == "cas":
        return [draw(st.sampled_from([None, 1, 2])), draw(st.integers(1, 2))]
    return draw(st.integers(1, 3))


@st.composite
def sequential_histories(
    draw: st.DrawFn, model: str, max_ops: int, keyed: bool
) -> list[dict[str, Any]]:
    """Run random operations one at a time on a sequential object, then blur the timing.

    Operation k takes effect at time 10k; its invoke is drawn at or before that and its
    completion at or after, so intervals overlap at random but the true order stays a
    valid linearization. Processes are then assigned so each does one thing at a time.
    """
    count = draw(st.integers(1, max_ops))
    state: dict[Any, Any] = {}
    ops = []
    for k in range(count):
        f = draw(st.sampled_from(FUNCTIONS[model]))
        key = draw(st.sampled_from(["x", "y"])) if keyed else None
        value = _value(draw, model, f)
        fate = draw(st.sampled_from(FATES))
        point = 10 * k
        # The odd offsets keep an invoke and a completion from ever sharing a time.
        invoke = point - 10 * draw(st.integers(0, 5)) - 3
        complete = point + 10 * draw(st.integers(0, 5)) + 3
        status, output = "ok", value
        if fate in ("ok", "info-applied", "open-applied") or (fate == "fail" and f == "cas"):
            result, worked = apply(model, state, f, key, tuple(value) if f == "cas" else value)
            if f in ("read", "get"):
                output = result
            elif f == "cas":
                status = "ok" if worked else "fail"  # a cas that found another value
        else:
            status = "fail"  # did not happen
        if fate.startswith(("info", "open")):
            status = "info"
        ops.append(
            {
                "f": f,
                "key": key,
                "value": value,
                "output": output,
                "status": status,
                "invoke": invoke,
                "complete": None if fate.startswith("open") else complete,
            }
        )
    return _to_events(ops, keyed)


def _to_events(ops: list[dict[str, Any]], keyed: bool) -> list[dict[str, Any]]:
    # Give each op a process that is idle by its invoke; an op that never completes keeps
    # its process busy for good, as in Jepsen.
    busy_until: list[float] = []
    events = []
    for op in sorted(ops, key=lambda o: o["invoke"]):
        process = next(
            (p for p, until in enumerate(busy_until) if until < op["invoke"]), len(busy_until)
        )
        if process == len(busy_until):
            busy_until.append(0)
        busy_until[process] = float("inf") if op["complete"] is None else op["complete"]
        base = {"process": process, "f": op["f"]}
        if keyed:
            base["key"] = op["key"]
        events.append(dict(base, type="invoke", value=op["value"], time=op["invoke"]))
        if op["complete"] is not None:
            done = op["output"] if op["status"] == "ok" else op["value"]
            events.append(dict(base, type=op["status"], value=done, time=op["complete"]))
    events.sort(key=lambda e: e["time"])
    return events


@st.composite
def corrupted(draw: st.DrawFn, events: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    """Change one completion: a read's result, a cas's outcome, or a write's value."""
    completions = [i for i, e in enumerate(events) if e["type"] in ("ok", "fail")]
    if not completions:
        return events
    events = [dict(e) for e in events]
    target = events[draw(st.sampled_from(completions))]
    if target["f"] in ("read", "get"):
        choices = ["", "a", "b", "ab"] if model == "kv" else [None, 1, 2, 3]
        target["value"] = draw(st.sampled_from([c for c in choices if c != target["value"]]))
    elif target["f"] == "cas":
        target["type"] = "fail" if target["type"] == "ok" else "ok"
    else:
        target["type"] = "fail" if target["type"] == "ok" else "ok"
    return events


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), model=st.sampled_from(MODELS), keyed=st.booleans())
def test_histories_of_a_sequential_object_are_linearizable(
    data: st.DataObject, model: str, keyed: bool
) -> None:
    events = data.draw(sequential_histories(model, max_ops=40, keyed=keyed))
    history = History.from_events(events)
    result = check_linearizable(history, model, timeout=30)
    assert result.verdict is Verdict.LINEARIZABLE, result.explain()
    # The witness itself must be a linearization, checked by the independent reference.
    for part in result.partitions:
        same_part = [op for op in history if op.key == part.key] if keyed else list(history)
        assert is_valid_linearization(model, part.linearization, same_part)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), model=st.sampled_from(MODELS), keyed=st.booleans(), bad=st.booleans())
def test_agrees_with_brute_force_on_small_histories(
    data: st.DataObject, model: str, keyed: bool, bad: bool
) -> None:
    events = data.draw(sequential_histories(model, max_ops=8, keyed=keyed))
    if bad:
        events = data.draw(corrupted(events, model))
    history = History.from_events(events)
    expected = brute_force_linearizable(model, history.operations)
    result = check_linearizable(history, model, timeout=30)
    assert result.linearizable == expected, (expected, result.explain(), events)
    if not expected:
        assert result.verdict is Verdict.NOT_LINEARIZABLE
        failure = result.failure
        assert failure is not None
        assert failure.stuck or failure.blocked_by is not None


def test_corruption_finds_non_linearizable_histories() -> None:
    """Guard the test above: its corrupted histories must include failing ones."""
    seen = set()

    @settings(max_examples=80, deadline=None, database=None)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        events = data.draw(
            corrupted(data.draw(sequential_histories("cas-register", 6, False)), "cas-register")
        )
        seen.add(brute_force_linearizable("cas-register", History.from_events(events).operations))

    run()
    assert seen == {True, False}
