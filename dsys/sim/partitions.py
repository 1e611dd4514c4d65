"""Who can reach whom: the partitions and one-way blocks of a simulated network.

A partition splits nodes into groups that cannot talk to each other; a one-way block cuts
one direction of one link. The simulator asks :meth:`Partitions.blocked` for every message
it sends and again when it arrives (a partition made meanwhile cuts it too).

Example:
    >>> from dsys.sim.partitions import Partitions
    >>> cuts = Partitions()
    >>> cuts.split([["a"], ["b", "c"]])
    >>> cuts.blocked("a", "b"), cuts.blocked("b", "c"), cuts.blocked("a", "client")
    (True, False, False)
    >>> cuts.block("b", "c")
    >>> cuts.blocked("b", "c"), cuts.blocked("c", "b")
    (True, False)
    >>> cuts.heal()
    >>> cuts.blocked("a", "b")
    False
"""

from __future__ import annotations

from collections.abc import Sequence

from dsys.errors import UsageError


class Partitions:
    """The current cuts. ``active`` is False when nothing is cut (the fast path)."""

    __slots__ = ("_groups", "_oneway", "active")

    def __init__(self) -> None:
        self._groups: dict[str, int] = {}
        self._oneway: set[tuple[str, str]] = set()
        self.active = False

    def split(self, groups: Sequence[Sequence[str]]) -> None:
        """Replace any partition with ``groups`` (node ids not listed are not cut off by
        it); one-way blocks stay."""
        listed: dict[str, int] = {}
        for index, group in enumerate(groups):
            for node_id in group:
                if node_id in listed:
                    raise UsageError(f"node {node_id!r} is in two partition groups")
                listed[node_id] = index
        self._groups = listed
        self.active = True

    def block(self, src: str, dst: str) -> None:
        """Cut the one-way link ``src -> dst``."""
        self._oneway.add((src, dst))
        self.active = True

    def heal(self) -> None:
        """Remove every partition and one-way block."""
        self._groups = {}
        self._oneway = set()
        self.active = False

    def blocked(self, src: str, dst: str) -> bool:
        """True if a message from ``src`` to ``dst`` is cut now."""
        if not self.active:
            return False
        if (src, dst) in self._oneway:
            return True
        groups = self._groups
        g1 = groups.get(src)
        if g1 is None:
            return False
        g2 = groups.get(dst)
        return g2 is not None and g1 != g2
