"""Pictures of failure detection, as SVG documents: φ over time, and SWIM's states.

:func:`draw_phi` charts the suspicion level one member has of another, sampled over a
run, against the threshold; :func:`draw_states` draws the state machine of one member as
seen by another from :data:`~dsys.failure.swim.TRANSITIONS`, so the picture cannot drift
from the code. The docs' failure detection page uses both (``docs/gen_failure_pictures.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from dsys.failure.swim import TRANSITIONS

_HEAD = ('<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" '
         'viewBox="0 0 {w:.0f} {h:.0f}" font-family="monospace" font-size="11">')


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
    for k in range(5):
        value = ceiling * k / 4
        out.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
                   f'fill="#718096">{value:.0f}</text>')
        t = t0 + (t1 - t0) * k / 4
        out.append(f'<text x="{x(t):.1f}" y="{bottom + 16}" text-anchor="middle" '
                   f'fill="#718096">{t:.1f}s</text>')
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


#: Where each state sits in :func:`draw_states` (x, y in a 640 x 300 picture).
_PLACES = {"alive": (110.0, 150.0), "suspect": (330.0, 70.0), "dead": (550.0, 150.0),
           "left": (330.0, 250.0)}


def draw_states(title: str = "SWIM: one member, as seen by another") -> str:
    """The states of a member in another's view and the events that move it, drawn from
    :data:`~dsys.failure.swim.TRANSITIONS`.

    Example:
        >>> svg = draw_states()
        >>> all(state in svg for state in ("alive", "suspect", "dead", "left"))
        True
    """
    out = [_HEAD.format(w=660, h=310), '<rect width="100%" height="100%" fill="white"/>',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#4a5568"/></marker></defs>',
           f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>']
    seen: dict[tuple[str, str], int] = {}
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
        lx, ly = (sx + 2 * cx + ex) / 4, (sy + 2 * cy + ey) / 4
        out.append(f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle" fill="#2d3748" '
                   f'font-size="10">{escape(event)}</text>')
    colours = {"alive": "#c6f6d5", "suspect": "#fefcbf", "dead": "#fed7d7", "left": "#e2e8f0"}
    for state, (x, y) in _PLACES.items():
        out.append(f'<ellipse cx="{x}" cy="{y}" rx="38" ry="20" fill="{colours[state]}" '
                   'stroke="#2d3748"/>')
        out.append(f'<text x="{x}" y="{y + 4}" text-anchor="middle" font-size="12" '
                   f'font-weight="bold">{state}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
