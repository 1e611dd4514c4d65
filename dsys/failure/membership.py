"""A group membership view built on a failure detector.

A detector answers "do I suspect p?"; an application usually wants "who is in the group
now, and tell me when that changes". :class:`Membership` keeps that view on top of any
:class:`~dsys.failure.FailureDetector` of the same node: the members the detector
monitors and does not suspect, plus the node itself. It calls ``on_join(peer)`` when a
member enters the view (it joined, or it was suspected and is heard from again) and
``on_leave(peer, reason)`` when one exits (``reason`` is ``"failed"``: suspected, or
``"left"``: removed from the group, as SWIM's graceful leave does).

Each change is noted in the trace (``join`` / ``leave``, with ``peer``) with the view's
new ``version``, so :func:`~dsys.failure.check_convergence` can judge views from a trace.
The view is weakly consistent: two members may see different views for a while; the
convergence checker measures how long.

Example:
    >>> from dsys import Node, Simulation
    >>> from dsys.failure import HeartbeatDetector, Membership
    >>> class Server(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         detector = self.add_component(HeartbeatDetector(interval=0.1, timeout=0.5))
    ...         self.group = self.add_component(Membership(detector, on_leave=self.gone))
    ...     def gone(self, peer: str, reason: str) -> None:
    ...         self.log(f"{peer} {reason}")
    >>> sim = Simulation(seed=1)
    >>> for name in ("a", "b", "c"):
    ...     sim.add_node(name, Server)
    >>> sim.at(1.0, lambda: sim.crash("c"))
    >>> sim.run(until=2.0)
    >>> sim.node("a").group.members(), sim.node("a").group.version
    (('a', 'b'), 1)
    >>> [e.data["text"] for e in sim.trace if e.kind == "log" and e.node == "a"]
    ['c failed']
"""

from __future__ import annotations

from collections.abc import Callable

from dsys.core.node import Component, sorted_ids
from dsys.failure.base import FailureDetector, PeerCallback

#: Called with a member's id and why it left the view: ``"failed"`` or ``"left"``.
LeaveCallback = Callable[[str, str], None]


class Membership(Component):
    """The group as this node sees it, kept by watching ``detector``.

    Example:
        >>> from dsys.failure import Membership, HeartbeatDetector
        >>> Membership(HeartbeatDetector()).default_name
        'membership'
    """

    default_name = "membership"

    def __init__(self, detector: FailureDetector, *, on_join: PeerCallback | None = None,
                 on_leave: LeaveCallback | None = None) -> None:
        self.detector = detector
        #: Called with a member's id when it enters the view.
        self.on_join = on_join
        #: Called with a member's id and ``"failed"`` or ``"left"`` when it exits.
        self.on_leave = on_leave
        #: How many changes the view has seen since this node started.
        self.version = 0
        self._view: set[str] = set()
        detector.observe(self._changed)

    def members(self) -> tuple[str, ...]:
        """The members in the view (this node included), sorted."""
        return sorted_ids(self._view)

    def on_start(self) -> None:
        """Start with an empty view; it is filled once the detector is up."""
        self.version = 0
        self._view = set()

    def on_started(self) -> None:
        """The first view: what the detector trusts now."""
        self._view = set(self.detector.alive())
        self.note("view", members=list(self.members()), version=self.version)

    def _changed(self, event: str, peer: str) -> None:
        if event in ("alive", "join"):
            if peer not in self._view and not self.detector.suspects(peer) \
                    and peer in self.detector.members:
                self._view.add(peer)
                self.version += 1
                self.note("join", peer=peer, version=self.version)
                if self.on_join is not None:
                    self.on_join(peer)
        elif peer in self._view:  # suspect or leave
            reason = "failed" if event == "suspect" else "left"
            self._view.discard(peer)
            self.version += 1
            self.note("leave", peer=peer, reason=reason, version=self.version)
            if self.on_leave is not None:
                self.on_leave(peer, reason)
