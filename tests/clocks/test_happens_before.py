"""The happens-before oracle, checked two independent ways: against vector clocks computed
by the textbook algorithm while generating random traces (every event ticks, so vectors
characterise causality exactly), and against a breadth-first search over the steps."""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsys.clocks import HappensBefore, LamportLayer
from dsys.trace import Trace, TraceEvent
from tests.clocks.workload import random_run

NODES = ["a", "b", "c"]


@st.composite
def traces(draw: st.DrawFn) -> tuple[list[TraceEvent], list[dict[str, int]]]:
    """A random trace of local events, sends and (possibly duplicated, reordered, or
    missing) deliveries, with the reference vector of each event."""
    clocks = {n: {m: 0 for m in NODES} for n in NODES}
    in_flight: list[tuple[int, str, str, dict[str, int]]] = []  # id, src, dst, vector
    events: list[TraceEvent] = []
    vectors: list[dict[str, int]] = []
    next_id = 0
    for step in range(draw(st.integers(1, 40))):
        node = draw(st.sampled_from(NODES))
        action = draw(st.sampled_from(["local", "send", "recv", "global"]))
        if action == "global":  # a partition: nobody's event
            events.append(TraceEvent(step, "", "partition", {"groups": []}))
            vectors.append({})
            continue
        clock = clocks[node]
        if action == "recv" and in_flight:
            mid, src, dst, carried = draw(st.sampled_from(in_flight))
            if draw(st.booleans()):  # else: stays in flight, may be delivered again
                in_flight.remove((mid, src, dst, carried))
            node, clock = dst, clocks[dst]
            for m in NODES:
                clock[m] = max(clock[m], carried[m])
            clock[node] += 1
            events.append(TraceEvent(step, node, "recv", {"from": src, "id": mid}))
        elif action == "send":
            clock[node] += 1
            next_id += 1
            dst = draw(st.sampled_from(NODES))
            in_flight.append((next_id, node, dst, dict(clock)))
            events.append(TraceEvent(step, node, "send", {"to": dst, "id": next_id}))
        else:
            clock[node] += 1
            events.append(TraceEvent(step, node, "log", {"text": "local"}))
        vectors.append(dict(clock))
    return events, vectors


def less(u: dict[str, int], v: dict[str, int]) -> bool:
    return all(u[n] <= v[n] for n in NODES) and u != v


@settings(max_examples=300, deadline=None)
@given(traces())
def test_oracle_agrees_with_vector_clocks_on_random_traces(
    generated: tuple[list[TraceEvent], list[dict[str, int]]]
) -> None:
    events, vectors = generated
    hb = HappensBefore.from_trace(events)
    node_events = [i for i, e in enumerate(events) if e.node]
    assert hb.events == tuple(node_events)
    for i in node_events:
        for j in node_events:
            assert hb.before(i, j) == less(vectors[i], vectors[j]), (i, j)
            assert hb.concurrent(i, j) == (i != j and not less(vectors[i], vectors[j])
                                           and not less(vectors[j], vectors[i]))


def reachable(events: list[TraceEvent], start: int) -> set[int]:
    """Events reachable from ``start`` by direct steps, by breadth-first search."""
    successors: dict[int, list[int]] = {i: [] for i, e in enumerate(events) if e.node}
    last: dict[str, int] = {}
    sends: dict[tuple[str, Any], int] = {}
    for i, e in enumerate(events):
        if not e.node:
            continue
        if e.node in last:
            successors[last[e.node]].append(i)
        last[e.node] = i
        if e.kind == "send":
            sends[(e.node, e.data["id"])] = i
        elif e.kind == "recv" and (e.data["from"], e.data["id"]) in sends:
            successors[sends[(e.data["from"], e.data["id"])]].append(i)
    seen: set[int] = set()
    queue = deque(successors[start])
    while queue:
        i = queue.popleft()
        if i not in seen:
            seen.add(i)
            queue.extend(successors[i])
    return seen


@pytest.mark.parametrize("seed", range(6))
def test_oracle_agrees_with_search_on_simulated_runs(seed: int) -> None:
    events = list(random_run(seed, [LamportLayer], steps=5).trace)
    hb = HappensBefore.from_trace(events)
    for i in hb.events:
        after = reachable(events, i)
        assert {j for j in hb.events if hb.before(i, j)} == after
        # Paths are made of direct steps and join the two events.
        for j in sorted(after)[:5]:
            path = hb.path(i, j)
            assert path[0] == i and path[-1] == j
            assert all(p in hb.predecessors(q) for p, q in itertools.pairwise(path))
        assert set(hb.past(i)) == {j for j in hb.events if hb.before(j, i)}


def test_a_delivery_before_its_send_is_reported() -> None:
    events = [TraceEvent(0.0, "b", "recv", {"from": "a", "id": 1}),
              TraceEvent(0.1, "a", "send", {"to": "b", "id": 1})]
    with pytest.raises(ValueError, match="before it is sent"):
        HappensBefore.from_trace(events)


def test_global_events_are_not_events_of_the_relation() -> None:
    hb = HappensBefore.from_trace(Trace([TraceEvent(0.0, "", "heal", {}),
                                         TraceEvent(0.0, "a", "log", {"text": "x"})]))
    assert hb.events == (1,) and len(hb) == 1
    assert hb.path(1, 1) == [] and not hb.concurrent(1, 1)
    with pytest.raises(KeyError):
        hb.before(0, 1)
    assert hb.describe(1) == "e1 (a: x)"
