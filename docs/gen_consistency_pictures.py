"""Draw the pictures of the "Consistency models" page with the checkers themselves.

``main(out_dir)`` writes, into ``out_dir``:

- ``consistency-map.svg``: the models as boxes, an arrow from each to the weaker ones it
  implies, labelled with the example history that separates the two;
- ``consistency-<example>.svg`` for each history of
  :data:`dsys.check.consistency_examples.EXAMPLES` (the histories the tests judge), drawn
  against the model it is about, with the operations of the violation marked.

The docs build calls ``main`` (docs/hooks.py runs every ``docs/gen_*.py``); run it by hand
with ``python docs/gen_consistency_pictures.py``.
"""

from __future__ import annotations

import html
import sys
import textwrap
from pathlib import Path

import dsys.trace.svg as measure  # its text measurement; the map is not a space-time diagram
from dsys.check import History, check_consistency, draw_history
from dsys.check.consistency_examples import EXAMPLES

#: The map: (name, label, x, y) of each box, in pixels (box centres).
BOXES = [
    ("linearizable", "linearizable", 330, 40),
    ("sequential", "sequential", 330, 140),
    ("eventual", "eventual convergence", 640, 140),
    ("causal", "causal memory", 170, 250),
    ("sessions", "session guarantees", 500, 250),
    ("weak-causal", "weak causal (CC)", 100, 360),
    ("pram", "PRAM", 300, 360),
]
#: Arrows from a stronger model to a weaker one, with the example that separates them.
ARROWS = [
    ("linearizable", "sequential", "stale-read"),
    ("linearizable", "eventual", "diverges"),
    ("sequential", "causal", "two-readers-disagree"),
    ("sequential", "sessions", "store-buffering"),
    ("causal", "weak-causal", "flip-flop"),
    ("causal", "pram", "cause-missing"),
]
_WIDTH, _HEIGHT = 180, 34
#: The canvas width, and the footnote under the map (wrapped to fit it).
CANVAS = 760
FOOTNOTE = ("An arrow: every history the upper model allows, the lower one allows too; in "
            "red, an example that the lower allows and the upper forbids.")


def draw_map() -> str:
    """The map of the models as an SVG document."""
    where = {name: (x, y) for name, _, x, y in BOXES}
    margin = 20
    footnote = textwrap.wrap(FOOTNOTE, int((CANVAS - 2 * margin) // measure.text_width("m", 10)))
    first = max(y for _, _, _, y in BOXES) + _HEIGHT / 2 + 24  # the footnote's first baseline
    height = int(first + 14 * len(footnote))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CANVAS}" height="{height}" '
        f'viewBox="0 0 {CANVAS} {height}" font-family="{measure.FONT_FAMILY}" font-size="12">',
        # double quotes: the docs prefix id="..." and url(#...) when they inline a picture
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
        f'<rect width="{CANVAS}" height="{height}" fill="white"/>',
    ]
    for strong, weak, example in ARROWS:
        (x1, top), (x2, bottom) = where[strong], where[weak]
        y1, y2 = top + _HEIGHT / 2, bottom - _HEIGHT / 2  # from the bottom to the top edge
        out.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#555" '
                   'stroke-width="1.4" marker-end="url(#arrow)"/>')
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        # beside the line, on its outer side: left of a line that goes down to the left
        lx, anchor = (mx - 6, "end") if x2 < x1 else (mx + 6, "start")
        out.append(f'<text x="{lx}" y="{my - 4}" text-anchor="{anchor}" font-size="10" '
                   f'fill="#c62828">{html.escape(example)}</text>')
    for _, label, x, y in BOXES:
        out.append(f'<rect x="{x - _WIDTH / 2}" y="{y - _HEIGHT / 2}" width="{_WIDTH}" '
                   f'height="{_HEIGHT}" rx="6" fill="#dbe9f7" stroke="#3f76ad"/>')
        out.append(f'<text x="{x}" y="{y + 4}" text-anchor="middle">{html.escape(label)}</text>')
    for number, line in enumerate(footnote):
        out.append(f'<text x="{margin}" y="{first + 14 * number}" font-size="10" fill="#555">'
                   f"{html.escape(line)}</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(out_dir: str | Path) -> list[Path]:
    """Write the pictures into ``out_dir`` (created if needed); return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "consistency-map.svg"]
    written[0].write_text(draw_map(), encoding="utf-8")
    for example in EXAMPLES.values():
        history = History.from_events(example.events)
        report = check_consistency(history, example.drawn_with, "register",
                                   **example.options_for(example.drawn_with))
        written.append(draw_history(history, out / f"consistency-{example.name}.svg",
                                    title=example.title, report=report, model="register"))
    return written


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "assets" / "generated"
    for path in main(sys.argv[1] if len(sys.argv) > 1 else default):
        print(path)
