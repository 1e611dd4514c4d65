"""Hybrid logical clocks (Kulkarni, Demirbas, Madappa, Avva, Leone: *Logical Physical
Clocks and Consistent Snapshots in Globally Distributed Databases*, OPODIS 2014).

A Lamport clock respects causality but has nothing to do with the time of day; a physical
clock is close to the time of day but can order a receipt before its send when clocks
are skewed. A hybrid logical clock (HLC) timestamp ``(l, c)`` is both:

* ``l`` is the largest physical time the node has heard of (its own clock ``pt`` or a
  timestamp that came in a message), so ``l`` stays within the clock skew ``ε`` of the
  node's physical clock: ``pt <= l <= pt + ε`` (``l >= pt`` by construction);
* ``c`` is a small counter that orders events with the same ``l`` (it is reset to 0
  whenever ``l`` moves forward);
* timestamps are compared lexicographically, and ``e → f`` implies
  ``(l, c)(e) < (l, c)(f)``, like a Lamport clock.

The rules are the paper's Figure 5, implemented by :meth:`HLCLayer.tick` (send or local
event) and :meth:`HLCLayer.on_receive` (receive event). Physical time is the node's own
(possibly skewed, drifting) clock ``node.now``, counted in whole ticks of ``resolution``
seconds (the paper uses NTP timestamps; milliseconds by default here), so that ``l`` is
an integer and ``c`` really counts events that fall in the same tick.

Example:
    >>> a, b = HLCTimestamp(1500, 0), HLCTimestamp(1500, 2)
    >>> a < b, max(a, b)
    (True, HLC(l=1500, c=2))
    >>> HLCTimestamp.from_json([1500, 2]) == b
    True
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from dsys.clocks.timestamps import STAMP_MAX, record_local, record_receive
from dsys.core.codec import INT_MAX, INT_MIN
from dsys.core.node import Layer


@attrs.frozen(order=True)
class HLCTimestamp:
    """A hybrid logical clock timestamp: ``l`` (physical part, in ticks) and ``c`` (the
    logical counter). Ordered lexicographically, hashable, immutable."""

    l: int  # noqa: E741 - the paper's name
    c: int

    def to_json(self) -> list[int]:
        """The stamp on the wire: ``[l, c]``."""
        return [self.l, self.c]

    @classmethod
    def from_json(cls, data: Any) -> HLCTimestamp:
        """Read ``[l, c]``; raise ValueError if it is anything else."""
        if (
            not isinstance(data, list | tuple)
            or len(data) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in data)
            or data[1] < 0
        ):
            raise ValueError(
                f"a hybrid logical clock timestamp is [l, c] with integer l and c >= 0, "
                f"got {data!r}"
            )
        return cls(data[0], data[1])

    def __repr__(self) -> str:
        return f"HLC(l={self.l}, c={self.c})"


class HLCLayer(Layer):
    """A hybrid logical clock for a node: ``node.add_layer(HLCLayer())``.

    * ``time``: the timestamp of the node's latest event (an :class:`HLCTimestamp`);
    * ``tick(what)``: a local event; returns its timestamp;
    * ``physical_time()``: ``pt``, the node's clock in ticks of ``resolution`` seconds;
    * every message carries ``[l, c]``; receipts follow the receive rule of Figure 5.

    With ``record=True`` receipts and local events are noted in the trace (with ``pt``)
    for :func:`~dsys.clocks.check_hlc`.

    Example:
        >>> from dsys import Clock, Node, Simulation, message
        >>> @message(name="doc:StampedNote")
        ... class Note:
        ...     pass
        >>> class Writer(Node):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.clock = self.add_layer(HLCLayer())
        ...     def on_start(self) -> None:
        ...         if self.id == "fast":
        ...             self.send("slow", Note())
        >>> sim = Simulation(seed=1)
        >>> sim.add_node("fast", Writer, clock=Clock(offset=0.250))  # 250 ms ahead
        >>> sim.add_node("slow", Writer)
        >>> sim.run(until=1.0)
        >>> sim.node("fast").clock.time     # l = its own clock: 250 ms
        HLC(l=250, c=0)
        >>> sim.node("slow").clock.time     # l jumps to the sender's l; c orders it after
        HLC(l=250, c=1)
    """

    name = "hlc"

    def __init__(self, *, resolution: float = 0.001, record: bool = True) -> None:
        if not resolution > 0:
            raise ValueError(f"resolution must be a positive number of seconds, got {resolution}")
        self.resolution = resolution
        self.record = record
        self._l: int | None = None  # None until the first event reads the physical clock
        self._c = 0

    @property
    def time(self) -> HLCTimestamp:
        """The timestamp of the latest event (``l`` = ``pt`` before any event)."""
        if self._l is None:
            return HLCTimestamp(self.physical_time(), 0)
        return HLCTimestamp(self._l, self._c)

    def physical_time(self) -> int:
        """``pt``: the node's own clock, in whole ticks."""
        return math.floor(self.node.now / self.resolution)

    def tick(self, what: str = "") -> HLCTimestamp:
        """A local event; returns its timestamp (same rule as a send)."""
        pt = self._send_or_local()
        if self.record:
            record_local(self, what, self.time.to_json(), pt=pt)
        return self.time

    # ----- Figure 5 ------------------------------------------------------------------

    def _send_or_local(self) -> int:
        """Send or local event: ``l' = l; l = max(l', pt); c = c + 1 if l == l' else 0``.

        Returns ``pt`` (for the trace). Before the first event there is no ``l'`` (the
        paper starts from 0, which is below any reading of a real clock).
        """
        pt = self.physical_time()
        old_l = self._l
        self._l = pt if old_l is None else max(old_l, pt)
        self._c = self._c + 1 if self._l == old_l else 0
        return pt

    def _receive(self, m: HLCTimestamp) -> int:
        """Receive event of message ``m``: ``l`` becomes the largest of the three physical
        times; ``c`` continues the counter of whichever ``l`` won (both, if tied)."""
        pt = self.physical_time()
        old_l, old_c = self._l, self._c
        self._l = max(m.l, pt) if old_l is None else max(old_l, m.l, pt)
        if self._l == old_l == m.l:
            self._c = max(old_c, m.c) + 1
        elif self._l == old_l:
            self._c = old_c + 1
        elif self._l == m.l:
            self._c = m.c + 1
        else:
            self._c = 0
        return pt

    # ----- the Layer interface ----------------------------------------------------------

    def stamp(self, dst: str, msg: object) -> list[int]:
        """A send is an event: apply the send rule, then carry ``[l, c]``."""
        self._send_or_local()
        return self.time.to_json()

    def on_receive(self, src: str, msg: object, stamp: Any) -> None:
        """A receipt: apply the receive rule to the carried timestamp."""
        if stamp is None:
            pt = self._send_or_local()  # no timestamp came: just an event
        else:
            try:
                m = HLCTimestamp.from_json(stamp)
            except ValueError as exc:
                # A peer's bug must not crash this node: count the message as unstamped.
                self.node.log(f"hlc: ignored invalid stamp from {src}: {exc}")
                pt = self._send_or_local()
            else:
                if m.c > STAMP_MAX or not INT_MIN <= m.l <= INT_MAX:
                    # The clock would overflow the wire's 64-bit integers on its next send.
                    self.node.log(f"hlc: ignored stamp {m.to_json()} from {src}: over the "
                                  "64-bit bound")
                    pt = self._send_or_local()
                else:
                    pt = self._receive(m)
        if self.record:
            record_receive(self, src, self.time.to_json(), pt=pt)

    def __repr__(self) -> str:
        return f"HLCLayer(time={self._l, self._c})"
