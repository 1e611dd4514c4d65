"""Request generators: open loop (Poisson arrivals at a rate) and closed loop (users).

* :class:`OpenLoop` sends requests as a Poisson process whose rate may change over time
  (a :class:`RateSchedule`), whatever happens to the earlier ones: the way independent
  users arrive at a web service. If the servers cannot keep up, queues grow without
  bound; that is what an open loop is for (utilization above 1 has no steady state).
* :class:`ClosedLoop` runs ``users`` users, each with one request in flight: send, wait
  for the answer, think, send again. It can never overload the system; when the system
  slows down, it sends less. Throughput measurements use it.

Both record every answered request as a :class:`Completion` (when it was sent, its
latency, which server served it) in ``completions``, count rejections, and note
``"issue"`` and ``"answer"`` (or ``"rejected"``) with the request's id in the trace, for
:func:`dsys.scaling.checkers.check_every_request_answered`. With a ``timeout``, a
generator gives up on a request not answered within that many seconds: it counts it in
``failed``, notes ``"failed"``, and ignores an answer that comes later (a closed-loop
user then goes on), so a client never hangs on a balancer that died. Each request carries a key
drawn uniformly from ``keys`` keys (``"k0"``, ``"k1"``...), for sticky routing.

Time-varying Poisson arrivals are drawn by *thinning* (Lewis and Shedler 1979):
candidates come at the schedule's peak rate and each is kept with probability
``rate(t) / peak``, which gives exactly a Poisson process of rate ``rate(t)``.

Example:
    >>> ramp = RateSchedule(((0, 10.0), (60, 50.0), (120, 10.0)))
    >>> ramp.at(30), ramp.at(60), ramp.at(200), ramp.peak
    (30.0, 50.0, 10.0, 50.0)
    >>> step = RateSchedule(((0, 10.0), (5, 10.0), (5, 40.0)))   # a step at t = 5
    >>> step.at(4.99), step.at(5)
    (10.0, 40.0)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import attrs

from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.scaling.balancer import Rejected
from dsys.scaling.server import Reply, Request
from dsys.scaling.service import ServiceTime, as_service_time

__all__ = ["ClosedLoop", "Completion", "OpenLoop", "RateSchedule", "percentile"]


def _finite(what: str, value: object, *, low: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or value < low or (strict and value == low):
        sign = ">" if strict else ">="
        raise ConfigError(f"{what} must be a finite number {sign} {low:g}, got {value!r}")
    return float(value)


def _points(points: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    try:
        return tuple((float(t), float(r)) for t, r in points)
    except (TypeError, ValueError):
        raise ConfigError(f"a rate schedule is a sequence of (time, rate) pairs, got "
                          f"{points!r}") from None


@attrs.frozen
class RateSchedule:
    """A rate (requests per second) over time: ``points`` are ``(time, rate)`` pairs in
    time order, joined by straight lines, constant before the first and after the last.
    Two points at one time make a step."""

    points: tuple[tuple[float, float], ...] = attrs.field(converter=_points)

    def __attrs_post_init__(self) -> None:
        if not self.points:
            raise ConfigError("a rate schedule needs at least one (time, rate) point")
        for t, r in self.points:
            _finite("a schedule's time", t)
            _finite("a schedule's rate", r)
        times = [t for t, _ in self.points]
        if times != sorted(times):
            raise ConfigError(f"a rate schedule's times must not decrease, got {times}")
        if self.peak <= 0:
            raise ConfigError("a rate schedule needs a rate > 0 somewhere")

    @classmethod
    def constant(cls, rate: float) -> RateSchedule:
        """The same ``rate`` at all times."""
        return cls(((0.0, rate),))

    @property
    def peak(self) -> float:
        """The highest rate."""
        return max(r for _, r in self.points)

    def at(self, t: float) -> float:
        """The rate at time ``t``."""
        points = self.points
        at = bisect.bisect_right([p[0] for p in points], t)
        if at == 0:
            return points[0][1]
        if at == len(points):
            return points[-1][1]
        (t0, r0), (t1, r1) = points[at - 1], points[at]
        return r0 + (r1 - r0) * (t - t0) / (t1 - t0)


@attrs.frozen
class Completion:
    """One answered request: its ``id`` and ``key``, when it was ``sent``, its
    ``latency`` (seconds from sending to the answer), and the ``server`` that served it."""

    id: int
    key: str
    sent: float
    latency: float
    server: str


class _Generator(Node):
    """What both generators share: requests, keys, completions, notes."""

    def __init__(self, target: str, keys: int, until: float | None,
                 timeout: float | None = None) -> None:
        super().__init__()
        if not isinstance(target, str) or not target:
            raise ConfigError(f"target must be a node id, got {target!r}")
        if isinstance(keys, bool) or not isinstance(keys, int) or keys < 1:
            raise ConfigError(f"keys must be an int >= 1, got {keys!r}")
        self.target = target
        self.keys = keys
        self.until = None if until is None else _finite("until", until)
        self.timeout = None if timeout is None else _finite("timeout", timeout, strict=True)
        self.completions: list[Completion] = []
        self.rejected = 0
        #: Requests given up on after ``timeout`` seconds without an answer.
        self.failed = 0
        self.issued = 0
        self._expiring = False
        #: Requests sent and not answered yet: id -> (when sent, key).
        self.in_flight: dict[int, tuple[float, str]] = {}

    def stopped(self) -> bool:
        """True once the generator's time is up."""
        return self.until is not None and self.now >= self.until

    def issue(self) -> int:
        """Send the next request (a random key) to the target; return its id."""
        request_id = self.issued
        self.issued += 1
        key = f"k{self.rng.randrange(self.keys)}"
        self.in_flight[request_id] = (self.now, key)
        self.note("issue", id=request_id)
        self.send(self.target, Request(request_id, key))
        if self.timeout is not None and not self._expiring:
            self._expiring = True
            self.set_timer("give-up", self.timeout)
        return request_id

    def give_up(self) -> None:
        """Fail every request sent ``timeout`` seconds ago or more (the ``"give-up"``
        timer; ids are issued in time order, so the oldest come first)."""
        timeout = self.timeout
        assert timeout is not None
        now = self.now
        due = []
        for request_id, (sent, _) in self.in_flight.items():
            if sent + timeout > now + 1e-9:
                break
            due.append(request_id)
        for request_id in due:
            del self.in_flight[request_id]
            self.failed += 1
            self.note("failed", id=request_id, reason=f"no answer within {timeout:g} s")
            self.answered(request_id)
        if self.in_flight:
            first = self.in_flight[next(iter(self.in_flight))][0]
            self.set_timer("give-up", max(0.0, first + timeout - now))
        else:
            self._expiring = False

    def on_message(self, src: str, msg: object) -> None:
        if type(msg) is Reply:
            assert isinstance(msg, Reply)
            asked = self.in_flight.pop(msg.id, None)
            if asked is None:
                return  # a copy of an answer already counted
            sent, key = asked
            self.note("answer", id=msg.id, server=msg.server)
            self.completions.append(Completion(msg.id, key, sent, self.now - sent, msg.server))
            self.answered(msg.id)
        elif isinstance(msg, Rejected) and self.in_flight.pop(msg.id, None) is not None:
            self.rejected += 1
            self.note("rejected", id=msg.id, reason=msg.reason)
            self.answered(msg.id)

    def answered(self, request_id: int) -> None:
        """Called when request ``request_id`` was answered (or rejected)."""


class OpenLoop(_Generator):
    """Poisson arrivals at ``rate`` requests per second (a number or a
    :class:`RateSchedule`), sent to ``target`` until ``until`` (or forever), at most
    ``limit`` of them if given, giving up on each after ``timeout`` seconds if given.

    Example:
        >>> from dsys import Simulation
        >>> from dsys.scaling import Server
        >>> sim = Simulation(seed=3)
        >>> sim.add_node("s", lambda: Server(0.001))
        >>> sim.add_node("gen", lambda: OpenLoop("s", rate=100.0, until=10.0))
        >>> sim.run(until=11.0)
        >>> gen = sim.node("gen")
        >>> gen.issued, len(gen.completions), len(gen.in_flight)
        (960, 960, 0)
    """

    def __init__(self, target: str, rate: float | RateSchedule, *, keys: int = 1000,
                 until: float | None = None, limit: int | None = None,
                 timeout: float | None = None) -> None:
        super().__init__(target, keys, until, timeout)
        self.rate = rate if isinstance(rate, RateSchedule) else RateSchedule.constant(
            _finite("rate", rate, strict=True))
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 0):
            raise ConfigError(f"limit must be an int >= 0 or None, got {limit!r}")
        self.limit = limit

    def on_start(self) -> None:
        self.set_timer("arrive", self.rng.expovariate(self.rate.peak))

    def on_timer(self, name: str) -> None:
        if name == "give-up":
            self.give_up()
            return
        if name != "arrive" or self.stopped() or (
                self.limit is not None and self.issued >= self.limit):
            return
        rate, peak = self.rate.at(self.now), self.rate.peak
        if rate >= peak or self.rng.random() * peak < rate:
            self.issue()
        self.set_timer("arrive", self.rng.expovariate(peak))


class ClosedLoop(_Generator):
    """``users`` users, each with one request in flight to ``target``: after each answer
    a user thinks for a time drawn from ``think`` (0: sends again at once; a number is an
    exponential's mean), until ``until``; a user gives up on a request after ``timeout``
    seconds if given.

    Example:
        >>> from dsys import Simulation
        >>> from dsys.scaling import Constant, Server
        >>> sim = Simulation(seed=3)
        >>> sim.add_node("s", lambda: Server(Constant(0.010)))
        >>> sim.add_node("gen", lambda: ClosedLoop("s", users=1, until=1.0))
        >>> sim.run(until=2.0)
        >>> len(sim.node("gen").completions)     # one at a time: 10 ms + 2 x 1-10 ms
        47
    """

    def __init__(self, target: str, users: int, *, think: ServiceTime | float = 0.0,
                 keys: int = 1000, until: float | None = None,
                 timeout: float | None = None) -> None:
        super().__init__(target, keys, until, timeout)
        if isinstance(users, bool) or not isinstance(users, int) or users < 1:
            raise ConfigError(f"users must be an int >= 1, got {users!r}")
        self.users = users
        self.think = None if think == 0 else as_service_time(think)
        self._user_of: dict[int, int] = {}
        self._timers = [f"user-{u}" for u in range(users)]

    def on_start(self) -> None:
        for user in range(self.users):
            self._send_for(user)

    def on_timer(self, name: str) -> None:
        if name.startswith("user-"):
            self._send_for(int(name[5:]))
        elif name == "give-up":
            self.give_up()

    def answered(self, request_id: int) -> None:
        user = self._user_of.pop(request_id)
        if self.think is None:
            self._send_for(user)
        else:
            self.set_timer(self._timers[user], self.think.sample(self.rng))

    def _send_for(self, user: int) -> None:
        if not self.stopped():
            self._user_of[self.issue()] = user


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0 to 1) of ``values``, nearest rank (NaN if empty).

    >>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5), percentile(range(1, 101), 0.99)
    (3.0, 99)
    """
    if not 0 <= q <= 1:
        raise ConfigError(f"a quantile is between 0 and 1, got {q!r}")
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
