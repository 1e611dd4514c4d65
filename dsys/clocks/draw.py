"""Space-time diagrams annotated with logical timestamps, as self-contained SVG.

The layout follows :mod:`dsys.trace.svg`: one vertical lane per node, time flowing down,
an arrow from each send to each delivery. Only *timestamped* events are drawn (sends,
receipts and local events of the clock layers named in ``clocks``), each as a dot
labelled with its timestamps: for ``("lamport", "vector")`` the label ``5 [2,3,0]``
means Lamport time 5 and vector ``[a=2, b=3, c=0]`` (entries in lane order). Lost
messages end in a red cross.

Events are spaced by virtual time, but each gets its own row (a receipt and the send it
triggers at the same instant are drawn one below the other), so the picture is always in
causal order from top to bottom.

With ``highlight=e`` (a trace index), events are coloured by their causal relation to
``e`` according to :class:`~dsys.clocks.HappensBefore`: its past in blue, its future in
green, concurrent events in orange.

Example:
    >>> from dsys.demos import clocks as demo
    >>> sim = demo.scenario(seed=1)
    >>> sim.run(until=demo.UNTIL)
    >>> svg = draw_clocks(sim.trace, title="Lamport and vector timestamps")
    >>> svg.startswith("<svg") and "1 [1,0,0]" in svg
    True
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from dsys.clocks.happens_before import HappensBefore
from dsys.clocks.timestamps import read_timestamps
from dsys.trace.events import TraceEvent

LANE_GAP = 200
TOP = 84
LEFT = 60
MIN_STEP = 20.0
COLOURS = {
    "message": "#2b6cb0",
    "event": "#2d3748",
    "drop": "#c53030",
    "chosen": "#c53030",
    "past": "#2b6cb0",
    "future": "#2f855a",
    "concurrent": "#dd6b20",
}


def draw_clocks(trace: Iterable[TraceEvent], *, clocks: Sequence[str] = ("lamport", "vector"),
                nodes: Sequence[str] | None = None, highlight: int | None = None,
                height: float = 500.0, title: str | None = None) -> str:
    """Draw the timestamped events of ``trace`` as an SVG document (a string); see the
    module docstring."""
    events = list(trace)
    stamps = _merged_stamps(events, clocks)
    lanes = list(nodes) if nodes else sorted({events[i].node for i in stamps})
    x_of = {node: LEFT + 40 + i * LANE_GAP for i, node in enumerate(lanes)}
    drops = {(str(e.data.get("from")), e.data.get("id")): i for i, e in enumerate(events)
             if e.kind == "drop"}
    shown = sorted(i for i in stamps if events[i].node in x_of)
    y_of = _rows(events, shown + [i for i in drops.values() if events[i].node in x_of], height)
    bottom = max(y_of.values(), default=TOP) + 40
    width = LEFT + 40 + max(len(lanes) - 1, 0) * LANE_GAP + 160
    relation = _relations(events, shown, highlight)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{bottom + 30:.0f}" '
        f'viewBox="0 0 {width} {bottom + 30:.0f}" font-family="monospace" font-size="11">',
        '<defs><marker id="clock-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="{COLOURS["message"]}"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="18" font-size="13" font-weight="bold">'
        f'{escape(title or "space-time diagram with logical timestamps")}</text>',
        *(f'<text x="10" y="{34 + 14 * n}" fill="#4a5568">{escape(line)}</text>'
          for n, line in enumerate(_legend(clocks, lanes, highlight))),
    ]
    for node, x in x_of.items():
        out.append(f'<text x="{x}" y="{TOP - 16}" text-anchor="middle" font-weight="bold">'
                   f"{escape(node)}</text>")
        out.append(f'<line x1="{x}" y1="{TOP - 8}" x2="{x}" y2="{bottom}" stroke="#a0aec0" '
                   'stroke-width="2"/>')

    sends = {(e.node, e.data.get("id")): i for i, e in enumerate(events) if e.kind == "send"}
    for i in shown:
        e = events[i]
        if e.kind != "recv":
            continue
        send = sends.get((str(e.data.get("from")), e.data.get("id")))
        if send is not None and send in y_of:
            out.append(_arrow(x_of[events[send].node], y_of[send], x_of[e.node], y_of[i],
                              e.message_name or ""))
    for (src, mid), i in sorted(drops.items(), key=lambda item: item[1]):
        send = sends.get((src, mid))
        dst = str(events[i].data.get("to"))
        if send is not None and send in y_of and dst in x_of and src in x_of:
            x0, y0 = x_of[src], y_of[send]
            xm = x0 + (x_of[dst] - x0) * 0.45
            ym = max(y_of[i], y0 + 10)
            out.append(f'<g><title>{escape(events[i].describe())}</title><line x1="{x0}" '
                       f'y1="{y0}" x2="{xm}" y2="{ym}" stroke="{COLOURS["drop"]}" '
                       f'stroke-dasharray="4,3"/>{_cross(xm, ym)}</g>')
    for i in shown:
        e = events[i]
        x, y = x_of[e.node], y_of[i]
        colour = COLOURS[relation.get(i, "event")]
        label = " ".join(_show(clock, stamps[i][clock], lanes) for clock in clocks
                         if clock in stamps[i])
        what = "local event" if e.kind == "note" else e.describe()
        tip = escape(f"e{i} at {e.time:.6f}s on {e.node}: {what}; {label}")
        radius = 6 if relation.get(i) == "chosen" else 4
        out.append(f'<g><title>{tip}</title><circle cx="{x}" cy="{y}" r="{radius}" '
                   f'fill="{colour}"/><text x="{x + 9}" y="{y + 4}" fill="{colour}" stroke="white" '
                   f'stroke-width="3" paint-order="stroke">'
                   f"{escape(label)}</text></g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def save(trace: Iterable[TraceEvent], path: str | Path, **options: Any) -> Path:
    """Draw ``trace`` with :func:`draw_clocks` and write the SVG to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(draw_clocks(trace, **options), encoding="utf-8")
    return path


def _merged_stamps(events: list[TraceEvent], clocks: Sequence[str]) -> dict[int, dict[str, Any]]:
    """Trace index -> {clock: value}. A node that ticks several clocks for one local event
    writes one note per clock, one after the other: they are drawn as one event."""
    stamps: dict[int, dict[str, Any]] = {}
    local_of: dict[int, int] = {}  # index of a local note -> the note it is merged into
    previous: dict[str, int] = {}  # node -> its previous event's index
    for i, e in enumerate(events):
        before = previous.get(e.node)
        if (e.kind == "note" and e.data.get("on") == "local" and before is not None
                and events[before].kind == "note" and events[before].data.get("on") == "local"
                and events[before].data.get("what") == e.data.get("what")
                and events[before].data.get("clock") != e.data.get("clock")):
            local_of[i] = local_of.get(before, before)
        previous[e.node] = i
    for clock in clocks:
        for s in read_timestamps(events, clock):
            stamps.setdefault(local_of.get(s.index, s.index), {})[clock] = s.value
    return stamps


def _rows(events: list[TraceEvent], drawn: list[int], height: float) -> dict[int, float]:
    """A y position per drawn event: by virtual time, but at least MIN_STEP apart."""
    drawn = sorted(set(drawn))
    if not drawn:
        return {}
    span = (events[drawn[-1]].time - events[drawn[0]].time) or 1.0
    scale = height / span
    rows: dict[int, float] = {}
    y = float(TOP)
    previous = events[drawn[0]].time
    for i in drawn:
        if rows:
            y += max(MIN_STEP, (events[i].time - previous) * scale)
        rows[i] = y
        previous = events[i].time
    return rows


def _relations(events: list[TraceEvent], shown: list[int], highlight: int | None
               ) -> dict[int, str]:
    if highlight is None:
        return {}
    hb = HappensBefore.from_trace(events)
    relation = {}
    for i in shown:
        if i == highlight:
            relation[i] = "chosen"
        elif hb.before(i, highlight):
            relation[i] = "past"
        elif hb.before(highlight, i):
            relation[i] = "future"
        else:
            relation[i] = "concurrent"
    return relation


def _show(clock: str, value: Any, lanes: list[str]) -> str:
    if isinstance(value, dict):  # a vector: entries in lane order
        return "[" + ",".join(str(value.get(node, 0)) for node in lanes) + "]"
    if isinstance(value, list) and len(value) == 2:  # a hybrid logical clock
        return f"({value[0]},{value[1]})"
    return str(value)


def _legend(clocks: Sequence[str], lanes: list[str], highlight: int | None) -> list[str]:
    parts = " then ".join(f"{clock} [{','.join(lanes)}]" if clock == "vector" else clock
                          for clock in clocks)
    lines = [f"labels: {parts}"]
    if highlight is not None:
        lines.append(f"e{highlight} in red; its past in blue, its future in green, "
                     "concurrent events in orange")
    return lines


def _cross(x: float, y: float, r: float = 4) -> str:
    return (f'<path d="M{x - r},{y - r} L{x + r},{y + r} M{x - r},{y + r} L{x + r},{y - r}" '
            f'stroke="{COLOURS["drop"]}" stroke-width="2.5"/>')


def _arrow(x0: float, y0: float, x1: float, y1: float, label: str) -> str:
    colour = COLOURS["message"]
    if x0 == x1:  # a message to itself: a small loop
        path = f"M{x0},{y0} C{x0 + 50},{y0} {x1 + 50},{y1} {x1 + 3},{y1}"
    else:
        # Stop short of the dot so the arrow head stays visible.
        shrink = 5 / max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1)
        x1, y1 = x1 - (x1 - x0) * shrink, y1 - (y1 - y0) * shrink
        path = f"M{x0},{y0} L{x1:.1f},{y1:.1f}"
    return (f'<g><title>{escape(label)}</title><path d="{path}" fill="none" stroke="{colour}" '
            f'stroke-width="1.1" marker-end="url(#clock-arrow)"/></g>')


def __getattr__(name: str) -> Any:
    # Compatibility shim: ``draw_sync`` charts a simulator measurement, so it moved to
    # dsys.demos.clock_sync with the measurement; the old name keeps working for now,
    # imported on first use so that dsys.clocks never imports the simulator.
    if name == "draw_sync":
        return importlib.import_module("dsys.demos.clock_sync").draw_sync
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
