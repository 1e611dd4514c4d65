"""Chord: a lookup service on a ring of identifiers (Stoica et al., 2001).

I. Stoica, R. Morris, D. Karger, M. F. Kaashoek and H. Balakrishnan, "Chord: A Scalable
Peer-to-peer Lookup Service for Internet Applications", SIGCOMM 2001; and the journal
version, with D. Liben-Nowell and F. Dabek, IEEE/ACM Transactions on Networking 11(1),
2003 ("ToN" below), which adds successor lists, ``check_predecessor`` and voluntary
departures. Figure numbers are ToN's.

Chord does one thing: given a key, it finds the node responsible for it, among nodes that
come and go. The rules of this file:

* **identifiers**: nodes and keys are hashed onto one circle of ``2**bits`` identifiers
  (:func:`chord_id`, SHA-256; the paper uses SHA-1 and 160 bits, here at most 63 because a
  message carries signed 64-bit integers). A node's identifier is the hash of its node id,
  as the paper hashes a node's IP address. Key ``k`` belongs to its *successor*: the first
  node met going clockwise from ``k``, ``k`` included;
* **state** (Figure 5): a node keeps its *successor list* (its ``successors`` nearest
  nodes clockwise, nearest first, never itself: an empty list means the node is alone),
  its *predecessor*, and a *finger table*: ``fingers[i]`` is the successor of
  ``ident + 2**i`` (``i = 0 .. bits - 1``; the paper counts from 1 and writes
  ``2**(k-1)``), so each finger halves the distance left to any target;
* **lookups are iterative** (Figure 5's ``find_successor``): the node that asks
  sends :class:`FindSuccessor` to one node after the other and counts the *hops* (the
  nodes it asks). A node answers *done*, with its successor list, when the target lies in
  ``(itself, its successor]``; otherwise it names the nodes of its fingers and successor
  list that most closely precede the target (``closest_preceding_node``), best first. Each
  hop at least halves the distance left when the fingers are right, so a lookup takes
  ``O(log N)`` hops, about ``½·log₂N`` on average (Figure 10). A node that does not answer
  within ``rpc_timeout`` is forgotten and the next candidate asked;
* **maintenance** (Figure 6), on three jittered timers: ``stabilize`` asks the successor
  for its predecessor and successor list, adopts that predecessor if it lies between the
  two, copies the list, and notifies the successor (:class:`Notify`: "I may be your
  predecessor"); ``fix_fingers`` refreshes the next finger with a lookup (fingers whose
  start lies before the successor are set at once, without a message);
  ``check_predecessor`` pings the predecessor and clears it if it does not answer;
* **joining**: a node looks up its own identifier through a node already in the
  ring, takes the answer as its successor, and waits for stabilization to do the rest. A
  node started with ``join=None`` creates a new ring. A node that restarts after a crash
  joins again, through the nodes it remembered in storage (its last successor list) and
  then ``join``;
* **failures**: a successor that does not answer is dropped from the list and the
  next one takes its place; with ``r`` successors, a ring survives the loss of any ``r - 1``
  consecutive nodes. A graceful :meth:`Chord.leave` hands the leaver's predecessor and
  successor list to its neighbours first. A network partition is outside the
  model: two halves that lose sight of each other become two rings, and stay so;
* a node that is not in a ring (still joining, or gone) answers nothing.

Trace notes (for :mod:`dsys.naming.chord_checkers`): ``joined`` (with ``ident``),
``left``, and ``lookup`` for every lookup the application asked for (``target``,
``owner``, ``hops``; ``owner`` is None when the lookup failed).

Example:
    >>> from dsys import Node, Simulation
    >>> from dsys.naming.chord import Chord
    >>> class Peer(Node):
    ...     def __init__(self, join=None) -> None:
    ...         super().__init__()
    ...         self.chord = self.add_component(Chord(join, bits=16))
    >>> sim = Simulation(seed=1)
    >>> sim.add_node("n0", Peer)
    >>> for i in range(1, 8):
    ...     sim.add_node(f"n{i}", lambda: Peer(join="n0"), start=0.2 * i)
    >>> sim.run(until=10.0)
    >>> ring = sorted((sim.node(f"n{i}").chord for i in range(8)), key=lambda c: c.ident)
    >>> [(c.node.id, c.successor) for c in ring]  # in identifier order: each node's
    ... # successor is the next one
    [('n2', 'n6'), ('n6', 'n5'), ('n5', 'n1'), ('n1', 'n7'), ('n7', 'n0'), ('n0', 'n3'),
     ('n3', 'n4'), ('n4', 'n2')]
    >>> answers = []
    >>> sim.node("n3").chord.lookup("cart", answers.append)
    >>> sim.run(until=10.5)
    >>> answers[0].owner, answers[0].hops
    ('n6', 1)
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from dsys.core.messages import message
from dsys.core.node import Component
from dsys.errors import ConfigError, UsageError

#: Identifier bits by default: a circle of 2**32 identifiers (collisions between N nodes
#: are then likely only for N in the tens of thousands: about N²/2**33).
DEFAULT_BITS = 32

#: The most bits an identifier may have: messages carry signed 64-bit integers.
MAX_BITS = 63


def _check_bits(bits: int) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= MAX_BITS:
        raise ConfigError(f"Chord identifiers have 1 to {MAX_BITS} bits, got {bits!r}")


def chord_id(name: str, bits: int = DEFAULT_BITS) -> int:
    """The identifier of ``name`` (a node id or a key) on a circle of ``2**bits``: the top
    ``bits`` bits of its SHA-256. The same in every process.

    >>> chord_id("n0", 16), chord_id("cart", 16)
    (33293, 7234)
    """
    _check_bits(bits)
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest, "big") >> (256 - bits)


def in_open(x: int, a: int, b: int) -> bool:
    """Is ``x`` in the open interval ``(a, b)``, going clockwise from ``a`` to ``b``?

    ``(a, a)`` is the whole circle but ``a`` itself.

    >>> in_open(5, 3, 9), in_open(9, 3, 9), in_open(1, 60000, 3), in_open(7, 7, 7)
    (True, False, True, False)
    """
    if a < b:
        return a < x < b
    return x > a or x < b


def in_half_open(x: int, a: int, b: int) -> bool:
    """Is ``x`` in ``(a, b]``, going clockwise? ``(a, a]`` is the whole circle.

    A key ``k`` belongs to node ``s`` exactly when ``k`` is in ``(predecessor(s), s]``.

    >>> in_half_open(9, 3, 9), in_half_open(3, 3, 9), in_half_open(7, 7, 7)
    (True, False, True)
    """
    if a < b:
        return a < x <= b
    return x > a or x <= b


# ----- messages ------------------------------------------------------------------------


@message(name="chord:FindSuccessor")
class FindSuccessor:
    """Asker -> node: what do you know of the successor of ``target``? (lookup ``qid``)"""

    qid: int
    target: int


@message(name="chord:FindSuccessorReply")
class FindSuccessorReply:
    """Node -> asker. ``done``: the target lies between this node and its successor, and
    ``nodes`` is this node's successor list (the answer first). Otherwise ``nodes`` are the
    nodes this node knows that most closely precede the target, best first."""

    qid: int
    done: bool
    nodes: tuple[str, ...]


@message(name="chord:GetPredecessor")
class GetPredecessor:
    """Stabilize: a node asks its successor for its predecessor and successor list."""

    seq: int


@message(name="chord:PredecessorReply")
class PredecessorReply:
    """The answer to :class:`GetPredecessor` ``seq``."""

    seq: int
    predecessor: str | None
    successors: tuple[str, ...]


@message(name="chord:Notify")
class Notify:
    """The sender thinks it might be the receiver's predecessor (Figure 6's ``notify``)."""


@message(name="chord:Ping")
class Ping:
    """check_predecessor: are you still there?"""

    seq: int


@message(name="chord:Pong")
class Pong:
    """Yes (the answer to :class:`Ping` ``seq``)."""

    seq: int


@message(name="chord:Leaving")
class Leaving:
    """The sender leaves the ring; its predecessor and successor list close the gap."""

    predecessor: str | None
    successors: tuple[str, ...]


# ----- lookups -------------------------------------------------------------------------


@attrs.frozen
class ChordLookup:
    """A finished lookup: ``owner`` holds ``target`` (None if the lookup failed, and
    ``reason`` says why); ``hops`` nodes were asked, from ``started`` to ``finished``."""

    target: int
    owner: str | None
    hops: int
    started: float
    finished: float
    key: str | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when the lookup found an owner."""
        return self.owner is not None


LookupCallback = Callable[[ChordLookup], None]


@attrs.define
class _Pending:
    """A lookup in progress: who is being asked, and who to ask if that one is silent."""

    qid: int
    target: int
    purpose: str                      # "lookup", "join" or "finger"
    started: float
    callback: LookupCallback | None = None
    key: str | None = None
    finger: int = -1
    hops: int = 0
    asking: str | None = None
    fallbacks: list[str] = attrs.Factory(list)


# ----- the component ---------------------------------------------------------------------


class Chord(Component):
    """One node of a Chord ring (see the module docstring for the protocol).

    Args:
        join: a node already in the ring to join through, or several to try in turn;
            None creates a new ring (only for the first node).
        bits: identifiers are ``bits``-bit integers (1 to 63).
        successors: ``r``, the length of the successor list.
        stabilize_every: mean seconds between two runs of ``stabilize`` (each interval
            is drawn from half to one and a half times it, as the paper's are random).
        fix_fingers_every: mean seconds between two runs of ``fix_fingers``.
        check_predecessor_every: mean seconds between two pings of the predecessor.
        rpc_timeout: how long to wait for any answer before holding a node dead.
        max_hops: a lookup that has asked this many nodes fails (default ``2 * bits``).
        on_lookup: called with each finished :class:`ChordLookup` that has no callback of
            its own.

    Example:
        >>> from dsys.naming.chord import Chord
        >>> chord = Chord("n0", bits=16, successors=3)
        >>> chord.bits, chord.r, chord.joined
        (16, 3, False)
    """

    messages = (FindSuccessor, FindSuccessorReply, GetPredecessor, PredecessorReply, Notify,
                Ping, Pong, Leaving)
    default_name = "chord"

    def __init__(self, join: str | Sequence[str] | None = None, *, bits: int = DEFAULT_BITS,
                 successors: int = 4, stabilize_every: float = 0.5,
                 fix_fingers_every: float = 0.5, check_predecessor_every: float = 0.5,
                 rpc_timeout: float = 0.1, max_hops: int | None = None,
                 on_lookup: LookupCallback | None = None) -> None:
        _check_bits(bits)
        if isinstance(successors, bool) or not isinstance(successors, int) or successors < 1:
            raise ConfigError(f"the successor list needs at least 1 entry, got {successors!r}")
        for name, value in (("stabilize_every", stabilize_every),
                            ("fix_fingers_every", fix_fingers_every),
                            ("check_predecessor_every", check_predecessor_every),
                            ("rpc_timeout", rpc_timeout)):
            if not value > 0:
                raise ConfigError(f"{name} must be > 0 seconds, got {value!r}")
        self.bootstrap: tuple[str, ...] = (
            () if join is None else (join,) if isinstance(join, str) else tuple(join))
        self.bits = bits
        self.size = 1 << bits
        self.r = successors
        self.stabilize_every = stabilize_every
        self.fix_fingers_every = fix_fingers_every
        self.check_predecessor_every = check_predecessor_every
        self.rpc_timeout = rpc_timeout
        self.max_hops = 2 * bits if max_hops is None else max_hops
        self.on_lookup = on_lookup
        #: The nearest nodes clockwise, nearest first; never this node (empty: alone).
        self.successors: list[str] = []
        #: The node just before this one on the ring, as far as this node knows.
        self.predecessor: str | None = None
        #: ``fingers[i]``: the successor of ``ident + 2**i`` (None: not known yet).
        self.fingers: list[str | None] = [None] * bits
        #: In a ring: joined (or created one), and not left.
        self.joined = False
        #: Left the ring gracefully (it then answers nothing).
        self.left = False
        self._ident: int | None = None
        self._ids: dict[str, int] = {}
        self._pending: dict[int, _Pending] = {}
        self._qid = 0
        self._seq = 0
        self._next_finger = -1
        self._stabilizing: tuple[str, int] | None = None
        self._pinging: tuple[str, int] | None = None

    # ----- identity ----------------------------------------------------------------------

    @property
    def ident(self) -> int:
        """This node's identifier on the circle."""
        if self._ident is None:
            self._ident = chord_id(self.node.id, self.bits)
        return self._ident

    def id_of(self, name: str) -> int:
        """The identifier of node (or key) ``name`` (remembered: it is asked often)."""
        found = self._ids.get(name)
        if found is None:
            found = self._ids[name] = chord_id(name, self.bits)
        return found

    @property
    def successor(self) -> str:
        """This node's successor (itself when it is alone)."""
        return self.successors[0] if self.successors else self.node.id

    # ----- starting, joining, leaving ------------------------------------------------------

    def on_start(self) -> None:
        if self.bootstrap:
            self.start_join(self.bootstrap)
        else:
            self.create()
        self._arm("stabilize", self.stabilize_every)
        self._arm("fix_fingers", self.fix_fingers_every)
        self._arm("check_predecessor", self.check_predecessor_every)

    def on_recover(self) -> None:
        # A restarted node joins again, through what it remembered, then its bootstrap.
        remembered = [n for n in self.storage.get("chord/known", []) if n != self.node.id]
        self.bootstrap = tuple(dict.fromkeys([*remembered, *self.bootstrap]))
        self.on_start()

    def create(self) -> None:
        """Start a new ring of one: this node (Figure 6's ``create``)."""
        self.predecessor = None
        self.successors = []
        self._become_member()

    def start_join(self, through: Sequence[str]) -> None:
        """Join the ring that the nodes ``through`` belong to (tried in turn): look up this
        node's own identifier there, and take the answer as successor."""
        candidates = [n for n in through if n != self.node.id]
        if not candidates:
            self.create()
            return
        pending = self._new_lookup(self.ident, "join")
        pending.fallbacks = candidates[1:]
        self._ask(pending, candidates[0])

    def leave(self) -> None:
        """Leave the ring gracefully: tell the predecessor and the successor (ToN's
        voluntary departures), then answer nothing more."""
        if not self.joined:
            return
        farewell = Leaving(self.predecessor, tuple(self.successors))
        for neighbour in dict.fromkeys([self.successor, self.predecessor]):
            if neighbour is not None and neighbour != self.node.id:
                self.send(neighbour, farewell)
        for pending in list(self._pending.values()):
            self._finish(pending, None, "this node left the ring")
        self.joined = False
        self.left = True
        for timer in ("stabilize", "fix_fingers", "check_predecessor", "stabilize_timeout",
                      "predecessor_timeout"):
            self.cancel_timer(timer)
        self.note("left", ident=self.ident)

    def _become_member(self) -> None:
        self.joined = True
        self._remember()
        self.note("joined", ident=self.ident, successor=self.successor)

    # ----- lookups -------------------------------------------------------------------------

    def lookup(self, key: str | int, on_done: LookupCallback | None = None) -> None:
        """Find the node that holds ``key`` (a name, hashed with :func:`chord_id`, or an
        identifier). ``on_done`` (default: ``on_lookup``) gets the :class:`ChordLookup`."""
        if isinstance(key, str):
            target, name = chord_id(key, self.bits), key  # (keys are not remembered)
        elif isinstance(key, int) and not isinstance(key, bool) and 0 <= key < self.size:
            target, name = key, None
        else:
            raise UsageError(f"look up a key name (str) or an identifier in [0, 2**{self.bits})"
                             f", got {key!r}")
        pending = self._new_lookup(target, "lookup", on_done, key=name)
        if not self.joined:
            self._finish(pending, None, "this node is not in a ring")
        else:
            self._step_here(pending)

    def _new_lookup(self, target: int, purpose: str, callback: LookupCallback | None = None,
                    *, key: str | None = None, finger: int = -1) -> _Pending:
        self._qid += 1
        pending = _Pending(self._qid, target, purpose, self.now, callback, key, finger)
        self._pending[pending.qid] = pending
        return pending

    def _step_here(self, pending: _Pending) -> None:
        """Take the next step of a lookup with this node's own tables (no hop)."""
        if in_half_open(pending.target, self.ident, self.id_of(self.successor)):
            self._finish(pending, [self.successor, *self.successors[1:]])
            return
        self._advance(pending, self.closest_preceding(pending.target))

    def _advance(self, pending: _Pending, candidates: list[str]) -> None:
        """Ask the best of ``candidates``; keep the others in case it does not answer."""
        while candidates:
            best, candidates = candidates[0], candidates[1:]
            if best == self.node.id:
                if self.joined:
                    self._step_here(pending)
                    return
                continue
            pending.fallbacks = candidates
            self._ask(pending, best)
            return
        self._finish(pending, None, "no node left to ask")

    def _ask(self, pending: _Pending, node: str) -> None:
        if pending.hops >= self.max_hops:
            self._finish(pending, None, f"gave up after {pending.hops} hops")
            return
        pending.hops += 1
        pending.asking = node
        self.send(node, FindSuccessor(pending.qid, pending.target))
        self.set_timer(f"lookup-{pending.qid}", self.rpc_timeout)

    def _lookup_timed_out(self, qid: int) -> None:
        pending = self._pending.get(qid)
        if pending is None or pending.asking is None:
            return
        self.forget(pending.asking)
        candidates, pending.fallbacks = pending.fallbacks, []
        self._advance(pending, candidates)

    def _on_reply(self, src: str, msg: FindSuccessorReply) -> None:
        pending = self._pending.get(msg.qid)
        if pending is None or pending.asking != src:
            return  # late: that node was given up on already
        self.cancel_timer(f"lookup-{msg.qid}")
        if msg.done:
            if msg.nodes:
                self._finish(pending, list(msg.nodes))
            else:
                self._finish(pending, None, f"{src} answered with no successor")
            return
        # Every step must get closer to the target: that is what makes lookups end.
        closer = [n for n in msg.nodes
                  if in_open(self.id_of(n), self.id_of(src), pending.target)]
        self._advance(pending, closer)

    def _finish(self, pending: _Pending, nodes: list[str] | None, reason: str = "") -> None:
        self._pending.pop(pending.qid, None)
        self.cancel_timer(f"lookup-{pending.qid}")
        owner = nodes[0] if nodes else None
        if pending.purpose == "join":
            self._joined_at(pending, nodes)
        elif pending.purpose == "finger":
            if owner is not None and self.joined:
                self.fingers[pending.finger] = owner
        else:
            result = ChordLookup(pending.target, owner, pending.hops, pending.started,
                                 self.now, pending.key, reason)
            self.note("lookup", target=pending.target, owner=owner, hops=pending.hops,
                      reason=reason)
            callback = pending.callback or self.on_lookup
            if callback is not None:
                callback(result)

    def _joined_at(self, pending: _Pending, nodes: list[str] | None) -> None:
        if self.joined or self.left:
            return
        if not nodes:
            self.log("join failed; trying again")
            self.set_timer("join", self.stabilize_every)
            return
        for name in nodes:
            if name != self.node.id and self.id_of(name) == self.ident:
                raise ConfigError(
                    f"nodes {self.node.id!r} and {name!r} have the same Chord identifier "
                    f"{self.ident} at bits={self.bits}: use more bits, or other node ids")
        # After a quick restart the ring may still hold this node: skip its old self.
        self.successors = [n for n in dict.fromkeys(nodes) if n != self.node.id][:self.r]
        self.predecessor = None
        self._become_member()
        self.stabilize()  # tell the successor at once

    # ----- answering -------------------------------------------------------------------------

    def closest_preceding(self, target: int, limit: int = 3) -> list[str]:
        """The nodes of the finger table and successor list that lie in ``(this node,
        target)``, the closest to ``target`` first (ToN's ``closest_preceding_node``, with
        runners-up in case the first does not answer)."""
        me = self.ident
        found: dict[str, int] = {}
        for node in (*self.successors, *self.fingers):
            if node is not None and node != self.node.id and node not in found:
                ident = self.id_of(node)
                if in_open(ident, me, target):
                    found[node] = (target - ident) % self.size  # distance left
        return sorted(found, key=lambda node: (found[node], node))[:limit]

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case FindSuccessorReply():
                self._on_reply(src, msg)
                return
            case PredecessorReply():
                self._on_predecessor_reply(src, msg)
                return
            case Pong(seq=seq) if self._pinging == (src, seq):
                self._pinging = None
                self.cancel_timer("predecessor_timeout")
                return
        if not self.joined:
            return  # a node that is not in a ring answers nothing
        match msg:
            case FindSuccessor(qid=qid, target=target):
                if in_half_open(target, self.ident, self.id_of(self.successor)):
                    self.send(src, FindSuccessorReply(
                        qid, True, (self.successor, *self.successors[1:])))
                else:
                    self.send(src, FindSuccessorReply(
                        qid, False, tuple(self.closest_preceding(target))))
            case GetPredecessor(seq=seq):
                self.send(src, PredecessorReply(seq, self.predecessor, tuple(self.successors)))
            case Notify():
                self.notify(src)
            case Ping(seq=seq):
                self.send(src, Pong(seq))
            case Leaving():
                self._on_leaving(src, msg)

    # ----- stabilization (Figure 6) -------------------------------------------------------------

    def stabilize(self) -> None:
        """Ask the successor for its predecessor and successor list."""
        if not self.joined:
            return
        if not self.successors:
            # Alone: a node that notified us is the ring's second node, and our successor.
            if self.predecessor is not None and self.predecessor != self.node.id:
                self._set_successors([self.predecessor])
                self.send(self.successor, Notify())
            return
        if self._stabilizing is not None and self._stabilizing[0] == self.successor:
            return  # still waiting for its answer (asking again would put off the timeout)
        self._seq += 1
        self._stabilizing = (self.successor, self._seq)
        self.send(self.successor, GetPredecessor(self._seq))
        self.set_timer("stabilize_timeout", self.rpc_timeout)

    def _on_predecessor_reply(self, src: str, msg: PredecessorReply) -> None:
        if self._stabilizing != (src, msg.seq) or not self.joined:
            return
        self._stabilizing = None
        self.cancel_timer("stabilize_timeout")
        # The successor list (ToN): the successor's own list, its last entry dropped, after
        # the successor itself.
        listed = [src, *msg.successors]
        x = msg.predecessor
        closer = None
        if x is not None and x != self.node.id and in_open(self.id_of(x), self.ident,
                                                           self.id_of(src)):
            closer = x  # a node joined between us: it is our successor now
            listed.insert(0, x)
        self._set_successors(listed)
        self.send(self.successor, Notify())
        if closer is not None and self.successor == closer:
            self.stabilize()  # ask the new successor at once: more may have joined there

    def notify(self, candidate: str) -> None:
        """``candidate`` thinks it might be our predecessor."""
        if candidate == self.node.id:
            return
        pred = self.predecessor
        if pred is None or in_open(self.id_of(candidate), self.id_of(pred), self.ident):
            self.predecessor = candidate

    def fix_fingers(self) -> None:
        """Refresh the next finger: at once if it falls before the successor, else by a
        lookup (one at a time)."""
        if not self.joined:
            return
        if any(p.purpose == "finger" for p in self._pending.values()):
            return
        succ_ident = self.id_of(self.successor)
        for _ in range(self.bits):
            self._next_finger = (self._next_finger + 1) % self.bits
            i = self._next_finger
            start = (self.ident + (1 << i)) % self.size
            if in_half_open(start, self.ident, succ_ident):
                self.fingers[i] = self.successor
                continue
            self._step_here(self._new_lookup(start, "finger", finger=i))
            return

    def check_predecessor(self) -> None:
        """Ping the predecessor; it is cleared if it does not answer in time."""
        pred = self.predecessor
        if not self.joined or pred is None or pred == self.node.id:
            return
        if self._pinging is not None and self._pinging[0] == pred:
            return  # still waiting for its Pong
        self._seq += 1
        self._pinging = (pred, self._seq)
        self.send(pred, Ping(self._seq))
        self.set_timer("predecessor_timeout", self.rpc_timeout)

    def on_timer(self, name: str) -> None:
        if name == "stabilize":
            self.stabilize()
            self._arm("stabilize", self.stabilize_every)
        elif name == "fix_fingers":
            self.fix_fingers()
            self._arm("fix_fingers", self.fix_fingers_every)
        elif name == "check_predecessor":
            self.check_predecessor()
            self._arm("check_predecessor", self.check_predecessor_every)
        elif name == "stabilize_timeout" and self._stabilizing is not None:
            dead, _ = self._stabilizing
            self._stabilizing = None
            self.forget(dead)
            self.stabilize()  # at once, with the next successor of the list
        elif name == "predecessor_timeout" and self._pinging is not None:
            dead, _ = self._pinging
            self._pinging = None
            if self.predecessor == dead:
                self.predecessor = None
        elif name == "join" and not self.joined and not self.left:
            self.start_join(self.bootstrap)
        elif name.startswith("lookup-"):
            self._lookup_timed_out(int(name[len("lookup-"):]))

    def _arm(self, timer: str, every: float) -> None:
        if not self.left:
            self.set_timer(timer, every * self.rng.uniform(0.5, 1.5))

    # ----- failures and departures ----------------------------------------------------------

    def forget(self, node: str) -> None:
        """Hold ``node`` dead: drop it from the successor list, the fingers and the
        predecessor. If no successor is left, the nearest node still known takes over."""
        if node == self.node.id:
            return
        had = bool(self.successors)
        successors = [n for n in self.successors if n != node]
        self.fingers = [None if f == node else f for f in self.fingers]
        if self.predecessor == node:
            self.predecessor = None
        if had and not successors:
            known = [f for f in self.fingers if f is not None and f != self.node.id]
            if self.predecessor is not None:
                known.append(self.predecessor)
            if known:  # the nearest one clockwise
                successors = [min(known, key=lambda n: ((self.id_of(n) - self.ident)
                                                        % self.size, n))]
        self._set_successors(successors)

    def _on_leaving(self, src: str, msg: Leaving) -> None:
        if self.predecessor == src:
            self.predecessor = msg.predecessor if msg.predecessor != self.node.id else None
        if src in self.successors:
            at = self.successors.index(src)
            self._set_successors([*self.successors[:at], *msg.successors])
        self.fingers = [None if f == src else f for f in self.fingers]

    def _set_successors(self, listed: Iterable[str]) -> None:
        """Keep the first ``r`` distinct nodes of ``listed`` other than this one."""
        new = [n for n in dict.fromkeys(listed) if n != self.node.id][:self.r]
        if new != self.successors:
            first_changed = new[:1] != self.successors[:1]
            self.successors = new
            if first_changed:
                self._remember()

    def _remember(self) -> None:
        """Keep the successor list in storage: a restarted node joins again through it."""
        self.storage["chord/known"] = list(self.successors)
        self.storage.sync()

    # ----- experiments -------------------------------------------------------------------------

    def install_tables(self, members: Iterable[str] | Mapping[str, int]) -> None:
        """Set this node's successor list, predecessor and fingers to what join and
        stabilization reach in a stable ring of ``members`` (which holds this node), at
        once. For experiments on large rings: building a ring of 1,000 nodes by joins
        costs minutes of simulation; a real deployment always joins.

        ``members`` may map each node to its identifier (as :func:`chord_id` gives it,
        with this node's ``bits``), so that a thousand nodes need not each hash a thousand
        names."""
        if isinstance(members, Mapping):
            ring = sorted((ident, n) for n, ident in members.items())
        else:
            ring = sorted({(self.id_of(n), n) for n in members})
        idents = [ident for ident, _ in ring]
        at = idents.index(self.ident)
        count = len(ring)

        def successor_of(target: int) -> str:
            return ring[bisect.bisect_left(idents, target) % count][1]

        self.successors = [ring[(at + k) % count][1] for k in range(1, min(self.r, count - 1)
                                                                    + 1)]
        self.predecessor = ring[at - 1][1] if count > 1 else None
        self.fingers = [successor_of((self.ident + (1 << i)) % self.size)
                        for i in range(self.bits)]
        if not self.joined:
            self._become_member()
        else:
            self._remember()
