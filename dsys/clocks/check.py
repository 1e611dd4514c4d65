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

Each returns a :class:`ClockCheck`: true when the condition holds, otherwise a list of
violations that name the two events, their timestamps and how one led to the other.

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
    >>> bool(result), result.events
    (True, 12)
    >>> print(result.explain())
    lamport: the clock condition (e → f ⇒ L(e) < L(f)) holds for 12 timestamped events
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from dsys.clocks.happens_before import HappensBefore
from dsys.clocks.timestamps import Stamped, read_timestamps
from dsys.trace.events import TraceEvent


@attrs.frozen
class Violation:
    """One broken promise: about trace events ``first`` and ``second``, in words."""

    first: int
    second: int
    text: str


@attrs.frozen
class ClockCheck:
    """The verdict of a clock checker.

    ``clock``: the layer name; ``condition``: what was checked; ``events``: how many
    timestamped events were judged; ``violations``: the first few found (at most the
    checker's ``limit``); ``total``: how many there were in all. True when there are none.
    """

    clock: str
    condition: str
    events: int
    violations: tuple[Violation, ...]
    total: int

    @property
    def ok(self) -> bool:
        """True if the condition holds."""
        return self.total == 0

    def __bool__(self) -> bool:
        return self.ok

    def explain(self) -> str:
        """A short report in words."""
        if self.ok:
            return f"{self.clock}: {self.condition} holds for {self.events} timestamped events"
        lines = [f"{self.clock}: {self.condition} is violated "
                 f"({self.total} violation{'s' if self.total != 1 else ''} "
                 f"among {self.events} timestamped events):"]
        lines += [f"  - {v.text}" for v in self.violations]
        if self.total > len(self.violations):
            lines.append(f"  ... and {self.total - len(self.violations)} more")
        return "\n".join(lines)


# ----- Lamport ---------------------------------------------------------------------------


def check_lamport(trace: Iterable[TraceEvent], clock: str = "lamport", *,
                  hb: HappensBefore | None = None, limit: int = 10) -> ClockCheck:
    """Check the clock condition ``e → f ⇒ L(e) < L(f)`` for the Lamport timestamps of
    the layer named ``clock``.

    Pass ``hb`` to reuse a relation already computed for the same trace.
    """
    events = list(trace)
    hb = hb or HappensBefore.from_trace(events)
    problems: list[Violation] = []
    stamps: dict[int, int] = {}
    for s in _stamps(events, clock, problems):
        if isinstance(s.value, int) and not isinstance(s.value, bool):
            stamps[s.index] = s.value
        else:
            problems.append(Violation(s.index, s.index,
                                      f"{hb.describe(s.index)} has timestamp {s.value!r}, "
                                      "which is not an integer"))
    problems += _clock_condition(hb, stamps, key=lambda v: v, show=str, name="L")
    return _result(clock, "the clock condition (e → f ⇒ L(e) < L(f))", len(stamps),
                   problems, limit)


def _clock_condition(hb: HappensBefore, stamps: dict[int, Any], *, key: Callable[[Any], Any],
                     show: Callable[[Any], str], name: str) -> list[Violation]:
    """Violations of ``e → f ⇒ key(e) < key(f)`` among the stamped events.

    One pass in causal order: ``latest[e]`` is the stamped event with the greatest key in
    the causal past of ``e``. Since ``<`` is transitive, the condition holds for every pair
    exactly when each stamped event's key exceeds that greatest key; a violation names
    the stamped ancestor with the greatest key as the witness.
    """
    latest: dict[int, int | None] = {}
    problems = []
    for event in hb.events:
        best: int | None = None
        for pred in hb.predecessors(event):
            for candidate in (pred if pred in stamps else None, latest[pred]):
                if candidate is not None and (
                        best is None or key(stamps[candidate]) > key(stamps[best])):
                    best = candidate
        if event in stamps and best is not None and not key(stamps[best]) < key(stamps[event]):
            problems.append(Violation(best, event, (
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
                 hb: HappensBefore | None = None, limit: int = 10) -> ClockCheck:
    """Check that vector timestamps characterise causality: for different timestamped
    events ``e`` and ``f``, ``e → f`` if and only if ``V(e) < V(f)``.

    This compares every pair of timestamped events (quadratic: fine for the few thousand
    events of a test run).
    """
    events = list(trace)
    hb = hb or HappensBefore.from_trace(events)
    problems: list[Violation] = []
    vectors: dict[int, dict[str, int]] = {}
    for s in _stamps(events, clock, problems):
        vector = _as_vector(s.value)
        if vector is None:
            problems.append(Violation(s.index, s.index,
                                      f"{hb.describe(s.index)} has timestamp {s.value!r}, "
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
                problems.append(Violation(a, b, (
                    f"{hb.describe(a)} and {hb.describe(b)} are different events with the "
                    f"same vector {_show_vector(vectors[a])}")))
                continue
            a_le_b = all(x <= y for x, y in zip(va, vb, strict=True))
            b_le_a = not a_le_b and all(y <= x for x, y in zip(va, vb, strict=True))
            for first, second, v_less in ((a, b, a_le_b), (b, a, b_le_a)):
                causal = hb.before(first, second)
                if causal and not v_less:
                    problems.append(Violation(first, second, (
                        f"{hb.describe(first)} happened before {hb.describe(second)} "
                        f"({_path_text(hb, first, second)}), but V(e{first}) = "
                        f"{_show_vector(vectors[first])} is not less than V(e{second}) = "
                        f"{_show_vector(vectors[second])}")))
                elif v_less and not causal:
                    problems.append(Violation(first, second, (
                        f"V(e{first}) = {_show_vector(vectors[first])} < V(e{second}) = "
                        f"{_show_vector(vectors[second])}, but {hb.describe(first)} did not "
                        f"happen before {hb.describe(second)}: "
                        + ("the reverse is true" if hb.before(second, first)
                           else "they are concurrent"))))
    return _result(clock, "the vector clock condition (e → f ⇔ V(e) < V(f))", len(vectors),
                   problems, limit)


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
              hb: HappensBefore | None = None, limit: int = 10) -> ClockCheck:
    """Check hybrid logical clock timestamps ``[l, c]``: the clock condition
    ``e → f ⇒ (l, c)(e) < (l, c)(f)`` (lexicographic), ``l >= pt`` at every receipt and
    local event, and, if ``epsilon`` is given, ``l - pt <= epsilon``.

    ``epsilon`` is in ticks of the layer's resolution: the largest difference between two
    node clocks during the run, divided by the resolution and rounded up.
    """
    events = list(trace)
    hb = hb or HappensBefore.from_trace(events)
    problems: list[Violation] = []
    stamps: dict[int, tuple[int, int]] = {}
    for s in _stamps(events, clock, problems):
        value = s.value
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in value)):
            problems.append(Violation(s.index, s.index, f"{hb.describe(s.index)} has "
                                      f"timestamp {value!r}, which is not [l, c]"))
            continue
        stamps[s.index] = (value[0], value[1])
        pt = s.note.get("pt") if s.note else None
        if isinstance(pt, int):
            if value[0] < pt:
                problems.append(Violation(s.index, s.index, (
                    f"{hb.describe(s.index)}: l = {value[0]} is behind the node's own "
                    f"physical clock pt = {pt}")))
            elif epsilon is not None and value[0] - pt > epsilon:
                problems.append(Violation(s.index, s.index, (
                    f"{hb.describe(s.index)}: l = {value[0]} is {value[0] - pt} ticks "
                    f"ahead of pt = {pt}, more than the clock skew bound ε = {epsilon}")))
    problems += _clock_condition(hb, stamps, key=lambda v: v,
                                 show=lambda v: f"(l={v[0]}, c={v[1]})", name="hlc")
    condition = "the clock condition (e → f ⇒ hlc(e) < hlc(f)) and pt <= l"
    if epsilon is not None:
        condition += f" <= pt + {epsilon}"
    return _result(clock, condition, len(stamps), problems, limit)


# ----- shared helpers ----------------------------------------------------------------------


def _stamps(events: list[TraceEvent], clock: str, problems: list[Violation]) -> list[Stamped]:
    """The timestamps of ``clock``; an event stamped twice is itself a violation."""
    seen: dict[int, Stamped] = {}
    for s in read_timestamps(events, clock):
        if s.index in seen:
            problems.append(Violation(s.index, s.index, (
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
    return (send.kind == "send" and deliver.kind == "deliver"
            and deliver.data.get("from") == send.node
            and deliver.data.get("id") == send.data.get("id"))


def _result(clock: str, condition: str, events: int, problems: list[Violation],
            limit: int) -> ClockCheck:
    return ClockCheck(clock, condition, events, tuple(problems[:limit]), len(problems))
