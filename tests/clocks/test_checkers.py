"""The clock checkers: correct clocks pass on many random runs (random topologies and
message patterns, loss, duplication, reordering, skewed clocks), broken clocks are
caught, and every violation names its events and timestamps."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsys import Layer
from dsys.check import Report, Violation
from dsys.clocks import (
    HappensBefore,
    HLCLayer,
    LamportLayer,
    VectorClockLayer,
    check_hlc,
    check_lamport,
    check_vector,
)
from dsys.trace import TraceEvent
from tests.clocks.test_happens_before import traces
from tests.clocks.workload import (
    ForgetfulLamport,
    LazyVector,
    NonMergingVector,
    PhysicalOnlyHLC,
    random_run,
)

SEEDS = range(40)
CORRECT: list[Callable[[], Layer]] = [LamportLayer, VectorClockLayer, HLCLayer]
# Node clocks in random_run(clocks=True): offsets within ±50 ms, drift within ±1e-3, for
# 2 s: two clocks are at most 0.1 + 2 * 2e-3 s apart, i.e. 104 ticks of 1 ms (+1 for the
# rounding down of pt).
EPSILON = 105


@pytest.mark.parametrize("seed", SEEDS)
def test_correct_clocks_pass_on_random_runs(seed: int) -> None:
    sim = random_run(seed, CORRECT, clocks=True)
    hb = HappensBefore.from_trace(sim.trace)
    for result in (check_lamport(sim.trace, hb=hb), check_vector(sim.trace, hb=hb),
                   check_hlc(sim.trace, hb=hb, epsilon=EPSILON)):
        assert result, result.explain()
        assert result.judged > 10  # the run really exercised the clock


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), nodes=st.integers(2, 6), duplicate=st.floats(0, 0.5),
       reorder=st.floats(0, 1), drop=st.floats(0, 0.3), steps=st.integers(1, 20))
def test_correct_clocks_pass_under_any_network(seed: int, nodes: int, duplicate: float,
                                               reorder: float, drop: float, steps: int) -> None:
    sim = random_run(seed, CORRECT, nodes=nodes, duplicate=duplicate, reorder=reorder,
                     drop=drop, steps=steps, clocks=True)
    hb = HappensBefore.from_trace(sim.trace)
    assert check_lamport(sim.trace, hb=hb)
    assert check_vector(sim.trace, hb=hb)
    assert check_hlc(sim.trace, hb=hb, epsilon=EPSILON)


@pytest.mark.parametrize("seed", range(10))
def test_a_persisted_lamport_clock_survives_crashes(seed: int) -> None:
    def durable() -> Layer:
        return LamportLayer(persist=True)

    sim = random_run(seed, [durable], crashes=True)
    assert any(e.kind == "restart" for e in sim.trace)
    result = check_lamport(sim.trace)
    assert result, result.explain()


@pytest.mark.soak
@pytest.mark.parametrize("chunk", range(10))
def test_soak_correct_clocks_pass_and_broken_ones_fail(chunk: int) -> None:
    for seed in range(1000 + 50 * chunk, 1050 + 50 * chunk):
        sim = random_run(seed, CORRECT, clocks=True, steps=20)
        hb = HappensBefore.from_trace(sim.trace)
        assert check_lamport(sim.trace, hb=hb), seed
        assert check_vector(sim.trace, hb=hb), seed
        assert check_hlc(sim.trace, hb=hb, epsilon=EPSILON), seed
        broken = random_run(seed, [ForgetfulLamport, NonMergingVector], steps=20).trace
        assert not check_lamport(broken) and not check_vector(broken), seed


def test_the_random_runs_vary_in_shape_and_suffer_faults() -> None:
    runs = [random_run(seed, [LamportLayer]) for seed in range(10)]
    stats = [sim.statistics() for sim in runs]
    assert len({len(sim.node_ids) for sim in runs}) >= 3
    assert sum(s.duplicated > 0 for s in stats) >= 5 and sum(s.dropped > 0 for s in stats) >= 5
    assert any(e.kind == "send" and e.data["to"] == e.node for sim in runs for e in sim.trace)


@pytest.mark.parametrize(("broken", "check"), [
    (ForgetfulLamport, check_lamport),
    (NonMergingVector, check_vector),
    (LazyVector, check_vector),
    (PhysicalOnlyHLC, check_hlc),
], ids=["lamport-without-max", "vector-without-merge", "vector-without-tick",
        "hlc-ignoring-messages"])
def test_broken_clocks_are_caught_on_every_random_run(
    broken: Callable[[], Layer], check: Callable[..., object]
) -> None:
    missed = [seed for seed in range(20)
              if check(random_run(seed, [broken], clocks=True).trace)]
    assert missed == []


def test_a_violation_names_both_events_their_timestamps_and_the_causal_path() -> None:
    sim = random_run(1, [ForgetfulLamport], clocks=True)
    result = check_lamport(sim.trace)
    assert isinstance(result, Report) and not result and len(result.violations) > 3
    v = result.violations[0]
    assert isinstance(v, Violation)
    text = v.text
    e1, e2 = v.events
    first, second = sim.trace[e1], sim.trace[e2]
    assert f"e{e1} ({first.node}: {first.describe()})" in text
    assert f"e{e2} ({second.node}: {second.describe()})" in text
    assert v.time == second.time and v.nodes == tuple(dict.fromkeys((first.node, second.node)))
    stamps = re.findall(r"L\(e(\d+)\) = (\d+)", text)
    assert [int(e) for e, _ in stamps] == [e1, e2]
    assert int(stamps[0][1]) >= int(stamps[1][1])
    assert HappensBefore.from_trace(sim.trace).before(e1, e2)
    explained = result.explain(limit=3)
    assert explained.startswith("lamport clock condition (e → f ⇒ L(e) < L(f)): "
                                f"{len(result.violations)} violation(s)")
    assert f"... and {len(result.violations) - 3} more" in explained


def test_vector_violations_say_which_way_the_vectors_lie() -> None:
    result = check_vector(random_run(0, [LazyVector]).trace)
    texts = [v.text for v in result.violations]
    assert any("they are concurrent" in t for t in texts)
    assert any("is not less than" in t for t in texts) or any("same vector" in t for t in texts)


def test_hlc_skew_bound_is_checked() -> None:
    trace = random_run(3, [HLCLayer], clocks=True).trace
    assert check_hlc(trace, epsilon=EPSILON)
    tight = check_hlc(trace, epsilon=0)
    assert not tight and "more than the clock skew bound ε = 0" in tight.violations[0].text


# ----- the checkers on synthetic traces with known answers ---------------------------------


def stamp(events: list[TraceEvent], values: list[object], clock: str) -> list[TraceEvent]:
    """Put ``values`` into a trace the way the layers do: stamps on sends, notes after
    deliveries and as local events."""
    out = []
    for event, value in zip(events, values, strict=True):
        if event.kind == "send":
            out.append(TraceEvent(event.time, event.node, "send",
                                  {**event.data, "stamps": {clock: value}}))
        elif event.kind == "recv":
            out += [event, TraceEvent(event.time, event.node, "note", {
                "event": "timestamp", "clock": clock, "on": "receive",
                "from": event.data["from"], "value": value})]
        elif event.node:
            out.append(TraceEvent(event.time, event.node, "note", {
                "event": "timestamp", "clock": clock, "on": "local", "what": "",
                "value": value}))
        else:
            out.append(event)
    return out


@settings(max_examples=150, deadline=None)
@given(traces())
def test_reference_timestamps_pass_and_flattened_ones_fail(
    generated: tuple[list[TraceEvent], list[dict[str, int]]]
) -> None:
    events, vectors = generated
    # The reference vectors characterise causality; their sums are Lamport timestamps.
    assert check_vector(stamp(events, vectors, "vector"))
    assert check_lamport(stamp(events, [sum(v.values()) for v in vectors], "lamport"))
    # A clock stuck at one value breaks both as soon as one event happened before another.
    hb = HappensBefore.from_trace(events)
    causal = any(hb.before(i, j) for i in hb.events for j in hb.events)
    assert bool(check_lamport(stamp(events, [1] * len(events), "lamport"))) is not causal
    distinct = len(hb.events) > 1
    assert bool(check_vector(stamp(events, [{"a": 1}] * len(events), "vector"))) is not distinct


def test_malformed_timestamps_are_violations_not_crashes() -> None:
    events = [TraceEvent(0.0, "a", "send", {"to": "b", "id": 1, "stamps": {
        "lamport": "x", "vector": {"a": -1}, "hlc": [1]}})]
    for check in (check_lamport, check_vector, check_hlc):
        result = check(events)
        assert not result and "which is not" in result.violations[0].text
