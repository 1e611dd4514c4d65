"""Pictures of failure detection, as SVG documents: φ over time, and SWIM's states.

:func:`draw_phi` charts the suspicion level one member has of another, sampled over a
run, against the threshold; :func:`draw_states` draws the state machine of one member as
seen by another from :data:`~dsys.failure.swim.TRANSITIONS`, so the picture cannot drift
from the code. The docs' failure detection page uses both (``docs/gen_failure_pictures.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape

from dsys.check.draw import round_ticks
from dsys.failure.swim import TRANSITIONS
from dsys.trace.svg import FONT_FAMILY, Box, overlaps, text_box, text_width

_HEAD = ('<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" '
         'viewBox="0 0 {w:.0f} {h:.0f}" font-family="' + FONT_FAMILY + '" font-size="11">')


def free_spot(text: str, size: float, spots: Iterable[tuple[float, float, str]],
              taken: list[Box], canvas: Box | None = None) -> tuple[float, float, str] | None:
    """The first of ``spots`` (x, y, anchor) where ``text`` at font ``size`` overlaps none
    of the ``taken`` boxes and stays inside ``canvas`` (x0, y0, x1, y1); its box is added
    to ``taken``. None if no spot is free.

    Example:
        >>> taken = [(0.0, 0.0, 50.0, 20.0)]
        >>> free_spot("hi", 10, [(5, 15, "start"), (5, 40, "start")], taken)
        (5, 40, 'start')
        >>> len(taken)
        2
    """
    for x, y, anchor in spots:
        box = text_box(x, y, text, size, anchor)
        box = (box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1)
        if canvas is not None and (box[0] < canvas[0] or box[1] < canvas[1]
                                   or box[2] > canvas[2] or box[3] > canvas[3]):
            continue
        if not any(overlaps(box, other) for other in taken):
            taken.append(box)
            return x, y, anchor
    return None


def draw_phi(samples: Sequence[tuple[float, float]], *, threshold: float,
             arrivals: Sequence[float] = (), crash: float | None = None,
             title: str = "φ over time", width: float = 640.0, height: float = 260.0) -> str:
    """Chart φ (``samples``: (time, φ) pairs) with the ``threshold`` as a dashed line,
    heartbeat ``arrivals`` as ticks on the time axis, and the ``crash`` time if any.

    Example:
        >>> svg = draw_phi([(0.0, 0.1), (1.0, 9.0)], threshold=8.0, crash=0.5)
        >>> "<polyline" in svg and "threshold" in svg
        True
    """
    left, top, right, bottom = 50.0, 50.0, width - 20, height - 35
    t0 = min((t for t, _ in samples), default=0.0)
    t1 = max((t for t, _ in samples), default=1.0)
    ceiling = max(threshold * 1.5, min(max((p for _, p in samples), default=1.0), 3 * threshold))

    def x(t: float) -> float:
        return left + (t - t0) / ((t1 - t0) or 1.0) * (right - left)

    def y(phi: float) -> float:
        return bottom - min(phi, ceiling) / ceiling * (bottom - top)

    out = [
        _HEAD.format(w=width, h=height),
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
        '<text x="10" y="34" fill="#4a5568">blue: φ; red, dashed: threshold; grey ticks: '
        "heartbeats arriving</text>",
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#a0aec0"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#a0aec0"/>',
    ]
    for value in round_ticks(0.0, ceiling, 5):
        out.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
                   f'fill="#718096">{value:g}</text>')
    # Round times, as many as fit side by side, below the y axis' lowest value label.
    widest = text_width(f"{t1:.1f}s") + 16
    for t in round_ticks(t0, t1, min(8, int((right - left) // widest))):
        out.append(f'<text x="{x(t):.1f}" y="{bottom + 20}" text-anchor="middle" '
                   f'fill="#718096">{t:g}s</text>')
    for t in arrivals:
        if t0 <= t <= t1:
            out.append(f'<line x1="{x(t):.1f}" y1="{bottom}" x2="{x(t):.1f}" '
                       f'y2="{bottom - 6}" stroke="#a0aec0"/>')
    out.append(f'<line x1="{left}" y1="{y(threshold):.1f}" x2="{right}" '
               f'y2="{y(threshold):.1f}" stroke="#c53030" stroke-dasharray="5,3"/>')
    out.append(f'<text x="{right}" y="{y(threshold) - 4:.1f}" text-anchor="end" '
               f'fill="#c53030">threshold {threshold:g}</text>')
    if crash is not None:
        out.append(f'<line x1="{x(crash):.1f}" y1="{top}" x2="{x(crash):.1f}" y2="{bottom}" '
                   'stroke="#2d3748" stroke-dasharray="2,2"/>')
        out.append(f'<text x="{x(crash) + 4:.1f}" y="{top + 10}" fill="#2d3748">crash</text>')
    points = " ".join(f"{x(t):.1f},{y(p):.1f}" for t, p in samples)
    out.append(f'<polyline points="{points}" fill="none" stroke="#2b6cb0" stroke-width="1.3"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


#: Where each state sits in :func:`draw_states` (x, y in an 820 x 360 picture).
_PLACES = {"alive": (130.0, 180.0), "suspect": (410.0, 90.0), "dead": (690.0, 180.0),
           "left": (410.0, 290.0)}
_STATES_SIZE = (820.0, 360.0)


def draw_states(title: str = "SWIM: one member, as seen by another") -> str:
    """The states of a member in another's view and the events that move it, drawn from
    :data:`~dsys.failure.swim.TRANSITIONS`.

    Example:
        >>> svg = draw_states()
        >>> all(state in svg for state in ("alive", "suspect", "dead", "left"))
        True
    """
    width, height = _STATES_SIZE
    out = [_HEAD.format(w=width, h=height), '<rect width="100%" height="100%" fill="white"/>',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#4a5568"/></marker></defs>',
           f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>']
    # The labels keep clear of the title, the states and each other.
    taken: list[Box] = [text_box(10, 18, title, 13)]
    taken += [(x - 38, y - 20, x + 38, y + 20) for x, y in _PLACES.values()]
    seen: dict[tuple[str, str], int] = {}
    labels: list[str] = []
    for source, event, target in TRANSITIONS:
        (x1, y1), (x2, y2) = _PLACES[source], _PLACES[target]
        nth = seen.get((source, target), 0) + seen.get((target, source), 0)
        seen[source, target] = seen.get((source, target), 0) + 1
        # a curve bent to the left of its direction, more for each parallel edge
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        bend = 28.0 * (1 + nth)
        cx, cy = (x1 + x2) / 2 - dy / length * bend, (y1 + y2) / 2 + dx / length * bend
        sx, sy = x1 + dx / length * 38, y1 + dy / length * 20
        ex, ey = x2 - dx / length * 38, y2 - dy / length * 20
        out.append(f'<path d="M {sx:.1f} {sy:.1f} Q {cx:.1f} {cy:.1f} {ex:.1f} {ey:.1f}" '
                   'fill="none" stroke="#4a5568" marker-end="url(#arrow)"/>')
        def along(t: float, sx: float = sx, sy: float = sy, cx: float = cx, cy: float = cy,
                  ex: float = ex, ey: float = ey) -> tuple[float, float]:
            return ((1 - t) ** 2 * sx + 2 * (1 - t) * t * cx + t * t * ex,
                    (1 - t) ** 2 * sy + 2 * (1 - t) * t * cy + t * t * ey)

        spots = [(px, py + 4 + dy, "middle") for dy in (0, -12, 12, -24, 24, -36, 36)
                 for px, py in map(along, (0.5, 0.4, 0.6, 0.3, 0.7))]
        lx, ly, _ = free_spot(event, 10, spots, taken, (0, 0, width, height)) or spots[0]
        # on a background box, so that no curve runs through the words
        x0, y0, x1, y1 = text_box(lx, ly, event, 10, "middle")
        labels.append(f'<rect x="{x0 - 1:.1f}" y="{y0:.1f}" width="{x1 - x0 + 2:.1f}" '
                      f'height="{y1 - y0:.1f}" fill="white" fill-opacity="0.9"/>')
        labels.append(f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle" fill="#2d3748" '
                      f'font-size="10">{escape(event)}</text>')
    out.extend(labels)  # over every curve
    colours = {"alive": "#c6f6d5", "suspect": "#fefcbf", "dead": "#fed7d7", "left": "#e2e8f0"}
    for state, (x, y) in _PLACES.items():
        out.append(f'<ellipse cx="{x}" cy="{y}" rx="38" ry="20" fill="{colours[state]}" '
                   'stroke="#2d3748"/>')
        out.append(f'<text x="{x}" y="{y + 4}" text-anchor="middle" font-size="12" '
                   f'font-weight="bold">{state}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
