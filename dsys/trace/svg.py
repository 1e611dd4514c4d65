"""Space-time (Lamport) diagrams of traces, as self-contained SVG.

One vertical lane per node, time flowing down. Each message is an arrow from its send to
its arrival, labelled with a short payload (``Note 3``, ``Said 'lunch?'``); a lost message
is a dashed arrow ending in a cross; a crash is a cross on the lane, which stays dotted
until the restart (a circle). Fired timers, log lines and notes are small glyphs with their
text beside the lane; partitions and one-way blocks are hatched bands. A legend explains
every glyph the drawing uses, and every glyph differs in shape or dash, not only in colour.
Hover any element for the full description of its event.

The rules of this file:

* **No label overlaps another.** Text is measured (the drawing uses a monospace font, so
  a character is ``CHAR_WIDTH`` em wide, two for wide characters), and each label tries a
  few places in turn; when none is free it is shortened, and in the end left out. The full
  text is always in the element's ``<title>`` (shown on hover). :func:`text_boxes` gives
  the boxes of a drawing's text, so tests can check this.
* **The canvas fits its content**: width and height are those of the lanes, labels,
  title and legend, plus a margin.
* **Lanes keep the order given** (``nodes``), by default the order in which nodes first
  appear in the trace.
* **Idle time is compressed**: a quiet gap longer than ``idle`` seconds is drawn short,
  with a zigzag break across the lanes and its length on the time axis.
* **Colours come from CSS variables**, with a dark palette used when the reader's system
  prefers dark, or when the drawing sits in a page of mkdocs-material's ``slate`` scheme.

Example:
    >>> from dsys import message
    >>> from dsys.trace import Trace, TraceEvent
    >>> from dsys.trace.svg import draw
    >>> @message(name="svgdoc:Note")
    ... class Note:
    ...     seq: int
    >>> trace = Trace([
    ...     TraceEvent(0.0, "a", "send", {"to": "b", "id": 1, "msg": Note(3)}),
    ...     TraceEvent(0.004, "b", "recv", {"from": "a", "id": 1, "msg": Note(3)}),
    ... ])
    >>> drawing = draw(trace, title="one note")
    >>> drawing.startswith("<svg") and ">Note 3</text>" in drawing
    True
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
import unicodedata
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from html import escape
from pathlib import Path
from typing import Any

import attrs

from dsys.core import codec
from dsys.core.messages import is_message, lookup_message
from dsys.errors import CodecError, UsageError
from dsys.trace.events import Trace, TraceEvent

#: The font of every text; all of its candidates are monospace.
FONT_FAMILY = "'DejaVu Sans Mono', 'Liberation Mono', Menlo, Consolas, monospace"
#: Width of one character, in em (DejaVu Sans Mono and Liberation Mono: 0.60; Menlo 0.60).
CHAR_WIDTH = 0.62
#: Height of a line of text above and below its baseline, in em (DejaVu Sans Mono's
#: ascent and descent, which is what browsers report as a text's box).
ASCENT, DESCENT = 0.93, 0.24
FONT_SIZE = 11
TITLE_SIZE = 13

MIN_LANE_GAP = 170  # pixels between lanes, at least
MIN_STEP = 8.0  # pixels between two distinct instants, at least
BREAK_STEP = 34.0  # pixels for a compressed idle gap
MARGIN = 10
MAX_TITLE_WIDTH = 760.0  # a longer title wraps
LABEL_CHARS = 36  # longest label drawn in full (the title has it all)
DEFAULT_FIELDS = 2  # fields shown by the default arrow label
STEP_PER_INSTANT = 40.0  # pixels per distinct instant, when the trace has few
PAD = 2.0  # pixels kept free around each label
STAGGER = 18.0  # pixels between a label and the one it makes room for
IDLE_FACTOR = 10  # by default, a gap this many times the median gap is idle time

#: The light and dark palettes (CSS custom properties of the drawing).
LIGHT = {
    "bg": "#ffffff", "fg": "#1a202c", "muted": "#5a6678", "lane": "#a0aec0",
    "message": "#2b6cb0", "drop": "#c53030", "crash": "#c53030", "restart": "#2f855a",
    "timer": "#975a16", "log": "#4a5568", "note": "#22707a", "client": "#6b46c1",
    "partition": "#97266d",
}
DARK = {
    "bg": "#1e2129", "fg": "#e2e8f0", "muted": "#a0aec0", "lane": "#5a6678",
    "message": "#7fb3f0", "drop": "#fc8181", "crash": "#fc8181", "restart": "#68d391",
    "timer": "#f6c453", "log": "#cbd5e0", "note": "#76e4f7", "client": "#b794f4",
    "partition": "#f687b3",
}

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

# ----- arrow labels -------------------------------------------------------------------------

_LABELS: dict[type, Callable[[Any], str]] = {}


def register_label(cls: type, formatter: Callable[[Any], str]) -> None:
    """Label every arrow of a message of class ``cls`` (or a subclass) with
    ``formatter(message)``, in every drawing. Saved traces hold messages as JSON: their
    labels use the formatter too when the message type is registered (``@message``).

    Example:
        >>> from dsys import message
        >>> from dsys.trace.svg import message_label, register_label
        >>> @message(name="svgdoc:Said")
        ... class Said:
        ...     text: str
        ...     to: str
        >>> message_label(Said("lunch?", "bob"))
        "Said text='lunch?' to='bob'"
        >>> register_label(Said, lambda m: f"Said {m.text!r}")
        >>> message_label(Said("lunch?", "bob"))
        "Said 'lunch?'"
    """
    if not isinstance(cls, type) or not callable(formatter):
        raise UsageError("register_label(cls, formatter): a class and a function of a message")
    _LABELS[cls] = formatter


def message_label(msg: object, labels: dict[type, Callable[[Any], str]] | None = None) -> str:
    """The short label of a message's arrow: by the formatter registered for its class
    (``labels`` first, then :func:`register_label`'s), else its type name and fields
    (``Note 3`` for one field, ``Vote term=2 granted=True …`` for several: the first two).
    A message in JSON form whose ``type`` is no registered type and has no ``:`` (as
    every default tag has) is a label chosen by whoever made the trace to draw
    (``{"type": "yes, t4", "body": ...}``): it is shown as it is.

    Example:
        >>> from dsys.trace.svg import message_label
        >>> message_label({"type": "app:Ping", "body": {"seq": 3}})
        'Ping 3'
        >>> message_label({"type": "yes, t4", "body": {"term": 4, "granted": True}})
        'yes, t4'
    """
    formatters = {**_LABELS, **(labels or {})}
    if isinstance(msg, dict):
        tag = str(msg.get("type", "?"))
        cls = lookup_message(tag)
        if cls is not None and _formatter(cls, formatters) is not None:
            with contextlib.suppress(CodecError):  # an old trace: its body is labelled
                msg = codec.decode(msg)
        if isinstance(msg, dict):
            if ":" not in tag and cls is None:  # a drawing's own label, not a message type
                return tag
            name = tag.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
            body = msg.get("body")
            return _default_label(name, body if isinstance(body, dict) else {})
    formatter = _formatter(type(msg), formatters)
    if formatter is not None:
        return str(formatter(msg))
    if attrs.has(type(msg)):
        return _default_label(type(msg).__name__, attrs.asdict(msg, recurse=False))  # type: ignore[arg-type]
    return _short(repr(msg), LABEL_CHARS)


def _formatter(cls: type, formatters: dict[type, Callable[[Any], str]]) -> Any:
    for klass in cls.__mro__:
        if klass in formatters:
            return formatters[klass]
    return None


def _default_label(name: str, fields: dict[str, Any]) -> str:
    if len(fields) == 1:
        return f"{name} {_value(next(iter(fields.values())))}"
    shown = [f"{k}={_value(v)}" for k, v in list(fields.items())[:DEFAULT_FIELDS]]
    return " ".join([name, *shown, *(["…"] if len(fields) > DEFAULT_FIELDS else [])])


def _value(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) > 3:
        return f"[{len(value)} items]"
    if is_message(value):
        return type(value).__name__
    return _short(repr(value), 14)


# ----- measuring text -----------------------------------------------------------------------


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """The width in pixels of ``text`` at font ``size`` in the drawing's monospace font.

    Example:
        >>> from dsys.trace.svg import text_width
        >>> round(text_width("Ping 3"), 2), round(text_width("Ping 3", size=22), 2)
        (40.92, 81.84)
    """
    units = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        units += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return units * CHAR_WIDTH * size


def text_box(x: float, y: float, text: str, size: float = FONT_SIZE,
             anchor: str = "start") -> Box:
    """The box ``(x0, y0, x1, y1)`` of ``text`` drawn with its baseline at ``(x, y)``
    and anchored there by ``anchor`` (``start``, ``middle`` or ``end``, as in SVG).

    Example:
        >>> from dsys.trace.svg import text_box
        >>> [round(v, 1) for v in text_box(100, 50, "Ping 3", anchor="middle")]
        [79.5, 39.8, 120.5, 52.6]
    """
    width = text_width(text, size)
    x0 = x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x
    return (x0, y - ASCENT * size, x0 + width, y + DESCENT * size)


def text_boxes(svg: str) -> list[tuple[str, Box]]:
    """Every ``<text>`` of an SVG document with its box, measured as :func:`text_width`
    does (font size and anchor inherited from the enclosing elements).

    Example:
        >>> from dsys.trace.svg import text_boxes
        >>> text_boxes('<svg xmlns="http://www.w3.org/2000/svg" font-size="10">'
        ...            '<text x="5" y="20">hi</text></svg>')
        [('hi', (5.0, 10.7, 17.4, 22.4))]
    """
    root = ElementTree.fromstring(svg)
    found: list[tuple[str, Box]] = []

    def walk(element: ElementTree.Element, size: float, anchor: str) -> None:
        size = _font_size(element, size)
        anchor = element.get("text-anchor", anchor)
        if element.tag.rsplit("}", 1)[-1] == "text":
            text = "".join(element.itertext())
            box = text_box(float(element.get("x", 0)), float(element.get("y", 0)), text,
                           size, anchor)
            found.append((text, tuple(round(v, 2) for v in box)))  # type: ignore[arg-type]
            return
        for child in element:
            walk(child, size, anchor)

    walk(root, FONT_SIZE, "start")
    return found


def _font_size(element: ElementTree.Element, inherited: float) -> float:
    size = element.get("font-size")
    style = re.search(r"font-size:\s*([\d.]+)", element.get("style", ""))
    if style:
        size = style.group(1)
    return float(size.removesuffix("px")) if size else inherited


def overlaps(a: Box, b: Box) -> bool:
    """True if two boxes ``(x0, y0, x1, y1)`` share more than a hairline.

    Example:
        >>> from dsys.trace.svg import overlaps
        >>> overlaps((0, 0, 10, 10), (5, 5, 15, 15)), overlaps((0, 0, 10, 10), (10, 0, 20, 10))
        (True, False)
    """
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5


class _Placer:
    """Places labels where no other label is, or shortens them, or leaves them out."""

    def __init__(self) -> None:
        self.boxes: list[Box] = []
        self.texts: list[str] = []
        self._rows: dict[int, list[Box]] = {}  # boxes by band of ROW pixels, to look up fast

    def free(self, box: Box, min_x: float = MARGIN / 2) -> bool:
        grown = (box[0] - PAD, box[1] - PAD, box[2] + PAD, box[3] + PAD)
        return box[0] >= min_x and box[1] >= 0 and not any(
            overlaps(grown, other) for row in _rows_of(grown)
            for other in self._rows.get(row, ()))

    def take(self, box: Box) -> None:
        self.boxes.append(box)
        for row in _rows_of(box):
            self._rows.setdefault(row, []).append(box)

    def place(self, text: str, spots: Iterable[tuple[float, float, str]], tip: str,
              cls: str, size: float = FONT_SIZE, weight: str | None = None,
              min_x: float = MARGIN / 2) -> bool:
        """Draw ``text`` at the first free spot ``(x, y, anchor)`` right of ``min_x``,
        shortening it if none is free; False if it could not be drawn at all."""
        spots = list(spots)
        for candidate in _shorter(text):
            for x, y, anchor in spots:
                box = text_box(x, y, candidate, size, anchor)
                if self.free(box, min_x):
                    self.take(box)
                    extra = f' font-size="{size}"' if size != FONT_SIZE else ""
                    extra += f' font-weight="{weight}"' if weight else ""
                    self.texts.append(
                        f'<g><title>{_esc(tip)}</title><text x="{x:.1f}" y="{y:.1f}" '
                        f'text-anchor="{anchor}" class="{cls}"{extra}>{_esc(candidate)}'
                        "</text></g>")
                    return True
        return False


ROW = 32


def _rows_of(box: Box) -> range:
    return range(int(box[1] // ROW), int(box[3] // ROW) + 1)


def _shorter(text: str) -> Iterable[str]:
    """``text``, then shorter and shorter versions of it ending in an ellipsis."""
    text = _short(text, LABEL_CHARS)
    yield text
    length = len(text)
    while length > 6:
        length = max(6, length * 2 // 3)
        if length < len(text):
            yield text[: length - 1] + "…"


def _esc(text: str) -> str:
    """``text`` as the content of an element (quotes stay as they are)."""
    return escape(text, quote=False)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wrap(text: str, width: float, size: float) -> list[str]:
    lines: list[str] = []
    for word in text.split(" "):
        if lines and text_width(f"{lines[-1]} {word}", size) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines or [""]


# ----- the time axis ------------------------------------------------------------------------


@attrs.frozen
class _Break:
    y0: float
    y1: float
    seconds: float


def _time_axis(times: list[float], height: float,
               idle: float | None) -> tuple[dict[float, float], list[_Break]]:
    """The y of every instant (from 0), and the compressed idle gaps."""
    if not times:
        return {}, []
    gaps = [b - a for a, b in itertools.pairwise(times)]
    if idle is None:
        span = times[-1] - times[0]
        ordinary = sorted(gaps)[len(gaps) // 2] if gaps else 0.0
        idle = max(span * 0.08, ordinary * IDLE_FACTOR) if len(gaps) >= 3 else math.inf
    active = sum(g for g in gaps if g <= idle)
    height = min(height, max(200.0, STEP_PER_INSTANT * len(times)))
    scale = height / active if active > 0 else 0.0
    y_of = {times[0]: 0.0}
    breaks = []
    y = 0.0
    for t, gap in zip(times[1:], gaps, strict=True):
        if gap > idle:
            breaks.append(_Break(y, y + BREAK_STEP, gap))
            y += BREAK_STEP
        else:
            y += max(MIN_STEP, gap * scale)
        y_of[t] = y
    return y_of, breaks


def _seconds(t: float) -> str:
    if abs(t) >= 100:
        return f"{t:.1f}s"
    if abs(t) >= 1:
        return f"{t:.3f}s"
    return f"{t:.4f}s"


# ----- drawing ------------------------------------------------------------------------------

_GLYPHS = {  # legend entries, in the order they are listed
    "message": "message",
    "duplicate": "duplicate copy",
    "drop": "lost message",
    "crash": "crash",
    "down": "node down",
    "restart": "restart",
    "timer": "timer fired",
    "log": "log line",
    "note": "protocol note",
    "client": "client operation",
    "violation": "violation or error",
    "partition": "partition or blocked link",
    "break": "idle time, cut short",
}


def draw(trace: Trace, *, nodes: list[str] | None = None, height: float = 600.0,
         max_events: int = 3000, title: str | None = None,
         labels: dict[type, Callable[[Any], str]] | None = None,
         idle: float | None = None, legend: bool = True) -> str:
    """Draw ``trace`` as an SVG document (a string). See the module docstring.

    Args:
        trace: the events to draw (filter it first: :meth:`Trace.filter`).
        nodes: the lanes, in this order (default: every node, in order of first
            appearance); events of other nodes are left out.
        height: pixels for the busy part of the time axis, at most (a trace with few
            distinct instants gets about 40 pixels for each; idle gaps are cut short;
            every distinct instant gets a few pixels at least).
        max_events: draw only the first this many events (the title says so).
        title: the heading (wrapped to the drawing's width).
        labels: arrow label formatters by message class, for this drawing only (see
            :func:`register_label`).
        idle: gaps with no event longer than this many seconds are drawn short
            (default: chosen from the trace; ``math.inf`` never cuts).
        legend: draw the legend of the glyphs used.
    """
    if max_events < 1:
        raise UsageError(f"max_events must be at least 1, not {max_events}")
    if not height > 0:
        raise UsageError(f"height must be a positive number of pixels, not {height}")
    if idle is not None and not idle > 0:
        raise UsageError(f"idle must be a positive number of seconds, not {idle}")
    all_events = list(trace)
    events = all_events[:max_events]
    if nodes is not None:
        if isinstance(nodes, str) or not all(isinstance(n, str) and n for n in nodes):
            raise UsageError(f"nodes must be a list of node ids, not {nodes!r}")
        if len(set(nodes)) != len(nodes):
            raise UsageError(f"nodes lists a node twice: {nodes!r}")
        lanes = list(nodes)
    else:
        lanes = _first_appearance(events)
    heading = title or "space-time diagram"
    if len(events) < len(all_events):
        heading += f" (first {len(events)} of {len(all_events)} events)"
    return _Drawing(events, lanes, height, heading, labels, idle, legend).svg()


def _first_appearance(events: list[TraceEvent]) -> list[str]:
    seen: dict[str, None] = {}
    for e in events:
        if e.node:
            seen.setdefault(e.node)
        if e.kind in ("send", "drop", "duplicate") and isinstance(e.data.get("to"), str):
            seen.setdefault(e.data["to"])
    return list(seen)


class _Drawing:
    """One drawing being laid out: shapes in three layers, texts placed without overlap."""

    def __init__(self, events: list[TraceEvent], lanes: list[str], height: float,
                 heading: str, labels: dict[type, Callable[[Any], str]] | None,
                 idle: float | None, legend: bool) -> None:
        self.lanes = lanes
        self.labels = labels
        self.used: set[str] = set()
        self.placer = _Placer()
        self.back: list[str] = []
        self.shapes: list[str] = []
        lane_set = set(lanes)
        self.events = [e for e in events if e.node in lane_set
                       or (not e.node and e.kind in ("partition", "block", "heal"))
                       or (e.kind == "drop" and e.data.get("from") in lane_set)]
        widest = max((text_width(n, FONT_SIZE) for n in lanes), default=0.0)
        self.gap = max(MIN_LANE_GAP, widest + 30)
        self.axis = text_width("00.0000s") + 2 * MARGIN
        first_x = self.axis + max(40.0, widest / 2 + 10)
        self.x_of = {node: first_x + i * self.gap for i, node in enumerate(lanes)}
        self.right = first_x + max(len(lanes) - 1, 0) * self.gap + 60
        times = sorted({e.time for e in self.events})
        y_rel, self.breaks = _time_axis(times, height, idle)
        # The heading, then the legend, then lane names: all known before the lanes' top.
        # As wide as the lanes, or as the title up to MAX_TITLE_WIDTH (then it wraps).
        title_width = text_width(heading, TITLE_SIZE) + 2 * MARGIN
        self.width = max(self.right + MARGIN, min(title_width, MAX_TITLE_WIDTH), 360.0)
        y = MARGIN + ASCENT * TITLE_SIZE
        for line in _wrap(heading, self.width - 2 * MARGIN, TITLE_SIZE):
            self.placer.take(text_box(MARGIN, y, line, TITLE_SIZE))
            self.placer.texts.append(f'<text x="{MARGIN}" y="{y:.1f}" font-size="{TITLE_SIZE}" '
                                     f'font-weight="bold">{_esc(line)}</text>')
            y += 1.3 * TITLE_SIZE
        self.legend_y = y + 4
        self.legend = legend
        self.y_rel = y_rel
        self.heading = heading

    # The legend sits above the lanes, and its height depends on the glyphs used: so the
    # events are scanned for those first, and drawn below the legend once it is placed.
    def svg(self) -> str:
        self._prescan()
        top = self._legend() if self.legend else self.legend_y
        names_y = top + 14
        self.top = names_y + 16
        self.y_of = {t: self.top + 12 + y for t, y in self.y_rel.items()}
        self.bottom = (max(self.y_of.values()) if self.y_of else self.top) + 30
        for node, x in self.x_of.items():
            self.placer.place(node, [(x, names_y, "middle")], f"node {node}", "fg", FONT_SIZE,
                              "bold")
        self._lanes()
        self._breaks()
        self._bands()
        self._events()
        self._time_labels()
        boxes = self.placer.boxes
        width = max([self.width - MARGIN, self.right, *(b[2] for b in boxes)]) + MARGIN
        height = max([self.bottom, *(b[3] for b in boxes)]) + MARGIN
        return "\n".join([
            f'<svg xmlns="http://www.w3.org/2000/svg" class="dsys-st" width="{width:.0f}" '
            f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'font-family="{FONT_FAMILY}" font-size="{FONT_SIZE}" role="img" '
            f'aria-label="{escape(self.heading)}">',
            _style(),
            _defs(),
            '<rect class="bg" width="100%" height="100%"/>',
            *self.back, *self.shapes, *self.placer.texts, "</svg>",
        ]) + "\n"

    def _prescan(self) -> None:
        """Which glyphs the drawing uses (for the legend)."""
        received: set[Any] = set()
        for e in self.events:
            kind = {"recv": "message", "drop": "drop", "crash": "crash", "restart": "restart",
                    "timer_fire": "timer", "log": "log", "note": "note", "invoke": "client",
                    "complete": "client", "violation": "violation", "error": "violation",
                    "partition": "partition", "block": "partition"}.get(e.kind)
            if e.kind == "recv":
                mid = (e.data.get("from"), e.data.get("id"))
                if mid in received:
                    kind = "duplicate"
                received.add(mid)
            if e.kind == "crash":
                self.used.add("down")
            if kind is not None:
                self.used.add(kind)
        if self.breaks:
            self.used.add("break")

    def _legend(self) -> float:
        x, y = float(MARGIN), self.legend_y + 8
        for key, label in _GLYPHS.items():
            if key not in self.used:
                continue
            width = 34 + text_width(label) + 18
            if x + width > self.width - MARGIN and x > MARGIN:
                x, y = float(MARGIN), y + 18
            self.shapes.append(_legend_glyph(key, x + 13, y))
            box = text_box(x + 32, y + 4, label)
            self.placer.take(box)
            self.placer.texts.append(f'<text x="{x + 32:.1f}" y="{y + 4:.1f}" class="muted">'
                                     f"{_esc(label)}</text>")
            x += width
        return y + 14 if self.used else self.legend_y

    def _lanes(self) -> None:
        down: dict[str, list[tuple[float, float]]] = {n: [] for n in self.lanes}
        since: dict[str, float] = {}
        for e in self.events:
            if e.kind == "crash" and e.node in self.x_of:
                since.setdefault(e.node, self.y_of[e.time])
            elif e.kind == "restart" and e.node in since:
                down[e.node].append((since.pop(e.node), self.y_of[e.time]))
        for node, y in since.items():
            down[node].append((y, self.bottom))
        for node, x in self.x_of.items():
            self.back.append(f'<line class="lane" x1="{x:.1f}" y1="{self.top:.1f}" '
                             f'x2="{x:.1f}" y2="{self.bottom:.1f}"/>')
            for y0, y1 in down[node]:
                ends = f'x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}"'
                self.back.append(f"<g><title>{_esc(node)} is down</title>"
                                 f'<line class="bgs" stroke-width="4" {ends}/>'
                                 f'<line class="down" {ends}/></g>')

    def _breaks(self) -> None:
        x0, x1 = self.axis - 4, self.right
        for brk in self.breaks:
            y0, y1 = self.top + 12 + brk.y0 + 9, self.top + 12 + brk.y1 - 9
            mid = (y0 + y1) / 2
            tip = f"{brk.seconds:.4g} s with no event, drawn short"
            self.back.append(
                f'<g><title>{tip}</title><rect class="bg" x="{x0:.1f}" y="{y0:.1f}" '
                f'width="{x1 - x0:.1f}" height="{y1 - y0:.1f}"/>'
                f'<path class="brk" d="{_zigzag(x0, x1, y0)} {_zigzag(x0, x1, y1)}"/></g>')
            self.placer.place(f"+{brk.seconds:.3g}s", [(self.axis - 8, mid + 4, "end")],
                              tip, "muted")

    def _bands(self) -> None:
        open_bands: list[tuple[float, list[str]]] = []
        bands: list[tuple[float, float, list[str]]] = []
        for e in self.events:
            if e.kind == "partition":
                bands.extend((y0, self.y_of[e.time], w) for y0, w in open_bands
                             if w and w[0].startswith("partition"))
                open_bands = [b for b in open_bands if not b[1][0].startswith("partition")]
                groups = e.data.get("groups", [])
                what = "partition " + " | ".join(",".join(map(str, g)) for g in groups)
                open_bands.append((self.y_of[e.time], [what]))
            elif e.kind == "block":
                what = f"block {e.data.get('from')}->{e.data.get('to')}"
                if open_bands and open_bands[-1][0] == self.y_of[e.time] \
                        and open_bands[-1][1][0].startswith("block"):
                    open_bands[-1][1].append(what.removeprefix("block "))
                else:
                    open_bands.append((self.y_of[e.time], [what]))
            elif e.kind == "heal":
                bands.extend((y0, self.y_of[e.time], w) for y0, w in open_bands)
                open_bands = []
        bands.extend((y0, self.bottom, w) for y0, w in open_bands)
        x0, x1 = self.axis - 4, self.right
        for y0, y1, parts in bands:
            text = ", ".join(parts)
            self.back.append(
                f'<g><title>{_esc(text)}</title><rect class="band" x="{x0:.1f}" '
                f'y="{y0:.1f}" width="{x1 - x0:.1f}" height="{max(y1 - y0, 2):.1f}"/>'
                f'<line class="edge" x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y0:.1f}"/>'
                f'<line class="edge" x1="{x0:.1f}" y1="{y1:.1f}" x2="{x1:.1f}" y2="{y1:.1f}"/>'
                "</g>")
            spots = [(self.right - 4, y0 + 12, "end"), (self.right - 4, y0 - 4, "end"),
                     (self.right + 4, y0 + 4, "start")]
            self.placer.place(text, spots, text, "part")

    def _events(self) -> None:
        sends: dict[Any, TraceEvent] = {}
        received: set[Any] = set()
        labelled: list[tuple[float, float, float, float, str, str]] = []
        for e in self.events:
            if e.kind == "send":
                sends[(e.node, e.data.get("id"))] = e
        for e in self.events:
            y = self.y_of[e.time]
            x = self.x_of.get(e.node)
            tip = f"{e.time:.6f} {e.node}: {e.describe()}"
            if e.kind == "recv" and x is not None:
                src = e.data.get("from")
                send = sends.get((src, e.data.get("id")))
                if send is None or src not in self.x_of:
                    continue
                key = (src, e.data.get("id"))
                kind = "duplicate" if key in received else "message"
                received.add(key)
                x0, y0 = self.x_of[str(src)], self.y_of[send.time]
                self.shapes.append(f'<g><title>{_esc(tip)}</title>'
                                   f'{_arrow(x0, y0, x, y, kind)}</g>')
                labelled.append((x0, y0, x, y, self._label(e), tip))
            elif e.kind == "drop":
                src, dst = e.data.get("from"), e.data.get("to")
                if src not in self.x_of or dst not in self.x_of:
                    continue
                send = sends.get((src, e.data.get("id")))
                y0 = self.y_of[send.time] if send is not None else y
                x0, x1 = self.x_of[str(src)], self.x_of[str(dst)]
                xm = x0 + (x1 - x0) * 0.45 if x1 != x0 else x0 + 30
                ym = max(y, y0 + 10)
                self.shapes.append(
                    f'<g><title>{_esc(tip)}</title><line class="drop" x1="{x0:.1f}" '
                    f'y1="{y0:.1f}" x2="{xm:.1f}" y2="{ym:.1f}"/>{_cross(xm, ym, 4, "drop")}'
                    "</g>")
                name = self._label(send) if send is not None else str(
                    e.data.get("type") or e.message_name or "message")
                labelled.append((x0, y0, xm, ym, name, tip))
            elif x is None:
                continue
            elif e.kind == "crash":
                self.shapes.append(f"<g><title>{_esc(tip)}</title>"
                                   f"{_cross(x, y, 7, 'crash')}</g>")
            elif e.kind == "restart":
                self.shapes.append(f'<g><title>{_esc(tip)}</title><circle class="restart" '
                                   f'cx="{x:.1f}" cy="{y:.1f}" r="6"/></g>')
            elif e.kind == "timer_fire":
                self.shapes.append(f'<g><title>{_esc(tip)}</title><circle class="timer" '
                                   f'cx="{x:.1f}" cy="{y:.1f}" r="3"/></g>')
            elif e.kind in ("note", "log"):
                shape = (f'<polygon class="note" points="{x},{y - 5} {x + 5},{y} {x},{y + 5} '
                         f'{x - 5},{y}"/>' if e.kind == "note" else
                         f'<rect class="log" x="{x - 3.5}" y="{y - 3.5}" width="7" '
                         f'height="7"/>')
                self.shapes.append(f"<g><title>{_esc(tip)}</title>{shape}</g>")
                self._side_label(x, y, e.describe(), tip, e.kind)
            elif e.kind in ("invoke", "complete"):
                self.shapes.append(f'<g><title>{_esc(tip)}</title><rect class="client" '
                                   f'x="{x - 6:.1f}" y="{y - 3:.1f}" width="12" height="6"/></g>')
                prefix = "→ " if e.kind == "invoke" else "← "
                self._side_label(x, y, prefix + _client_text(e), tip, "client")
            elif e.kind in ("violation", "error"):
                self.shapes.append(f'<g><title>{_esc(tip)}</title><circle class="violation" '
                                   f'cx="{x:.1f}" cy="{y:.1f}" r="9"/></g>')
                self._side_label(x, y, e.describe(), tip, "crash")
        for x0, y0, x1, y1, text, tip in labelled:
            self._arrow_label(x0, y0, x1, y1, text, tip)

    def _label(self, e: TraceEvent) -> str:
        msg = e.data.get("msg")
        if msg is None:
            return e.message_name or "message"
        return message_label(msg, self.labels)

    def _arrow_label(self, x0: float, y0: float, x1: float, y1: float, text: str,
                     tip: str) -> None:
        spots = []
        for f in (0.5, 0.7, 0.3, 0.85, 0.15):
            x, y = x0 + (x1 - x0) * f, y0 + (y1 - y0) * f
            if x0 == x1:  # a message to itself: its loop is on the right
                spots.append((x + 10, y + 4, "start"))
            else:
                spots.append((x, y - 3, "middle"))
                spots.append((x, y + 12, "middle"))
        self.placer.place(text, spots, tip, "message", min_x=self.axis)

    def _side_label(self, x: float, y: float, text: str, tip: str, cls: str) -> None:
        spots = [(x + 9, y + 4, "start"), (x - 9, y + 4, "end")]
        for shift in (STAGGER, -STAGGER, 2 * STAGGER, -2 * STAGGER):  # a line down, up...
            spots += [(x + 9, y + 4 + shift, "start"), (x - 9, y + 4 + shift, "end")]
        self.placer.place(text, spots, tip, cls, min_x=self.axis)

    def _time_labels(self) -> None:
        last = -math.inf
        for t, y in sorted(self.y_of.items()):
            if y - last >= 40:
                text = _seconds(t)
                if self.placer.place(text, [(self.axis - 8, y + 4, "end")],
                                     f"virtual time {t:.6f} s", "muted"):
                    last = y


def _client_text(e: TraceEvent) -> str:
    op = e.data.get("op", {})
    if not isinstance(op, dict):
        return str(op)
    key = f" {op.get('key')}" if "key" in op else ""
    value = op.get("value")
    shown = "" if value is None else f" {value!r}"
    status = "" if e.kind == "invoke" else f" {op.get('type')}"
    return f"{op.get('f')}{key}{shown}{status}"


def _zigzag(x0: float, x1: float, y: float) -> str:
    points = [f"M{x0:.1f},{y:.1f}"]
    x, up = x0, True
    while x < x1:
        x = min(x + 6, x1)
        points.append(f"L{x:.1f},{y - 3 if up else y + 3:.1f}")
        up = not up
    return " ".join(points)


def _cross(x: float, y: float, r: float, cls: str) -> str:
    return (f'<path class="{cls}-x" d="M{x - r:.1f},{y - r:.1f} L{x + r:.1f},{y + r:.1f} '
            f'M{x - r:.1f},{y + r:.1f} L{x + r:.1f},{y - r:.1f}"/>')


def _arrow(x0: float, y0: float, x1: float, y1: float, kind: str) -> str:
    if x0 == x1:  # a message to itself: a small loop
        path = f"M{x0:.1f},{y0:.1f} C{x0 + 40:.1f},{y0:.1f} {x1 + 40:.1f},{y1:.1f} " \
               f"{x1 + 2:.1f},{y1:.1f}"
    else:
        path = f"M{x0:.1f},{y0:.1f} L{x1:.1f},{y1:.1f}"
    return f'<path class="{kind}" d="{path}" marker-end="url(#dsys-st-head-{kind})"/>'


def _legend_glyph(key: str, x: float, y: float) -> str:
    if key in ("message", "duplicate"):
        return f'<path class="{key}" d="M{x - 12},{y} L{x + 12},{y}" ' \
               f'marker-end="url(#dsys-st-head-{key})"/>'
    if key == "drop":
        return f'<line class="drop" x1="{x - 12}" y1="{y}" x2="{x + 6}" y2="{y}"/>' + \
            _cross(x + 8, y, 4, "drop")
    if key == "crash":
        return _cross(x, y, 6, "crash")
    if key == "down":
        return f'<line class="down" x1="{x - 12}" y1="{y}" x2="{x + 12}" y2="{y}"/>'
    if key == "restart":
        return f'<circle class="restart" cx="{x}" cy="{y}" r="6"/>'
    if key == "timer":
        return f'<circle class="timer" cx="{x}" cy="{y}" r="3"/>'
    if key == "log":
        return f'<rect class="log" x="{x - 3.5}" y="{y - 3.5}" width="7" height="7"/>'
    if key == "note":
        return f'<polygon class="note" points="{x},{y - 5} {x + 5},{y} {x},{y + 5} {x - 5},{y}"/>'
    if key == "client":
        return f'<rect class="client" x="{x - 6}" y="{y - 3}" width="12" height="6"/>'
    if key == "violation":
        return f'<circle class="violation" cx="{x}" cy="{y}" r="6"/>'
    if key == "partition":
        return f'<rect class="band" x="{x - 12}" y="{y - 6}" width="24" height="12"/>' \
               f'<line class="edge" x1="{x - 12}" y1="{y - 6}" x2="{x + 12}" y2="{y - 6}"/>' \
               f'<line class="edge" x1="{x - 12}" y1="{y + 6}" x2="{x + 12}" y2="{y + 6}"/>'
    zigzags = f"{_zigzag(x - 12, x + 12, y - 3)} {_zigzag(x - 12, x + 12, y + 3)}"
    return f'<path class="brk" d="{zigzags}"/>'


def _palette(colours: dict[str, str]) -> str:
    return ";".join(f"--st-{name}:{value}" for name, value in colours.items())


def _style() -> str:
    light, dark = _palette(LIGHT), _palette(DARK)
    rules = [
        f".dsys-st{{{light}}}",
        f"@media (prefers-color-scheme: dark){{.dsys-st{{{dark}}}}}",
        # In a page of mkdocs-material, the page's scheme wins over the system's.
        f"[data-md-color-scheme=slate] .dsys-st{{{dark}}}",
        f"[data-md-color-scheme=default] .dsys-st{{{light}}}",
        ".dsys-st .bg{fill:var(--st-bg)}",
        ".dsys-st .bgs{stroke:var(--st-bg)}",
        ".dsys-st text{fill:var(--st-fg);paint-order:stroke;stroke:var(--st-bg);"
        "stroke-width:3px;stroke-linejoin:round}",
        ".dsys-st text.muted{fill:var(--st-muted)}",
        ".dsys-st text.message{fill:var(--st-message)}",
        ".dsys-st text.log{fill:var(--st-log)}",
        ".dsys-st text.note{fill:var(--st-note);font-weight:bold}",
        ".dsys-st text.client{fill:var(--st-client)}",
        ".dsys-st text.crash{fill:var(--st-crash)}",
        ".dsys-st text.part{fill:var(--st-partition)}",
        ".dsys-st .lane{stroke:var(--st-lane);stroke-width:2}",
        ".dsys-st .down{stroke:var(--st-crash);stroke-width:1.5;stroke-dasharray:1,4;"
        "stroke-linecap:round}",
        ".dsys-st path.message{fill:none;stroke:var(--st-message);stroke-width:1.3}",
        ".dsys-st path.duplicate{fill:none;stroke:var(--st-message);stroke-width:1.3;"
        "stroke-dasharray:7,2,1.5,2}",
        ".dsys-st .drop{stroke:var(--st-drop);stroke-width:1.3;stroke-dasharray:5,3}",
        ".dsys-st .drop-x{stroke:var(--st-drop);stroke-width:2;fill:none}",
        ".dsys-st .crash-x{stroke:var(--st-crash);stroke-width:3;fill:none}",
        ".dsys-st .restart{fill:var(--st-bg);stroke:var(--st-restart);stroke-width:2.5}",
        ".dsys-st .timer{fill:var(--st-timer)}",
        ".dsys-st rect.log{fill:var(--st-log)}",
        ".dsys-st polygon.note{fill:var(--st-note)}",
        ".dsys-st rect.client{fill:var(--st-client)}",
        ".dsys-st .violation{fill:none;stroke:var(--st-crash);stroke-width:3;"
        "stroke-dasharray:3,2}",
        ".dsys-st .band{fill:url(#dsys-st-hatch);stroke:none}",
        ".dsys-st .hatch{stroke:var(--st-partition);stroke-width:1;opacity:.45}",
        ".dsys-st .edge{stroke:var(--st-partition);stroke-width:1.5;stroke-dasharray:8,4}",
        ".dsys-st .brk{fill:none;stroke:var(--st-muted);stroke-width:1.2}",
        ".dsys-st .head-message,.dsys-st .head-duplicate{fill:var(--st-message)}",
    ]
    return "<style>" + "\n".join(rules) + "</style>"


def _defs() -> str:
    heads = "".join(
        f'<marker id="dsys-st-head-{k}" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path class="head-{k}" d="M0,0 L10,5 L0,10 z"/></marker>'
        for k in ("message", "duplicate"))
    hatch = ('<pattern id="dsys-st-hatch" width="8" height="8" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><line class="hatch" x1="0" y1="0" x2="0" '
             'y2="8"/></pattern>')
    return f"<defs>{heads}{hatch}</defs>"


def save(trace: Trace, path: str | Path, **options: Any) -> Path:
    """Draw ``trace`` (with :func:`draw`'s ``options``) and write the SVG to ``path``
    (parent folders are created); returns the path.

    Example:
        >>> from dsys.trace import Trace, TraceEvent
        >>> from dsys.trace.svg import save
        >>> path = save(Trace([TraceEvent(0.0, "a", "log", {"text": "hi"})]), "out/hi.svg")
        >>> path.read_text().startswith("<svg")
        True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(draw(trace, **options), encoding="utf-8")
    return path
