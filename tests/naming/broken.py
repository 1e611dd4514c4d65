"""Deliberately broken naming code: each breaks one property, the way a student might.
The tests run them and expect their checks to fail."""

from __future__ import annotations

import bisect
from typing import Any

from dsys.naming import ConsistentHashRing, NameServer, Registration, Resolver, ZoneServer
from dsys.naming.dns import Answer
from dsys.naming.hashing import RING_SIZE, stable_hash
from dsys.naming.registry import Register, Registered

# ----- placement ---------------------------------------------------------------------


class BuiltinHashRing(ConsistentHashRing):
    """Positions from Python's ``hash()``: a different ring in every process."""

    def token(self, node: str, index: int) -> int:
        return hash(f"{node}#{index}") % RING_SIZE

    def position(self, key: str) -> int:
        return hash(key) % RING_SIZE


class BunchedRing(ConsistentHashRing):
    """A node's virtual nodes side by side (``hash(node) + i``): one arc cut in pieces, so
    more of them change nothing."""

    def token(self, node: str, index: int) -> int:
        return (stable_hash(node) + index) % RING_SIZE


class RebuiltRing:
    """Perfectly balanced ranges: the k-th of N nodes (sorted) owns the k-th N-th of the
    circle. A join or leave shifts every range, so keys move everywhere."""

    def __init__(self) -> None:
        self._nodes: list[str] = []

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self._nodes)

    def add(self, node: str) -> None:
        bisect.insort(self._nodes, node)

    def remove(self, node: str) -> None:
        self._nodes.remove(node)

    def owner(self, key: str) -> str:
        return self._nodes[stable_hash(key) * len(self._nodes) // RING_SIZE]

    def walk(self, key: str) -> tuple[str, ...]:
        first = self._nodes.index(self.owner(key))
        return tuple(self._nodes[first:] + self._nodes[:first])

    def preference_list(self, key: str, n: int) -> tuple[str, ...]:
        return self.walk(key)[:n]


# ----- the name service --------------------------------------------------------------


class NeverExpires(NameServer):
    """Forgets to arm the expiry: a crashed server's names live for ever."""

    def set_timer(self, name: str, delay: float) -> None:
        if not name.startswith("expire "):
            super().set_timer(name, delay)


class LeaseFromFirstGrant(NameServer):
    """Renewals are answered but do not extend the lease: it runs from the first grant."""

    def register(self, src: str, msg: Register) -> None:
        binding = self.bindings.get(msg.name)
        if binding is not None and binding.owner == src and binding.address == msg.address:
            self.send(src, Registered(msg.name, msg.seq, True, src, self.lease))
            return
        super().register(src, msg)


class LazyRegistration(Registration):
    """Renews once per lease and a half: the name lapses between renewals."""

    def on_message(self, src: str, msg: Any) -> None:
        super().on_message(src, msg)
        if isinstance(msg, Registered):
            self.set_timer(f"renew {msg.name}", msg.lease * 1.5)


# ----- resolution ----------------------------------------------------------------------


class IgnoresTTL(Resolver):
    """Keeps every answer for ever: the TTL is ignored."""

    def cached_answer(self, name: str) -> tuple[str | None] | None:
        entry = self.answers.get(name)
        return None if entry is None else (entry[0],)


class FullTTLFromCache(ZoneServer):
    """Answers from its cache with the full TTL it was first given, not what is left of it,
    so a copy handed on lives longer than the TTL allows."""

    def on_start(self) -> None:
        super().on_start()
        self.first_ttl: dict[str, float] = {}

    def answered(self, msg: Any) -> None:
        if isinstance(msg, Answer):
            self.first_ttl[msg.name] = msg.ttl
        super().answered(msg)

    def cached(self, name: str) -> tuple[str | None, float] | None:
        found = super().cached(name)
        return None if found is None else (found[0], self.first_ttl[name])
