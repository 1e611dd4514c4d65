"""Lamport clocks (Lamport, *Time, Clocks, and the Ordering of Events in a Distributed
System*, CACM 1978).

Lamport defines *happened before* (→) as the smallest relation with: (1) if ``a`` and ``b``
are events of the same process and ``a`` comes first, ``a → b``; (2) if ``a`` sends a
message and ``b`` receives it, ``a → b``; (3) it is transitive. A logical clock ``C``
satisfies the **Clock Condition** when ``a → b`` implies ``C(a) < C(b)`` (section
"Logical Clocks"). Two implementation rules are enough:

* **IR1**: each process increments its clock between any two successive events;
* **IR2**: a message carries the sender's clock ``Tm``; on receipt, the receiver sets its
  clock greater than or equal to its present value and greater than ``Tm``.

The converse does not hold: ``C(a) < C(b)`` does *not* mean ``a → b`` (the events may be
concurrent). Vector clocks (:mod:`dsys.clocks.vector`) fix that.

:class:`LamportLayer` applies the rules to a node without touching its protocol code: it
stamps every outgoing message and reads the stamp of every incoming one.

Example:
    >>> from dsys import Node, Simulation, message
    >>> from dsys.clocks import LamportLayer
    >>> @message(name="doc:Hop")
    ... class Hop:
    ...     pass
    >>> class Hopper(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.clock = self.add_layer(LamportLayer())
    ...     def on_start(self) -> None:
    ...         if self.id == "a":
    ...             self.clock.tick("wake up")       # a local event: time 1
    ...             self.send("b", Hop())            # a send: time 2
    >>> sim = Simulation(seed=1)
    >>> sim.add_node("a", Hopper)
    >>> sim.add_node("b", Hopper)
    >>> sim.run(until=1.0)
    >>> sim.node("a").clock.time, sim.node("b").clock.time   # b: max(0, 2) + 1
    (2, 3)
"""

from __future__ import annotations

from typing import Any

from dsys.clocks.timestamps import STAMP_MAX, record_local, record_receive
from dsys.core.node import Layer


class LamportLayer(Layer):
    """A Lamport clock for a node: ``node.add_layer(LamportLayer())``.

    * ``time``: the clock's current value (the timestamp of the node's latest event);
    * ``tick(what)``: a local event (IR1); returns its timestamp;
    * every message the node sends is a send event (IR1) stamped with the new time;
    * every message it receives is a receive event: ``time = max(time, stamp) + 1`` (IR2).

    With ``record=True`` (the default) receipts and local events are noted in the trace
    (see :mod:`dsys.clocks.timestamps`) so that :func:`~dsys.clocks.check_lamport` can
    judge them; sends are always visible there through their stamp.

    The clock lives in memory: a node that crashes and restarts starts again from 0, which
    breaks the clock condition across the restart. Pass ``persist=True`` to keep the clock
    in the node's storage (synced at every event, so it survives any crash; note that a
    sync also makes the node's other pending storage writes durable).

    Example:
        >>> clock = LamportLayer()
        >>> clock.time
        0
    """

    name = "lamport"

    #: The storage key used with ``persist=True``.
    STORAGE_KEY = "clocks/lamport"

    def __init__(self, *, record: bool = True, persist: bool = False) -> None:
        self.record = record
        self.persist = persist
        self._time: int | None = None  # None: not read from storage yet

    @property
    def time(self) -> int:
        """The current value of the clock."""
        if self._time is None:
            self._time = int(self.node.storage.get(self.STORAGE_KEY, 0)) if self.persist else 0
        return self._time

    def tick(self, what: str = "") -> int:
        """Record a local event (IR1: the clock moves forward) and return its timestamp."""
        self._set(self.time + 1)
        if self.record:
            record_local(self, what, self.time)
        return self.time

    # ----- the Layer interface --------------------------------------------------------

    def stamp(self, dst: str, msg: object) -> int:
        """A send is an event: tick (IR1), then carry the new time (``Tm``)."""
        self._set(self.time + 1)
        return self.time

    def on_receive(self, src: str, msg: object, stamp: Any) -> None:
        """A receipt is an event after the send: jump past ``Tm`` (IR2), then tick (IR1)."""
        if stamp is not None and (
            isinstance(stamp, bool) or not isinstance(stamp, int) or stamp < 0
        ):
            # A peer's bug must not crash this node: count the message as unstamped.
            self.node.log(f"lamport: ignored invalid stamp {stamp!r} from {src}")
            stamp = None
        elif stamp is not None and stamp > STAMP_MAX:
            # The clock would overflow the wire's 64-bit integers on its next send.
            self.node.log(f"lamport: ignored stamp {stamp} from {src}: over the 64-bit bound")
            stamp = None
        self._set(max(self.time, stamp or 0) + 1)
        if self.record:
            record_receive(self, src, self.time)

    def _set(self, value: int) -> None:
        self._time = value
        if self.persist:
            self.node.storage[self.STORAGE_KEY] = value
            self.node.storage.sync()

    def __repr__(self) -> str:
        return f"LamportLayer(time={self._time or 0})"
