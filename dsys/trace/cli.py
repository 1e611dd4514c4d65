"""``dsys trace show|svg|digest FILE``."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from dsys.trace import svg, terminal
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


def _digest(args: argparse.Namespace) -> int:
    print(Trace.load(args.file).digest())
    return 0
