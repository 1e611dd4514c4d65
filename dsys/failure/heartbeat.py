"""The heartbeat failure detector: suspect a member not heard from for a fixed timeout.

The oldest and simplest detector (see e.g. Coulouris et al., *Distributed Systems* §15.1;
Chandra & Toueg 1996 build their eventually perfect detector ◇P the same way). Every member
sends a :class:`Heartbeat` every ``interval`` seconds; a member that has sent nothing for
``timeout`` seconds is suspected, and trusted again as soon as a heartbeat arrives.

Two shapes:

* **all-to-all** (the default): every member sends to every other and monitors every other,
  N·(N-1) messages per interval: each member's load grows linearly with N;
* **to a monitor** (``monitor="m"``): every member sends only to ``m``, which alone
  monitors the others (the other members monitor nobody). N-1 messages per interval, but
  ``m`` is a single point of failure and its load grows with N.

The timeout is the whole trade-off: short, and a slow member or a lost burst of heartbeats
makes it a false suspect (accuracy suffers); long, and a crashed member goes unnoticed for
that long (detection time suffers).

Example:
    >>> from dsys import Node, Simulation
    >>> from dsys.failure import HeartbeatDetector
    >>> class Server(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.detector = self.add_component(HeartbeatDetector(monitor="m"))
    >>> sim = Simulation(seed=2)
    >>> for name in ("m", "a", "b"):
    ...     sim.add_node(name, Server)
    >>> sim.at(1.0, lambda: sim.crash("b"))
    >>> sim.run(until=5.0)
    >>> sim.node("m").detector.suspected(), sim.node("a").detector.members
    (('b',), ())
"""

from __future__ import annotations

from collections.abc import Iterable

from dsys.core.messages import message
from dsys.errors import UsageError
from dsys.failure.base import FailureDetector, PeerCallback


@message(name="failure:Heartbeat")
class Heartbeat:
    """I am alive (sent every ``interval``)."""


class HeartbeatDetector(FailureDetector):
    """Suspect a member after ``timeout`` seconds without a heartbeat from it.

    ``interval`` is the heartbeat period and also how often timeouts are checked, so a
    crashed member is suspected between ``timeout`` and ``timeout + interval`` after its
    last heartbeat left (plus the network delay). ``monitor`` switches to the centralized
    shape: members send only to the monitor, which alone watches them.

    Example:
        >>> from dsys.failure import HeartbeatDetector
        >>> HeartbeatDetector(interval=0.1, timeout=0.5).timeout
        0.5
    """

    messages = (Heartbeat,)

    def __init__(self, interval: float = 0.5, timeout: float = 2.0, *,
                 monitor: str | None = None, members: Iterable[str] | None = None,
                 on_suspect: PeerCallback | None = None,
                 on_alive: PeerCallback | None = None) -> None:
        super().__init__(members, on_suspect=on_suspect, on_alive=on_alive)
        if not interval > 0 or not timeout > 0:
            raise UsageError(f"HeartbeatDetector needs interval > 0 and timeout > 0, got "
                             f"interval={interval!r}, timeout={timeout!r}")
        self.interval = interval
        self.timeout = timeout
        self.monitor = monitor
        # member -> this node's clock when we last heard from it
        self.last_heard: dict[str, float] = {}

    def on_start(self) -> None:
        """Trust every member as if just heard from, and start beating."""
        if self.monitor is not None and self.id != self.monitor:
            self._configured = frozenset()  # only the monitor watches
        elif self.monitor is not None and self._configured is None:
            self._configured = frozenset(self.peers)
        super().on_start()
        now = self.now
        self.last_heard = {peer: now for peer in self.members}
        self._beat()

    def on_timer(self, name: str) -> None:
        """``beat``: send heartbeats, then suspect every member silent for ``timeout``."""
        if name == "beat":
            self._beat()

    def on_message(self, src: str, msg: object) -> None:
        """A heartbeat: remember when, and trust ``src`` again if it was suspected."""
        if isinstance(msg, Heartbeat) and src in self.last_heard:
            self.last_heard[src] = self.now
            self.mark_alive(src)

    def add_member(self, peer: str) -> None:
        """Monitor ``peer`` too, counting its timeout from now."""
        super().add_member(peer)
        self.last_heard.setdefault(peer, self.now)

    def remove_member(self, peer: str) -> None:
        """Stop monitoring ``peer``."""
        super().remove_member(peer)
        self.last_heard.pop(peer, None)

    def _beat(self) -> None:
        targets = (self.monitor,) if self.monitor is not None else self.members
        for peer in targets:
            if peer != self.id:
                self.send(peer, Heartbeat())
        now = self.now
        for peer in self.members:
            if now - self.last_heard[peer] >= self.timeout:
                self.mark_suspected(peer)
        self.set_timer("beat", self.interval)
