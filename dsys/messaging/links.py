"""Building blocks the messaging protocols share: incarnation epochs and retransmission.

Two small problems come up in every protocol of this package:

* **Naming things across crashes.** A node that crashes and restarts starts with empty
  memory. If it numbered its messages ``0, 1, 2...`` again, the others would take its new
  messages for old duplicates. :func:`next_epoch` gives every incarnation of a component
  a number that is larger than all earlier ones (a counter in the node's storage, synced
  before it is used), so ``(node, epoch, seq)`` names a message uniquely forever.
  Birrell and Nelson's RPC used the same idea, with the machine's boot time as the epoch
  (*Implementing Remote Procedure Calls*, 1984, §3.1).
* **Losing messages.** The simulated network, like UDP, drops messages. The classic cure
  is to re-send a message until the receiver acknowledges it: a *stubborn link* that
  stops when told (Cachin, Guerraoui and Rodrigues, *Introduction to Reliable and Secure
  Distributed Programming*, 2nd ed., 2011, §2.4.3). The receiver throws away the copies it
  has already seen, which makes the link *perfect*: no loss, no duplication, no creation
  (§2.4.4). :class:`Retransmitter` is the sending half; each protocol acknowledges and
  de-duplicates with its own messages, because what counts as "seen" is protocol specific.

Example:
    >>> from dsys import Component, message
    >>> from dsys.messaging.links import Retransmitter
    >>> @message(name="doc:Note")
    ... class Note:
    ...     key: str
    ...     text: str
    >>> @message(name="doc:NoteAck")
    ... class NoteAck:
    ...     key: str
    >>> class Notes(Component):
    ...     messages = (Note, NoteAck)
    ...     def on_start(self) -> None:
    ...         self.links = Retransmitter(self, interval=0.05)
    ...     def tell(self, dst: str, key: str, text: str) -> None:
    ...         self.links.send(dst, key, Note(key, text))   # re-sent until acknowledged
    ...     def on_message(self, src: str, msg: object) -> None:
    ...         if isinstance(msg, Note):
    ...             self.send(src, NoteAck(msg.key))           # ack every copy
    ...         elif isinstance(msg, NoteAck):
    ...             self.links.acknowledged(src, msg.key)
    ...     def on_timer(self, name: str) -> None:
    ...         if name == self.links.timer:
    ...             self.links.on_timer()
"""

from __future__ import annotations

from typing import Any

from dsys.core.node import Component
from dsys.core.storage import Storage


def next_epoch(storage: Storage, key: str) -> int:
    """Return this incarnation's epoch (1, 2, 3...) and make it durable at once.

    The counter under ``key`` is incremented and synced before it is returned, so a crash
    at any later moment cannot hand the same epoch to two incarnations.

    Example:
        >>> from dsys.core.storage import Storage
        >>> disk = Storage()
        >>> next_epoch(disk, "rb/epoch"), next_epoch(disk, "rb/epoch")
        (1, 2)
    """
    epoch = int(storage.get(key, 0)) + 1
    storage[key] = epoch
    storage.sync()
    return epoch


class Retransmitter:
    """Re-send each message every ``interval`` seconds until it is acknowledged.

    ``send(dst, key, msg)`` sends ``msg`` now and remembers it under ``(dst, key)``;
    ``acknowledged(dst, key)`` forgets it. The owner must pass its timer named
    :attr:`timer` to :meth:`on_timer`. Nothing here survives a crash: a node that crashes
    stops re-sending (this is what "a crashed process stops" means for every protocol
    built on it).

    The timer only runs while something is waiting, so a system whose messages have all
    been acknowledged goes quiet (``Simulation.run_until_quiet`` works).
    """

    def __init__(self, owner: Component, interval: float = 0.05, timer: str = "resend") -> None:
        self.owner = owner
        self.interval = interval
        self.timer = timer
        # (destination, key) -> [message, when it was last sent]; insertion ordered, so
        # re-sends happen in a deterministic order.
        self.pending: dict[tuple[str, str], list[Any]] = {}
        self._armed = False

    def send(self, dst: str, key: str, msg: object) -> None:
        """Send ``msg`` to ``dst`` now, and again every ``interval`` until acknowledged."""
        self.owner.send(dst, msg)
        self.pending[(dst, key)] = [msg, self.owner.now]
        self._arm()

    def acknowledged(self, dst: str, key: str) -> None:
        """``dst`` has ``key``: stop re-sending it (an unknown or repeated ack is fine)."""
        self.pending.pop((dst, key), None)

    def waiting(self, dst: str | None = None) -> int:
        """How many messages (to ``dst``, or to anyone) wait for an acknowledgement."""
        if dst is None:
            return len(self.pending)
        return sum(1 for d, _ in self.pending if d == dst)

    def on_timer(self) -> None:
        """Re-send every message that has waited at least ``interval`` since its last send."""
        self._armed = False
        now = self.owner.now
        for (dst, _key), entry in list(self.pending.items()):
            msg, last = entry
            if now - last >= self.interval * 0.999:  # tolerate float rounding of timers
                self.owner.send(dst, msg)
                entry[1] = now
        if self.pending:
            self._arm()

    def _arm(self) -> None:
        if not self._armed:
            self.owner.set_timer(self.timer, self.interval)
            self._armed = True
