"""Checkers for the sharded store.

* :func:`check_one_group_per_shard`: no shard is served by two groups in the same
  configuration. Every group server notes ``("serve", gid, shard, num)`` when it applies
  an operation on a shard (:class:`~dsys.scaling.sharding.server.ShardKVServer`); two
  groups noting the same shard and configuration number means both answered for it,
  e.g. an old owner that kept serving a shard it had handed off;
* :func:`check_linearizable_per_key`: the clients' history, judged by
  :func:`dsys.check.check_linearizable` with the ``kv`` model (which checks each key on
  its own: keys of different shards never interact);
* :func:`check_writes_applied_once`: when every value appended is unique (``c1.7;``), no
  group's data holds one twice: an operation retried across a migration was applied once.

The first and last return a :class:`~dsys.check.Report`; the second a
:class:`~dsys.check.CheckResult`.

Example:
    >>> from dsys.trace import Trace, TraceEvent
    >>> def serve(t, node, gid, shard, num):
    ...     return TraceEvent(t, node, "note", {"event": "serve", "gid": gid,
    ...                                         "shard": shard, "num": num})
    >>> trace = Trace([serve(1.0, "a1", "g1", 3, 2), serve(1.5, "b1", "g2", 3, 3),
    ...                serve(2.0, "a2", "g1", 3, 3)])
    >>> print(check_one_group_per_shard(trace).explain())
    one group per shard and configuration: 1 violation(s) (3 operations checked)
      t=2.000000: shard 3 was served in configuration 3 by g1 (a2) and by g2 (b1, t=1.500000)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dsys.check import CheckResult, check_linearizable
from dsys.check.report import Report, Violation
from dsys.trace.events import Trace

__all__ = ["check_linearizable_per_key", "check_one_group_per_shard",
           "check_writes_applied_once"]


def check_one_group_per_shard(trace: Trace) -> Report:
    """No (shard, configuration) is served by two groups (see the module docstring)."""
    first: dict[tuple[int, int], tuple[str, str, float]] = {}
    violations = []
    flagged: set[tuple[int, int, str]] = set()
    judged = 0
    for event in trace:
        if event.kind != "note" or event.data.get("event") != "serve":
            continue
        judged += 1
        shard, num, gid = int(event.data["shard"]), int(event.data["num"]), event.data["gid"]
        seen = first.setdefault((shard, num), (gid, event.node, event.time))
        if seen[0] != gid and (shard, num, gid) not in flagged:
            flagged.add((shard, num, gid))
            violations.append(Violation(
                event.time, (seen[1], event.node),
                f"shard {shard} was served in configuration {num} by {gid} ({event.node}) "
                f"and by {seen[0]} ({seen[1]}, t={seen[2]:.6f})"))
    return Report("one group per shard and configuration", tuple(violations), judged,
                  "operations")


def check_linearizable_per_key(history: Iterable[Mapping[str, Any]], *,
                               max_steps: int = 2_000_000) -> CheckResult:
    """The ``kv`` model over the clients' history, each key on its own; ``max_steps``
    bounds the search by work (a verdict that does not depend on the machine)."""
    return check_linearizable(list(history), "kv", max_steps=max_steps)


def check_writes_applied_once(stores: Mapping[str, Any], *,
                              separator: str = ";") -> Report:
    """No value is in any store twice. ``stores`` maps a server's name to its
    :class:`~dsys.scaling.sharding.store.ShardStore`; values written must be unique and
    end with ``separator``.

    Example:
        >>> from dsys.scaling.sharding.store import Shard, ShardStore
        >>> store = ShardStore("g1", shards=1)
        >>> store.shards[0] = Shard("serving", {"x": "c1.1;c2.1;c1.1;"})
        >>> print(check_writes_applied_once({"a1": store}).explain())
        every write applied once: 1 violation(s) (1 keys checked)
          t=0.000000: a1 holds c1.1 twice in x (shard 0): 'c1.1;c2.1;c1.1;'
    """
    violations = []
    judged = 0
    for name in sorted(stores):
        store = stores[name]
        for number in sorted(store.shards):
            for key, value in sorted(store.shards[number].data.items()):
                judged += 1
                parts = [p for p in value.split(separator) if p]
                twice = sorted({p for p in parts if parts.count(p) > 1})
                if twice:
                    violations.append(Violation(0.0, (name,),
                                                f"{name} holds {', '.join(twice)} twice in "
                                                f"{key} (shard {number}): {value!r}"))
    return Report("every write applied once", tuple(violations), judged, "keys")
