"""Checkers for scale-out: no request lost, removed servers drained, no flapping.

From the notes of the generators (:mod:`dsys.scaling.workload`: ``"issue"``,
``"answer"``, ``"rejected"``, ``"failed"``), the balancer (:mod:`dsys.scaling.balancer`: ``"add"``,
``"remove"``, ``"drained"``), the servers (``"refused"``, ``"deactivate"``) and the pool
manager (``"scale"``), and the messages the host records:

* :func:`check_every_request_answered`: every request a generator issued was answered
  exactly once (or rejected, or given up on after its timeout, if allowed), and nothing
  was answered that was not asked;
* :func:`check_drained`: a balancer sends no request to a server it removed (until it
  adds it back), says ``"drained"`` only when it holds none of its requests there, and
  every removed server drains; no server is turned off with requests inside, and none is
  sent a request while off;
* :func:`check_no_flapping`: an autoscaler never reverses a change (adds then removes,
  or removes then adds) within ``window`` seconds.

Each returns a :class:`~dsys.check.Report`.

Example:
    >>> from dsys.trace import Trace, TraceEvent
    >>> def note(t, node, event, **data):
    ...     return TraceEvent(t, node, "note", {"event": event, **data})
    >>> trace = Trace([note(10.0, "pool", "scale", servers=4, to=5),
    ...                note(13.0, "pool", "scale", servers=5, to=4),
    ...                note(40.0, "pool", "scale", servers=4, to=3)])
    >>> print(check_no_flapping(trace, window=20.0).explain())
    no flapping within 20 s: 1 violation(s) (3 changes checked)
      t=13.000000: pool went 4 -> 5 at t=10.000, then 5 -> 4 3.000 s later
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dsys.check.report import Report, Violation
from dsys.trace.events import Trace, TraceEvent

__all__ = ["Report", "Violation", "check_drained", "check_every_request_answered",
           "check_no_flapping"]


def _notes(trace: Trace, *events: str) -> Iterator[tuple[TraceEvent, dict[str, Any]]]:
    for event in trace:
        if event.kind == "note" and event.data.get("event") in events:
            yield event, event.data


def check_every_request_answered(trace: Trace, *, allow_rejected: bool = True) -> Report:
    """Every request issued was answered once (or rejected, or failed after the
    generator's timeout, when ``allow_rejected``): its outcome was reported exactly once.

    Run the simulation past the generators' stop until every answer is in: a request
    still in flight when the trace ends counts as lost.
    """
    issued: dict[tuple[str, int], float] = {}
    answered: dict[tuple[str, int], float] = {}
    violations = []
    for event, data in _notes(trace, "issue", "answer", "rejected", "failed"):
        key = (event.node, int(data["id"]))
        what = data["event"]
        if what == "issue":
            issued[key] = event.time
            continue
        if key not in issued:
            violations.append(Violation(event.time, (event.node,),
                                        f"{event.node} got an answer to request {key[1]}, "
                                        "which it never issued"))
        elif key in answered:
            violations.append(Violation(event.time, (event.node,),
                                        f"{event.node}'s request {key[1]} was answered twice "
                                        f"(first at t={answered[key]:.6f})"))
        elif what != "answer" and not allow_rejected:
            violations.append(Violation(event.time, (event.node,),
                                        f"{event.node}'s request {key[1]} "
                                        f"{'was rejected' if what == 'rejected' else 'failed'}"
                                        f": {data.get('reason', '')}"))
        answered.setdefault(key, event.time)
    for (node, number), when in sorted(issued.items(), key=lambda item: item[1]):
        if (node, number) not in answered:
            violations.append(Violation(when, (node,),
                                        f"{node}'s request {number}, issued at t={when:.6f}, "
                                        "was never answered (lost)"))
    violations.sort(key=lambda v: v.time)
    return Report("every request answered once", tuple(violations), len(issued), "requests")


def check_drained(trace: Trace, *, complete: bool = True) -> Report:
    """Removed servers get no new request and drain; none is turned off while busy.

    ``complete``: the trace ran until every request was answered, so a removed server
    that still holds requests at its end never drained.
    """
    removed: dict[tuple[str, str], float] = {}  # (balancer, server) -> removed when
    balancers = {e.node for e, _ in _notes(trace, "add", "remove", "drained")}
    outstanding: dict[tuple[str, str], set[int]] = {}  # request message ids in flight
    violations = []
    changes = 0
    for event in trace:
        node, kind, data = event.node, event.kind, event.data
        if kind == "send" and node in balancers and event.message_name == "Request":
            link = (node, str(data["to"]))
            outstanding.setdefault(link, set()).add(_request_id(data["msg"]))
            if link in removed:
                violations.append(Violation(event.time, link,
                                            f"{node} sent a request to {link[1]}, which it "
                                            f"removed at t={removed[link]:.6f}"))
        elif kind == "recv" and node in balancers and event.message_name == "Reply":
            link = (node, str(data["from"]))
            outstanding.get(link, set()).discard(_request_id(data["msg"]))
        elif kind == "note":
            what = data.get("event")
            if what in ("add", "remove", "drained") and node in balancers:
                link = (node, str(data["server"]))
                held = len(outstanding.get(link, ()))
                if what == "add":
                    removed.pop(link, None)
                elif what == "remove":
                    changes += 1
                    removed[link] = event.time
                elif held:  # "drained": it must hold none of them
                    violations.append(Violation(event.time, link,
                                                f"{node} said {link[1]} drained while "
                                                f"{held} of its requests were there"))
            elif what == "deactivate" and data.get("queue", 0):
                violations.append(Violation(event.time, (node,),
                                            f"{node} was turned off with {data['queue']} "
                                            "requests inside (lost)"))
            elif what == "refused":
                violations.append(Violation(event.time, (node,),
                                            f"{node} was sent request {data.get('id')} by "
                                            f"{data.get('sender')} while {data.get('state')} "
                                            "(lost)"))
    if complete:
        for (balancer, server), when in sorted(removed.items(), key=lambda item: item[1]):
            held = len(outstanding.get((balancer, server), ()))
            if held:
                violations.append(Violation(when, (balancer, server),
                                            f"{server}, removed from {balancer} at "
                                            f"t={when:.6f}, still held {held} requests at "
                                            "the end"))
    violations.sort(key=lambda v: v.time)
    return Report("removed servers drain", tuple(violations), changes, "removals")


def _request_id(msg: Any) -> int:
    """The id of a Request or Reply, in a live trace (the message) or a loaded one (its
    wire form)."""
    if isinstance(msg, dict):
        return int(msg.get("body", {}).get("id", -1))
    return int(getattr(msg, "id", -1))


def check_no_flapping(trace: Trace, *, window: float) -> Report:
    """No autoscaler reversed a change within ``window`` seconds of it."""
    last: dict[str, tuple[float, int, int]] = {}  # node -> (when, before, after)
    violations = []
    changes = 0
    for event, data in _notes(trace, "scale"):
        before, after = int(data["servers"]), int(data["to"])
        changes += 1
        previous = last.get(event.node)
        if previous is not None:
            when, was, became = previous
            reversed_ = (became - was) * (after - before) < 0
            if reversed_ and event.time - when < window:
                violations.append(Violation(
                    event.time, (event.node,),
                    f"{event.node} went {was} -> {became} at t={when:.3f}, then "
                    f"{before} -> {after} {event.time - when:.3f} s later"))
        last[event.node] = (event.time, before, after)
    return Report(f"no flapping within {window:g} s", tuple(violations), changes, "changes")
