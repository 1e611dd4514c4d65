"""``dsys check model``: search every interleaving of a small system from the shell.

::

    dsys check model app.py:Server --nodes s1,s2,s3 \\
        --client app.py:Client --clients c1,c2 --workload app.py:workload --ops 1 \\
        --invariant app.py:agreement --goal app.py:all_decided --depth 30

Targets are ``path/to/file.py:Name`` or ``package.module:Name``. Nodes may also be given
one by one (``--node s1=app.py:Server``). The search prints its progress while it runs
(states, states per second, depth, queue), stops cleanly on Ctrl-C with the figures so
far, and on a violation prints the path and the replayed trace; ``--trace FILE`` saves
that trace (open it with ``dsys trace show`` or ``dsys trace svg``).

Exit status: 0 no violation (or a goal reached), 1 a violation, 2 stopped at a limit or
interrupted or no goal reachable, 3 bad input.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console

from dsys.errors import UsageError
from dsys.loader import load_target
from dsys.search.engine import MEMORY_LIMIT, Search, SearchResult
from dsys.sim.report import SimulationError

_EXIT = {"ok": 0, "goal": 0, "violation": 1, "limit": 2, "interrupted": 2, "no goal": 2}


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``model`` to the ``check`` command group (registered by :mod:`dsys.check.cli`)."""
    check = subparsers.choices["check"]
    group = next(a for a in check._actions if isinstance(a, argparse._SubParsersAction))
    model = group.add_parser(
        "model",
        help="search every interleaving of a small system (model checking)",
        description="Explore every order of deliveries and timers of a small system of "
                    "dsys nodes, checking invariants in every state.",
    )
    model.add_argument("target", nargs="?", metavar="TARGET",
                       help="the node factory of every --nodes id (file.py:Name)")
    model.add_argument("--nodes", default="", metavar="IDS", help="server ids, comma separated")
    model.add_argument("--node", action="append", default=[], metavar="ID=TARGET",
                       help="one server with its own factory (repeatable)")
    model.add_argument("--client", metavar="TARGET", help="the client factory of --clients")
    model.add_argument("--clients", default="", metavar="IDS", help="client ids")
    model.add_argument("--workload", metavar="TARGET", help="workload(rng) -> operation")
    model.add_argument("--ops", type=int, default=1, help="operations per client (1)")
    model.add_argument("--invariant", action="append", default=[], metavar="TARGET",
                       help="invariant(view) checked in every state (repeatable)")
    model.add_argument("--goal", action="append", default=[], metavar="TARGET",
                       help="goal(view): a state where it holds ends the search")
    model.add_argument("--strategy", choices=("bfs", "dfs", "iddfs", "random"), default="bfs")
    model.add_argument("--depth", type=int, default=None, metavar="N",
                       help="explore paths of at most N steps (required but for bfs)")
    model.add_argument("--max-states", type=int, default=None, metavar="N")
    model.add_argument("--time-limit", type=float, default=None, metavar="SECONDS")
    model.add_argument("--memory-limit", type=float, default=None, metavar="GIB",
                       help="bfs stops once the process holds this much memory (default: "
                            "half the machine's)")
    model.add_argument("--walks", type=int, default=1000, help="random walks (1000)")
    model.add_argument("--drops", type=int, default=0, help="messages a path may lose")
    model.add_argument("--duplicates", type=int, default=0, help="messages it may duplicate")
    model.add_argument("--crashes", type=int, default=0, help="crashes it may contain")
    model.add_argument("--deadlock", action="store_true",
                       help="a state where nothing can happen and no goal holds is a violation")
    model.add_argument("--symmetry", action="append", default=[], metavar="IDS",
                       help="interchangeable ids, comma separated (repeatable)")
    model.add_argument("--seed", type=int, default=0)
    model.add_argument("--trace", metavar="FILE", help="save the counterexample's trace here")
    branch = model.add_argument_group(
        "branching from a lab run",
        "Start the search from a state a failing lab run reached, instead of from the "
        "start: --from names the run (a schedule saved by `dsys shrink`, or a trace saved "
        "by `dsys lab test`), --at the point (after that many trace events; negative: that "
        "many before the end). The nodes, clients and invariants are the run's.")
    branch.add_argument("--from", dest="source", metavar="FILE",
                        help="the failing run: a .schedule.json or a lab trace .jsonl")
    branch.add_argument("--at", type=int, default=-10, metavar="EVENT",
                        help="branch after this many trace events (default -10: ten events "
                             "before the end, where the run failed)")
    branch.add_argument("--impl", metavar="PATH",
                        help="the implementation to run (default: the one the file names; "
                             "give your edited file to explore it from the same point)")
    branch.add_argument("--simulation", type=int, default=0, metavar="K",
                        help="which of the test's simulations (default 0, the first)")
    model.set_defaults(func=run)


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build(args: argparse.Namespace) -> Search:
    """The search the arguments describe."""
    nodes: dict[str, Any] = {}
    if args.nodes:
        if not args.target:
            raise UsageError("--nodes needs a TARGET (the node factory)")
        factory = load_target(args.target)
        nodes.update(dict.fromkeys(_ids(args.nodes), factory))
    for item in args.node:
        node_id, sep, spec = item.partition("=")
        if not sep:
            raise UsageError(f"--node {item!r} must look like ID=file.py:Factory")
        nodes[node_id.strip()] = load_target(spec)
    if not nodes:
        raise UsageError("no nodes: give --nodes IDS with a TARGET, or --node ID=TARGET")
    clients: dict[str, Any] = {}
    if args.clients:
        if not args.client or not args.workload:
            raise UsageError("--clients needs --client TARGET and --workload TARGET")
        client = load_target(args.client)
        clients = dict.fromkeys(_ids(args.clients), client)
    workload: Any = load_target(args.workload, "a workload function") if args.workload else None
    search = Search(nodes, clients=clients, workload=workload, ops=args.ops, seed=args.seed,
                    drops=args.drops, duplicates=args.duplicates, crashes=args.crashes,
                    symmetry=[_ids(group) for group in args.symmetry])
    for spec in args.invariant:
        invariant: Any = load_target(spec, "an invariant function")
        search.add_invariant(invariant, spec.split(":")[-1])
    for spec in args.goal:
        goal: Any = load_target(spec, "a goal function")
        search.add_goal(goal, spec.split(":")[-1])
    return search


def run(args: argparse.Namespace) -> int:
    """``dsys check model``: build, search with progress, report."""
    if args.strategy != "bfs" and args.depth is None:
        raise UsageError(f"--strategy {args.strategy} needs --depth N")
    out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    search = _branch(args, out) if args.source is not None else build(args)
    console = Console(stderr=True)
    last = [0.0]

    def progress(figures: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5:
            last[0] = now
            rate = figures["states"] / max(figures["seconds"], 1e-9)
            status.update(f"searching: {figures['states']:,} states ({rate:,.0f}/s), depth "
                          f"{figures['depth']}, queue {figures['queue']:,}")

    with console.status("searching...") as status:
        result = _search(search, args, progress)
    if result.path and result.verdict == "violation":
        out.print(result.report(), markup=False)
        if args.source is not None:
            out.print(_confirmed(result), markup=False)
        if args.trace or args.source is not None:
            _save_counterexample(result, args, out)
    else:
        out.print(result.summary(), markup=False)
        if result.path:
            out.print("\n".join(f"  {i:3d}. {s.describe()}"
                                for i, s in enumerate(result.path, 1)), markup=False)
    return _EXIT[result.verdict]


def _save_counterexample(result: SearchResult, args: argparse.Namespace,
                         out: Console) -> None:
    """Save the counterexample's trace (``--trace``, or beside the run branched from) and,
    for a branch, its timeline page: the run up to the branch point, then the path."""
    from dsys.labs.timeline import timeline_path, write_timeline
    from dsys.trace.html import Mark

    trace = result.replay().trace
    path = args.trace
    if path is None:
        source = Path(args.source)
        stem = source.name.removesuffix(".schedule.json").removesuffix(".jsonl")
        path = source.with_name(f"{stem}-branch.jsonl")
    saved = trace.save(path)
    out.print(f"trace saved to {saved} (dsys trace show {saved})", markup=False)
    branched = result.search._branched_at
    if branched is None:
        return
    marks = [Mark(f"branch point: the run until here, then the model checker's path "
                  f"({len(result.path)} steps)", event=min(branched, len(trace) - 1),
                  kind="info"),
             Mark(result.problem, event=len(trace) - 1)]
    page = write_timeline(trace, timeline_path(saved), marks,
                          title=f"branch: {result.problem[:80]}")
    out.print(f"timeline: {page}  (open it in a browser: the branch point and the "
              "violation are marked)", markup=False)


def _branch(args: argparse.Namespace, out: Console) -> Search:
    """The search that starts where ``--from``'s run is after ``--at`` events."""
    # Imported here: the lab machinery is only needed when branching from a lab run.
    from dsys.labs.branch import branch_point, source_of

    if args.target or args.nodes or args.node or args.clients:
        raise UsageError("--from takes the nodes and clients from the run: give no TARGET, "
                         "--nodes, --node or --clients with it")
    source = source_of(args.source, impl=args.impl)
    source = attrs.evolve(source, simulation=args.simulation)
    sim, rebuild = branch_point(source, args.at)
    out.print(f"branching from {source.describe()} after {len(sim.trace)} trace events "
              f"(t={sim.now:.6f} s, {sim.in_flight} messages in flight)", markup=False)
    invariants: list[Any] = [load_target(spec, "an invariant function")
                             for spec in args.invariant]
    search = Search.from_simulation(sim, drops=args.drops, duplicates=args.duplicates,
                                    crashes=args.crashes, rebuild=rebuild,
                                    invariants=invariants or None,
                                    symmetry=[_ids(group) for group in args.symmetry])
    for spec in args.goal:
        goal: Any = load_target(spec, "a goal function")
        search.add_goal(goal, spec.split(":")[-1])
    return search


def _confirmed(result: SearchResult) -> str:
    """Whether the run's own invariants, replaying the prefix and the path, fail too (an
    invariant that remembers what it saw can be misled by a search; a replay cannot)."""
    try:
        result.replay(check=True)
    except SimulationError as exc:
        return f"confirmed: replaying the run and this path fails the run's own checks: " \
               f"{exc.headline}"
    return ("not confirmed: replaying the run and this path passes the run's own checks "
            "(an invariant that remembers earlier states may mislead a search; trust the "
            "replay)")


def _search(search: Search, args: argparse.Namespace, progress: Any) -> SearchResult:
    common = {"max_states": args.max_states, "time_limit": args.time_limit,
              "deadlock": args.deadlock}
    if args.strategy == "bfs":
        memory = MEMORY_LIMIT if args.memory_limit is None else int(args.memory_limit * 2**30)
        return search.bfs(max_depth=args.depth, progress=progress, memory_limit=memory,
                          **common)
    if args.strategy == "dfs":
        return search.dfs(max_depth=args.depth, **common)
    if args.strategy == "iddfs":
        return search.iterative_deepening(max_depth=args.depth, **common)
    return search.random_walks(walks=args.walks, max_depth=args.depth, seed=args.seed,
                               deadlock=args.deadlock)
