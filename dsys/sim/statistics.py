"""What a simulation has done: message and timer counters, and their snapshot.

The simulator counts every send, delivery, drop (with its reason) and duplicate per node
and per message type, in one plain dict (the cheapest counter there is on the hot path);
:meth:`Counters.snapshot` turns them into an immutable :class:`Statistics`.

Example:
    >>> from dsys.sim.statistics import Counters
    >>> counts = Counters()
    >>> counts.add("sent", "a", "Ping")
    >>> counts.drop("a", "Ping", "loss")
    >>> stats = counts.snapshot(time=1.0, events=2)
    >>> stats.sent, stats.dropped, dict(stats.dropped_by_reason)
    (1, 1, {'loss': 1})
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType

import attrs


@attrs.frozen
class Statistics:
    """An immutable snapshot of what a simulation has done so far."""

    time: float
    events: int
    sent: int
    delivered: int
    dropped: int
    duplicated: int
    timers_fired: int
    dropped_by_reason: Mapping[str, int]
    by_node: Mapping[str, Mapping[str, int]]
    by_type: Mapping[str, Mapping[str, int]]


class Counters:
    """Running counts: ``(what, node, message type) -> n``, drops by reason, timers fired."""

    __slots__ = ("counts", "drop_reasons", "timers_fired")

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], int] = {}
        self.drop_reasons: Counter[str] = Counter()
        self.timers_fired = 0

    def add(self, what: str, node: str, mtype: str) -> None:
        """Count one ``what`` (sent, delivered, dropped, duplicated) of ``node``."""
        key = (what, node, mtype)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1

    def drop(self, node: str, mtype: str, reason: str) -> None:
        """Count a dropped message of ``node`` and why it was dropped."""
        self.add("dropped", node, mtype)
        self.drop_reasons[reason] += 1

    def snapshot(self, time: float, events: int) -> Statistics:
        """The counts so far as an immutable :class:`Statistics`."""
        by_node: dict[str, Counter[str]] = {}
        by_type: dict[str, Counter[str]] = {}
        totals: Counter[str] = Counter()
        for (what, node, mtype), n in sorted(self.counts.items()):
            by_node.setdefault(node, Counter())[what] += n
            by_type.setdefault(mtype, Counter())[what] += n
            totals[what] += n

        def freeze(table: dict[str, Counter[str]]) -> Mapping[str, Mapping[str, int]]:
            return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in table.items()})

        return Statistics(
            time=time,
            events=events,
            sent=totals["sent"],
            delivered=totals["delivered"],
            dropped=totals["dropped"],
            duplicated=totals["duplicated"],
            timers_fired=self.timers_fired,
            dropped_by_reason=MappingProxyType(dict(sorted(self.drop_reasons.items()))),
            by_node=freeze(by_node),
            by_type=freeze(by_type),
        )
