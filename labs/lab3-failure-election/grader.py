"""Grader of lab 3: a SWIM failure detector, and a bully election on top of it.

The student's two components run inside the grader's own node, :class:`Member` (a
``SwimDetector`` attached as ``"detector"`` and, for the election tests, a
``BullyElection`` on top of it, attached as ``"election"``). Two kinds of tests:

* **probe tests** (first, and cheap): one student member among members the grader plays
  itself (:class:`Probe`: it answers pings, helps with ping-reqs, and sends the student's
  member exactly the messages a test needs, of the starter's classes), so that one rule
  is pinned down every time, not on a lucky seed: round-robin probing, indirect probes,
  suspicion then death, the rules of precedence, refutation, dissemination, and the bully
  rules (answering lower members, ending an election once the winner has announced
  itself, bullying a lower coordinator, restarting an election whose winner died);
* **group tests**: groups of the student's members with crashes, restarts, partitions,
  message loss and a slow member, judged by the checkers of :mod:`dsys.failure`
  (completeness within a bound, accuracy, convergence) and :mod:`dsys.election` (one
  coordinator per epoch, agreement once the system is stable, message counts).

Every bound follows from the handout's constants, copied below (a student who changes
them in the starter is graded against the handout's).

Two checks exist because bugs written without a test in mind got through: a helper that
reuses the asker's seq (no test caught it; ``indirect_probes`` now asks for help with
the very seq of the member's own outstanding probe), and an elector that leaves its
coordinator timer armed (caught on a few seeds only; ``an_answered_election_ends`` pins
the order of Answer and Coordinator).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from dsys import Nemesis, Network, Node, Simulation
from dsys.election import (
    Report,
    check_agreement,
    check_message_count,
    check_one_leader_per_epoch,
    owned_epoch,
)
from dsys.failure import check_accuracy, check_completeness, check_convergence, false_suspicions
from dsys.labs import Trial, graded

# ----- the handout's constants ---------------------------------------------------------------

PERIOD = 0.1
PING_TIMEOUT = 0.03
INDIRECT_PROBES = 3
SUSPICION_TIMEOUT = 0.5
MAX_PIGGYBACK = 6
MAX_TRANSMISSIONS = 6
ANSWER_TIMEOUT = 0.05
COORDINATOR_TIMEOUT = 0.2
ANNOUNCE_INTERVAL = 0.5

#: Messages take 1 to 10 ms on the default network; this covers a hop and the handlers.
HOP = 0.011


def detection_bound(size: int) -> float:
    """How long after a crash every live member of a group of ``size`` holds the crashed
    member dead, by its own probes alone: randomized round-robin probes it within 2(N-1)-1
    periods of the first period after the crash, the probe fails at the end of its period,
    and the suspicion lasts SUSPICION_TIMEOUT (plus a little for the timers' order)."""
    return 2 * (size - 1) * PERIOD + SUSPICION_TIMEOUT + 0.1


# ----- the nodes ------------------------------------------------------------------------------


class Member(Node):
    """A member of the group: the student's detector and, if ``election``, the student's
    bully election on top of it."""

    def __init__(self, impl: ModuleType, election: bool) -> None:
        super().__init__()
        self.detector = self.add_component(impl.SwimDetector())
        if election:
            self.election = self.add_component(impl.BullyElection(self.detector))


def protocol(trial: Trial) -> ModuleType:
    """The module that defines the implementation's message classes (``Ping``...): the
    implementation itself, or the one its classes inherit them from (a mutant built on
    the solution)."""
    for cls in (*trial.impl.SwimDetector.__mro__, *trial.impl.BullyElection.__mro__):
        module = sys.modules.get(cls.__module__)
        if module is not None and all(hasattr(module, name) for name in (
                "Update", "Ping", "Ack", "PingReq", "Election", "Answer", "Coordinator")):
            return module
    return trial.impl


class Probe(Node):
    """A member the grader plays: it answers every ping, helps with ping-reqs as SWIM
    says, answers an Election if ``answers`` (then, if ``coordinates``, says it is the
    coordinator, and calls ``on_answer``), and keeps everything it receives in ``inbox``
    as (time, sender, message)."""

    def __init__(self, m: ModuleType, *, answers: bool = False, coordinates: bool = False,
                 on_answer: Callable[[Probe], None] | None = None) -> None:
        super().__init__()
        self.m = m
        self.answers = answers
        self.coordinates = coordinates
        self.on_answer = on_answer
        self.inbox: list[tuple[float, str, Any]] = []
        self.seq = 10_000
        self.relays: dict[int, tuple[str, int]] = {}
        self.won: list[tuple[str, int]] = []  # (elector, epoch) to send Coordinator to

    def on_message(self, src: str, msg: Any) -> None:
        self.inbox.append((self.now, src, msg))
        m = self.m
        if isinstance(msg, m.Ping):
            self.send(src, m.Ack(msg.seq))
        elif isinstance(msg, m.PingReq):
            self.seq += 1
            self.relays[self.seq] = (src, msg.seq)
            self.send(msg.target, m.Ping(self.seq))
        elif isinstance(msg, m.Ack) and msg.seq in self.relays:
            asker, seq = self.relays.pop(msg.seq)
            self.send(asker, m.Ack(seq))
        elif isinstance(msg, m.Election) and self.answers:
            self.send(src, m.Answer(msg.epoch))
            if self.coordinates:  # it wins, in an epoch of its own, and says so (after
                # the Answer: 20 ms later, more than any difference of latencies)
                everyone = tuple(sorted((self.id, *self.peers)))
                self.won.append((src, owned_epoch(msg.epoch, self.id, everyone)))
                self.set_timer("coordinate", 0.02)
            if self.on_answer is not None:
                self.on_answer(self)

    def on_timer(self, name: str) -> None:
        for dst, epoch in self.won:
            self.send(dst, self.m.Coordinator(epoch))
        self.won = []

    def received(self, kind: type, src: str | None = None, since: float = 0.0) -> list[Any]:
        """The messages of ``kind`` received (from ``src``) since ``since``."""
        return [msg for t, s, msg in self.inbox
                if isinstance(msg, kind) and (src is None or s == src) and t >= since]


def probe_group(trial: Trial, student: str, probes: Iterable[str], *, election: bool = False,
                network: Network | None = None, **options: Any) -> Simulation:
    """A simulation of one student member and the grader's probes (all started at 0)."""
    m = protocol(trial)
    sim = trial.simulation(network=network)
    sim.add_node(student, lambda: Member(trial.impl, election))
    for name in probes:
        sim.add_node(name, lambda: Probe(m, **options))
    return sim


def group(trial: Trial, size: int, *, election: bool, network: Network | None = None
          ) -> tuple[Simulation, list[str]]:
    """A simulation of ``size`` student members ``m0``, ``m1``..."""
    names = [f"m{i}" for i in range(size)]
    sim = trial.simulation(network=network)
    for name in names:
        sim.add_node(name, lambda: Member(trial.impl, election))
    return sim, names


# ----- reading what happened ------------------------------------------------------------------


def view(sim: Simulation, node: str) -> dict[str, tuple[str, int]]:
    """The student's ``detector.view`` of ``node``, checked for its shape."""
    detector = sim.node(node).detector  # type: ignore[union-attr]
    held = getattr(detector, "view", None)
    if not isinstance(held, dict):
        raise AssertionError(
            f"{node}'s SwimDetector has no dict `view` (member -> (status, incarnation)) "
            f"but {held!r}: the grader reads it (see the starter)")
    return held


def sent(sim: Simulation, node: str, kind: type | tuple[type, ...], *, to: str | None = None,
         since: float = 0.0, until: float = float("inf")) -> list[tuple[float, str, Any]]:
    """(time, destination, message) of every message of ``kind`` that ``node`` sent."""
    return [(e.time, e.data["to"], e.data["msg"]) for e in sim.trace
            if e.kind == "send" and e.node == node and isinstance(e.data.get("msg"), kind)
            and (to is None or e.data["to"] == to) and since <= e.time < until]


def updates_of(msg: Any) -> tuple[Any, ...]:
    return tuple(getattr(msg, "updates", ()))


def news(msg: Any, status: str, member: str, incarnation: int | None = None) -> bool:
    """Does ``msg`` carry the update ``status`` of ``member`` (at ``incarnation``)?"""
    return any(u.status == status and u.member == member
               and (incarnation is None or u.incarnation == incarnation)
               for u in updates_of(msg))


def watch(sim: Simulation, node: str, member: str) -> list[tuple[float, Any]]:
    """Every change of ``node``'s belief about ``member``: (time, (status, incarnation)),
    recorded after every event."""
    changes: list[tuple[float, Any]] = []

    def record(s: Simulation) -> None:
        detector = getattr(s.nodes.get(node), "detector", None)
        held_view = getattr(detector, "view", None)
        if not isinstance(held_view, dict):
            return  # (not started yet; the test reads the view itself later)
        held = held_view.get(member)
        if not changes or changes[-1][1] != held:
            changes.append((s.now, held))

    sim.add_invariant(record, name=f"record {node}'s view of {member}")
    return changes


def held_dead(sim: Simulation, node: str, member: str, start: float, end: float) -> bool:
    """Did ``node``'s detector declare ``member`` dead (``mark_suspected``) between ``start``
    and ``end``?"""
    return any(e.kind == "note" and e.node == node and e.data.get("component") == "detector"
               and e.data.get("event") == "suspect" and e.data.get("peer") == member
               and start <= e.time <= end for e in sim.trace)


def send_news(sim: Simulation, probe: str, student: str, *updates: Any) -> None:
    """Probe ``probe`` sends the student a Ping carrying ``updates``."""
    p: Probe = sim.node(probe)  # type: ignore[assignment]
    p.seq += 1
    p.send(student, p.m.Ping(p.seq, tuple(updates)))


def show(updates: Iterable[Any]) -> str:
    return ", ".join(f"{u.status}({u.member}, {u.incarnation})" for u in updates) or "nothing"


# ===== probe tests: the detector ===============================================================


@graded(points=5, runs=5)
def probes_round_robin(trial: Trial) -> None:
    """One ping per period, every member within 2(N-1)-1 periods (randomized round-robin)."""
    m = protocol(trial)
    probes = [f"p{i}" for i in range(1, 6)]
    sim = probe_group(trial, "s", probes)
    trial.run(sim, 5.0)
    pings = sent(sim, "s", m.Ping, since=1.0, until=5.0)
    periods = round(4.0 / PERIOD)
    assert periods - 1 <= len(pings) <= periods + 1, (
        f"from t=1 s to t=5 s (40 protocol periods of {PERIOD} s) s sent {len(pings)} pings "
        f"to five members that all answer at once: SWIM pings exactly one member per "
        "period (arm the tick timer once, and again each time it fires)")
    targets = [to for _, to, _ in pings]
    window = 2 * len(probes) - 1
    for start in range(len(targets) - window + 1):
        missing = sorted(set(probes) - set(targets[start:start + window]))
        if missing:
            at = pings[start][0]
            trial.focus(start=at, end=pings[start + window - 1][0], nodes=["s"], kinds=["send"])
            raise AssertionError(
                f"s pinged {', '.join(targets[start:start + window])} from t={at:.3f} s: "
                f"{window} probes in a row without {', '.join(missing)}. Randomized "
                "round-robin (§4.3) pings every member once per pass, in a new random order "
                "each pass, so that no member waits more than 2(N-1)-1 periods: a crashed "
                "member is then found in bounded time (random targets alone give no bound)")
    helps = sent(sim, "s", m.PingReq)
    assert not helps, (
        f"s sent {len(helps)} ping-req(s) (the first at t={helps[0][0]:.3f} s), yet every "
        "member it pings answers within 20 ms: ask for help only when no ack came within "
        f"PING_TIMEOUT ({PING_TIMEOUT} s)")
    wrong = {p: held for p, held in view(sim, "s").items() if held[0] != "alive"}
    assert not wrong, f"s holds {wrong}, but every member answered every ping"


@graded(points=7, runs=5)
def indirect_probes(trial: Trial) -> None:
    """A member s cannot reach is probed through k others, and not suspected; s helps others."""
    m = protocol(trial)
    probes = [f"p{i}" for i in range(1, 6)]
    sim = probe_group(trial, "s", probes)
    sim.block("s", "p5")  # s and p5 cannot talk to each other; everyone else can
    sim.block("p5", "s")
    changes = watch(sim, "s", "p5")
    trial.run(sim, 4.0)
    for at, held in changes:
        if held is None or held[0] != "alive":
            trial.focus(start=at - 2 * PERIOD, end=at, nodes=["s", "p5"])
            raise AssertionError(
                f"s cannot reach p5 (the link is cut both ways), but p1..p4 can and help "
                f"with every ping-req; yet at t={at:.3f} s s holds p5 {held}. When no ack "
                f"comes within PING_TIMEOUT, send PingReq(seq, target) to {INDIRECT_PROBES} "
                "random members (alive, not the target); their relayed Ack carries your seq "
                "and counts as the target's answer (§3.1)")
    direct = sent(sim, "s", m.Ping, to="p5", until=sim.now - PERIOD)
    assert direct, "s never pinged p5 in 4 s (five members, one ping per period)"
    for at, _, ping in direct:
        asked = [(t, to, req) for t, to, req in sent(sim, "s", m.PingReq)
                 if req.seq == ping.seq and req.target == "p5" and t < at + PERIOD]
        helpers = sorted(to for _, to, _ in asked)
        assert len(helpers) == INDIRECT_PROBES and len(set(helpers)) == len(helpers) \
            and "p5" not in helpers, (
                f"s pinged p5 at t={at:.3f} s (seq {ping.seq}) and got no ack; it then sent "
                f"PingReq(seq={ping.seq}, target=p5) to {helpers or 'nobody'}: it should ask "
                f"exactly k={INDIRECT_PROBES} distinct members other than p5")
        early = [t for t, _, _ in asked if t < at + PING_TIMEOUT - 1e-9]
        assert not early, (
            f"s sent a ping-req for p5 at t={early[0]:.3f} s, less than PING_TIMEOUT "
            f"({PING_TIMEOUT} s) after its ping at t={at:.3f} s: wait for the direct ack first")
    # s helps: while s waits for p5's ack to its ping of seq q, p1 asks s to probe p2 (which
    # answers) with the same seq q (seqs are counted per member: they collide). p1 must
    # get Ack(q) back, and s's probe of p5 must not take p2's ack for p5's.
    pings = len(sent(sim, "s", m.Ping, to="p5"))
    trial.run_until(sim, lambda _: len(sent(sim, "s", m.Ping, to="p5")) > pings,
                    timeout=3 * len(probes) * PERIOD)
    began, ping = sim.now, sent(sim, "s", m.Ping, to="p5")[-1][2]
    p1: Probe = sim.node("p1")  # type: ignore[assignment]
    p1.send("s", m.PingReq(ping.seq, "p2"))
    trial.run(sim, began + 5 * HOP)
    relayed = [a for a in p1.received(m.Ack, "s", since=began) if a.seq == ping.seq]
    assert relayed, (
        f"at t={began:.3f} s p1 sent s PingReq(seq={ping.seq}, target=p2); p2 answers every "
        f"ping, yet s sent p1 no Ack(seq={ping.seq}) within {5 * HOP * 1000:.0f} ms. (s was "
        f"itself waiting for the ack of its own ping {ping.seq}, to p5: seqs are counted per "
        "member, so the asker's may equal yours.) A helper pings the target with a *new* seq "
        "of its own, remembers (asker, asker's seq) under it, and when the target's Ack "
        "comes, sends the asker Ack with the asker's seq")


@graded(points=6, runs=5)
def suspicion_then_death(trial: Trial) -> None:
    """A member that stops answering is suspected first, and held dead SUSPICION_TIMEOUT later."""
    probes = [f"p{i}" for i in range(1, 6)]
    sim = probe_group(trial, "s", probes)
    changes = watch(sim, "s", "p3")
    crash = 1.0 + trial.rng.uniform(0, PERIOD)
    sim.at(crash, sim.crash, "p3")
    bound = detection_bound(len(probes) + 1)
    trial.run(sim, crash + bound + 0.5)
    report = check_completeness(sim.trace, within=bound, end=sim.now)
    assert report.ok, (
        f"p3 crashed at t={crash:.3f} s and stopped answering pings; {report.explain()}. "
        "A member that fails a probe (no ack, direct or relayed, by the end of the period) "
        f"is suspected, and declared dead (mark_suspected) SUSPICION_TIMEOUT "
        f"({SUSPICION_TIMEOUT} s) later unless it refutes")
    suspected = next((t for t, held in changes if held is not None and held[0] == "suspect"),
                     None)
    dead = next((t for t, held in changes if held is not None and held[0] == "dead"), None)
    assert suspected is not None and dead is not None and suspected < dead, (
        f"s's view of p3 went {[(round(t, 3), h) for t, h in changes]}: a member that fails "
        "a probe is first *suspected*; only a suspicion nobody refutes in time becomes "
        "death (§4.2). Declaring it dead at once turns every lost ping into a death")
    assert dead >= suspected + SUSPICION_TIMEOUT - 1e-6, (
        f"s suspected p3 at t={suspected:.3f} s and held it dead at t={dead:.3f} s, "
        f"before SUSPICION_TIMEOUT ({SUSPICION_TIMEOUT} s) had passed")
    assert dead <= suspected + SUSPICION_TIMEOUT + PERIOD, (
        f"s suspected p3 at t={suspected:.3f} s and held it dead only at t={dead:.3f} s: "
        f"a suspicion expires after SUSPICION_TIMEOUT ({SUSPICION_TIMEOUT} s)")
    for name in ("p1", "p2", "p4", "p5"):
        held = view(sim, "s")[name]
        assert held[0] == "alive", f"s holds {name} {held}, but {name} answered every ping"


@graded(points=6, runs=3)
def rules_of_precedence(trial: Trial) -> None:
    """News overrides what a member holds only with a newer incarnation, or a worse status."""
    probes = [f"p{i}" for i in range(1, 5)]
    sim = probe_group(trial, "s", probes)
    trial.run(sim, 0.3)
    m = protocol(trial)
    steps = [  # (news about p2, what s must hold after it, why)
        (("alive", 2), ("alive", 2), "a newer incarnation"),
        (("suspect", 1), ("alive", 2), "a suspicion of an older incarnation is old news"),
        (("suspect", 2), ("suspect", 2), "suspect beats alive at the same incarnation"),
        (("alive", 2), ("suspect", 2), "only a *newer* incarnation refutes a suspicion"),
        (("alive", 3), ("alive", 3), "the refutation: a newer incarnation"),
        (("dead", 3), ("dead", 3), "dead beats alive at the same incarnation"),
        (("suspect", 3), ("dead", 3), "dead beats suspect at the same incarnation"),
        (("alive", 3), ("dead", 3), "the dead come back only with a newer incarnation"),
        (("alive", 4), ("alive", 4), "a newer incarnation: back from the dead"),
        (("dead", 4), ("dead", 4), "dead beats alive at the same incarnation"),
    ]
    history: list[str] = []
    for (status, incarnation), expected, why in steps:
        at = sim.now
        send_news(sim, "p1", "s", m.Update(status, "p2", incarnation))
        trial.run(sim, at + 2 * HOP)
        raw = view(sim, "s").get("p2")
        held = None if raw is None else tuple(raw)  # (a list would do too)
        history.append(f"{status}({incarnation})")
        if held != expected:
            trial.focus(start=at, nodes=["s", "p1"])
            raise AssertionError(
                f"p1 told s, one after the other, that p2 is {', '.join(history)}; s now "
                f"holds p2 {held}, but should hold {expected}: {why}. The rule (§4.2): news "
                "(status, i) replaces what you hold (status', j) if i > j, or if i == j and "
                "status is worse than status' (alive < suspect < dead)")
        dead = sim.node("s").detector.suspects("p2")  # type: ignore[union-attr]
        assert dead == (expected[0] == "dead"), (
            f"s holds p2 {held}, but its detector's output (suspects) says {dead}: call "
            "mark_suspected when a member becomes dead, mark_alive when it leaves death")


@graded(points=7, runs=3)
def refutes_suspicion_of_itself(trial: Trial) -> None:
    """Suspected or held dead, a member refutes with a newer incarnation; old news again too."""
    m = protocol(trial)
    sim = probe_group(trial, "s", [f"p{i}" for i in range(1, 5)])
    trial.run(sim, 0.3)

    def refutation(since: float) -> tuple[int, list[Any]]:
        """s's incarnation, and the alive news about itself s sent since ``since``."""
        incarnation = sim.node("s").detector.incarnation  # type: ignore[union-attr]
        spread = [u for _, _, msg in sent(sim, "s", (m.Ping, m.Ack, m.PingReq), since=since)
                  for u in updates_of(msg) if u.member == "s" and u.status == "alive"]
        return incarnation, spread

    for status in ("suspect", "dead"):
        before = sim.node("s").detector.incarnation  # type: ignore[union-attr]
        at = sim.now
        send_news(sim, "p1", "s", m.Update(status, "s", before))
        trial.run(sim, at + 2 * PERIOD)
        after, spread = refutation(at)
        assert after > before, (
            f"at t={at:.3f} s p1 told s that s is {status} at incarnation {before} (its "
            f"current one); s's incarnation is still {after}. To refute, a member raises its "
            "incarnation above the one in the news (§4.2): nobody believes alive(i) over "
            f"{status}(i)")
        assert any(u.incarnation == after for u in spread), (
            f"p1 told s that s is {status} at incarnation {before}; s raised its incarnation "
            f"to {after} but in the next {2 * PERIOD:g} s sent {show(spread)} about itself: "
            f"spread alive(s, {after}) (piggybacked, like any news) so that the others "
            "stop suspecting it")
    # Old news: someone still holds s suspect at an incarnation s refuted long ago (it
    # missed the refutation). s must spread its current incarnation again.
    trial.run(sim, sim.now + 2.0)
    current = sim.node("s").detector.incarnation  # type: ignore[union-attr]
    at = sim.now
    send_news(sim, "p1", "s", m.Update("suspect", "s", current - 1))
    trial.run(sim, at + 2 * PERIOD)
    now, spread = refutation(at)
    assert any(u.incarnation >= current for u in spread), (
        f"at t={at:.3f} s p1 told s that s is suspect at incarnation {current - 1}, older than "
        f"s's {current}: p1 missed s's refutation (its gossip is over). In the next "
        f"{2 * PERIOD:g} s s sent {show(spread)} about itself: spread alive(s, {now}) again, "
        "or p1 suspects s until it is declared dead")


@graded(points=7, runs=3)
def news_spreads_then_stops(trial: Trial) -> None:
    """News rides on messages to other members: a few per message, a few times each, then stops."""
    m = protocol(trial)
    probes = [f"p{i}" for i in range(1, 9)]
    sim = probe_group(trial, "s", probes)
    trial.run(sim, 0.5)
    told = sim.now
    heard = (m.Update("suspect", "p2", 0),
             *(m.Update("alive", p, 1) for p in probes[2:]))  # 7 pieces of news
    send_news(sim, "p1", "s", *heard)
    trial.run(sim, told + 4.0)
    messages = sent(sim, "s", (m.Ping, m.Ack, m.PingReq))
    crowded = [(t, to, msg) for t, to, msg in messages if len(updates_of(msg)) > MAX_PIGGYBACK]
    assert not crowded, (
        f"at t={crowded[0][0]:.3f} s s sent {crowded[0][1]} a message carrying "
        f"{len(updates_of(crowded[0][2]))} updates: at most MAX_PIGGYBACK ({MAX_PIGGYBACK}) "
        "ride on one message (a message must stay small, whatever happens to the group)")
    # Least-sent first (the handout): news not sent yet goes before news already sent, so
    # the seven pieces are all out on the first two messages s sends that carry any.
    first_two = [msg for t, _, msg in messages if t >= told and any(
        news(msg, u.status, u.member, u.incarnation) for u in heard)][:2]
    late = [u for u in heard
            if not any(news(msg, u.status, u.member, u.incarnation) for msg in first_two)]
    assert not late, (
        f"at t={told:.3f} s p1 told s: {show(heard)}. s's next two messages did not carry "
        f"{show(late)}: with at most MAX_PIGGYBACK updates per message, the least-sent news "
        "goes first, or fresh news waits behind news that has been sent many times")
    # Spread: each piece of news reaches a member other than p1, which told it (on the 8
    # pings of the next 8 periods, and the ack to p1: at most 3 of them go to p1, and the 7
    # pieces of news take 7 messages to send 6 times each, 6 at a time).
    soon = told + 8 * PERIOD + HOP
    for update in heard:
        passed_on = [t for t, to, msg in messages if to != "p1" and t <= soon
                     and news(msg, update.status, update.member, update.incarnation)]
        assert passed_on, (
            f"at t={told:.3f} s p1 told s: {show(heard)}. In the next eight periods s pinged "
            f"other members, but none of its messages carried "
            f"{show([update])}: news is piggybacked on every ping, ack and ping-req (§4.1), "
            "until it has been sent MAX_TRANSMISSIONS times")
    # Bounded: each piece of news is sent MAX_TRANSMISSIONS times at most (not counting the
    # copies of suspect(p2) and dead(p2) that go to p2 itself: those always go first).
    death = m.Update("dead", "p2", 0)
    for update in (*heard, death):
        copies = [t for t, to, msg in messages if news(msg, update.status, update.member,
                                                     update.incarnation)
                  and not (to == "p2" and update.member == "p2")]
        assert copies or update != death, (
            f"s never told another member that p2 is dead, although p2 was suspected at "
            f"t={told:.3f} s and never refuted it")
        assert len(copies) <= MAX_TRANSMISSIONS, (
            f"s sent {show([update])} on {len(copies)} messages"
            f"{' to members other than p2' if update.member == 'p2' else ''}: each piece of "
            f"news is piggybacked at most MAX_TRANSMISSIONS ({MAX_TRANSMISSIONS}) times, then "
            "dropped (the paper's λ·log N)")
    late = [(t, to, msg) for t, to, msg in messages
            if t >= told + 3.0 and to != "p2" and updates_of(msg)]
    if late:
        t, to, msg = late[0]
        trial.focus(start=t - 0.5, end=t, nodes=["s"], kinds=["send"])
        raise AssertionError(
            f"at t={told:.3f} s p1 told s {len(heard)} pieces of news, and p2 died "
            f"{SUSPICION_TIMEOUT} s later; nothing has happened since. Yet at t={t:.3f} s s "
            f"still sent {to} {show(updates_of(msg))}: once sent MAX_TRANSMISSIONS times, "
            "news is dropped from the outbox (only the member it is about still hears it)")


# ===== group tests: the detector ================================================================


@graded(points=4, runs=3)
def message_load_is_constant(trial: Trial) -> None:
    """On a calm network each member sends about two messages a period, whatever the size."""
    m = protocol(trial)
    for size in (4, 12):
        sim, _ = group(trial, size, election=False)
        trial.run(sim, 4.0)
        messages = [e for e in sim.trace if e.kind == "send" and e.time >= 1.0]
        per = len(messages) / (size * 3.0 / PERIOD)
        assert per >= 1.8, (
            f"a calm group of {size} members sent {len(messages)} messages in 3 s: "
            f"{per:.2f} per member per period. Each member pings one member per period, and "
            "answers the pings it gets: about two messages per member per period")
        assert per <= 2.2, (
            f"a calm group of {size} members sent {len(messages)} messages in 3 s: "
            f"{per:.2f} per member per period. A SWIM member sends one ping per period and "
            "answers the pings it gets (about one): its load does not grow with the group")
        chatty = [e for e in messages if updates_of(e.data.get("msg")) and e.time >= 2.0]
        assert not chatty, (
            f"in a calm group of {size} members, nothing happens; yet at t={chatty[0].time:.3f} "
            f"s {chatty[0].node} sent {show(updates_of(chatty[0].data['msg']))}: "
            "dissemination stops once each piece of news was sent MAX_TRANSMISSIONS times")
        assert all(isinstance(e.data.get("msg"), (m.Ping, m.Ack)) for e in messages), (
            "a calm group sent messages other than pings and acks: "
            f"{sorted({type(e.data.get('msg')).__name__ for e in messages})}")


@graded(points=6, runs=10)
def crashes_are_detected_everywhere(trial: Trial) -> None:
    """Eight members, two crash and one restarts: completeness, accuracy, convergence."""
    sim, names = group(trial, 8, election=False)
    victims = trial.rng.sample(names, 2)
    crashes = sorted(trial.rng.uniform(1.0, 3.0) for _ in victims)
    for victim, at in zip(victims, crashes, strict=True):
        sim.at(at, sim.crash, victim)
    back = trial.rng.uniform(5.0, 6.0)
    sim.at(back, sim.restart, victims[0])
    bound = detection_bound(8)
    settled = back + bound + 0.5
    trial.run(sim, settled + 1.0)
    faults = (f"{victims[0]} crashed at t={crashes[0]:.3f} s, {victims[1]} at "
              f"t={crashes[1]:.3f} s, {victims[0]} restarted at t={back:.3f} s")
    report = check_completeness(sim.trace, within=bound, end=sim.now)
    assert report.ok, (
        f"{faults}. {report.explain()}\nWith randomized round-robin probing, every member "
        f"probes a crashed member within 2(N-1)-1 periods; suspicion then lasts "
        f"SUSPICION_TIMEOUT: {bound:.1f} s in all")
    accuracy = check_accuracy(sim.trace, tolerance=1.0)
    assert accuracy.ok, (
        f"{faults}; the network loses nothing. {accuracy.explain()}\nA member held dead "
        "hears it (every ping to it carries that news first) and refutes it at once")
    convergence = check_convergence(sim.trace, by=settled)
    assert convergence.ok, (
        f"{faults}. {convergence.explain()}\nBy t={settled:.1f} s every live member "
        f"should hold exactly the live members alive: {victims[1]} dead, {victims[0]} alive "
        "again (it refuted its death with a newer incarnation)")


@graded(points=6, runs=10)
def partitions_heal_and_views_converge(trial: Trial) -> None:
    """Partitions and an isolated member: once healed, every view holds everyone alive again."""
    sim, names = group(trial, 8, election=False)
    side = sorted(trial.rng.sample(names, 4))
    sim.at(1.0, sim.partition, side)
    sim.at(3.5, sim.heal)
    lonely = trial.rng.choice(names)
    sim.at(5.0, sim.isolate, lonely)
    sim.at(7.5, sim.heal)
    settled = 7.5 + detection_bound(8) + 0.5
    trial.run(sim, settled + 1.0)
    cuts = [(1.0, 3.5, [(a, b) for a in names for b in names if (a in side) != (b in side)]),
            (5.0, 7.5, [(a, b) for a in names for b in names
                        if a != b and lonely in (a, b)])]
    for start, end, pairs in cuts:  # each cut lasts longer than the detection bound
        blind = [(a, b) for a, b in pairs if not held_dead(sim, a, b, start, end)]
        assert not blind, (
            f"{', '.join(side)} were cut off from the others from t=1 s to 3.5 s, {lonely} "
            f"from everyone from t=5 s to 7.5 s; yet from t={start:g} s to {end:g} s "
            + ", ".join(f"{a} never held {b} dead" for a, b in blind[:4])
            + f": a member it cannot reach fails every probe, and is dead "
            f"{detection_bound(8):.1f} s later at most")
    report = check_convergence(sim.trace, by=settled)
    assert report.ok, (
        f"{', '.join(side)} were cut off from the others from t=1 s to 3.5 s, "
        f"{lonely} from everyone from t=5 s to 7.5 s; each side held the other dead. "
        f"{report.explain()}\nMembers held dead stay in the round-robin: a ping tells "
        "them they are held dead, and they refute it, so the sides find each other again")


@graded(points=6, runs=10)
def accurate_under_loss_and_slow_members(trial: Trial) -> None:
    """10% of messages lost, one member slow, one crash: the live are (almost) never held dead."""
    sim, names = group(trial, 8, election=False, network=Network(drop=0.1))
    slow = trial.rng.choice(names)
    for other in names:
        if other != slow:
            sim.network.set_link(slow, other, symmetric=True, latency=(0.01, 0.025))
    victim = trial.rng.choice(sorted(set(names) - {slow}))
    crash = 5.0 + trial.rng.uniform(0, PERIOD)
    sim.at(crash, sim.crash, victim)
    trial.run(sim, 11.0)
    story = (f"8 members, 10% of messages lost, {slow} slow (10 to 25 ms a message, so a "
             f"round trip with it may exceed PING_TIMEOUT), {victim} crashed at "
             f"t={crash:.3f} s")
    report = check_completeness(sim.trace, within=detection_bound(8), end=sim.now)
    assert report.ok, (
        f"{story}. {report.explain()}\nA lost message does not save a crashed member: "
        "every probe of it fails, and its suspicion is never refuted")
    # (judged over the first 10 s; the last second lets a death at 9.9 s be refuted)
    wrong = [f for f in false_suspicions(sim.trace, end=sim.now) if f.start < 10.0]
    story += "; in 10 s"
    long = [f for f in wrong if f.duration > 1.0 or f.ended_by == "end"]
    if long:
        f = long[0]
        trial.focus(start=f.start - 0.5, end=f.start + 0.5, nodes=[f.monitor, f.peer])
        raise AssertionError(
            f"{story} {f.monitor} held {f.peer} dead from t={f.start:.3f} s for "
            f"{f.duration:.3f} s{' (until the end)' if f.ended_by == 'end' else ''}. A live "
            "member held dead hears it (pings to it carry that news first) and refutes it "
            "with a newer incarnation, which then spreads")
    if len(wrong) > 2:
        f = wrong[0]
        trial.focus(start=f.start - 0.5, end=f.start, nodes=[f.monitor, f.peer])
        raise AssertionError(
            f"{story} live members were held dead {len(wrong)} times (at most 2 allowed): "
            + "; ".join(f"{w.monitor} held {w.peer} dead at t={w.start:.3f} s"
                        for w in wrong[:4])
            + ". Lost pings must not kill: ask k members to probe (ping-req), suspect "
            "before declaring dead, and let the suspected member refute")


# ===== probe tests: the election ================================================================


@graded(points=5, runs=3)
def answers_lower_elections(trial: Trial) -> None:
    """A member answers every Election from below, and takes the election over."""
    m = protocol(trial)
    # 1. s is the highest member: it is the coordinator, and tells lower electors so.
    sim = probe_group(trial, "s", ["a", "b"], election=True)
    trial.run(sim, 0.3)
    a: Probe = sim.node("a")  # type: ignore[assignment]
    assert a.received(m.Coordinator, "s"), (
        "s is the highest of a, b and s; 0.3 s after it started, a has no Coordinator "
        "message from it. A member holds an election when it starts; with nobody above "
        "it, it wins at once and sends Coordinator to every lower member")
    at = sim.now
    a.send("s", m.Election(0))
    trial.run(sim, at + 3 * HOP)
    assert a.received(m.Answer, "s", since=at), (
        f"at t={at:.3f} s a (lower) sent s an Election; s sent no Answer within "
        f"{3 * HOP * 1000:.0f} ms. A member answers every Election from a lower member "
        "(Garcia-Molina's OK: I am alive and take over); without it the lower member "
        "believes every higher one dead, and makes itself coordinator")
    assert a.received(m.Coordinator, "s", since=at), (
        f"at t={at:.3f} s a sent s, its coordinator, an Election (a doubts it); s answered but "
        "did not tell a that it is the coordinator (Coordinator with its epoch)")
    # 2. The student's member m is in the middle: it answers, and holds its own election.
    sim = probe_group(trial, "m", ["a", "z"], election=True, answers=True, coordinates=True)
    trial.run(sim, 0.5)
    z: Probe = sim.node("z")  # type: ignore[assignment]
    a = sim.node("a")  # type: ignore[assignment]
    before = len(z.received(m.Election, "m"))
    at = sim.now
    a.send("m", m.Election(0))
    trial.run(sim, at + 3 * HOP)
    assert a.received(m.Answer, "m", since=at), (
        f"at t={at:.3f} s a (lower) sent m an Election; m sent no Answer within "
        f"{3 * HOP * 1000:.0f} ms")
    assert len(z.received(m.Election, "m")) > before, (
        f"at t={at:.3f} s a (lower) sent m an Election; m answered it, but held no election "
        "of its own (no Election to z, above it). Having answered, a waits for a "
        "Coordinator: m must take the election over, or if z died, nobody ever wins")


@graded(points=4, runs=3)
def an_answered_election_ends(trial: Trial) -> None:
    """An elector answered, then told who won, follows the winner and holds no more elections."""
    m = protocol(trial)
    sim = probe_group(trial, "m", ["a", "z"], election=True, answers=True, coordinates=True)
    trial.run(sim, 1.5)
    elections = sent(sim, "m", m.Election)
    election = sim.node("m").election  # type: ignore[union-attr]
    assert election.leader == "z", (
        f"m held an election at start; z (above it) answered, and 20 ms later sent "
        f"Coordinator; 1.5 s later m follows {election.leader!r}, not z")
    assert len(elections) == 1, (
        f"m held an election at start; z answered, then (20 ms later) told m it is the "
        f"coordinator, and m adopted it. Yet m sent {len(elections)} Election messages, at "
        f"t={', '.join(f'{t:.3f}' for t, _, _ in elections)} s: nothing happened after the "
        "first election. An election ends when the Coordinator comes: stop every timer "
        "of the election then (the answer timer, and the coordinator timer)")


@graded(points=5, runs=3)
def bullies_a_lower_coordinator(trial: Trial) -> None:
    """A Coordinator from a lower member is not adopted: the higher member takes over."""
    m = protocol(trial)
    sim = probe_group(trial, "s", ["a", "b"], election=True)
    trial.run(sim, 0.3)
    a: Probe = sim.node("a")  # type: ignore[assignment]
    s = sim.node("s").election  # type: ignore[union-attr]

    def never_follows_a(view: Simulation) -> None:
        election = view.nodes["s"].election  # type: ignore[attr-defined]
        assert election.leader != "a", (
            f"s adopted a as its coordinator (epoch {election.epoch}), but a is lower than "
            "s: in the bully algorithm the highest live member leads. A Coordinator from "
            "a lower member means it won while you were away: hold an election (bully it)")

    sim.add_invariant(never_follows_a)
    at = sim.now
    a.send("s", m.Coordinator(100))
    trial.run(sim, at + 0.2)
    took_over = [c for c in a.received(m.Coordinator, "s", since=at) if c.epoch > 100]
    assert s.is_leader and took_over, (
        f"at t={at:.3f} s a (lower) told s it is the coordinator of epoch 100; 0.2 s later s "
        f"{'leads' if s.is_leader else 'does not lead'} (epoch {s.epoch}) and sent a "
        f"{[c.epoch for c in a.received(m.Coordinator, 's', since=at)]}. s must take over "
        "with an epoch above 100 (observe every epoch you hear of; new_epoch() then picks "
        "one above it), or a's followers keep following a")


@graded(points=5, runs=3)
def election_restarts_when_the_winner_dies(trial: Trial) -> None:
    """An elector whose answerer dies before announcing itself starts over, and wins."""
    def crash_soon(probe: Probe) -> None:
        sim.after(0.002, sim.crash, probe.id)

    sim = probe_group(trial, "a", ["b"], election=True, answers=True, on_answer=crash_soon)
    bound = ANSWER_TIMEOUT + COORDINATOR_TIMEOUT + ANSWER_TIMEOUT + 4 * HOP
    led = trial.run_until(sim, lambda s: s.node("a").election.is_leader,  # type: ignore
                          timeout=bound)
    if not led:
        trial.focus(nodes=["a", "b"])
        election = sim.node("a").election  # type: ignore[union-attr]
        raise AssertionError(
            f"a held an election at start; b (higher) answered it and crashed before "
            f"sending Coordinator. {bound:.2f} s later a is not the coordinator (leader "
            f"{election.leader}, electing {getattr(election, 'electing', '?')}). Having "
            f"got an Answer, wait COORDINATOR_TIMEOUT ({COORDINATOR_TIMEOUT} s) for the "
            "Coordinator; if none comes, the answerer died mid-election: start over")


# ===== group tests: the election ================================================================


def leaders(sim: Simulation, names: Iterable[str]) -> dict[str, tuple[str | None, int]]:
    """Each live member's (leader, epoch)."""
    return {n: (sim.node(n).election.leader, sim.node(n).election.epoch)  # type: ignore
            for n in names if sim.is_up(n)}


def agree_on(sim: Simulation, names: Iterable[str], expected: str) -> bool:
    return all(leader == expected for leader, _ in leaders(sim, names).values())


def election_messages(sim: Simulation, m: ModuleType, since: float, at_most: int) -> Report:
    """The election's checker of message counts, on the messages sent since ``since``."""
    return check_message_count(sim.trace.filter(start=since),
                               (m.Election, m.Answer, m.Coordinator), at_most=at_most)


def _one_leader_per_epoch(view: Simulation) -> None:
    seen: dict[int, tuple[str, str]] = {}
    for node_id, node in sorted(view.nodes.items()):
        election = node.election  # type: ignore[attr-defined]
        if election.leader is None:
            continue
        leader, by = seen.setdefault(election.epoch, (election.leader, node_id))
        assert leader == election.leader, (
            f"{by} follows {leader} and {node_id} follows {election.leader} as coordinator "
            f"of epoch {election.epoch}: one epoch, two coordinators. Take a fresh epoch "
            "with new_epoch() (an epoch only you own, above every epoch you have seen)")


@graded(points=7, runs=10)
def partition_heals_to_one_coordinator(trial: Trial) -> None:
    """Each side of a partition elects its coordinator; once healed, only the highest is left."""
    sim, names = group(trial, 6, election=True)
    sim.add_invariant(_one_leader_per_epoch)
    trial.run(sim, 1.0)
    wait = detection_bound(6) + 2 * ANNOUNCE_INTERVAL  # the sides see each other, then elect
    # 1. The coordinator's side and the other side: the other side elects its own.
    top = names[-1]
    side = [top, *trial.rng.sample(names[:-1], trial.rng.randint(0, 2))]
    others = sorted(set(names) - set(side))
    cut = 1.0 + trial.rng.uniform(0, PERIOD)
    sim.at(cut, sim.partition, side)
    heal = cut + detection_bound(6) + 1.0
    sim.at(heal, sim.heal)
    trial.run(sim, heal + wait)
    report = check_agreement(sim.trace)
    assert report.ok and agree_on(sim, names, top), (
        f"{', '.join(sorted(side))} were cut off from {', '.join(others)} from t={cut:.3f} s "
        f"to t={heal:.3f} s: {others[-1]} led the other side. {wait:.1f} s after "
        f"the heal the members follow {leaders(sim, names)}; they should all follow {top}. "
        f"{report.explain()}\nA coordinator announces itself every ANNOUNCE_INTERVAL; a "
        "member that hears a higher coordinator that is not its own (whatever its epoch) "
        "holds an election, which the highest wins")
    # 2. The coordinator crashes while the others are split in two: both sides elect at
    # once, after seeing the same epochs (one epoch, two coordinators, unless epochs are
    # owned: new_epoch()).
    rest = names[:-1]
    split = trial.rng.randint(1, len(rest) - 1)
    left = trial.rng.sample(rest, split)
    right = sorted(set(rest) - set(left))
    cut = sim.now
    sim.crash(top)
    sim.partition(left, right)
    trial.run(sim, cut + detection_bound(6) + 0.5)
    for part in (sorted(left), right):
        assert agree_on(sim, part, part[-1]), (
            f"{top}, the coordinator, crashed at t={cut:.3f} s while {', '.join(sorted(left))}"
            f" and {', '.join(right)} were cut off from each other: each side should follow "
            f"its highest member; at t={sim.now:.3f} s they follow {leaders(sim, rest)}")
    heal = sim.now
    sim.heal()
    trial.run(sim, heal + wait)
    assert agree_on(sim, rest, rest[-1]), (
        f"{top} crashed and the others were split into {', '.join(sorted(left))} and "
        f"{', '.join(right)}, each with its coordinator; {wait:.1f} s after the heal at "
        f"t={heal:.3f} s they follow {leaders(sim, rest)}, not all {rest[-1]}")


@graded(points=7, runs=10)
def coordinator_crash_elects_the_next(trial: Trial) -> None:
    """The coordinator crashes: the next highest leads; back, the highest bullies its way in."""
    m = protocol(trial)
    sim, names = group(trial, 6, election=True)
    sim.add_invariant(_one_leader_per_epoch)
    elect = detection_bound(6) + 0.3  # the detector's bound, then an election
    ok = trial.run_until(sim, lambda s: agree_on(s, names, "m5"), timeout=1.0)
    assert ok, (f"1 s after the start the members follow {leaders(sim, names)}: they should "
                "all follow m5, the highest")
    for crashed, successor in (("m5", "m4"), ("m4", "m3")):
        trial.run(sim, sim.now + trial.rng.uniform(0.5, 1.0))
        sim.crash(crashed)
        began = sim.now
        ok = trial.run_until(sim, lambda s: agree_on(s, names, successor),  # noqa: B023
                             timeout=elect)
        assert ok, (
            f"the coordinator {crashed} crashed at t={began:.3f} s; {elect:.1f} s later the "
            f"live members follow {leaders(sim, names)}, not {successor}, the highest live "
            "member. The election learns from the detector that its coordinator died (the "
            "detector's output: mark_suspected, seen through observe), and holds an election")
    # A follower's crash changes nothing: only the coordinator's announcements are sent.
    trial.run(sim, sim.now + 0.5)
    quiet = sim.now
    sim.crash("m0")
    trial.run(sim, quiet + detection_bound(6) + 0.5)
    budget = 3 * (2 + round((sim.now - quiet) / ANNOUNCE_INTERVAL))
    report = election_messages(sim, m, quiet, budget)
    assert report.ok, (
        f"m0, a follower, crashed at t={quiet:.3f} s; in the {sim.now - quiet:.1f} s since, "
        f"the election sent more than the coordinator m3's announcements to the members "
        f"below it every ANNOUNCE_INTERVAL ({budget}): {report.explain()}\nOnly the "
        "coordinator's death starts an election")
    # The highest member comes back, and takes over at once.
    back = sim.now
    sim.restart("m5")
    # m5 wins at once; the others may still hold it dead for a few periods (until its
    # refutation reaches them), then its next announcement settles it.
    takeover = 2 * ANNOUNCE_INTERVAL
    ok = trial.run_until(sim, lambda s: agree_on(s, names, "m5"), timeout=takeover)
    assert ok, (
        f"m5, the highest member, restarted at t={back:.3f} s; {takeover:g} s later the live "
        f"members follow {leaders(sim, names)}. A member holds an election when it starts: "
        "the highest one wins at once and tells every lower member; a coordinator that "
        "hears a higher one (whatever its epoch) holds an election, which the higher wins")


@graded(points=7, runs=10)
def elections_under_faults(trial: Trial) -> None:
    """Random crashes, partitions, loss, a slow member; then calm: the highest coordinates."""
    m = protocol(trial)
    sim, names = group(trial, 6, election=True, network=Network(drop=0.05))
    sim.add_invariant(_one_leader_per_epoch)
    slow = trial.rng.choice(names)
    for other in names:
        if other != slow:
            sim.network.set_link(slow, other, symmetric=True, latency=(0.01, 0.025))
    stop = 8.0
    nemesis = Nemesis(faults=("partition", "isolate", "crash"), interval=(0.3, 1.5),
                      duration=(0.5, 2.0), stop=stop, max_crashed=2)
    nemesis.install(sim)
    sim.at(stop, sim.network.update, drop=0.0)
    settled = stop + detection_bound(6) + 2 * ANNOUNCE_INTERVAL + 0.5
    trial.run(sim, settled)
    faults = "; ".join(f"t={t:.2f} {what} {who}" for t, what, who in nemesis.history)
    convergence = check_convergence(sim.trace, by=settled - 0.5)
    assert convergence.ok, (
        f"faults until t={stop} s ({faults}), then calm. {convergence.explain()}")
    report = check_agreement(sim.trace)
    assert report.ok and agree_on(sim, names, names[-1]), (
        f"faults until t={stop} s ({faults}), then calm; at t={sim.now:.1f} s the members "
        f"follow {leaders(sim, names)}, not all {names[-1]}. {report.explain()}")
    calm = sim.now - 0.5
    trial.run(sim, calm + 2.0)
    budget = (len(names) - 1) * (round(2.0 / ANNOUNCE_INTERVAL) + 1)
    report = election_messages(sim, m, calm, budget)
    assert report.ok, (
        f"once everyone follows {names[-1]}, the election should only send its "
        f"announcements ({len(names) - 1} Coordinator messages every ANNOUNCE_INTERVAL, "
        f"{budget} in 2 s): {report.explain()}")
    epochs = check_one_leader_per_epoch(sim.trace)
    assert epochs.ok, epochs.explain()
