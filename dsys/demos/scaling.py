"""Elasticity, drawn: demand ramps up and down, an autoscaler adds and removes servers.

A pool of :data:`MACHINES` servers (``s00``...; each serves one request at a time,
exponential service times of :data:`DEMO_SERVICE` s, so 10 requests a second at most)
stands behind a two-choices :class:`~dsys.scaling.Balancer`; a
:class:`~dsys.scaling.PoolManager` starts with two of them serving, the others off, and
runs a :class:`~dsys.scaling.TargetUtilization` autoscaler (:data:`POLICY`: target 60%,
band 45% to 75%, a decision every 2 s on the last 8 s of load reports, 10 s of cooldown,
20 s of stabilization before scaling in; a server boots in 4 s). Open-loop demand
(:data:`DEMAND`) ramps from 10 requests a second to 40 and back down. :func:`present`
draws demand and capacity over time as bars, then a summary: scale-outs and scale-ins,
latency, and the checkers' verdicts (no request lost, removed servers drained, no
flapping).

The module also holds the harnesses that tests, ``bench/scaling.py`` and the docs'
plots use:

* :func:`pool`: a simulation of a balancer in front of ``n`` servers and a generator;
* :func:`measure_policy`: a routing policy at a utilization: latency percentiles, the
  longest queue ever and the mean longest queue at a moment (:class:`PolicyRun`);
* :func:`balls_into_bins`: ``n`` requests that never finish on ``n`` servers: the
  fullest server's count, the quantity of balls-into-bins theory;
* :func:`measure_throughput`: a closed loop saturating ``n`` servers behind a balancer
  that costs time per request (:class:`ThroughputRun`);
* :func:`membership_change`: p99 latency, window by window, while a server is removed
  and another added (:class:`ChangeRun`);
* :func:`autoscaled`: demand and capacity over time under the autoscaler
  (:class:`AutoscaleRun`), which the demo, the elasticity page's plot and the bench draw.

Example:
    >>> run = measure_policy("two-choices", servers=10, utilization=0.8, seed=1,
    ...                      requests_per_server=200)
    >>> run.completed, run.max_queue < 10, run.p50 < run.p99
    (2034, True, True)
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable, Sequence

import attrs
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dsys.check.report import Report
from dsys.core.node import Node
from dsys.scaling import (
    Balancer,
    ClosedLoop,
    Completion,
    Constant,
    Exponential,
    OpenLoop,
    Policy,
    PoolManager,
    RateSchedule,
    Server,
    ServiceTime,
    TargetUtilization,
    check_drained,
    check_every_request_answered,
    check_no_flapping,
    percentile,
)
from dsys.sim import Network, Simulation

SUMMARY = "demand ramps up and down; an autoscaler adds and removes servers behind a balancer"
KINDS = ["note"]
UNTIL = 240.0

#: The measurements' mean service time (s) and one-way network latency (s): the network
#: is fast beside the servers, so a balancer's counts are nearly the servers' queues.
SERVICE = 0.010
LATENCY = (0.0001, 0.0002)
#: Ids of the balancer, the generator and the pool manager.
BALANCER, GENERATOR, MANAGER = "lb", "gen", "pool"


def names(count: int) -> list[str]:
    """Server ids ``s0``... (zero-padded to sort in number order).

    >>> names(3), names(12)[-1]
    (['s0', 's1', 's2'], 's11')
    """
    width = len(str(max(count - 1, 0)))
    return [f"s{i:0{width}d}" for i in range(count)]


#: A routing policy by name, or a function that builds one over the given servers.
PolicySpec = str | Callable[[Sequence[str]], Policy]


def _policy_name(policy: PolicySpec) -> str:
    return policy if isinstance(policy, str) else str(getattr(policy, "name", policy))


def pool(seed: int, servers: int, policy: PolicySpec, generator: Callable[[], Node], *,
         service: ServiceTime | float = SERVICE, cost: float = 0.0, spares: int = 0,
         latency: tuple[float, float] = LATENCY, trace: bool = False) -> Simulation:
    """A simulation of ``servers`` servers (``service`` times, one worker each) behind a
    :class:`~dsys.scaling.Balancer` ``"lb"`` with ``policy`` (a name, or a function
    that builds a :class:`~dsys.scaling.Policy` over the servers) and ``cost``, and
    ``generator()`` as node ``"gen"``. ``spares`` more servers run but are not in the
    balancer's pool (to add later). ``trace=False`` (the measurements) also skips the
    wire codec.

    Example:
        >>> sim = pool(1, 3, "round-robin", lambda: OpenLoop("lb", rate=100.0, until=1.0),
        ...            trace=True)
        >>> sim.run(until=1.5)
        >>> print(check_every_request_answered(sim.trace).explain())
        every request answered once: ok (111 requests checked)
    """
    sim = Simulation(seed=seed, network=Network(latency=latency), trace=trace, codec=trace)
    everyone = names(servers + spares)
    for name in everyone:
        sim.add_node(name, lambda: Server(service))
    in_pool = everyone[:servers]
    sim.add_node(BALANCER, lambda: Balancer(
        in_pool, policy if isinstance(policy, str) else policy(in_pool), cost=cost))
    sim.add_node(GENERATOR, generator)
    return sim


def at_node(sim: Simulation, time: float, node_id: str, method: str, *args: object) -> None:
    """At ``time``, call ``method(*args)`` on node ``node_id`` as it is then (nodes are
    built when they start, and again when they restart)."""

    def call() -> None:
        getattr(sim.node(node_id), method)(*args)

    call.__name__ = f"{node_id}.{method}"
    sim.at(time, call)


def _servers(sim: Simulation) -> list[Server]:
    return [node for node in sim.nodes.values() if isinstance(node, Server)]


def _generator(sim: Simulation) -> OpenLoop | ClosedLoop:
    node = sim.node(GENERATOR)
    assert isinstance(node, OpenLoop | ClosedLoop)
    return node


def _drain(sim: Simulation, horizon: float) -> None:
    """Run until every request the generator issued is answered (or ``horizon``)."""
    gen = _generator(sim)
    sim.run_until(lambda _: not gen.in_flight and (gen.stopped()), timeout=horizon)


# ----- 1. policies against utilization -----------------------------------------------------


@attrs.frozen
class PolicyRun:
    """One policy at one utilization: latency percentiles and mean (seconds) of the
    requests sent after the warm-up, the longest queue any server ever held, the mean
    over many moments of the longest queue at that moment, and the requests answered."""

    policy: str
    servers: int
    utilization: float
    seed: int
    p50: float
    p99: float
    mean: float
    max_queue: int
    mean_max_queue: float
    completed: int


def measure_policy(policy: PolicySpec, *, servers: int, utilization: float, seed: int = 1,
                   requests_per_server: int = 400, service: float = SERVICE,
                   warmup: float = 0.2, samples: int = 100) -> PolicyRun:
    """Poisson arrivals at ``utilization`` of the pool's capacity (exponential service
    of mean ``service``), about ``requests_per_server`` per server; the first
    ``warmup`` of the run is left out of the latencies and the queue samples."""
    rate = utilization * servers / service
    duration = requests_per_server * service / utilization
    sim = pool(seed, servers, policy,
               lambda: OpenLoop(BALANCER, rate=rate, keys=10_000, until=duration),
               service=Exponential(service))
    peaks: list[int] = []
    machines: list[Server] = []

    def sample() -> None:
        if not machines:
            machines.extend(_servers(sim))
        peaks.append(max(m.queue_length for m in machines))

    begin = warmup * duration
    for k in range(samples):
        sim.at(begin + (duration - begin) * (k + 0.5) / samples, sample)
    sim.run(until=duration)
    _drain(sim, 20 * duration)
    gen = _generator(sim)
    latencies = [c.latency for c in gen.completions if c.sent >= begin]
    return PolicyRun(_policy_name(policy), servers, utilization, seed,
                     percentile(latencies, 0.5),
                     percentile(latencies, 0.99), statistics.fmean(latencies),
                     max(s.max_queue for s in _servers(sim)), statistics.fmean(peaks),
                     len(gen.completions))


def balls_into_bins(policy: PolicySpec, n: int, *, seed: int = 1) -> int:
    """Send ``n`` requests that never finish to ``n`` servers through the balancer, one
    after another, and return the most any server got: balls into bins, through the
    real balancer."""
    sim = pool(seed, n, policy,
               lambda: OpenLoop(BALANCER, rate=1000.0, keys=100 * n, limit=n),
               service=Constant(1e9))
    sim.run_until(lambda s: s.node(GENERATOR) is not None and _generator(s).issued == n,
                  timeout=100.0 * n)
    sim.run(until=sim.now + 0.01)  # the last ones reach their servers
    return max(s.queue_length for s in _servers(sim))


# ----- 2. throughput against the number of servers ----------------------------------------


@attrs.frozen
class ThroughputRun:
    """``servers`` servers behind a balancer that costs ``cost`` s per request, saturated
    by a closed loop: answers per second, and p99 latency (seconds)."""

    servers: int
    cost: float
    throughput: float
    p99: float


def measure_throughput(servers: int, *, cost: float, seed: int = 1,
                       users_per_server: int = 4, requests: int = 4000,
                       service: float = SERVICE,
                       policy: str = "least-outstanding") -> ThroughputRun:
    """Closed-loop users (``users_per_server`` per server, no think time) keep
    ``servers`` servers busy; about ``requests`` requests in all (the first fifth left
    out)."""
    capacity = min(servers / service, 1 / cost if cost else math.inf)
    duration = requests / capacity
    sim = pool(seed, servers, policy,
               lambda: ClosedLoop(BALANCER, users=users_per_server * servers, until=duration),
               service=Exponential(service), cost=cost)
    sim.run(until=duration)
    begin = duration / 5
    done = [c for c in _generator(sim).completions if begin <= c.sent + c.latency <= duration]
    return ThroughputRun(servers, cost, len(done) / (duration - begin),
                         percentile([c.latency for c in done], 0.99))


# ----- 3. p99 latency while the pool changes -----------------------------------------------


@attrs.frozen
class ChangeRun:
    """p99 latency per window while a server is removed (at ``removed``) and another
    added (at ``added``): ``windows`` holds (window start, p99 s, requests), by the time
    requests were sent. ``moved`` is the fraction of keys seen both before the removal
    and after the addition whose server changed."""

    policy: str
    removed: float
    added: float
    windows: tuple[tuple[float, float, int], ...]
    moved: float

    def p99_between(self, start: float, end: float) -> float:
        """The largest window p99 among the windows starting in ``[start, end)``."""
        return max((p for t, p, _ in self.windows if start <= t < end), default=math.nan)


def membership_change(policy: PolicySpec, *, servers: int = 10, utilization: float = 0.7,
                      seed: int = 1, duration: float = 12.0, window: float = 0.5,
                      service: float = SERVICE) -> ChangeRun:
    """Steady Poisson load at ``utilization`` of ``servers`` servers; at a third of the
    run the last server is removed (and drains), at two thirds a spare one is added."""
    rate = utilization * servers / service
    sim = pool(seed, servers, policy,
               lambda: OpenLoop(BALANCER, rate=rate, keys=2000, until=duration),
               service=Exponential(service), spares=1)
    everyone = names(servers + 1)
    removed, added = duration / 3, 2 * duration / 3
    at_node(sim, removed, BALANCER, "remove_server", everyone[servers - 1])
    at_node(sim, added, BALANCER, "add_server", everyone[servers])
    sim.run(until=duration)
    _drain(sim, 10 * duration)
    done = _generator(sim).completions
    windows = []
    for k in range(int(duration / window)):
        inside = [c.latency for c in done if k * window <= c.sent < (k + 1) * window]
        windows.append((k * window, percentile(inside, 0.99), len(inside)))
    return ChangeRun(_policy_name(policy), removed, added, tuple(windows),
                     _moved(done, removed, added))


def _moved(done: Sequence[Completion], before: float, after: float) -> float:
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    for c in done:
        if c.sent < before:
            first[c.key] = c.server
        elif c.sent >= after:
            last[c.key] = c.server
    both = [key for key in first if key in last]
    return sum(first[k] != last[k] for k in both) / len(both) if both else math.nan


# ----- 4. the autoscaler ---------------------------------------------------------------------

#: The demo's pool: machines, service (s), boot time (s), decision interval (s), the
#: seconds of load reports a decision averages, and the policy.
MACHINES = 20
DEMO_SERVICE = 0.1
BOOT = 4.0
INTERVAL = 2.0
WINDOW = 8.0
POLICY = TargetUtilization(target=0.6, low=0.45, high=0.75, cooldown=10.0,
                           stabilization=20.0)
#: Demand (requests/s): 10 (two servers at 50%) for 20 s, up to 40 by t = 80 s, 40
#: until 110 s, down to 10 by 170 s, then 10 to the end. (Each request is a dozen trace
#: events: the demo keeps to a few thousand requests, so that its trace stays small.)
DEMAND = RateSchedule(((0, 10.0), (20, 10.0), (80, 40.0), (110, 40.0), (170, 10.0)))


@attrs.frozen
class AutoscaleRun:
    """Demand and capacity over time: ``timeline`` holds, every ``step`` seconds,
    (time, demand in requests/s, capacity in requests/s of the serving servers, servers
    serving, servers provisioned: serving, booting and draining). ``latencies`` holds
    (time sent, latency) of every answered request; ``changes`` the scale events
    (time, before, after); ``checks`` the three checkers' reports (empty without a
    trace)."""

    timeline: tuple[tuple[float, float, float, int, int], ...]
    latencies: tuple[tuple[float, float], ...]
    changes: tuple[tuple[float, int, int], ...]
    issued: int
    answered: int
    checks: tuple[Report, ...]

    def p99_between(self, start: float, end: float) -> float:
        """p99 latency of the requests sent in ``[start, end)``."""
        return percentile([lat for t, lat in self.latencies if start <= t < end], 0.99)


def autoscaled(seed: int = 1, *, demand: RateSchedule = DEMAND, until: float = UNTIL,
               policy: TargetUtilization | None = POLICY, machines: int = MACHINES,
               initial: int = 2, service: float = DEMO_SERVICE, boot: float = BOOT,
               interval: float = INTERVAL, window: float = WINDOW, step: float = 1.0,
               trace: bool = False, manager: type[PoolManager] = PoolManager,
               resize: Sequence[tuple[float, int]] = ()) -> AutoscaleRun:
    """Run ``demand`` against a pool of ``machines`` under ``policy`` until ``until``
    (then let the last requests finish) and return what happened. ``manager`` is the
    pool manager's class (the tests give broken ones); ``resize`` lists changes made by
    hand, ``(time, servers)``: the manager's :meth:`~dsys.scaling.PoolManager.scale_to`
    (give ``policy=None`` for a pool that changes only so).

    Example:
        >>> run = autoscaled(1, until=60.0, trace=True)
        >>> [(t, before, after) for t, before, after in run.changes]
        [(38.0, 2, 3), (48.0, 3, 5)]
        >>> all(run.checks), run.answered == run.issued
        (True, True)
    """
    sim = Simulation(seed=seed, network=Network(latency=(0.0005, 0.002)), trace=trace,
                     codec=trace)
    rows = build(sim, demand=demand, until=until, policy=policy, machines=machines,
                 initial=initial, service=service, boot=boot, interval=interval,
                 window=window, step=step, manager=manager)
    for time, servers in resize:
        at_node(sim, time, MANAGER, "scale_to", servers)
    sim.run(until=until)
    _drain(sim, until)
    return outcome(sim, rows)


def machines_on(manager: PoolManager) -> list[str]:
    """The machines that are not off (serving, booting or draining): what a pool pays for."""
    return [m for m in manager.machines if manager.state[m] != "off"]


#: A row of an autoscaled run's timeline: (time, demand, capacity, serving, provisioned).
Row = tuple[float, float, float, int, int]


def build(sim: Simulation, *, demand: RateSchedule, until: float,
          policy: TargetUtilization | None, machines: int, initial: int, service: float,
          boot: float, interval: float, window: float, step: float = 1.0,
          manager: type[PoolManager] = PoolManager, horizon: float | None = None
          ) -> list[Row]:
    """Add the pool, its manager, a two-choices balancer and a generator that stops at
    ``until`` to ``sim``; return the list that a sample every ``step`` s until
    ``horizon`` (default ``until``) fills in (see :class:`AutoscaleRun`)."""
    everyone = names(machines)
    for i, name in enumerate(everyone):
        sim.add_node(name, functools.partial(
            Server, Exponential(service), active=i < initial, boot=boot, manager=MANAGER,
            report_every=interval / 2))
    sim.add_node(BALANCER, lambda: Balancer(everyone[:initial], "two-choices"))
    sim.add_node(MANAGER, lambda: manager(BALANCER, everyone, initial=initial,
                                          policy=policy, interval=interval, window=window))
    sim.add_node(GENERATOR, lambda: OpenLoop(BALANCER, rate=demand, until=until))
    rows: list[Row] = []

    def sample() -> None:
        node = sim.node(MANAGER)
        assert isinstance(node, PoolManager)
        serving = node.count("serving")
        rows.append((sim.now, demand.at(sim.now), serving / service, serving,
                     len(machines_on(node))))

    for k in range(int((until if horizon is None else horizon) / step + 1e-9) + 1):
        sim.at(k * step, sample)
    return rows


def flap_window(manager: PoolManager) -> float:
    """The window the flapping checker judges a pool by: a reversal sooner than three
    decisions after the cooldown follows noise, not demand."""
    return 3 * manager.interval + (manager.policy.cooldown if manager.policy else 0.0)


def outcome(sim: Simulation, rows: list[Row]) -> AutoscaleRun:
    """What an autoscaled simulation (built by :func:`build`) did; the checkers run if
    it recorded a trace."""
    gen = _generator(sim)
    pool_manager = sim.node(MANAGER)
    assert isinstance(pool_manager, PoolManager)
    traced = sim.trace.enabled
    checks: tuple[Report, ...] = ()
    if traced:
        checks = (check_every_request_answered(sim.trace, allow_rejected=False),
                  check_drained(sim.trace),
                  check_no_flapping(sim.trace, window=flap_window(pool_manager)))
    return AutoscaleRun(tuple(rows), tuple((c.sent, c.latency) for c in gen.completions),
                        tuple(pool_manager.changes), gen.issued, len(gen.completions), checks)


# ----- the demo ------------------------------------------------------------------------------


#: The demo's generator stops this many seconds before the end, so that every request
#: is answered by then.
QUIET = 5.0


class ScalingDemo(Simulation):
    """The demo's simulation; ``rows`` fills in as it runs (see :func:`build`)."""

    rows: list[Row]
    _result: AutoscaleRun | None = None

    def result(self) -> AutoscaleRun:
        """What the run did (:func:`outcome`, computed once, after the run)."""
        if self._result is None or self._result.timeline[-1:] != tuple(self.rows[-1:]):
            self._result = outcome(self, self.rows)
        return self._result


def scenario(seed: int = 1, until: float = UNTIL) -> ScalingDemo:
    """The demo's simulation, ready to run: :data:`DEMAND` against the autoscaled pool,
    the generator stopping :data:`QUIET` seconds before ``until``."""
    sim = ScalingDemo(seed=seed, network=Network(latency=(0.0005, 0.002)))
    sim.rows = build(sim, demand=DEMAND, until=max(until - QUIET, 0.0), policy=POLICY,
                     machines=MACHINES, initial=2, service=DEMO_SERVICE, boot=BOOT,
                     interval=INTERVAL, window=WINDOW, horizon=until)
    return sim


def bar(demand: float, capacity: float, scale: float, width: int = 50) -> Text:
    """One line: demand the capacity covers (red ``█``), demand beyond it (bold, ``▓``)
    and spare capacity (green ``░``), ``scale`` requests/s being ``width`` characters."""
    met = round(min(demand, capacity) / scale * width)
    wanted = round(demand / scale * width)
    offered = round(capacity / scale * width)
    line = Text("█" * met, style="red")
    line.append("▓" * max(0, wanted - met), style="bold red")
    line.append("░" * max(0, offered - met), style="green")
    return line


def present(sim: Simulation, console: Console, *, everything: bool = False) -> None:
    """Demand and capacity as bars over time, then a summary and the checkers' verdicts."""
    assert isinstance(sim, ScalingDemo)
    run = sim.result()
    peak = max(max(row[1], row[2]) for row in run.timeline)
    table = Table(show_header=True, box=None, padding=(0, 1, 0, 0))
    table.add_column("t (s)", justify="right")
    table.add_column("demand", justify="right")
    table.add_column("servers", justify="right")
    table.add_column(f"demand and capacity (0 to {peak:.0f} requests/s)")
    table.add_column("p99 ms", justify="right")
    every = 10.0
    for time, demand, capacity, serving, provisioned in run.timeline:
        if time % every or time >= run.timeline[-1][0]:
            continue
        p99 = run.p99_between(time, time + every)
        extra = f"+{provisioned - serving}" if provisioned > serving else ""
        table.add_row(f"{time:.0f}", f"{demand:.0f}/s", f"{serving}{extra}",
                      bar(demand, capacity, peak), "-" if math.isnan(p99) else f"{p99 * 1000:.0f}")
    legend = Text("every 10 s: ")
    legend.append("█ demand served", style="red")
    legend.append("  ")
    legend.append("▓ demand beyond capacity", style="bold red")
    legend.append("  ")
    legend.append(f"░ spare capacity ({1 / DEMO_SERVICE:.0f} requests/s a server)",
                  style="green")
    legend.append("; +n: servers booting or draining; p99 of the requests sent in the "
                  "next 10 s")
    console.print(legend)
    console.print(table)
    if everything:
        from dsys.trace import terminal
        console.print(terminal.render(sim.trace.filter(kinds=KINDS), nodes=[MANAGER, BALANCER]))
    outs = sum(1 for _, before, after in run.changes if after > before)
    ins = len(run.changes) - outs
    most = max(row[3] for row in run.timeline)
    for report in run.checks:
        line = Text("checker: ", style="bold")
        line.append(report.explain(), style="green" if report else "bold red")
        console.print(line)
    lat = [latency for _, latency in run.latencies]
    windows = [(run.p99_between(t, t + every), t) for t in range(0, int(run.timeline[-1][0]),
                                                                  int(every))]
    worst, when = max((p, t) for p, t in windows if not math.isnan(p))
    console.print(
        f"summary: demand went from {DEMAND.at(0):.0f} to {DEMAND.peak:.0f} requests/s and "
        f"back; the autoscaler scaled out {outs} times and in {ins} times, from 2 servers to "
        f"{most} and back to {run.timeline[-1][3]}; {run.answered} of {run.issued} requests "
        f"answered, p50 {percentile(lat, 0.5) * 1000:.0f} ms, p99 "
        f"{percentile(lat, 0.99) * 1000:.0f} ms. The worst ten seconds began at t={when} s "
        f"(p99 {worst * 1000:.0f} ms): an autoscaler acts on load it has already seen, so "
        "capacity lags a rise in demand by a window, a cooldown and a boot.")
