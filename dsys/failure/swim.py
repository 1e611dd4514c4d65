"""SWIM: scalable weakly-consistent infection-style process group membership
(Das, Gupta and Motivala, DSN 2002), with Lifeguard (Dadgar, Phillips and Currey, 2018)
behind a switch.

The rules of this file:

* one :class:`Swim` component per member. Every ``period`` seconds (the *protocol
  period*, §3.1) a member probes one other member: it sends :class:`Ping`; if no
  :class:`Ack` comes within ``ping_timeout``, it asks ``indirect_probes`` (the paper's *k*)
  other members to probe the target for it (:class:`PingReq`); if no ack, direct or
  relayed, has come by the end of the period, the target failed this probe;
* targets are chosen by *randomized round-robin* (§4.3): members are probed in the order
  of a shuffled list, reshuffled at the end of each pass, new members inserted at a random
  place; so a crashed member is probed within at most 2N-1 periods;
* a failed probe does not declare the target dead: it is *suspected* (§4.2) and the
  suspicion is spread; after a suspicion timeout the suspicion is *confirmed* (the member
  is dead: this is the detector's output, :meth:`~FailureDetector.suspects`). A suspected
  member that hears of it *refutes* it by raising its *incarnation number* and spreading
  ``alive``. Which news wins is decided by :func:`overrides`, the paper's rules;
* there are no extra messages for all this: every :class:`Update` (alive, suspect,
  confirm, leave) rides *piggybacked* on pings, acks and ping-reqs (§4.1, infection-style
  dissemination), at most ``max_piggyback`` per message, newest-least-sent first, each
  sent ``retransmit_mult · ⌈log10(N+1)⌉`` times (the paper's λ log N) and then dropped;
* joining (``seeds``): a new member asks a seed, which answers with its member list and
  spreads the newcomer's ``alive``. Leaving (:meth:`Swim.leave`): the member spreads
  ``leave`` about itself and goes quiet; the others remove it without suspecting it;
* a member held dead is pinged now and then (``reconnect_every``): if it is alive after
  all (the two sides of a healed partition), it refutes and is alive again;
* :data:`TRANSITIONS` lists the states of a member as seen by another and what moves it:
  the docs draw their state diagram from it.

Lifeguard (``lifeguard=True``, §IV of the Lifeguard paper) makes a member that is itself
slow or overloaded less trigger-happy:

* *local health*: a counter from 0 to ``max_health`` rises when this member's own probes
  fail, when it must refute a suspicion of itself, and when a helper's :class:`Nack`
  does not come; it falls with each successful probe. Probe period and timeout are
  multiplied by ``health + 1``: a member that cannot keep up slows down instead of
  suspecting everybody;
* *nacks*: a helper asked to probe answers :class:`Nack` if the target does not answer,
  so the asker can tell "target silent" from "I am not hearing anything";
* *dynamic suspicion timeouts*: a suspicion starts with a long timeout
  (``suspicion_max_mult`` times the minimum) that shrinks, logarithmically, as other
  members independently suspect the same member (``indirect_probes`` confirmations reach
  the minimum);
* *buddy system*: a ping to a suspected member carries that suspicion first, so it can
  refute at once.

Deviations from the 2002 paper, as in the systems built on it (memberlist, ...): a dead
member that comes back with a higher incarnation (a restart, a false confirm) is alive
again; a member that hears itself declared dead refutes that too. The incarnation number
is kept in storage, so a restarted member comes back with a higher one.

Example:
    >>> from dsys import Node, Simulation
    >>> from dsys.failure import Swim
    >>> class Member(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.swim = self.add_component(Swim(period=0.2, ping_timeout=0.05))
    >>> sim = Simulation(seed=6)
    >>> for i in range(8):
    ...     sim.add_node(f"m{i}", Member)
    >>> sim.at(1.0, lambda: sim.crash("m3"))
    >>> sim.run(until=6.0)
    >>> sorted({sim.node(f"m{i}").swim.suspected() for i in range(8) if i != 3})
    [('m3',)]
    >>> sim.node("m0").swim.state("m3")
    'dead'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import attrs

from dsys.core.messages import message
from dsys.errors import UsageError
from dsys.failure.base import FailureDetector, PeerCallback

#: What one member knows of another.
Status = Literal["alive", "suspect", "dead", "left"]
ALIVE: Status = "alive"
SUSPECT: Status = "suspect"
DEAD: Status = "dead"
LEFT: Status = "left"

#: The kinds of news spread about a member (``confirm`` makes it ``dead``).
Kind = Literal["alive", "suspect", "confirm", "leave"]

#: The state machine of one member as seen by another: (from, event, to).
TRANSITIONS: tuple[tuple[str, str, str], ...] = (
    ("alive", "probe failed, or suspect(i ≥ inc) heard", "suspect"),
    ("suspect", "alive(i > inc) heard: refuted", "alive"),
    ("suspect", "suspicion timeout, or confirm heard", "dead"),
    ("alive", "confirm heard", "dead"),
    ("dead", "alive(i > inc) heard: back", "alive"),
    ("alive", "leave heard", "left"),
    ("suspect", "leave heard", "left"),
)


# ----- messages ------------------------------------------------------------------------


@message(name="failure:Update")
class Update:
    """News about ``member``: ``kind`` at incarnation ``incarnation`` (``by``: who
    suspects, for ``suspect``; Lifeguard counts independent suspicions)."""

    kind: str
    member: str
    incarnation: int
    by: str = ""


@message(name="failure:Ping")
class Ping:
    """Are you alive? (``seq`` matches the ack; ``updates`` piggybacked.)"""

    seq: int
    updates: tuple[Update, ...] = ()


@message(name="failure:Ack")
class Ack:
    """Yes: the answer to the ping ``seq`` (relayed by a helper for a ping-req)."""

    seq: int
    updates: tuple[Update, ...] = ()


@message(name="failure:PingReq")
class PingReq:
    """Please probe ``target`` for me and relay its ack (§3.1, the indirect probe)."""

    seq: int
    target: str
    updates: tuple[Update, ...] = ()


@message(name="failure:Nack")
class Nack:
    """(Lifeguard) I asked ``target`` for you and it did not answer in time."""

    seq: int
    updates: tuple[Update, ...] = ()


@message(name="failure:Join")
class Join:
    """A new member asks a seed to let it in."""

    incarnation: int


@message(name="failure:JoinAck")
class JoinAck:
    """The seed's member list: ``(id, status, incarnation)`` for every member it knows
    (the dead and the gone too, so a restarted member learns what it missed)."""

    members: tuple[tuple[str, str, int], ...]


@message(name="failure:Gossip")
class Gossip:
    """Updates sent on their own (a leaving member's farewell)."""

    updates: tuple[Update, ...]


# ----- the rules of precedence -----------------------------------------------------------


def overrides(kind: str, incarnation: int, status: Status, current: int) -> bool:
    """Does news ``kind`` at ``incarnation`` replace what we hold (``status`` at
    ``current``)? The rules of §4.2, plus rejoining after death (see the module doc).

    Example:
        >>> overrides("suspect", 3, "alive", 3)   # suspect(i) beats alive(j) if i >= j
        True
        >>> overrides("alive", 3, "suspect", 3)   # alive(i) beats suspect(j) only if i > j
        False
        >>> overrides("alive", 4, "suspect", 3)   # the refutation
        True
    """
    if status == LEFT:
        return kind == "alive" and incarnation > current
    if kind == "leave":
        return incarnation >= current
    if kind == "confirm":  # news of an older incarnation's death is old news
        return incarnation > current or (incarnation == current and status != DEAD)
    if kind == "suspect":
        return (status == ALIVE and incarnation >= current) or (
            status == SUSPECT and incarnation > current)
    # alive
    return incarnation > current


@attrs.define
class _Pending:
    """An update waiting in the outbox: how often sent so far, when it arrived."""

    update: Update
    sent: int
    arrival: int


#: The news that brings a member to a status (to replay a member list).
_NEWS_OF: dict[str, str] = {"alive": "alive", "suspect": "suspect", "dead": "confirm",
                            "left": "leave"}

_STATUS_AFTER: dict[str, Status] = {"alive": ALIVE, "suspect": SUSPECT, "confirm": DEAD,
                                     "leave": LEFT}


class Swim(FailureDetector):
    """One member of a SWIM group (with Lifeguard if ``lifeguard=True``).

    Args:
        period: the protocol period T' (seconds): one probe per period.
        ping_timeout: how long to wait for a direct ack before asking helpers.
        indirect_probes: k, the helpers asked to probe (0: no indirect probes).
        suspicion: False gives the basic protocol of §3: a failed probe means dead.
        suspicion_mult: the suspicion timeout is ``suspicion_mult · max(1, log10 N)``
            periods (with Lifeguard, the minimum one).
        refute: False makes a suspected member keep quiet about it (to show why
            refutation matters).
        retransmit_mult: λ: each update is piggybacked ``λ · ⌈log10(N+1)⌉`` times.
        max_piggyback: at most this many updates per message.
        seeds: members to join through; None: every peer of the node is a member from
            the start (or ``members``, if given).
        lifeguard: local health, nacks, dynamic suspicion timeouts, buddy system.
        max_health: Lifeguard's saturation limit S of the local health counter.
        suspicion_max_mult: Lifeguard's β: a fresh suspicion lasts β times the minimum.
        reconnect_every: every this many periods, ping one member held dead (0: never),
            so two sides of a healed partition, each sure the other is dead, find each
            other again (not in the paper; Serf and memberlist do the like).

    Example:
        >>> from dsys.failure import Swim
        >>> swim = Swim(lifeguard=True)
        >>> swim.indirect_probes, swim.retransmit_mult, swim.lifeguard
        (3, 4, True)
    """

    messages = (Ping, Ack, PingReq, Nack, Join, JoinAck, Gossip)

    def __init__(self, period: float = 1.0, ping_timeout: float = 0.5, *,
                 indirect_probes: int = 3, suspicion: bool = True,
                 suspicion_mult: float = 4.0, refute: bool = True,
                 retransmit_mult: int = 4, max_piggyback: int = 8,
                 seeds: Iterable[str] | None = None, members: Iterable[str] | None = None,
                 lifeguard: bool = False, max_health: int = 8,
                 suspicion_max_mult: float = 6.0, reconnect_every: int = 10,
                 on_suspect: PeerCallback | None = None,
                 on_alive: PeerCallback | None = None) -> None:
        super().__init__(members, on_suspect=on_suspect, on_alive=on_alive)
        if not 0 < ping_timeout < period:
            raise UsageError(f"Swim needs 0 < ping_timeout < period, got "
                             f"ping_timeout={ping_timeout!r}, period={period!r}")
        if indirect_probes < 0 or max_piggyback < 1 or retransmit_mult < 1:
            raise UsageError("Swim needs indirect_probes >= 0, max_piggyback >= 1 and "
                             "retransmit_mult >= 1")
        self.period = period
        self.ping_timeout = ping_timeout
        self.indirect_probes = indirect_probes
        self.suspicion = suspicion
        self.suspicion_mult = suspicion_mult
        self.refute = refute
        self.retransmit_mult = retransmit_mult
        self.max_piggyback = max_piggyback
        self.seeds = None if seeds is None else tuple(sorted(seeds))
        self.lifeguard = lifeguard
        self.max_health = max_health
        self.suspicion_max_mult = suspicion_max_mult
        self.reconnect_every = reconnect_every
        self._reset()

    def _reset(self) -> None:
        #: My incarnation number: only I raise it (to refute, or after a restart).
        self.incarnation = 0
        #: What I know of every other member: id -> (status, incarnation).
        self.view: dict[str, tuple[Status, int]] = {}
        #: Lifeguard's local health multiplier (0: healthy).
        self.health = 0
        self.joined = self.seeds is None
        self.left = False
        self._order: list[str] = []          # the round-robin probe list
        self._next = 0                       # position in it
        self._seq = 0
        self._periods = 0
        self._probe: tuple[int, str] | None = None   # (seq, target) of this period's probe
        self._acked = True
        self._nacks_expected = 0
        self._nacks = 0
        self._relays: dict[int, tuple[str, int]] = {}   # my seq -> (asker, its seq)
        # member -> the newest news about it still to be piggybacked
        self._outbox: dict[str, _Pending] = {}
        self._arrivals = 0
        # member -> (when suspected, incarnation, who suspects) for suspicion timers
        self._suspicions: dict[str, tuple[float, int, set[str]]] = {}

    # ----- the application's side ------------------------------------------------------

    def state(self, peer: str) -> Status | None:
        """What this member holds about ``peer``: alive, suspect, dead, left (None:
        unknown)."""
        if peer == self.id:
            return LEFT if self.left else ALIVE
        held = self.view.get(peer)
        return None if held is None else held[0]

    def group(self) -> tuple[str, ...]:
        """The members this one believes in (alive or suspect), itself included, sorted:
        SWIM's membership list."""
        inside = [m for m, (status, _) in self.view.items() if status in (ALIVE, SUSPECT)]
        return tuple(sorted([*inside, self.id])) if not self.left else ()

    def leave(self) -> None:
        """Leave the group gracefully: spread ``leave`` about myself, then go quiet."""
        if self.left:
            return
        self.left = True
        self.note("leave")
        farewell = (Update("leave", self.id, self.incarnation),)
        targets = [m for m in sorted(self.view) if self.view[m][0] in (ALIVE, SUSPECT)]
        self.rng.shuffle(targets)
        for peer in targets[:max(1, self.indirect_probes)]:
            self.send(peer, Gossip(farewell))
        for name in ("tick", "probe timeout", "join"):
            self.cancel_timer(name)
        for member in sorted(self._suspicions):
            self.cancel_timer(f"suspect:{member}")

    # ----- lifecycle -----------------------------------------------------------------

    def on_start(self) -> None:
        """Start (or restart) as a member: a higher incarnation than any before."""
        self._reset()
        if self.seeds is not None:
            self._configured = frozenset()  # a newcomer knows nobody until a seed answers
        super().on_start()
        key = f"{self.name}/incarnation"
        restarted = key in self.storage
        self.incarnation = int(self.storage.get(key, -1)) + 1
        self.storage[key] = self.incarnation
        self.storage.sync()
        for member in self.members:
            self.view[member] = (ALIVE, 0)
        self._order = list(self.members)
        self.rng.shuffle(self._order)
        self._gossip(Update("alive", self.id, self.incarnation))
        if self.seeds is not None or restarted:
            # A restarted member asks one of its peers for the group as it is now (who
            # died, who left while it was down), as a newcomer asks a seed.
            self.joined = False
            self._ask_to_join()
        self.set_timer("tick", self.rng.uniform(0, self.period))

    def on_timer(self, name: str) -> None:
        """``tick``: end of a protocol period, start of the next; ``probe timeout``: no
        direct ack, ask helpers; ``suspect:<id>``: a suspicion expires; ``relay:<seq>``:
        (Lifeguard) the target did not answer the helper; ``join``: ask again."""
        if self.left:
            return
        if name == "tick":
            self._end_period()
            self._start_period()
        elif name == "probe timeout":
            self._probe_indirectly()
        elif name.startswith("suspect:"):
            self._suspicion_expired(name.partition(":")[2])
        elif name.startswith("relay:"):
            self._relay_timed_out(int(name.partition(":")[2]))
        elif name == "join":
            self._ask_to_join()

    def on_message(self, src: str, msg: object) -> None:
        """Answer probes, relay probes, take acks, nacks, joins; apply piggybacked news."""
        if self.left:  # gone, but polite: whoever still calls learns that I left
            if not isinstance(msg, Gossip):
                self.send(src, Gossip((Update("leave", self.id, self.incarnation),)))
            return
        updates = getattr(msg, "updates", ())
        for update in updates:
            self._apply(update)
        match msg:
            case Ping(seq=seq):
                self.send(src, Ack(seq, self._piggyback(src)))
            case Ack(seq=seq):
                self._acked_by(seq)
            case PingReq(seq=seq, target=target):
                self._relay(src, seq, target)
            case Nack(seq=seq):
                if self._probe is not None and seq == self._probe[0]:
                    self._nacks += 1
            case Join(incarnation=incarnation):
                self._apply(Update("alive", src, incarnation))
                listed = tuple((m, status, inc) for m, (status, inc) in sorted(self.view.items())
                               if m != src)
                self.send(src, JoinAck(((self.id, ALIVE, self.incarnation), *listed)))
            case JoinAck(members=listed):
                if not self.joined:
                    self.joined = True
                    self.cancel_timer("join")
                    self.note("joined", via=src)
                for member, status, inc in listed:
                    self._apply(Update(_NEWS_OF[status], member, inc))

    # ----- one protocol period (§3.1, §4.3) ----------------------------------------------

    def _start_period(self) -> None:
        target = self._next_target()
        scale = self.health + 1 if self.lifeguard else 1
        if target is not None:
            self._seq += 1
            self._probe = (self._seq, target)
            self._acked = False
            self._nacks_expected = self._nacks = 0
            self.send(target, Ping(self._seq, self._piggyback(target)))
            self.set_timer("probe timeout", self.ping_timeout * scale)
        else:
            self._probe = None
        self._periods += 1
        if self.reconnect_every and self._periods % self.reconnect_every == 0:
            dead = [m for m in sorted(self.view) if self.view[m][0] == DEAD]
            if dead:  # the ping carries its death first: alive, it will refute
                lost = self.rng.choice(dead)
                self.send(lost, Ping(0, self._piggyback(lost)))
        self.set_timer("tick", self.period * scale)

    def _end_period(self) -> None:
        if self._probe is None:
            return
        target = self._probe[1]
        if self._acked:
            self._health(-1)
        else:
            self._health(+1)
            if self.lifeguard and self._nacks < self._nacks_expected:
                self._health(+1)  # a helper's nack went missing: maybe it is us
            if self.view.get(target, (DEAD, 0))[0] in (ALIVE, SUSPECT):
                # (already suspected: my failed probe is one more independent suspicion,
                # which Lifeguard counts)
                self._suspect(target)
        self._probe = None

    def _next_target(self) -> str | None:
        """Randomized round-robin over the members not known dead or gone (§4.3)."""
        for _ in range(2):
            while self._next < len(self._order):
                member = self._order[self._next]
                self._next += 1
                if self.view.get(member, (DEAD, 0))[0] in (ALIVE, SUSPECT):
                    return member
            # one pass done: drop the gone, reshuffle, start again
            self._order = [m for m in self._order
                           if self.view.get(m, (DEAD, 0))[0] in (ALIVE, SUSPECT)]
            self.rng.shuffle(self._order)
            self._next = 0
        return None

    def _probe_indirectly(self) -> None:
        if self._probe is None or self._acked:
            return
        seq, target = self._probe
        helpers = [m for m in sorted(self.view)
                   if self.view[m][0] == ALIVE and m != target]
        chosen = self.rng.sample(helpers, min(self.indirect_probes, len(helpers)))
        for helper in chosen:
            self.send(helper, PingReq(seq, target, self._piggyback(helper)))
        self._nacks_expected = len(chosen) if self.lifeguard else 0

    def _acked_by(self, seq: int) -> None:
        if self._probe is not None and seq == self._probe[0]:
            self._acked = True
            return
        relay = self._relays.pop(seq, None)
        if relay is not None:  # I was helping: pass the ack on
            asker, asker_seq = relay
            self.cancel_timer(f"relay:{seq}")
            self.send(asker, Ack(asker_seq, self._piggyback(asker)))

    def _relay(self, asker: str, asker_seq: int, target: str) -> None:
        self._seq += 1
        self._relays[self._seq] = (asker, asker_seq)
        self.send(target, Ping(self._seq, self._piggyback(target)))
        if self.lifeguard:  # answer nack if the target is silent for 80% of the timeout
            self.set_timer(f"relay:{self._seq}", 0.8 * self.ping_timeout)
        # Forget relays that never completed, so the table stays small.
        if len(self._relays) > 64:
            del self._relays[min(self._relays)]

    def _relay_timed_out(self, seq: int) -> None:
        relay = self._relays.get(seq)
        if relay is not None:
            asker, asker_seq = relay
            self.send(asker, Nack(asker_seq, self._piggyback(asker)))

    # ----- suspicion (§4.2) and Lifeguard's dynamic timeouts ----------------------------------

    def _suspect(self, member: str) -> None:
        inc = self.view[member][1]
        if not self.suspicion:
            self._apply(Update("confirm", member, inc))
            return
        self._apply(Update("suspect", member, inc, self.id))

    def _start_suspicion(self, member: str, inc: int, by: str) -> None:
        # A new suspicion (a member already suspected at this incarnation is not
        # suspected again: _apply counts the further suspicions of it).
        self._suspicions[member] = (self.now, inc, {by})
        self._arm_suspicion(member)

    def _arm_suspicion(self, member: str) -> None:
        since, _, confirmations = self._suspicions[member]
        minimum = self.suspicion_mult * max(1.0, math.log10(len(self.view) + 1)) * self.period
        timeout = minimum
        if self.lifeguard:
            # Lifeguard §IV-B: from β·min down to min as independent suspicions arrive,
            # logarithmically, reaching min after k of them.
            maximum = self.suspicion_max_mult * minimum
            k = max(1, self.indirect_probes)
            others = min(k, len(confirmations) - 1)
            fraction = math.log(others + 1) / math.log(k + 1)
            timeout = max(minimum, maximum - (maximum - minimum) * fraction)
        remaining = max(0.0, since + timeout - self.now)
        self.set_timer(f"suspect:{member}", remaining)

    def _suspicion_expired(self, member: str) -> None:
        held = self._suspicions.pop(member, None)
        status, inc = self.view.get(member, (DEAD, 0))
        if held is not None and status == SUSPECT and held[1] == inc:
            self._apply(Update("confirm", member, inc))

    def _health(self, delta: int) -> None:
        if self.lifeguard:
            self.health = min(self.max_health, max(0, self.health + delta))

    # ----- dissemination (§4.1) -----------------------------------------------------------

    def _apply(self, update: Update) -> None:
        """Apply news from anyone (myself included): update the view, notes, callbacks."""
        kind, member, inc = update.kind, update.member, update.incarnation
        if member == self.id:
            self._about_me(update)
            return
        held = self.view.get(member)
        if held is None:
            if kind in ("alive", "suspect"):  # a member I did not know: it joined
                self.view[member] = (ALIVE, -1)
                self.add_member(member)
                self._order.insert(self.rng.randint(self._next, len(self._order)), member)
                held = self.view[member]
            else:
                return
        status, current = held
        if not overrides(kind, inc, status, current):
            if (kind == "suspect" and status == SUSPECT and inc == current and update.by
                    and self.lifeguard and member in self._suspicions):
                # one more independent suspicion of the same incarnation (Lifeguard)
                known = self._suspicions[member][2]
                if update.by not in known:
                    known.add(update.by)
                    self._arm_suspicion(member)
                    self._gossip(update)
            return
        new = _STATUS_AFTER[kind]
        if status in (DEAD, LEFT) and new in (ALIVE, SUSPECT) and member not in self._order:
            # back from the dead (a partition healed, or it rejoined): probe it again
            self._order.insert(self.rng.randint(self._next, len(self._order)), member)
        self.view[member] = (new, inc)
        self._gossip(update)
        if new == SUSPECT:
            self.note("swim-suspect", peer=member, incarnation=inc)
            self._start_suspicion(member, inc, update.by or member)
        else:
            if member in self._suspicions:
                del self._suspicions[member]
                self.cancel_timer(f"suspect:{member}")
        if new == DEAD:
            self.mark_suspected(member)
        elif new == ALIVE:
            self.mark_alive(member)
        elif new == LEFT:
            self.remove_member(member)

    def _about_me(self, update: Update) -> None:
        if update.kind not in ("suspect", "confirm") or not self.refute:
            return
        if update.incarnation >= self.incarnation:
            # §4.2: refute by raising my incarnation and spreading alive
            self.incarnation = update.incarnation + 1
            self.storage[f"{self.name}/incarnation"] = self.incarnation
            self.note("refute", incarnation=self.incarnation)
            self._health(+1)  # Lifeguard: being suspected hints that I am the slow one
        # (stale news of an incarnation I refuted already: whoever still holds it missed my
        # refutation, so spread it again)
        self._gossip(Update("alive", self.id, self.incarnation))

    def _gossip(self, update: Update) -> None:
        """Queue ``update`` for piggybacking (replacing older news of the same member)."""
        self._arrivals += 1
        self._outbox[update.member] = _Pending(update, 0, self._arrivals)

    def _piggyback(self, dst: str) -> tuple[Update, ...]:
        """Up to ``max_piggyback`` updates, the least sent (then the newest) first; each is
        dropped after λ⌈log10(N+1)⌉ sends."""
        limit = self.retransmit_mult * max(1, math.ceil(math.log10(len(self.view) + 2)))
        chosen: list[Update] = []
        first = self._about(dst)
        if first is not None:
            chosen.append(first)
        ranked = sorted(self._outbox.items(), key=lambda kv: (kv[1].sent, -kv[1].arrival))
        for member, pending in ranked:
            if len(chosen) >= self.max_piggyback:
                break
            if pending.update in chosen:
                continue
            chosen.append(pending.update)
            pending.sent += 1
            if pending.sent >= limit:
                del self._outbox[member]
        return tuple(chosen)

    def _about(self, dst: str) -> Update | None:
        """News about ``dst`` itself that it should hear first: its death (so it can
        refute or rejoin) and, with Lifeguard's buddy system, its suspicion."""
        status, inc = self.view.get(dst, (ALIVE, 0))
        if status == DEAD:
            return Update("confirm", dst, inc)
        if status == SUSPECT and self.lifeguard:
            return Update("suspect", dst, inc, self.id)
        return None

    def _ask_to_join(self) -> None:
        if self.joined:
            return
        seeds = [s for s in (self.seeds if self.seeds is not None else self.members)
                 if s != self.id]
        if seeds:
            self.send(self.rng.choice(seeds), Join(self.incarnation))
            self.set_timer("join", self.period)
