"""``dsys check``: run checkers on recorded histories.

``dsys check consistency`` (weaker models: sequential, causal, PRAM, session guarantees,
eventual) is described in :mod:`dsys.check.consistency_cli`.

``dsys check lin --model MODEL FILE... [--timeout S] [--draw OUT]`` checks each file for
linearizability and prints a one-screen summary. The exit status is the verdict:

==  ==================================================================
0   every history is linearizable
1   some history is not linearizable (the summary explains the first)
2   no history failed, but some could not be decided within the time limit
3   bad input: a missing or malformed file, an unknown model, a bad option
==  ==================================================================
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

from dsys.check import consistency_cli
from dsys.check.draw import draw_history
from dsys.check.history import CheckInputError, History
from dsys.check.linearizable import CheckResult, Verdict, check_linearizable
from dsys.check.models import MODELS, get_model

#: Default time limit of ``dsys check lin``, in seconds.
DEFAULT_TIMEOUT = 60.0

_EXIT = {Verdict.LINEARIZABLE: 0, Verdict.NOT_LINEARIZABLE: 1, Verdict.UNKNOWN: 2}
_STYLE = {
    Verdict.LINEARIZABLE: "bold green",
    Verdict.NOT_LINEARIZABLE: "bold red",
    Verdict.UNKNOWN: "bold yellow",
}


class _CheckArgumentParser(argparse.ArgumentParser):
    """Exit with 3, not argparse's usual 2, which ``dsys check`` uses for "undecided"."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(CheckInputError.exit_code, f"{self.prog}: error: {message}\n")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``check`` command group and its ``lin`` subcommand."""
    check = subparsers.add_parser(
        "check",
        help="check recorded histories (linearizability, consistency models)",
        description="Check recorded histories.",
    )
    commands = check.add_subparsers(
        dest="check_command", metavar="CHECKER", parser_class=_CheckArgumentParser
    )
    lin = commands.add_parser(
        "lin",
        help="check histories for linearizability",
        description=(
            "Check each history for linearizability against a model. Exit status: 0 all "
            "linearizable, 1 some not linearizable, 2 undecided within the time limit, "
            "3 bad input."
        ),
    )
    lin.add_argument(
        "--model",
        required=True,
        metavar="MODEL",
        help=f"the object the history should behave like: {', '.join(MODELS)}",
    )
    lin.add_argument("files", nargs="+", metavar="FILE", help="history files (JSONL or Jepsen)")
    lin.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"give up (exit 2) after S seconds per file (default {DEFAULT_TIMEOUT:g})",
    )
    lin.add_argument(
        "--draw",
        metavar="OUT",
        help="draw the history to OUT (.svg or .html); with several files, OUT is a folder",
    )
    lin.set_defaults(func=run_lin)
    consistency_cli.add_command(commands)
    check.set_defaults(func=lambda args: _help(check))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return CheckInputError.exit_code


def run_lin(args: argparse.Namespace, console: Console | None = None) -> int:
    """Carry out ``dsys check lin``; return the exit status."""
    console = console or Console(highlight=False)
    model = get_model(args.model)
    if args.timeout is not None and args.timeout <= 0:
        raise CheckInputError(f"--timeout must be positive, got {args.timeout:g}")
    files = [Path(name) for name in args.files]
    drawings = _drawing_paths(files, args.draw)
    # Read every file first, so that a typo in the last one fails before a long check.
    histories = [History.read(path) for path in files]

    results = []
    for history, drawing in zip(histories, drawings, strict=True):
        result = check_linearizable(history, model, timeout=args.timeout)
        results.append(result)
        if drawing is not None:
            draw_history(result, drawing)
    _print_summary(console, results, drawings)
    verdicts = {result.verdict for result in results}
    for verdict in (Verdict.NOT_LINEARIZABLE, Verdict.UNKNOWN):
        if verdict in verdicts:
            return _EXIT[verdict]
    return 0


def _drawing_paths(files: list[Path], draw: str | None) -> list[Path | None]:
    if draw is None:
        return [None] * len(files)
    out = Path(draw)
    if len(files) == 1 and out.suffix:
        if out.suffix.lower() not in (".svg", ".html", ".htm"):
            raise CheckInputError(f"--draw {draw}: the drawing must end in .svg or .html")
        return [out]
    if out.suffix and not out.is_dir():
        raise CheckInputError(
            f"--draw {draw}: with several files, --draw names a folder to put drawings in"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CheckInputError(f"--draw {draw}: cannot create the folder: {error}") from None
    return [out / f"{path.stem}.html" for path in files]


def _print_summary(
    console: Console, results: list[CheckResult], drawings: list[Path | None]
) -> None:
    model = results[0].model.name if results else "?"
    table = Table(title=f"Linearizability ({model} model)", title_justify="left", show_edge=False)
    table.add_column("history", overflow="fold")
    table.add_column("ops", justify="right")
    table.add_column("parts", justify="right")
    table.add_column("verdict")
    table.add_column("explored", justify="right")
    table.add_column("time", justify="right")
    for result in results:
        table.add_row(
            result.history.source or "history",
            str(len(result.history)),
            str(result.part_count),
            f"[{_STYLE[result.verdict]}]{result.verdict.value}[/]",
            f"{result.configurations:,}",
            f"{result.elapsed:.2f}s",
        )
    console.print(table)
    # Explain the first failure (or undecided history) in words; the others are in the table.
    for result in results:
        if result.verdict is not Verdict.LINEARIZABLE:
            console.print()
            console.print(f"[bold]{result.history.source}[/]")
            console.print(result.explain(), markup=False)
            break
    for drawing in drawings:
        if drawing is not None:
            console.print(f"drawing: {drawing}")
