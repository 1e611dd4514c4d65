"""DNS-like naming, drawn: a name moves, and cached resolvers serve the old address until
their TTL runs out.

Three zone servers hold a small tree of zones (:func:`zones`): ``root`` delegates
``example`` to ``ns-example``, which delegates ``cs.example`` to ``ns-cs``, which holds
``www.cs.example`` with a TTL of :data:`TTL` seconds. Two local resolvers cache what they
learn; alice asks ``resolver-a`` for ``www.cs.example`` every half second from t = 0.5 s,
bob asks ``resolver-b`` from t = 2.8 s. At t = :data:`MOVE` s the administrator moves
``www.cs.example`` to a new address (a dynamic update to ``ns-cs``). Each resolver keeps
answering from its cache, with the old address, until its copy expires: ``resolver-a``'s
copy is from t ≈ 0.5 s, so it expires at about 4.5 s and alice's next lookup (at 5.0 s)
gets the new address; ``resolver-b``'s is from t ≈ 2.8 s, so bob gets old answers until
about 6.8 s: nearly a full TTL after the move, the worst a TTL allows.

:func:`present` draws every answer on a time line (fresh ones green, stale ones red),
lists the stale ones, gives the staleness checker's verdict against the bound ``TTL +
hops · in flight``, and the message counts of iterative and recursive resolution with cold
and warm caches (:func:`resolution_counts`).

The module also holds the builders that tests and the docs use: :func:`zones`,
:func:`add_zone_servers` and :func:`resolution_counts`.

Example:
    >>> sim = scenario(seed=1)
    >>> sim.run(until=UNTIL)
    >>> from dsys.naming import check_staleness
    >>> check_staleness(sim.trace, bound=staleness_bound()).ok
    True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import attrs
from rich.console import Console
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from dsys.demos.quorum import scheduled
from dsys.election.checkers import message_counts
from dsys.errors import ConfigError
from dsys.naming.checkers import Staleness, answer_staleness, check_staleness
from dsys.naming.dns import LocalResolver, StubClient, Zone, ZoneServer, ZoneUpdater, enclosing
from dsys.sim.network import Network
from dsys.sim.simulation import Simulation

SUMMARY = ("a name moves; two caching resolvers keep serving the old address until their "
           "TTL runs out, one nearly a whole TTL")
KINDS = ["invoke", "complete", "note"]
UNTIL = 10.0

#: The name that moves, its two addresses, when it moves, and its TTL.
NAME = "www.cs.example"
OLD, NEW = "10.0.2.1", "10.0.2.9"
MOVE = 3.0
TTL = 4.0
#: The demo network's latency: at most this long in flight per message.
LATENCY = (0.001, 0.010)
#: The clients: who asks which resolver, from when.
ASKERS = {"alice": ("resolver-a", 0.5), "bob": ("resolver-b", 2.8)}
#: Seconds between two lookups of one client.
EVERY = 0.5

#: The messages of resolution (between resolvers and zone servers, and among servers).
RESOLUTION = ("Query", "Answer", "Referral", "Refused")


def zones(*, ttl: float = TTL, referral_ttl: float = 60.0) -> dict[str, Zone]:
    """The demo's tree of zones: server id -> the zone it serves.

    >>> {server: zone.origin for server, zone in zones().items()}
    {'root': '', 'ns-example': 'example', 'ns-cs': 'cs.example'}
    """
    return {
        "root": Zone("", delegations={"example": "ns-example"}, referral_ttl=referral_ttl),
        "ns-example": Zone("example", records={"www.example": "10.0.1.1"},
                           delegations={"cs.example": "ns-cs"}, ttl=ttl,
                           referral_ttl=referral_ttl),
        "ns-cs": Zone("cs.example", records={NAME: OLD, "ftp.cs.example": "10.0.2.2",
                                             "mail.cs.example": "10.0.2.3"}, ttl=ttl),
    }


def add_zone_servers(sim: Simulation, tree: Mapping[str, Zone] | None = None, *,
                     cache: bool = True) -> None:
    """Add one :class:`~dsys.naming.ZoneServer` per zone of ``tree`` (default:
    :func:`zones`); ``cache``: the servers cache what they resolve recursively."""
    for server, zone in (tree or zones()).items():
        sim.add_node(server, functools.partial(ZoneServer, [zone], cache=cache))


def depth(name: str) -> int:
    """How many zones resolving ``name`` passes through in :func:`zones` (the root
    included): the zones enclosing it, minus the name itself.

    >>> depth("www.cs.example")
    3
    """
    return len(enclosing(name)) - 1


def staleness_bound(*, ttl: float = TTL, hops: int = 3,
                    in_flight: float = LATENCY[1]) -> float:
    """The most an answer can be stale: ``ttl`` plus ``hops`` messages in flight (the
    answer's way back from the zone server to the resolver that caches it; in recursive
    mode, through every server on the chain)."""
    return ttl + hops * in_flight


# ----- message counts -------------------------------------------------------------------------


@attrs.frozen
class Step:
    """One lookup of :func:`resolution_counts`: who asked, for what, and the resolution
    messages it took (``root``: how many of them the root server sent or received)."""

    label: str
    resolver: str
    name: str
    messages: int
    root: int


#: The lookups :func:`resolution_counts` makes, in order: (label, resolver, name).
STEPS = (
    ("cold caches", "resolver-a", NAME),
    ("same name again", "resolver-a", NAME),
    ("same zone", "resolver-a", "ftp.cs.example"),
    ("new resolver", "resolver-b", NAME),
)


def resolution_counts(mode: str, *, seed: int = 1, server_cache: bool = True,
                      resolver_cache: bool = True) -> list[Step]:
    """Run :data:`STEPS` one at a time (one second apart, no faults) with resolvers in
    ``mode`` and count each lookup's resolution messages (:data:`RESOLUTION`).

    Example:
        >>> [step.messages for step in resolution_counts("iterative")]
        [6, 0, 2, 6]
        >>> [step.messages for step in resolution_counts("recursive")]
        [6, 0, 6, 2]
    """
    sim = Simulation(seed=seed, network=Network(latency=LATENCY))
    add_zone_servers(sim, cache=server_cache)
    resolvers = sorted({resolver for _, resolver, _ in STEPS})
    for resolver in resolvers:
        sim.add_node(resolver, functools.partial(LocalResolver, "root", mode=mode,
                                                 cache=resolver_cache))
    for resolver in resolvers:
        plan = [(1.0 + i, {"f": "resolve", "key": name, "value": None})
                for i, (_, asker, name) in enumerate(STEPS) if asker == resolver]
        ops, think = scheduled(sim, plan)
        sim.add_client(f"client-{resolver}", functools.partial(StubClient, resolver=resolver),
                       workload=ops, think=think, ops=len(plan))
    sim.run(until=len(STEPS) + 1.0)
    steps = []
    for i, (label, resolver, name) in enumerate(STEPS):
        window = sim.trace.filter(start=1.0 + i, end=1.9 + i)
        sent = message_counts(window)
        root = sum(1 for e in window if e.kind in ("send", "recv") and e.node == "root"
                   and e.message_name in RESOLUTION)
        steps.append(Step(label, resolver, name, sum(sent[t] for t in RESOLUTION), root))
    return steps


# ----- the demo --------------------------------------------------------------------------


class NamingDemo(Simulation):
    """The demo's simulation (the ordinary one, under a name of its own)."""


def scenario(seed: int = 1, until: float = UNTIL) -> NamingDemo:
    """The demo's simulation, ready to run."""
    if until <= MOVE:
        raise ConfigError(f"the demo needs to run past the move at t={MOVE} s, got {until}")
    sim = NamingDemo(seed=seed, network=Network(latency=LATENCY))
    add_zone_servers(sim)
    for client, (resolver, start) in ASKERS.items():
        sim.add_node(resolver, functools.partial(LocalResolver, "root", mode="iterative"))
        sim.add_client(client, functools.partial(StubClient, resolver=resolver),
                       workload=lambda rng: {"f": "resolve", "key": NAME, "value": None},
                       ops=None, think=lambda rng, start=start: _next_tick(sim.now, start),
                       start=start)
    ops, think = scheduled(sim, [(MOVE, {"f": "update", "key": NAME, "value": NEW})])
    sim.add_client("admin", functools.partial(ZoneUpdater, server="ns-cs"), workload=ops,
                   think=think, ops=1)
    return sim


def _next_tick(now: float, start: float) -> float:
    """Seconds from ``now`` to the next tick (``start``, then every :data:`EVERY`)."""
    ticks = math.ceil((now - start) / EVERY - 1e-9)
    return max(0.0, start + ticks * EVERY - now)


def present(sim: Simulation, console: Console, *, everything: bool = False) -> None:
    """Draw the answers on a time line, the stale ones, the checker's verdict and the
    message counts of iterative and recursive resolution."""
    answers = [a for a in answer_staleness(sim.trace) if a.name == NAME]
    console.print(Rule("the story"))
    console.print(Padding(
        f"{NAME} is at {OLD}, with a TTL of {TTL:g} s. alice asks resolver-a every "
        f"{EVERY:g} s from t={ASKERS['alice'][1]:g} s, bob asks resolver-b from "
        f"t={ASKERS['bob'][1]:g} s. At t={MOVE:g} s the name moves to {NEW}. Each resolver "
        "answers from its cache until its copy runs out: the old address, stale.", (0, 2)))
    console.print(Padding(timeline(sim, answers), (1, 2)))
    console.print(Rule("the stale answers"))
    console.print(Padding(stale_table(answers), (0, 2, 1, 2)))
    if everything:
        from dsys.trace import terminal
        console.print(terminal.render(sim.trace.filter(kinds=KINDS), nodes=list(sim.node_ids)))
    bound = staleness_bound()
    report = check_staleness(sim.trace, bound=bound)
    worst = max((a.stale or 0.0 for a in answers), default=0.0)
    line = Text("checker: ", style="bold")
    line.append(report.explain(), style="green" if report.ok else "bold red")
    console.print(Padding(line, (0, 2)))
    console.print(Padding(
        f"the stalest answer: {worst:.3f} s after the move; the bound is the TTL ({TTL:g} s) "
        f"plus 3 hops of at most {LATENCY[1] * 1000:g} ms in flight = {bound:g} s", (0, 2)))
    console.print(Rule("messages per lookup: iterative vs recursive, cold vs warm caches"))
    console.print(Padding(counts_table(), (0, 2, 1, 2)))


def timeline(sim: Simulation, answers: list[Staleness]) -> Text:
    """One line per client: the address each answer gave, at its time (four columns a
    second; ``o`` the old address, ``N`` the new one; red when stale), under the record."""
    per_second = 4
    width = int(sim.now * per_second) + 2
    by_resolver = {resolver: client for client, (resolver, _) in ASKERS.items()}
    text = Text()
    scale = [" "] * width
    for second in range(int(sim.now) + 1):
        for i, digit in enumerate(str(second)):
            if second * per_second + i < width:
                scale[second * per_second + i] = digit
    text.append(f"{'t (s)':<14}" + "".join(scale) + "\n", style="dim")
    move = int(MOVE * per_second)
    text.append(f"{'record':<14}")
    text.append("o" * move, style="bold")
    text.append("N" * (width - move), style="bold cyan")
    text.append("\n")
    for resolver, client in sorted(by_resolver.items(), key=lambda item: item[1]):
        cells = [Text(" ")] * width
        for answer in answers:
            if answer.node == resolver:
                symbol = "N" if answer.address == NEW else "o"
                style = "bold red" if answer.stale else "green"
                cells[min(width - 1, int(answer.time * per_second))] = Text(symbol, style=style)
        text.append(f"{client:<14}")
        for cell in cells:
            text.append_text(cell)
        text.append(f"  via {resolver}\n")
    text.append(f"o = {OLD} (the old address), N = {NEW}; ", style="dim")
    text.append("red", style="bold red")
    text.append(": stale", style="dim")
    return text


def stale_table(answers: list[Staleness]) -> Table:
    """The stale answers: when, which resolver, what it said, and how stale."""
    table = Table(show_header=True, box=None, padding=(0, 2, 0, 0))
    for column in ("t", "resolver", "answer", "from", "stale by"):
        table.add_column(column)
    for answer in answers:
        if answer.stale:
            table.add_row(f"{answer.time:.2f}", answer.node, str(answer.address),
                          answer.source, Text(f"{answer.stale:.3f} s", style="red"))
    return table


def counts_table() -> Table:
    """The resolution messages of :data:`STEPS`, iterative and recursive."""
    table = Table(show_header=True, box=None, padding=(0, 2, 0, 0),
                  caption="messages (of which the root server's)", caption_justify="left")
    for column in ("", "resolver", "name", "caches", "iterative", "recursive"):
        table.add_column(column)
    iterative, recursive = resolution_counts("iterative"), resolution_counts("recursive")
    for i, (it, rec) in enumerate(zip(iterative, recursive, strict=True), start=1):
        table.add_row(str(i), it.resolver, it.name, it.label, f"{it.messages} ({it.root})",
                      f"{rec.messages} ({rec.root})")
    return table

