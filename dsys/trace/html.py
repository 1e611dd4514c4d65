"""The interactive trace viewer: one self-contained HTML page per trace.

:func:`render` turns a :class:`~dsys.trace.Trace` into a page that needs nothing but a
browser (its script and style are inline, nothing is fetched): one lane per node, time
going right, messages as arrows from send to arrival, partitions and crashes as bands,
the nodes' ``note`` lines, and the run's invariant violations. Zoom and pan in time, click
an event or an arrow to see its full payload and the other end of its message, filter by
node, kind and message type, step through the events with the arrow keys, and see the
happens-before cone of the selected event: what it may depend on and what may depend on
it. ``dsys trace view FILE`` writes one and opens it; :meth:`Trace._repr_html_` shows it
in Jupyter.

The rules of this file:

* The page is a pure function of its arguments: same trace, same bytes (no clock, no
  random ids, no iteration over hashed sets).
* Everything from the trace reaches the page as JSON inside a ``<script
  type="application/json">`` with ``<``, ``>`` and ``&`` escaped, and the script puts it
  in the document as text only, so no payload can inject markup or script.
* Causality is decided here, not in the browser: :func:`causal_predecessors` lists each
  event's direct predecessors (the node's previous event; for an arrival, drop or
  duplicate, the send), and the page walks them. :func:`cone` is the same walk, for tests
  and tools.
* The page has a size bound: a trace whose events take more than ``max_bytes`` of JSON is
  summarised (its first and last events and the windows around marked events are kept)
  and the page says so.

Failure reports reuse the page: ``highlight`` takes event positions and :class:`Mark`
objects (a failed invariant, a non-linearizable operation), listed under "Problems" and
drawn on the diagram.

Example:
    >>> from dsys.trace import Trace, TraceEvent
    >>> from dsys.trace.html import Mark, cone, render
    >>> trace = Trace([
    ...     TraceEvent(0.0, "a", "send", {"to": "b", "id": 1, "msg": "ping"}),
    ...     TraceEvent(0.1, "b", "recv", {"from": "a", "id": 1, "msg": "ping"}),
    ...     TraceEvent(0.2, "b", "note", {"event": "got ping"}),
    ... ])
    >>> page = render(trace, title="ping", highlight=[Mark("suspicious", event=2)])
    >>> page.startswith("<!DOCTYPE html>") and "</html>" in page
    True
    >>> cone(trace, 1)
    ({0}, {2})
"""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from dsys.errors import UsageError
from dsys.trace.events import Trace, TraceEvent, _jsonable

#: Above this many bytes of event JSON, a page is summarised.
MAX_BYTES = 3_000_000
#: The largest payload (JSON characters) one event keeps; longer ones are cut, and say so.
MAX_EVENT_CHARS = 20_000
#: Events kept on either side of a marked event when a page is summarised.
WINDOW = 200

#: Kinds that happen in the network, not in a node's own sequence of steps: they follow
#: their send, but nothing on the node they are recorded at follows them.
NETWORK_KINDS = ("drop", "duplicate")


@attrs.frozen
class Mark:
    """Something a page points out under "Problems": an event, a node's span of time, or
    a span of the whole run.

    Attributes:
        label: what is wrong, in words (shown in the list and on hover).
        event: the position of the event in the trace, if the mark is about one.
        start: the start of the span of time, if any (seconds).
        end: its end (seconds; the end of the trace when ``None`` and ``start`` is set).
        node: the node the span is on (a span of the whole run when ``None``).
        kind: ``"failure"`` (drawn red) or ``"info"``.

    Example:
        >>> Mark("write 3 returned before any write of 3 began", event=12).kind
        'failure'
    """

    label: str
    event: int | None = None
    start: float | None = None
    end: float | None = None
    node: str | None = None
    kind: str = attrs.field(default="failure")

    @kind.validator
    def _check_kind(self, _attribute: Any, value: str) -> None:
        if value not in ("failure", "info"):
            raise UsageError(f"a Mark's kind is 'failure' or 'info', not {value!r}")


def marks_from(report: Any, *, limit: int = 50) -> list[Mark]:
    """A checker's :class:`~dsys.check.Report` as marks, one per violation (the first
    ``limit``), labelled with the violation's text: on the first trace event the violation
    names, or else at its time on its first node.

    Example:
        >>> from dsys.check import Report, Violation
        >>> report = Report("safety", (Violation(1.5, ("a", "b"), "both inside"),), 3, "x")
        >>> marks_from(report)
        [Mark(label='both inside', event=None, start=1.5, end=1.5, node='a', \
kind='failure')]
    """
    marks = []
    for v in list(report.violations)[:limit]:
        label = v.text
        if v.events:
            marks.append(Mark(label, event=v.events[0]))
        else:
            node = str(v.nodes[0]).split(" ", 1)[0] if v.nodes else None
            marks.append(Mark(label, start=v.time, end=v.time, node=node))
    return marks


def _message_key(event: TraceEvent) -> tuple[str, str, Any] | None:
    """(sender, receiver, id) of the message an event is about, or None."""
    d = event.data
    if "id" not in d:
        return None
    match event.kind:
        case "send" | "duplicate":
            return (event.node, str(d.get("to")), d["id"])
        case "recv":
            return (str(d.get("from")), event.node, d["id"])
        case "drop":
            return (str(d.get("from", event.node)), str(d.get("to")), d["id"])
    return None


def causal_predecessors(trace: Sequence[TraceEvent]) -> list[list[int]]:
    """For each event, the positions of the events that directly happen before it.

    An event on a node follows that node's previous event; an arrival (``recv``), a drop or
    a duplicate of a message follows its ``send``. Drops and duplicates are the network's
    doing: they follow their send, but the node they are recorded at does not follow them.
    Events with no node (partitions, heals) have no predecessors and are nobody's.

    Example:
        >>> from dsys.trace import TraceEvent
        >>> causal_predecessors([
        ...     TraceEvent(0.0, "a", "send", {"to": "b", "id": 7}),
        ...     TraceEvent(0.0, "b", "log", {"text": "hi"}),
        ...     TraceEvent(0.1, "b", "recv", {"from": "a", "id": 7}),
        ... ])
        [[], [], [1, 0]]
    """
    local, message = _links(trace)
    return [[p for p in (before, send) if p is not None]
            for before, send in zip(local, message, strict=True)]


def _links(trace: Sequence[TraceEvent]) -> tuple[list[int | None], list[int | None]]:
    """For each event: the node's previous event, and the send of its message (for an
    arrival, a drop or a duplicate), as positions or None."""
    last: dict[str, int] = {}
    sends: dict[tuple[str, str, Any], int] = {}
    local: list[int | None] = []
    message: list[int | None] = []
    for position, event in enumerate(trace):
        key = _message_key(event)
        mine = bool(event.node) and event.kind not in NETWORK_KINDS
        local.append(last.get(event.node) if mine else None)
        sent = None
        if key is not None:
            if event.kind == "send":
                sends[key] = position
            else:
                sent = sends.get(key)
        message.append(sent)
        if mine:
            last[event.node] = position
    return local, message


def cone(trace: Sequence[TraceEvent], position: int) -> tuple[set[int], set[int]]:
    """The happens-before cone of one event: (the events that happen before it, the
    events it happens before), as positions in ``trace``.

    Example:
        >>> from dsys.trace import TraceEvent
        >>> cone([TraceEvent(0.0, "a", "log", {"text": "x"}),
        ...       TraceEvent(0.0, "b", "log", {"text": "y"}),
        ...       TraceEvent(0.1, "a", "log", {"text": "z"})], 2)
        ({0}, set())
    """
    if not 0 <= position < len(trace):
        raise UsageError(f"no event at position {position}: the trace has {len(trace)}")
    preds = causal_predecessors(trace)
    succs: list[list[int]] = [[] for _ in preds]
    for after, before in enumerate(preds):
        for p in before:
            succs[p].append(after)
    return _reach(preds, position), _reach(succs, position)


def _reach(edges: list[list[int]], start: int) -> set[int]:
    seen: set[int] = set()
    todo = list(edges[start])
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(edges[p])
    return seen


def _event_json(event: TraceEvent) -> dict[str, Any]:
    data = _jsonable(event.data)
    text = json.dumps(data, sort_keys=True, default=repr)
    if len(text) > MAX_EVENT_CHARS:
        data = {"cut": f"{len(text)} characters, the first {MAX_EVENT_CHARS} shown",
                "text": text[:MAX_EVENT_CHARS]}
    return data


def _type_name(event: TraceEvent) -> str | None:
    """The message type an event is about (a drop names it in ``type``), for the filter."""
    name = event.message_name
    if name is None and event.kind == "drop" and event.data.get("type"):
        return str(event.data["type"]).rsplit(".", 1)[-1]
    return name


def _lanes(trace: Sequence[TraceEvent], nodes: Sequence[str] | None) -> list[str]:
    seen: dict[str, None] = {}
    for node in nodes or ():
        seen[node] = None
    for event in trace:
        if event.node:
            seen.setdefault(event.node, None)
    return list(seen)


def _bands(events: Sequence[TraceEvent], end: float) -> list[dict[str, Any]]:
    """Crashes (per node, until the restart) and cuts (partitions, blocks, until the next
    heal; a new partition replaces the previous one) as spans of time."""
    bands: list[dict[str, Any]] = []
    down: dict[str, float] = {}
    partition: dict[str, Any] | None = None
    blocks: list[dict[str, Any]] = []
    for e in events:
        if e.kind == "crash" and e.node:
            down.setdefault(e.node, e.time)
        elif e.kind == "restart" and e.node in down:
            bands.append({"kind": "crash", "node": e.node, "start": down.pop(e.node),
                          "end": e.time, "label": f"{e.node} is down"})
        elif e.kind == "partition":
            if partition is not None:
                partition["end"] = e.time
                bands.append(partition)
            groups = e.data.get("groups", [])
            partition = {"kind": "partition", "node": None, "start": e.time, "end": None,
                         "label": "partition " + " | ".join(",".join(map(str, g))
                                                            for g in groups)}
        elif e.kind == "block":
            blocks.append({"kind": "block", "node": None, "start": e.time, "end": None,
                           "label": f"{e.data.get('from')} \u219b {e.data.get('to')}"})
        elif e.kind == "heal":
            for band in [*([partition] if partition else []), *blocks]:
                band["end"] = e.time
                bands.append(band)
            partition, blocks = None, []
    for band in [*([partition] if partition else []), *blocks]:
        band["end"] = end
        bands.append(band)
    for node, start in down.items():
        bands.append({"kind": "crash", "node": node, "start": start, "end": end,
                      "label": f"{node} is down"})
    bands.sort(key=lambda b: (b["start"], b["kind"], b["node"] or ""))
    return bands


def _keep(sizes: list[int], marked: Iterable[int], max_bytes: int) -> list[int] | None:
    """Positions to keep under ``max_bytes``: windows around marked events first, then the
    first and last events, alternately; None when everything fits."""
    if sum(sizes) <= max_bytes:
        return None
    kept: set[int] = set()
    budget = max_bytes

    def take(p: int) -> bool:
        nonlocal budget
        if p in kept:
            return True
        if sizes[p] > budget:
            return False
        kept.add(p)
        budget -= sizes[p]
        return True

    n = len(sizes)
    for m in sorted(set(marked)):
        for p in range(max(0, m - WINDOW // 4), min(n, m + WINDOW // 4 + 1)):
            take(p)
    head, tail = 0, n - 1
    while head <= tail:
        if not take(head):
            break
        head += 1
        if head <= tail and not take(tail):
            break
        tail -= 1
    return sorted(kept)


def page_data(trace: Sequence[TraceEvent], *, title: str | None = None,
              highlight: Iterable[int | Mark] = (), nodes: Sequence[str] | None = None,
              max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """What :func:`render` puts in the page, as a JSON-able dict (for tests and tools).

    Example:
        >>> from dsys.trace import TraceEvent
        >>> data = page_data([TraceEvent(0.0, "a", "crash", {})], title="t")
        >>> data["lanes"], data["bands"][0]["label"], data["summary"]
        (['a'], 'a is down', None)
    """
    events = list(trace)
    marks: list[Mark] = []
    for item in highlight:
        mark = item if isinstance(item, Mark) else Mark("highlighted", event=int(item))
        if mark.event is not None and not 0 <= mark.event < len(events):
            raise UsageError(f"cannot mark event {mark.event}: the trace has {len(events)}")
        marks.append(mark)
    for position, e in enumerate(events):
        if e.kind in ("violation", "error"):
            what = e.data.get("invariant") or e.kind
            problem = e.data.get("problem") or e.data.get("text") or e.describe()
            marks.append(Mark(f"{what}: {problem}", event=position))

    payloads = [_event_json(e) for e in events]
    rows = [[p, e.time, e.node, e.kind, _type_name(e), e.describe(), payloads[p]]
            for p, e in enumerate(events)]
    sizes = [len(json.dumps(r, sort_keys=True, default=repr)) + 1 for r in rows]
    kept = _keep(sizes, (m.event for m in marks if m.event is not None), max_bytes)
    summary = None
    if kept is not None:
        gaps = sum(1 for a, b in itertools.pairwise(kept) if b != a + 1)
        gaps += (kept[0] != 0) if kept else 0
        gaps += (kept[-1] != len(events) - 1) if kept else 0
        summary = {
            "total": len(events), "kept": len(kept),
            "text": f"This trace has {len(events)} events ({sum(sizes)} bytes), more than "
                    f"this page holds ({max_bytes} bytes): it shows {len(kept)} of them, the "
                    f"first and the last and those around the marked events, in "
                    f"{gaps + 1} stretch(es). Happens-before cones only follow the events "
                    "shown. The saved trace has them all (dsys trace show).",
        }
        rows = [rows[p] for p in kept]
    positions = kept if kept is not None else list(range(len(events)))
    where = {p: i for i, p in enumerate(positions)}
    # Causality is computed over the whole trace, then restricted to the kept events.
    local, message = _links(events)
    preds = [[where[q] for q in (local[p], message[p]) if q is not None and q in where]
             for p in positions]
    peers: list[list[int]] = [[] for _ in rows]
    for i, p in enumerate(positions):
        sent = message[p]
        if sent is not None and sent in where:
            peers[i].append(where[sent])
            peers[where[sent]].append(i)
    end = events[-1].time if events else 0.0
    return {
        "title": title or f"trace: {len(events)} events",
        "lanes": _lanes(events, nodes),
        "events": rows,
        "preds": preds,
        "peers": peers,
        "bands": _bands(events, end),
        "marks": [{"label": m.label, "pos": where.get(m.event) if m.event is not None else None,
                   "near": _near(m, events, positions), "event": m.event, "start": m.start,
                   "end": m.end, "node": m.node, "kind": m.kind} for m in marks],
        "summary": summary,
    }


def _near(mark: Mark, events: list[TraceEvent], positions: list[int]) -> int | None:
    """Where on the page a span mark's link goes: the first event shown at or after its
    start (on its node, if it names one that has events there)."""
    if mark.start is None:
        return None
    later = [i for i, p in enumerate(positions) if events[p].time >= mark.start]
    mine = [i for i in later if events[positions[i]].node == mark.node]
    chosen = mine or later
    return chosen[0] if chosen else None


def _asset(name: str) -> str:
    return resources.files("dsys.trace").joinpath("viewer", name).read_text(encoding="utf-8")


def _script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element: no ``<``, ``>`` or ``&`` (so no
    ``</script>`` or ``<!--``), nor the two line separators older parsers stop at."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False,
                      default=repr)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def render(trace: Sequence[TraceEvent], *, title: str | None = None,
           highlight: Iterable[int | Mark] = (), nodes: Sequence[str] | None = None,
           max_bytes: int = MAX_BYTES) -> str:
    """The viewer page of ``trace``, one self-contained HTML document.

    Args:
        trace: the events (a :class:`~dsys.trace.Trace` or any sequence of events).
        title: the page's heading (default: the number of events).
        highlight: events to point out, as positions in ``trace`` or :class:`Mark`
            objects (a mark may also be a span of time); the trace's own ``violation``
            and ``error`` events are always listed.
        nodes: the lanes, top to bottom (default: in order of first appearance; nodes not
            named here follow).
        max_bytes: above this much event JSON the page is summarised (see the module).

    Example:
        >>> from dsys.trace import Trace, TraceEvent
        >>> page = render(Trace([TraceEvent(0.0, "a", "log", {"text": "</script>"})]))
        >>> "</script>" in page.split('id="dsys-trace-data"')[1].split("</script>")[0]
        False
    """
    data = page_data(trace, title=title, highlight=highlight, nodes=nodes,
                     max_bytes=max_bytes)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(data['title'])}</title>\n"
        f"<style>\n{_asset('viewer.css')}</style>\n</head>\n<body>\n"
        '<div id="dsys-viewer" class="dsys-viewer">'
        f"<noscript>{html.escape(data['title'])}: the viewer needs JavaScript.</noscript>"
        "</div>\n"
        f'<script type="application/json" id="dsys-trace-data">{_script_json(data)}</script>\n'
        f"<script>\n{_asset('viewer.js')}</script>\n</body>\n</html>\n"
    )


def save(trace: Sequence[TraceEvent], path: str | Path, **options: Any) -> Path:
    """Write :func:`render`'s page to ``path`` (parent folders are created); returns it.

    Example:
        >>> import tempfile
        >>> from dsys.trace import Trace, TraceEvent
        >>> folder = tempfile.mkdtemp()
        >>> save(Trace([TraceEvent(0.0, "a", "log", {"text": "hi"})]),
        ...      folder + "/t.html").suffix
        '.html'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(trace, **options), encoding="utf-8")
    return path


def iframe(trace: Trace, *, height: int = 560, **options: Any) -> str:
    """The page inside an ``<iframe srcdoc>`` (what Jupyter shows for a trace): the page's
    script and style stay inside the frame, away from the notebook's.

    Example:
        >>> from dsys.trace import Trace, TraceEvent
        >>> iframe(Trace([TraceEvent(0.0, "a", "log", {"text": "hi"})])).startswith("<iframe")
        True
    """
    page = render(trace, **options)
    return (f'<iframe srcdoc="{html.escape(page, quote=True)}" style="width:100%;'
            f'height:{int(height)}px;border:1px solid #ccc" '
            'sandbox="allow-scripts"></iframe>')
