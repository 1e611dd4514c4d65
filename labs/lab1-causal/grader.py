"""Grader of lab 1: vector clocks and causal broadcast.

Part 1 judges the ``VectorClock`` class on the timestamps of real runs. Nodes gossip at
random (local events, sends, receipts) and timestamp every event with a vector clock:

* ``increment_and_merge``: the nodes' clocks are the implementation's ``VectorClock``,
  driven by Mattern's rules; every ``increment`` and ``merge`` is compared with the
  library's :class:`dsys.clocks.VectorClock` on the same inputs, and the timestamps of the
  run must characterise its happened-before relation (:func:`dsys.clocks.check_vector`);
* ``compare_matches_happened_before``: for every pair of events of a run, ``compare`` of
  their vector timestamps must say what the happened-before relation of the trace says
  (:class:`dsys.clocks.HappensBefore`, computed from the messages alone).

Part 2 judges ``Member``, the causal broadcast. A small chat application runs on top of
the members: each broadcasts a few messages, and some messages get a reply from another
member, which broadcasts it from inside its ``on_deliver`` callback, so replies causally
follow what they answer. The network reorders and duplicates messages but never loses
one, and no member crashes. Each run is judged from its trace by
:mod:`dsys.messaging.checkers`:

* safety: no-creation, no-duplication and causal-order. When one fails, the run is played
  again (same seed, so the same run) and stopped at the delivery that broke it, so the
  failure report's trace excerpt ends right there;
* liveness, once the network is quiet: validity and agreement (every member delivers every
  message), and in ``hold_back_drains`` and ``long_reordering_delays``, an empty hold-back
  queue at every member. When a message is missing, :func:`undelivered` says why, from the
  trace and the member's state (never received, dropped on arrival, held back and
  deliverable, a clock that does not count the deliveries...);
* economy: one message per broadcast per other member, and silence before the first
  broadcast and once everything is delivered.

``repeated_payloads`` runs a chat whose messages repeat the same few words, so a member
that recognizes copies by their payload loses messages.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from random import Random
from typing import Any

import attrs

from dsys import Layer, Network, Node, Simulation, message
from dsys.clocks import HappensBefore, Order, VectorClockLayer, check_vector, read_timestamps
from dsys.clocks import VectorClock as Oracle
from dsys.clocks.timestamps import record_local, record_receive
from dsys.labs import Trial, graded
from dsys.messaging.checkers import (
    BroadcastRun,
    check_agreement,
    check_causal_order,
    check_no_creation,
    check_no_duplication,
    check_validity,
    read_run,
)

#: Virtual seconds the network gets, after the last spontaneous broadcast, to settle: far
#: more than the longest chain of replies needs (each hop takes at most ~1 s here).
SETTLE = 5.0

#: Messages a member may send per broadcast, per other member, on a network that loses
#: nothing: the protocol sends exactly one; the margin is for other designs.
BUDGET = 1.2

#: Virtual seconds of silence the quiet test wants at the end of a run.
QUIET_FOR = 2.0

#: Trace kinds of a message's arrival at a node (the newer name first).
ARRIVALS = ("recv", "deliver")


# ===== part 1: vector clocks ===================================================================


@message
class Rumor:
    """What the gossiping nodes of part 1 send each other (only its timestamp matters)."""


class Gossiper(Node):
    """Does ``actions`` things at random times: a local event or a send to a random peer
    that has started (``starts``: each node's start time), so that every message is
    received. Its clock layer timestamps every event, receipts included."""

    def __init__(self, clock: Any, actions: int, starts: dict[str, float]) -> None:
        super().__init__()
        self.clock = self.add_layer(clock)
        self.actions = actions
        self.starts = starts

    def on_start(self) -> None:
        self.set_timer("act", self.rng.uniform(0.001, 0.02))

    def on_timer(self, name: str) -> None:
        self.actions -= 1
        started = [peer for peer in self.peers if self.starts[peer] <= self.now]
        if not started or self.rng.random() < 0.3:
            self.clock.tick("local event")
        else:
            self.send(self.rng.choice(started), Rumor())
        if self.actions > 0:
            self.set_timer("act", self.rng.uniform(0.001, 0.02))


def gossip(trial: Trial, clock: Callable[[], Layer]) -> Simulation:
    """A run of 3 to 5 gossipers (some start late, so they begin with missing entries)."""
    sim = trial.simulation(network=Network(reorder=0.3, reorder_delay=0.02))
    names = "abcde"[: trial.rng.randint(3, 5)]
    starts: dict[str, float] = {}
    for name in names:
        start = 0.0 if trial.rng.random() < 0.6 else trial.rng.uniform(0.01, 0.1)
        starts[name] = start
        actions = trial.rng.randint(4, 12)
        sim.add_node(name, lambda actions=actions: Gossiper(clock(), actions, starts),
                     start=start)
    return sim


def show(entries: dict[str, int]) -> str:
    """``(a=1, c=2)``: a clock's non-zero entries, as the reports write them; ``(empty)``
    for a clock with none (every entry 0)."""
    shown = ", ".join(f"{node}={count}" for node, count in sorted(entries.items()) if count)
    return f"({shown or 'empty'})"


class StudentClock(Layer):
    """Mattern's vector clock rules, applied with the implementation's ``VectorClock``;
    each operation is checked against the library's clock, and the first wrong result is
    written into ``problems`` (the test stops the run there)."""

    name = "vector"

    def __init__(self, cls: type, nodes: Sequence[str], problems: list[str]) -> None:
        self.cls = cls
        self.nodes = tuple(nodes)
        self.problems = problems
        self.time = cls()

    def entries(self, clock: Any, what: str) -> dict[str, int]:
        """The non-zero entries of an implementation's clock, read with ``get``."""
        if not callable(getattr(clock, "get", None)):
            raise AssertionError(
                f"{what} returned {clock!r}, not a VectorClock: return the new clock "
                "(increment and merge make a new clock; they do not change this one)")
        return {node: clock.get(node) for node in self.nodes if clock.get(node)}

    def problem(self, text: str) -> None:
        if not self.problems:
            self.problems.append(f"at node {self.node.id}: {text}")

    def increment(self, why: str) -> dict[str, int]:
        me = self.node.id
        before = self.entries(self.time, "the clock")
        new = self.time.increment(me)
        got = self.entries(new, f"{show(before)}.increment({me!r})")
        expected = Oracle(before).increment(me).to_json()
        if self.entries(self.time, "the clock") != before:
            self.problem(f"{show(before)}.increment({me!r}) changed the clock it was called on "
                         "(a VectorClock is an immutable value: return a new one)")
        elif got != expected:
            self.problem(f"{show(before)}.increment({me!r}), for a {why}, returned {show(got)}; "
                         f"it should be {show(expected)}: the entry of {me} goes up by one, "
                         "and no other entry changes")
        self.time = new
        return got

    def merge(self, stamp: dict[str, int], src: str) -> None:
        before = self.entries(self.time, "the clock")
        theirs = self.cls(dict(stamp))
        new = self.time.merge(theirs)
        got = self.entries(new, f"{show(before)}.merge(...)")
        expected = Oracle(before).merge(Oracle(stamp)).to_json()
        unchanged = (self.entries(self.time, "the clock") == before
                     and self.entries(theirs, "the clock") == stamp)
        if not unchanged:
            self.problem(f"{show(before)}.merge({show(stamp)}) changed one of the clocks it "
                         "was given (a VectorClock is an immutable value: return a new one)")
        elif got != expected:
            self.problem(f"on a message from {src}, {show(before)}.merge({show(stamp)}) returned "
                         f"{show(got)}; it should be {show(expected)}: the larger of the two "
                         "entries, node by node (a missing entry is 0)")
        self.time = new

    # ----- Mattern's rules, as a layer ----------------------------------------------------

    def tick(self, what: str) -> None:
        """A local event: tick."""
        record_local(self, what, self.increment("local event"))

    def stamp(self, dst: str, msg: object) -> dict[str, int]:
        """A send: tick, and carry the clock."""
        return self.increment(f"send to {dst}")

    def on_receive(self, src: str, msg: object, stamp: Any) -> None:
        """A receipt: merge the sender's clock, then tick."""
        self.merge(dict(stamp or {}), src)
        record_receive(self, src, self.increment(f"receipt from {src}"))


@graded(points=12, runs=20)
def increment_and_merge(trial: Trial) -> None:
    """VectorClock.increment and merge follow the rules, on the events of random runs."""
    problems: list[str] = []
    nodes = tuple("abcde")
    sim = gossip(trial, lambda: StudentClock(trial.impl.VectorClock, nodes, problems))
    if trial.run_until(sim, lambda s: bool(problems), timeout=2.0):
        raise AssertionError(problems[0])
    verdict = check_vector(sim.trace, "vector")
    assert verdict, (
        "with your clocks, vector timestamps do not say which event happened before which "
        f"(they must: e -> f if and only if V(e) < V(f)):\n{verdict.explain(limit=1)}")


_RELATION = {
    Order.BEFORE: "happened before",
    Order.AFTER: "happened after",
    Order.CONCURRENT: "is concurrent with (neither happened before the other)",
    Order.EQUAL: "is",
}


@graded(points=12, runs=20)
def compare_matches_happened_before(trial: Trial) -> None:
    """VectorClock.compare says BEFORE, AFTER, CONCURRENT exactly as happened-before does."""
    sim = gossip(trial, lambda: VectorClockLayer())  # the library's clocks, as a yardstick
    trial.run(sim, 2.0)
    hb = HappensBefore.from_trace(sim.trace)
    stamps = {s.index: dict(s.value) for s in read_timestamps(sim.trace, "vector")}
    cls = trial.impl.VectorClock
    for e, f in itertools.combinations_with_replacement(sorted(stamps), 2):
        for first, second in ((e, f), (f, e)) if e != f else ((e, f),):
            if first == second:
                expected = Order.EQUAL
            elif hb.before(first, second):
                expected = Order.BEFORE
            elif hb.before(second, first):
                expected = Order.AFTER
            else:
                expected = Order.CONCURRENT
            u, v = stamps[first], stamps[second]
            got = cls(dict(u)).compare(cls(dict(v)))
            if got is expected:
                continue
            if not isinstance(got, Order):
                raise AssertionError(
                    f"compare returned {got!r}, not an Order: return Order.BEFORE, "
                    "Order.AFTER, Order.EQUAL or Order.CONCURRENT (from dsys.clocks)")
            raise AssertionError(_wrong_order(trial, sim, hb, first, second, u, v, expected,
                                              got))


def _wrong_order(trial: Trial, sim: Simulation, hb: HappensBefore, first: int, second: int,
                 u: dict[str, int], v: dict[str, int], expected: Order, got: Order) -> str:
    """What a wrong answer of compare was about, with the report's excerpt pointed at the
    events (and the causal path between them)."""
    events = sim.trace
    if first == second:
        e = events[first]
        trial.focus(start=e.time, end=e.time, nodes=[e.node])
        return (f"u = {show(u)} is the vector timestamp of event {hb.describe(first)}: "
                f"u.compare(u), a clock compared with an equal one, must be EQUAL, but your "
                f"compare returned {got.name}")
    how = ""
    path = [first, second]
    if expected in (Order.BEFORE, Order.AFTER):
        earlier, later = (first, second) if expected is Order.BEFORE else (second, first)
        path = hb.path(earlier, later)
        how = f" (causal path {' -> '.join(f'e{p}' for p in path)})"
    times = [events[p].time for p in path]
    trial.focus(start=min(times), end=max(times), nodes=sorted({events[p].node for p in path}))
    return (f"event {hb.describe(first)} {_RELATION[expected]} event "
            f"{hb.describe(second)}{how}, and their vector timestamps are "
            f"u = {show(u)} and v = {show(v)}: u.compare(v) must be {expected.name}, but "
            f"your compare returned {got.name}")


# ===== part 2: causal broadcast ================================================================


@attrs.frozen
class Scenario:
    """A chat among ``members`` members on a network with settings ``network``.

    Each member broadcasts ``messages`` messages of its own at random times from ``start``
    to ``span`` seconds. A message is answered, with probability ``reply``, by one other
    member chosen at random, and so on up to ``depth`` replies: conversations, each a chain
    of messages that causally follow each other. With ``words``, each message is one of
    those words instead (and none is answered).
    """

    members: int
    messages: int
    span: float
    reply: float
    depth: int
    network: dict[str, Any]
    #: When given, every message says one of these words: payloads repeat.
    words: tuple[str, ...] = ()
    #: No member broadcasts before this time.
    start: float = 0.001


class Chat:
    """The application the members serve. Payloads are ``"a3"`` (member a's third message)
    or ``"b2 re a3"`` (b's second message, answering a3)."""

    def __init__(self, sim: Simulation, scenario: Scenario, rng: Random,
                 names: Sequence[str]) -> None:
        self.sim = sim
        self.scenario = scenario
        self.rng = rng
        self.names = tuple(names)
        self.said: Counter[str] = Counter()
        self.depth: dict[str, int] = {}  # message tag -> replies above it
        self.answerer: dict[str, str] = {}  # message tag -> the member that answers it

    def say(self, name: str, answering: str | None = None) -> None:
        """Member ``name`` broadcasts its next message (a reply to tag ``answering``)."""
        self.said[name] += 1
        member: Any = self.sim.node(name)
        if self.scenario.words:
            member.broadcast(self.rng.choice(self.scenario.words))
            return
        tag = f"{name}{self.said[name]}"
        depth = 0 if answering is None else self.depth[answering] + 1
        self.depth[tag] = depth
        if depth < self.scenario.depth and self.rng.random() < self.scenario.reply:
            self.answerer[tag] = self.rng.choice([n for n in self.names if n != name])
        member.broadcast(tag if answering is None else f"{tag} re {answering}")

    def listener(self, name: str) -> Callable[[str, str], None]:
        """The ``on_deliver`` callback of member ``name``: answer what it must answer."""

        def heard(origin: str, payload: str) -> None:
            tag = str(payload).split(" ")[0]
            if self.answerer.get(tag) == name:
                del self.answerer[tag]  # answer once, even if it is delivered twice
                self.say(name, answering=tag)

        return heard


def play(trial: Trial, scenario: Scenario, seed: int, *,
         stop_at: float | None = None) -> Simulation:
    """Run ``scenario`` (its random choices seeded with ``seed``) until the network is quiet.

    With ``stop_at``, the run is a replay that stops, from that time on, at the first event
    after which a safety property is violated.
    """
    rng = Random(seed)
    sim = trial.simulation(network=Network(**scenario.network))
    names = "abcdefgh"[: scenario.members]
    chat = Chat(sim, scenario, rng, names)
    for name in names:
        sim.add_node(name, lambda name=name: trial.impl.Member(on_deliver=chat.listener(name)))
    for name in names:
        for _ in range(scenario.messages):
            sim.at(rng.uniform(scenario.start, scenario.span), chat.say, name)
    if stop_at is not None:
        when = stop_at

        def safe_so_far(s: Simulation) -> None:
            if s.now >= when:
                problem = safety_problem(read_run(s.trace))
                if problem is not None:
                    raise AssertionError(problem[1])

        sim.add_invariant(safe_so_far, "causal broadcast safety")
    trial.run(sim, scenario.span + SETTLE)
    return sim


_HINTS = {
    "no-creation": (
        "Deliver only messages you received (or broadcast yourself), and keep the starter's "
        "note() calls and message ids as they are."),
    "no-duplication": (
        "The network delivers some messages twice. Is a message delivered only when it is "
        "the next one from its origin (stamp[origin] == clock[origin] + 1), so that a copy of "
        "a delivered message never is?"),
    "causal-order": (
        "Is every message held back until it is the next one from its origin "
        "(stamp[origin] == clock[origin] + 1) and stamp[k] <= clock[k] for every other k? "
        "Is each delivery counted in the clock before deliver() hands it to the application "
        "(a reply broadcast from on_deliver must depend on it)? Does broadcast tick your own "
        "entry before it stamps the message?"),
}


def safety_problem(run: BroadcastRun) -> tuple[float, str] | None:
    """The earliest safety violation of a run (its time, and what to say), or None."""
    found = []
    for rank, check in enumerate((check_no_creation, check_no_duplication, check_causal_order)):
        report = check(run)
        # A checker lists its violations in trace order: (time, rank, position) sorts
        # the earliest first, even among deliveries at the same instant.
        found += [(v.time, rank, position, report.check, v.text)
                  for position, v in enumerate(report.violations)]
    if not found:
        return None
    time, _, _, name, text = min(found)
    return time, f"{name}: at t={time:.6f}, {text}.\n{_HINTS[name]}"


def _describe(msg: Any) -> str:
    mid, payload, stamp = (getattr(msg, field, None) for field in ("id", "payload", "stamp"))
    if mid is None or stamp is None:
        return repr(msg)
    return f"{mid} ({payload!r}, stamp {show(dict(stamp))})"


def waiting(sim: Simulation) -> str:
    """What each member still holds back, with its clock: where delivery got stuck."""
    lines = []
    for name, member in sim.nodes.items():
        held = list(getattr(member, "held_back", None) or ())
        if held:
            clock = getattr(member, "clock", None)
            entries = ({n: clock.get(n) for n in sim.node_ids if clock.get(n)}
                       if hasattr(clock, "get") else None)
            lines.append(f"  {name} (clock {show(entries) if entries is not None else '?'}) "
                         f"holds back {len(held)}: "
                         + ", ".join(_describe(m) for m in held[:4])
                         + (" ..." if len(held) > 4 else ""))
    return "\n".join(lines)


def judge(trial: Trial, scenario: Scenario, *, drained: bool = False) -> Simulation:
    """Play ``scenario``; fail on the first safety violation (replayed up to the delivery
    that made it), then on a message some member never delivered (and with ``drained``, on
    a message left in a hold-back queue). Return the simulation, for more checks."""
    seed = trial.rng.getrandbits(64)
    sim = play(trial, scenario, seed)
    run = read_run(sim.trace)
    same_id = Counter(step.id for step in run.steps if step.kind == "broadcast")
    reused = sorted(mid for mid, count in same_id.items() if count > 1)
    assert not reused, (
        f"{len(reused)} message id(s), such as {reused[0]}, name several different broadcasts, "
        "so no one can tell those messages apart. An id is origin:stamp[origin]: does "
        "broadcast tick your own entry of the clock before it stamps the message (step 2)?")
    problem = safety_problem(run)
    if problem is not None:
        # Replay the same run, stopping at the violation: its trace (the one saved, and
        # the excerpt of the report) ends at the delivery that broke the property.
        trial.sims.remove(sim)
        play(trial, scenario, seed, stop_at=problem[0])  # raises there
        raise AssertionError(problem[1])  # (not reached: the replay is the same run)
    liveness = [report for report in (check_validity(run), check_agreement(run)) if not report]
    if liveness:
        stuck = waiting(sim)
        raise AssertionError(
            f"by t={scenario.span + SETTLE:g} s, long after the last broadcast (and the network "
            "loses nothing), not every member had delivered every message:\n"
            + "\n".join(report.explain(limit=3) for report in liveness)
            + (f"\nheld back at the end:\n{stuck}" if stuck else "")
            + "\n" + undelivered(trial, sim, run))
    if drained:
        stuck = waiting(sim)
        assert not stuck, (
            "every message was delivered, but copies stayed in the hold-back queue for ever "
            f"(in a long run, the queue grows without end):\n{stuck}\n"
            "Drop a copy of a message you have delivered already (stamp[origin] <= "
            "clock[origin]), and a copy of a message that is already waiting.")
    return sim


def _clock_entries(member: Any, nodes: Sequence[str]) -> dict[str, int] | None:
    clock = getattr(member, "clock", None)
    if not callable(getattr(clock, "get", None)):
        return None
    return {node: clock.get(node) for node in nodes if clock.get(node)}


def _can_deliver(member: Any, msg: Any) -> bool | None:
    """What the member's own ``can_deliver`` says of ``msg`` (None if it cannot say)."""
    method = getattr(member, "can_deliver", None)
    if not callable(method):
        return None
    try:
        return bool(method(msg))
    except Exception:  # a student's bug: the hint is only a hint
        return None


def undelivered(trial: Trial, sim: Simulation, run: BroadcastRun) -> str:
    """Why the first message that some member never delivered was not delivered there, as
    far as the trace and the member's state show it (later ones usually wait for it). The
    report's excerpt shows that message, from its broadcast to its first arrival there."""
    names = sim.node_ids
    delivered = {p: [s for s in run.deliveries(p)] for p in names}
    for mid, step in run.broadcasts.items():
        for name in names:
            if any(s.id == mid for s in delivered[name]):
                continue
            what = f"{mid} ({step.payload!r}, broadcast by {step.process})"
            member: Any = sim.node(name)
            arrivals = [e.time for e in sim.trace if e.node == name and e.kind in ARRIVALS
                        and getattr(e.data.get("msg"), "id", None) == mid]
            trial.focus(start=step.time, end=arrivals[0] if arrivals else None,
                        nodes=sorted({step.process, name}))
            if name == step.process:
                return (f"{what} was never delivered by {name} itself: broadcast must deliver "
                        "the message to its sender too, at once (step 2).")
            clock = _clock_entries(member, names)
            counted = Counter(s.origin for s in delivered[name])
            counts = {node: counted[node] for node in names if counted[node]}
            held = [m for m in getattr(member, "held_back", None) or ()
                    if getattr(m, "id", None) == mid]
            if clock is not None and clock != counts:
                return (f"{name} never delivered {what}. Its clock says {show(clock)}, but it "
                        f"has delivered {show(counts)} (messages of each member, its own "
                        "included): each delivery must count in the clock, clock[origin] + 1, "
                        "and nothing else may change it (a broadcast counts as its sender's "
                        "own delivery).")
            if held:
                stamp = dict(getattr(held[0], "stamp", ()) or ())
                ready = (clock is not None and stamp.get(step.process, 0)
                         == clock.get(step.process, 0) + 1
                         and all(count <= clock.get(node, 0) for node, count in stamp.items()
                                 if node != step.process))
                if ready:
                    said = _can_deliver(member, held[0])
                    if said is False:
                        return (f"{name} holds back {what}, stamp {show(stamp)}, although it is "
                                f"deliverable with its clock {show(clock or {})}: it is the next "
                                f"message of {step.process}, and {name} has delivered "
                                "everything else it depends on. Yet its can_deliver says False: "
                                "check the two conditions of section 4 (step 3).")
                    return (f"{name} holds back {what}, stamp {show(stamp)}, which it could "
                            f"deliver with its clock {show(clock or {})} (its can_deliver "
                            "agrees): after each delivery, look through the whole hold-back "
                            "queue again, until nothing more can be delivered.")
                return (f"{name} holds back {what}, stamp {show(stamp)}, with its clock "
                        f"{show(clock or {})}: which message does it wait for, and was that one "
                        "delivered? (The stamp of a message must count exactly what its "
                        "sender had delivered when it broadcast it.)")
            if arrivals:
                return (f"{what} reached {name} {len(arrivals)} time(s), yet {name} neither "
                        "delivered it nor kept it in held_back: did it take the message for "
                        "a copy? A copy has stamp[origin] <= clock[origin], or is equal to a "
                        "message already held back; two different messages may carry the "
                        "same payload.")
            return (f"{what} never reached {name}: does broadcast send each message to every "
                    "peer (self.peers)?")
    return "Is every message delivered by every member, its sender included?"


# ----- the graded tests of part 2 ----------------------------------------------------------------


@graded(points=8, runs=10)
def calm_network(trial: Trial) -> None:
    """Causal order on a network that only varies latency (1-10 ms): replies after questions."""
    judge(trial, Scenario(members=3, messages=4, span=0.1, reply=0.7, depth=3, network={}))


@graded(points=12, runs=40)
def heavy_reordering(trial: Trial) -> None:
    """Causal order, and every message delivered, when 70% of messages are held back."""
    judge(trial, Scenario(members=4, messages=5, span=0.3, reply=0.7, depth=3,
                          network={"reorder": 0.7, "reorder_delay": 0.2}))


@graded(points=12, runs=40)
def duplicates(trial: Trial) -> None:
    """No message is delivered twice when the network duplicates half of them."""
    judge(trial, Scenario(members=4, messages=5, span=0.3, reply=0.7, depth=3,
                          network={"duplicate": 0.5, "reorder": 0.5, "reorder_delay": 0.1}))


@graded(points=8, runs=30)
def reply_chains(trial: Trial) -> None:
    """Long conversations: each reply, sent from on_deliver, depends on what it answers."""
    judge(trial, Scenario(members=5, messages=2, span=0.05, reply=1.0, depth=8,
                          network={"reorder": 0.5, "reorder_delay": 0.05}))


@graded(points=8, runs=30)
def hold_back_drains(trial: Trial) -> None:
    """Once everything is delivered, no copy is left waiting in any hold-back queue."""
    judge(trial, Scenario(members=4, messages=5, span=0.3, reply=0.5, depth=2,
                          network={"duplicate": 0.5, "reorder": 0.5, "reorder_delay": 0.1}),
          drained=True)


@graded(points=8, runs=40)
def everything_at_once(trial: Trial) -> None:
    """Six members, slow and uneven links, reordering, duplicates and long conversations."""
    judge(trial, Scenario(members=6, messages=4, span=0.5, reply=0.8, depth=5,
                          network={"latency": (0.001, 0.05), "duplicate": 0.3, "reorder": 0.6,
                                   "reorder_delay": 0.3}))


@graded(points=6, runs=30)
def repeated_payloads(trial: Trial) -> None:
    """Two messages that say the same thing are two messages: each is delivered everywhere."""
    judge(trial, Scenario(members=4, messages=6, span=0.3, reply=0.0, depth=0,
                          network={"duplicate": 0.3, "reorder": 0.5, "reorder_delay": 0.1},
                          words=("ok", "yes", "no", "lol")))


@graded(points=6, runs=10)
def long_reordering_delays(trial: Trial) -> None:
    """30 messages per member, copies held back up to 2 s: all delivered, no copy left over."""
    judge(trial, Scenario(members=3, messages=30, span=1.0, reply=0.0, depth=0,
                          network={"duplicate": 0.5, "reorder": 0.5, "reorder_delay": 2.0}),
          drained=True)


def _sends(sim: Simulation, start: float = 0.0, end: float | None = None) -> Counter[str]:
    """How many messages each node sent from ``start`` to ``end``, from the trace."""
    return Counter(e.node for e in sim.trace.filter(kinds=["send"], start=start, end=end))


@graded(points=4, runs=15)
def quiet_when_done(trial: Trial) -> None:
    """Nothing is sent before the first broadcast, nor once every message is delivered."""
    scenario = Scenario(members=4, messages=4, span=0.8, reply=0.5, depth=3, network={},
                        start=0.5)
    sim = judge(trial, scenario)
    early = _sends(sim, end=scenario.start - 0.001)
    if early:
        trial.focus(end=scenario.start)
        raise AssertionError(
            f"before t={scenario.start:g} s nobody had broadcast anything, yet "
            + ", ".join(f"{node} sent {count}" for node, count in sorted(early.items()))
            + " messages: with nothing to broadcast, a member has nothing to say")
    end = scenario.span + SETTLE
    late = _sends(sim, start=end - QUIET_FOR, end=end)
    if late:
        trial.focus(start=end - QUIET_FOR, nodes=sorted(late))
        raise AssertionError(
            f"every message was delivered long before t={end - QUIET_FOR:g} s, yet from then "
            f"to t={end:g} s "
            + ", ".join(f"{node} sent {count}" for node, count in sorted(late.items()))
            + " messages. The network of this lab loses nothing: a message sent once to each "
            "member arrives. Does a timer send messages again, for ever?")


@graded(points=4, runs=10)
def message_budget(trial: Trial) -> None:
    """Each broadcast sends one message to each other member, and no more."""
    scenario = Scenario(members=5, messages=5, span=0.3, reply=0.5, depth=3, network={})
    sim = judge(trial, scenario)
    broadcasts = sum(1 for e in sim.trace
                     if e.kind == "note" and e.data.get("event") == "broadcast")
    others = scenario.members - 1
    budget = int(BUDGET * broadcasts * others)
    sent = sum(_sends(sim).values())
    assert sent <= budget, (
        f"{scenario.members} members made {broadcasts} broadcasts and sent {sent} messages: "
        f"one message per broadcast to each of the {others} other members is "
        f"{broadcasts * others}, and the grader allows {budget}. The network of this lab "
        "loses nothing: does a member send a message more than once, or relay the messages "
        "of others?")
