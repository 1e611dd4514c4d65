"""Cristian's algorithm (Flaviu Cristian, *Probabilistic clock synchronization*,
Distributed Computing 3, 1989).

A client synchronises its clock to a time server's:

1. the client sends a request, noting the time ``t0`` on its own clock;
2. the server answers with its current time ``T``;
3. the reply arrives at ``t1``; the round trip took ``rtt = t1 - t0``. The server read its
   clock somewhere in that interval, so the client's best estimate of the server's time
   *now* is ``T + rtt/2``, and the error of that estimate is at most ``rtt/2 - min``,
   where ``min`` is the smallest possible one-way delay (see
   :func:`~dsys.clocks.physical.round_trip_bound` for the drift term).

A short round trip gives a tight bound, so the client keeps asking and adopts a new
estimate only when its bound beats the current one (which grows as the clocks drift
apart): the "probabilistic" part of the paper, which retries until a reading is precise
enough.

Example:
    >>> from dsys import Clock, Node, Simulation
    >>> class TimeServer(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.add_component(CristianServer())
    >>> class Laptop(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.sync = self.add_component(
    ...             CristianClient("server", min_delay=0.001, max_drift=1e-4))
    >>> sim = Simulation(seed=4)                       # latency: 1 to 10 ms
    >>> sim.add_node("server", TimeServer)
    >>> sim.add_node("laptop", Laptop, clock=Clock(offset=3.0, drift=1e-4))
    >>> sim.run(until=5.0)
    >>> laptop = sim.node("laptop").sync
    >>> error = abs(laptop.adjusted_now - sim.node("server").now)
    >>> error <= laptop.error_bound < 0.005            # within its claim, a few ms
    True
"""

from __future__ import annotations

from typing import Any

from dsys.clocks.physical import SyncedClock, round_trip_bound
from dsys.core.messages import message
from dsys.core.node import Component


@message
class TimeRequest:
    """The client asks the server for its time (``seq`` matches the reply)."""

    seq: int


@message
class TimeReply:
    """The server's clock reading ``time`` for request ``seq``."""

    seq: int
    time: float


class CristianServer(Component):
    """The time server: answers every :class:`TimeRequest` with its clock (``node.now``)."""

    messages = (TimeRequest,)
    default_name = "time-server"

    def on_message(self, src: str, msg: Any) -> None:
        self.send(src, TimeReply(msg.seq, self.now))


class CristianClient(SyncedClock):
    """Synchronises this node's :attr:`adjusted_now` to the clock of ``server``.

    Args:
        server: the time server's node id.
        interval: seconds (of this node's clock) between requests.
        min_delay: the smallest one-way message delay the network can have (known from
            its specification; 0 is always safe but gives a looser bound).
        max_drift: the largest rate error of any clock involved (1e-4 = 100 ppm).

    Each adopted estimate is noted in the trace: ``note("clock_sync", ...)``.
    """

    messages = (TimeReply,)
    default_name = "cristian"

    #: How many unanswered requests to remember (older replies are ignored).
    REMEMBER = 16

    def __init__(self, server: str, *, interval: float = 1.0, min_delay: float = 0.0,
                 max_drift: float = 0.0) -> None:
        super().__init__(max_drift=max_drift)
        if not interval > 0 or min_delay < 0:
            raise ValueError(f"need interval > 0 and min_delay >= 0, got {interval}, {min_delay}")
        self.server = server
        self.interval = interval
        self.min_delay = min_delay

    def on_start(self) -> None:
        self.seq = 0
        self.sent_at: dict[int, float] = {}  # request seq -> hardware clock at sending
        self.request()

    def request(self) -> None:
        """Ask the server for its time now (also done every ``interval`` seconds)."""
        self.seq += 1
        self.sent_at[self.seq] = self.now
        self.sent_at.pop(self.seq - self.REMEMBER, None)
        self.send(self.server, TimeRequest(self.seq))
        self.set_timer("request", self.interval)

    def on_timer(self, name: str) -> None:
        self.request()

    def on_message(self, src: str, msg: Any) -> None:
        t0 = self.sent_at.get(msg.seq)
        if src != self.server or t0 is None:
            return  # not our server, or a reply to a request we no longer remember
        # A duplicated reply is still a valid sample: the server read its clock during
        # this round trip either way.
        t1 = self.now
        rtt = t1 - t0
        bound = round_trip_bound(rtt, self.min_delay, self.max_drift)
        if bound < 0:
            self.log(f"round trip {rtt:.6f}s is shorter than 2 x min_delay: "
                     "min_delay is set too high; sample ignored")
            return
        current = self.error_bound
        if current is None or bound < current:
            estimate = msg.time + rtt / 2  # the server's time now, at best
            self.correction = estimate - t1
            self._establish(bound, t1)
            self.note("clock_sync", rtt=rtt, correction=self.correction, bound=bound)
