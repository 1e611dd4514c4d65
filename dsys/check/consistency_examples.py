"""The classic small histories that tell the consistency models apart.

Each :class:`Example` is a register history (with times, for drawing) that some models
allow and others forbid, such as a stale read (sequentially consistent, not
linearizable) or two readers who disagree on the order of two writes (causal, not
sequentially consistent). The tests judge every example with every checker, and the
docs draw them, from this one list (:data:`EXAMPLES`), so the pictures on the
"Consistency models" page are the histories the tests check.

>>> from dsys.check import check_consistency
>>> from dsys.check.consistency_examples import EXAMPLES
>>> stale = EXAMPLES["stale-read"]
>>> [bool(check_consistency(stale.events, name, "register"))
...  for name in ("linearizable", "sequential")]
[False, True]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dsys.check.consistency import SESSION_GUARANTEES


@dataclass(frozen=True)
class Example:
    """A small history and what it shows.

    ``drawn_with`` names the model whose verdict the example is about (the docs draw it
    against that model). ``order`` is the version order a store reported (for the session
    guarantees: key -> values, oldest first), or None. ``quiet`` is the quiet period after
    the last write of a key from which eventual convergence judges reads.
    """

    name: str
    title: str
    drawn_with: str
    story: str
    events: tuple[dict[str, Any], ...]
    order: dict[str, list[Any]] | None = None
    quiet: float = 10.0

    def options_for(self, consistency: str) -> dict[str, Any]:
        """The keyword arguments of :func:`~dsys.check.check_consistency` for this
        example and model (the version order, the quiet period)."""
        if consistency == "eventual":
            return {"quiet": self.quiet}
        if self.order is not None and consistency in ("sessions", *SESSION_GUARANTEES):
            return {"order": self.order}
        return {}


def _op(process: int, f: str, key: str, value: Any, start: float, end: float
        ) -> list[dict[str, Any]]:
    """A read (``value`` is what it returned) or a write, from ``start`` to ``end``."""
    invoke = {"process": process, "type": "invoke", "f": f, "key": key,
              "value": None if f == "read" else value, "time": start}
    return [invoke, dict(invoke, type="ok", value=value, time=end)]


def _history(*ops: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    events = [event for op in ops for event in op]
    return tuple(sorted(events, key=lambda event: event["time"]))


def _example(name: str, title: str, drawn_with: str, story: str, *ops: list[dict[str, Any]],
             **extra: Any) -> Example:
    return Example(name, title, drawn_with, " ".join(story.split()), _history(*ops), **extra)


#: The examples by name, in the order the docs show them.
EXAMPLES: dict[str, Example] = {example.name: example for example in (
    _example(
        "stale-read", "a stale read",
        "linearizable",
        """p0's write of 1 has completed when p1 reads x, yet p1 reads the initial value.
        Not linearizable (real time says the read came after the write); sequentially
        consistent (put p1's read first).""",
        _op(0, "write", "x", 1, 0.0, 1.0),
        _op(1, "read", "x", None, 2.0, 3.0),
    ),
    _example(
        "store-buffering", "each misses the other's write",
        "sequential",
        """Each process writes its own key, then reads the other's and finds it empty.
        Each key on its own is sequentially consistent, the two together are not: in any
        one order, one of the writes comes before the other process's read. Causal: the
        two halves are concurrent.""",
        _op(0, "write", "x", 1, 0.0, 1.0),
        _op(0, "read", "y", None, 1.5, 2.5),
        _op(1, "write", "y", 1, 0.2, 1.2),
        _op(1, "read", "x", None, 1.7, 2.7),
    ),
    _example(
        "two-readers-disagree", "two readers disagree on the order of two writes",
        "sequential",
        """p0 writes 1 and p1 writes 2, concurrently. p2 sees 1 then 2, p3 sees 2 then 1.
        Causal memory allows it (the writes are concurrent, and each reader may order
        them its own way); sequential consistency does not (one order for all). A store
        with one version order per key does not either: one of the readers goes back in
        time (monotonic reads).""",
        _op(0, "write", "x", 1, 0.0, 1.0),
        _op(1, "write", "x", 2, 0.3, 1.3),
        _op(2, "read", "x", 1, 1.6, 2.4),
        _op(2, "read", "x", 2, 2.8, 3.6),
        _op(3, "read", "x", 2, 1.8, 2.6),
        _op(3, "read", "x", 1, 3.0, 3.8),
    ),
    _example(
        "flip-flop", "one reader flips between two writes",
        "causal",
        """p2 reads 1, then 2, then 1 again. Weak causal consistency allows it (each read
        on its own respects the causal order: the writes are concurrent); causal memory
        and PRAM do not (p2 would need one order of the two writes), nor do monotonic
        reads.""",
        _op(0, "write", "x", 1, 0.0, 1.0),
        _op(1, "write", "x", 2, 0.3, 1.3),
        _op(2, "read", "x", 1, 1.6, 2.4),
        _op(2, "read", "x", 2, 2.8, 3.6),
        _op(2, "read", "x", 1, 4.0, 4.8),
    ),
    _example(
        "cause-missing", "a reader sees an effect but not its cause",
        "causal",
        """p1 reads p0's x=1 and then writes y=2. p2 reads y=2, then reads x and finds it
        empty: it saw the effect without its cause. Not causal (p0's write is in the
        causal past of p2's read of x), but PRAM (what p1 saw does not bind p2) and every
        session guarantee holds.""",
        _op(0, "write", "x", 1, 0.0, 1.0),
        _op(1, "read", "x", 1, 1.5, 2.3),
        _op(1, "write", "y", 2, 2.6, 3.4),
        _op(2, "read", "y", 2, 3.8, 4.6),
        _op(2, "read", "x", None, 5.0, 5.8),
    ),
    _example(
        "fifo-violation", "a reader sees one process's writes out of order",
        "pram",
        """p0 writes x=1 then y=2. p1 reads y=2, then finds x empty: it saw p0's second
        write without its first. Not PRAM, but each key on its own is fine, so every
        session guarantee holds.""",
        _op(0, "write", "x", 1, 0.0, 1.0),
        _op(0, "write", "y", 2, 1.4, 2.4),
        _op(1, "read", "y", 2, 2.8, 3.6),
        _op(1, "read", "x", None, 4.0, 4.8),
    ),
    _example(
        "read-your-writes", "a client does not see its own write",
        "read-your-writes",
        """p0 writes 1, then reads x and finds it empty, as if it had read from a replica
        its write had not reached. Breaks read-your-writes, and every stronger model.""",
        _op(0, "write", "x", 1, 0.0, 1.0),
        _op(0, "read", "x", None, 1.5, 2.5),
    ),
    _example(
        "monotonic-writes", "a store applies one client's writes out of order",
        "monotonic-writes",
        """p0 writes 1, then 2; the store's version order puts 2 first (``order`` x: 2,
        1), so the value left is 1. Only the versioned store can tell: a reader that
        reads 1 could have read before the second write (sequentially consistent).""",
        _op(0, "write", "x", 1, 0.0, 1.0),
        _op(0, "write", "x", 2, 1.5, 2.5),
        _op(1, "read", "x", 1, 3.0, 4.0),
        order={"x": [2, 1]},
    ),
    _example(
        "writes-follow-reads", "a write is ordered before the write its author read",
        "writes-follow-reads",
        """p1 reads 1, then writes 2; the store's version order puts 2 before 1
        (``order`` x: 2, 1), so p1's write is overwritten by the write it had already
        seen, and p2 reads 1 at the end.""",
        _op(0, "write", "x", 1, 0.0, 1.0),
        _op(1, "read", "x", 1, 1.5, 2.3),
        _op(1, "write", "x", 2, 2.6, 3.4),
        _op(2, "read", "x", 1, 4.0, 4.8),
        order={"x": [2, 1]},
    ),
    _example(
        "converges", "reads go back in time, then converge",
        "monotonic-reads",
        """p1 reads p0's second write, then its first, as a replica that has not yet
        received the second would answer. Once writes stop, every read returns 2:
        eventually consistent, though neither monotonic reads nor PRAM hold.""",
        _op(0, "write", "x", 1, 0.0, 1.0),
        _op(0, "write", "x", 2, 1.5, 2.5),
        _op(1, "read", "x", 2, 3.0, 3.8),
        _op(1, "read", "x", 1, 4.2, 5.0),
        _op(0, "read", "x", 2, 6.0, 6.8),
        _op(1, "read", "x", 2, 6.2, 7.0),
        _op(2, "read", "x", 2, 6.4, 7.2),
        quiet=3.0,
    ),
    _example(
        "diverges", "replicas never converge",
        "eventual",
        """p0 and p1 write concurrently, and long after, each still reads its own value:
        the replicas never agreed. Sequentially consistent (each read can be put right
        after its own process's write), yet not eventually consistent.""",
        _op(0, "write", "x", 1, 0.0, 1.0),
        _op(1, "write", "x", 2, 0.4, 1.4),
        _op(0, "read", "x", 1, 5.0, 5.8),
        _op(1, "read", "x", 2, 5.3, 6.1),
        quiet=3.0,
    ),
)}
