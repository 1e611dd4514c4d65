"""Shrinking: from a failing run to a much smaller one that fails the same way.

A failing seed under a nemesis is a long run: dozens of faults, hundreds of lost
messages, a hundred client operations, of which a handful matter. :func:`shrink` takes
the run's :class:`~dsys.sim.schedule.Schedule` (its recorded choices) and searches for a
smaller one that still fails *the same way* (the same kind of exception, the same first
line up to numbers), by delta debugging (Zeller's *ddmin*) over the choices, replaying
each candidate deterministically. In the first pass a candidate counts as smaller only
if its run also has no more events than the best so far (a failure that comes later,
after more events, is no easier to read); the second pass lets a run grow to
:data:`GROWTH` times the original's events if that removes more choices (removing a
crash lets the other nodes do a little more before the failure):

1. the faults (crashes, partitions, one-way blocks, clock changes): a smallest set that
   still fails, found by ddmin (a fault left out is simply not made; the restart or heal
   that would undo it then does nothing);
2. the message losses, duplicates, reordering delays and unsynced writes lost in crashes:
   each kind all at once first (often none of them matters), then by ddmin;
3. each client's number of operations, by bisection;
4. the sizes the test lets shrink (``sized("servers", 5, minimum=3)``, see
   :func:`~dsys.sim.schedule.sized`): fewer servers, clients..., each by bisection;
5. a second pass over faults, losses and lost writes, which the smaller run may no longer
   need;
6. an earlier stop: for a failure judged at the end of the run (a history checked once
   the test has run its course), the earliest virtual time at which stopping each
   simulation's clock still fails, by bisection. A stop counts only if the stopped run
   still needs its remaining choices (without them it passes): stopping a run before a
   message arrives makes "the message never arrived" fail with no loss at all, which
   says nothing about the bug.

After each accepted step the current run is re-recorded, so later steps work on the
choices the smaller run really met. The result is a schedule to replay (with the same
seed and code) and the figures: events before and after, faults, losses and operations
before and after, the runs it took.

Example: a counter that goes wrong only when a message is lost, among many losses.

    >>> from dsys import Network, Node, Simulation, message
    >>> from dsys.sim.schedule import recording
    >>> from dsys.sim.shrink import shrink
    >>> @message(name="doc:Add")
    ... class Add:
    ...     n: int
    >>> class Sender(Node):
    ...     def on_start(self) -> None:
    ...         for n in range(30):
    ...             self.send("sum", Add(n))
    >>> class Sum(Node):
    ...     def on_start(self) -> None:
    ...         self.seen = set()
    ...     def on_message(self, src: str, msg: Add) -> None:
    ...         self.seen.add(msg.n)
    >>> def scenario() -> None:
    ...     sim = Simulation(seed=5, network=Network(drop=0.2))
    ...     sim.add_node("s", Sender)
    ...     sim.add_node("sum", Sum)
    ...     sim.run(until=1.0)
    ...     assert 7 in sim.node("sum").seen, "Add(7) never arrived"
    >>> with recording() as schedule:
    ...     try:
    ...         scenario()
    ...     except AssertionError as exc:
    ...         print(exc)
    Add(7) never arrived
    >>> len(schedule.runs[0].losses())
    7
    >>> result = shrink(scenario, schedule)
    >>> len(result.schedule.runs[0].losses()), result.schedule.runs[0].losses()
    (1, [('s', 'sum', 'Add', 7)])
    >>> result.before["message losses"], result.after["message losses"]
    (7, 1)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs

from dsys.errors import UsageError
from dsys.sim.schedule import CLEAN, RunChoices, Schedule, replaying

__all__ = ["Attempt", "ShrinkResult", "shrink", "signature"]

T = TypeVar("T")


def signature(exc: BaseException) -> str:
    """What "fails the same way" compares: the exception's type and the first line of its
    message with every number replaced by ``#``.

    Example:
        >>> signature(AssertionError("s1 and s3 both lead term 4"))
        'AssertionError: s# and s# both lead term #'
    """
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {re.sub(r'[0-9]+(?:[.][0-9]+)?', '#', text)}"


@attrs.frozen
class Attempt:
    """One replay of a candidate schedule."""

    failed: bool
    signature: str       # "" if it passed
    message: str         # the failure's message ("" if it passed)
    events: int          # trace events recorded, in all simulations
    met: Schedule        # the choices the run really met
    ends: tuple[float, ...] = ()  # each simulation's virtual time when the run ended


@attrs.frozen
class ShrinkResult:
    """What :func:`shrink` found."""

    schedule: Schedule   # the smallest failing schedule found
    signature: str       # the failure both runs share
    message: str         # the shrunk run's failure message
    original_events: int
    events: int
    runs: int            # replays it took
    before: dict[str, int]  # counts of faults, losses... in the original run
    after: dict[str, int]   # and in the shrunk one
    ends_before: tuple[float, ...] = ()  # each simulation's end time, originally
    ends_after: tuple[float, ...] = ()   # and in the shrunk run

    def describe(self) -> str:
        """A few lines for a terminal: events before and after, and what was removed."""
        lines = [f"shrunk {self.original_events} events -> {self.events} events "
                 f"({self.runs} replays); it still fails with:", f"  {self.message}"]
        for name, before in self.before.items():
            after = self.after.get(name, 0)
            if before or after:
                lines.append(f"  {name}: {before} -> {after}")
        for index, (first, last) in enumerate(zip(self.ends_before, self.ends_after,
                                                  strict=False)):
            stopped = index < len(self.schedule.runs) and \
                self.schedule.runs[index].until is not None
            if stopped and last < first:
                which = f" (simulation {index})" if len(self.ends_before) > 1 else ""
                lines.append(f"  stopped at t={last:g} s instead of t={first:g} s{which}")
        return "\n".join(lines)


#: The counts of :func:`_counts` that are choices of the network, nemesis or disk.
_CHOICES = ("faults", "message losses", "duplicates", "reorderings",
            "crashes losing unsynced writes")


def _counts(schedule: Schedule, ops: dict[str, int]) -> dict[str, int]:
    runs = schedule.runs
    sizes = {f"size of {name}": size for name, (size, _) in sorted(schedule.sizes.items())}
    return sizes | {
        "faults": sum(len(r.active_faults()) for r in runs),
        "message losses": sum(len(r.losses()) for r in runs),
        "duplicates": sum(len(r.duplicates()) for r in runs),
        "reorderings": sum(len(r.reorders()) for r in runs),
        "crashes losing unsynced writes": sum(len(r.lost_writes()) for r in runs),
        "client operations": sum(ops.values()),
    }


def _attempt(scenario: Callable[[], Any], schedule: Schedule) -> tuple[Attempt, dict[str, int]]:
    """Replay ``schedule``; also return each client's operations invoked."""
    with replaying(schedule) as session:
        try:
            scenario()
        except Exception as exc:  # the scenario's failure: what we shrink
            failure: BaseException | None = exc
        else:
            failure = None
    ops: dict[str, int] = {}
    for sim in session.sims:
        for entry in sim.history:
            if entry.get("type") == "invoke":
                ops[entry["client"]] = ops.get(entry["client"], 0) + 1
    met = session.met()
    for run, sim in zip(met.runs, session.sims, strict=False):
        # Only clients that invoked something can be capped.
        run.ops = {c: n for c, n in run.ops.items() if c in sim.client_ids}
    ends = tuple(float(sim.now) for sim in session.sims)
    if failure is None:
        return Attempt(False, "", "", session.events, met, ends), ops
    message = str(failure).strip().splitlines()[0] if str(failure).strip() else ""
    return Attempt(True, signature(failure), message, session.events, met, ends), ops


def _ddmin(items: Sequence[T], fails: Callable[[list[T]], bool]) -> list[T]:
    """A subset of ``items`` that still fails, 1-minimal when the budget allows
    (``fails(kept)`` says whether keeping only ``kept`` still fails)."""
    kept = list(items)
    chunks = 2
    while len(kept) >= 2:
        size = -(-len(kept) // chunks)
        parts = [kept[i:i + size] for i in range(0, len(kept), size)]
        for index in range(len(parts)):
            # Try removing one part (keeping the rest): ddmin's "complement" test.
            rest = [x for j, part in enumerate(parts) if j != index for x in part]
            if fails(rest):
                kept = rest
                chunks = max(chunks - 1, 2)
                break
        else:
            if chunks >= len(kept):
                break
            chunks = min(len(kept), chunks * 2)
    if len(kept) == 1 and fails([]):
        return []
    return kept


GROWTH = 1.25
"""How much longer (in events) than the original a shrunk run may be."""


class _OutOfBudget(Exception):
    pass


def shrink(scenario: Callable[[], Any], schedule: Schedule, *, max_runs: int = 200,
           time_limit: float | None = None,
           progress: Callable[[str], None] | None = None) -> ShrinkResult:
    """Find a smaller schedule on which ``scenario`` still fails the same way.

    Args:
        scenario: runs the failing test (builds its simulations, raises on failure), the
            same code and seed that recorded ``schedule``.
        schedule: the failing run's choices (from :func:`~dsys.sim.schedule.recording`).
        max_runs: at most this many replays.
        time_limit: stop trying after this many seconds (wall clock; this is tooling
            around the simulation, not simulated code) and return the best found so far.
        progress: called with a line of text after each accepted step.

    Raises:
        UsageError: if replaying ``schedule`` does not fail.
    """
    started = time.monotonic()
    runs = 0
    base, base_ops = _attempt(scenario, schedule)
    runs += 1
    if not base.failed:
        raise UsageError("the schedule does not fail when replayed: was it recorded from this "
                         "code and seed? (record the failing run again, then shrink)")
    target = base.signature
    best, best_ops = base, base_ops
    current = base.met
    relaxed = [False]

    def fails(candidate: Schedule) -> bool:
        nonlocal runs, best, best_ops, current
        if runs >= max_runs or (time_limit is not None and
                                time.monotonic() - started > time_limit):
            raise _OutOfBudget
        attempt, ops = _attempt(scenario, candidate)
        runs += 1
        # Smaller means fewer choices *and* a run no longer than the best so far (first
        # pass) or not much longer than the original (second pass).
        limit = GROWTH * base.events if relaxed[0] else best.events
        if attempt.failed and attempt.signature == target and attempt.events <= limit:
            best, best_ops, current = attempt, ops, attempt.met
            return True
        return False

    def say(text: str) -> None:
        if progress is not None:
            progress(f"{text}: {best.events} events ({runs} replays)")

    def edit(change: Callable[[int, RunChoices], RunChoices],
             start: Schedule | None = None) -> Schedule:
        start = current if start is None else start
        return Schedule([change(i, attrs.evolve(r, messages=dict(r.messages),
                                                 faults=list(r.faults), disk=dict(r.disk),
                                                 ops=dict(r.ops)))
                         for i, r in enumerate(start.runs)], dict(start.meta),
                        dict(start.sizes))

    def without(start: Schedule, keys: dict[int, set[Any]], kind: str) -> Schedule:
        """``start`` with the chosen choices of ``kind`` undone."""
        def change(index: int, run: RunChoices) -> RunChoices:
            chosen = keys.get(index, set())
            if kind == "faults":
                run.suppressed = run.suppressed | chosen
            elif kind == "disk":
                for key in chosen:
                    run.disk[key] = ()
            else:
                for key in chosen:
                    fate = run.messages[key]
                    if kind == "losses":
                        run.messages[key] = CLEAN
                    elif kind == "duplicates" and isinstance(fate, tuple):
                        run.messages[key] = fate[:1]
                    elif kind == "reorders" and isinstance(fate, tuple):
                        run.messages[key] = tuple((lat, 0.0) for lat, _ in fate)
            return run
        return edit(change, start)

    def listed(kind: str) -> list[tuple[int, Any]]:
        found: list[tuple[int, Any]] = []
        for index, run in enumerate(current.runs):
            lists: dict[str, Callable[[], list[Any]]] = {
                "faults": run.active_faults, "losses": run.losses,
                "duplicates": run.duplicates, "reorders": run.reorders,
                "disk": run.lost_writes}
            items = lists[kind]()
            found.extend((index, item) for item in items)
        return found

    def reduce(kind: str) -> None:
        items = listed(kind)
        if not items:
            return
        # Every candidate undoes a subset of the choices listed now, from the run they
        # were listed in (ddmin's tests are subsets of one set).
        start = current

        def keeps(kept: list[tuple[int, Any]]) -> bool:
            keep = set(kept)
            removed: dict[int, set[Any]] = {}
            for index, item in items:
                if (index, item) not in keep:
                    removed.setdefault(index, set()).add(item)
            return fails(without(start, removed, kind))

        # All at once first (often none of them matter), then ddmin.
        if not keeps([]):
            _ddmin(items, keeps)
        say(f"{kind} reduced")

    def fewer_ops() -> None:
        for client in sorted(best_ops):
            low, high = 0, best_ops.get(client, 0)
            while low < high:
                mid = (low + high) // 2

                def capped(index: int, run: RunChoices, mid: int = mid,
                           client: str = client) -> RunChoices:
                    run.ops[client] = mid
                    return run

                if fails(edit(capped)):
                    high = min(mid, best_ops.get(client, mid))
                else:
                    low = mid + 1
        say("client operations reduced")

    def smaller_sizes() -> None:
        for name in sorted(current.sizes):
            low, high = current.sizes[name][1], current.sizes[name][0]
            while low < high:
                mid = (low + high) // 2

                def resized(start: Schedule, mid: int = mid, name: str = name) -> Schedule:
                    copy = edit(lambda index, run: run, start)
                    copy.sizes[name] = (mid, copy.sizes[name][1])
                    return copy

                if fails(resized(current)):
                    high = current.sizes[name][0]
                else:
                    low = mid + 1
        if current.sizes:
            say("sizes reduced")

    def bare(start: Schedule) -> Schedule:
        """``start`` with every choice undone: no fault, loss, duplicate, reordering or
        lost write."""
        def change(index: int, run: RunChoices) -> RunChoices:
            run.suppressed = run.suppressed | set(run.active_faults())
            for key in run.losses():
                run.messages[key] = CLEAN
            for key, fate in list(run.messages.items()):
                if isinstance(fate, tuple) and fate:
                    run.messages[key] = ((fate[0][0], 0.0),)
            for crash in run.disk:
                run.disk[crash] = ()
            return run
        return edit(change, start)

    def stop_counts(candidate: Schedule) -> bool:
        """The stopped candidate fails the same way, and would not without its choices."""
        nonlocal runs
        if runs >= max_runs:
            raise _OutOfBudget
        plain, _ = _attempt(scenario, bare(candidate))
        runs += 1
        if plain.failed and plain.signature == target:
            return False
        return fails(candidate)

    def earlier() -> None:
        if not any(_counts(current, {}).get(kind) for kind in _CHOICES):
            return  # a failure that needs no choice: stopping early could only mislead
        for index in range(len(current.runs)):
            end = best.ends[index] if index < len(best.ends) else 0.0

            def stopped(at: float, index: int = index) -> Schedule:
                def change(i: int, run: RunChoices) -> RunChoices:
                    if i == index:
                        run.until = at
                    return run
                return edit(change)

            # One try just before the end first: a failure raised where it happened (an
            # invariant) cannot come earlier, and costs only this replay.
            if end <= 0.0 or not stop_counts(stopped(end * 0.999)):
                continue
            low, high = 0.0, best.ends[index]
            for _ in range(12):  # to 1/4096 of the run
                mid = (low + high) / 2
                if stop_counts(stopped(mid)):
                    high = best.ends[index]
                else:
                    low = mid
            say(f"stop time reduced (simulation {index})")

    try:
        # Faults first: each one removed also removes the traffic and timeouts it caused.
        for kind in ("faults", "losses", "duplicates", "reorders", "disk"):
            reduce(kind)
        fewer_ops()
        smaller_sizes()
        # A second pass: fewer faults may have made some losses unnecessary, and so on;
        # now a run may grow a little if that removes more choices.
        relaxed[0] = True
        for kind in ("faults", "losses", "disk"):
            reduce(kind)
        relaxed[0] = False
        earlier()
    except _OutOfBudget:
        if progress is not None:
            progress(f"stopped at the budget ({runs} replays)")
    return ShrinkResult(current, target, best.message, base.events, best.events, runs,
                        _counts(base.met, base_ops), _counts(current, best_ops),
                        base.ends, best.ends)
