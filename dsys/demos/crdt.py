"""CRDTs, drawn: four replicas keep updating a counter and a set through a partition,
then heal and agree, with no update lost.

Four replicas (``a`` to ``d``) hold a PN-Counter ``likes`` and an OR-Set ``guests`` in a
:class:`~dsys.replication.crdt.CrdtReplication` (gossip every 50 ms to one random peer);
the network loses 10% of messages. Then:

* before t = 0.5 s, all connected: ``a`` invites ann, ``b`` and ``c`` like;
* at t = 0.5 s the network splits into ``{a, b}`` and ``{c, d}``; both sides keep working,
  without waiting for the other: ``a`` likes twice, ``b`` invites bob and *invites ann
  again*; on the other side ``c`` *removes ann* (the ann it saw before the split), ``d``
  invites dan and takes a like back;
* at t = 1.5 s the partition heals; gossip carries the states across, merge combines
  them.

:func:`present` draws every replica's values at a few moments: all equal, then two
sides that disagree, then all equal again, with every like counted once and ann still
invited: ``c``'s remove and ``b``'s re-invite were concurrent, and in an OR-Set **the add
wins**. Then the convergence checker's verdict and how long the replicas took to agree.

The module also holds the harness that tests and the docs use: :class:`Replica` (a node
with a ``crdts`` component and an optional random :class:`Workload`) and :func:`cluster`.

Example:
    >>> sim = scenario(seed=1)
    >>> sim.run(until=UNTIL)
    >>> for name in sim.node_ids:
    ...     print(name, sim.node(name).crdts.counter("likes").value,
    ...           sim.node(name).crdts.orset("guests").value)
    a 3 ('ann', 'bob', 'dan')
    b 3 ('ann', 'bob', 'dan')
    c 3 ('ann', 'bob', 'dan')
    d 3 ('ann', 'bob', 'dan')
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from rich.console import Console
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from dsys import Nemesis, Network, Node, Simulation
from dsys.replication.crdt import CrdtReplication, check_crdt_convergence, crdt_states

SUMMARY = "four replicas update a counter and a set through a partition, then converge"
KINDS = ["log", "partition", "heal"]
UNTIL = 3.0

GOSSIP = 0.05
SPLIT, HEAL = 0.5, 1.5
#: When :func:`present` draws every replica's values.
MOMENTS = (0.45, 1.45, 3.0)


@attrs.frozen
class Workload:
    """Random updates: each replica makes one every ``uniform(*gap)`` seconds until its
    clock reads ``until``, on the objects a PN-Counter ``likes``, a G-Counter ``views``,
    an LWW register ``title``, an MV register ``cart`` and an OR-Set ``guests`` (elements
    drawn from ``elements``, so that removes find something)."""

    until: float
    gap: tuple[float, float] = (0.02, 0.1)
    elements: tuple[str, ...] = ("ann", "bob", "cid", "dan", "eve")


class Replica(Node):
    """A replica: a :class:`~dsys.replication.crdt.CrdtReplication` named ``"crdts"``
    (or a subclass given as ``replication``: the tests break it on purpose), and, if
    given, a random :class:`Workload`."""

    def __init__(self, *, gossip: float = GOSSIP, fanout: int = 1,
                 workload: Workload | None = None,
                 replication: type[CrdtReplication] = CrdtReplication) -> None:
        super().__init__()
        self.crdts = self.add_component(replication(interval=gossip, fanout=fanout))
        self.workload = workload

    def on_start(self) -> None:
        if self.workload is not None:
            self.set_timer("update", self.rng.uniform(*self.workload.gap))

    def on_timer(self, name: str) -> None:
        work = self.workload
        if name != "update" or work is None or self.now >= work.until:
            return
        self.set_timer("update", self.rng.uniform(*work.gap))
        crdts, rng = self.crdts, self.rng
        match rng.randrange(6):
            case 0:
                crdts.counter("likes").increment(rng.randint(1, 3))
            case 1:
                crdts.counter("likes").decrement()
            case 2:
                crdts.gcounter("views").increment()
            case 3:
                crdts.register("title").assign(f"{self.id}-{rng.randrange(100)}")
            case 4:
                crdts.mvregister("cart").assign(rng.choice(work.elements))
            case _:
                guests = crdts.orset("guests")
                who = rng.choice(work.elements)
                if who in guests and rng.random() < 0.6:
                    guests.remove(who)
                else:
                    guests.add(who)


def cluster(seed: int, *, replicas: int = 4, network: Network | None = None,
            workload: Workload | None = None, nemesis: Nemesis | None = None,
            gossip: float = GOSSIP, sim: Simulation | None = None) -> Simulation:
    """A simulation of ``replicas`` :class:`Replica` nodes ``r0``, ``r1``... (or ``a``,
    ``b``... when there are at most 26), with a ``workload`` and a ``nemesis`` if given.

    Example:
        >>> sim = cluster(3, workload=Workload(until=1.0))
        >>> sim.run(until=2.0)
        >>> print(check_crdt_convergence(crdt_states(sim.nodes), sim.trace).explain())
        crdt-convergence: ok (20 replica objects checked)
    """
    if sim is None:
        sim = Simulation(seed=seed, network=network or Network(latency=(0.001, 0.010)))
    names = ([chr(ord("a") + i) for i in range(replicas)] if replicas <= 26
             else [f"r{i:03d}" for i in range(replicas)])
    for name in names:
        sim.add_node(name, lambda: Replica(gossip=gossip, workload=workload))
    if nemesis is not None:
        nemesis.install(sim)
    return sim


# ----- the demo ----------------------------------------------------------------------------


class CrdtDemo(Simulation):
    """The demo's simulation, with what it recorded: ``views[t][replica]`` is
    ``(likes, guests)`` at each of :data:`MOMENTS`; ``agreed`` the first instant after the
    heal at which every replica held the same states (None if never)."""

    views: dict[float, dict[str, tuple[int, tuple[str | int, ...]]]]
    agreed: float | None


#: The scripted updates: (time, replica, what).
STORY: tuple[tuple[float, str, str], ...] = (
    (0.10, "a", "invite ann"),
    (0.20, "b", "like"),
    (0.30, "c", "like"),
    (0.70, "a", "like"),
    (0.80, "b", "invite bob"),
    (0.90, "c", "remove ann"),
    (1.00, "b", "invite ann"),
    (1.10, "d", "invite dan"),
    (1.20, "a", "like"),
    (1.30, "d", "unlike"),
)


def _act(sim: Simulation, replica: str, what: str) -> None:
    node = sim.node(replica)
    assert isinstance(node, Replica)
    verb, _, who = what.partition(" ")
    likes, guests = node.crdts.counter("likes"), node.crdts.orset("guests")
    if verb == "like":
        likes.increment()
    elif verb == "unlike":
        likes.decrement()
    elif verb == "invite":
        guests.add(who)
    else:
        guests.remove(who)
    node.log(f"{what}: likes {likes.value}, guests {', '.join(map(str, guests.value)) or '-'}")


def _record(sim: CrdtDemo, at: float) -> None:
    row = {}
    for replica, node in sorted(sim.nodes.items()):
        assert isinstance(node, Replica)
        row[replica] = (node.crdts.counter("likes").value, node.crdts.orset("guests").value)
    sim.views[at] = row


def _watch(sim: CrdtDemo) -> None:
    if sim.agreed is None and check_crdt_convergence(crdt_states(sim.nodes)):
        sim.agreed = sim.now
    elif sim.agreed is None:
        sim.after(0.01, _watch, sim)


def scenario(seed: int = 1, until: float = UNTIL) -> CrdtDemo:
    """The demo's simulation, ready to run."""
    sim = CrdtDemo(seed=seed, network=Network(latency=(0.001, 0.010), drop=0.1))
    sim.views, sim.agreed = {}, None
    cluster(seed, sim=sim)
    for at, replica, what in STORY:
        sim.at(at, _act, sim, replica, what)
    sim.at(SPLIT, sim.partition, ["a", "b"], ["c", "d"])
    sim.at(HEAL, sim.heal)
    sim.at(HEAL, _watch, sim)
    for moment in MOMENTS:
        if moment <= until:
            sim.at(moment - 1e-9, _record, sim, moment)
    return sim


def view_table(views: dict[str, tuple[int, tuple[str | int, ...]]],
               sides: Sequence[Sequence[str]] = ()) -> Table:
    """One row per replica: its likes and its guests."""
    table = Table(show_header=True, box=None, padding=(0, 2, 0, 0))
    table.add_column("replica", style="bold")
    table.add_column("likes", justify="right")
    table.add_column("guests")
    colours = ("cyan", "magenta")
    for replica, (likes, guests) in sorted(views.items()):
        style = next((colours[i] for i, side in enumerate(sides) if replica in side), "")
        table.add_row(Text(replica, style=style), str(likes), ", ".join(map(str, guests)) or "-")
    return table


def present(sim: Simulation, console: Console, *, everything: bool = False) -> None:
    """Draw every replica's values at each of :data:`MOMENTS`, then the checker's verdict
    and a summary."""
    assert isinstance(sim, CrdtDemo)
    stories = {
        0.45: "All connected: a invited ann, b and c liked. Every replica agrees.",
        1.45: "Split since t=0.5 s into {a, b} and {c, d}. Each side keeps accepting "
              "updates at once, with no one to ask: a liked twice, b invited bob and "
              "invited ann again; c removed ann, d invited dan and took a like back. "
              "The sides disagree.",
        3.0: "Healed at t=1.5 s: gossip carried each side's states across and merge "
             "combined them. Every like counted once (3 before the split, +2 and -1 "
             "during it); ann stays, because b's invite and c's remove were concurrent "
             "and in an OR-Set the add wins.",
    }
    for moment in sorted(sim.views):
        console.print(Rule(f"t = {moment:.2f} s"))
        console.print(Padding(stories.get(moment, ""), (0, 2)))
        sides = (("a", "b"), ("c", "d")) if SPLIT < moment < HEAL else ()
        console.print(Padding(view_table(sim.views[moment], sides), (0, 2, 1, 2)))
    if everything:
        from dsys.trace import terminal
        console.print(terminal.render(sim.trace.filter(kinds=KINDS), nodes=list(sim.node_ids)))
    report = check_crdt_convergence(crdt_states(sim.nodes), sim.trace)
    line = Text("convergence checker: ", style="bold")
    line.append(report.explain(), style="green" if report.ok else "bold red")
    console.print(line)
    gossip = sum(1 for e in sim.trace if e.kind == "send")
    if sim.agreed is not None:
        console.print(f"summary: {len(STORY)} updates made on both sides of a partition; "
                      f"after the heal at t={HEAL:.1f} s the replicas agreed within "
                      f"{sim.agreed - HEAL:.2f} s; {gossip} gossip messages in all, no "
                      "coordination, no update lost.")
    else:
        console.print("summary: the replicas did not agree by the end of the run.",
                      style="bold red")
