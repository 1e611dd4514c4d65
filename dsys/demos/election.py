"""Bully on a failure detector, told in phases: five servers elect a coordinator, lose it
to a crash, split into two groups with a coordinator each, heal, and take the old
coordinator back.

Five servers (``n1`` to ``n5``) each hold two components: a
:class:`~dsys.failure.HeartbeatDetector` (a heartbeat every 50 ms, a member silent for
200 ms is suspected) and the bully election, :class:`~dsys.election.Bully`. The election
sits on the detector: when a server's detector suspects its coordinator, the server holds
an election (Garcia-Molina's "a process notices that the coordinator is no longer
responding"; the detector replaces bully's own "are you there?" probe). The network loses
2% of messages. The story, one phase per second:

1. **A coordinator is elected**: every server holds an election as it starts; the
   highest, ``n5``, hears no answer from above and becomes coordinator.
2. **The coordinator crashes**: its heartbeats stop; the detectors suspect it after their
   timeout, and the servers elect the highest live one, ``n4``.
3. **A partition: two coordinators**: the coordinator and the lowest server are cut off
   from the other two. Those two suspect their coordinator and elect one of their own,
   while the lowest server keeps following the old one: two coordinators at once, in
   two different epochs. Bully decides "dead" from a timeout, and a timeout cannot tell a
   cut-off server from a crashed one.
4. **The partition heals**: the two coordinators' periodic announcements meet; the lower
   one holds an election, which the higher wins in a fresh epoch: one coordinator again.
5. **The crashed coordinator comes back**: it restarts, holds an election at once and,
   being the highest, bullies its way back.

Rules of this file: the servers are ordinary nodes; the phases are scheduled calls
(:func:`scenario`) that read the servers' state, inject the fault of the next phase and
record what each server believes at the end of the last (they are no trace events);
every story is told from the trace and the servers' state, never assumed; everything
iterates in sorted order, so the output is the same under any ``PYTHONHASHSEED``.
:func:`~dsys.election.one_leader_per_epoch_invariant` is checked after every event, and
:func:`present` closes with the election checkers' verdicts on the whole trace (and the
one property bully does not promise: one leader *at a time*). Run it with ``dsys demo
election [--seed N]``.

The second half of this module is the harness that runs the modules of
:mod:`dsys.election` in the simulator, for the tests, the docs and
``bench/election.py``: :class:`ElectionServer` (a node holding one of them),
:func:`cluster` (a simulation of ``N`` such nodes), :func:`settled` (a predicate:
everyone up follows one leader) and :func:`election_messages` (the algorithm's own
messages sent so far).

Example:
    >>> sim = scenario(seed=1)
    >>> sim.run(until=UNTIL)
    >>> [(phase.title, phase.coordinators()) for phase in sim.finished]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('A coordinator is elected', ['n5']), ('The coordinator crashes', ['n4']),
     ('A partition: two coordinators', ['n3', 'n4']), ('The partition heals', ['n4']),
     ('The crashed coordinator comes back', ['n5'])]
    >>> from dsys.election import check_agreement, check_one_leader_per_epoch
    >>> bool(check_one_leader_per_epoch(sim.trace)), bool(check_agreement(sim.trace))
    (True, True)
    >>> sim = cluster("ring", nodes=5, seed=1, initiators=["n1"], announce_interval=None)
    >>> sim.run_until(settled, timeout=5.0)
    True
    >>> sim.node("n1").election.leader, election_messages(sim, "ring")  # 2N + 4 hops
    ('n5', 14)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs
from rich.console import Console
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from dsys import Network, Node, Simulation, Trace, TraceEvent
from dsys.election import (
    Answer,
    Bully,
    Coordinator,
    Election,
    HirschbergSinclair,
    HSElected,
    HSProbe,
    HSReply,
    LeaderElection,
    LeaderLease,
    Leading,
    LeaseReply,
    LeaseRequest,
    Omega,
    Ring,
    RingElected,
    RingElection,
    check_agreement,
    check_one_leader_at_a_time,
    check_one_leader_per_epoch,
    message_counts,
    one_leader_per_epoch_invariant,
)
from dsys.errors import ConfigError
from dsys.failure import FailureDetector, HeartbeatDetector, check_completeness
from dsys.trace import terminal

SUMMARY = ("five servers run bully on a failure detector: a crash, a partition with two "
           "coordinators, a heal, a comeback")
KINDS = ["crash", "restart", "partition", "heal", "log"]
UNTIL = 5.0

SERVERS = ("n1", "n2", "n3", "n4", "n5")
#: The detector: a heartbeat every HEARTBEAT seconds, suspected after TIMEOUT of silence.
HEARTBEAT = 0.05
TIMEOUT = 0.2
#: Bully's timeouts: how long an elector waits for an Answer (longer than a round trip),
#: and how often a coordinator repeats its Coordinator message (both bully's defaults).
ANSWER_TIMEOUT = 0.05
ANNOUNCE = 0.5
#: When each phase begins (its end is the next one's beginning, the last one's UNTIL).
PHASE_LENGTH = 1.0


# ----- the servers ----------------------------------------------------------------------------


class Server(Node):
    """A failure detector and the bully election on top of it: when the detector suspects
    the coordinator, the server holds an election (and logs it)."""

    def __init__(self) -> None:
        super().__init__()
        self.detector = self.add_component(HeartbeatDetector(
            interval=HEARTBEAT, timeout=TIMEOUT, on_suspect=self.suspected))
        # No probes of the coordinator: the detector notices its death.
        self.election = self.add_component(Bully(
            answer_timeout=ANSWER_TIMEOUT, probe_interval=None, announce_interval=ANNOUNCE))

    def suspected(self, peer: str) -> None:
        """The detector suspects ``peer``: if it is the coordinator, elect another."""
        if peer == self.election.leader:
            self.log(f"holds an election: coordinator {peer} suspected")
            self.election.forget(f"the detector suspects {peer}")
            self.election.start_election()


@attrs.frozen
class ServerState:
    """What one server believed at the end of a phase (``up`` False: it was down)."""

    id: str
    up: bool
    leader: str | None = None
    epoch: int = 0
    suspects: tuple[str, ...] = ()


def server_state(sim: Simulation, node_id: str) -> ServerState:
    """What ``node_id`` believes now."""
    node = sim.node(node_id)
    if node is None:
        return ServerState(node_id, False)
    election, detector = node.components["election"], node.components["detector"]
    assert isinstance(election, LeaderElection) and isinstance(detector, FailureDetector)
    return ServerState(node_id, True, election.leader, election.epoch, detector.suspected())


# ----- the phases -------------------------------------------------------------------------------


@attrs.define
class Phase:
    """One phase of the story: ``action`` starts it (at ``start``), ``narrate`` tells it
    at its end, from the trace of the phase and what every server believes then."""

    title: str
    action: Callable[[ElectionDemo], None]
    narrate: Callable[[ElectionDemo, Phase], str]
    start: float = 0.0
    end: float = 0.0
    story: str = ""
    states: tuple[ServerState, ...] = ()

    def coordinators(self) -> list[str]:
        """The servers that led at the end of the phase, sorted."""
        return [s.id for s in self.states if s.up and s.leader == s.id]

    def followers(self, leader: str) -> list[str]:
        """The servers that followed ``leader`` at the end of the phase (itself too)."""
        return [s.id for s in self.states if s.up and s.leader == leader]

    def epoch_of(self, leader: str) -> int:
        """The epoch ``leader`` led at the end of the phase."""
        return next(s.epoch for s in self.states if s.id == leader)


class ElectionDemo(Simulation):
    """A simulation that carries its phases: ``finished`` (told, in order), ``current``
    (the one running, if the run stopped during it) and ``facts`` (who was crashed, cut
    off...)."""

    finished: list[Phase]
    current: Phase | None
    facts: dict[str, Any]

    def window(self, phase: Phase) -> Trace:
        """The trace of ``phase`` (the next phase's fault, at its end, is not in it)."""
        return Trace([e for e in self.trace.filter(start=phase.start, end=phase.end)
                      if e.time < phase.end])

    def coordinator(self) -> str | None:
        """The running server that leads the highest epoch, if any."""
        modules = {node_id: node.components.get("election")
                   for node_id, node in self.nodes.items()}
        leading = sorted((m.epoch, node_id) for node_id, m in modules.items()
                         if isinstance(m, LeaderElection) and m.is_leader)
        return leading[-1][1] if leading else None


def _and(names: Iterable[str]) -> str:
    """'a', 'a and b', 'a, b and c' ('nobody' for no names)."""
    listed = list(names)
    if len(listed) <= 1:
        return listed[0] if listed else "nobody"
    return ", ".join(listed[:-1]) + " and " + listed[-1]


def _notes(trace: Trace, component: str, event: str) -> list[TraceEvent]:
    return [e for e in trace if e.kind == "note" and e.data.get("component") == component
            and e.data.get("event") == event]


def _counts(trace: Trace) -> str:
    """The bully messages sent in ``trace``: '12 (Election 4, Answer 4, Coordinator 4)'."""
    counts = message_counts(trace, component="election")
    kinds = [(name, counts[name]) for name in ("Election", "Answer", "Coordinator")]
    return (f"{sum(n for _, n in kinds)} bully messages ("
            + ", ".join(f"{name} {n}" for name, n in kinds) + ")")


def _adopted_by_all(demo: ElectionDemo, phase: Phase) -> str:
    """'every live server follows n4 (epoch 9) from t=1.250 s', from the phase's notes."""
    leaders = phase.coordinators()
    if len(leaders) != 1 or len(phase.followers(leaders[0])) != sum(s.up for s in phase.states):
        views = ", ".join(f"{s.id}: {s.leader}" for s in phase.states if s.up)
        return f"the servers do not agree at the end of the phase ({views})"
    leader, epoch = leaders[0], phase.epoch_of(leaders[0])
    adopted = [e.time for e in _notes(demo.window(phase), "election", "leader")
               if e.data["leader"] == leader and e.data["epoch"] == epoch]
    since = f" from t={max(adopted):.3f} s" if adopted else ""
    return f"every live server follows {leader} (epoch {epoch}){since}"


# Phase 1 -----------------------------------------------------------------------------------------


def _start(demo: ElectionDemo) -> None:
    pass  # every server holds an election as it starts


def _tell_elected(demo: ElectionDemo, phase: Phase) -> str:
    window = demo.window(phase)
    starters = sorted({e.node for e in window if e.kind == "send"
                       and isinstance(e.data.get("msg"), Election)})
    demo.facts["first"] = leaders = phase.coordinators()
    winner = leaders[0] if leaders else "nobody"
    return (f"Every server holds an election as it starts: {_and(starters)} send Election "
            f"to every server above them, and each live server above answers (Answer: "
            f"\"I take over\") and holds its own. {winner} has nobody above it, so it "
            f"wins: it takes an epoch of its own and sends Coordinator to every server "
            f"below. {_counts(window)}; {_adopted_by_all(demo, phase)}.")


# Phase 2 -----------------------------------------------------------------------------------------


def _crash_coordinator(demo: ElectionDemo) -> None:
    crashed = demo.coordinator()
    demo.facts["crashed"] = crashed
    if crashed is not None:
        demo.crash(crashed)


def _tell_crash(demo: ElectionDemo, phase: Phase) -> str:
    crashed = demo.facts["crashed"]
    window = demo.window(phase)
    suspicions = [e for e in _notes(window, "detector", "suspect") if e.data["peer"] == crashed]
    first = suspicions[0] if suspicions else None
    noticed = (f"{TIMEOUT * 1000:.0f} ms without a heartbeat later, the detectors suspect "
               f"it ({first.node} first, at t={first.time:.3f} s), and each server that "
               f"followed it holds an election" if first is not None
               else "No detector suspects it")
    leaders = phase.coordinators()
    winner = leaders[0] if len(leaders) == 1 else "nobody"
    return (f"{crashed} crashes at t={phase.start:.3f} s and its heartbeats stop. "
            f"{noticed}. The elections climb: every live server above an elector answers "
            f"and holds its own, until {winner}, with nobody alive above it, hears no "
            f"answer within {ANSWER_TIMEOUT * 1000:.0f} ms and wins. {_counts(window)}; "
            f"{_adopted_by_all(demo, phase)}.")


# Phase 3 -----------------------------------------------------------------------------------------


def _partition(demo: ElectionDemo) -> None:
    coordinator = demo.coordinator()
    live = [n for n in SERVERS if demo.is_up(n) and n != coordinator]
    if coordinator is None or len(live) < 2:
        return
    side = [coordinator, live[0]]  # the coordinator and the lowest server
    other = [n for n in SERVERS if n not in side]
    demo.facts.update(cut=coordinator, side=side, other=other)
    demo.partition(side, other)


def _tell_partition(demo: ElectionDemo, phase: Phase) -> str:
    if "cut" not in demo.facts:
        return "There was no coordinator to cut off."
    cut, side, other = demo.facts["cut"], demo.facts["side"], demo.facts["other"]
    live_other = [n for n in other if demo.is_up(n)]
    window = demo.window(phase)
    suspected = sorted({e.node for e in _notes(window, "detector", "suspect")
                        if e.data["peer"] == cut})
    leaders = phase.coordinators()
    told = ", ".join(f"{leader} (epoch {phase.epoch_of(leader)}, followed by "
                     f"{_and(phase.followers(leader))})" for leader in leaders)
    down = [n for n in other if n not in live_other]
    gone = f" ({_and(down)} down)" if down else ""
    return (f"The network splits {_and(side)} from {_and(live_other)}{gone}. "
            f"{_and(suspected)} stop "
            f"hearing {cut}'s heartbeats and suspect it; an election among "
            f"{_and(live_other)} gets no answer from {cut}, cut off, so the highest of "
            f"them makes itself coordinator. {side[1]} still hears {cut} and keeps "
            f"following it. {len(leaders)} coordinator(s) at once: {told}. The epochs "
            f"differ, so no epoch has two leaders; but bully decides \"dead\" from a "
            f"timeout, and no timeout can tell a cut-off server from a crashed one.")


# Phase 4 -----------------------------------------------------------------------------------------


def _heal(demo: ElectionDemo) -> None:
    demo.heal()


def _tell_heal(demo: ElectionDemo, phase: Phase) -> str:
    window = demo.window(phase)
    back = len(_notes(window, "detector", "alive"))
    electors = sorted({e.node for e in window if e.kind == "send"
                       and isinstance(e.data.get("msg"), Election)})
    return (f"The network heals at t={phase.start:.3f} s, and the detectors hear the "
            f"other side again ({back} suspicions withdrawn). Each coordinator repeats its "
            f"Coordinator message every {ANNOUNCE} s to the servers below it; a server that "
            f"hears a coordinator other than its own holds an election: "
            f"{_and(electors)} did. The highest live server wins it in a fresh epoch. "
            f"{_counts(window)}; {_adopted_by_all(demo, phase)}.")


# Phase 5 -----------------------------------------------------------------------------------------


def _restart(demo: ElectionDemo) -> None:
    crashed = demo.facts.get("crashed")
    if crashed is not None:
        demo.restart(crashed)


def _tell_restart(demo: ElectionDemo, phase: Phase) -> str:
    crashed = demo.facts.get("crashed")
    window = demo.window(phase)
    epochs = [e.data["epoch"] for e in _notes(window, "election", "leader")
              if e.node == crashed and e.data["leader"] == crashed]
    again = ""
    if len(epochs) > 1:  # its first epoch was below the one the others followed
        again = (f" Its first epoch, {epochs[0]}, is the next of its own above those it "
                 f"remembers, older than the others' (it was down while they elected); "
                 f"they answer it with elections of their own, and it wins again, in "
                 f"epoch {epochs[-1]}.")
    return (f"{crashed} restarts at t={phase.start:.3f} s and, as bully's rule says, holds "
            f"an election at once: no server is above it, so it wins and sends Coordinator "
            f"to everyone below, bullying the coordinator that replaced it.{again} "
            f"{_counts(window)}; {_adopted_by_all(demo, phase)}.")


def phases() -> list[Phase]:
    """The story, in order (phase ``i`` starts at ``i`` seconds)."""
    return [
        Phase("A coordinator is elected", _start, _tell_elected),
        Phase("The coordinator crashes", _crash_coordinator, _tell_crash),
        Phase("A partition: two coordinators", _partition, _tell_partition),
        Phase("The partition heals", _heal, _tell_heal),
        Phase("The crashed coordinator comes back", _restart, _tell_restart),
    ]


def _begin(demo: ElectionDemo, phase: Phase) -> None:
    demo.current = phase
    phase.action(demo)


def _close(demo: ElectionDemo, phase: Phase) -> None:
    phase.states = tuple(server_state(demo, n) for n in SERVERS)
    phase.story = phase.narrate(demo, phase)
    demo.finished.append(phase)
    demo.current = None


def scenario(seed: int = 1, until: float = UNTIL, *,
             server: Callable[[], Node] = Server) -> ElectionDemo:
    """The five servers and the phases, ready to run, with
    :func:`~dsys.election.one_leader_per_epoch_invariant` checked after every event
    (``server`` builds each server: a test may swap in a broken one)."""
    demo = ElectionDemo(seed=seed, network=Network(latency=(0.002, 0.012), drop=0.02))
    demo.finished, demo.current, demo.facts = [], None, {}
    for node_id in SERVERS:
        demo.add_node(node_id, server)
    demo.add_invariant(one_leader_per_epoch_invariant)
    for number, phase in enumerate(phases()):
        phase.start, phase.end = number * PHASE_LENGTH, (number + 1) * PHASE_LENGTH
        if phase.start < until:
            demo.at(phase.start, _begin, demo, phase)
        if phase.end <= until:
            demo.at(phase.end - 1e-9, _close, demo, phase)  # before the next phase's fault
    return demo


# ----- drawing it -------------------------------------------------------------------------------


def highlights(trace: Trace) -> Trace:
    """The events worth a row, as short lines: faults, the servers' own lines, the
    detectors' suspicions, the leaders adopted, and the Election and Coordinator messages
    a server sends at one instant (one row: ``Election → n4 n5``; the answers are only
    counted, in the story)."""
    rows: list[tuple[TraceEvent, list[str]]] = []  # (event, recipients of a send row)
    for e in trace:
        msg = e.data.get("msg")
        text = None
        if e.kind in ("crash", "restart", "partition", "heal", "log"):
            rows.append((e, []))
        elif e.kind == "send" and isinstance(msg, (Election, Coordinator)):
            name = type(msg).__name__
            last = rows[-1][0] if rows else None
            if last is None or (last.time, last.node, last.data.get("text")) != (
                    e.time, e.node, name):  # (one handler's sends are consecutive)
                rows.append((TraceEvent(e.time, e.node, "log", {"text": name}), []))
            rows[-1][1].append(e.data["to"])
        elif e.kind == "note" and e.data.get("component") == "detector":
            event = e.data.get("event")
            if event in ("suspect", "alive"):
                text = (f"suspects {e.data['peer']}" if event == "suspect"
                        else f"hears {e.data['peer']} again")
        elif e.kind == "note" and e.data.get("event") == "leader":
            leader, epoch = e.data["leader"], e.data["epoch"]
            text = (f"COORDINATOR, epoch {epoch}" if leader == e.node
                    else f"follows {leader} (epoch {epoch})")
        if text is not None:
            rows.append((TraceEvent(e.time, e.node, "log", {"text": text}), []))
    return Trace([e if not to else TraceEvent(e.time, e.node, "log", {
        "text": f"{e.data['text']} → {' '.join(sorted(to))}"}) for e, to in rows])


def state_table(states: tuple[ServerState, ...]) -> Table:
    """Each server's coordinator, epoch and suspicions."""
    table = Table(show_header=True, box=None, padding=(0, 1))
    for column in ("server", "coordinator", "epoch", "suspects"):
        table.add_column(column, justify="right" if column == "epoch" else "left")
    for s in states:
        if not s.up:
            table.add_row(s.id, Text("crashed", style="bold red"), "", "")
            continue
        leader = Text(s.leader or "none", style="bold" if s.leader == s.id else "")
        table.add_row(s.id, leader, str(s.epoch), ", ".join(s.suspects) or "-")
    return table


def verdicts(trace: Trace) -> list[tuple[str, bool, str]]:
    """The closing summary: (label, as it should be?, the report in words). The election
    checkers must pass (one leader per epoch, agreement at the end), and the detector
    must suspect the crash within its timeout and two heartbeats; one leader *at a
    time*, which bully does not promise, fails wherever two coordinators overlapped."""
    detector = check_completeness(trace, within=TIMEOUT + 2 * HEARTBEAT)
    return [
        ("election checker", bool(report := check_one_leader_per_epoch(trace)),
         report.explain()),
        ("election checker", bool(report := check_agreement(trace)), report.explain()),
        ("detector checker", bool(detector), detector.explain()),
        ("not promised by bully", True, check_one_leader_at_a_time(trace).explain(limit=3)),
    ]


def present(sim: Simulation, console: Console, *, everything: bool = False) -> None:
    """Draw the story: each phase's narration, its highlights, and what every server
    believes at its end; then the checkers' verdicts and the messages counted."""
    assert isinstance(sim, ElectionDemo)
    for number, phase in enumerate(sim.finished, start=1):
        console.print(Rule(f"{number}. {phase.title}  (t={phase.start:.1f} s to "
                           f"{phase.end:.1f} s)"))
        console.print(Padding(phase.story, (0, 2)))
        window = sim.window(phase)
        console.print(terminal.render(window if everything else highlights(window),
                                      nodes=list(SERVERS), title=(
            "every event" if everything else "highlights (--all shows every event)")))
        console.print(Padding(state_table(phase.states), (0, 2, 1, 2)))
    if sim.current is not None:
        console.print(Text(f"The run ended (--until) during the phase "
                           f"{sim.current.title!r}.", style="bold yellow"))
    for label, expected, text in verdicts(sim.trace):
        line = Text(f"{label}: ", style="bold")
        style = "yellow" if label.startswith("not") else "green"
        line.append(text, style=style if expected else "bold red")
        console.print(line)
    console.print(Text(
        "  (bully decides \"dead\" from timeouts: a coordinator cut off, or one that "
        "restarts and takes over, leads while another still does, each in its own epoch)",
        style="dim"))
    counts = message_counts(sim.trace)
    console.print(Text("messages sent: " + ", ".join(
        f"{name} {counts[name]}" for name in ("Election", "Answer", "Coordinator",
                                              "Heartbeat") if counts[name]),
        style="dim"))


# ----- the harness for dsys.election ---------------------------------------------------------

#: The election modules by the names the harness, the docs and the benchmark use.
ELECTIONS: dict[str, Callable[..., LeaderElection]] = {
    "bully": Bully, "ring": Ring, "hirschberg-sinclair": HirschbergSinclair, "omega": Omega,
    "lease": LeaderLease}

#: The messages each algorithm elects with (probes, acknowledgements and the failure
#: detector's heartbeats are not counted).
ELECTION_MESSAGES: dict[str, tuple[type, ...]] = {
    "bully": (Election, Answer, Coordinator),
    "ring": (RingElection, RingElected),
    "hirschberg-sinclair": (HSProbe, HSReply, HSElected),
    "omega": (Leading,),
    "lease": (LeaseRequest, LeaseReply),
}


class ElectionServer(Node):
    """A node that holds one election module as ``self.election`` (and, for Ω, a heartbeat
    failure detector as ``self.detector``, beating every ``0.1`` s, timeout ``0.4`` s).

    ``options`` go to the module's constructor; ``elect_on_start`` (the rings, bully) is
    true when ``initiators`` is None or holds this node's id.

    Example:
        >>> from dsys import Simulation
        >>> from dsys.demos.election import ElectionServer
        >>> sim = Simulation(seed=1)
        >>> for name in ("a", "b", "c"):
        ...     sim.add_node(name, lambda: ElectionServer("bully"))
        >>> sim.run(until=1.0)
        >>> sim.node("a").election.leader
        'c'
    """

    def __init__(self, algorithm: str = "bully", *, initiators: Iterable[str] | None = None,
                 **options: Any) -> None:
        super().__init__()
        if algorithm not in ELECTIONS:
            raise ConfigError(f"no election algorithm {algorithm!r}; choose one of "
                             f"{', '.join(ELECTIONS)}")
        if algorithm in ("bully", "ring", "hirschberg-sinclair"):
            options.setdefault("elect_on_start",
                               initiators is None or self.id in set(initiators))
        if algorithm == "omega":
            self.detector = self.add_component(HeartbeatDetector(interval=0.1, timeout=0.4))
            options["detector"] = self.detector
        self.election = self.add_component(ELECTIONS[algorithm](**options))


def node_ids(nodes: int) -> list[str]:
    """``n1`` ... ``nN``, zero-padded so that the ids sort in number order."""
    width = len(str(nodes))
    return [f"n{i:0{width}d}" for i in range(1, nodes + 1)]


def cluster(algorithm: str = "bully", nodes: int = 5, seed: int = 0, *,
            network: Network | None = None, trace: bool = True,
            initiators: Iterable[str] | None = None, **options: Any) -> Simulation:
    """A simulation of ``nodes`` :class:`ElectionServer` nodes (``n1``...) running
    ``algorithm``, with :func:`~dsys.election.one_leader_per_epoch_invariant` checked
    after every event. ``initiators``: the nodes that start an election at once (bully
    and ring; default: all)."""
    sim = Simulation(seed=seed, network=network, trace=trace)
    chosen = None if initiators is None else tuple(initiators)
    for node_id in node_ids(nodes):
        sim.add_node(node_id, lambda: ElectionServer(algorithm, initiators=chosen, **options))
    sim.add_invariant(one_leader_per_epoch_invariant)
    return sim


def settled(sim: Simulation) -> bool:
    """Every running node with an election module (a component named ``"election"``)
    trusts the same leader, which runs and leads."""
    modules = [node.components.get("election") for node in sim.nodes.values()]
    trusted = {m.leader for m in modules if isinstance(m, LeaderElection)}
    if len(trusted) != 1:
        return False
    (leader,) = trusted
    node = sim.node(leader) if leader is not None and sim.is_up(leader) else None
    module = node.components.get("election") if node is not None else None
    return isinstance(module, LeaderElection) and module.is_leader


def election_messages(sim: Simulation, algorithm: str) -> int:
    """How many of ``algorithm``'s election messages were sent so far."""
    by_type: Any = sim.statistics().by_type
    return sum(by_type.get(t.__name__, {}).get("sent", 0)
               for t in ELECTION_MESSAGES[algorithm])
