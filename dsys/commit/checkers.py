"""Checkers for atomic commitment, read from the trace notes of :mod:`dsys.commit.two_phase`.

* :func:`check_atomicity`: no transaction commits at one node and aborts at another (the
  coordinator's ``decide`` notes and the participants' ``outcome`` notes all agree, and no
  participant changes its mind);
* :func:`check_validity`: a transaction commits (anywhere) only if every participant
  voted yes before; none commits once a participant voted no.

Both return the one :class:`~dsys.check.Report` type, and judge any commit protocol whose
nodes write those notes (``begin``, ``vote``, ``decide``, ``outcome``), whatever the faults.

Example:
    >>> from dsys import Simulation
    >>> from dsys.commit import Coordinator, Participant, Transaction
    >>> sim = Simulation(seed=3)
    >>> txs = [Transaction("t1", {"rm1": {"x": "1"}, "rm2": {"x": "2"}}),
    ...        Transaction("t2", {"rm1": {"y": "1"}})]
    >>> sim.add_node("tm", lambda: Coordinator(txs))
    >>> sim.add_node("rm1", lambda: Participant(refuse=["t2"]))
    >>> sim.add_node("rm2", Participant)
    >>> sim.run(until=2.0)
    >>> print(check_atomicity(sim.trace).explain())
    atomicity: ok (2 transactions checked)
    >>> print(check_validity(sim.trace).explain())
    validity: ok (2 transactions checked)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dsys.check.report import Report, Violation
from dsys.trace.events import Trace

_NOTES = ("begin", "vote", "decide", "outcome")


def _notes(trace: Trace) -> Iterator[tuple[float, str, str, dict[str, Any]]]:
    """(time, node, event, data) of the commit notes, in trace order."""
    for e in trace:
        if e.kind == "note" and e.data.get("event") in _NOTES:
            yield e.time, e.node, str(e.data["event"]), e.data


def check_atomicity(trace: Trace) -> Report:
    """All nodes that learned an outcome of a transaction learned the same one."""
    first: dict[str, tuple[float, str, bool]] = {}  # txid -> (time, node, commit) first seen
    found: list[Violation] = []
    txids: set[str] = set()
    for time, node, event, data in _notes(trace):
        txid = str(data["txid"])
        txids.add(txid)
        if event not in ("decide", "outcome"):
            continue
        commit = bool(data["commit"])
        if txid not in first:
            first[txid] = (time, node, commit)
        elif first[txid][2] != commit:
            then, other, was = first[txid]
            found.append(Violation(time, tuple(sorted({node, other})), (
                f"{txid}: {node} {'committed' if commit else 'aborted'} at t={time:.6f} but "
                f"{other} {'committed' if was else 'aborted'} at t={then:.6f}")))
    return Report("atomicity", tuple(found), len(txids), "transactions")


def check_validity(trace: Trace) -> Report:
    """Commit only if every participant (from the coordinator's ``begin`` note) voted yes
    before; never commit after a participant voted no."""
    participants: dict[str, set[str]] = {}
    yes: dict[str, set[str]] = {}
    no: dict[str, str] = {}  # txid -> first participant that voted no
    found: list[Violation] = []
    for time, node, event, data in _notes(trace):
        txid = str(data["txid"])
        if event == "begin":
            participants[txid] = {str(p) for p in data["participants"]}
        elif event == "vote":
            if data["yes"]:
                yes.setdefault(txid, set()).add(node)
            else:
                no.setdefault(txid, node)
        elif data["commit"]:
            if txid in no:
                found.append(Violation(time, (node, no[txid]), (
                    f"{txid}: {node} committed at t={time:.6f} though {no[txid]} voted no")))
            missing = sorted(participants.get(txid, set()) - yes.get(txid, set()))
            if txid not in participants:
                found.append(Violation(time, (node,), (
                    f"{txid}: {node} committed at t={time:.6f} a transaction never begun")))
            elif missing:
                found.append(Violation(time, (node, *missing), (
                    f"{txid}: {node} committed at t={time:.6f} before "
                    f"{', '.join(missing)} voted yes")))
    judged = len(set(participants) | set(yes) | set(no))
    return Report("validity", tuple(found), judged, "transactions")
