"""The φ accrual failure detector (Hayashibara, Défago, Yared and Katayama, SRDS 2004).

A heartbeat detector answers *yes or no* after a fixed timeout. An accrual detector
answers *how much*: a suspicion level φ that grows continuously while a member is silent,
scaled by how that member's heartbeats usually arrive. The application picks a threshold
Φ: a member is suspected while ``φ > Φ``.

How φ is computed (§4 of the paper): the monitor keeps a sliding window of the last
``window`` inter-arrival times of a member's heartbeats and fits a normal distribution
(mean mu, standard deviation sigma) to it. ``t`` seconds after the last heartbeat,

    φ(t) = -log10( P_later(t) ),   P_later(t) = 1 - F(t) = probability that a heartbeat
                                                      arrives more than t after the last

so φ = 1 means "a heartbeat this late happens once in 10", φ = 8 "once in 10⁸". Because
mu and sigma are learned, the same threshold means the same risk of a wrong suspicion on a
fast, regular link and on a slow, jittery one: the timeout adapts.

Defaults are those of Akka's cluster failure detector and Cassandra: Φ = 8
(``threshold = 8.0`` in Akka's ``reference.conf``, ``phi_convict_threshold: 8`` in
``cassandra.yaml``), a window of 1,000 samples (Akka's ``max-sample-size``, Cassandra's
arrival window), and sigma never below 100 ms (Akka's ``min-std-deviation``: a very regular
link would otherwise make φ jump on the first late heartbeat). Akka also adds an
``acceptable-heartbeat-pause`` (3 s) to mu; here ``acceptable_pause`` defaults to 0, the
paper's detector. (Cassandra fits an exponential distribution rather than a normal one.)

Example:
    >>> from dsys import Node, Simulation
    >>> from dsys.failure import PhiAccrualDetector
    >>> class Server(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.detector = self.add_component(PhiAccrualDetector(interval=0.1))
    >>> sim = Simulation(seed=5)
    >>> for name in ("a", "b"):
    ...     sim.add_node(name, Server)
    >>> sim.at(2.0, lambda: sim.crash("b"))
    >>> sim.run(until=2.05)
    >>> sim.node("a").detector.phi("b") < 1.0
    True
    >>> sim.run(until=4.0)
    >>> sim.node("a").detector.suspected()
    ('b',)
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from dsys.errors import UsageError
from dsys.failure.base import FailureDetector, PeerCallback
from dsys.failure.heartbeat import Heartbeat

#: φ is capped here: ``P_later`` below 10⁻³⁰⁰ is beyond what a float holds.
PHI_MAX = 300.0


def phi_of(elapsed: float, mean: float, std: float) -> float:
    """φ for a member silent for ``elapsed`` seconds whose heartbeats arrive every
    ``mean`` ± ``std`` seconds (normal distribution): ``-log10(1 - F(elapsed))``.

    Example:
        >>> round(phi_of(1.0, mean=1.0, std=0.1), 3)   # exactly on time: P_later = 1/2
        0.301
        >>> round(phi_of(1.5, mean=1.0, std=0.1), 1)   # 5 sigma late
        6.5
    """
    # 1 - F(t) for a normal distribution, through erfc (exact, and accurate in the tail
    # where 1 - F would round to 0).
    p_later = 0.5 * math.erfc((elapsed - mean) / (std * math.sqrt(2.0)))
    if p_later <= 0.0:
        return PHI_MAX
    return min(PHI_MAX, -math.log10(p_later))


class ArrivalWindow:
    """The last ``size`` inter-arrival times of one member's heartbeats, with their mean
    and standard deviation kept up to date in O(1) per arrival.

    Example:
        >>> window = ArrivalWindow(size=3)
        >>> for t in (1.0, 2.0, 3.0, 4.5):
        ...     window.arrived(t)
        >>> window.intervals(), window.mean
        ((1.0, 1.0, 1.5), 1.1666666666666667)
    """

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self.last: float | None = None
        self._samples: deque[float] = deque()
        self._sum = 0.0
        self._squares = 0.0

    def arrived(self, now: float) -> None:
        """A heartbeat arrived at ``now``: record the interval since the previous one."""
        if self.last is not None:
            self.add(now - self.last)
        self.last = now

    def add(self, interval: float) -> None:
        """Record one inter-arrival time (the oldest falls out of a full window)."""
        self._samples.append(interval)
        self._sum += interval
        self._squares += interval * interval
        if len(self._samples) > self.size:
            old = self._samples.popleft()
            self._sum -= old
            self._squares -= old * old

    def intervals(self) -> tuple[float, ...]:
        """The intervals in the window, oldest first."""
        return tuple(self._samples)

    @property
    def mean(self) -> float:
        """The mean interval (0 when empty)."""
        return self._sum / len(self._samples) if self._samples else 0.0

    @property
    def std(self) -> float:
        """The standard deviation of the intervals (0 when empty)."""
        if not self._samples:
            return 0.0
        mean = self.mean
        return math.sqrt(max(0.0, self._squares / len(self._samples) - mean * mean))


class PhiAccrualDetector(FailureDetector):
    """Suspect a member while its φ exceeds ``threshold`` (all-to-all heartbeats).

    Every ``interval`` seconds each member sends a :class:`Heartbeat` to every other and
    re-reads φ of every member it monitors. The window of each member starts with two
    samples around ``interval`` (mean ``interval``, sigma ``interval / 4``, as Akka does with
    its ``first-heartbeat-estimate``) so φ makes sense before real samples arrive.
    ``min_std`` floors sigma; ``acceptable_pause`` is added to mu (Akka's margin for pauses).

    Example:
        >>> from dsys.failure import PhiAccrualDetector
        >>> detector = PhiAccrualDetector()
        >>> detector.threshold, detector.window, detector.min_std
        (8.0, 1000, 0.1)
    """

    messages = (Heartbeat,)

    def __init__(self, interval: float = 1.0, threshold: float = 8.0, *,
                 window: int = 1000, min_std: float = 0.1, acceptable_pause: float = 0.0,
                 members: Iterable[str] | None = None,
                 on_suspect: PeerCallback | None = None,
                 on_alive: PeerCallback | None = None) -> None:
        super().__init__(members, on_suspect=on_suspect, on_alive=on_alive)
        if not interval > 0 or not threshold > 0 or window < 2 or min_std < 0:
            raise UsageError("PhiAccrualDetector needs interval > 0, threshold > 0, "
                             f"window >= 2 and min_std >= 0; got interval={interval!r}, "
                             f"threshold={threshold!r}, window={window!r}, "
                             f"min_std={min_std!r}")
        self.interval = interval
        self.threshold = threshold
        self.window = window
        self.min_std = min_std
        self.acceptable_pause = acceptable_pause
        self.arrivals: dict[str, ArrivalWindow] = {}

    def on_start(self) -> None:
        """Start every member's window as if a heartbeat just arrived, and start beating."""
        super().on_start()
        self.arrivals = {}
        for peer in self.members:
            self._new_window(peer)
        self._beat()

    def on_timer(self, name: str) -> None:
        """``beat``: send heartbeats, then suspect every member whose φ is over threshold."""
        if name == "beat":
            self._beat()

    def on_message(self, src: str, msg: object) -> None:
        """A heartbeat: one more sample; a suspected member is trusted again."""
        if isinstance(msg, Heartbeat) and src in self.arrivals:
            self.arrivals[src].arrived(self.now)
            self.mark_alive(src)

    def phi(self, peer: str) -> float:
        """The suspicion level of ``peer`` now (0 for a member not monitored).

        Example:
            >>> from dsys.failure import PhiAccrualDetector
            >>> PhiAccrualDetector().arrivals   # filled when the node starts
            {}
        """
        window = self.arrivals.get(peer)
        if window is None or window.last is None:
            return 0.0
        mean = window.mean + self.acceptable_pause
        std = max(window.std, self.min_std)
        return phi_of(self.now - window.last, mean, std)

    def add_member(self, peer: str) -> None:
        """Monitor ``peer`` too, its window starting now."""
        super().add_member(peer)
        if peer in self.members and peer not in self.arrivals:
            self._new_window(peer)

    def remove_member(self, peer: str) -> None:
        """Stop monitoring ``peer``."""
        super().remove_member(peer)
        self.arrivals.pop(peer, None)

    def _new_window(self, peer: str) -> None:
        window = ArrivalWindow(self.window)
        # Two samples, interval ± interval/4: mean = interval, sigma = interval/4.
        window.add(self.interval * 0.75)
        window.add(self.interval * 1.25)
        window.last = self.now
        self.arrivals[peer] = window

    def _beat(self) -> None:
        for peer in self.members:
            self.send(peer, Heartbeat())
        for peer in self.members:
            if self.phi(peer) > self.threshold:
                self.mark_suspected(peer)
        self.set_timer("beat", self.interval)
