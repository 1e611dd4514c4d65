"""Checkers for consensus, read from the trace notes of :mod:`dsys.paxos`.

* :func:`check_agreement`: no two learners learn different values for one slot;
* :func:`check_validity`: every learned value was proposed before it was learned (or is
  the no-op a Multi-Paxos leader fills gaps with);
* :func:`check_stability`: a learned value never changes (no learner learns a second value
  for a slot, even after a restart), and, given the number of acceptors, once a majority
  accepted a value in some ballot (it is *chosen*) no acceptor accepts another value for
  that slot in a higher ballot: Paxos Made Simple's P2b, which breaks before agreement does.

The notes (``data`` of trace events of kind ``"note"``): ``propose`` (``value``), ``accept``
(``slot``, ``ballot``, ``value``) and ``learn`` (``slot``, ``value``). Values are compared
as JSON, so a command may be any JSON value. Each checker returns the one
:class:`~dsys.check.Report` type, and judges any consensus protocol that writes those notes.

Example:
    >>> from dsys.trace.events import Trace, TraceEvent
    >>> def note(time, node, event, **data):
    ...     return TraceEvent(time, node, "note", {"event": event, **data})
    >>> trace = Trace([note(0.1, "s1", "propose", value="A"),
    ...                note(0.2, "s2", "propose", value="B"),
    ...                note(0.3, "s1", "learn", slot=0, value="A"),
    ...                note(0.4, "s3", "learn", slot=0, value="B")])
    >>> print(check_agreement(trace).explain())
    agreement: 1 violation(s) (1 slots checked)
      t=0.400000: slot 0: s3 learned 'B' at t=0.400000 but s1 learned 'A' at t=0.300000
    >>> print(check_validity(trace).explain())
    validity: ok (2 learned values checked)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from dsys.check.report import Report, Violation
from dsys.errors import UsageError
from dsys.trace.events import Trace

_NOTES = ("propose", "accept", "learn")


def _notes(trace: Trace) -> Iterator[tuple[float, str, str, dict[str, Any]]]:
    """(time, node, event, data) of the consensus notes, in trace order."""
    for e in trace:
        if e.kind == "note" and e.data.get("event") in _NOTES:
            yield e.time, e.node, str(e.data["event"]), e.data


def _key(value: Any) -> str:
    """A value as canonical JSON (a command may be a list or a dict)."""
    return json.dumps(value, sort_keys=True)


def check_agreement(trace: Trace) -> Report:
    """No two learners learn different values for one slot (nor one learner twice)."""
    first: dict[Any, tuple[float, str, Any]] = {}  # slot -> (time, node, value) first learned
    found: list[Violation] = []
    for time, node, event, data in _notes(trace):
        if event != "learn":
            continue
        slot, value = data["slot"], data["value"]
        if slot not in first:
            first[slot] = (time, node, value)
        elif _key(first[slot][2]) != _key(value):
            then, other, was = first[slot]
            found.append(Violation(time, tuple(sorted({node, other})), (
                f"slot {slot}: {node} learned {value!r} at t={time:.6f} but {other} learned "
                f"{was!r} at t={then:.6f}")))
    return Report("agreement", tuple(found), len(first), "slots")


def check_validity(trace: Trace, noop: Any = None) -> Report:
    """Every learned value was proposed before it was learned; ``noop`` (when not None) is
    the one value a leader may propose on its own, to fill a gap in the log."""
    proposed: set[str] = set() if noop is None else {_key(noop)}
    found: list[Violation] = []
    judged = 0
    for time, node, event, data in _notes(trace):
        if event == "propose":
            proposed.add(_key(data["value"]))
        elif event == "learn":
            judged += 1
            if _key(data["value"]) not in proposed:
                found.append(Violation(time, (node,), (
                    f"slot {data['slot']}: {node} learned {data['value']!r} at t={time:.6f}, "
                    "which nobody proposed")))
    return Report("validity", tuple(found), judged, "learned values")


def check_stability(trace: Trace, acceptors: int | None = None) -> Report:
    """A learned value never changes, and (given ``acceptors``, their number) a chosen value
    is never replaced: no acceptor accepts another value for the slot in a higher ballot.

    Example:
        >>> from dsys.trace.events import Trace, TraceEvent
        >>> def accept(time, node, ballot, value):
        ...     return TraceEvent(time, node, "note", {"event": "accept", "slot": 0,
        ...                                            "ballot": ballot, "value": value})
        >>> trace = Trace([accept(0.1, "s1", [1, "s1"], "A"), accept(0.2, "s2", [1, "s1"], "A"),
        ...                accept(0.3, "s3", [2, "s3"], "B")])
        >>> print(check_stability(trace, acceptors=3).explain())
        stability: 1 violation(s) (1 slots checked)
          t=0.300000: slot 0: s3 accepted 'B' in [2, 's3'], after 'A' was chosen in [1, 's1']
    """
    if acceptors is not None and (not isinstance(acceptors, int) or acceptors < 1):
        raise UsageError(f"acceptors must be a number >= 1 or None, got {acceptors!r}")
    majority = None if acceptors is None else acceptors // 2 + 1
    learned: dict[tuple[str, Any], Any] = {}  # (node, slot) -> value it learned
    votes: dict[tuple[Any, str, str], set[str]] = {}  # (slot, ballot, value) -> acceptors
    chosen: dict[Any, tuple[tuple[Any, ...], Any, float]] = {}  # slot -> (ballot, value, t)
    slots: set[str] = set()
    found: list[Violation] = []
    for time, node, event, data in _notes(trace):
        if event == "learn":
            slot, value = data["slot"], data["value"]
            slots.add(_key(slot))
            was = learned.setdefault((node, slot), value)
            if _key(was) != _key(value):
                found.append(Violation(time, (node,), (
                    f"slot {slot}: {node} learned {value!r} at t={time:.6f} after it had "
                    f"learned {was!r}")))
        elif event == "accept" and majority is not None:
            slot, value, ballot = data["slot"], data["value"], tuple(data["ballot"])
            slots.add(_key(slot))
            if slot in chosen:
                at, it, _ = chosen[slot]
                if ballot > at and _key(value) != _key(it):
                    found.append(Violation(time, (node,), (
                        f"slot {slot}: {node} accepted {value!r} in {list(ballot)}, after "
                        f"{it!r} was chosen in {list(at)}")))
                continue
            group = votes.setdefault((_key(slot), _key(list(ballot)), _key(value)), set())
            group.add(node)
            if len(group) >= majority:
                chosen[slot] = (ballot, value, time)
    return Report("stability", tuple(found), len(slots), "slots")
