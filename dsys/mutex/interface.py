"""The interface every mutual exclusion algorithm in :mod:`dsys.mutex` offers.

An application drives a lock the same way whatever algorithm is behind it:

1. it calls :meth:`Mutex.request` when it wants the critical section;
2. the algorithm exchanges messages, and when this node may enter it calls the
   application's ``on_enter`` callback (the state is then ``HELD``);
3. the application does its work and calls :meth:`Mutex.release`.

The three states are the ones of Ricart & Agrawala (1981) and of Coulouris et al.,
*Distributed Systems* §15.2: ``RELEASED`` (outside, not asking), ``WANTED`` (asked, waiting)
and ``HELD`` (inside). Every change is recorded as a trace note, ``request``, ``enter`` and
``exit``, so the checkers in :mod:`dsys.mutex.checkers` judge any algorithm from its trace.

An algorithm is a :class:`Mutex` subclass that implements two hooks, :meth:`Mutex.on_request`
(the application asked; start asking the others) and :meth:`Mutex.on_release` (the
application left; hand the permission on), and calls :meth:`Mutex.grant` when the node may
enter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from dsys.core.node import Component
from dsys.errors import UsageError

#: The state of one node's lock (Ricart & Agrawala's names).
State = Literal["RELEASED", "WANTED", "HELD"]
RELEASED: State = "RELEASED"
WANTED: State = "WANTED"
HELD: State = "HELD"


class Mutex(Component):
    """Base class of the mutual exclusion algorithms: one lock shared by every node.

    Every node of the cluster carries the same algorithm as a component. The application
    calls :meth:`request` and :meth:`release`; the algorithm calls ``on_enter`` (given here
    or set later as an attribute) once the node is inside.

    Example:
        >>> from dsys import Node, Simulation
        >>> from dsys.mutex import RicartAgrawala
        >>> class Worker(Node):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.lock = self.add_component(RicartAgrawala(on_enter=self.inside))
        ...     def on_start(self) -> None:
        ...         self.lock.request()
        ...     def inside(self) -> None:
        ...         self.log("in the critical section")
        ...         self.lock.release()
        >>> sim = Simulation(seed=1)
        >>> for name in ("a", "b", "c"):
        ...     sim.add_node(name, Worker)
        >>> sim.run(until=1.0)
        >>> [e.data["event"] for e in sim.trace if e.kind == "note" and e.node == "a"]
        ['request', 'enter', 'exit']
    """

    #: Every algorithm, and every subclass of one, is attached under this name unless
    #: it sets its own: checkers and applications find the lock as ``"mutex"``.
    default_name = "mutex"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        explicit = "default_name" in cls.__dict__
        super().__init_subclass__(**kwargs)  # (Component would name it after the class)
        if not explicit:
            cls.default_name = "mutex"

    def __init__(self, on_enter: Callable[[], None] | None = None) -> None:
        #: Called (with no arguments) when this node enters the critical section.
        self.on_enter = on_enter
        self.state: State = RELEASED

    # ----- the application's side ----------------------------------------------------

    def request(self) -> None:
        """Ask to enter the critical section; ``on_enter`` is called once inside.

        Only valid while ``RELEASED``: a node asks once and waits.
        """
        if self.state != RELEASED:
            raise UsageError(
                f"{self.node.id}: request() while the lock is {self.state}; request only "
                "when RELEASED (call release() after on_enter before asking again)"
            )
        self.state = WANTED
        # The note comes before any message, so a trace always shows the request first.
        self.note("request")
        self.on_request()

    def release(self) -> None:
        """Leave the critical section. Only valid while ``HELD``."""
        if self.state != HELD:
            raise UsageError(
                f"{self.node.id}: release() while the lock is {self.state}; release only "
                "after on_enter was called"
            )
        self.state = RELEASED
        # The exit is noted before the permission leaves the node: in the trace, the next
        # node's "enter" can never come before this "exit".
        self.note("exit")
        self.on_release()

    @property
    def held(self) -> bool:
        """True while this node is in the critical section."""
        return self.state == HELD

    # ----- the algorithm's side ------------------------------------------------------

    def on_request(self) -> None:
        """The application asked to enter (state is now ``WANTED``): ask the others."""
        raise NotImplementedError

    def on_release(self) -> None:
        """The application left (state is now ``RELEASED``): pass the permission on."""
        raise NotImplementedError

    def grant(self, **details: Any) -> None:
        """Enter the critical section: called by the algorithm once it may.

        ``details`` go into the ``enter`` note; ``order=[...]`` is the key the algorithm
        promises to grant in (read by :func:`~dsys.mutex.checkers.check_order`).
        """
        if self.state != WANTED:  # an algorithm bug, not a user error: fail loudly
            raise AssertionError(f"{self.node.id}: grant() while {self.state}, not WANTED")
        self.state = HELD
        self.note("enter", **details)
        if self.on_enter is not None:
            self.on_enter()
