"""Schedules: the adversity of a run, saved so it can be replayed, shrunk, and outlive an edit.

A seed fixes a run, but only for the code that ran: the network draws its choices (lose
this message? duplicate it? how late?) from one random stream, one message after the
other, so a handler that sends one more message shifts every later choice, and the
same seed then means a different run. A :class:`Schedule` keeps the choices themselves,
each keyed by what it was about rather than by when it was drawn:

* a **message's fate** (lost, or delivered once or twice, each copy with its latency and
  its reordering delay), keyed by ``(src, dst, message type, n)``: the n-th message of
  that type on that link;
* the **faults** the run made (crash, partition, one-way block, clock change), keyed by
  ``(kind, target, n)``; a schedule can *suppress* some of them;
* the **unsynced writes a crash lost**, keyed by ``(node, n)``: the node's n-th crash;
* a cap on each simulated **client's operations**.

Everything else (node ``rng``s, timers, scripted scenarios, the nemesis's own random
choices) stays seeded as before. Replaying a schedule against the code that recorded it
gives the same run, event for event; against edited code, every message that is still
sent meets the fate its namesake met, and a message the old run never sent meets a fate
drawn from its own stream (seeded by its key), so one new message disturbs nothing else.
:func:`divergence` says how far a replay followed the old run.

Schedules are recorded and replayed through a context: every :class:`Simulation`
built inside :func:`recording` or :func:`replaying` takes part, in the order they are
built (a test that builds two simulations has two entries).

Example: record a lossy run, check that its schedule replays it, and suppress its losses.

    >>> from dsys import Network, Node, Simulation, message
    >>> from dsys.sim.schedule import recording, replaying
    >>> @message(name="doc:schedule.Hop")
    ... class Hop:
    ...     n: int
    >>> class Relay(Node):
    ...     def on_start(self) -> None:
    ...         if self.id == "a":
    ...             for n in range(20):
    ...                 self.send("b", Hop(n))
    ...     def on_message(self, src: str, msg: Hop) -> None:
    ...         pass
    >>> def run() -> Simulation:
    ...     sim = Simulation(seed=4, network=Network(drop=0.3))
    ...     sim.add_node("a", Relay)
    ...     sim.add_node("b", Relay)
    ...     sim.run(until=1.0)
    ...     return sim
    >>> with recording() as schedule:
    ...     original = run()
    >>> original.statistics().delivered, len(schedule.runs[0].losses())
    (15, 5)
    >>> with replaying(schedule):
    ...     again = run()
    >>> again.trace.digest() == original.trace.digest()
    True
    >>> with replaying(schedule.without_losses()):
    ...     clean = run()
    >>> clean.statistics().delivered
    20
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from random import Random
from typing import TYPE_CHECKING, Any

import attrs

from dsys.errors import ConfigError

if TYPE_CHECKING:
    from dsys.sim.network import LinkSettings
    from dsys.sim.simulation import Simulation
    from dsys.trace.events import Trace

__all__ = [
    "CLEAN",
    "Divergence",
    "FaultKey",
    "MessageKey",
    "RunChoices",
    "Schedule",
    "Session",
    "StopRun",
    "StoppedClock",
    "divergence",
    "recording",
    "replaying",
    "sized",
    "stopping_at",
]

#: A message's identity: (source, destination, message type, its ordinal among the
#: messages of that type sent on that link, from 0).
MessageKey = tuple[str, str, str, int]
#: A fault's identity: (kind, target, its ordinal among the faults of that kind and target).
FaultKey = tuple[str, str, int]
#: One copy of a delivered message: (latency, extra reordering delay), in seconds.
Copy = tuple[float, float]
#: A fate: the copies delivered (empty: lost), or :data:`CLEAN`.
Fate = tuple[Copy, ...] | str
#: The fate "delivered once, no reordering, latency from the message's own stream": what
#: shrinking puts in place of a loss it found did not matter.
CLEAN = "clean"

#: The fault methods of :class:`~dsys.sim.simulation.Simulation` a schedule keys and can
#: suppress (restarts and heals undo faults: they are never suppressed).
FAULT_KINDS = ("crash", "partition", "block", "clock")

_FORMAT = "dsys-schedule"
_VERSION = 1


@attrs.define
class RunChoices:
    """The choices of one simulation of a run (see the module docstring).

    Attributes:
        seed: the simulation's seed.
        messages: message key -> fate.
        faults: every fault the run made, in order (suppressed ones included).
        suppressed: the faults to skip when this is replayed.
        disk: (node, crash ordinal) -> the keys whose unsynced writes that crash lost.
        ops: client id -> the most operations it may invoke.
        until: the virtual time this simulation's clock stops at (None: wherever the test
            runs it): a test run on it judges a shorter run.
    """

    seed: int
    messages: dict[MessageKey, Fate] = attrs.field(factory=dict)
    faults: list[FaultKey] = attrs.field(factory=list)
    suppressed: frozenset[FaultKey] = frozenset()
    disk: dict[tuple[str, int], tuple[str, ...]] = attrs.field(factory=dict)
    ops: dict[str, int] = attrs.field(factory=dict)
    until: float | None = None

    def losses(self) -> list[MessageKey]:
        """The messages the network lost (partitions and crashes aside), in key order."""
        return sorted(k for k, fate in self.messages.items() if fate == ())

    def duplicates(self) -> list[MessageKey]:
        """The messages the network delivered twice."""
        return sorted(k for k, fate in self.messages.items()
                      if isinstance(fate, tuple) and len(fate) > 1)

    def reorders(self) -> list[MessageKey]:
        """The messages held back by a reordering delay."""
        return sorted(k for k, fate in self.messages.items()
                      if isinstance(fate, tuple) and any(extra for _, extra in fate))

    def lost_writes(self) -> list[tuple[str, int]]:
        """The crashes that lost unsynced writes."""
        return sorted(k for k, keys in self.disk.items() if keys)

    def active_faults(self) -> list[FaultKey]:
        """The faults that happened and are not suppressed, in order."""
        return [f for f in self.faults if f not in self.suppressed]

    def to_json(self) -> dict[str, Any]:
        """This run's choices as JSON-ready data (see :meth:`Schedule.save`)."""
        return {
            "seed": self.seed,
            "messages": [[*key, fate if isinstance(fate, str) else [list(c) for c in fate]]
                         for key, fate in self.messages.items()],
            "faults": [list(f) for f in self.faults],
            "suppressed": sorted(list(f) for f in self.suppressed),
            "disk": [[node, n, list(keys)] for (node, n), keys in sorted(self.disk.items())],
            "ops": dict(sorted(self.ops.items())),
            "until": self.until,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunChoices:
        """The inverse of :meth:`to_json` (raises ConfigError on malformed data)."""
        try:
            messages: dict[MessageKey, Fate] = {}
            for src, dst, mtype, n, fate in data["messages"]:
                key = (str(src), str(dst), str(mtype), int(n))
                if isinstance(fate, str):
                    if fate != CLEAN:
                        raise ValueError(f"unknown fate {fate!r}")
                    messages[key] = CLEAN
                else:
                    messages[key] = tuple((float(lat), float(extra)) for lat, extra in fate)
            return cls(
                seed=int(data["seed"]),
                messages=messages,
                faults=[(str(k), str(t), int(n)) for k, t, n in data["faults"]],
                suppressed=frozenset((str(k), str(t), int(n)) for k, t, n in data["suppressed"]),
                disk={(str(node), int(n)): tuple(map(str, keys))
                      for node, n, keys in data["disk"]},
                ops={str(c): int(v) for c, v in data["ops"].items()},
                until=None if data.get("until") is None else float(data["until"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed run in a schedule: {exc!r}") from None


@attrs.define
class Schedule:
    """The choices of every simulation a run built, in the order they were built.

    ``meta`` says what the schedule is of (e.g. the lab, test and seed), for the commands
    that replay it.
    """

    runs: list[RunChoices] = attrs.field(factory=list)
    meta: dict[str, Any] = attrs.field(factory=dict)
    #: name -> (size, smallest allowed): the sizes the test asked for with :func:`sized`.
    sizes: dict[str, tuple[int, int]] = attrs.field(factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write this schedule as JSON (never pickle: a schedule may come from anyone)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": _FORMAT, "version": _VERSION, "meta": self.meta,
                "runs": [run.to_json() for run in self.runs],
                "sizes": {name: list(size) for name, size in sorted(self.sizes.items())}}
        path.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Schedule:
        """Read a schedule written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the schedule {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ConfigError(f"{path} is not a dsys schedule (saved by `dsys shrink` or "
                              "Schedule.save)")
        if data.get("version") != _VERSION:
            raise ConfigError(f"{path} is a schedule of version {data.get('version')}; this "
                              f"dsys reads version {_VERSION}")
        try:
            sizes = {str(name): (int(size), int(least))
                     for name, (size, least) in data.get("sizes", {}).items()}
        except (AttributeError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed sizes in the schedule {path}: {exc!r}") from None
        return cls([RunChoices.from_json(run) for run in data.get("runs", [])],
                   dict(data.get("meta", {})), sizes)

    def without_losses(self) -> Schedule:
        """This schedule with every message loss replaced by a clean delivery."""
        return self.edited(lambda run: {k: CLEAN for k in run.losses()})

    def edited(self, change: Any) -> Schedule:
        """A copy with ``change(run) -> {message key: new fate}`` applied to each run."""
        runs = []
        for run in self.runs:
            copy = attrs.evolve(run, messages=dict(run.messages), faults=list(run.faults),
                                disk=dict(run.disk), ops=dict(run.ops))
            copy.messages.update(change(run))
            runs.append(copy)
        return Schedule(runs, dict(self.meta), dict(self.sizes))

    def summary(self) -> str:
        """One line per simulation: how many losses, duplicates, reorders, faults."""
        lines = []
        for index, run in enumerate(self.runs):
            lines.append(
                f"simulation {index}: {len(run.messages)} messages ({len(run.losses())} lost, "
                f"{len(run.duplicates())} duplicated, {len(run.reorders())} reordered), "
                f"{len(run.active_faults())} faults, {len(run.lost_writes())} crashes losing "
                f"unsynced writes" + (f", client ops capped {run.ops}" if run.ops else "")
                + (f", stopped at t={run.until:g}" if run.until is not None else ""))
        return "\n".join(lines)


# ----- taking part in a simulation ----------------------------------------------------------


class Tape:
    """What one simulation consults for its choices (built by the simulation itself when
    a :func:`recording` or :func:`replaying` context is active)."""

    __slots__ = ("_counts", "_crashes", "_faults", "fallbacks", "matched", "out", "replay",
                 "run", "stalls")

    def __init__(self, run: RunChoices, replay: bool, seed: int) -> None:
        self.run = run
        self.replay = replay
        #: What this simulation actually met (when recording, ``run`` itself): replaying a
        #: schedule against other code records the choices of the new run here.
        self.out = run if not replay else RunChoices(seed, suppressed=run.suppressed,
                                                     ops=dict(run.ops), until=run.until)
        self._counts: dict[tuple[str, str, str], int] = {}
        self._faults: dict[tuple[str, str], int] = {}
        self._crashes: dict[str, int] = {}
        #: Messages whose fate came from the schedule / from their own stream (replay).
        self.matched = 0
        self.fallbacks = 0
        self.stalls = 0

    def fate(self, seed: int, src: str, dst: str, mtype: str, link: LinkSettings,
             rng: Random) -> tuple[Copy, ...]:
        """The copies of this message to deliver (none: lost), drawn from ``rng`` exactly
        as the simulator would draw them when recording, looked up when replaying."""
        link_key = (src, dst, mtype)
        n = self._counts.get(link_key, 0)
        self._counts[link_key] = n + 1
        key = (src, dst, mtype, n)
        if not self.replay:
            fate = _draw(link, rng)
            self.run.messages[key] = fate
            return fate
        recorded = self.run.messages.get(key)
        if recorded is None:
            self.fallbacks += 1
            fate = _draw(link, Random(f"{seed}/message/{src}/{dst}/{mtype}/{n}"))
        elif recorded == CLEAN:
            self.matched += 1
            stream = Random(f"{seed}/message/{src}/{dst}/{mtype}/{n}")
            fate = ((link.latency.sample(stream), 0.0),)
        else:
            self.matched += 1
            assert not isinstance(recorded, str)
            fate = recorded
        self.out.messages[key] = fate
        return fate

    def allow(self, kind: str, target: str) -> bool:
        """Note a fault; False if the schedule suppresses it."""
        n = self._faults.get((kind, target), 0)
        self._faults[kind, target] = n + 1
        key = (kind, target, n)
        self.out.faults.append(key)
        return not self.replay or key not in self.run.suppressed

    def lost_writes(self, seed: int, node: str, pending: Iterable[str],
                    rng: Random) -> set[str]:
        """Which unsynced writes this crash of ``node`` loses: coin flips from ``rng``
        when recording (as the simulator flips them), looked up when replaying."""
        n = self._crashes.get(node, 0)
        self._crashes[node] = n + 1
        keys = list(pending)
        if not self.replay:
            lost = tuple(k for k in keys if rng.random() >= 0.5)
            self.run.disk[node, n] = lost
            return set(lost)
        recorded = self.run.disk.get((node, n))
        if recorded is None:
            stream = Random(f"{seed}/disk/{node}/{n}")
            recorded = tuple(k for k in keys if stream.random() >= 0.5)
        lost = tuple(k for k in keys if k in recorded)
        self.out.disk[node, n] = lost
        return set(lost)

    #: Run calls that may find the clock at the schedule's stop before the run is ended:
    #: a test that loops "run a little more until X" would otherwise loop forever.
    STALLS = 1000

    def until(self, until: float | None, now: float) -> float | None:
        """How far a run call may go: ``until``, or the schedule's stop time if earlier.
        Raises :class:`StoppedClock` once a test keeps calling at the stop."""
        stop = self.run.until if self.replay else None
        if stop is None:
            return until
        if now >= stop:
            self.stalls += 1
            if self.stalls > self.STALLS:
                raise StoppedClock(f"the schedule stops this simulation's clock at "
                                   f"t={stop:g} s and the test kept running it "
                                   f"({self.STALLS} run calls)")
        return stop if until is None else min(until, stop)

    def ops(self, client: str, ops: int | None) -> int | None:
        """A client's operation count, capped by the schedule."""
        cap = self.run.ops.get(client) if self.replay else None
        if cap is None:
            return ops
        return cap if ops is None else min(ops, cap)


def _draw(link: LinkSettings, rng: Random) -> tuple[Copy, ...]:
    """A fate drawn as the simulator draws it: lost? duplicated? each copy's delays."""
    if link.drop and rng.random() < link.drop:
        return ()
    copies = 2 if link.duplicate and rng.random() < link.duplicate else 1
    fate = []
    for _ in range(copies):
        latency = link.latency.sample(rng)
        extra = link.reorder_delay * rng.random() if link.reorder and \
            rng.random() < link.reorder else 0.0
        fate.append((latency, extra))
    return tuple(fate)


class StoppedClock(Exception):
    """A test kept running a simulation whose clock a replayed schedule stopped (see
    :attr:`RunChoices.until`): its run ends with this failure instead of looping."""


class StopRun(BaseException):
    """Raised out of a run by :func:`stopping_at` once the chosen simulation has recorded
    the chosen number of trace events (a BaseException, so that no ``except Exception``
    in a test or grader swallows it). ``sim`` is the stopped simulation."""

    def __init__(self, sim: Simulation) -> None:
        super().__init__(f"stopped at t={sim.now:.6f} after {len(sim.trace)} trace events")
        self.sim = sim


@attrs.define
class Session:
    """The simulations built inside a :func:`recording` or :func:`replaying` context."""

    schedule: Schedule
    replay: bool
    tapes: list[Tape] = attrs.field(factory=list)
    sims: list[Any] = attrs.field(factory=list)
    #: (simulation index, trace events): stop that simulation once it has that many.
    stop: tuple[int, int] | None = None

    @property
    def events(self) -> int:
        """Trace events recorded by the session's simulations, in all."""
        return sum(len(sim.trace) for sim in self.sims)

    @property
    def matched(self) -> int:
        """Messages whose fate was found in the schedule (replaying)."""
        return sum(tape.matched for tape in self.tapes)

    @property
    def fallbacks(self) -> int:
        """Messages the schedule had no fate for (replaying edited code)."""
        return sum(tape.fallbacks for tape in self.tapes)

    #: The sizes the test asked for (name -> (size used, smallest allowed)).
    sizes: dict[str, tuple[int, int]] = attrs.field(factory=dict)

    def met(self) -> Schedule:
        """The choices the simulations actually met, as a schedule: replaying it gives
        these runs again (for edited code, the schedule of the new run)."""
        return Schedule([tape.out for tape in self.tapes], dict(self.schedule.meta),
                        dict(self.sizes))

    def size(self, name: str, default: int, minimum: int) -> int:
        """See :func:`sized`."""
        chosen = default
        if self.replay and name in self.schedule.sizes:
            chosen = max(minimum, min(default, self.schedule.sizes[name][0]))
        self.sizes[name] = (chosen, minimum)
        if not self.replay:
            self.schedule.sizes[name] = (chosen, minimum)
        return chosen

    def attach(self, sim: Simulation) -> Tape:
        index = len(self.tapes)
        if self.replay:
            if index < len(self.schedule.runs):
                run = self.schedule.runs[index]
            else:  # a simulation the recorded run never built: its own streams
                run = RunChoices(sim.seed)
        else:
            run = RunChoices(sim.seed)
            self.schedule.runs.append(run)
        tape = Tape(run, self.replay, sim.seed)
        self.tapes.append(tape)
        self.sims.append(sim)
        if self.stop is not None and self.stop[0] == index:
            events = self.stop[1]

            def stop_here(s: Simulation) -> bool:
                if len(s.trace) >= events:
                    s._invariants[:] = [i for i in s._invariants if i[1] is not stop_here]
                    raise StopRun(s)
                return True

            sim.add_invariant(stop_here, "(stop)")
        return tape


_active: contextvars.ContextVar[Session | None] = contextvars.ContextVar(
    "dsys_schedule", default=None)


def attach(sim: Simulation) -> Tape | None:
    """The tape of a simulation being built, if a schedule context is active."""
    session = _active.get()
    return None if session is None else session.attach(sim)


def sized(name: str, default: int, *, minimum: int = 1) -> int:
    """A size the test allows shrinking to make smaller: ``default`` in an ordinary run
    or while recording; when replaying a schedule that chose a smaller one (at least
    ``minimum``), that one. A test that says how many servers, clients or operations it
    needs with ``sized("servers", 5, minimum=3)`` lets :func:`dsys.sim.shrink.shrink` try
    the same failure on fewer of them.

    >>> sized("servers", 5, minimum=3)
    5
    """
    if isinstance(default, bool) or not isinstance(default, int) or \
            isinstance(minimum, bool) or not isinstance(minimum, int) or \
            not 1 <= minimum <= default:
        raise ConfigError(f"sized({name!r}) needs ints with 1 <= minimum <= default, got "
                          f"default={default!r}, minimum={minimum!r}")
    session = _active.get()
    return default if session is None else session.size(name, default, minimum)


@contextlib.contextmanager
def recording(meta: dict[str, Any] | None = None) -> Iterator[Schedule]:
    """Record the choices of every simulation built inside into the yielded schedule."""
    schedule = Schedule(meta=dict(meta or {}))
    token = _active.set(Session(schedule, replay=False))
    try:
        yield schedule
    finally:
        _active.reset(token)


@contextlib.contextmanager
def replaying(schedule: Schedule) -> Iterator[Session]:
    """Make every simulation built inside follow ``schedule``; yields the session (its
    simulations, and how many fates were found in the schedule)."""
    session = Session(schedule, replay=True)
    token = _active.set(session)
    try:
        yield session
    finally:
        _active.reset(token)


@contextlib.contextmanager
def stopping_at(events: int, *, simulation: int = 0,
                schedule: Schedule | None = None) -> Iterator[Session]:
    """Run what is inside (recording its choices, or replaying ``schedule``) and stop the
    ``simulation``-th simulation it builds (from 0) once its trace holds ``events``
    events, by raising :class:`StopRun` out of the run (after the event that reached the
    count, and its invariant checks). Catch it to use the stopped simulation, e.g. to
    branch a search from it (:meth:`dsys.search.Search.from_simulation`)."""
    if events < 1 or simulation < 0:
        raise ConfigError(f"stop after at least 1 event of a simulation >= 0, got "
                          f"{events} events of simulation {simulation}")
    session = Session(schedule if schedule is not None else Schedule(),
                      replay=schedule is not None, stop=(simulation, events))
    token = _active.set(session)
    try:
        yield session
    finally:
        _active.reset(token)


# ----- how far a replay followed the old run -------------------------------------------------


@attrs.frozen
class Divergence:
    """Where a new run left an old one (see :func:`divergence`)."""

    same: int            # events equal from the start
    old_events: int
    new_events: int
    time: float          # virtual time of the first differing event (or of the end)
    old: str = ""        # the first differing events, described
    new: str = ""

    @property
    def identical(self) -> bool:
        """True if the two runs had the same events."""
        return self.same == self.old_events == self.new_events

    def describe(self) -> str:
        """One or three lines, for a terminal."""
        if self.identical:
            return f"the replay followed the old run for all its {self.old_events} events"
        share = self.same / self.old_events if self.old_events else 0.0
        lines = [f"the replay followed the old run for {self.same} of its {self.old_events} "
                 f"events ({share:.0%}) to t={self.time:.6f} s; then"]
        lines.append(f"  old: {self.old or '(the old run ended)'}")
        lines.append(f"  new: {self.new or '(the new run ended)'}")
        return "\n".join(lines)


def _shape(event: Any) -> tuple[Any, ...]:
    """What must match for two trace events to count as the same step of a run: time,
    node, kind, and the message type or timer name (not the payload: an edit may change
    a field and still take the same path)."""
    data = event.data
    return (round(event.time, 9), event.node, event.kind,
            event.message_name or data.get("name", ""), data.get("to", ""),
            data.get("from", ""))


def divergence(old: Trace, new: Trace) -> Divergence:
    """How far ``new`` follows ``old``: the number of equal events from the start, and the
    first pair that differs.

    Example:
        >>> from dsys.trace.events import Trace
        >>> a, b = Trace(), Trace()
        >>> for t in (a, b):
        ...     t.record(0.0, "n1", "log", {"text": "hello"})
        >>> b.record(0.5, "n1", "crash", {})
        >>> print(divergence(a, b).describe())
        the replay followed the old run for 1 of its 1 events (100%) to t=0.500000 s; then
          old: (the old run ended)
          new: crashed
    """
    old_events, new_events = list(old), list(new)
    same = 0
    for a, b in zip(old_events, new_events, strict=False):
        if _shape(a) != _shape(b):
            break
        same += 1
    first_old = old_events[same] if same < len(old_events) else None
    first_new = new_events[same] if same < len(new_events) else None
    at = first_new if first_new is not None else first_old
    time = at.time if at is not None else (new_events[-1].time if new_events else 0.0)
    return Divergence(same, len(old_events), len(new_events), time,
                      first_old.describe() if first_old is not None else "",
                      first_new.describe() if first_new is not None else "")
