"""``dsys lab list|start|test``: the labs, from a student's terminal.

* ``dsys lab list``: every lab with its topic, its points and the state of your attempt.
* ``dsys lab start LAB DIR``: copy the lab's starter files and handout into ``DIR``.
* ``dsys lab test LAB``: grade your attempt (or ``--impl FILE``, or ``--reference``) over
  many seeds, with a progress bar, points per test and, for each failing test, the seed,
  what went wrong, the last trace events, where the full trace was saved, and the one
  command that replays exactly that failure. Exits 0 only when every graded test passes.
  The graded code runs under ``PYTHONHASHSEED=0`` (in worker processes if this one runs
  under another), ``--jobs N`` of them at once, and is checked to be deterministic (see
  :func:`dsys.labs.grade`): so the replay command replays, on any machine.
* ``dsys lab test LAB --rates --runs N``: flake rates. Every seed runs (a failing test does
  not stop at its first failure); per test, the failure rate, the kinds of failure, the
  first failing seeds with their replay commands, and a timeline of the first failure of
  each kind (see :mod:`dsys.labs.flake`); ``--json PATH`` writes the report for CI.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from dsys.errors import UsageError
from dsys.labs import attempts
from dsys.labs.flake import flake_rates
from dsys.labs.grading import (
    Failure,
    Grade,
    GradedTest,
    Outcome,
    grade,
    load_grader,
    load_implementation,
    load_reference,
    seeds_for,
)
from dsys.labs.lab import Lab, discover, find_lab
from dsys.labs.processes import GRADING_HASH_SEED, cpu_count
from dsys.labs.shrink import replay_schedule, shrink_trial
from dsys.labs.timeline import timeline_path
from dsys.sim.schedule import Schedule

#: Where ``dsys lab test`` saves the traces of failing runs, relative to the current folder.
TRACE_DIR = Path(".dsys") / "traces"
#: How many kinds of failure per test ``--rates`` shows (all are in ``--json``).
SHOWN_KINDS = 3


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``lab`` command group."""
    lab = subparsers.add_parser("lab", help="list, start and grade the labs",
                                description="Labs: guided exercises, graded by simulation.")
    sub = lab.add_subparsers(dest="lab_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="the labs, their points and your progress")
    listing.set_defaults(func=list_labs)

    start = sub.add_parser("start", help="copy a lab's starter files into a folder")
    start.add_argument("lab", metavar="LAB", help="the lab (e.g. lab0; see `dsys lab list`)")
    start.add_argument("folder", metavar="DIR", help="where to put the files (created if needed)")
    start.add_argument("--force", action="store_true",
                       help="overwrite files that exist (your changes to them are lost)")
    start.set_defaults(func=start_lab)

    test = sub.add_parser(
        "test", help="grade an implementation of a lab",
        description="Grade an implementation over many seeds. Without --impl or --reference, "
        "grade your attempt (the folder `dsys lab start` made).")
    test.add_argument("lab", metavar="LAB", help="the lab (e.g. lab0; see `dsys lab list`)")
    which = test.add_mutually_exclusive_group()
    which.add_argument("--impl", metavar="PATH",
                       help="grade this Python file (a solution, or a mutant: a path such as "
                            "mutants/no_dedup.py is also looked up in the lab's folder)")
    which.add_argument("--reference", action="store_true", help="grade the reference solution")
    test.add_argument("--seed", type=int, default=None, metavar="N",
                      help="run only seed N (with --runs: seeds N, N+1, ...); replays a failure")
    test.add_argument("--runs", type=int, default=None, metavar="N",
                      help="run each test over N seeds instead of its default")
    test.add_argument("--test", action="append", metavar="NAME", dest="tests",
                      help="grade only this test (repeatable)")
    test.add_argument("-x", "--exitfirst", action="store_true",
                      help="stop at the first failing test")
    test.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                      help="run seeds in N processes at once (default: the number of CPUs, "
                           f"here {cpu_count()}); the results are the same for any N")
    test.add_argument("--rates", action="store_true",
                      help="flake rates: run every seed (do not stop at a test's first "
                           "failure) and report each test's failure rate, kinds of failure "
                           "and first failing seeds with their replay commands")
    test.add_argument("--json", metavar="PATH", default=None,
                      help="with --rates (implied): also write the report as JSON, for CI")
    test.add_argument("--trace-dir", default=str(TRACE_DIR), metavar="DIR",
                      help=f"where traces of failing runs are saved (default {TRACE_DIR}), "
                           "named after the lab, the graded file, the test and the seed")
    test.add_argument("--schedule", metavar="FILE", default=None,
                      help="replay a saved schedule (from `dsys shrink`): the same faults, "
                           "losses and delays, also against your edited code; says how far "
                           "the new run followed the saved one")
    test.set_defaults(func=run_tests)

    shrink = subparsers.add_parser(
        "shrink", help="shrink a failing lab run to a much smaller one that fails the same way",
        description="Re-run a failing graded test with its seed, recording every fault, lost "
        "message and client operation, then remove those the failure does not need (delta "
        "debugging, each candidate replayed deterministically). Saves the smaller run as a "
        "schedule, with its trace and timeline, and prints the command that replays it.")
    shrink.add_argument("lab", metavar="LAB", help="the lab (e.g. lab5; see `dsys lab list`)")
    which = shrink.add_mutually_exclusive_group()
    which.add_argument("--impl", metavar="PATH", help="the implementation (as for `dsys lab test`)")
    which.add_argument("--reference", action="store_true", help="the reference solution")
    shrink.add_argument("--test", required=True, metavar="NAME", help="the failing test")
    shrink.add_argument("--seed", required=True, type=int, metavar="N", help="its failing seed")
    shrink.add_argument("--max-runs", type=int, default=200, metavar="N",
                        help="replay at most N candidates (default 200)")
    shrink.add_argument("--time-limit", type=float, default=300.0, metavar="SECONDS",
                        help="stop after this long and keep the smallest found (default 300)")
    shrink.add_argument("--trace-dir", default=str(TRACE_DIR), metavar="DIR",
                        help=f"where the schedule, trace and timeline go (default {TRACE_DIR})")
    shrink.set_defaults(func=shrink_command)


# ----- shrink and schedules ----------------------------------------------------------------------


def shrink_command(args: argparse.Namespace) -> int:
    """``dsys shrink LAB --test NAME --seed N``."""
    if args.max_runs < 1:
        raise UsageError(f"--max-runs must be at least 1, got {args.max_runs}")
    lab = find_lab(args.lab)
    impl, description, option, _ = _target(lab, args)
    test = _select(load_grader(lab), [args.test], lab)[0]
    console = Console()
    console.print(f"[bold]Shrinking[/bold] {lab.name} {test.name} seed {args.seed} of "
                  f"{escape(description)}", highlight=False)
    replay = f"dsys lab test {lab.name}{option} --test {test.name} --seed {args.seed}"
    shrunk = shrink_trial(lab, impl, test, args.seed, replay=replay,
                          trace_dir=Path(args.trace_dir),
                          name="reference" if args.reference else None,
                          max_runs=args.max_runs, time_limit=args.time_limit,
                          progress=lambda line: console.print(f"  {line}", highlight=False))
    console.print(shrunk.result.describe(), highlight=False)
    console.print(f"schedule: {shrunk.schedule_path}", highlight=False)
    for path in shrunk.trace_paths:
        console.print(f"trace: {path}", highlight=False)
        page = timeline_path(path)
        if page.is_file():
            console.print(f"timeline: {page}  (open it in a browser)", highlight=False)
    console.print("replay the shrunk run (also after editing your code): ", end="")
    console.print(shrunk.replay, style="bold cyan", highlight=False)
    return 0


def _replay_schedule(lab: Lab, impl: ModuleType, all_tests: list[GradedTest],
                     args: argparse.Namespace, replay: Callable[[str, int], str],
                     name: str | None) -> int:
    """``dsys lab test LAB --schedule FILE``: one trial on a saved schedule."""
    schedule = Schedule.load(args.schedule)
    test_name = (args.tests or [schedule.meta.get("test")])[0]
    seed = args.seed if args.seed is not None else schedule.meta.get("seed")
    if not isinstance(test_name, str) or not isinstance(seed, int):
        raise UsageError("give --test NAME and --seed N: the schedule does not say which "
                         "test and seed it is of")
    test = _select(all_tests, [test_name], lab)[0]
    command = f"{replay(test.name, seed)} --schedule {args.schedule}"
    replayed = replay_schedule(lab, impl, test, seed, schedule, replay=command,
                               trace_dir=Path(args.trace_dir), name=name)
    console = Console()
    failure = replayed.run.failure
    if failure is None:
        console.print(f"[green]PASS[/green] {test.name} seed {seed} on the schedule "
                      f"{escape(args.schedule)}", highlight=False)
    else:
        body = Text(f"{failure.message}\n", style="red")
        if failure.excerpt:
            body.append("last trace events:\n", style="bold")
            body.append(failure.excerpt + "\n")
        for path in replayed.trace_paths:
            body.append("full trace: ", style="bold")
            body.append(f"{path}\n")
            page = timeline_path(path)
            if page.is_file():
                body.append("timeline: ", style="bold")
                body.append(f"{page}\n")
        console.print(Panel(body, title=f"FAIL {test.name} (seed {seed}, schedule)",
                            title_align="left", border_style="red"))
    console.print(f"messages whose fate the schedule gave: {replayed.matched}; new messages "
                  f"(their own fate): {replayed.fallbacks}", highlight=False)
    if replayed.divergence is not None:
        console.print(replayed.divergence.describe(), highlight=False)
    return 0 if failure is None else 1


# ----- list --------------------------------------------------------------------------------------


def _status(lab: Lab) -> tuple[Text, str | None]:
    """The attempt column of ``lab``'s row, and the line under the table that says where
    the attempt is (a path is never cut in a table cell: it can be copied whole)."""
    attempt = attempts.find_attempt(lab)
    if attempt is None:
        return Text("not started", style="dim"), None
    if attempt.earned is None or attempt.total is None:
        return Text("started", style="yellow"), f"{lab.name}: started in {attempt.folder}"
    style = "bold green" if attempt.earned == attempt.total else "yellow"
    score = f"{attempt.earned}/{attempt.total}"
    return Text(score, style=style), f"{lab.name}: {score} in {attempt.folder}"


def list_labs(args: argparse.Namespace) -> int:
    """``dsys lab list``."""
    table = Table(title="dsys labs")
    table.add_column("lab", style="bold")
    table.add_column("title / topic")
    table.add_column("points", justify="right")
    table.add_column("your attempt")
    where = []
    for lab in discover():
        points = sum(test.points for test in load_grader(lab))
        aliases = f"\n[dim]also: {', '.join(lab.aliases)}[/dim]" if lab.aliases else ""
        about = f"{escape(lab.title)}\n[dim]{escape(lab.topic)}[/dim]"
        status, line = _status(lab)
        table.add_row(f"{lab.name}{aliases}", about, str(points), status)
        if line is not None:
            where.append(line)
    console = Console()
    console.print(table)
    for line in where:
        console.print(line, soft_wrap=True, markup=False, highlight=False)
    console.print("[dim]start one: dsys lab start LAB DIR   grade it: dsys lab test LAB[/dim]")
    return 0


# ----- start -------------------------------------------------------------------------------------


def start_lab(args: argparse.Namespace) -> int:
    """``dsys lab start LAB DIR``."""
    lab = find_lab(args.lab)
    folder = Path(args.folder)
    written = attempts.start(lab, folder, force=args.force)
    console = Console()
    console.print(f"[bold]{lab.name}[/bold]: {escape(lab.title)}")
    for path in written:
        console.print(f"  wrote {escape(str(path))}")
    console.print(f"\nRead {escape(str(folder / 'README.md'))}, edit "
                  f"{escape(str(folder / lab.implementation))}, then grade it:")
    console.print(f"  dsys lab test {lab.name}", highlight=False)
    return 0


# ----- test --------------------------------------------------------------------------------------


def _target(lab: Lab, args: argparse.Namespace
            ) -> tuple[ModuleType, str, str, attempts.Attempt | None]:
    """The implementation to grade, how to describe it, the replay option, the attempt."""
    if args.reference:
        described = f"the reference solution ({lab.reference})"
        return load_reference(lab), described, " --reference", None
    if args.impl is not None:
        path = _find_file(lab, Path(args.impl))
        return (load_implementation(lab, path), str(path),
                f" --impl {shlex.quote(args.impl)}", None)
    attempt = attempts.find_attempt(lab)
    if attempt is None:
        raise UsageError(
            f"no attempt at {lab.name} found: start one with `dsys lab start {lab.name} DIR`, "
            "or grade a file with --impl PATH"
        )
    path = attempt.implementation_path
    if not path.is_file():
        raise UsageError(f"your attempt at {lab.name} should be in {path}, but that file is gone; "
                         f"start again with `dsys lab start {lab.name} DIR`, or use --impl PATH")
    return load_implementation(lab, path), str(path), "", attempt


def _find_file(lab: Lab, given: Path) -> Path:
    """``given`` if it exists, else the same path inside the lab's folder, so that
    ``--impl mutants/no_dedup.py`` and ``--impl labs/lab0/mutants/no_dedup.py`` work from
    any folder, including with an installed wheel (whose labs are inside the package)."""
    if given.exists():
        return given
    candidates = [lab.path / given]
    parts = given.parts
    if len(parts) > 2 and parts[0] == "labs" and parts[1] in lab.names():
        candidates.append(lab.path.joinpath(*parts[2:]))
    return next((c for c in candidates if c.is_file()), given)


def _select(all_tests: list[GradedTest], names: list[str] | None, lab: Lab) -> list[GradedTest]:
    if not names:
        return all_tests
    by_name = {test.name: test for test in all_tests}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise UsageError(f"{lab.name} has no test {', '.join(map(repr, unknown))}; its tests: "
                         f"{', '.join(by_name)}")
    return [by_name[name] for name in dict.fromkeys(names)]


def run_tests(args: argparse.Namespace) -> int:
    """``dsys lab test LAB``."""
    if args.runs is not None and args.runs < 1:
        raise UsageError(f"--runs must be at least 1, got {args.runs}")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    jobs = cpu_count() if args.jobs is None else args.jobs
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    started = time.perf_counter()
    lab = find_lab(args.lab)
    impl, description, option, attempt = _target(lab, args)
    # Traces are named after what is graded, so grading a mutant or a classmate's file
    # never overwrites the traces of your own attempt.
    name = "reference" if args.reference else None
    all_tests = load_grader(lab)
    tests = _select(all_tests, args.tests, lab)
    first_seed = args.seed or 0
    runs = args.runs if args.runs is not None or args.seed is None else 1

    def replay(test: str, seed: int) -> str:
        return f"dsys lab test {lab.name}{option} --test {test} --seed {seed}"

    if args.schedule is not None:
        return _replay_schedule(lab, impl, all_tests, args, replay, name)

    if args.rates or args.json is not None:
        return _rates(lab, impl, tests, description, args, replay=replay, jobs=jobs,
                      first_seed=first_seed, runs=runs, name=name, started=started)
    console = Console()
    console.print(f"[bold]Grading {lab.name}[/bold]: {escape(lab.title)}")
    console.print(f"implementation: {escape(description)}", highlight=False)
    total_runs = sum(len(seeds_for(test, first_seed, runs)) for test in tests)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("grading", total=total_runs)

        def on_trial(test: GradedTest, seed: int) -> None:
            progress.update(task, advance=1, description=f"{test.name} seed {seed}")

        def on_outcome(outcome: Outcome) -> None:
            # A failing test stops early: count its remaining seeds as done.
            skipped = len(seeds_for(outcome.test, first_seed, runs)) - len(outcome.seeds)
            progress.update(task, advance=skipped)

        result = grade(lab, impl, tests=tests, first_seed=first_seed, runs=runs, replay=replay,
                       trace_dir=Path(args.trace_dir), fail_fast=args.exitfirst,
                       on_trial=on_trial, on_outcome=on_outcome, jobs=jobs,
                       hash_seed=GRADING_HASH_SEED, name=name)
    for index, failure in enumerate(result.failures):
        console.print(_failure_panel(failure, result, full=index == 0))
    if len(result.failures) > 1:
        console.print("[dim]Fix the first failure first: the others often have the same "
                      "cause. Each replay command shows one failure in full.[/dim]")
    console.print(_summary(result, tests))
    differences = _differences(args, tests, all_tests, result)
    if differences:
        lead = "Not recorded as your grade: this grading" if attempt else "This grading"
        console.print(f"[dim]{lead} {', '.join(differences)}. "
                      f"The full grade runs every test over its own seeds: "
                      f"dsys lab test {lab.name}{option}[/dim]", highlight=False)
    elif attempt is not None:
        attempts.record_grade(attempt, result.earned, result.total)
    ran = sum(len(outcome.seeds) for outcome in result.results)
    runs_text = "1 run" if ran == 1 else f"{ran} runs"
    console.print(f"[dim]graded in {time.perf_counter() - started:.1f} s ({runs_text}, "
                  f"--jobs {jobs})[/dim]", highlight=False)
    return 0 if result.passed else 1


def _rates(lab: Lab, impl: ModuleType, tests: list[GradedTest], description: str,
           args: argparse.Namespace, *, replay: Callable[[str, int], str], jobs: int,
           first_seed: int, runs: int | None, name: str | None, started: float) -> int:
    """``dsys lab test LAB --rates``: flake rates (see :mod:`dsys.labs.flake`)."""
    console = Console()
    console.print(f"[bold]Flake rates of {lab.name}[/bold]: {escape(lab.title)}")
    console.print(f"implementation: {escape(description)}", highlight=False)
    total_runs = sum(len(seeds_for(test, first_seed, runs)) for test in tests)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("running", total=total_runs)

        def on_trial(test: GradedTest, seed: int) -> None:
            progress.update(task, advance=1, description=f"{test.name} seed {seed}")

        report = flake_rates(lab, impl, tests=tests, runs=runs, first_seed=first_seed,
                             jobs=jobs, hash_seed=GRADING_HASH_SEED, replay=replay,
                             trace_dir=Path(args.trace_dir), name=name, on_trial=on_trial)
    for rate in report.tests:
        if not rate.failures:
            continue
        body = Text()
        body.append(f"{rate.title}\n", style="italic")
        for kind in rate.kinds[:SHOWN_KINDS]:
            body.append(f"{kind.count}/{rate.runs} seeds: ", style="bold")
            body.append(f"{kind.example}\n", style="red")
            body.append(f"  seeds {', '.join(map(str, kind.seeds))}"
                        f"{' ...' if kind.count > len(kind.seeds) else ''}; replay the first: ")
            body.append(f"{kind.replay}\n", style="bold cyan")
            for page in kind.timelines:
                body.append("  timeline: ", style="bold")
                body.append(f"{page}\n")
        if len(rate.kinds) > SHOWN_KINDS:
            body.append(f"... and {len(rate.kinds) - SHOWN_KINDS} more kind(s) of failure "
                        "(see --json)\n", style="dim")
        console.print(Panel(body, title=f"{rate.test}: failed {rate.failures} of {rate.runs}",
                            title_align="left", border_style="red"))
    table = Table(title=f"{lab.name}: failure rate per test")
    table.add_column("test")
    table.add_column("seeds", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("rate", justify="right")
    table.add_column("kinds", justify="right")
    table.add_column("first failing seeds")
    for rate in report.tests:
        style = "bold green" if not rate.failures else "bold red"
        table.add_row(rate.test, str(rate.runs), Text(str(rate.failures), style=style),
                      f"{100 * rate.rate:.1f}%", str(len(rate.kinds)),
                      ", ".join(str(f.seed) for f in rate.first_failing))
    console.print(table)
    if args.json is not None:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
        console.print(f"JSON report: {escape(str(path))}", highlight=False)
    ran = sum(rate.runs for rate in report.tests)
    console.print(f"[dim]ran in {time.perf_counter() - started:.1f} s ({ran} runs, --jobs "
                  f"{jobs}); not recorded as your grade[/dim]", highlight=False)
    return 0 if report.passed else 1


def _differences(args: argparse.Namespace, tests: list[GradedTest], all_tests: list[GradedTest],
                 result: Grade) -> list[str]:
    """How this grading differs from the full grade (nothing: it is the full grade)."""
    said = []
    if len(tests) < len(all_tests):
        said.append(f"ran {len(tests)} of the {len(all_tests)} tests")
    if args.runs is not None:
        if all(args.runs >= test.runs for test in tests):
            said.append(f"ran more seeds than the full grade ({args.runs} per test)")
        elif all(args.runs <= test.runs for test in tests):
            said.append(f"ran fewer seeds than the full grade ({args.runs} per test)")
        else:
            said.append(f"ran {args.runs} seeds per test, not each test's own number")
    elif args.seed is not None:
        said.append(f"ran one seed per test (seed {args.seed})")
    if args.runs is not None and args.seed:
        said.append(f"started at seed {args.seed}")
    if len(result.results) < len(tests):
        said.append("stopped at the first failing test (-x)")
    return said


def _summary(result: Grade, tests: list[GradedTest]) -> Group:
    table = Table(title=f"{result.lab.name}: points per test")
    table.add_column("test")
    table.add_column("result")
    table.add_column("seeds", justify="right")
    table.add_column("points", justify="right")
    for outcome in result.results:
        if outcome.failure is None:
            verdict, seeds = Text("pass", style="bold green"), f"{len(outcome.seeds)} passed"
        else:
            verdict = Text("FAIL", style="bold red")
            seeds = f"failed on seed {outcome.failure.seed}"
        table.add_row(outcome.test.name, verdict, seeds,
                      f"{outcome.earned}/{outcome.test.points}")
    graded_names = {outcome.test.name for outcome in result.results}
    for test in tests:
        if test.name not in graded_names:  # --exitfirst stopped before it
            table.add_row(test.name, Text("not run", style="dim"), "", f"0/{test.points}")
    style = "bold green" if result.passed else "bold red"
    total = sum(test.points for test in tests)
    score = Text(f"Score: {result.earned}/{total}", style=style)
    if result.passed:
        score.append("  every graded test passed", style="green")
    else:
        score.append(f"  {len(result.failures)} test(s) failed; replay one with the command "
                     "shown above it", style="red")
    return Group(table, score)


def _failure_panel(failure: Failure, result: Grade, *, full: bool) -> Panel:
    """A failure, ``full`` with the trace excerpt and output, or in short."""
    title = next(o.test.title for o in result.results if o.test.name == failure.test)
    body = Text()
    body.append(f"{title}\n", style="italic")
    body.append(f"seed {failure.seed}: ", style="bold")
    if not full:
        body.append(f"{failure.message.splitlines()[0]}\n", style="red")
        body.append("replay: ", style="bold")
        body.append(failure.replay, style="bold cyan")
        return Panel(body, title=f"FAIL {failure.test} (seed {failure.seed})",
                     title_align="left", border_style="red")
    body.append(f"{failure.message}\n", style="red")
    if failure.where:
        body.append("where: ", style="bold")
        body.append(f"{failure.where}\n")
    if failure.output:
        body.append("your program printed (last lines):\n", style="bold")
        body.append(failure.output + "\n", style="dim")
    if failure.excerpt:
        shown = ("the events before the runs part" if failure.nondeterministic
                 else "last trace events")
        body.append(f"{shown}:\n", style="bold")
        body.append(failure.excerpt + "\n")
    for path in failure.trace_paths:
        body.append("full trace: ", style="bold")
        body.append(f"{path}  (view: dsys trace show {shlex.quote(str(path))}; draw: "
                    f"dsys trace svg {shlex.quote(str(path))} -o trace.svg)\n")
    for page in failure.timelines:
        body.append("timeline: ", style="bold")
        body.append(f"{page}  (open it in a browser: what failed is marked)\n")
    body.append("replay: ", style="bold")
    body.append(failure.replay, style="bold cyan")
    if failure.replay.startswith("dsys lab test ") and "--schedule" not in failure.replay:
        body.append("\nshrink it to the faults and operations that matter: ", style="bold")
        body.append(failure.replay.replace("dsys lab test ", "dsys shrink ", 1),
                    style="bold cyan")
    return Panel(body, title=f"FAIL {failure.test} (seed {failure.seed})", title_align="left",
                 border_style="red")
