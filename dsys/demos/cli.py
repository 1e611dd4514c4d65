"""``dsys demo NAME``: run a small example system and draw what happened."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from rich.console import Console
from rich.table import Table

from dsys.demos import DEMOS
from dsys.errors import UsageError
from dsys.sim.report import replay_command
from dsys.trace import svg, terminal


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``demo`` command."""
    demo = subparsers.add_parser(
        "demo", help="run a demo simulation and draw it in the terminal",
        description="Demos: " + "; ".join(
            f"{name}: {importlib.import_module(mod).SUMMARY}" for name, mod in DEMOS.items()),
    )
    demo.add_argument("name", nargs="?", default="election", metavar="NAME",
                      help=f"one of: {', '.join(DEMOS)} (default: election)")
    demo.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    demo.add_argument("--until", type=float, default=None, help="virtual seconds to run")
    demo.add_argument("--trace", metavar="FILE", help="save the full trace (JSON Lines)")
    demo.add_argument("--svg", metavar="FILE", help="save a space-time diagram")
    demo.add_argument("--all", action="store_true", help="show every event, not just highlights")
    demo.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    if args.name not in DEMOS:
        raise UsageError(f"no demo named {args.name!r}; choose one of: {', '.join(DEMOS)}")
    module = importlib.import_module(DEMOS[args.name])
    until = module.UNTIL if args.until is None else args.until
    if until <= 0:
        raise UsageError(f"--until must be positive, got {until}")
    token = replay_command.set(f"dsys demo {args.name} --seed {args.seed} --until {until}")
    try:
        sim = module.scenario(seed=args.seed, until=until)
        sim.run(until=until)
    finally:
        replay_command.reset(token)
    console = Console()
    title = f"dsys demo {args.name} (seed {args.seed}): {module.SUMMARY}"
    if hasattr(module, "present"):  # a demo that draws itself (in phases, say)
        console.print(title, style="bold")
        module.present(sim, console, everything=args.all)
    else:
        shown = sim.trace if args.all else sim.trace.filter(kinds=module.KINDS)
        console.print(terminal.render(shown, nodes=list(sim.node_ids), title=title))
    stats = sim.statistics()
    table = Table(title="statistics", show_header=True)
    for column in ("virtual time", "events", "sent", "delivered", "dropped", "duplicated"):
        table.add_column(column, justify="right")
    table.add_row(f"{stats.time:.3f} s", str(stats.events), str(stats.sent), str(stats.delivered),
                  str(stats.dropped), str(stats.duplicated))
    console.print(table)
    console.print(f"trace digest: {sim.trace.digest()}")
    if args.trace:
        console.print(f"trace saved to {sim.trace.save(args.trace)} "
                      f"(view it: dsys trace show {args.trace})")
    if args.svg:
        console.print(f"diagram saved to {svg.save(sim.trace, args.svg)}")
    if not args.trace and not args.svg:
        console.print(f"[dim]save and draw it: dsys demo {args.name} --seed {args.seed} "
                      f"--trace run.jsonl --svg run.svg[/dim]")
    return 0
