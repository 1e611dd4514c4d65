"""Draw the pictures of the replication pages from real simulation runs.

``main(out_dir)`` writes, into ``out_dir``:

- ``quorum-tradeoff.svg``: for every R and W from 1 to 3 (N = 3), the share of gets that
  were stale and the median latency of gets and puts, one cell per setting, a line
  between the settings with R + W > N and the others
  (:func:`dsys.demos.quorum.sweep_quorums` under :data:`~dsys.demos.quorum.PLOT`, over
  :data:`~dsys.demos.quorum.PLOT_SEEDS`: a few seconds).

The docs build calls ``main`` (docs/hooks.py runs every ``docs/gen_*.py``); run it by hand
with ``python docs/gen_replication_pictures.py``.
"""

from __future__ import annotations

import math
import sys
import textwrap
from collections.abc import Sequence
from html import escape
from pathlib import Path

from dsys.demos.quorum import PLOT, PLOT_SEEDS, QuorumMeasurement, SweepConditions, sweep_quorums

#: Cell size and where the grid starts, in pixels.
CELL_W, CELL_H = 190.0, 100.0
LEFT, TOP = 92.0, 112.0
#: Colours: no stale read, the fewest and the most stale reads, get bars, put bars, the
#: boundary.
FRESH, FEW, STALE = "#f0fff4", (254, 226, 226), (229, 62, 62)
GET, PUT, EDGE = "#2b6cb0", "#b7791f", "#1a202c"


def caption(conditions: SweepConditions, seeds: Sequence[int]) -> str:
    """The plot's conditions in words (its subtitle; the page says the same)."""
    return (f"{conditions.describe()}; no sloppy quorum, no failures; {len(seeds)} seeds "
            "per cell")


def _fill(rate: float, worst: float) -> str:
    """Green for none; else from pale to full red, on a square-root scale (so that a
    rate of 1% shows beside one of 10%)."""
    if not rate:
        return FRESH
    share = math.sqrt(rate / worst)
    red, green, blue = (round(a + (b - a) * share) for a, b in zip(FEW, STALE, strict=True))
    return f"#{red:02x}{green:02x}{blue:02x}"


def _lines(x: float, y: float, text: str, width: int, **attributes: str) -> list[str]:
    """``text`` wrapped at ``width`` characters, one ``<text>`` a line from ``(x, y)``."""
    extra = "".join(f' {name.replace("_", "-")}="{value}"' for name, value in attributes.items())
    return [f'<text x="{x:.1f}" y="{y + 15 * i:.1f}"{extra}>{escape(line)}</text>'
            for i, line in enumerate(textwrap.wrap(text, width))]


def quorum_picture(found: Sequence[QuorumMeasurement], subtitle: str) -> str:
    """A grid, R down and W across: each cell's colour is its stale-read share (its
    figure written in it), its two bars the p50 latency of gets and puts; a thick line
    parts the cells with R + W > N (below and right of it) from the others."""
    cells = {(m.r, m.w): m for m in found}
    n = max(m.n for m in found)
    worst = max(m.stale_rate for m in found)
    slowest = max(max(m.get_latency.p50, m.put_latency.p50) for m in found) or 1.0
    width = LEFT + n * CELL_W + 20
    chars = int((width - 20) / 6.7)  # (monospace at 11 px)
    subtitle_lines = textwrap.wrap(subtitle, chars)
    top = TOP + 15 * len(subtitle_lines)
    note = ("thick line: above and left of it, R+W<=N: a get may miss a put; below and "
            "right of it, R+W>N: every read quorum meets every write quorum, so no get can "
            "be stale")
    height = top + n * CELL_H + 18 + 15 * len(textwrap.wrap(note, chars))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="18" font-size="13" font-weight="bold">Stale reads and latency '
        f"against R and W (N = {n})</text>",
        *_lines(10, 34, subtitle, chars, fill="#4a5568"),
        f'<text x="10" y="{34 + 15 * len(subtitle_lines):.1f}" fill="#4a5568">colour and %: '
        "share of gets that missed a put acknowledged before they began; bars: median "
        "latency</text>",
        f'<text x="{LEFT + n * CELL_W / 2:.1f}" y="{top - 34:.1f}" text-anchor="middle" '
        'fill="#2d3748">W: replicas a put waits for</text>',
        f'<text x="16" y="{top + n * CELL_H / 2:.1f}" text-anchor="middle" fill="#2d3748" '
        f'transform="rotate(-90 16 {top + n * CELL_H / 2:.1f})">R: replicas a get waits '
        "for</text>",
    ]
    for w in range(1, n + 1):
        out.append(f'<text x="{LEFT + (w - 0.5) * CELL_W:.1f}" y="{top - 10:.1f}" '
                   f'text-anchor="middle" font-weight="bold">W = {w}</text>')
    for r in range(1, n + 1):
        out.append(f'<text x="{LEFT - 10:.1f}" y="{top + (r - 0.5) * CELL_H + 4:.1f}" '
                   f'text-anchor="end" font-weight="bold">R = {r}</text>')
    bar_room = CELL_W - 86
    for (r, w), m in sorted(cells.items()):
        x, y = LEFT + (w - 1) * CELL_W, top + (r - 1) * CELL_H
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{CELL_W:.1f}" '
                   f'height="{CELL_H:.1f}" fill="{_fill(m.stale_rate, worst)}" '
                   'stroke="#cbd5e0"/>')
        stale = (f"{m.stale_rate:.1%} stale" if m.stale_reads else "no stale read")
        out.append(f'<text x="{x + 10:.1f}" y="{y + 24:.1f}" font-size="14" '
                   f'font-weight="bold">{stale}</text>')
        out.append(f'<text x="{x + 10:.1f}" y="{y + 40:.1f}" fill="#1a202c" font-size="9">'
                   f"{m.stale_reads} of {m.reads} gets; R+W={r + w}</text>")
        out.append(f'<rect x="{x + 5:.1f}" y="{y + 50:.1f}" width="{CELL_W - 10:.1f}" '
                   'height="42" rx="3" fill="white" fill-opacity="0.85"/>')
        for row, (label, latency, colour) in enumerate((("get", m.get_latency.p50, GET),
                                                        ("put", m.put_latency.p50, PUT))):
            bar_y = y + 56 + 20 * row
            out.append(f'<text x="{x + 10:.1f}" y="{bar_y + 9:.1f}" fill="{colour}">'
                       f"{label}</text>")
            out.append(f'<rect x="{x + 38:.1f}" y="{bar_y:.1f}" '
                       f'width="{latency / slowest * bar_room:.1f}" height="11" '
                       f'fill="{colour}"/>')
            out.append(f'<text x="{x + 42 + latency / slowest * bar_room:.1f}" '
                       f'y="{bar_y + 9:.1f}" fill="{colour}">{latency * 1000:.0f} ms</text>')
    # the boundary: every edge between a cell with R + W <= N and one with R + W > N
    for (r, w) in sorted(cells):
        if r + w > n:
            continue
        x, y = LEFT + (w - 1) * CELL_W, top + (r - 1) * CELL_H
        if w < n and r + w + 1 > n:
            out.append(f'<line x1="{x + CELL_W:.1f}" y1="{y:.1f}" x2="{x + CELL_W:.1f}" '
                       f'y2="{y + CELL_H:.1f}" stroke="{EDGE}" stroke-width="3"/>')
        if r < n and r + 1 + w > n:
            out.append(f'<line x1="{x:.1f}" y1="{y + CELL_H:.1f}" x2="{x + CELL_W:.1f}" '
                       f'y2="{y + CELL_H:.1f}" stroke="{EDGE}" stroke-width="3"/>')
    out += _lines(10, top + n * CELL_H + 22, note, chars, fill="#2d3748")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(out_dir: str | Path) -> None:
    """Write the pictures into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "quorum-tradeoff.svg").write_text(quorum_picture(
        sweep_quorums(PLOT, PLOT_SEEDS), caption(PLOT, PLOT_SEEDS)))


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "assets" / "generated"
    main(sys.argv[1] if len(sys.argv) > 1 else default)
