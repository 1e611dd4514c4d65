"""``dsys trace show|svg|view|digest FILE``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from dsys.trace import html, svg, terminal
from dsys.trace.events import EVENT_KINDS, KIND_ALIASES, Trace


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``trace`` command group."""
    trace = subparsers.add_parser("trace", help="show, draw or digest a saved trace")
    sub = trace.add_subparsers(dest="trace_command", metavar="ACTION", required=True)

    show = sub.add_parser("show", help="print a trace in the terminal, one column per node")
    show.add_argument("file", help="a trace saved as JSON Lines")
    _add_filters(show)
    show.add_argument("--limit", type=int, default=None, help="show only the last N events")
    show.set_defaults(func=_show)

    draw = sub.add_parser("svg", help="draw a space-time diagram as SVG")
    draw.add_argument("file", help="a trace saved as JSON Lines")
    draw.add_argument("-o", "--output", required=True, help="where to write the SVG")
    _add_filters(draw)
    draw.set_defaults(func=_svg)

    view = sub.add_parser("view", help="write the interactive viewer (one HTML file) and open it")
    view.add_argument("file", help="a trace saved as JSON Lines")
    view.add_argument("-o", "--output", default=None,
                      help="where to write the page (default: beside FILE, ending in .html)")
    view.add_argument("--title", default=None, help="the page's heading (default: FILE's name)")
    view.add_argument("--no-open", action="store_true",
                      help="only write the page; do not open it in a browser")
    _add_filters(view)
    view.set_defaults(func=_view)

    digest = sub.add_parser("digest", help="print the trace's SHA-256 digest")
    digest.add_argument("file", help="a trace saved as JSON Lines")
    digest.set_defaults(func=_digest)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--node", action="append", help="only this node (repeatable)")
    parser.add_argument("--kind", action="append", metavar="KIND",
                        choices=sorted({*EVENT_KINDS, *KIND_ALIASES}),
                        help="only this event kind (repeatable): " + ", ".join(EVENT_KINDS))
    parser.add_argument("--start", type=float, default=None, help="from this time (seconds)")
    parser.add_argument("--end", type=float, default=None, help="up to this time (seconds)")


def _filtered(args: argparse.Namespace) -> Trace:
    return Trace.load(args.file).filter(nodes=args.node, kinds=args.kind, start=args.start,
                                        end=args.end)


def _show(args: argparse.Namespace) -> int:
    Console().print(terminal.render(_filtered(args), nodes=args.node, limit=args.limit))
    return 0


def _svg(args: argparse.Namespace) -> int:
    path = svg.save(_filtered(args), args.output, nodes=args.node)
    print(f"wrote {path}")
    return 0


def _view(args: argparse.Namespace) -> int:
    output = Path(args.output) if args.output else Path(args.file).with_suffix(".html")
    trace = Trace.load(args.file).filter(kinds=args.kind, start=args.start, end=args.end)
    if args.node:  # the chosen lanes, and the partitions and heals that cut across them
        trace = Trace(e for e in trace if e.node in args.node or not e.node)
    path = html.save(trace, output, title=args.title or Path(args.file).name, nodes=args.node)
    print(f"wrote {path}")
    if not args.no_open and _can_open_browser():
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
    return 0


def _can_open_browser() -> bool:
    """A browser can show a window: not on a Linux machine with no display (a server, CI)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _digest(args: argparse.Namespace) -> int:
    print(Trace.load(args.file).digest())
    return 0
