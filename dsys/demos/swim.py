"""SWIM, drawn: a group of twenty loses members and keeps one view of who is left.

Twenty members (``m00`` to ``m19``) run :class:`~dsys.failure.Swim` with Lifeguard (a
protocol period of 200 ms) and a :class:`~dsys.failure.Membership` view on top; the
network loses 5% of messages. Then:

* at t = 2 s, ``m03`` and ``m11`` crash;
* at t = 4 s, ``m07`` leaves the group gracefully (it says so, nobody suspects it);
* from t = 6 s to 9 s, ``m15`` is slow: every message to or from it takes 150 to 300 ms,
  longer than a probe's timeout;
* at t = 8 s, ``m03`` restarts and comes back with a higher incarnation.

:func:`present` draws what every member believed at a few moments, one row per member
(the observer) and one column per member (the observed): ``●`` alive, ``?`` suspected,
``✕`` dead, ``·`` gone or not known. Then the failure checkers' verdicts on the trace.

The module also holds the harness that tests, benchmarks and the docs use to run a
group of members under any detector: :class:`Member` and :func:`group`.

Example:
    >>> sim = scenario(seed=1)
    >>> sim.run(until=UNTIL)
    >>> sorted(sim.nodes["m00"].group.members()) == sorted(
    ...     f"m{i:02d}" for i in range(20) if i not in (7, 11))
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from dsys import Network, Node, Simulation
from dsys.failure import (
    FailureDetector,
    Membership,
    Swim,
    check_accuracy,
    check_completeness,
    check_convergence,
)

SUMMARY = "twenty SWIM members lose two to crashes, one to a graceful leave, and heal"
KINDS = ["crash", "restart", "log"]
UNTIL = 14.0

SIZE = 20
PERIOD = 0.2
#: When :func:`present` draws every member's view.
MOMENTS = (1.5, 3.0, 5.0, 8.5, 14.0)
SYMBOLS = {"alive": ("●", "green"), "suspect": ("?", "yellow"), "dead": ("✕", "red"),
           None: ("·", "dim"), "left": ("·", "dim")}


class Member(Node):
    """A member of a group: a failure detector built by ``make`` (attached as
    ``"detector"``) and a :class:`~dsys.failure.Membership` view on it, which logs every
    join and leave."""

    def __init__(self, make: Callable[[], FailureDetector], *, log: bool = True) -> None:
        super().__init__()
        self.detector = self.add_component(make())
        self.group = self.add_component(Membership(
            self.detector, on_join=self.joined if log else None,
            on_leave=self.gone if log else None))

    def joined(self, peer: str) -> None:
        self.log(f"{peer} joined my view")

    def gone(self, peer: str, reason: str) -> None:
        self.log(f"{peer} {reason}")


def names(size: int) -> list[str]:
    """Member ids ``m0``... padded so they sort in numeric order."""
    width = len(str(size - 1))
    return [f"m{i:0{width}d}" for i in range(size)]


def group(make: Callable[[], FailureDetector], size: int, *, seed: int = 1,
          network: Network | None = None, trace: bool = True, codec: bool = True,
          log: bool = False, sim: Simulation | None = None) -> Simulation:
    """A simulation of ``size`` :class:`Member` nodes, each with a detector ``make()``
    (``log``: each logs the joins and leaves of its view; ``trace`` and ``codec`` as for
    :class:`~dsys.Simulation`: benchmarks turn both off).

    Example:
        >>> from dsys.failure import HeartbeatDetector
        >>> sim = group(lambda: HeartbeatDetector(interval=0.1, timeout=0.5), 5)
        >>> sim.run(until=1.0)
        >>> sim.nodes["m0"].detector.alive()
        ('m0', 'm1', 'm2', 'm3', 'm4')
    """
    if sim is None:
        sim = Simulation(seed=seed, network=network, trace=trace, codec=codec)
    for node_id in names(size):
        sim.add_node(node_id, lambda: Member(make, log=log))
    return sim


def slow(sim: Simulation, node_id: str, latency: Any) -> None:
    """Make every link to and from ``node_id`` take ``latency`` (a slow member)."""
    for other in sim.node_ids:
        if other != node_id:
            sim.network.set_link(node_id, other, symmetric=True, latency=latency)


def fast(sim: Simulation, node_id: str) -> None:
    """Undo :func:`slow`."""
    for other in sim.node_ids:
        if other != node_id:
            sim.network.reset_link(node_id, other, symmetric=True)


class SwimDemo(Simulation):
    """The demo's simulation, with the views it recorded at each of :data:`MOMENTS`:
    ``views[t][observer][observed]`` is a status (or None)."""

    views: dict[float, dict[str, dict[str, str | None]]]


def _record(sim: SwimDemo, at: float) -> None:
    everyone = names(SIZE)
    table: dict[str, dict[str, str | None]] = {}
    for observer in everyone:
        node = sim.nodes.get(observer)
        if isinstance(node, Member) and isinstance(node.detector, Swim) \
                and not node.detector.left:
            table[observer] = {m: node.detector.state(m) for m in everyone}
    sim.views[at] = table


def scenario(seed: int = 1, until: float = UNTIL) -> SwimDemo:
    """The demo's simulation, ready to run."""
    sim = SwimDemo(seed=seed, network=Network(latency=(0.001, 0.010), drop=0.05))
    sim.views = {}
    group(lambda: Swim(period=PERIOD, ping_timeout=0.08, lifeguard=True), SIZE,
          sim=sim, log=True)
    sim.at(2.0, sim.crash, "m03")
    sim.at(2.0, sim.crash, "m11")
    sim.at(4.0, lambda: sim.nodes["m07"].detector.leave())  # type: ignore[attr-defined]
    sim.at(6.0, slow, sim, "m15", (0.15, 0.3))
    sim.at(9.0, fast, sim, "m15")
    sim.at(8.0, sim.restart, "m03")
    for moment in MOMENTS:
        if moment <= until:
            sim.at(moment - 1e-9, _record, sim, moment)
    return sim


def view_table(views: dict[str, dict[str, str | None]]) -> Table:
    """One row per observer, one column per observed member."""
    everyone = names(SIZE)
    table = Table(show_header=True, box=None, padding=(0, 1, 0, 0))
    table.add_column("sees →", justify="right", style="bold")
    for member in everyone:
        table.add_column(member[1:], justify="center")
    for observer in everyone:
        row = views.get(observer)
        if row is None:
            table.add_row(observer, *[Text("", style="dim")] * SIZE, style="dim")
            continue
        cells = []
        for member in everyone:
            symbol, style = SYMBOLS["alive"] if member == observer else SYMBOLS.get(
                row[member], SYMBOLS[None])
            cells.append(Text(symbol, style=style))
        table.add_row(observer, *cells)
    return table


def present(sim: Simulation, console: Console, *, everything: bool = False) -> None:
    """Draw every member's view at each of :data:`MOMENTS`, then the checkers' verdicts."""
    assert isinstance(sim, SwimDemo)
    stories = {
        1.5: "Everyone is up and trusts everyone.",
        3.0: "m03 and m11 crashed at t=2.0 s: probes to them fail, the suspicion spreads "
             "by piggyback, other members' failed probes confirm it, and it becomes death.",
        5.0: "m07 left gracefully at t=4.0 s: removed everywhere, never suspected.",
        8.5: "m15 is slow since t=6.0 s (150-300 ms per message, more than a probe's "
             "timeout): probes to it and its own probes time out, so suspicions come and "
             "go, each refuted with a higher incarnation (Lifeguard slows m15's probing "
             "down). m03 restarted at t=8.0 s and asked a peer for the group.",
        14.0: "m15 is fast again; m03 is back with a higher incarnation; m11 is dead "
              "and m07 gone, for everyone.",
    }
    for moment in sorted(sim.views):
        console.print(Rule(f"t = {moment:.1f} s"))
        console.print(Padding(stories.get(moment, ""), (0, 2)))
        console.print(Padding(view_table(sim.views[moment]), (0, 2, 1, 2)))
    if everything:
        from dsys.trace import terminal
        console.print(terminal.render(sim.trace.filter(kinds=KINDS), nodes=list(sim.node_ids)))
    legend = Text("  ● alive   ? suspected   ✕ dead   · gone or unknown", style="dim")
    console.print(legend)
    for report in (check_completeness(sim.trace, within=8.0),
                   check_convergence(sim.trace, by=12.0),
                   check_accuracy(sim.trace, after=12.0)):
        line = Text("failure checkers: ", style="bold")
        line.append(report.explain(), style="green" if report.ok else "bold red")
        console.print(line)
