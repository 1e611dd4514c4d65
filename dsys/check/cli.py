"""``dsys check``: run checkers on recorded histories.

``dsys check consistency`` (weaker models: sequential, causal, PRAM, session guarantees,
eventual) is described in :mod:`dsys.check.consistency_cli`. ``dsys check coverage
TRACE... [--rules raft] [--require SITUATION=N]`` prints which faults hit which protocol
situations (:mod:`dsys.check.coverage`), and exits 1 if a requirement is not met.

``dsys check lin --model MODEL FILE... [--timeout S] [--draw OUT] [--draw-core OUT.svg]``
checks each file for linearizability and prints a one-screen summary. For the first
history that is not linearizable it also says why: the smallest set of operations that
cannot be ordered, in a sentence and a small timeline, and the longest linearizable
prefix as a hint (:mod:`dsys.check.explain`); ``--draw-core OUT.svg`` draws that
timeline. The exit status is the verdict:

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
from dsys.check.coverage import RULES, CoverageError, coverage, require_coverage
from dsys.check.draw import draw_history
from dsys.check.explain import Diagnosis
from dsys.check.history import CheckInputError, History
from dsys.check.linearizable import CheckResult, Verdict, check_linearizable
from dsys.check.models import MODELS, get_model
from dsys.errors import UsageError
from dsys.trace.events import Trace

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
    lin.add_argument(
        "--draw-core",
        metavar="OUT.svg",
        help="draw the operations at fault in the first history that is not linearizable",
    )
    lin.set_defaults(func=run_lin)
    consistency_cli.add_command(commands)
    cover = commands.add_parser(
        "coverage",
        help="which faults hit which protocol situations, over saved traces",
        description=(
            "Count, over the traces, how often a fault hit each situation of a protocol "
            "(a leader crashed with uncommitted entries, a partition cut the leader off...). "
            "Exit status: 0, or 1 if a --require is not met, 3 on bad input."
        ),
    )
    cover.add_argument("traces", nargs="+", metavar="TRACE", help="trace files (JSON Lines)")
    cover.add_argument("--rules", default="raft", choices=sorted(RULES),
                       help="the protocol's rule set (default raft)")
    cover.add_argument("--require", action="append", default=[], metavar="SITUATION=N",
                       help="fail (exit 1) unless SITUATION was hit at least N times")
    cover.set_defaults(func=run_coverage)
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
    if args.draw_core is not None and not args.draw_core.lower().endswith(".svg"):
        raise CheckInputError(f"--draw-core {args.draw_core}: the drawing must end in .svg")
    # Read every file first, so that a typo in the last one fails before a long check.
    histories = [History.read(path) for path in files]

    results = []
    for history, drawing in zip(histories, drawings, strict=True):
        result = check_linearizable(history, model, timeout=args.timeout)
        results.append(result)
        if drawing is not None:
            draw_history(result, drawing)
    diagnosis = _print_summary(console, results, drawings)
    if args.draw_core is not None and diagnosis is not None:
        try:
            Path(args.draw_core).write_text(diagnosis.svg(), encoding="utf-8")
        except OSError as error:
            raise CheckInputError(f"--draw-core {args.draw_core}: cannot write: {error}") from None
        console.print(f"drawing of the operations at fault: {args.draw_core}")
    verdicts = {result.verdict for result in results}
    for verdict in (Verdict.NOT_LINEARIZABLE, Verdict.UNKNOWN):
        if verdict in verdicts:
            return _EXIT[verdict]
    return 0


def run_coverage(args: argparse.Namespace, console: Console | None = None) -> int:
    """Carry out ``dsys check coverage``; return the exit status."""
    console = console or Console(highlight=False)
    rules = RULES[args.rules]
    required: dict[str, int] = {}
    for item in args.require:
        name, sep, count = item.rpartition("=")
        if not sep or not count.strip().isdigit():
            raise CheckInputError(f"--require {item!r}: write SITUATION=N, e.g. "
                                  f"'{rules.situations[0].name}=1'")
        if name.strip() not in rules.names():
            raise CheckInputError(f"--require {item!r}: no such situation; the {rules.protocol} "
                                  f"rules have: {'; '.join(rules.names())}")
        required[name.strip()] = int(count)
    traces = []
    for name in args.traces:
        try:
            traces.append(Trace.load(name))
        except UsageError as error:  # exit 3, as for every bad input of `dsys check`
            raise CheckInputError(str(error)) from None
    report = coverage(traces, rules)
    console.print(report.table())
    console.print(report.fault_line())
    try:
        require_coverage(report, required)
    except CoverageError as error:
        console.print(str(error), markup=False)
        return 1
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
) -> Diagnosis | None:
    """Print the table and explain the first failure; return that failure's diagnosis."""
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
    diagnosis = None
    for result in results:
        if result.verdict is not Verdict.LINEARIZABLE:
            console.print()
            console.print(f"[bold]{result.history.source}[/]")
            console.print(result.explain(), markup=False)
            if result.verdict is Verdict.NOT_LINEARIZABLE:
                console.print()
                diagnosis = result.diagnose()
                console.print(diagnosis.explain(), markup=False, soft_wrap=True)
            break
    for drawing in drawings:
        if drawing is not None:
            console.print(f"drawing: {drawing}")
    return diagnosis
