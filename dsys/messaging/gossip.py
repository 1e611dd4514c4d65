"""Gossip: spreading rumors by talking to random peers, round after round.

Instead of sending a message to everyone (``n`` sends by one node, or ``n**2`` for a
reliable broadcast), every node, once per *round*, talks to ``fanout`` peers chosen at
random. News spreads like an epidemic: the number of informed nodes roughly doubles each
round, so everyone knows after about ``log N`` rounds, every node does a small, constant
amount of work per round, and no single loss or crash can stop it (Demers et al.,
*Epidemic algorithms for replicated database maintenance*, PODC 1987).

Three ways to talk, the ``mode``:

* ``"push"``: a node that knows rumors sends them to its random peers. Fast at the start
  (one informed node informs others), slow at the end: when almost everyone knows,
  pushes mostly hit nodes that already know, and the last few uninformed nodes are found
  only by luck. With ``fanout=1``, it takes ``log2 N + ln N + O(1)`` rounds to inform all
  ``N`` nodes (Frieze and Grimmett 1985; Pittel, *On spreading a rumor*, SIAM J. Appl.
  Math. 47(1), 1987): the ``log2 N`` of doubling plus the ``ln N`` of the coupon-collector
  ending.
* ``"pull"``: every node asks random peers "what do you know that I don't?" (sending the
  keys it has). Slow at the start (almost everyone asks someone who knows nothing), fast
  at the end: an uninformed node stays uninformed with probability (fraction still
  uninformed) per round, so that fraction is *squared* every round.
* ``"push-pull"``: both in one exchange. Karp, Schindelhauer, Shenker and Vöcking
  (*Randomized rumor spreading*, FOCS 2000) show it informs everyone in
  ``log3 N + O(log log N)`` rounds.

Rounds are driven by a timer every ``interval`` seconds. With equal intervals and no
clock drift, all nodes' rounds fire at the same instants, which is the synchronous round
model of the papers, as long as the network latency is shorter than a round.

A rumor is a ``(key, value)`` pair; a node learns each key once.
:func:`dsys.demos.gossip_rounds.spread_rumor` runs one rumor through ``N`` nodes in the
simulator and measures it; ``bench/gossip_rounds.py`` tabulates it for 10 to 1,000 nodes.

Example:
    >>> from dsys.demos.gossip_rounds import spread_rumor
    >>> run = spread_rumor(100, "push-pull", seed=1)
    >>> run.complete, run.rounds <= 12
    (True, True)
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any, Literal

from dsys.core.messages import message
from dsys.core.node import Component
from dsys.errors import ConfigError

Mode = Literal["push", "pull", "push-pull"]
MODES: tuple[Mode, ...] = ("push", "pull", "push-pull")

# ----- messages ----------------------------------------------------------------------------


@message
class Rumor:
    """One piece of news."""

    key: str
    value: Any


@message
class GossipPush:
    """Push: "here is what I know"."""

    rumors: tuple[Rumor, ...]


@message
class GossipPull:
    """Pull: "these are the keys I know; send me the rest". In push-pull mode the caller
    also pushes its own rumors in the same message."""

    known: tuple[str, ...]
    rumors: tuple[Rumor, ...] = ()


@message
class GossipReply:
    """The answer to a pull: the rumors the caller did not know."""

    rumors: tuple[Rumor, ...]


# ----- the protocol --------------------------------------------------------------------------


class Gossip(Component):
    """Rumor spreading by push, pull or push-pull; see the module docstring.

    Args:
        mode: ``"push"``, ``"pull"`` or ``"push-pull"``.
        fanout: how many random peers a node contacts per round.
        interval: seconds per round.
        rounds_to_live: push a rumor for this many rounds after learning it, then stop
            (``None``: forever). Pulls answer with every rumor regardless: stopping only
            limits the pushing.
        on_learn: called with ``(key, value)`` when this node learns a rumor (also one it
            starts).

    ``known`` maps each rumor key to its value; ``learned_round`` to the round in which
    this node learned it (0 for the rumors it started).
    """

    messages = (GossipPush, GossipPull, GossipReply)
    default_name = "gossip"

    round: int
    known: dict[str, Any]
    learned_round: dict[str, int]

    def __init__(self, mode: Mode = "push-pull", *, fanout: int = 1, interval: float = 1.0,
                 rounds_to_live: int | None = None,
                 on_learn: Callable[[str, Any], None] | None = None) -> None:
        if mode not in MODES:
            raise ConfigError(f"gossip mode must be one of {MODES}, got {mode!r}")
        if fanout < 1 or interval <= 0:
            raise ConfigError("gossip needs fanout >= 1 and interval > 0")
        self.mode = mode
        self.fanout = fanout
        self.interval = interval
        self.rounds_to_live = rounds_to_live
        self.on_learn = on_learn

    def on_start(self) -> None:
        self.round = 0
        self.known = {}
        self.learned_round = {}
        self.set_timer("round", self.interval)

    # ----- interface ----------------------------------------------------------------------

    def spread(self, key: str, value: Any) -> None:
        """Start a rumor here (it goes out from the next round on)."""
        self._learn(Rumor(key, value))

    # ----- handlers -------------------------------------------------------------------------

    def on_timer(self, name: str) -> None:
        if name != "round":
            return
        self.round += 1
        self.set_timer("round", self.interval)
        peers = self.peers
        if not peers:
            return
        targets = self.rng.sample(peers, min(self.fanout, len(peers)))
        hot = self._hot_rumors()
        for peer in targets:
            if self.mode == "push":
                if hot:
                    self.send(peer, GossipPush(hot))
            elif self.mode == "pull":
                self.send(peer, GossipPull(self._known_keys()))
            else:
                self.send(peer, GossipPull(self._known_keys(), hot))

    def on_message(self, src: str, msg: Any) -> None:
        match msg:
            case GossipPush(rumors=rumors) | GossipReply(rumors=rumors):
                for rumor in rumors:
                    self._learn(rumor)
            case GossipPull():
                asked = set(msg.known)
                missing = tuple(Rumor(k, v) for k, v in sorted(self.known.items())
                                if k not in asked)
                for rumor in msg.rumors:
                    self._learn(rumor)
                if missing:
                    self.send(src, GossipReply(missing))

    # ----- helpers ------------------------------------------------------------------------------

    def _learn(self, rumor: Rumor) -> None:
        if rumor.key in self.known:
            return
        self.known[rumor.key] = rumor.value
        self.learned_round[rumor.key] = self.round
        self.note("learn", key=rumor.key, round=self.round)
        if self.on_learn is not None:
            self.on_learn(rumor.key, rumor.value)

    def _known_keys(self) -> tuple[str, ...]:
        return tuple(sorted(self.known))

    def _hot_rumors(self) -> tuple[Rumor, ...]:
        """The rumors this node still pushes."""
        ttl = self.rounds_to_live
        return tuple(Rumor(k, v) for k, v in sorted(self.known.items())
                     if ttl is None or self.round - self.learned_round[k] <= ttl)


# ----- theory --------------------------------------------------------------------------------


def expected_push_rounds(nodes: int) -> float:
    """``log2 N + ln N``: Pittel's estimate of push rounds (fanout 1) to inform ``N`` nodes.

    >>> round(expected_push_rounds(1000), 1)
    16.9
    """
    return math.log2(nodes) + math.log(nodes)


def __getattr__(name: str) -> Any:
    # Compatibility shim: the simulator harness (spread_rumor, RumorRun) moved to
    # dsys.demos.gossip_rounds; the old names keep working for now, imported on first use
    # so that this module never imports the simulator.
    if name in ("RumorRun", "spread_rumor"):
        return getattr(importlib.import_module("dsys.demos.gossip_rounds"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
