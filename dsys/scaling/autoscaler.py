"""Elasticity: a pool manager that adds and removes servers as demand changes.

The rules of this file:

* A *pool* is a fixed set of machines (server nodes), each ``"off"``, ``"booting"``,
  ``"serving"`` or ``"draining"`` as the :class:`PoolManager` sees it. Machines that are
  off cost nothing and serve nothing; the manager turns them on (:class:`Activate`; they
  answer :class:`Ready` after their boot time, and only then does the manager put them
  in the balancer's pool) and off again (it asks the balancer to remove one, waits for
  :class:`Drained`, then sends :class:`Deactivate`), so no request is lost on the way
  down. This is what a cloud autoscaling group does with virtual machines or containers;
  in the simulator the machines are nodes that exist from the start.
* Serving machines send a :class:`LoadReport` every second or so. Every ``interval`` the
  manager adds up the reports of the last ``window`` seconds into one utilization (busy
  seconds over available seconds of the serving machines) and asks its
  :class:`TargetUtilization` policy how many machines it wants. A window of several
  intervals smooths the noise of a short measurement (a few dozen requests) at the price
  of reacting later: a step in demand shows in full only after a whole window. The
  window starts afresh at each change, and the manager decides only on a full window: it
  judges the pool after its last change, never the pool before it.
* The policy keeps utilization near ``target``. **Hysteresis**, in value: it acts only
  when utilization leaves the band ``[low, high]`` around the target, so that the noise
  of a steady load near the target does not add and remove a machine every interval
  (*flapping*). When it acts it asks for as many machines as would bring utilization back
  to the target, ``ceil(serving * utilization / target)`` (Kubernetes' horizontal pod
  autoscaler's rule), clamped to ``[min_servers, max_servers]``. **Cooldown**: after a
  change the manager makes no other for ``cooldown`` seconds, so that it judges the
  effect of the last change (machines boot, queues drain) before the next. Hysteresis in
  time, the **stabilization window** (the autoscaler's own name for it in Kubernetes):
  the manager scales in only to the largest number of machines the policy asked for
  over the last ``stabilization`` seconds, so one low reading does not remove machines,
  and machines added for a burst (or for the backlog a burst left) are not removed
  before the burst is well over. Scaling out never waits for it: too few machines make
  queues grow, too many only cost money.
* How fast it follows a step in demand: a measured utilization is capped at 1, so one
  decision multiplies the serving machines by at most ``1 / target``; a step from ``n``
  to ``m`` machines' worth of load takes at most ``ceil(log(m / n) / log(1 / target))``
  decisions, each at most ``max(cooldown, window) + interval`` after the one before (the
  window must fill again after a change), and the last machines serve ``boot`` seconds
  after they were asked for (:meth:`TargetUtilization.step_bound`).

The manager notes ``"scale"`` (with ``servers`` before and ``to`` after) at each change,
which :func:`dsys.scaling.checkers.check_no_flapping` reads; it keeps a
:class:`PoolSample` per decision in ``history`` and each change in ``changes``.

Example:
    >>> policy = TargetUtilization(target=0.6, low=0.45, high=0.75)
    >>> policy.desired(10, 0.60), policy.desired(10, 0.74)     # inside the band: stay
    (10, 10)
    >>> policy.desired(10, 0.90), policy.desired(10, 0.30)     # back to the target
    (15, 5)
    >>> TargetUtilization(target=0.6, low=0.6, high=0.6).desired(10, 0.61)  # no band
    11
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import attrs

from dsys.core.node import Node
from dsys.errors import ConfigError, UsageError
from dsys.scaling.balancer import AddServer, Drained, RemoveServer
from dsys.scaling.server import Activate, Deactivate, LoadReport, Ready

__all__ = ["PoolManager", "PoolSample", "TargetUtilization"]


@attrs.frozen
class TargetUtilization:
    """Keep utilization near ``target``; act only outside ``[low, high]``; wait
    ``cooldown`` seconds after each change; scale in only to the most machines wanted
    over the last ``stabilization`` seconds; never fewer than ``min_servers`` nor more
    than ``max_servers`` (None: as many as the pool has)."""

    target: float = 0.6
    low: float = 0.45
    high: float = 0.75
    cooldown: float = 10.0
    stabilization: float = 30.0
    min_servers: int = 1
    max_servers: int | None = None

    def __attrs_post_init__(self) -> None:
        if not 0 < self.low <= self.target <= self.high < 1:
            raise ConfigError(
                "an autoscaler needs 0 < low <= target <= high < 1 (utilizations), got "
                f"low={self.low!r}, target={self.target!r}, high={self.high!r}")
        if not 0 <= self.cooldown < math.inf:
            raise ConfigError(f"cooldown must be >= 0 seconds, got {self.cooldown!r}")
        if not 0 <= self.stabilization < math.inf:
            raise ConfigError(
                f"stabilization must be >= 0 seconds, got {self.stabilization!r}")
        if isinstance(self.min_servers, bool) or not isinstance(self.min_servers, int) or (
                self.min_servers < 1):
            raise ConfigError(f"min_servers must be an int >= 1, got {self.min_servers!r}")
        if self.max_servers is not None and (
                not isinstance(self.max_servers, int) or self.max_servers < self.min_servers):
            raise ConfigError(f"max_servers must be an int >= min_servers ({self.min_servers})"
                              f" or None, got {self.max_servers!r}")

    @property
    def hysteresis(self) -> bool:
        """True if the policy has hysteresis: a band to stay in (``low < high``) or a
        stabilization window."""
        return self.low < self.high or self.stabilization > 0

    def desired(self, servers: int, utilization: float) -> int:
        """How many servers to have when ``servers`` serve at ``utilization``."""
        if self.low <= utilization <= self.high:
            wanted = servers
        else:
            # The small epsilon keeps float noise (0.6 * 10 / 0.6 = 10.000000000000002)
            # from asking for one server too many.
            wanted = math.ceil(servers * utilization / self.target - 1e-9)
        if self.max_servers is not None:
            wanted = min(wanted, self.max_servers)
        return max(wanted, self.min_servers)

    def step_bound(self, before: int, after: int, *, interval: float, window: float,
                   boot: float) -> float:
        """Seconds after a step in demand from ``before`` to ``after`` servers' worth of
        load (at the target) by which enough servers serve (see the module docstring):
        each decision waits for the cooldown and a full window since the last change,
        then for the next decision tick; one more wait for a window that straddles the
        step, and ``boot`` for the last machines.

        >>> TargetUtilization(target=0.6, cooldown=10).step_bound(
        ...     2, 6, interval=1, window=4, boot=3)
        47.0
        """
        if after <= before:
            raise UsageError(f"a step up needs after > before, got {before} -> {after}")
        decisions = math.ceil(math.log(after / before) / math.log(1 / self.target) - 1e-9)
        wait = max(self.cooldown, window) + interval
        return float((decisions + 1) * wait + boot)


@attrs.frozen
class PoolSample:
    """The pool at one decision: ``time``, machines ``serving``, ``booting`` and
    ``draining``, the ``utilization`` measured over the last interval (NaN: no report),
    and the number of serving machines the policy asked for (``desired``)."""

    time: float
    serving: int
    booting: int
    draining: int
    utilization: float
    desired: int


class PoolManager(Node):
    """The manager of a pool of ``servers`` behind ``balancer``.

    Args:
        balancer: the balancer's node id.
        servers: every machine of the pool. The first ``initial`` (in the given order)
            serve from the start: build them with ``Server(active=True, manager=ID)``;
            build the others with ``active=False``.
        initial: how many serve at the start.
        policy: the autoscaling policy; None for a pool changed only by hand
            (:meth:`scale_to`).
        interval: seconds between decisions.
        window: seconds of load reports a decision averages (default: one interval).
    """

    def __init__(self, balancer: str, servers: Sequence[str], *, initial: int = 1,
                 policy: TargetUtilization | None = None, interval: float = 1.0,
                 window: float | None = None) -> None:
        super().__init__()
        machines = list(servers)
        if len(set(machines)) != len(machines) or not machines:
            raise ConfigError(f"a pool needs distinct servers, got {machines!r}")
        if isinstance(initial, bool) or not isinstance(initial, int) or not (
                0 <= initial <= len(machines)):
            raise ConfigError(f"initial must be an int from 0 to {len(machines)}, "
                              f"got {initial!r}")
        if not 0 < interval < math.inf:
            raise ConfigError(f"interval must be > 0 seconds, got {interval!r}")
        window = interval if window is None else window
        if not interval <= window < math.inf:
            raise ConfigError(f"window must be at least one interval ({interval} s), "
                              f"got {window!r}")
        self.balancer = balancer
        self.machines = tuple(machines)
        self.policy = policy
        self.interval = interval
        self.window = window
        #: Each machine's state: "off", "booting", "serving" or "draining".
        self.state = {m: "serving" if i < initial else "off" for i, m in enumerate(machines)}
        self._serving_order = list(machines[:initial])  # the last to serve leaves first
        self._busy = 0.0
        self._available = 0.0
        # (time, busy, available) of each interval, the last ``window`` seconds of them
        self._periods: deque[tuple[float, float, float]] = deque()
        self._fresh_since = 0.0
        # (time, machines the policy wanted) of the decisions of the stabilization window
        self._wanted: deque[tuple[float, int]] = deque()
        self.last_change = -math.inf
        self.history: list[PoolSample] = []
        #: Every change: (time, machines in service or booting before, after).
        self.changes: list[tuple[float, int, int]] = []

    def count(self, state: str) -> int:
        """How many machines are in ``state``."""
        return sum(1 for s in self.state.values() if s == state)

    @property
    def serving(self) -> tuple[str, ...]:
        """The machines in service, in the order they started serving."""
        return tuple(self._serving_order)

    # ----- handlers ---------------------------------------------------------------------------

    def on_start(self) -> None:
        if self.policy is not None:
            self.set_timer("decide", self.interval)

    def on_message(self, src: str, msg: object) -> None:
        if isinstance(msg, LoadReport):
            if self.state.get(src) == "serving":
                self._busy += msg.busy
                self._available += msg.elapsed * msg.workers
        elif isinstance(msg, Ready):
            if self.state.get(src) == "booting":
                self.state[src] = "serving"
                self._serving_order.append(src)
                self.send(self.balancer, AddServer(src))
        elif isinstance(msg, Drained) and self.state.get(msg.server) == "draining":
            self.state[msg.server] = "off"
            self.send(msg.server, Deactivate())

    def on_timer(self, name: str) -> None:
        if name == "decide" and self.policy is not None:
            self.set_timer("decide", self.interval)
            self._decide(self.policy)

    # ----- scaling ------------------------------------------------------------------------------

    def scale_to(self, servers: int) -> None:
        """Ask for ``servers`` machines in service (booting ones count): turn on the
        first machines that are off, or drain the last to have started serving."""
        provisioned = self.count("serving") + self.count("booting")
        before = provisioned
        if servers > provisioned:
            for machine in [m for m in self.machines if self.state[m] == "off"][
                    :servers - provisioned]:
                self.state[machine] = "booting"
                self.send(machine, Activate())
        elif servers < provisioned:
            for machine in self._serving_order[::-1][:provisioned - servers]:
                self.state[machine] = "draining"
                self._serving_order.remove(machine)
                self.send(self.balancer, RemoveServer(machine))
        after = self.count("serving") + self.count("booting")
        if after != before:
            self.last_change = self.now
            self._restart_window()
            self.changes.append((self.now, before, after))
            self.note("scale", servers=before, to=after)

    def _restart_window(self) -> None:
        self._periods.clear()
        self._busy = self._available = 0.0
        self._fresh_since = self.now

    def utilization(self) -> float:
        """The serving machines' utilization over the last ``window`` seconds (NaN if
        none reported)."""
        periods = self._periods
        while periods and periods[0][0] <= self.now - self.window + 1e-9:
            periods.popleft()
        available = sum(p[2] for p in periods)
        return sum(p[1] for p in periods) / available if available else math.nan

    def _decide(self, policy: TargetUtilization) -> None:
        now, serving = self.now, self.count("serving")
        self._periods.append((now, self._busy, self._available))
        self._busy = self._available = 0.0
        utilization = self.utilization()
        measured = not math.isnan(utilization) and now - self._fresh_since >= (
            self.window - 1e-9)
        desired = policy.desired(serving, utilization) if measured else serving
        self.history.append(PoolSample(now, serving, self.count("booting"),
                                       self.count("draining"), utilization, desired))
        if not measured:
            return  # no full window since the last change: no opinion yet
        self._wanted.append((now, desired))
        while self._wanted[0][0] < now - policy.stabilization - 1e-9:
            self._wanted.popleft()  # older than the window (the one just made stays)
        if now - self.last_change < policy.cooldown:
            return
        provisioned = serving + self.count("booting")
        stable = max(wanted for _, wanted in self._wanted)  # the stabilization window
        if desired > provisioned:
            self.scale_to(desired)
        elif stable < serving and provisioned == serving:
            self.scale_to(stable)
