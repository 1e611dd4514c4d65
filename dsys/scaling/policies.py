"""Routing policies: which server of the pool gets the next request.

A policy is a small object the :class:`~dsys.scaling.balancer.Balancer` asks once per
request: ``choose(key, load, rng)``, where ``key`` is the request's key, ``load`` maps
each server in service to the requests the balancer has sent it and not yet seen answered
(its *outstanding* requests), and ``rng`` is the balancer node's seeded generator. The
balancer tells the policy when a server joins (``add``) or leaves (``remove``) the pool.
Servers are kept sorted, so no choice depends on the order of a hashed set.

* :class:`RoundRobin`: each server in turn. Blind to load, but spreads arrivals evenly.
* :class:`RandomChoice`: a server at random. Blind; with ``n`` requests on ``n``
  servers the fullest gets about ``ln n / ln ln n`` of them (balls into bins).
* :class:`LeastOutstanding`: the server with the fewest outstanding requests (ties
  broken at random). Looks at every server: ``O(n)`` per request, and on a real network
  several balancers that all pick the same least-loaded server herd onto it.
* :class:`TwoChoices`, the *power of two choices* (Mitzenmacher 2001; Azar, Broder,
  Karlin and Upfal 1994): sample ``d = 2`` servers at random, send to the less loaded.
  Two samples cut the fullest bin from about ``ln n / ln ln n`` to ``ln ln n / ln 2``;
  each further sample gains only a constant factor.
* :class:`ConsistentHash`: *sticky* routing: a request goes to the owner of its key on a
  consistent-hashing ring (:class:`dsys.naming.ConsistentHashRing`), so the same user
  keeps its server (and that server's cache). A server that joins takes about ``K/N`` of
  ``K`` keys; balance is only as good as the ring's, whatever the load.

Example:
    >>> from random import Random
    >>> rr = RoundRobin(["s1", "s2", "s3"])
    >>> [rr.choose("", {}, Random(0)) for _ in range(4)]
    ['s1', 's2', 's3', 's1']
    >>> load = {"s1": 4, "s2": 0, "s3": 2}
    >>> LeastOutstanding(load).choose("", load, Random(0))
    's2'
    >>> sticky = ConsistentHash(["s1", "s2", "s3"])
    >>> sticky.choose("user-7", load, Random(0)) == sticky.choose("user-7", load, Random(9))
    True
    >>> make_policy("two-choices", ["s1", "s2"]).name
    'two-choices'
"""

from __future__ import annotations

import bisect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from random import Random
from typing import ClassVar

from dsys.errors import ConfigError, UsageError
from dsys.naming.hashing import ConsistentHashRing

__all__ = [
    "POLICIES",
    "ConsistentHash",
    "LeastOutstanding",
    "Policy",
    "RandomChoice",
    "RoundRobin",
    "TwoChoices",
    "make_policy",
]


class Policy(ABC):
    """A routing policy over a pool of servers (see the module docstring)."""

    #: The policy's name, as :func:`make_policy` knows it.
    name: ClassVar[str] = ""

    def __init__(self, servers: Iterable[str] = ()) -> None:
        self.servers: list[str] = []
        for server in sorted(set(servers)):
            self.add(server)

    def add(self, server: str) -> None:
        """``server`` joins the pool."""
        if not isinstance(server, str) or not server:
            raise ConfigError(f"a server is a non-empty node id, got {server!r}")
        if server in self.servers:
            raise ConfigError(f"{server} is in the pool already")
        bisect.insort(self.servers, server)

    def remove(self, server: str) -> None:
        """``server`` leaves the pool."""
        if server not in self.servers:
            raise ConfigError(f"{server!r} is not in the pool ({', '.join(self.servers)})")
        self.servers.remove(server)

    @abstractmethod
    def choose(self, key: str, load: Mapping[str, int], rng: Random) -> str:
        """The server for a request with ``key``, given each server's outstanding
        requests in ``load``; called only when the pool is not empty."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.servers!r})"


class RoundRobin(Policy):
    """Each server in turn, in id order; a server that joins takes its turn in order."""

    name = "round-robin"

    def __init__(self, servers: Iterable[str] = ()) -> None:
        self._last: str | None = None
        super().__init__(servers)

    def choose(self, key: str, load: Mapping[str, int], rng: Random) -> str:
        servers = self.servers
        # The first server after the last one chosen: still a cycle after joins and leaves.
        at = 0 if self._last is None else bisect.bisect_right(servers, self._last)
        self._last = servers[at % len(servers)]
        return self._last


class RandomChoice(Policy):
    """A server chosen uniformly at random."""

    name = "random"

    def choose(self, key: str, load: Mapping[str, int], rng: Random) -> str:
        return self.servers[rng.randrange(len(self.servers))]


class LeastOutstanding(Policy):
    """The server with the fewest outstanding requests; ties broken at random."""

    name = "least-outstanding"

    def choose(self, key: str, load: Mapping[str, int], rng: Random) -> str:
        fewest = min(load[server] for server in self.servers)
        tied = [server for server in self.servers if load[server] == fewest]
        return tied[0] if len(tied) == 1 else tied[rng.randrange(len(tied))]


class TwoChoices(Policy):
    """The power of ``d`` choices: the least loaded of ``d`` servers sampled at random
    (distinct; ties go to the first sampled). ``d = 2`` by default; ``d = 1`` is random."""

    name = "two-choices"

    def __init__(self, servers: Iterable[str] = (), d: int = 2) -> None:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ConfigError(f"d (servers sampled per request) must be an int >= 1, got {d!r}")
        self.d = d
        super().__init__(servers)

    def sample(self, rng: Random) -> list[str]:
        """The servers sampled for one request."""
        servers = self.servers
        if len(servers) <= self.d:
            return list(servers)
        return [servers[i] for i in rng.sample(range(len(servers)), self.d)]

    def choose(self, key: str, load: Mapping[str, int], rng: Random) -> str:
        best, fewest = "", -1
        for server in self.sample(rng):
            if fewest < 0 or load[server] < fewest:
                best, fewest = server, load[server]
        return best


class ConsistentHash(Policy):
    """Sticky routing: the owner of the request's key on a consistent-hashing ring
    (``vnodes`` positions per server). Requests need a key."""

    name = "consistent-hash"

    def __init__(self, servers: Iterable[str] = (), vnodes: int = 64) -> None:
        self.ring = ConsistentHashRing(vnodes=vnodes)
        super().__init__(servers)

    def add(self, server: str) -> None:
        super().add(server)
        self.ring.add(server)

    def remove(self, server: str) -> None:
        super().remove(server)
        self.ring.remove(server)

    def choose(self, key: str, load: Mapping[str, int], rng: Random) -> str:
        if not key:
            raise UsageError("consistent-hash routing needs a request key (Request.key); "
                             "give the workload keys, or choose another policy")
        return self.ring.owner(key)


#: The policies by name.
POLICIES: dict[str, Callable[[Iterable[str]], Policy]] = {
    cls.name: cls
    for cls in (RoundRobin, RandomChoice, LeastOutstanding, TwoChoices, ConsistentHash)
}


def make_policy(name: str, servers: Iterable[str] = ()) -> Policy:
    """A fresh policy of the given name over ``servers``.

    >>> make_policy("fastest")
    Traceback (most recent call last):
      ...
    dsys.errors.ConfigError: no routing policy named 'fastest'; choose one of: round-robin, \
random, least-outstanding, two-choices, consistent-hash
    """
    if name not in POLICIES:
        raise ConfigError(f"no routing policy named {name!r}; choose one of: "
                          f"{', '.join(POLICIES)}")
    return POLICIES[name](servers)
