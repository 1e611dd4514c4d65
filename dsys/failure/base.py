"""The interface every failure detector in :mod:`dsys.failure` offers.

A failure detector is a local oracle (Chandra & Toueg, "Unreliable failure detectors for
reliable distributed systems", JACM 1996): each node holds one, and it answers one question
about every member it monitors: *do I suspect it has crashed?* It may be wrong. In an
asynchronous system no detector can be both *complete* (every crashed member is eventually
suspected) and *accurate* (no live member is ever suspected): a slow member and a dead one
look the same from outside. Each detector here trades one against the other with its own
rule; the checkers in :mod:`dsys.failure.checkers` measure how well.

The rules of this file:

* a detector is a :class:`~dsys.Component`; every detector class is attached as
  ``"detector"`` unless it is given another name, so applications, checkers and higher
  layers (an Ω leader, a membership view) find it by one name;
* a detector's *output* is the set of members it suspects. It changes only through
  :meth:`FailureDetector.mark_suspected` and :meth:`FailureDetector.mark_alive`, which
  write the trace notes ``suspect`` and ``alive`` (with ``peer``) and then call the
  application's ``on_suspect`` / ``on_alive`` callbacks. Checkers read only those notes;
* the monitored members are noted too (``members``, with the sorted ``peers``) when the
  detector starts and whenever they change, so a checker knows who watched whom;
* a node that restarts starts trusting everyone again: a detector's state is in memory.

Example:
    >>> from dsys import Node, Simulation
    >>> from dsys.failure import HeartbeatDetector
    >>> class Server(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.detector = self.add_component(HeartbeatDetector(interval=0.1, timeout=0.5))
    >>> sim = Simulation(seed=1)
    >>> for name in ("a", "b", "c"):
    ...     sim.add_node(name, Server)
    >>> sim.at(1.0, lambda: sim.crash("c"))
    >>> sim.run(until=3.0)
    >>> sim.node("a").detector.suspected(), sim.node("a").detector.alive()
    (('c',), ('a', 'b'))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dsys.core.node import Component, sorted_ids

#: What a detector calls when its output about ``peer`` changes.
PeerCallback = Callable[[str], None]


class FailureDetector(Component):
    """Base class of the failure detectors: which monitored members are suspected.

    ``members`` are the ids this detector watches (default: every peer of the node; the node
    itself is never suspected). ``on_suspect(peer)`` is called when a member becomes
    suspected, ``on_alive(peer)`` when a suspected member is heard from again; either can
    be given here or set later as an attribute.

    A detector algorithm is a subclass that decides *when*: it calls :meth:`mark_suspected`
    and :meth:`mark_alive`, and :meth:`add_member` / :meth:`remove_member` if its
    membership changes (SWIM's joins and leaves).

    Example:
        >>> from dsys.failure import FailureDetector
        >>> class NeverSuspects(FailureDetector):
        ...     '''Perfectly accurate and not complete at all.'''
        >>> NeverSuspects().default_name
        'detector'
    """

    #: Every detector, and every subclass of one, is attached under this name unless it
    #: sets its own.
    default_name = "detector"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        explicit = "default_name" in cls.__dict__
        super().__init_subclass__(**kwargs)  # (Component would name it after the class)
        if not explicit:
            cls.default_name = "detector"

    def __init__(self, members: Iterable[str] | None = None, *,
                 on_suspect: PeerCallback | None = None,
                 on_alive: PeerCallback | None = None) -> None:
        #: Called with a member's id when the detector starts suspecting it.
        self.on_suspect: PeerCallback | None = on_suspect
        #: Called with a member's id when a suspected member is heard from again.
        self.on_alive: PeerCallback | None = on_alive
        self._configured = None if members is None else frozenset(members)
        self._members: set[str] = set()
        self._suspected: set[str] = set()
        self._observers: list[Callable[[str, str], None]] = []

    # ----- the application's side ----------------------------------------------------

    def suspects(self, peer: str) -> bool:
        """True if this detector currently suspects ``peer`` has crashed."""
        return peer in self._suspected

    def suspected(self) -> tuple[str, ...]:
        """The members suspected now, sorted."""
        return sorted_ids(self._suspected)

    def alive(self) -> tuple[str, ...]:
        """The members not suspected now, this node included, sorted."""
        return sorted_ids((self._members - self._suspected) | {self.id})

    @property
    def members(self) -> tuple[str, ...]:
        """The members this detector monitors (not this node), sorted."""
        return sorted_ids(self._members)

    def observe(self, observer: Callable[[str, str], None]) -> None:
        """Call ``observer(event, peer)`` on every change of the output, after the
        application's callbacks: ``event`` is ``"suspect"``, ``"alive"``, ``"join"``
        (a member added) or ``"leave"`` (a member removed). Higher layers (a
        :class:`~dsys.failure.Membership` view, an Ω leader) use this, so the
        application's ``on_suspect`` / ``on_alive`` stay its own."""
        self._observers.append(observer)

    # ----- lifecycle -----------------------------------------------------------------

    def on_start(self) -> None:
        """Start monitoring (after a restart too: a restarted node trusts everyone)."""
        configured = self.peers if self._configured is None else self._configured
        self._members = set(configured) - {self.id}
        self._suspected = set()
        self.note("members", peers=list(self.members))

    # ----- the algorithm's side ------------------------------------------------------

    def mark_suspected(self, peer: str) -> None:
        """Start suspecting ``peer`` (noted, then ``on_suspect``); no-op if already."""
        if peer in self._suspected or peer not in self._members:
            return
        self._suspected.add(peer)
        self.note("suspect", peer=peer)
        if self.on_suspect is not None:
            self.on_suspect(peer)
        self._tell("suspect", peer)

    def mark_alive(self, peer: str) -> None:
        """Stop suspecting ``peer`` (noted, then ``on_alive``); no-op if not suspected."""
        if peer not in self._suspected:
            return
        self._suspected.discard(peer)
        self.note("alive", peer=peer)
        if self.on_alive is not None:
            self.on_alive(peer)
        self._tell("alive", peer)

    def add_member(self, peer: str) -> None:
        """Start monitoring ``peer`` (trusted until the algorithm says otherwise)."""
        if peer == self.id or peer in self._members:
            return
        self._members.add(peer)
        self.note("members", peers=list(self.members))
        self._tell("join", peer)

    def remove_member(self, peer: str) -> None:
        """Stop monitoring ``peer`` (a member that left); it is no longer suspected
        either, and no ``alive`` note is written for it: it is simply gone."""
        if peer not in self._members:
            return
        self._members.discard(peer)
        self._suspected.discard(peer)
        self.note("members", peers=list(self.members))
        self._tell("leave", peer)

    def _tell(self, event: str, peer: str) -> None:
        for observer in self._observers:
            observer(event, peer)
