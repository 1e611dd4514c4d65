"""Grader of lab 9: Chord lookups, joins and stabilization.

Two kinds of tests, the cheap ones first:

* **probes**: one node of the student's, in a ring the grader plays itself. Probe nodes
  with names the grader chose (so that their identifiers fall where a test needs them)
  answer as correct Chord nodes of a *pretend ring* would, or stay silent, or say what the
  test needs; the grader sets the student node's ``successors``, ``predecessor`` and
  ``fingers`` directly and watches what it sends and how its state changes. Each probe
  checks one rule of the paper: the interval tests, a node's answer to FindSuccessor, an
  iterative lookup, notify, stabilize, the successor list, check_predecessor,
  fix_fingers;
* **whole rings** of the student's nodes: a ring built by joins becomes correct (the
  checker :func:`dsys.naming.chord_checkers.check_chord_ring`: successors, predecessors,
  successor lists, fingers); lookups name the live successor of their target; hop counts
  stay near ½·log₂N (counted by the grader, from the FindSuccessor messages in the trace);
  under churn (joins and crashes) every lookup ends, and once churn stops the ring is
  correct again and every lookup right.

Every bound follows from the handout's constants: stabilize every 0.2 s, fix a finger
every 0.1 s, ping the predecessor every 0.2 s (each interval drawn from half to one and a
half times that), 50 ms to answer; messages take 1 to 10 ms.
"""

from __future__ import annotations

import functools
import hashlib
import math
import sys
from types import ModuleType
from typing import Any

from dsys import Node, Simulation
from dsys.labs import Trial, graded
from dsys.naming.chord_checkers import check_chord_ring, successor_of

#: The handout's constants (the grader's own copy: an implementation cannot move them).
BITS = 16
SIZE = 1 << BITS
R = 3
STABILIZE_EVERY = 0.2
FIX_FINGERS_EVERY = 0.1
CHECK_PREDECESSOR_EVERY = 0.2
RPC_TIMEOUT = 0.05

#: How long a probe waits for the student's node to act on a timer: the longest interval
#: (1.5 times the mean), twice, and a round trip.
STABILIZE_WAIT = 2 * 1.5 * STABILIZE_EVERY + 0.05
PING_WAIT = 2 * 1.5 * CHECK_PREDECESSOR_EVERY + RPC_TIMEOUT + 0.05
#: Every finger refreshed: BITS of them, one lookup (a few round trips) per run at most.
FINGERS_WAIT = BITS * 1.5 * FIX_FINGERS_EVERY * 2 + 1.0
#: A ring of the student's nodes built by joins must be correct this long after the last
#: join (the reference takes about 2 s for 12 nodes, 2 to 4 s for 32).
STABLE_WITHIN = 20.0
#: A lookup ends (with an owner, or failed) this long after it starts, whatever crashed.
LOOKUP_ENDS_WITHIN = 1.5


def chord_id(name: str) -> int:
    """The handout's identifier of a node id or key."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest(), "big") >> (256 - BITS)


def in_open(x: int, a: int, b: int) -> bool:
    return a < x < b if a < b else (x > a or x < b)


def in_half_open(x: int, a: int, b: int) -> bool:
    return a < x <= b if a < b else (x > a or x <= b)


def messages(trial: Trial) -> ModuleType:
    """The module that defines the implementation's message classes: the implementation,
    or the one its ``ChordNode`` inherits them from (a mutant built on the solution)."""
    for cls in trial.impl.ChordNode.__mro__:
        module = sys.modules.get(cls.__module__)
        if module is not None and hasattr(module, "FindSuccessor"):
            return module
    return trial.impl


def name_in(lo: int, hi: int, prefix: str, taken: set[str], *, closed: bool = False) -> str:
    """A fresh node id whose identifier lies in ``(lo, hi)`` (``(lo, hi]`` if ``closed``)."""
    inside = in_half_open if closed else in_open
    for k in range(1_000_000):
        name = f"{prefix}{k}"
        if name not in taken and inside(chord_id(name), lo, hi):
            taken.add(name)
            return name
    raise AssertionError(f"no name found in ({lo}, {hi})")  # pragma: no cover


# ----- the pretend ring and its probes -----------------------------------------------------------


class World:
    """The pretend ring: every member's identifier, who is silent (crashed, as far as the
    ring knows: the probes neither answer for it nor name it), and special replies."""

    def __init__(self, impl: ModuleType, members: list[str]) -> None:
        self.impl = impl
        self.ids = {name: chord_id(name) for name in members}
        self.silent: set[str] = set()
        #: Replies a probe gives to GetPredecessor instead of the pretend ring's truth.
        self.predecessor_replies: dict[str, Any] = {}

    @property
    def order(self) -> list[str]:
        """The live members in ring order."""
        return sorted((n for n in self.ids if n not in self.silent), key=self.ids.__getitem__)

    def successors(self, name: str, count: int = R) -> list[str]:
        order = self.order
        at = order.index(name)
        return [order[(at + k) % len(order)] for k in range(1, count + 1)]

    def successors_of(self, ident: int, count: int = R) -> list[str]:
        """The first ``count`` live members at or after identifier ``ident``."""
        order = self.order
        after = [n for n in order if self.ids[n] >= ident] + [n for n in order
                                                              if self.ids[n] < ident]
        return after[:count]

    def predecessor(self, name: str) -> str:
        order = self.order
        return order[order.index(name) - 1]

    def owner(self, target: int) -> str:
        return successor_of(target, {n: self.ids[n] for n in self.order})

    def fingers(self, name: str) -> list[str]:
        return [self.owner((self.ids[name] + 2 ** i) % SIZE) for i in range(BITS)]

    def closest_preceding(self, name: str, target: int) -> list[str]:
        known = {n for n in (*self.fingers(name), *self.successors(name))
                 if in_open(self.ids[n], self.ids[name], target)}
        return sorted(known, key=lambda n: (target - self.ids[n]) % SIZE)[:R]

    def install(self, node: Any, name: str) -> None:
        """Give the student's node ``name`` its tables in the pretend ring."""
        node.successors = self.successors(name)
        node.predecessor = self.predecessor(name)
        node.fingers = self.fingers(name)


class Probe(Node):
    """A node the grader plays: it answers as a correct member of the pretend ring with
    perfect tables (unless silent), and keeps everything it receives."""

    def __init__(self, world: World | None = None) -> None:
        super().__init__()
        self.world = world
        self.inbox: list[tuple[float, str, Any]] = []

    def on_message(self, src: str, msg: Any) -> None:
        self.inbox.append((self.now, src, msg))
        world = self.world
        if world is None or self.id in world.silent:
            return
        m = world.impl
        match msg:
            case m.FindSuccessor(qid=qid, target=target):
                succ = world.successors(self.id)
                if in_half_open(target, world.ids[self.id], world.ids[succ[0]]):
                    self.send(src, m.FindSuccessorReply(qid, True, tuple(succ)))
                else:
                    self.send(src, m.FindSuccessorReply(
                        qid, False, tuple(world.closest_preceding(self.id, target))))
            case m.GetPredecessor():
                reply = world.predecessor_replies.get(self.id)
                self.send(src, reply if reply is not None else m.PredecessorReply(
                    world.predecessor(self.id), tuple(world.successors(self.id))))
            case m.Ping():
                self.send(src, m.Pong())

    def received(self, kind: type, src: str | None = None) -> list[Any]:
        return [msg for _, s, msg in self.inbox
                if isinstance(msg, kind) and (src is None or s == src)]


def student(sim: Simulation, name: str = "x") -> Any:
    return sim.node(name)


def pretend_ring(trial: Trial, size: int, *, x_above: int = 0) -> tuple[World, str, list[str]]:
    """A pretend ring of ``size`` probes and the student's node (its id: the first name
    ``x0``, ``x1``... with an identifier above ``x_above``)."""
    taken: set[str] = set()
    x = name_in(x_above, 0, "x", taken) if x_above else name_in(0, 0, "x", taken)
    probes = [name_in(0, 0, f"p{trial.seed}-", taken) for _ in range(size)]
    return World(messages(trial), [x, *probes]), x, probes


def start_in(trial: Trial, world: World, x: str, probes: list[str]) -> Simulation:
    """A simulation of the student's node ``x`` (it creates a ring) and the probes; the
    student's node is given its tables in the pretend ring once it has started."""
    sim = trial.simulation()
    sim.add_node(x, lambda: trial.impl.ChordNode(None))
    for name in probes:
        sim.add_node(name, lambda: Probe(world))
    trial.run(sim, 0.001)
    world.install(student(sim, x), x)
    return sim


def sends(sim: Simulation, src: str, kind: type, since: float = 0.0) -> list[tuple[str, Any]]:
    """(destination, message) of every ``kind`` that ``src`` sent from ``since`` on."""
    return [(data["to"], data["msg"]) for time, node, event, data in sim.trace.raw()
            if event == "send" and node == src and time >= since
            and isinstance(data["msg"], kind)]


def _asked(sim: Simulation, *, x: str, s: str, kind: type, began: float) -> bool:
    """Has ``x`` sent ``s`` a message of ``kind`` since ``began``?"""
    return any(to == s for to, _ in sends(sim, x, kind, began))


# ----- probes -------------------------------------------------------------------------------------


WHOLE_CIRCLE = "(a, a) is the whole circle but a; (a, a] is the whole circle. "


@graded(points=5, runs=1)
def intervals_on_the_circle(trial: Trial) -> None:
    """in_open and in_half_open are right on the circle: wrapping past 0, and a == b."""
    # The arcs of a ring of seven (the student's node among them, started), wrapping arc
    # included: each arc's ends, their neighbours; an arc of one point; the circle's ends.
    world, x, probes = pretend_ring(trial, 6)
    start_in(trial, world, x, probes)  # (so that a failure shows, and saves, a trace)
    order = [world.ids[n] for n in world.order]
    cases = []
    for a, b in zip(order, order[1:] + order[:1], strict=True):
        cases += [((a + d) % SIZE, a, b) for d in (0, 1)]
        cases += [((b + d) % SIZE, a, b) for d in (-1, 0, 1)]
        cases += [(b, a, a), (a, a, a)]
    cases += [(SIZE - 1, SIZE - 1, 0), (0, SIZE - 1, 0), (0, 0, SIZE - 1), (SIZE - 1, 0, 0)]
    for function, truth, shape in ((trial.impl.in_open, in_open, "({a}, {b})"),
                                   (trial.impl.in_half_open, in_half_open, "({a}, {b}]")):
        for v, a, b in cases:
            got, right = bool(function(v, a, b)), truth(v, a, b)
            if got != right:
                trial.focus(nodes=[x])
                raise AssertionError(
                    f"{function.__name__}({v}, {a}, {b}) returned {got}: {v} is "
                    f"{'' if right else 'not '}in {shape.format(a=a, b=b)} going clockwise "
                    f"on the circle of {SIZE}. {WHOLE_CIRCLE if a == b else ''}An interval "
                    "whose end is below its start wraps past 0.")


@graded(points=10, runs=3)
def find_successor_answers(trial: Trial) -> None:
    """A node answers FindSuccessor: done with its successor, or its closest preceding nodes."""
    world, x, probes = pretend_ring(trial, 12)
    m = world.impl
    sim = start_in(trial, world, x, probes)
    ident, succ = world.ids[x], world.successors(x)[0]
    asker: Probe = sim.node(probes[0])  # type: ignore[assignment]
    # The edges first: the successor's identifier itself, the node's own, its neighbours.
    targets = [world.ids[succ], (ident + 1) % SIZE, ident, (ident - 1) % SIZE]
    targets += [trial.rng.randrange(SIZE) for _ in range(12)]
    for qid, target in enumerate(targets, start=1):
        asker.send(x, m.FindSuccessor(qid, target))
    trial.run(sim, sim.now + 0.05)
    replies = {msg.qid: msg for msg in asker.received(m.FindSuccessorReply, x)}
    for qid, target in enumerate(targets, start=1):
        reply = replies.get(qid)
        assert reply is not None, (
            f"{x} (identifier {ident}, successor {succ} at {world.ids[succ]}) did not answer "
            f"FindSuccessor(qid={qid}, target={target}) within 50 ms")
        if in_half_open(target, ident, world.ids[succ]):
            assert reply.done and reply.nodes and reply.nodes[0] == succ, (
                f"{x} (identifier {ident}) has successor {succ} ({world.ids[succ]}); asked for "
                f"the successor of {target}, which lies in ({ident}, {world.ids[succ]}], it "
                f"answered {reply!r}: it should answer done, with its successor list, its "
                "successor first (Figure 5: 'if id in (n, successor]: return successor')")
        else:
            best = world.closest_preceding(x, target)
            assert not reply.done and reply.nodes and reply.nodes[0] == best[0], (
                f"{x} (identifier {ident}) has successor {succ} ({world.ids[succ]}); asked for "
                f"the successor of {target}, outside ({ident}, {world.ids[succ]}], it "
                f"answered {reply!r}. The closest node before {target} it knows (fingers and "
                f"successor list) is {best[0]} ({world.ids[best[0]]}): answer done=False "
                "with it first (closest_preceding_node: the finger table searched from the "
                "farthest finger down)")
            stray = [n for n in reply.nodes if not in_open(world.ids.get(n, -1), ident, target)]
            assert not stray, (
                f"asked for the successor of {target}, {x} (identifier {ident}) named {stray}: "
                f"every node named must lie in ({ident}, {target}), or lookups stop closing in")


@graded(points=10, runs=3)
def lookups_walk_to_the_successor(trial: Trial) -> None:
    """An iterative lookup asks the closest preceding node, follows each answer, returns the
    successor; a silent node is given up on and forgotten, and the lookup still ends."""
    world, x, probes = pretend_ring(trial, 40)
    m = world.impl
    sim = start_in(trial, world, x, probes)
    node = student(sim, x)
    ident = world.ids[x]
    # A target far from x: its lookup takes a few hops through the probes.
    target = (ident + SIZE // 2 + trial.rng.randrange(SIZE // 4)) % SIZE
    expected_path = []
    asking = world.closest_preceding(x, target)[0]
    while True:
        expected_path.append(asking)
        succ = world.successors(asking)[0]
        if in_half_open(target, world.ids[asking], world.ids[succ]):
            break
        asking = world.closest_preceding(asking, target)[0]
    answers: list[str | None] = []
    began = sim.now
    node.lookup(target, answers.append)
    trial.run(sim, sim.now + 0.5)
    asked = [to for to, msg in sends(sim, x, m.FindSuccessor, began) if msg.target == target]
    owner = world.owner(target)
    assert asked == expected_path, (
        f"{x} (identifier {ident}) looked up {target}: it asked {asked}, but an iterative "
        f"lookup asks {expected_path}: first the closest node before the target among its "
        "own fingers and successors, then, each time, the first node the last answer named")
    assert answers == [owner], (
        f"{x} looked up {target}: the last node asked, {expected_path[-1]}, answered done "
        f"with its successor list, whose first node {owner} ({world.ids[owner]}) holds the "
        f"target; the lookup gave {answers}: it should give the successor, not the node "
        "that answered")
    # Now the first node of that path is silent (crashed): the lookup must still end.
    first = expected_path[0]
    sim.crash(first)
    world.silent.add(first)
    answers.clear()
    node.lookup(target, answers.append)
    trial.run_until(sim, lambda _: bool(answers), timeout=LOOKUP_ENDS_WITHIN)
    assert len(answers) == 1 and answers[0] in (owner, None), (
        f"{x} looked up {target} through {first}, which does not answer any more; "
        f"{LOOKUP_ENDS_WITHIN} s later the lookup gave {answers}. Wait for an answer "
        f"RPC_TIMEOUT ({RPC_TIMEOUT} s) at most, then ask the next candidate or give up "
        "(done(None)): a lookup must always end")
    known = [*node.successors, *node.fingers]
    assert first not in known, (
        f"{first} did not answer {x}'s FindSuccessor; {x} still has it in its tables "
        f"(successors {node.successors}, fingers {node.fingers}): forget a node that does not "
        "answer, or every lookup that way waits for it again")


@graded(points=5, runs=2)
def notify_keeps_the_closest_predecessor(trial: Trial) -> None:
    """notify: a node takes a new predecessor only if it lies between the old one and itself."""
    taken: set[str] = set()
    x = name_in(0, 0, "x", taken)
    ident = chord_id(x)
    # a, then c (farther from x than a: refused), then b (between a and x: taken).
    a = name_in((ident + SIZE // 2) % SIZE, (ident - SIZE // 8) % SIZE, f"a{trial.seed}-", taken)
    c = name_in((ident + SIZE // 8) % SIZE, chord_id(a), f"c{trial.seed}-", taken)
    b = name_in(chord_id(a), ident, f"b{trial.seed}-", taken)
    world = World(messages(trial), [x, a, b, c])
    m = world.impl
    sim = trial.simulation()
    sim.add_node(x, lambda: trial.impl.ChordNode(None))
    for name in (a, b, c):
        sim.add_node(name, lambda: Probe(world))
    trial.run(sim, 0.001)
    node = student(sim, x)
    for sender, expected, why in (
            (a, a, "it had no predecessor: it takes any"),
            (c, a, f"{c} ({chord_id(c)}) is not in ({chord_id(a)}, {ident}): {a} is closer"),
            (b, b, f"{b} ({chord_id(b)}) is in ({chord_id(a)}, {ident}): closer than {a}")):
        sim.node(sender).send(x, m.Notify())  # type: ignore[union-attr]
        trial.run(sim, sim.now + 0.02)
        assert node.predecessor == expected, (
            f"{x} (identifier {ident}) got Notify from {sender} ({chord_id(sender)}); its "
            f"predecessor is now {node.predecessor}, it should be {expected}: {why} "
            "(Figure 6: 'if predecessor is nil or n' in (predecessor, n)')")


@graded(points=10, runs=3)
def stabilize_adopts_a_closer_successor(trial: Trial) -> None:
    """stabilize asks the successor for its predecessor, adopts it if closer, then notifies."""
    for closer in (True, False):
        world, x, probes = pretend_ring(trial, 8)
        m = world.impl
        sim = start_in(trial, world, x, probes)
        node = student(sim, x)
        ident = world.ids[x]
        s = world.successors(x)[1]  # x believes its successor is s: it has missed y
        y = world.successors(x)[0]
        node.successors = [s]
        if closer:  # s's predecessor is y, which lies between x and s
            world.predecessor_replies[s] = m.PredecessorReply(y, tuple(world.successors(s)))
            right, say = y, f"{y} ({world.ids[y]}) lies in ({ident}, {world.ids[s]}): adopt it"
        else:  # s names a predecessor behind x
            z = world.predecessor(x)
            world.predecessor_replies[s] = m.PredecessorReply(z, tuple(world.successors(s)))
            right, say = s, (f"{z} ({world.ids[z]}) is not in ({ident}, {world.ids[s]}): keep "
                             f"{s}")
        began = sim.now

        asked = functools.partial(_asked, x=x, s=s, kind=m.GetPredecessor, began=began)
        assert trial.run_until(sim, asked, timeout=STABILIZE_WAIT), (
            f"{x}'s successor is {s}, but in {STABILIZE_WAIT:g} s it never asked it for its "
            f"predecessor (GetPredecessor): does stabilize run every {STABILIZE_EVERY} s?")
        trial.run(sim, sim.now + 0.05)
        assert node.successors and node.successors[0] == right, (
            f"{x} (identifier {ident}) asked its successor {s} ({world.ids[s]}) for its "
            f"predecessor and got {world.predecessor_replies[s]!r}; its successor is now "
            f"{node.successors[:1]}, it should be {right}: {say} (Figure 6: 'if x in (n, "
            "successor): successor = x')")
        notified = [to for to, _ in sends(sim, x, m.Notify, began)]
        assert right in notified, (
            f"{x} stabilized with successor {right} but sent it no Notify (it notified "
            f"{notified}): 'successor.notify(n)' ends every stabilize")


@graded(points=10, runs=3)
def successor_list_survives_a_failure(trial: Trial) -> None:
    """The successor list: copied from the successor at each stabilize, used when it dies."""
    world, x, probes = pretend_ring(trial, 10)
    m = world.impl
    sim = start_in(trial, world, x, probes)
    node = student(sim, x)
    s1, s2 = world.successors(x)[:2]
    node.successors = [s1]
    trial.run(sim, sim.now + STABILIZE_WAIT)
    expected = [s1, *world.successors(s1)[:R - 1]]
    assert node.successors == expected, (
        f"{x}'s successor is {s1}, whose successor list is {world.successors(s1)}; after a "
        f"stabilize, {x}'s list is {node.successors}, it should be {expected}: copy the "
        f"successor's list, drop its last entry, put the successor first (R = {R})")
    sim.crash(s1)
    world.silent.add(s1)
    crashed = sim.now

    def moved_on(_: Simulation) -> bool:
        return bool(node.successors) and node.successors[0] == s2 and any(
            to == s2 for to, _ in sends(sim, x, m.GetPredecessor, crashed))

    assert trial.run_until(sim, moved_on, timeout=STABILIZE_WAIT + RPC_TIMEOUT), (
        f"{x}'s successor {s1} crashed at t={crashed:.3f} s; {STABILIZE_WAIT + RPC_TIMEOUT:g} "
        f"s later {x}'s successors are {node.successors} and it has not asked {s2} for its "
        f"predecessor: a successor that does not answer within {RPC_TIMEOUT} s is dropped, "
        "and the next one of the list takes its place (and is asked at once, or at the next "
        "stabilize)")
    trial.run(sim, sim.now + 0.05)
    assert node.successors == world.successors(x), (
        f"after {s1} crashed, {x} stabilized with {s2}; its list is {node.successors}, it "
        f"should be {world.successors(x)}")


@graded(points=5, runs=3)
def a_joiner_survives_its_successor(trial: Trial) -> None:
    """A node that joins keeps the successor list of the answer: if its new successor
    crashes at once, the next one takes its place."""
    world, x, probes = pretend_ring(trial, 10)
    m = world.impl
    world.silent.add(x)  # not in the ring yet: the probes answer as if it were not there
    sim = trial.simulation()
    through = trial.rng.choice(probes)
    sim.add_node(x, functools.partial(trial.impl.ChordNode, through))
    for name in probes:
        sim.add_node(name, functools.partial(Probe, world))
    s1, s2 = world.successors_of(world.ids[x])[:2]
    trial.run(sim, 0.001)
    node = student(sim, x)
    joined = trial.run_until(sim, lambda _: bool(node.joined), timeout=1.0)
    assert joined and node.successors and node.successors[0] == s1, (
        f"{x} (identifier {world.ids[x]}) joined through {through}; within 1 s it should be "
        f"in the ring with successor {s1} ({world.ids[s1]}), but joined={node.joined}, "
        f"successors={node.successors}")
    # Its new successor crashes before x has run a single stabilize.
    sim.crash(s1)
    world.silent.add(s1)
    world.silent.discard(x)
    crashed = sim.now

    def moved_on(_: Simulation) -> bool:
        return bool(node.successors) and node.successors[0] == s2 and any(
            to == s2 for to, _ in sends(sim, x, m.GetPredecessor, crashed))

    assert trial.run_until(sim, moved_on, timeout=STABILIZE_WAIT + RPC_TIMEOUT), (
        f"{x} joined with successor {s1}, which crashed at once (t={crashed:.3f} s); "
        f"{STABILIZE_WAIT + RPC_TIMEOUT:g} s later {x}'s successors are {node.successors} and "
        f"it has not asked {s2} for its predecessor. The answer to a join is a successor "
        f"*list* ({s1}'s predecessor answered done with its own list): keep all of it, so "
        "that a newcomer survives its successor's failure before its first stabilize")


@graded(points=5, runs=2)
def dead_predecessor_is_cleared(trial: Trial) -> None:
    """check_predecessor: a predecessor that stops answering is cleared, so another can notify."""
    world, x, probes = pretend_ring(trial, 8)
    m = world.impl
    sim = start_in(trial, world, x, probes)
    node = student(sim, x)
    pred = world.predecessor(x)
    sim.crash(pred)
    world.silent.add(pred)
    crashed = sim.now
    trial.run_until(sim, lambda _: node.predecessor != pred, timeout=PING_WAIT)
    assert node.predecessor != pred, (
        f"{x}'s predecessor {pred} crashed at t={crashed:.3f} s; {PING_WAIT:g} s later {x} "
        f"still holds it: check_predecessor pings the predecessor every "
        f"{CHECK_PREDECESSOR_EVERY} s and clears it when no Pong comes within {RPC_TIMEOUT} s")
    # Now any node may notify x: say, the one behind the dead predecessor.
    behind = world.predecessor(x)
    sim.node(behind).send(x, m.Notify())  # type: ignore[union-attr]
    trial.run(sim, sim.now + 0.02)
    assert node.predecessor == behind, (
        f"{x}'s predecessor was cleared; then {behind} notified it, and its predecessor is "
        f"{node.predecessor}: with no predecessor, a node takes the one that notifies it")


@graded(points=10, runs=3)
def fingers_point_at_the_successors_of_their_starts(trial: Trial) -> None:
    """fix_fingers: finger i becomes the successor of (n + 2**i) mod 2**BITS, for every i."""
    # x high on the circle, so that its far fingers' starts wrap past 0.
    world, x, probes = pretend_ring(trial, 24, x_above=SIZE - SIZE // 8)
    sim = start_in(trial, world, x, probes)
    node = student(sim, x)
    node.fingers = [None] * BITS
    right = world.fingers(x)
    trial.run_until(sim, lambda _: list(node.fingers) == right, timeout=FINGERS_WAIT)
    ident = world.ids[x]
    wrong = [(i, node.fingers[i], right[i]) for i in range(BITS) if node.fingers[i] != right[i]]
    assert not wrong, "\n".join(
        [f"{x} (identifier {ident}) ran fix_fingers for {FINGERS_WAIT:g} s; these fingers "
         "are wrong (finger i is the successor of (n + 2**i) mod 2**BITS, i from 0):"]
        + [f"  finger {i} (start {(ident + 2 ** i) % SIZE}): {got}, should be {want} "
           f"({world.ids[want]})" for i, got, want in wrong[:6]])


# ----- whole rings of the student's nodes ----------------------------------------------------


def build(trial: Trial, n: int, *, every: float = 0.1) -> Simulation:
    """``n`` of the student's nodes: the first creates the ring, node i joins at
    ``i * every`` through a random earlier one."""
    sim = trial.simulation()
    names = [f"n{i:02d}" for i in range(n)]
    for i, name in enumerate(names):
        join = None if i == 0 else trial.rng.choice(names[:i])
        sim.add_node(name, functools.partial(trial.impl.ChordNode, join), start=i * every)
    return sim


def ring_check(sim: Simulation) -> Any:
    return check_chord_ring(sim.nodes, view=lambda node: node, successor_lists=R,
                            fingers=True, bits=BITS, time=sim.now)


def members(sim: Simulation) -> dict[str, int]:
    return {name: node.ident for name, node in sorted(sim.nodes.items())  # type: ignore
            if getattr(node, "joined", False)}


def wait_for_ring(trial: Trial, sim: Simulation, size: int, within: float, what: str) -> None:
    deadline = sim.now + within
    while not (len(members(sim)) == size and ring_check(sim)):
        if sim.now >= deadline:
            report = ring_check(sim)
            trial.focus(start=sim.now - 1.0)
            raise AssertionError(
                f"{what}: at t={sim.now:.1f} s, {within:g} s later, the ring of "
                f"{len(members(sim))} joined nodes (of {size}) is still not right:\n"
                f"{report.explain(limit=6)}")
        trial.run(sim, min(deadline, sim.now + 0.5))


class Asked:
    """One lookup the grader started: when, of what, at which node; its answers (one,
    when it ended) and when it ended."""

    def __init__(self, began: float, target: int, asker: str) -> None:
        self.began = began
        self.target = target
        self.asker = asker
        self.answers: list[str | None] = []
        self.ended: float | None = None


def ask(trial: Trial, sim: Simulation, targets: list[int], *, spacing: float = 0.01
        ) -> list[Asked]:
    """Start a lookup of each target from a random member, ``spacing`` seconds apart; the
    records fill in as the answers come."""
    started: list[Asked] = []
    names = sorted(members(sim))

    def one(target: int) -> None:
        live = members(sim)
        asked = Asked(sim.now, target, trial.rng.choice([n for n in names if n in live]))
        started.append(asked)

        def done(owner: str | None) -> None:
            asked.answers.append(owner)
            asked.ended = sim.now

        sim.node(asked.asker).lookup(target, done)  # type: ignore[union-attr]

    for i, target in enumerate(targets):
        sim.at(sim.now + i * spacing, one, target)
    return started


def judge(lookups: list[Asked], ring: dict[str, int], what: str) -> None:
    for asked in lookups:
        right = successor_of(asked.target, ring)
        where = f"{asked.asker}'s lookup of {asked.target} (t={asked.began:.3f} s)"
        assert asked.answers, f"{what}: {where} never ended"
        assert asked.answers == [right], (
            f"{what}: {where} gave {asked.answers}; the successor of {asked.target} is "
            f"{right} ({ring[right]}) in the ring {sorted(ring.items(), key=lambda kv: kv[1])}")


def random_targets(trial: Trial, count: int, ring: dict[str, int]) -> list[int]:
    """``count`` distinct random identifiers, none a finger start of a member (so that no
    fix_fingers lookup looks for the same identifier)."""
    starts = {(ident + 2 ** i) % SIZE for ident in ring.values() for i in range(BITS)}
    targets: list[int] = []
    while len(targets) < count:
        target = trial.rng.randrange(SIZE)
        if target not in starts and target not in targets:
            targets.append(target)
    return targets


def hops_of(sim: Simulation, kind: Any, lookups: list[Asked]) -> list[int]:
    """For each lookup that ended, the FindSuccessor messages about its target that its
    asker sent while it ran: the nodes an iterative lookup asked."""
    sent: dict[tuple[str, int], list[float]] = {}
    for time, node, event, data in sim.trace.raw():
        msg: Any = data.get("msg")
        if event == "send" and isinstance(msg, kind):
            sent.setdefault((node, msg.target), []).append(time)
    return [sum(1 for t in sent.get((a.asker, a.target), ()) if a.began <= t <= a.ended)
            for a in lookups if a.ended is not None]


@graded(points=5, runs=8)
def a_ring_forms_by_joins(trial: Trial) -> None:
    """Twelve nodes join one by one; stabilization makes the ring right: successors,
    predecessors, successor lists, fingers."""
    sim = build(trial, 12)
    trial.run(sim, 12 * 0.1)
    wait_for_ring(trial, sim, 12, STABLE_WITHIN, "twelve nodes joined, 0.1 s apart")


@graded(points=5, runs=8)
def lookups_name_the_successor(trial: Trial) -> None:
    """On a stable ring, every lookup names the successor of its target, edges included."""
    sim = build(trial, 12)
    trial.run(sim, 12 * 0.1)
    wait_for_ring(trial, sim, 12, STABLE_WITHIN, "twelve nodes joined, 0.1 s apart")
    ring = members(sim)
    targets = [(i + d) % SIZE for i in ring.values() for d in (-1, 0, 1)]
    targets += [trial.rng.randrange(SIZE) for _ in range(30)]
    lookups = ask(trial, sim, targets)
    trial.run(sim, sim.now + len(targets) * 0.01 + 0.5)
    judge(lookups, ring, "a stable ring of twelve")


@graded(points=10, runs=4)
def hops_grow_logarithmically(trial: Trial) -> None:
    """In a stable ring of 32, lookups take about ½·log₂N hops on average, and O(log N) at most."""
    n = 32
    m = messages(trial)
    sim = build(trial, n, every=0.05)
    trial.run(sim, n * 0.05)
    wait_for_ring(trial, sim, n, STABLE_WITHIN, f"{n} nodes joined, 50 ms apart")
    ring = members(sim)
    lookups = ask(trial, sim, random_targets(trial, 120, ring), spacing=0.02)
    trial.run(sim, sim.now + 120 * 0.02 + 0.5)
    judge(lookups, ring, f"a stable ring of {n}")
    hops = hops_of(sim, m.FindSuccessor, lookups)
    mean, anchor = sum(hops) / len(hops), 0.5 * math.log2(n)
    most = int(math.log2(n)) + 2
    assert mean <= anchor + 1.0 and max(hops) <= most, (
        f"{len(hops)} lookups in a stable ring of {n} sent {mean:.2f} FindSuccessor "
        f"messages on average (at most {max(hops)}); Chord takes about ½·log₂N = "
        f"{anchor:.2f} hops on average, and the grader allows {anchor + 1:.2f} on average, "
        f"{most} at most. Are the fingers fixed (fix_fingers)? Does a node answer with its "
        "closest preceding *finger*, not just its successor?")


@graded(points=10, runs=4)
def churn_then_a_correct_ring(trial: Trial) -> None:
    """Nodes join and crash for 8 s while lookups go on: every lookup ends; then the ring
    is right again within 20 s, and every lookup names the successor."""
    sim = build(trial, 16)
    trial.run(sim, 16 * 0.1)
    wait_for_ring(trial, sim, 16, STABLE_WITHIN, "sixteen nodes joined, 0.1 s apart")
    start = sim.now
    duration = 8.0
    fresh = iter(f"m{i:02d}" for i in range(100))
    crashed: list[str] = []

    def change() -> None:
        live = sorted(members(sim))
        if trial.rng.random() < 0.5 or len(live) <= 10:
            through = trial.rng.choice(live)
            sim.add_node(next(fresh), functools.partial(trial.impl.ChordNode, through))
        else:
            victim = trial.rng.choice(live)
            crashed.append(victim)
            sim.crash(victim)

    t = start
    while True:
        t += trial.rng.expovariate(2.0)  # two changes a second
        if t >= start + duration:
            break
        sim.at(t, change)
    lookups = ask(trial, sim, [trial.rng.randrange(SIZE) for _ in range(80)], spacing=0.1)
    trial.run(sim, start + duration + LOOKUP_ENDS_WITHIN)
    hanging = [a for a in lookups if not a.answers and sim.is_up(a.asker)]
    assert not hanging, (
        f"during churn (nodes joining and crashing), {len(hanging)} lookups never ended, "
        f"the first by {hanging[0].asker} of {hanging[0].target} at "
        f"t={hanging[0].began:.3f} s: a "
        f"lookup that asked a crashed node must give up on it after {RPC_TIMEOUT} s (ask "
        "another, or call done(None))")
    size = len(members(sim))
    wait_for_ring(trial, sim, size, STABLE_WITHIN,
                  f"churn stopped at t={start + duration:.1f} s ({len(crashed)} crashes)")
    ring = members(sim)
    after = ask(trial, sim, [trial.rng.randrange(SIZE) for _ in range(30)])
    trial.run(sim, sim.now + 30 * 0.01 + 0.5)
    judge(after, ring, "after churn, the ring stable again")
