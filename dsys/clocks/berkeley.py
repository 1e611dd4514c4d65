"""The Berkeley algorithm (Gusella and Zatti, *The Accuracy of the Clock Synchronization
Achieved by TEMPO in Berkeley UNIX 4.3BSD*, IEEE TSE 15(7), 1989).

There is no time server to trust: a *master* makes a group of machines agree with each
other. Every ``interval`` it runs a round:

1. **poll**: the master asks every member for its clock (``Poll``), noting when it asked;
2. **estimate**: from each answer ``T`` and the round trip ``rtt`` it estimates the
   member's offset from its own clock, ``d = T + rtt/2 - now``, with error at most
   ``rtt/2 - min`` as in Cristian's algorithm;
3. **fault-tolerant average**: it takes the largest set of clocks (its own, offset 0,
   included) whose offsets lie within ``tolerance`` of each other, and averages their
   offsets: a clock that is far off (a broken machine) cannot drag the group's time
   (the paper's fault-tolerant averaging);
4. **adjust**: it tells each member how much to *change* its clock, ``average - d``, and
   changes its own by ``average``. Sending a difference rather than a time makes the
   adjustment independent of how long the message takes to arrive. Outliers get an
   adjustment too, which brings them back into the group.

After a round every member is within its estimate's error of the master (the master
sends that error with the adjustment), so two members that applied the same round are
within the sum of their errors of each other, plus what drift adds since.

The master is called a "master" and members "slaves" in the paper; here they are
:class:`BerkeleyMaster` and :class:`BerkeleyFollower`.

Example:
    >>> from dsys import Clock, Node, Simulation
    >>> class Master(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.sync = self.add_component(BerkeleyMaster(min_delay=0.001))
    >>> class Member(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.sync = self.add_component(BerkeleyFollower())
    >>> sim = Simulation(seed=2)
    >>> sim.add_node("m", Master)
    >>> sim.add_node("a", Member, clock=Clock(offset=0.030))
    >>> sim.add_node("b", Member, clock=Clock(offset=-0.015))
    >>> sim.run(until=2.5)
    >>> times = [sim.node(n).sync.adjusted_now for n in ("m", "a", "b")]
    >>> max(times) - min(times) < 0.01                  # they agree within milliseconds
    True
    >>> mean_offset = (0.0 + 0.030 - 0.015) / 3        # the group settles on the mean
    >>> abs(times[0] - (sim.now + mean_offset)) < 0.01
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dsys.clocks.physical import SyncedClock, round_trip_bound
from dsys.core.messages import message


@message
class Poll:
    """The master asks for the member's clock, in round ``round``."""

    round: int


@message
class Reading:
    """A member's (adjusted) clock ``time`` when it answered the poll of ``round``."""

    round: int
    time: float


@message
class Adjust:
    """Change your clock by ``delta``; afterwards you are within ``error`` of the master
    (plus drift since you sent your reading)."""

    round: int
    delta: float
    error: float


def fault_tolerant_subset(offsets: Mapping[str, float], tolerance: float,
                          prefer: str | None = None) -> list[str]:
    """The largest set of clocks whose offsets are all within ``tolerance`` of each
    other, as sorted node ids. Ties go to the set containing ``prefer`` (the master),
    then to the earliest in offset order.

    Example:
        >>> fault_tolerant_subset({"m": 0.0, "a": 0.004, "b": -0.003, "x": 9.5}, 0.01)
        ['a', 'b', 'm']
    """
    ranked = sorted(offsets.items(), key=lambda item: (item[1], item[0]))
    best: list[str] = []
    best_has_preferred = False
    end = 0
    # Slide a window over the offsets in increasing order: for each start, stretch the
    # end as far as the tolerance allows.
    for start in range(len(ranked)):
        end = max(end, start)
        while end + 1 < len(ranked) and ranked[end + 1][1] - ranked[start][1] <= tolerance:
            end += 1
        window = [node for node, _ in ranked[start:end + 1]]
        has_preferred = prefer in window
        if len(window) > len(best) or (
                len(window) == len(best) and has_preferred and not best_has_preferred):
            best, best_has_preferred = window, has_preferred
    return sorted(best)


class BerkeleyMaster(SyncedClock):
    """The master of a Berkeley group: polls every peer each round and adjusts all clocks.

    Args:
        interval: seconds between rounds.
        collect: how long to wait for readings before deciding (must be < interval).
        tolerance: clocks whose offsets differ by more than this are left out of the
            average (they are still adjusted).
        min_delay: the smallest one-way message delay of the network.
        max_drift: the largest rate error of any clock in the group.

    The master's own ``error_bound`` is 0 once it has run a round: it is the reference.
    ``round`` is the last round it completed. Each round is noted in the trace:
    ``note("berkeley_round", ...)``.
    """

    messages = (Reading,)
    default_name = "berkeley"

    def __init__(self, *, interval: float = 1.0, collect: float = 0.1, tolerance: float = 0.05,
                 min_delay: float = 0.0, max_drift: float = 0.0) -> None:
        super().__init__(max_drift=max_drift)
        if not 0 < collect < interval:
            raise ValueError(f"need 0 < collect < interval, got collect={collect}, "
                             f"interval={interval}")
        self.interval = interval
        self.collect = collect
        self.tolerance = tolerance
        self.min_delay = min_delay

    def on_start(self) -> None:
        self.round = 0  # the last completed round
        self.polling = 0  # the round in progress (0: none)
        self.polled_at: dict[str, float] = {}
        self.readings: dict[str, tuple[float, float]] = {}  # peer -> (offset, error)
        self.start_round()

    def start_round(self) -> None:
        """Poll every peer (also done every ``interval`` seconds)."""
        self.polling = self.round + 1
        self.readings = {}
        self.polled_at = {}
        for peer in self.peers:
            self.polled_at[peer] = self.now  # hardware clock: corrections do not jump it
            self.send(peer, Poll(self.polling))
        self.set_timer("decide", self.collect)
        self.set_timer("round", self.interval)

    def on_message(self, src: str, msg: Any) -> None:
        if msg.round != self.polling or src in self.readings or src not in self.polled_at:
            return  # late, duplicated, or not asked
        rtt = self.now - self.polled_at[src]
        offset = msg.time + rtt / 2 - self.adjusted_now  # member's clock minus mine
        self.readings[src] = (offset, round_trip_bound(rtt, self.min_delay, self.max_drift))

    def on_timer(self, name: str) -> None:
        if name == "round":
            self.start_round()
        elif name == "decide":
            self.decide()

    def decide(self) -> None:
        """Average the clocks that agree, then send every member its adjustment."""
        offsets = {self.id: 0.0} | {peer: o for peer, (o, _) in self.readings.items()}
        agreeing = fault_tolerant_subset(offsets, self.tolerance, prefer=self.id)
        average = sum(offsets[node] for node in agreeing) / len(agreeing)
        for peer, (offset, error) in sorted(self.readings.items()):
            self.send(peer, Adjust(self.polling, average - offset, error))
        self.correction += average
        self.round, self.polling = self.polling, 0
        self._establish(0.0, self.now)
        self.note("berkeley_round", round=self.round, average=average, used=agreeing,
                  outliers=sorted(set(offsets) - set(agreeing)))

    @property
    def error_bound(self) -> float | None:
        """0 after the first round (the master is the group's reference), else None."""
        return None if self._bound is None else 0.0


class BerkeleyFollower(SyncedClock):
    """A member of a Berkeley group: answers polls and applies adjustments.

    ``round`` is the last round whose adjustment it applied; its ``error_bound`` is
    relative to the master's clock as of that round.
    """

    messages = (Poll, Adjust)
    default_name = "berkeley"

    def __init__(self, *, max_drift: float = 0.0) -> None:
        super().__init__(max_drift=max_drift)

    def on_start(self) -> None:
        self.round = 0
        self.master: str | None = None
        self.answered = 0  # the latest poll answered
        self.answered_at = 0.0  # hardware clock when first answering it

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Poll):
            if msg.round > self.answered:
                self.master, self.answered, self.answered_at = src, msg.round, self.now
            self.send(src, Reading(msg.round, self.adjusted_now))
        # Apply only the adjustment for the reading we gave last: an older round's
        # adjustment arriving late was computed before our newer reading, which the next
        # adjustment will already account for.
        elif (isinstance(msg, Adjust) and src == self.master and msg.round == self.answered
              and msg.round > self.round):
            self.correction += msg.delta
            self.round = msg.round
            self._establish(msg.error, self.answered_at)
