"""``dsys check consistency``: which consistency models recorded histories keep.

``dsys check consistency [-c MODEL[,MODEL...]] --model MODEL FILE... [--timeout S]
[--quiet S] [--after T] [--order JSON] [--draw OUT]`` judges each history against each
consistency model named with ``-c`` (default: all of
:data:`~dsys.check.CONSISTENCY_MODELS`, strongest first) and prints a table, then the
first violation of each model that does not hold. With all models, those a history
cannot be judged against (causal consistency of a history with ``cas``, say) are shown as
``n/a``, with the reason. The exit status follows ``dsys check lin``: 0 every model judged
holds for every file, 1 some does not, 2 none failed but some could not be decided within
the time limit, 3 bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from dsys.check.consistency import (
    CONSISTENCY_MODELS,
    SESSION_GUARANTEES,
    UNDECIDED,
    check_consistency,
)
from dsys.check.draw import draw_history
from dsys.check.history import CheckInputError, History
from dsys.check.models import MODELS
from dsys.check.report import Report

#: Default time limit per file and model, in seconds.
DEFAULT_TIMEOUT = 60.0

#: Models whose checkers take a time limit.
_SEARCHES = ("linearizable", "sequential", "causal", "pram")


def add_command(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``consistency`` to the ``dsys check`` group."""
    parser = commands.add_parser(
        "consistency",
        help="check histories against consistency models (sequential, causal, ...)",
        description=(
            "Judge each history against consistency models, strongest first. Exit status: "
            "0 all hold, 1 some does not, 2 undecided within the time limit, 3 bad input."
        ),
    )
    parser.add_argument(
        "-c", "--consistency", default="all", metavar="MODELS",
        help=f"comma-separated, or 'all' (the default): {', '.join(CONSISTENCY_MODELS)}")
    parser.add_argument("--model", required=True, metavar="MODEL",
                        help=f"the object the history is of: {', '.join(MODELS)}")
    parser.add_argument("files", nargs="+", metavar="FILE", help="history files (JSONL or Jepsen)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                        help="give up on a search after S seconds (default "
                             f"{DEFAULT_TIMEOUT:g}): linearizable, sequential, causal, pram")
    parser.add_argument("--quiet", type=float, default=0.0, metavar="S",
                        help="eventual: judge reads from S seconds after a key's last write")
    parser.add_argument("--after", type=float, default=None, metavar="T",
                        help="eventual: judge only reads invoked at or after time T")
    parser.add_argument("--order", metavar="JSON",
                        help="session guarantees: a JSON file {key: [values, oldest first]}, "
                             "the store's version order (default: any order that fits)")
    parser.add_argument("--draw", metavar="OUT",
                        help="draw the history with the violation marked (.svg or .html; "
                             "one file and one model)")
    parser.set_defaults(func=run)


def _models(text: str) -> list[str]:
    if text == "all":
        return list(CONSISTENCY_MODELS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CONSISTENCY_MODELS]
    if unknown or not names:
        raise CheckInputError(f"-c {text}: choose from {', '.join(CONSISTENCY_MODELS)} "
                              "(comma-separated), or all")
    return names


def _options(name: str, args: argparse.Namespace, order: Any) -> dict[str, Any]:
    if name in _SEARCHES:
        return {"timeout": args.timeout}
    if name == "eventual":
        return {"quiet": args.quiet, "after": args.after}
    if name in ("sessions", *SESSION_GUARANTEES) and order is not None:
        return {"order": order}
    return {}


def _verdict(report: Report) -> str:
    if report.ok:
        return "not judged" if report.judged == 0 else "holds"
    if report.violations[0].text.startswith(UNDECIDED):
        return UNDECIDED
    return "VIOLATED"


_STYLE = {"holds": "green", "not judged": "dim", "n/a": "dim", UNDECIDED: "yellow",
          "VIOLATED": "bold red"}


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    """Carry out ``dsys check consistency``; return the exit status."""
    console = console or Console(highlight=False)
    names = _models(args.consistency)
    if args.timeout is not None and args.timeout <= 0:
        raise CheckInputError(f"--timeout must be positive, got {args.timeout:g}")
    if args.draw is not None:
        if len(names) != 1 or len(args.files) != 1:
            raise CheckInputError("--draw draws one history against one model: give one FILE "
                                  "and one -c MODEL")
        if Path(args.draw).suffix.lower() not in (".svg", ".html", ".htm"):
            raise CheckInputError(f"--draw {args.draw}: the drawing must end in .svg or .html")
    order = None
    if args.order is not None:
        try:
            order = json.loads(Path(args.order).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CheckInputError(f"--order {args.order}: cannot read a JSON object: "
                                  f"{error}") from None
        if not isinstance(order, dict) or not all(isinstance(v, list) for v in order.values()):
            raise CheckInputError(f"--order {args.order}: expected {{key: [value, ...]}}")
    histories = [History.read(name) for name in args.files]
    table = Table(title=f"Consistency ({args.model} model)", title_justify="left",
                  show_edge=False)
    table.add_column("model")
    for history in histories:
        label = Path(history.source).name if history.source else "history"
        table.add_column(f"{label} ({len(history)} ops)", overflow="fold")
    failures: list[tuple[History, Report]] = []
    verdicts: set[str] = set()
    reports: dict[tuple[int, str], Report | None] = {}
    skipped: dict[str, str] = {}  # with -c all: models that do not apply, and why
    for k, history in enumerate(histories):
        for name in names:
            try:
                reports[(k, name)] = check_consistency(history, name, args.model,
                                                       **_options(name, args, order))
            except CheckInputError as error:
                if args.consistency != "all":
                    raise
                reports[(k, name)] = None
                skipped.setdefault(name, str(error))
    for name in names:
        row = [name]
        for k in range(len(histories)):
            judged = reports[(k, name)]
            verdict = "n/a" if judged is None else _verdict(judged)
            verdicts.add(verdict)
            row.append(f"[{_STYLE[verdict]}]{verdict}[/]")
        table.add_row(*row)
    for k, history in enumerate(histories):
        for name in names:
            report = reports[(k, name)]
            if report is None:
                continue
            if not report.ok:
                failures.append((history, report))
            if args.draw is not None:
                draw_history(history, args.draw, report=report, model=args.model)
    console.print(table)
    if skipped:
        first = next(iter(skipped.values()))
        console.print(f"n/a (cannot be judged): {', '.join(skipped)}; the first reason: "
                      f"{first}", markup=False)
    for history, report in failures:
        console.print()
        console.print(f"[bold]{history.source}[/]")
        console.print(report.explain(limit=1), markup=False)
    if args.draw is not None:
        console.print(f"drawing: {args.draw}")
    if "VIOLATED" in verdicts:
        return 1
    return 2 if UNDECIDED in verdicts else 0
