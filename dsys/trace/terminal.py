"""The terminal view of a trace: one column per node, one row per event, coloured by kind.

Example:
    >>> from rich.console import Console
    >>> from dsys.trace import Trace, TraceEvent
    >>> from dsys.trace.terminal import render
    >>> trace = Trace([TraceEvent(0.0, "a", "log", {"text": "hello"}),
    ...                TraceEvent(0.5, "b", "crash", {})])
    >>> console = Console(width=60, color_system=None)
    >>> console.print(render(trace))  # doctest: +NORMALIZE_WHITESPACE
                        trace: 2 events
    ┏━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━┓
    ┃   time s ┃ a                     ┃ b                     ┃
    ┡━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━┩
    │ 0.000000 │ hello                 │                       │
    │ 0.500000 │                       │ crashed               │
    └──────────┴───────────────────────┴───────────────────────┘
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from dsys.trace.events import Trace, TraceEvent

#: Style per event kind.
STYLES: dict[str, str] = {
    "start": "bold green",
    "restart": "bold green",
    "send": "cyan",
    "recv": "green",
    "drop": "red",
    "duplicate": "magenta",
    "timer_set": "dim yellow",
    "timer_fire": "yellow",
    "timer_cancel": "dim yellow",
    "crash": "bold red",
    "partition": "bold magenta",
    "block": "bold magenta",
    "heal": "bold magenta",
    "clock": "magenta",
    "invoke": "blue",
    "complete": "bold blue",
    "log": "white",
    "note": "bold white",
    "violation": "bold white on red",
    "error": "bold white on red",
    "sync": "dim",
}

NETWORK_COLUMN = "(network)"


def render(trace: Trace, *, nodes: list[str] | None = None, limit: int | None = None,
           title: str | None = None) -> Table:
    """A rich Table of ``trace``: a time column and one column per node.

    Events not tied to a node (partitions, heals) go in a ``(network)`` column. ``limit``
    keeps the last ``limit`` events.
    """
    events: list[TraceEvent] = list(trace)
    shown = events[-limit:] if limit is not None and len(events) > limit else events
    columns = nodes or list(Trace(shown).nodes)
    has_network = any(not e.node for e in shown)
    if has_network:
        columns = [*columns, NETWORK_COLUMN]
    table = Table(title=title or f"trace: {len(events)} events"
                  + (f" (last {len(shown)} shown)" if len(shown) < len(events) else ""),
                  expand=True)
    table.add_column("time s", justify="right", no_wrap=True)
    for column in columns:
        table.add_column(column, ratio=1, overflow="fold")
    index = {name: i for i, name in enumerate(columns)}
    for event in shown:
        cells: list[Text | str] = [""] * len(columns)
        position = index.get(event.node or NETWORK_COLUMN)
        if position is None:
            continue
        cells[position] = Text(event.describe(), style=STYLES.get(event.kind, ""))
        table.add_row(f"{event.time:.6f}", *cells)
    return table
