"""Is a run a function of its seed? Comparing two runs of one seed, and saying why not.

A graded run must depend on nothing but the code and the seed: that is what makes the
replay command of a failure replay it. The grader checks it (see :func:`dsys.labs.grade`)
by running one seed of every test twice, in the same process and in a fresh process under
another ``PYTHONHASHSEED``, and comparing the two traces. This module compares them and
writes the failure message: the likely causes, and the first event where the runs part.

A run is given as its traces (one per simulation the test built), each a sequence of the
canonical JSON lines of its events (:meth:`dsys.Trace.lines`).

Example:
    >>> from dsys.trace import Trace, TraceEvent
    >>> one = [tuple(Trace([TraceEvent(0.0, "a", "log", {"text": "x"})]).lines())]
    >>> two = [tuple(Trace([TraceEvent(0.0, "a", "log", {"text": "y"})]).lines())]
    >>> print(first_difference(one, two))
    Difference(simulation=0, index=0, first='log x', second='log y')
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import attrs

from dsys.trace.events import TraceEvent, format_events

#: What makes a run depend on more than its seed, in the words a failure message uses.
CAUSES = (
    "the global `random` module (random.random(), random.choice(), random.shuffle()): "
    "use self.rng, which the simulation seeds",
    "the wall clock (time.time(), time.monotonic(), datetime.now()): use self.now, the "
    "simulated clock",
    "iterating over a set of strings (or anything built from one) where the order "
    "matters: its order changes from one process to the next; sort it, or keep a list or "
    "a dict (which keep insertion order)",
    "id() or hash() of objects (ordering by id(), a repr such as <Node object at 0x...> "
    "in a message or a log line)",
    "state kept outside the nodes, which the next run inherits: a module-level variable, "
    "or a class attribute such as `queue = []` shared by every instance",
)

#: How many events before the first difference a failure report shows.
CONTEXT_EVENTS = 8

Traces = Sequence[Sequence[str]]


@attrs.frozen
class Difference:
    """Where two runs part: event ``index`` of simulation ``simulation`` (0-based), and
    that event in each run (``None``: the run had no more events, or no such simulation)."""

    simulation: int
    index: int
    first: str | None
    second: str | None


def first_difference(first: Traces, second: Traces) -> Difference | None:
    """The first event where two runs differ, or None if their traces are the same."""
    for number in range(max(len(first), len(second))):
        one = first[number] if number < len(first) else ()
        two = second[number] if number < len(second) else ()
        for index in range(max(len(one), len(two))):
            a = one[index] if index < len(one) else None
            b = two[index] if index < len(two) else None
            if a != b:
                return Difference(number, index, _brief(a), _brief(b))
    return None


def _event(line: str) -> TraceEvent:
    raw = json.loads(line)
    return TraceEvent(float(raw["time"]), str(raw["node"]), str(raw["kind"]),
                      dict(raw.get("data") or {}))


def _brief(line: str | None) -> str | None:
    if line is None:
        return None
    event = _event(line)
    return f"{event.kind} {event.describe()}"


def _shown(line: str | None) -> str:
    return "(the run ended here)" if line is None else format_events([_event(line)]).strip()


def explain(first: Traces, second: Traces, *, how: str, seed: int,
            first_failed: str | None, second_failed: str | None) -> tuple[str, str]:
    """The failure message and the trace excerpt for two runs of ``seed`` that differ.

    ``how`` says how the second run was made ("run twice in one process"...);
    ``first_failed`` and ``second_failed`` are each run's failure headline (None: passed).
    """
    lines = [
        f"not deterministic: seed {seed} gave two different runs ({how}). A run must depend "
        "only on its seed, or its replay command would replay something else. The likely "
        "causes, in your code:"
    ]
    lines += [f"  - {cause}" for cause in CAUSES]
    difference = first_difference(first, second)
    excerpt = ""
    if difference is None:
        lines.append("The two traces are the same, but the outcome differs: the first run "
                     f"{_verdict(first_failed)}, the second {_verdict(second_failed)}.")
    else:
        where = f"event #{difference.index}"
        if max(len(first), len(second)) > 1:
            where += f" of simulation #{difference.simulation}"
        lines.append(f"The runs first differ at {where}:")
        lines.append(f"  first run:  {_shown(_line(first, difference))}")
        lines.append(f"  second run: {_shown(_line(second, difference))}")
        if first_failed != second_failed:
            lines.append(f"(The first run {_verdict(first_failed)}; the second "
                         f"{_verdict(second_failed)}.)")
        elif first_failed is not None:
            lines.append(f"(Both runs failed: {first_failed})")
        events = first[difference.simulation] if difference.simulation < len(first) else ()
        before = events[max(0, difference.index - CONTEXT_EVENTS):difference.index]
        excerpt = format_events(_event(line) for line in before)
    return "\n".join(lines), excerpt


def _line(traces: Traces, difference: Difference) -> str | None:
    if difference.simulation >= len(traces):
        return None
    events = traces[difference.simulation]
    return events[difference.index] if difference.index < len(events) else None


def _verdict(failed: str | None) -> str:
    return "passed" if failed is None else f"failed ({failed})"
