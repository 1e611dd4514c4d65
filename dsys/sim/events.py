"""What can happen next in a simulation: its pending events, as data.

The simulator keeps one priority queue of *events*, ordered by (virtual time, sequence
number). Each event is a small record that says what it is and describes itself; the
simulator runs it, the failure report names it, and ``sim.pending()`` lists them so that
a model checker (or a curious student) can choose which one happens next with
``sim.fire(event)``.

=================  =========================================================================
record             what happens when it fires
=================  =========================================================================
:class:`Deliver`   message ``id`` from ``src`` arrives at ``dst`` (or is dropped there: the
                   node is down, or a partition cut the link meanwhile)
:class:`Timer`     timer ``name`` of ``node`` fires (a cancelled or re-armed timer's old
                   event is *stale*: it is skipped, and ``pending()`` leaves it out)
:class:`Start`     the nodes added for this instant are built, then each runs ``on_start``
:class:`Invoke`    client ``client`` starts its next operation from its workload
:class:`Fault`     a scripted fault: ``sim.at(t, sim.crash, "a")`` and its kind
                   (crash, restart, partition, isolate, block, heal, set_clock)
:class:`Call`      any other scripted call (``sim.at(t, fn, ...)``, a nemesis's schedule)
=================  =========================================================================

Example:
    >>> from dsys import Node, Simulation, message
    >>> @message(name="doc:Hey")
    ... class Hey:
    ...     pass
    >>> class Greeter(Node):
    ...     def on_start(self) -> None:
    ...         self.broadcast(Hey())
    >>> sim = Simulation(seed=1)
    >>> for name in ("a", "b"):
    ...     sim.add_node(name, Greeter)
    >>> [e.describe() for e in sim.pending()]
    ['start a, b']
    >>> sim.fire(sim.pending()[0])
    >>> [e.describe() for e in sim.pending()]
    ['deliver Hey() a -> b (message #1)', 'deliver Hey() b -> a (message #2)']
    >>> sim.fire(sim.pending()[1])        # b's greeting arrives first: our choice
    >>> next(e.node for e in sim.trace if e.kind == "recv")
    'a'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

#: Scripted calls that ``sim.at`` records as :class:`Fault` events (the simulator's own
#: fault methods).
FAULTS = ("crash", "restart", "partition", "isolate", "block", "heal", "set_clock")


class Event:
    """The base of every pending event: ``time`` it is due, ``kind``, and who it is about.

    ``seq`` orders events due at the same instant (the order they were scheduled in).
    """

    __slots__ = ("seq", "source", "time")

    kind: ClassVar[str] = "event"
    time: float
    seq: int
    #: For a delivery or a timer: the plain tuple the simulator queues in its place (see
    #: ``Simulation._record_of``); None for the records queued as they are.
    source: object

    @property
    def node(self) -> str | None:
        """The node whose handler this event runs, if any."""
        return None

    def describe(self) -> str:
        """A one-line description, as the failure report and ``pending()`` show it."""
        return self.kind

    def handler(self) -> str:
        """What a node was doing while this event ran (for failure reports)."""
        return self.describe()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} t={self.time:.6f} #{self.seq}: {self.describe()}>"


class Deliver(Event):
    """Message ``id`` (the simulation's message number) from ``src`` arrives at ``dst``.

    ``msg`` is what arrives (the decoded copy, when the codec is on), ``stamps`` its layer
    stamps and component route; ``check`` is kept for the simulator's own check that the
    sender did not change a mutable message after sending it.
    """

    __slots__ = ("check", "dst", "id", "msg", "src", "stamps")
    kind = "deliver"

    def __init__(self, mid: int, src: str, dst: str, msg: object,
                 stamps: dict[str, Any] | None, check: tuple[object, bytes] | None) -> None:
        self.source = None
        self.id = mid
        self.src = src
        self.dst = dst
        self.msg = msg
        self.stamps = stamps
        self.check = check

    @property
    def node(self) -> str | None:
        return self.dst

    def describe(self) -> str:
        return f"deliver {self.msg!r} {self.src} -> {self.dst} (message #{self.id})"

    def handler(self) -> str:
        return f"on_message: delivery of {self.msg!r} from {self.src} (message #{self.id})"


class Timer(Event):
    """Timer ``name`` of ``node`` fires; ``generation`` tells a live arming from a stale one."""

    __slots__ = ("generation", "name", "target")
    kind = "timer"

    def __init__(self, node: str, name: str, generation: int) -> None:
        self.source = None
        self.target = node
        self.name = name
        self.generation = generation

    @property
    def node(self) -> str | None:
        return self.target

    def describe(self) -> str:
        return f"timer {self.name!r} of {self.target}"

    def handler(self) -> str:
        return f"on_timer: timer {self.name!r} fired"


class Start(Event):
    """The nodes added to start at this instant start, together: all are built, then each
    runs ``on_start`` (so nothing ever sees a half-started cluster)."""

    __slots__ = ("nodes",)
    kind = "start"

    def __init__(self, nodes: list[str]) -> None:
        self.source = None
        self.nodes = nodes  # the simulator appends to it until it fires

    def describe(self) -> str:
        return f"start {', '.join(self.nodes)}"

    def handler(self) -> str:
        return "starting nodes"


class Invoke(Event):
    """Client ``client`` (incarnation ``incarnation``) starts its next operation."""

    __slots__ = ("client", "incarnation")
    kind = "invoke"

    def __init__(self, client: str, incarnation: int) -> None:
        self.source = None
        self.client = client
        self.incarnation = incarnation

    @property
    def node(self) -> str | None:
        return self.client

    def describe(self) -> str:
        return f"invoke the next operation of client {self.client}"

    def handler(self) -> str:
        return "on_invoke: a client operation started"


class Call(Event):
    """A scripted call, ``fn(*args, **kwargs)``, at a chosen virtual time."""

    __slots__ = ("args", "fn", "kwargs")
    kind = "call"

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any] | None = None) -> None:
        self.source = None
        self.fn = fn
        self.args = args
        self.kwargs = kwargs or {}

    def arguments(self) -> str:
        """The call's arguments, as Python would show them."""
        return ", ".join([*map(repr, self.args), *(f"{k}={v!r}" for k, v in self.kwargs.items())])

    def describe(self) -> str:
        name = getattr(self.fn, "__qualname__", None) or repr(self.fn)
        return f"call {name}({self.arguments()})"

    def handler(self) -> str:
        return f"scheduled {self.describe()}"


class Fault(Call):
    """A scripted fault (one of :data:`FAULTS`), e.g. ``sim.at(1.0, sim.crash, "a")``."""

    __slots__ = ("fault",)
    kind = "fault"

    def __init__(self, fault: str, fn: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any] | None = None) -> None:
        super().__init__(fn, args, kwargs)
        self.fault = fault

    def describe(self) -> str:
        return f"{self.fault}({self.arguments()})"
