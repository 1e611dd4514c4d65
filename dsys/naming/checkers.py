"""Checkers for naming: leases of the name service, and the staleness TTLs allow.

From the notes of :mod:`dsys.naming.registry` and :mod:`dsys.naming.dns`, and the
messages, crashes, restarts and partitions the host records:

* :func:`check_leases`: the name server keeps its lease promise both ways. No binding
  expires while its owner's registrations reach the server (never within ``lease`` of a
  :class:`~dsys.naming.registry.Register` it received), none outlives its lease (an
  expiry comes ``lease`` after the last grant or renewal), and no lookup names an owner
  that has been down for longer than ``lease + in_flight`` (its last registration may
  arrive ``in_flight`` after the crash, and then holds one lease);
* :func:`check_names_kept`: no owner loses a name while it was up and not cut off from
  the name server for a whole lease before (under random loss, a statement about
  probability: see :mod:`dsys.naming.registry`, rule 3);
* :func:`check_staleness`: every answer a resolver gave was the name's record at some
  moment at most ``bound`` before (the TTL, plus the time answers spend in flight);
  :func:`answer_staleness` lists how stale each answer was.

Each returns a :class:`~dsys.check.Report`.

Example:
    >>> from dsys.trace import Trace, TraceEvent
    >>> def note(t, node, event, **data):
    ...     return TraceEvent(t, node, "note", {"event": event, **data})
    >>> trace = Trace([note(0.0, "ns", "record", name="www.example", address="10.0.0.1"),
    ...                note(1.0, "ns", "record", name="www.example", address="10.0.0.2"),
    ...                note(3.0, "r", "answer", name="www.example", address="10.0.0.1",
    ...                     status="ok", source="cache")])
    >>> print(check_staleness(trace, bound=1.5).explain())  # doctest: +NORMALIZE_WHITESPACE
    answers no staler than 1.5 s: 1 violation(s) (1 answers checked)
      t=3.000000: r answered www.example -> 10.0.0.1, the record until t=1.000000:
      2.000 s stale, more than 1.5 s
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import attrs

from dsys.check.report import Report, Violation
from dsys.trace.events import Trace, TraceEvent

__all__ = [
    "Report",
    "Staleness",
    "Violation",
    "answer_staleness",
    "check_leases",
    "check_names_kept",
    "check_staleness",
]


def _notes(trace: Trace, *events: str) -> Iterator[tuple[TraceEvent, dict[str, Any]]]:
    for event in trace:
        if event.kind == "note" and event.data.get("event") in events:
            yield event, event.data


# ----- who was up, who could reach whom --------------------------------------------------


class _World:
    """Replays the host's crash, restart, partition, block and heal events, to say who
    was up and which links were cut at each moment of a trace."""

    def __init__(self) -> None:
        self.down: dict[str, float] = {}  # node -> since when
        self.groups: dict[str, int] = {}
        self.blocked: set[tuple[str, str]] = set()

    def apply(self, event: TraceEvent) -> bool:
        """Take ``event`` into account; True if it was one of these kinds."""
        kind, data = event.kind, event.data
        if kind == "crash":
            self.down.setdefault(event.node, event.time)
        elif kind in ("start", "restart"):
            self.down.pop(event.node, None)
        elif kind == "partition":
            self.groups = {node: i for i, group in enumerate(data["groups"]) for node in group}
        elif kind == "block":
            self.blocked.add((data["from"], data["to"]))
        elif kind == "heal":
            self.groups, self.blocked = {}, set()
        else:
            return False
        return True

    def cut(self, src: str, dst: str) -> bool:
        """Whether a message from ``src`` to ``dst`` is cut now."""
        if (src, dst) in self.blocked:
            return True
        g1, g2 = self.groups.get(src), self.groups.get(dst)
        return g1 is not None and g2 is not None and g1 != g2


# ----- leases ------------------------------------------------------------------------------


def check_leases(trace: Trace, *, lease: float, in_flight: float,
                 tolerance: float = 1e-6) -> Report:
    """The name servers' lease promises (see the module docstring), judged from their
    notes (``bind``, ``renew``, ``expire``, ``unbind``, ``lookup``), the
    :class:`~dsys.naming.registry.Register` messages they received, and the crashes.

    ``in_flight``: the longest a message can take (the network's largest latency, plus
    any reordering delay). ``tolerance``: how far from exact an expiry may be (a server
    clock that runs at rate ``1 + drift`` makes its leases ``lease / (1 + drift)`` long).

    Example:
        >>> from dsys.trace import Trace, TraceEvent
        >>> def note(t, event, **data):
        ...     return TraceEvent(t, "ns", "note", {"event": event, **data})
        >>> trace = Trace([note(0.0, "bind", name="p", owner="a", address="a"),
        ...                TraceEvent(1.0, "a", "crash", {}),
        ...                note(5.0, "lookup", name="p", owner="a", address="a")])
        >>> print(check_leases(trace, lease=1.0, in_flight=0.01).explain())
        leases: 1 violation(s) (1 lookups checked)
          t=5.000000: ns answered a lookup of p with a, which crashed at t=1.000000 and
          has been down 4.000 s, longer than the lease (1.0 s) plus the time in flight
          (0.01 s)
    """
    world = _World()
    granted: dict[tuple[str, str], tuple[str, float]] = {}  # (server, name) -> owner, when
    # (server, name, owner) -> last time a Register of it arrived (reset by a Deregister)
    arrived: dict[tuple[str, ...], float] = {}
    found: list[Violation] = []
    judged = 0
    for event in trace:
        if world.apply(event):
            if event.kind == "crash":  # a name server's table is soft state: gone
                for key in [k for k in granted if k[0] == event.node]:
                    del granted[key]
                for three in [k for k in arrived if k[0] == event.node]:
                    del arrived[three]
            continue
        if event.kind == "recv":
            msg: Any = event.data.get("msg")
            kind = type(msg).__name__
            if kind == "Register":
                arrived[event.node, msg.name, event.data["from"]] = event.time
            elif kind == "Deregister":
                arrived.pop((event.node, msg.name, event.data["from"]), None)
            continue
        if event.kind != "note":
            continue
        data, server, now = event.data, event.node, event.time
        what = data.get("event")
        if what in ("bind", "renew"):
            granted[server, data["name"]] = (data["owner"], now)
        elif what == "unbind":
            granted.pop((server, data["name"]), None)
        elif what == "expire":
            name, owner = data["name"], data["owner"]
            last = granted.pop((server, name), (owner, -math.inf))[1]
            heard = arrived.get((server, name, owner), -math.inf)
            if now - heard < lease - tolerance:
                found.append(Violation(now, (server, owner), (
                    f"{server} expired {owner}'s name {name} {now - heard:.3f} s after a "
                    f"registration of it arrived, before the lease ({lease} s) ran out")))
            elif now - last > lease + tolerance:
                found.append(Violation(now, (server, owner), (
                    f"{server} expired {owner}'s name {name} {now - last:.3f} s after its "
                    f"last grant or renewal, later than the lease ({lease} s)")))
        elif what == "lookup":
            judged += 1
            owner = data.get("owner")
            since = world.down.get(owner) if owner is not None else None
            if owner is not None and since is not None \
                    and now - since > lease + in_flight + tolerance:
                found.append(Violation(now, (server, owner), (
                    f"{server} answered a lookup of {data['name']} with {data['address']}, "
                    f"which crashed at t={since:.6f} and has been down {now - since:.3f} s, "
                    f"longer than the lease ({lease} s) plus the time in flight "
                    f"({in_flight} s)")))
    return Report("leases", tuple(found), judged, "lookups")


def check_names_kept(trace: Trace, *, lease: float) -> Report:
    """No name expired while its owner had been up, and able to reach the name server,
    for the whole lease before the expiry.

    Under random message loss this is a promise about probability (every registration
    of a whole lease lost), so judge it on runs whose loss makes that negligible.

    Example:
        >>> from dsys.trace import Trace, TraceEvent
        >>> trace = Trace([TraceEvent(0.0, "a", "start", {}),
        ...                TraceEvent(3.0, "ns", "note", {"event": "expire", "name": "p",
        ...                                               "owner": "a", "address": "a"})])
        >>> print(check_names_kept(trace, lease=1.0).explain())
        names kept by live owners: 1 violation(s) (1 expiries checked)
          t=3.000000: ns expired a's name p, though a was up and could reach ns for the
          whole lease (1.0 s) before
    """
    pairs = sorted({(data["owner"], event.node) for event, data in
                    _notes(trace, "bind", "renew", "expire")})  # (owner, server)
    world = _World()
    started: set[str] = set()
    # (owner, server) -> since when the owner has been up and its link to the server
    # uncut (absent: it is not now)
    fine: dict[tuple[str, str], float] = {}
    found: list[Violation] = []
    judged = 0
    for event in trace:
        if event.kind in ("start", "restart"):
            started.add(event.node)
        if world.apply(event):
            for owner, server in pairs:
                if owner in started and owner not in world.down \
                        and server not in world.down and not world.cut(owner, server):
                    fine.setdefault((owner, server), event.time)
                else:
                    fine.pop((owner, server), None)
            continue
        if event.kind != "note" or event.data.get("event") != "expire":
            continue
        judged += 1
        data, server = event.data, event.node
        since = fine.get((data["owner"], server))
        if since is not None and event.time - since >= lease:
            found.append(Violation(event.time, (data["owner"], server), (
                f"{server} expired {data['owner']}'s name {data['name']}, though "
                f"{data['owner']} was up and could reach {server} for the whole lease "
                f"({lease} s) before")))
    return Report("names kept by live owners", tuple(found), judged, "expiries")


# ----- staleness -----------------------------------------------------------------------------


@attrs.frozen
class Staleness:
    """One answer a resolver gave: at ``time``, by ``node``, ``name`` -> ``address``.
    ``stale``: seconds since ``address`` stopped being the name's record (0.0: it still
    was; None: it never was)."""

    time: float
    node: str
    name: str
    address: str | None
    source: str
    stale: float | None
    since: float | None  # when the answer stopped being the record (None: it had not)


def answer_staleness(trace: Trace) -> list[Staleness]:
    """How stale each answer of the trace was (the ``answer`` notes of resolvers,
    ``servfail`` left out), against the ``record`` notes of the zone servers.

    Before a name's first ``record`` note, it has no record (an answer "no such name" is
    then fresh).
    """
    history: dict[str, list[tuple[float, str | None]]] = {}
    found: list[Staleness] = []
    for event, data in _notes(trace, "record", "answer"):
        name = data["name"]
        changes = history.setdefault(name, [(-math.inf, None)])
        if data["event"] == "record":
            if changes[-1][1] != data["address"]:
                changes.append((event.time, data["address"]))
            continue
        if data.get("status") == "servfail":
            continue
        address, now = data["address"], event.time
        if changes[-1][1] == address:
            found.append(Staleness(now, event.node, name, address, data["source"], 0.0, None))
            continue
        ended = next((changes[i + 1][0] for i in range(len(changes) - 2, -1, -1)
                      if changes[i][1] == address), None)
        found.append(Staleness(now, event.node, name, address, data["source"],
                               None if ended is None else now - ended, ended))
    return found


def check_staleness(trace: Trace, *, bound: float) -> Report:
    """Every answer was the name's record at most ``bound`` seconds before it was given.

    With a TTL of ``ttl`` and answers that spend at most ``in_flight`` seconds on each
    of ``hops`` links between the zone server and the resolver that answers, ``bound =
    ttl + hops · in_flight`` (see :mod:`dsys.naming.dns`).
    """
    found = []
    answers = answer_staleness(trace)
    for answer in answers:
        if answer.stale is None:
            found.append(Violation(answer.time, (answer.node,), (
                f"{answer.node} answered {answer.name} -> {answer.address}, which was never "
                "its record")))
        elif answer.stale > bound:
            found.append(Violation(answer.time, (answer.node,), (
                f"{answer.node} answered {answer.name} -> {answer.address}, the record until "
                f"t={answer.since:.6f}: {answer.stale:.3f} s stale, more than {bound} s")))
    return Report(f"answers no staler than {bound} s", tuple(found), len(answers), "answers")
