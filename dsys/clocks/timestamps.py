"""How clock layers write their timestamps into a trace, and how checkers read them back.

A logical clock assigns a timestamp to every *event* of a node. The clock layers of
:mod:`dsys.clocks` make three kinds of events visible in the trace, so that a checker can
later compare timestamps with the happened-before relation of the same run:

* a **send**: the layer's stamp travels with the message and the simulator (or runtime)
  already records it in the ``send`` event, under ``data["stamps"][layer_name]``;
* a **receipt**: while the message is being delivered, the layer records a note right
  after the ``recv`` event (the arrival) on the same node::

      {"kind": "note", "data": {"event": "timestamp", "clock": "lamport",
                                "on": "receive", "from": "a", "value": 7}}

  The note belongs to the most recent ``recv`` event of that node (only other
  timestamp notes may sit in between, one per layer);
* a **local event** (``layer.tick("what happened")``): the note *is* the event::

      {"kind": "note", "data": {"event": "timestamp", "clock": "lamport",
                                "on": "local", "what": "wrote x", "value": 8}}

``value`` is the layer's JSON form of the timestamp (an int for Lamport, an object for a
vector clock, ``[l, c]`` for a hybrid logical clock); a layer may add fields (the HLC layer
adds ``pt``, its physical-clock reading).

:func:`read_timestamps` turns a trace back into a list of :class:`Stamped` events, keyed
by the index of the event in the trace, which is also how :class:`HappensBefore` names
events.

Example:
    >>> from dsys.trace import Trace, TraceEvent
    >>> trace = Trace([
    ...     TraceEvent(0.0, "a", "send", {"to": "b", "id": 1, "msg": None,
    ...                                   "stamps": {"lamport": 1}}),
    ...     TraceEvent(0.1, "b", "recv", {"from": "a", "id": 1, "msg": None}),
    ...     TraceEvent(0.1, "b", "note", {"event": "timestamp", "clock": "lamport",
    ...                                   "on": "receive", "from": "a", "value": 2}),
    ... ])
    >>> [(s.index, s.node, s.on, s.value) for s in read_timestamps(trace, "lamport")]
    [(0, 'a', 'send', 1), (1, 'b', 'receive', 2)]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from dsys.core.codec import INT_MAX
from dsys.core.node import Layer
from dsys.trace.events import TraceEvent

#: The ``event`` field of the notes written by clock layers.
TIMESTAMP_NOTE = "timestamp"

#: The largest counter a clock layer accepts in a peer's stamp: the receipt (+1) and the
#: send after it (+1) must still fit the wire's signed 64-bit integers
#: (:data:`~dsys.core.codec.INT_MAX`). A layer ignores (and logs) a stamp above it.
STAMP_MAX = INT_MAX - 2


@attrs.frozen
class Stamped:
    """One timestamped event: the trace ``index`` of the event, its ``node``, what it was
    (``on``: ``"send"``, ``"receive"`` or ``"local"``) and the clock's JSON ``value``.

    ``note`` is the full note data for receipts and local events (None for sends), so a
    checker can read extra fields such as the HLC's ``pt``.
    """

    index: int
    node: str
    on: str
    value: Any
    note: dict[str, Any] | None = None


def record_receive(layer: Layer, src: str, value: Any, **extra: Any) -> None:
    """For clock layers: note the timestamp a receipt got (call it from ``on_receive``)."""
    layer.node.note(TIMESTAMP_NOTE, clock=layer.name, on="receive", value=value,
                    **{"from": src}, **extra)


def record_local(layer: Layer, what: str, value: Any, **extra: Any) -> None:
    """For clock layers: note the timestamp of a local event (call it from ``tick``)."""
    layer.node.note(TIMESTAMP_NOTE, clock=layer.name, on="local", what=what, value=value,
                    **extra)


def read_timestamps(trace: Iterable[TraceEvent], clock: str) -> list[Stamped]:
    """Every event of ``trace`` timestamped by the clock layer named ``clock``, in trace
    order. Raises ValueError if a receipt note does not follow a matching delivery (a
    trace that was cut or reordered)."""
    found: list[Stamped] = []
    # Per node: the index and sender of the delivery that receipt notes attach to. It is
    # forgotten as soon as any other event of that node comes in between.
    open_delivery: dict[str, tuple[int, str]] = {}
    for index, event in enumerate(trace):
        data = event.data
        if event.kind == "send":
            stamps = data.get("stamps")
            if isinstance(stamps, dict) and clock in stamps:
                found.append(Stamped(index, event.node, "send", stamps[clock]))
        elif event.kind == "note" and data.get("event") == TIMESTAMP_NOTE:
            if data.get("on") == "receive":
                _check_receipt(open_delivery.get(event.node), index, event)
                if data.get("clock") == clock:
                    delivery, _ = open_delivery[event.node]
                    found.append(Stamped(delivery, event.node, "receive", data.get("value"),
                                         dict(data)))
                continue  # the delivery stays open for the next layer's note
            if data.get("clock") == clock:
                found.append(Stamped(index, event.node, "local", data.get("value"), dict(data)))
        if event.kind == "recv":
            open_delivery[event.node] = (index, str(data.get("from")))
        else:
            open_delivery.pop(event.node, None)
    return found


def _check_receipt(delivery: tuple[int, str] | None, index: int, event: TraceEvent) -> None:
    src = event.data.get("from")
    if delivery is None:
        raise ValueError(
            f"trace event #{index} on {event.node} is a receipt timestamp "
            f"({event.data.get('clock')}) that does not follow a delivery; was the trace "
            "cut or filtered? Read timestamps from the complete trace."
        )
    if delivery[1] != src:
        raise ValueError(
            f"trace event #{index} on {event.node} is a receipt timestamp for a message "
            f"from {src}, but the delivery it follows (#{delivery[0]}) is from {delivery[1]}"
        )
