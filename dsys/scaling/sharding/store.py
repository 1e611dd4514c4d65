"""The state machine of one replica group: its configuration, and its shards.

Every server of a group applies the same log (Raft), so everything that changes what the
group serves is a command in that log, applied at the same point by every replica:

* ``op``: a client's ``get``, ``put`` or ``append``. Applied only if the group serves the
  key's shard *at that point of the log* (the check on arrival is not enough: the
  configuration may change between proposing and applying); otherwise the answer is
  ``wrong group``. A put or append whose number its session's table in that shard has
  seen is not applied again (exactly once, across migrations too: the table moves with
  the shard);
* ``config``: the next configuration, ``num + 1`` only, and only once every shard of the
  current one has settled (arrived, handed off, and its old copy deleted). Shards the group
  gains become ``pulling`` (``serving`` at once if nobody held them), shards it loses
  ``handing off`` (frozen: kept until the new owner confirms it has them);
* ``install``: a shard pulled from its previous owner: a *copy* of its data and session
  table; it is served from now on, and marked ``deleting`` until the old owner confirms
  it deleted its copy;
* ``delete``: (at the old owner) the new owner has the shard: drop it;
* ``deleted``: (at the new owner) the old owner dropped it: the shard has settled.

Shard states, per shard the group holds (a shard not held is simply absent)::

    pulling ──install──▶ deleting ──deleted──▶ serving ──config (lost)──▶ handing off
       ▲                                                                      │
       └──────────── config (gained) ──────────────                   delete ─┴─▶ (absent)

Example:
    >>> from dsys.scaling.sharding.config import Config
    >>> store = ShardStore("g1", shards=2)
    >>> one = Config(1, ("g1", "g1"), {"g1": ("a1",)})
    >>> store.apply(1, {"type": "config", "config": one.to_json()})
    {'status': 'ok'}
    >>> store.apply(2, {"type": "op", "session": "c", "seq": 1, "f": "append",
    ...                 "key": "x", "value": "a"})
    {'status': 'ok', 'value': None}
    >>> store.apply(3, {"type": "op", "session": "c", "seq": 1, "f": "append",
    ...                 "key": "x", "value": "a"})  # a retry: not applied twice
    {'status': 'ok', 'value': None}
    >>> two = Config(2, ("g2", "g1"), {"g1": ("a1",), "g2": ("b1",)})
    >>> store.apply(4, {"type": "config", "config": two.to_json()})
    {'status': 'ok'}
    >>> store.states()
    {0: 'handing off', 1: 'serving'}
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Final

from dsys.scaling.sharding.config import NSHARDS, Config, shard_of
from dsys.scaling.sharding.messages import OK, WRONG_GROUP

SERVING: Final = "serving"
PULLING: Final = "pulling"
DELETING: Final = "deleting"  # served, but the old owner's copy is not deleted yet
HANDING_OFF: Final = "handing off"

#: The states in which a group answers for a shard.
SERVED = frozenset({SERVING, DELETING})

#: ``on_serve(shard, num)``: called when an operation on ``shard`` is applied in
#: configuration ``num`` (the server notes it, for the "one group per shard" checker).
ServeCallback = Callable[[int, int], None]


class Shard:
    """One shard a group holds: its state, its data, and its session table (session ->
    the highest operation number applied to this shard)."""

    def __init__(self, state: str, data: dict[str, str] | None = None,
                 sessions: dict[str, int] | None = None) -> None:
        self.state = state
        self.data = data if data is not None else {}
        self.sessions = sessions if sessions is not None else {}

    def to_json(self) -> dict[str, Any]:
        """A deep copy as JSON values: what a snapshot stores and a pull sends."""
        return {"state": self.state, "data": dict(sorted(self.data.items())),
                "sessions": dict(sorted(self.sessions.items()))}


class ShardStore:
    """A replica group's state machine (see the module docstring).

    Args:
        gid: the group's name.
        shards: how many shards the store has.
        on_serve: see :data:`ServeCallback`.
    """

    def __init__(self, gid: str, shards: int = NSHARDS,
                 on_serve: ServeCallback | None = None) -> None:
        self.gid = gid
        self.on_serve = on_serve
        self.config = Config.empty(shards)
        self.previous = Config.empty(shards)
        self.shards: dict[int, Shard] = {}

    def states(self) -> dict[int, str]:
        """Each shard the group holds, and its state."""
        return {i: self.shards[i].state for i in sorted(self.shards)}

    def serving(self, number: int) -> Shard | None:
        """Shard ``number``, if the group answers for it now (it holds it, and it is
        neither still arriving nor handed off)."""
        shard = self.shards.get(number)
        return shard if shard is not None and shard.state in SERVED else None

    def serves(self, key: str) -> bool:
        """Whether the group answers for ``key`` now."""
        return self.serving(shard_of(key, len(self.config.shards))) is not None

    def settled(self) -> bool:
        """No shard is arriving, leaving, or waiting for its old copy to go: the group may
        move to the next configuration."""
        return all(shard.state == SERVING for shard in self.shards.values())

    def apply(self, index: int, command: dict[str, Any]) -> dict[str, Any]:
        """Apply one committed command (see the module docstring) and return its result."""
        kind = command["type"]
        if kind == "op":
            return self.operate(command)
        if kind == "config":
            return self.next_config(Config.of(command["config"]))
        num, number = command["num"], command["shard"]
        shard = self.shards.get(number)
        if num != self.config.num or shard is None:
            return {"status": OK}  # a late copy of a step already taken
        if kind == "install" and shard.state == PULLING:
            # A copy: the message (and the old owner's store) must never share our dicts.
            self.shards[number] = Shard(DELETING, dict(command["data"]),
                                        dict(command["sessions"]))
        elif kind == "delete" and shard.state == HANDING_OFF:
            del self.shards[number]
        elif kind == "deleted" and shard.state == DELETING:
            shard.state = SERVING
        return {"status": OK}

    def operate(self, command: dict[str, Any]) -> dict[str, Any]:
        """A client's operation, if its shard is served here now."""
        key = command["key"]
        number = shard_of(key, len(self.config.shards))
        shard = self.serving(number)
        if shard is None:
            return {"status": WRONG_GROUP, "value": None}
        if self.on_serve is not None:
            self.on_serve(number, self.config.num)
        f, session, seq = command["f"], command["session"], command["seq"]
        current = shard.data.get(key, "")
        if f == "get":
            return {"status": OK, "value": current}
        if shard.sessions.get(session, 0) >= seq:
            return {"status": OK, "value": None}  # a retry: applied once already
        shard.sessions[session] = seq
        shard.data[key] = command["value"] if f == "put" else current + command["value"]
        return {"status": OK, "value": None}

    def next_config(self, new: Config) -> dict[str, Any]:
        """Move to ``new`` if it is the next one and every shard has settled."""
        if new.num != self.config.num + 1 or not self.settled():
            return {"status": OK}
        for number, (old, owner) in enumerate(zip(self.config.shards, new.shards,
                                                  strict=True)):
            if owner == self.gid and old != self.gid:
                # Nobody held it before (configuration 1): it starts empty, and is served.
                self.shards[number] = Shard(SERVING if old is None else PULLING)
            elif old == self.gid and owner != self.gid:
                self.shards[number].state = HANDING_OFF
        self.previous, self.config = self.config, new
        return {"status": OK}

    def pullable(self, num: int, number: int) -> Shard | None:
        """The frozen copy of shard ``number`` another group may take in configuration
        ``num``: only while this group is in ``num`` itself and is handing it off."""
        shard = self.shards.get(number)
        if num == self.config.num and shard is not None and shard.state == HANDING_OFF:
            return shard
        return None

    def snapshot(self) -> dict[str, Any]:
        """Everything, as JSON values."""
        return {"config": self.config.to_json(), "previous": self.previous.to_json(),
                "shards": [[i, self.shards[i].to_json()] for i in sorted(self.shards)]}

    def restore(self, index: int, data: dict[str, Any] | None) -> None:
        """Replace everything with a snapshot (Raft calls it)."""
        if not data:
            return
        self.config = Config.of(data["config"])
        self.previous = Config.of(data["previous"])
        self.shards = {int(i): Shard(s["state"], dict(s["data"]), dict(s["sessions"]))
                       for i, s in copy.deepcopy(data["shards"])}
