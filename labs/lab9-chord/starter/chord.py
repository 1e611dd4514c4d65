"""Lab 9: Chord. The only file you edit.

Implement one node of a Chord ring as the paper describes it (I. Stoica et al., "Chord: A
Scalable Peer-to-peer Lookup Protocol for Internet Applications", IEEE/ACM Transactions
on Networking, 2003: sections IV and V, Figures 5 and 6): identifiers on a circle, iterative
lookups through finger tables, joins, and the periodic stabilization that keeps the ring
right while nodes come and go (stabilize, notify, fix_fingers, check_predecessor), with a
successor list. The handout (README.md) walks through it step by step.

The grader builds each node with ``ChordNode(join)`` (``join``: a node of the ring to
join through, or None for the node that creates the ring), reads and sometimes *sets* the
attributes ``successors``, ``predecessor``, ``fingers`` and ``joined``, calls
``lookup(target, done)``, and calls ``in_open`` and ``in_half_open`` directly. Keep those
names, and keep the node's state in those attributes.

Use ``self.rng`` for random numbers and timers for time (never the ``random`` module or
the wall clock): the grader replays every failure from its seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from dsys import Node, message

#: Identifiers are BITS-bit integers: a circle of 65,536.
BITS = 16
SIZE = 1 << BITS
#: R: how many successors each node keeps.
SUCCESSORS = 3
#: Mean seconds between two runs of each maintenance task. Draw each interval between
#: half and one and a half times it (``self.rng.uniform(0.5, 1.5) * ...``), so that
#: nodes do not act in lockstep.
STABILIZE_EVERY = 0.2
FIX_FINGERS_EVERY = 0.1
CHECK_PREDECESSOR_EVERY = 0.2
#: How long to wait for any answer before holding a node dead (a round trip is 2-20 ms).
RPC_TIMEOUT = 0.05


def chord_id(name: str) -> int:
    """The identifier of a node id or key: the top BITS bits of its SHA-256."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest(), "big") >> (256 - BITS)


def in_open(x: int, a: int, b: int) -> bool:
    """Is ``x`` in ``(a, b)``, going clockwise from ``a``? ``(a, a)`` is the whole circle
    but ``a``."""
    # TODO (step 1): an interval whose end is below its start wraps past 0.
    return False


def in_half_open(x: int, a: int, b: int) -> bool:
    """Is ``x`` in ``(a, b]``, going clockwise from ``a``? ``(a, a]`` is the whole circle.
    A key belongs to node ``s`` exactly when it lies in ``(predecessor(s), s]``."""
    # TODO (step 1)
    return False


# ----- messages (keep them: the grader's probe nodes speak them) ------------------------------
# Messages are one-way: a reply is a message of its own, sent back to the sender.


@message
class FindSuccessor:
    """Asker -> node: what do you know of the successor of ``target``? (lookup ``qid``)"""

    qid: int
    target: int


@message
class FindSuccessorReply:
    """``done``: ``target`` is in (sender, sender's successor], and ``nodes`` is the
    sender's successor list (its successor first). Otherwise ``nodes``: the nodes the
    sender knows that most closely precede ``target``, the closest first."""

    qid: int
    done: bool
    nodes: tuple[str, ...]


@message
class GetPredecessor:
    """Stabilize: who is your predecessor, and what is your successor list?"""


@message
class PredecessorReply:
    predecessor: str | None
    successors: tuple[str, ...]


@message
class Notify:
    """The sender thinks it might be the receiver's predecessor."""


@message
class Ping:
    """check_predecessor: are you there?"""


@message
class Pong:
    """Yes."""


class ChordNode(Node):
    """One node of a Chord ring. ``join``: a node of the ring to join through (None: this
    node creates the ring)."""

    def __init__(self, join: str | None = None) -> None:
        super().__init__()
        self.join_through = join
        self.ident = chord_id(self.id)
        #: The R nearest nodes clockwise, nearest first; never this node (empty: alone).
        self.successors: list[str] = []
        #: The node just before this one, as far as it knows (None: unknown).
        self.predecessor: str | None = None
        #: fingers[i]: the successor of (ident + 2**i) mod SIZE (None: not known yet).
        self.fingers: list[str | None] = [None] * BITS
        #: True once the node is in a ring (it created one, or its join finished).
        self.joined = False
        # TODO: the state of lookups in progress, of stabilize and of check_predecessor.

    @property
    def successor(self) -> str:
        """The successor (this node itself when it is alone)."""
        return self.successors[0] if self.successors else self.id

    def on_start(self) -> None:
        if self.join_through is None:
            self.joined = True  # a ring of one
        else:
            pass  # TODO (step 4): join through self.join_through
        # TODO (steps 5-7): arm the "stabilize", "fix_fingers" and "check_predecessor" timers

    # ----- lookups -----------------------------------------------------------------------------

    def lookup(self, target: int, done: Callable[[str | None], None]) -> None:
        """Find the successor of ``target`` and call ``done(owner)``; ``done(None)`` if the
        lookup failed. It must always end: within a second, even if nodes crash."""
        # TODO (step 3): an iterative lookup. If target is in (n, successor], the answer is
        # the successor, at once. Otherwise ask the closest preceding node
        # (FindSuccessor), follow each reply, and give up on a node that does not answer
        # within RPC_TIMEOUT (forget it: self.forget).
        done(None)

    def closest_preceding(self, target: int) -> list[str]:
        """The nodes this node knows (fingers and successors) that lie in (n, target), the
        closest to ``target`` first: at most three."""
        # TODO (step 2)
        return []

    # ----- messages and timers -------------------------------------------------------------------

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case FindSuccessor():
                # TODO (step 2): answer done with your successor list if target is in
                # (n, successor], else with your closest preceding nodes.
                pass
            case FindSuccessorReply():
                pass  # TODO (step 3): the next step of one of your lookups
            case GetPredecessor():
                pass  # TODO (step 5)
            case PredecessorReply():
                pass  # TODO (step 5)
            case Notify():
                self.notify(src)
            case Ping():
                pass  # TODO (step 7)
            case Pong():
                pass  # TODO (step 7)

    def on_timer(self, name: str) -> None:
        pass  # TODO (steps 3, 5-7)

    def notify(self, candidate: str) -> None:
        """``candidate`` thinks it might be our predecessor (Figure 6)."""
        # TODO (step 5)

    # ----- failures ---------------------------------------------------------------------------

    def forget(self, node: str) -> None:
        """Hold ``node`` dead: drop it from the successor list, the fingers and the
        predecessor."""
        # TODO (step 6)

    def set_successors(self, listed: Iterable[str]) -> None:
        """Keep the first SUCCESSORS distinct nodes of ``listed``, this node left out."""
        self.successors = [n for n in dict.fromkeys(listed) if n != self.id][:SUCCESSORS]
