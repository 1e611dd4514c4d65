"""Space-time (Lamport) diagrams of traces, as self-contained SVG.

One vertical lane per node, time flowing down. Messages are arrows from the send to the
delivery; a lost message is a dashed arrow ending in a red cross; a crash is a red cross on
the lane, which stays dashed until the restart (a green circle). Fired timers and log lines
are small dots, partitions and heals horizontal bands. Hover any element for details.

Vertical position follows virtual time, but every distinct instant gets at least a few
pixels, so bursts of simultaneous events stay readable.

Example:
    >>> from dsys.trace import Trace, TraceEvent
    >>> from dsys.trace.svg import draw
    >>> ping = {"type": "x:Ping", "body": {}}
    >>> trace = Trace([
    ...     TraceEvent(0.0, "a", "send", {"to": "b", "id": 1, "msg": ping}),
    ...     TraceEvent(0.004, "b", "recv", {"from": "a", "id": 1, "msg": ping}),
    ... ])
    >>> svg = draw(trace)
    >>> svg.startswith("<svg") and "Ping" in svg
    True
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from dsys.trace.events import Trace, TraceEvent

LANE_GAP = 150
TOP = 60
LEFT = 90
MIN_STEP = 6.0
COLOURS = {
    "message": "#2b6cb0",
    "drop": "#c53030",
    "crash": "#c53030",
    "restart": "#2f855a",
    "timer": "#b7791f",
    "log": "#4a5568",
    "note": "#2c7a7b",
    "client": "#6b46c1",
    "partition": "#97266d",
}


def _y_positions(events: list[TraceEvent], height: float) -> dict[float, float]:
    times = sorted({e.time for e in events})
    if not times:
        return {}
    span = (times[-1] - times[0]) or 1.0
    scale = height / span
    positions = {}
    y = float(TOP)
    previous = times[0]
    for t in times:
        y += max(MIN_STEP, (t - previous) * scale) if t != previous else 0.0
        positions[t] = y
        previous = t
    return positions


def draw(trace: Trace, *, nodes: list[str] | None = None, height: float = 600.0,
         max_events: int = 3000, title: str | None = None) -> str:
    """Draw ``trace`` as an SVG document (a string). See the module docstring.

    Only the first ``max_events`` events are drawn (say so in the title when cut).
    """
    all_events = list(trace)
    events = all_events[:max_events]
    lanes = nodes or list(Trace(events).nodes)
    x_of = {node: LEFT + i * LANE_GAP for i, node in enumerate(lanes)}
    y_of = _y_positions(events, height)
    bottom = (max(y_of.values()) if y_of else TOP) + 40
    width = LEFT + max(len(lanes) - 1, 0) * LANE_GAP + 180  # room for labels on the last lane
    heading = title or "space-time diagram"
    if len(events) < len(all_events):
        heading += f" (first {len(events)} of {len(all_events)} events)"
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{bottom + 20:.0f}" '
        f'viewBox="0 0 {width} {bottom + 20:.0f}" font-family="monospace" font-size="11">',
        "<defs>",
        *(f'<marker id="arrow-{k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
          f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
          f'fill="{c}"/></marker>' for k, c in COLOURS.items()),
        "</defs>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(heading)}</text>',
    ]
    # Lanes: solid while the node is up, dashed while it is down.
    down_spans: dict[str, list[tuple[float, float]]] = {n: [] for n in lanes}
    down_since: dict[str, float] = {}
    for e in events:
        if e.node in x_of and e.kind == "crash":
            down_since[e.node] = y_of[e.time]
        elif e.node in x_of and e.kind == "restart" and e.node in down_since:
            down_spans[e.node].append((down_since.pop(e.node), y_of[e.time]))
    for node, y in down_since.items():
        down_spans[node].append((y, bottom))
    for node, lane_x in x_of.items():
        out.append(f'<text x="{lane_x}" y="{TOP - 22}" text-anchor="middle" font-weight="bold">'
                   f"{escape(node)}</text>")
        out.append(f'<line x1="{lane_x}" y1="{TOP - 10}" x2="{lane_x}" y2="{bottom}" '
                   'stroke="#a0aec0" stroke-width="2"/>')
        for y1, y2 in down_spans[node]:
            out.append(f'<line x1="{lane_x}" y1="{y1}" x2="{lane_x}" y2="{y2}" stroke="white" '
                       'stroke-width="3"/>')
            out.append(f'<line x1="{lane_x}" y1="{y1}" x2="{lane_x}" y2="{y2}" stroke="#c53030" '
                       'stroke-width="1" stroke-dasharray="3,4"/>')
    # Time axis labels, at most ~12.
    last_label = -1e9
    for t, y in sorted(y_of.items()):
        if y - last_label >= 40:  # labels never overlap
            out.append(f'<text x="8" y="{y + 4:.1f}" fill="#718096">{t:.4f}s</text>')
            last_label = y
    sends: dict[object, TraceEvent] = {}
    for e in events:
        if e.kind == "send":
            sends[e.data.get("id")] = e
    for e in events:
        y = y_of[e.time]
        x = x_of.get(e.node)
        tip = escape(f"{e.time:.6f} {e.node}: {e.describe()}")
        if e.kind == "recv":
            send = sends.get(e.data.get("id"))
            if send is not None and send.node in x_of and x is not None:
                out.append(_arrow(x_of[send.node], y_of[send.time], x, y, "message", tip,
                                  e.message_name or ""))
        elif e.kind == "drop":
            src, dst = e.data.get("from"), e.data.get("to")
            if src in x_of and dst in x_of:
                send = sends.get(e.data.get("id"))
                y0 = y_of[send.time] if send is not None else y
                x0, x1 = x_of[str(src)], x_of[str(dst)]
                xm = x0 + (x1 - x0) * 0.45
                ym = max(y, y0 + 8)
                out.append(f'<g><title>{tip}</title><line x1="{x0}" y1="{y0}" x2="{xm}" '
                           f'y2="{ym}" stroke="{COLOURS["drop"]}" stroke-dasharray="4,3"/>'
                           f'{_cross(xm, ym, COLOURS["drop"], 4)}</g>')
        elif x is None:
            if e.kind in ("partition", "heal", "block"):
                colour = COLOURS["partition"]
                out.append(f'<g><title>{tip}</title><line x1="{LEFT - 30}" y1="{y}" '
                           f'x2="{width - 20}" y2="{y}" stroke="{colour}" stroke-width="1.5" '
                           f'stroke-dasharray="8,4"/><text x="{width - 20}" y="{y - 3}" '
                           f'text-anchor="end" fill="{colour}">{escape(e.describe())}</text></g>')
        elif e.kind == "crash":
            out.append(f"<g><title>{tip}</title>{_cross(x, y, COLOURS['crash'], 7)}</g>")
        elif e.kind == "restart":
            out.append(f'<g><title>{tip}</title><circle cx="{x}" cy="{y}" r="6" fill="none" '
                       f'stroke="{COLOURS["restart"]}" stroke-width="2.5"/></g>')
        elif e.kind == "timer_fire":
            out.append(f'<g><title>{tip}</title><circle cx="{x}" cy="{y}" r="2.5" '
                       f'fill="{COLOURS["timer"]}"/></g>')
        elif e.kind == "note":
            out.append(f'<g><title>{tip}</title><polygon points="{x},{y - 5} {x + 5},{y} '
                       f'{x},{y + 5} {x - 5},{y}" fill="{COLOURS["note"]}"/><text x="{x + 8}" '
                       f'y="{y + 4}" fill="{COLOURS["note"]}" font-weight="bold">'
                       f"{escape(_short(e.describe(), 24))}</text></g>")
        elif e.kind == "log":
            out.append(f'<g><title>{tip}</title><rect x="{x - 3}" y="{y - 3}" width="6" '
                       f'height="6" fill="{COLOURS["log"]}"/><text x="{x + 7}" y="{y + 4}" '
                       f'fill="{COLOURS["log"]}">{escape(_short(e.describe()))}</text></g>')
        elif e.kind in ("invoke", "complete"):
            out.append(f'<g><title>{tip}</title><rect x="{x - 5}" y="{y - 3}" width="10" '
                       f'height="6" fill="{COLOURS["client"]}"/></g>')
        elif e.kind in ("violation", "error"):
            out.append(f'<g><title>{tip}</title><circle cx="{x}" cy="{y}" r="9" fill="none" '
                       f'stroke="{COLOURS["crash"]}" stroke-width="3"/></g>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _short(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cross(x: float, y: float, colour: str, r: float) -> str:
    return (f'<path d="M{x - r},{y - r} L{x + r},{y + r} M{x - r},{y + r} L{x + r},{y - r}" '
            f'stroke="{colour}" stroke-width="2.5"/>')


def _arrow(x0: float, y0: float, x1: float, y1: float, kind: str, tip: str, label: str) -> str:
    colour = COLOURS[kind]
    if x0 == x1:  # a message to itself: a small loop
        path = f"M{x0},{y0} C{x0 + 40},{y0} {x1 + 40},{y1} {x1 + 2},{y1}"
    else:
        path = f"M{x0},{y0} L{x1},{y1}"
    mid_x, mid_y = (x0 + x1) / 2, (y0 + y1) / 2
    return (f'<g><title>{tip}</title><path d="{path}" fill="none" stroke="{colour}" '
            f'stroke-width="1.2" marker-end="url(#arrow-{kind})"/>'
            f'<text x="{mid_x}" y="{mid_y - 3}" text-anchor="middle" fill="{colour}" '
            f'font-size="9">{escape(label)}</text></g>')


def save(trace: Trace, path: str | Path, **options: object) -> Path:
    """Draw ``trace`` and write the SVG to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(draw(trace, **options), encoding="utf-8")  # type: ignore[arg-type]
    return path
