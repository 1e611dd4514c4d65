"""Drawings of histories: one row per process, one bar per operation.

A bar runs from an operation's invoke to its completion. An ``info`` operation (outcome
unknown) fades out to the right edge, because it may take effect at any later time; a
``fail`` operation is grey. Given a :class:`~dsys.check.CheckResult`, the drawing also
marks a linearization point in each placed operation, numbered in linearization order and
joined by a thin line, so you can read the sequential order off the picture. For a history
that is not linearizable it shows the longest partial linearization, outlines in red the
operations that could not go next, and shades the region where the search got stuck: from
the last placed operation to the completion that could not be met.

Given a :class:`History` and the :class:`~dsys.check.Report` of a consistency checker
(``report=``), it outlines in red the operations the violations name, numbers those of the
first violation in the order its explanation gives them, and writes the explanation
underneath. ``model=`` names the model whose words label the bars.

The output is plain SVG (or an HTML page around it) with no scripts and no external files;
hovering over a bar shows its full description, using SVG's own ``<title>`` tooltips.

>>> from dsys.check import History, check_linearizable, render_svg
>>> history = History.from_events([
...     {"process": 0, "type": "invoke", "f": "write", "value": 1},
...     {"process": 0, "type": "ok", "f": "write", "value": 1},
... ])
>>> render_svg(check_linearizable(history, "register")).startswith("<svg")
True
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsys.check.history import CheckInputError, History, Operation
from dsys.check.linearizable import CheckResult, Verdict
from dsys.check.models import Model, get_model
from dsys.check.report import Report
from dsys.trace.svg import FONT_FAMILY, text_width

# Layout, in pixels.
_LEFT = 64  # room for the process labels
_RIGHT = 24
_TOP = 44  # room for the title
_ROW = 36
_BAR = 20
_SIZE = 11  # the label font size; texts are measured with dsys.trace.svg.text_width
_FONT = FONT_FAMILY

_COLOURS = {
    "ok": ("#dbe9f7", "#3f76ad"),
    "fail": ("#eeeeee", "#9e9e9e"),
    "info": ("#fdf0d5", "#c08a1e"),
    "skipped": ("#f6f6f6", "#c8c8c8"),
}
_POINT = "#1b7a3a"
_STUCK = "#c62828"
_EXPLAIN = 46  # from the axis to the baseline of the first explanation line


@dataclass(frozen=True)
class _Scale:
    """Maps history times to x pixel positions."""

    start: float
    end: float
    width: float

    def x(self, time: float) -> float:
        span = self.end - self.start or 1.0
        return _LEFT + (min(time, self.end) - self.start) / span * self.width


def render_svg(
    subject: CheckResult | History,
    *,
    title: str | None = None,
    report: Report | None = None,
    model: str | Model[Any] | None = None,
) -> str:
    """Draw a history, or a check result with its linearization, as an SVG document.

    For a result that is not linearizable and has several independent parts (keys), only
    the failing part is drawn: the others were fine and would hide the problem. With a
    ``report`` (of a history), the operations its violations name are marked.
    """
    result = subject if isinstance(subject, CheckResult) else None
    history = subject.history if isinstance(subject, CheckResult) else subject
    if report is not None and result is not None:
        raise CheckInputError("draw a History with a report, or a CheckResult, not both")
    if result is not None:
        model = result.model
    elif model is not None:
        model = get_model(model)
    marks = _marks(report)

    operations = list(history.operations)
    points: list[list[Operation]] = []  # linearization orders, one per part
    failure = result.failure if result is not None else None
    if result is not None:
        if failure is not None and len(result.partitions) > 1:
            operations = [op for op in operations if op.key == failure.key]
            points = [list(failure.linearization)]
        else:
            points = [list(part.linearization) for part in result.partitions]
    needed = (
        {op.index for part in result.partitions for op in part.operations}
        if result is not None
        else {op.index for op in operations}
    )

    processes = sorted({op.process for op in operations}, key=lambda p: (isinstance(p, str), p))
    row_of = {process: row for row, process in enumerate(processes)}
    scale = _make_scale(operations, history)
    if report is not None:
        scale = _fit_labels(scale, operations, model)
    plot_bottom = _TOP + _ROW * max(len(processes), 1)

    caption = _caption(result, title, history)
    if len(operations) < len(history):
        assert failure is not None
        caption += f", drawn: key {failure.key!r}"
    explanation = _short_explanation(result, model)
    if report is not None:
        caption = _report_caption(report, title, history)
        explanation = _report_explanation(report)
    # Under the axis: the tick labels, the unit, then the explanation lines.
    height = plot_bottom + 4 + _EXPLAIN + 16 * len(explanation)
    # Wide enough for the plot, the title (14px bold) and the explanation lines.
    widest = max([text_width(caption, 14)] + [text_width(line, _SIZE) for line in explanation])
    width = math.ceil(max(_LEFT + scale.width + _RIGHT, _LEFT + widest + _RIGHT))
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{_FONT}" font-size="11">',
        "<defs>",
        '<linearGradient id="dsys-fade" x1="0" x2="1" y1="0" y2="0">'
        f'<stop offset="0" stop-color="{_COLOURS["info"][0]}" stop-opacity="1"/>'
        f'<stop offset="1" stop-color="{_COLOURS["info"][0]}" stop-opacity="0"/>'
        "</linearGradient>",
        "</defs>",
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
        f'<text x="{_LEFT}" y="22" font-size="14" font-weight="bold">{_esc(caption)}</text>',
    ]

    # Rows, with alternating shading so that long rows stay easy to follow.
    for process, row in row_of.items():
        y = _TOP + row * _ROW
        if row % 2:
            out.append(
                f'<rect x="{_LEFT}" y="{y}" width="{scale.width:.1f}" height="{_ROW}" '
                'fill="#fafafa"/>'
            )
        out.append(
            f'<text x="{_LEFT - 10}" y="{y + _ROW / 2 + 4:.1f}" text-anchor="end">'
            f"{_esc(f'p{process}')}</text>"
        )

    stuck = {op.index for op, _ in failure.stuck} if failure is not None else set(marks)
    blocked = failure.blocked_by.index if failure and failure.blocked_by else None
    if failure is not None:
        out.extend(_failure_region(failure.linearization, failure.blocked_by, scale, plot_bottom))

    for op in operations:
        out.extend(
            _bar(
                op,
                row_of[op.process],
                scale,
                model,
                op.index in needed,
                op.index in stuck,
                op.index == blocked,
            )
        )

    for order in points:
        out.extend(_points(order, row_of, scale, numbered=len(order) <= 60))
    for op in operations:
        number = marks.get(op.index)
        if number is not None:
            out.extend(_badge(op, row_of[op.process], scale, number))

    # The time axis and the explanation underneath.
    axis_y = plot_bottom + 4
    out.append(
        f'<line x1="{_LEFT}" y1="{axis_y}" x2="{_LEFT + scale.width:.1f}" y2="{axis_y}" '
        'stroke="#888"/>'
    )
    unit = "time (s)" if history.has_times else "event number"
    out.append(
        f'<text x="{_LEFT + scale.width:.1f}" y="{axis_y + 28}" text-anchor="end" '
        f'fill="#666">{unit}</text>'
    )
    for tick in _ticks(scale.start, scale.end):
        x = scale.x(tick)
        out.append(
            f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="#888"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle" fill="#666">'
            f"{_fmt(tick)}</text>"
        )
    for number, line in enumerate(explanation):
        failed = (result is not None and not result.linearizable) or (
            report is not None and not report.ok)
        colour = _STUCK if failed and number == 0 else "#222"
        out.append(
            f'<text x="{_LEFT}" y="{axis_y + _EXPLAIN + 16 * number}" fill="{colour}">'
            f"{_esc(line)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_html(
    subject: CheckResult | History,
    *,
    title: str | None = None,
    report: Report | None = None,
    model: str | Model[Any] | None = None,
) -> str:
    """A self-contained HTML page: the drawing and, for a result or a report, the full
    explanation."""
    result = subject if isinstance(subject, CheckResult) else None
    history = subject.history if isinstance(subject, CheckResult) else subject
    heading = _caption(result, title, history)
    explanation = result.explain() if result is not None else ""
    if report is not None:
        heading = _report_caption(report, title, history)
        explanation = report.explain(limit=len(report.violations))
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_esc(heading)}</title>\n"
        "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
        "pre{background:#f6f6f6;padding:1em;overflow-x:auto}"
        ".drawing{overflow-x:auto}</style>\n</head>\n<body>\n"
        f"<h1>{_esc(heading)}</h1>\n"
        f'<div class="drawing">\n{render_svg(subject, title=title, report=report, model=model)}'
        "</div>\n"
        + (f"<pre>{_esc(explanation)}</pre>\n" if explanation else "")
        + "</body>\n</html>\n"
    )


def draw_history(
    subject: CheckResult | History,
    path: str | Path,
    *,
    title: str | None = None,
    report: Report | None = None,
    model: str | Model[Any] | None = None,
) -> Path:
    """Write a drawing to ``path``: SVG if it ends in ``.svg``, HTML if ``.html``/``.htm``.

    ``report`` and ``model``: see :func:`render_svg` (a consistency report's operations
    are marked).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".svg":
        text = render_svg(subject, title=title, report=report, model=model)
    elif suffix in (".html", ".htm"):
        text = render_html(subject, title=title, report=report, model=model)
    else:
        raise CheckInputError(f"{path}: a drawing must end in .svg or .html")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise CheckInputError(f"{path}: cannot write the drawing: {error}") from None
    return path


# --- helpers --------------------------------------------------------------------------------


def _make_scale(operations: Sequence[Operation], history: History) -> _Scale:
    times = [op.invoke_time for op in operations]
    times += [op.complete_time for op in operations if op.complete_time is not None]
    if not times:
        return _Scale(0.0, 1.0, 480.0)
    start, last = min(times), max(times)
    span = (last - start) or 1.0
    # Leave room after the last event for operations that never completed.
    pad = span * 0.06 if any(op.returns_at == math.inf for op in operations) else 0.0
    events = 2 * len(operations)
    width = float(min(max(events * 18, 480), 6000))
    return _Scale(start, last + pad, width)


def _fit_labels(scale: _Scale, operations: Sequence[Operation], model: Model[Any] | None
                ) -> _Scale:
    """Widen the plot (up to 1400 pixels) so that every completed bar shows its label:
    a drawing of a small history, where the words are the point."""
    wanted = scale.width
    span = scale.end - scale.start or 1.0
    for op in operations:
        if op.complete_time is None or op.complete_time <= op.invoke_time:
            continue
        text = model.describe_operation(op) if model is not None else op.label()
        wanted = max(wanted, (text_width(text, _SIZE) + 12) * span
                     / (op.complete_time - op.invoke_time))
    return _Scale(scale.start, scale.end, min(wanted, max(scale.width, 1400.0)))


def _bar(
    op: Operation,
    row: int,
    scale: _Scale,
    model: Model[Any] | None,
    needed: bool,
    stuck: bool,
    blocked: bool,
) -> list[str]:
    y = _TOP + row * _ROW + (_ROW - _BAR) / 2
    x0 = scale.x(op.invoke_time)
    end = op.complete_time if op.status != "info" and op.complete_time is not None else scale.end
    x1 = max(scale.x(end), x0 + 3)
    kind = op.status if needed else "skipped"
    fill, stroke = _COLOURS[kind]
    if op.status == "info":
        fill = "url(#dsys-fade)"
    dash = ' stroke-dasharray="4 3"' if op.status == "info" else ""
    if stuck or blocked:
        stroke = _STUCK
    weight = 2 if stuck or blocked else 1
    text = model.describe_operation(op) if model is not None else op.label()
    tooltip = f"p{op.process} {text} [{op.where}" + (
        f" to {op.complete_where}]" if op.complete_where else ", never completed]"
    )
    if not needed:
        tooltip += " (no effect on the state: not checked)"
    parts = [
        "<g>",
        f"<title>{_esc(tooltip)}</title>",
        f'<rect x="{x0:.1f}" y="{y:.1f}" width="{x1 - x0:.1f}" height="{_BAR}" rx="3" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="{weight}"{dash}/>',
    ]
    if blocked:
        parts.append(
            f'<rect x="{x0:.1f}" y="{y:.1f}" width="{x1 - x0:.1f}" height="{_BAR}" rx="3" '
            f'fill="{_STUCK}" fill-opacity="0.15"/>'
        )
    if text_width(text, _SIZE) <= x1 - x0 - 8:
        parts.append(
            f'<text x="{x0 + 4:.1f}" y="{y + _BAR / 2 + 2:.1f}" '
            f'fill="{"#777" if not needed else "#111"}">{_esc(text)}</text>'
        )
    parts.append("</g>")
    return parts


def linearization_points(order: Sequence[Operation]) -> list[float]:
    """A time for each operation in ``order``, inside its bar and increasing along ``order``.

    Any valid linearization has such times. Each point is put in the middle of the window
    its neighbours leave it: no earlier than its invoke or the previous point, no later
    than its completion or the next point.

    >>> from dsys.check import History
    >>> history = History.from_events([
    ...     {"process": 0, "type": "invoke", "f": "write", "value": 1},
    ...     {"process": 1, "type": "invoke", "f": "read", "value": None},
    ...     {"process": 0, "type": "ok", "f": "write", "value": 1},
    ...     {"process": 1, "type": "ok", "f": "read", "value": 1},
    ... ])
    >>> linearization_points(history.operations)
    [1.0, 2.0]
    """
    lows: list[float] = []
    low = -math.inf
    for op in order:
        low = max(low, op.invoke_time)
        lows.append(low)
    highs = [0.0] * len(order)
    high = math.inf
    for k in range(len(order) - 1, -1, -1):
        op = order[k]
        if op.status != "info" and op.complete_time is not None:
            high = min(high, op.complete_time)
        highs[k] = high
    result = []
    for low, high in zip(lows, highs, strict=True):
        result.append(low + 1.0 if high == math.inf else (low + high) / 2)
    return result


def _points(
    order: Sequence[Operation], row_of: dict[Any, int], scale: _Scale, numbered: bool
) -> list[str]:
    if not order:
        return []
    xs = [scale.x(t) for t in linearization_points(order)]
    # Points sit on the bottom edge of the bars, clear of the labels inside them.
    ys = [_TOP + row_of[op.process] * _ROW + (_ROW + _BAR) / 2 for op in order]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    parts = [
        f'<polyline points="{path}" fill="none" stroke="{_POINT}" stroke-opacity="0.45" '
        'stroke-width="1.2"/>'
    ]
    for number, (x, y) in enumerate(zip(xs, ys, strict=True), start=1):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{_POINT}" stroke="white"/>')
        if numbered:
            parts.append(
                f'<text x="{x:.1f}" y="{y - _BAR - 2:.1f}" text-anchor="middle" '
                f'font-size="9" fill="{_POINT}">{number}</text>'
            )
    return parts


def _failure_region(
    placed: Sequence[Operation], blocked: Operation | None, scale: _Scale, bottom: float
) -> list[str]:
    """Shade from the last placed point to the completion the search could not meet."""
    start = linearization_points(placed)[-1] if placed else scale.start
    end = blocked.complete_time if blocked is not None and blocked.complete_time else scale.end
    x0, x1 = scale.x(start), scale.x(end)
    if x1 < x0:
        x0, x1 = x1, x0
    return [
        f'<rect x="{x0:.1f}" y="{_TOP - 6}" width="{max(x1 - x0, 4):.1f}" '
        f'height="{bottom - _TOP + 6:.1f}" fill="{_STUCK}" fill-opacity="0.07" '
        f'stroke="{_STUCK}" stroke-opacity="0.5" stroke-dasharray="5 4"/>',
        f'<text x="{x0 + 3:.1f}" y="{_TOP - 9}" fill="{_STUCK}" font-size="10">stuck here</text>',
    ]


def _caption(result: CheckResult | None, title: str | None, history: History) -> str:
    name = title or history.source or "history"
    if result is None:
        return f"{name}: {len(history)} operations"
    word = {
        Verdict.LINEARIZABLE: "linearizable",
        Verdict.NOT_LINEARIZABLE: "NOT linearizable",
        Verdict.UNKNOWN: "undecided (time limit)",
    }[result.verdict]
    return f"{name}: {word} ({result.model.name} model, {len(history)} operations)"


def _short_explanation(result: CheckResult | None, model: Model[Any] | None) -> list[str]:
    if result is None or model is None:
        return []
    failure = result.failure
    if failure is None:
        if result.linearizable:
            return ["Green dots: a linearization point for each operation, numbered in order."]
        return []
    lines = [
        f"Stuck after {len(failure.linearization)} of {len(failure.operations)} operations, "
        f"when {model.describe_state(failure.final_state)}:"
    ]
    for op, reason in failure.stuck[:6]:
        lines.append(f"  p{op.process} {model.describe_operation(op)}: {reason}")
    if len(failure.stuck) > 6:
        lines.append(f"  ... and {len(failure.stuck) - 6} more")
    if failure.blocked_by is not None:
        op = failure.blocked_by
        lines.append(
            f"p{op.process} {model.describe_operation(op)} completed before it could be placed."
        )
    return lines


def _marks(report: Report | None) -> dict[int, int | None]:
    """Operation index -> its number in the first violation (None in the others)."""
    marks: dict[int, int | None] = {}
    if report is None:
        return marks
    for number, violation in enumerate(report.violations):
        for k, index in enumerate(violation.events, start=1):
            if number == 0 or index not in marks:
                marks.setdefault(index, k if number == 0 else None)
    return marks


def _badge(op: Operation, row: int, scale: _Scale, number: int) -> list[str]:
    """A numbered red dot on the top-right corner of a marked operation's bar."""
    end = op.complete_time if op.status != "info" and op.complete_time is not None else scale.end
    x = max(scale.x(end), scale.x(op.invoke_time) + 3)
    y = _TOP + row * _ROW + (_ROW - _BAR) / 2
    return [
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{_STUCK}" stroke="white"/>',
        f'<text x="{x:.1f}" y="{y + 3.5:.1f}" text-anchor="middle" font-size="9" '
        f'fill="white">{number}</text>',
    ]


def _report_caption(report: Report, title: str | None, history: History) -> str:
    name = title or history.source or "history"
    word = "holds" if report.ok else "VIOLATED"
    return f"{name}: {report.check} {word} ({len(history)} operations)"


def _report_explanation(report: Report, width: int = 110) -> list[str]:
    """The first violation's text, wrapped, and how many more there are."""
    if report.ok:
        return [f"No violation ({report.judged} {report.unit} checked)."]
    lines: list[str] = []
    for paragraph in report.violations[0].text.split("\n"):
        lines += textwrap.wrap(paragraph.strip(), width, subsequent_indent="  ") or [""]
    if len(report.violations) > 1:
        lines.append(f"... and {len(report.violations) - 1} more violation(s)")
    return lines


def _ticks(start: float, end: float) -> list[float]:
    """Round-numbered axis ticks (steps of 1, 2 or 5 times a power of ten), at most 8."""
    return round_ticks(start, end, 8)


def round_ticks(start: float, end: float, most: int = 8) -> list[float]:
    """At most ``most`` axis ticks between ``start`` and ``end``, at round numbers: a step
    of 1, 2 or 5 times a power of ten (for the charts' axes).

    Example:
        >>> round_ticks(0.0, 4.9, 6)
        [0.0, 1.0, 2.0, 3.0, 4.0]
        >>> round_ticks(0.0, 21.6, 5)
        [0.0, 5.0, 10.0, 15.0, 20.0]
    """
    span = end - start
    if span <= 0:
        return [start]
    most = max(most, 2)
    step = 10.0 ** math.floor(math.log10(span / most))
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= most:
            step *= factor
            break
    first = math.ceil(start / step) * step
    count = int((end - first) / step + 1e-9) + 1
    return [round(first + k * step, 10) for k in range(count)]


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _fmt(value: float) -> str:
    return f"{value:g}"
