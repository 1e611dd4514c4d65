"""Checkers that judge logical timestamps against the happened-before relation of a run.

The clock layers record a timestamp for every send, receipt and local event (see
:mod:`dsys.clocks.timestamps`); :class:`~dsys.clocks.HappensBefore` computes from the same
trace which events happened before which. The checkers compare the two:

* :func:`check_lamport`: the **Clock Condition** (Lamport 1978, section "Logical
  Clocks"): for timestamped events ``e → f`` implies ``L(e) < L(f)``;
* :func:`check_vector`: vector timestamps **characterise** causality (Mattern 1989):
  ``e → f`` if and only if ``V(e) < V(f)``, so concurrent events have incomparable
  vectors, and different events have different vectors;
* :func:`check_hlc`: the clock condition for ``(l, c)`` compared lexicographically
  (Kulkarni et al. 2014), plus ``l >= pt`` at every event and, when given the
  clocks' maximum skew, ``l - pt <= ε``: HLC stays close to physical time.

Each returns a :class:`~dsys.check.Report`, the result type of every dsys checker: true
when the condition holds, otherwise every :class:`~dsys.check.Violation` found, each
naming the two events (``events``: their positions in the trace), their timestamps and how
one led to the other.

Example:
    >>> from dsys import Node, Simulation, message
    >>> from dsys.clocks import LamportLayer, check_lamport
    >>> @message(name="doc:Ball")
    ... class Ball:
    ...     hops: int
    >>> class Player(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.clock = self.add_layer(LamportLayer())
    ...     def on_start(self) -> None:
    ...         if self.id == "a":
    ...             self.send("b", Ball(0))
    ...     def on_message(self, src: str, msg: Ball) -> None:
    ...         if msg.hops < 5:
    ...             self.send(src, Ball(msg.hops + 1))
    >>> sim = Simulation(seed=3)
    >>> sim.add_node("a", Player)
    >>> sim.add_node("b", Player)
    >>> sim.run(until=1.0)
    >>> result = check_lamport(sim.trace)
    >>> bool(result), result.judged
    (True, 12)
    >>> print(result.explain())
    lamport clock condition (e → f ⇒ L(e) < L(f)): ok (12 timestamped events checked)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

from dsys.check.report import Report, Violation
from dsys.clocks.happens_before import HappensBefore
from dsys.clocks.timestamps import Stamped, read_timestamps
from dsys.trace.events import TraceEvent

#: A problem found while reading: the trace events it is about (one, or the two whose
#: timestamps disagree with causality) and what is wrong, in words; :func:`_report`
#: turns them into violations.
_Problem = tuple[tuple[int, ...], str]


# ----- Lamport ---------------------------------------------------------------------------


def check_lamport(trace: Iterable[TraceEvent], clock: str = "lamport", *,
                  hb: HappensBefore | None = None) -> Report:
    """Check the clock condition ``e → f ⇒ L(e) < L(f)`` for the Lamport timestamps of
    the layer named ``clock``.

    Pass ``hb`` to reuse a relation already computed for the same trace.
    """
    events = list(trace)
    hb = hb or HappensBefore.from_trace(events)
    problems: list[_Problem] = []
    stamps: dict[int, int] = {}
    for s in _stamps(events, clock, problems):
        if isinstance(s.value, int) and not isinstance(s.value, bool):
            stamps[s.index] = s.value
        else:
            problems.append(((s.index,), f"{hb.describe(s.index)} has timestamp {s.value!r}, "
                                         "which is not an integer"))
    problems += _clock_condition(hb, stamps, key=lambda v: v, show=str, name="L")
    return _report(hb, f"{clock} clock condition (e → f ⇒ L(e) < L(f))", len(stamps),
                   problems)


def _clock_condition(hb: HappensBefore, stamps: dict[int, Any], *, key: Callable[[Any], Any],
                     show: Callable[[Any], str], name: str) -> list[_Problem]:
    """Violations of ``e → f ⇒ key(e) < key(f)`` among the stamped events.

    One pass in causal order: ``latest[e]`` is the stamped event with the greatest key in
    the causal past of ``e``. Since ``<`` is transitive, the condition holds for every pair
    exactly when each stamped event's key exceeds that greatest key; a violation names
    the stamped ancestor with the greatest key as the witness.
    """
    latest: dict[int, int | None] = {}
    problems: list[_Problem] = []
    for event in hb.events:
        best: int | None = None
        for pred in hb.predecessors(event):
            for candidate in (pred if pred in stamps else None, latest[pred]):
                if candidate is not None and (
                        best is None or key(stamps[candidate]) > key(stamps[best])):
                    best = candidate
        if event in stamps and best is not None and not key(stamps[best]) < key(stamps[event]):
            problems.append(((best, event), (
                f"{hb.describe(best)} happened before {hb.describe(event)} "
                f"({_path_text(hb, best, event)}), but {name}(e{best}) = "
                f"{show(stamps[best])} is not less than {name}(e{event}) = "
                f"{show(stamps[event])}")))
        # Along a chain the witness only grows: remember the best of the two.
        if event in stamps and (best is None or key(stamps[event]) > key(stamps[best])):
            best = event
        latest[event] = best
    return problems


# ----- vector clocks -------------------------------------------------------------------------


def check_vector(trace: Iterable[TraceEvent], clock: str = "vector", *,
                 hb: HappensBefore | None = None) -> Report:
    """Check that vector timestamps characterise causality: for different timestamped
    events ``e`` and ``f``, ``e → f`` if and only if ``V(e) < V(f)``.

    This compares every pair of timestamped events (quadratic: fine for the few thousand
    events of a test run).
    """
    events = list(trace)
    hb = hb or HappensBefore.from_trace(events)
    problems: list[_Problem] = []
    vectors: dict[int, dict[str, int]] = {}
    for s in _stamps(events, clock, problems):
        vector = _as_vector(s.value)
        if vector is None:
            problems.append(((s.index,), f"{hb.describe(s.index)} has timestamp {s.value!r}, "
                                         "which is not a vector of node -> non-negative int"))
        else:
            vectors[s.index] = vector
    # Dense tuples over every node seen make each comparison a plain zip.
    nodes = sorted({node for v in vectors.values() for node in v})
    dense = {i: tuple(v.get(n, 0) for n in nodes) for i, v in vectors.items()}
    stamped = sorted(dense)
    for a_pos, a in enumerate(stamped):
        va = dense[a]
        for b in stamped[a_pos + 1:]:
            vb = dense[b]
            if va == vb:
                problems.append(((a, b), (
                    f"{hb.describe(a)} and {hb.describe(b)} are different events with the "
                    f"same vector {_show_vector(vectors[a])}")))
                continue
            a_le_b = all(x <= y for x, y in zip(va, vb, strict=True))
            b_le_a = not a_le_b and all(y <= x for x, y in zip(va, vb, strict=True))
            for first, second, v_less in ((a, b, a_le_b), (b, a, b_le_a)):
                causal = hb.before(first, second)
                if causal and not v_less:
                    problems.append(((first, second), (
                        f"{hb.describe(first)} happened before {hb.describe(second)} "
                        f"({_path_text(hb, first, second)}), but V(e{first}) = "
                        f"{_show_vector(vectors[first])} is not less than V(e{second}) = "
                        f"{_show_vector(vectors[second])}")))
                elif v_less and not causal:
                    problems.append(((first, second), (
                        f"V(e{first}) = {_show_vector(vectors[first])} < V(e{second}) = "
                        f"{_show_vector(vectors[second])}, but {hb.describe(first)} did not "
                        f"happen before {hb.describe(second)}: "
                        + ("the reverse is true" if hb.before(second, first)
                           else "they are concurrent"))))
    return _report(hb, f"{clock} clock condition (e → f ⇔ V(e) < V(f))", len(vectors),
                   problems)


def _as_vector(value: Any) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    for node, count in value.items():
        if (not isinstance(node, str) or isinstance(count, bool)
                or not isinstance(count, int) or count < 0):
            return None
    return {node: count for node, count in value.items() if count}


def _show_vector(vector: dict[str, int]) -> str:
    return "[" + ", ".join(f"{n}={c}" for n, c in sorted(vector.items())) + "]"


# ----- hybrid logical clocks ----------------------------------------------------------------


def check_hlc(trace: Iterable[TraceEvent], clock: str = "hlc", *, epsilon: int | None = None,
              hb: HappensBefore | None = None) -> Report:
    """Check hybrid logical clock timestamps ``[l, c]``: the clock condition
    ``e → f ⇒ (l, c)(e) < (l, c)(f)`` (lexicographic), ``l >= pt`` at every receipt and
    local event, and, if ``epsilon`` is given, ``l - pt <= epsilon``.

    ``epsilon`` is in ticks of the layer's resolution: the largest difference between two
    node clocks during the run, divided by the resolution and rounded up.
    """
    events = list(trace)
    hb = hb or HappensBefore.from_trace(events)
    problems: list[_Problem] = []
    stamps: dict[int, tuple[int, int]] = {}
    for s in _stamps(events, clock, problems):
        value = s.value
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in value)):
            problems.append(((s.index,), f"{hb.describe(s.index)} has "
                                         f"timestamp {value!r}, which is not [l, c]"))
            continue
        stamps[s.index] = (value[0], value[1])
        pt = s.note.get("pt") if s.note else None
        if isinstance(pt, int):
            if value[0] < pt:
                problems.append(((s.index,), (
                    f"{hb.describe(s.index)}: l = {value[0]} is behind the node's own "
                    f"physical clock pt = {pt}")))
            elif epsilon is not None and value[0] - pt > epsilon:
                problems.append(((s.index,), (
                    f"{hb.describe(s.index)}: l = {value[0]} is {value[0] - pt} ticks "
                    f"ahead of pt = {pt}, more than the clock skew bound ε = {epsilon}")))
    problems += _clock_condition(hb, stamps, key=lambda v: v,
                                 show=lambda v: f"(l={v[0]}, c={v[1]})", name="hlc")
    condition = f"{clock} clock condition (e → f ⇒ hlc(e) < hlc(f)) and pt <= l"
    if epsilon is not None:
        condition += f" <= pt + {epsilon}"
    return _report(hb, condition, len(stamps), problems)


# ----- shared helpers ----------------------------------------------------------------------


def _stamps(events: list[TraceEvent], clock: str, problems: list[_Problem]) -> list[Stamped]:
    """The timestamps of ``clock``; an event stamped twice is itself a violation."""
    seen: dict[int, Stamped] = {}
    for s in read_timestamps(events, clock):
        if s.index in seen:
            problems.append(((s.index,), (
                f"event e{s.index} on {s.node} has two {clock} timestamps "
                f"({seen[s.index].value!r} and {s.value!r}); a layer must note each "
                "receipt once")))
        else:
            seen[s.index] = s
    return list(seen.values())


def _path_text(hb: HappensBefore, first: int, second: int) -> str:
    """How ``first`` led to ``second``: the endpoints and the message hops between."""
    path = hb.path(first, second)
    if len(path) == 2:
        return "one step"
    hops = [first]
    for p, q in itertools.pairwise(path):
        if _is_message_step(hb.event(p), hb.event(q)):
            hops += [e for e in (p, q) if e != hops[-1]]
    if hops[-1] != second:
        hops.append(second)
    return "causal path " + " → ".join(f"e{e}" for e in hops)


def _is_message_step(send: TraceEvent, deliver: TraceEvent) -> bool:
    return (send.kind == "send" and deliver.kind == "recv"
            and deliver.data.get("from") == send.node
            and deliver.data.get("id") == send.data.get("id"))


def _report(hb: HappensBefore, condition: str, judged: int, problems: list[_Problem]
            ) -> Report:
    """The shared :class:`~dsys.check.Report`: each problem becomes a violation seen at the
    time of its latest event, naming the nodes of its events."""
    violations = []
    for indices, text in problems:
        involved = [hb.event(i) for i in indices]
        nodes = tuple(dict.fromkeys(e.node for e in involved))
        violations.append(Violation(max(e.time for e in involved), nodes, text, indices))
    return Report(condition, tuple(violations), judged, "timestamped events")
