"""Structured names resolved like DNS: zones, delegations, iterative and recursive
resolution, and caches that keep each answer for its time to live (TTL).

A structured name (``www.cs.example``) is a path in a tree, read right to left: the root,
then ``example``, then ``cs``, then ``www`` (RFC 1034). The tree is cut into **zones**,
each served by its own name server: the root zone *delegates* ``example`` to a server,
whose zone delegates ``cs.example`` to another, whose zone holds the record of
``www.cs.example``. A :class:`ZoneServer` answers for the names of its zones and, for a
name below a delegation, knows only who serves it.

Resolving a name walks that chain from the root, in one of two ways (Tanenbaum and van
Steen, *Distributed Systems*, §6.3):

* **iterative**: the resolver asks the root, which answers with a *referral* ("ask the
  server of ``example``"); it asks that one, and so on, until a server answers. Every
  message goes to or from the resolver;
* **recursive**: the resolver asks the root to resolve the whole name; the root asks the
  next server, which asks the next, and the answer travels back along the chain. Each
  server on the way can *cache* the answer, so the next query for that name, from any
  resolver, stops at the first server that has it.

Either way a cold lookup of a name ``d`` zones deep costs ``2·d`` messages. The caches
make the second one cheaper: a :class:`Resolver` keeps answers and referrals until their
TTL runs out (0 messages for a name it knows, 2 for a new name of a zone it knows), and in
recursive mode the servers keep answers too (2 messages for a new resolver). The price is
**staleness**: after a name moves, a cache answers with the old address until its copy
expires, at most the TTL (plus the time the answer spent in flight) after the move. A
server that answers from its cache gives the *remaining* TTL, never the full one, or
copies of copies would live on for several TTLs (the bound checked by
:func:`dsys.naming.checkers.check_staleness`).

The rules of this file:

1. Names are lowercase labels of letters, digits and hyphens joined by dots, with no
   final dot; the root is ``""`` (shown as ``.``). :func:`check_domain_name` says so.
2. A server answers a :class:`Query` with an :class:`Answer` (``address`` None: no such
   name, cached for the zone's ``negative_ttl``) for the names of its most specific zone
   that encloses the name, a :class:`Referral` for names below a delegation (or, asked
   recursively, the answer it got by asking on), and :class:`Refused` for names outside
   its zones.
3. A recursive server forwards every query it gets for a name it is resolving (so a
   retry of the resolver is a retry down the whole chain), and needs no timer of its own.
4. A resolver takes an answer or referral only from the server it asked, and a referral
   only to a zone below the one it asked about, so a late reply cannot send it back up.
5. Record changes arrive as :class:`Update` messages (RFC 2136's dynamic update) and are
   stored before they are acknowledged; servers note every record (``record``: ``name``,
   ``address``) when they start and when it changes, and resolvers note every answer
   they give (``answer``: ``name``, ``address``, ``status``, ``source``), which is what
   the staleness checker reads.

Example:
    >>> from dsys import Simulation
    >>> from dsys.naming import LocalResolver, StubClient, Zone, ZoneServer
    >>> zones = {
    ...     "root": Zone("", delegations={"example": "ns1"}),
    ...     "ns1": Zone("example", records={"www.example": "10.0.0.1"}, ttl=5.0),
    ... }
    >>> sim = Simulation(seed=1)
    >>> for server, zone in zones.items():
    ...     sim.add_node(server, lambda zone=zone: ZoneServer([zone]))
    >>> sim.add_node("resolver", lambda: LocalResolver("root", mode="iterative"))
    >>> sim.add_client("alice", StubClient, workload=lambda rng: {"f": "resolve",
    ...                "key": "www.example"}, ops=2)
    >>> sim.run(until=1.0)
    >>> [e["value"] for e in sim.history if e["type"] == "ok"]
    ['10.0.0.1', '10.0.0.1']
    >>> [(e.data["source"]) for e in sim.trace if e.kind == "note"
    ...  and e.data["event"] == "answer"]                # the second came from the cache
    ['network', 'cache']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from dsys.core.messages import message
from dsys.core.node import Component, Node
from dsys.errors import ConfigError
from dsys.naming.asking import AskingClient, positive_seconds

#: The root zone's name.
ROOT = ""

_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")

#: How a resolver resolves: it follows referrals itself, or asks the root to do it all.
MODES = ("iterative", "recursive")


def check_domain_name(name: object) -> str:
    """Return ``name`` if it is a domain name (rule 1), else raise
    :class:`~dsys.errors.ConfigError` saying what is wrong.

    >>> check_domain_name("www.cs.example")
    'www.cs.example'
    >>> check_domain_name("www.example.")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    dsys.errors.ConfigError: 'www.example.' is not a domain name: write lowercase labels ...
    """
    if name == ROOT:
        return ROOT
    if not isinstance(name, str) or len(name) > 253 \
            or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise ConfigError(
            f"{name!r} is not a domain name: write lowercase labels of letters, digits and "
            'hyphens joined by dots, without a final dot ("" is the root)')
    return name


def _valid(name: object) -> bool:
    try:
        check_domain_name(name)
    except ConfigError:
        return False
    return True


def shown(name: str) -> str:
    """A name as people write it: the root as ``.``.

    >>> shown(""), shown("example")
    ('.', 'example')
    """
    return name or "."


def enclosing(name: str) -> tuple[str, ...]:
    """``name`` and every zone above it, up to the root (most specific first).

    >>> enclosing("www.cs.example")
    ('www.cs.example', 'cs.example', 'example', '')
    """
    labels = name.split(".") if name else []
    return (*(".".join(labels[i:]) for i in range(len(labels))), ROOT)


def is_within(name: str, zone: str) -> bool:
    """Whether ``name`` is ``zone`` or below it.

    >>> is_within("www.cs.example", "example"), is_within("example", "cs.example")
    (True, False)
    """
    return zone == ROOT or name == zone or name.endswith("." + zone)


def _names(mapping: Mapping[str, str] | None) -> dict[str, str]:
    return dict(sorted((mapping or {}).items()))


# ----- zones -------------------------------------------------------------------------


@attrs.frozen
class Zone:
    """One zone: the records it holds and the child zones it delegates.

    Attributes:
        origin: the zone's name (``""``: the root).
        records: name -> address, for names of this zone (not below a delegation).
        delegations: child zone -> the node id of the server that serves it.
        ttl: seconds an answer may be cached.
        referral_ttl: seconds a referral may be cached (longer: delegations rarely
            change).
        negative_ttl: seconds a "no such name" may be cached (default: ``ttl``).

    Example:
        >>> zone = Zone("example", records={"www.example": "10.0.0.1"},
        ...             delegations={"cs.example": "ns-cs"})
        >>> zone.delegation_for("www.cs.example"), zone.delegation_for("www.example")
        (('cs.example', 'ns-cs'), None)
        >>> Zone("example", records={"www.cs.example": "10.0.0.9"},
        ...      delegations={"cs.example": "ns-cs"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
          ...
        dsys.errors.ConfigError: zone example holds a record of www.cs.example, which is ...
    """

    origin: str = attrs.field(validator=lambda _, __, value: check_domain_name(value))
    records: dict[str, str] = attrs.field(factory=dict, converter=_names)
    delegations: dict[str, str] = attrs.field(factory=dict, converter=_names)
    ttl: float = 60.0
    referral_ttl: float = 3600.0
    negative_ttl: float | None = None

    def __attrs_post_init__(self) -> None:
        origin = shown(self.origin)
        for what in ("ttl", "referral_ttl"):
            positive_seconds(what, getattr(self, what))
        if self.negative_ttl is not None:
            positive_seconds("negative_ttl", self.negative_ttl)
        for child, server in self.delegations.items():
            check_domain_name(child)
            if child == self.origin or not is_within(child, self.origin):
                raise ConfigError(f"zone {origin} can only delegate zones below it, not "
                                  f"{shown(child)}")
            if not isinstance(server, str) or not server:
                raise ConfigError(f"the server of {child} must be a node id, got {server!r}")
            for other in self.delegations:
                if other != child and is_within(child, other):
                    raise ConfigError(f"zone {origin} delegates both {other} and {child}, "
                                      f"which is inside it: {other}'s zone delegates {child}")
        for name, address in self.records.items():
            check_domain_name(name)
            if not is_within(name, self.origin):
                raise ConfigError(f"zone {origin} cannot hold a record of {shown(name)}, "
                                  "which is outside it")
            delegation = self.delegation_for(name)
            if delegation is not None:
                raise ConfigError(f"zone {origin} holds a record of {name}, which is in the "
                                  f"delegated zone {delegation[0]}: put it in that zone")
            if not isinstance(address, str) or not address:
                raise ConfigError(f"the address of {name} must be a non-empty string, "
                                  f"got {address!r}")

    def delegation_for(self, name: str) -> tuple[str, str] | None:
        """``(child zone, server)`` of the delegation ``name`` falls under, or None."""
        for child, server in self.delegations.items():
            if is_within(name, child):
                return child, server
        return None

    @property
    def no_such_name_ttl(self) -> float:
        """Seconds a "no such name" answer may be cached."""
        return self.ttl if self.negative_ttl is None else self.negative_ttl


# ----- messages ----------------------------------------------------------------------


@message
class Query:
    """Resolver (or server) -> server: the address of ``name``? ``recursive``: resolve it
    all the way, do not refer me on."""

    name: str
    recursive: bool


@message
class Answer:
    """Server -> asker: ``name`` is at ``address`` (None: no such name); cache it for
    ``ttl`` seconds at most."""

    name: str
    address: str | None
    ttl: float


@message
class Referral:
    """Server -> asker: ``name`` is in ``zone``, which ``server`` serves; cache that for
    ``ttl`` seconds at most."""

    name: str
    zone: str
    server: str
    ttl: float


@message
class Refused:
    """Server -> asker: ``name`` is in none of my zones."""

    name: str


@message
class Update:
    """Administrator -> server: ``name`` now points to ``address`` (None: remove it)."""

    name: str
    address: str | None


@message
class Updated:
    """Server -> administrator: the update is stored (``applied`` False: ``name`` is not a
    name of this server's zones)."""

    name: str
    address: str | None
    applied: bool


@message
class Resolve:
    """Stub client -> local resolver: resolve ``name`` (``request`` matches the answer)."""

    name: str
    request: int


@message
class Resolved:
    """Local resolver -> stub client: ``name`` is at ``address``; ``status`` is ``ok``,
    ``nxdomain`` (no such name) or ``servfail`` (the resolver gave up)."""

    name: str
    request: int
    address: str | None
    status: str


# ----- the authoritative server ------------------------------------------------------


class ZoneServer(Node):
    """An authoritative name server for ``zones``, which also resolves recursively.

    Args:
        zones: the zones it serves (their records as configured; updates it received
            are kept in storage and win over them).
        cache: keep the answers it gets when resolving recursively, for their TTL.

    ``records[origin]`` are the current records of each zone, ``cache`` what it learned
    from other servers (``name -> (address, expires)``, on its own clock).
    """

    def __init__(self, zones: Iterable[Zone], *, cache: bool = True) -> None:
        super().__init__()
        self.zones = {zone.origin: zone for zone in zones}
        if not self.zones:
            raise ConfigError("a ZoneServer needs at least one zone")
        self.caching = cache
        self.records: dict[str, dict[str, str]] = {}
        self.cache: dict[str, tuple[str | None, float]] = {}
        self.waiting: dict[str, list[str]] = {}  # name -> who asked us to resolve it

    def on_start(self) -> None:
        """Load the records (configured, then the stored updates) and note each."""
        for origin, zone in sorted(self.zones.items()):
            records = dict(zone.records)
            for name, address in sorted(self.storage.get(f"zone {origin}", {}).items()):
                if address is None:
                    records.pop(name, None)
                else:
                    records[name] = address
            self.records[origin] = records
            for name, address in sorted(records.items()):
                self.note("record", name=name, address=address)

    def authority(self, name: str) -> Zone | None:
        """The most specific of this server's zones that encloses ``name``."""
        for zone in enclosing(name):
            if zone in self.zones:
                return self.zones[zone]
        return None

    def on_message(self, src: str, msg: Any) -> None:
        """Queries (rule 2), answers to the queries it forwarded, and updates."""
        match msg:
            case Query(name=name, recursive=recursive) if _valid(name):
                self.query(src, name, recursive)
            case Answer(name=name) | Refused(name=name) if name in self.waiting:
                if self.downstream(name) == src:
                    self.answered(msg)
            case Update(name=name, address=address):
                self.update(src, name, address)

    def query(self, src: str, name: str, recursive: bool) -> None:
        """Answer, refer, refuse, or (recursively) ask on."""
        zone = self.authority(name)
        if zone is None:
            self.send(src, Refused(name))
            return
        delegation = zone.delegation_for(name)
        if delegation is None:
            address = self.records[zone.origin].get(name)
            self.send(src, Answer(name, address,
                                  zone.ttl if address is not None else zone.no_such_name_ttl))
        elif not recursive:
            self.send(src, Referral(name, delegation[0], delegation[1], zone.referral_ttl))
        else:
            cached = self.cached(name)
            if cached is not None:
                self.send(src, Answer(name, *cached))
                return
            waiting = self.waiting.setdefault(name, [])
            if src not in waiting:
                waiting.append(src)
            self.send(delegation[1], Query(name, True))  # rule 3: every time

    def cached(self, name: str) -> tuple[str | None, float] | None:
        """``(address, remaining TTL)`` of a live cached answer for ``name``, or None."""
        entry = self.cache.get(name)
        if entry is None:
            return None
        remaining = entry[1] - self.now
        if remaining <= 0:
            del self.cache[name]
            return None
        return entry[0], remaining

    def downstream(self, name: str) -> str | None:
        """The server this one asks about ``name`` when resolving it recursively."""
        zone = self.authority(name)
        delegation = zone.delegation_for(name) if zone is not None else None
        return delegation[1] if delegation is not None else None

    def answered(self, msg: Answer | Refused) -> None:
        """The next server answered: cache the answer, and pass it on to who asked."""
        if isinstance(msg, Answer) and self.caching:
            self.cache[msg.name] = (msg.address, self.now + msg.ttl)
        for asker in self.waiting.pop(msg.name):
            self.send(asker, msg)  # the remaining TTL, as it came

    def update(self, src: str, name: str, address: str | None) -> None:
        """Apply an :class:`Update` to a record of this server's zones, durably."""
        zone = self.authority(name) if _valid(name) else None
        if zone is None or zone.delegation_for(name) is not None \
                or (address is not None and (not isinstance(address, str) or not address)):
            self.send(src, Updated(name, address, False))
            return
        changes = self.storage.get(f"zone {zone.origin}", {})
        changes[name] = address
        self.storage[f"zone {zone.origin}"] = changes
        self.storage.sync()  # stored before acknowledged
        if address is None:
            self.records[zone.origin].pop(name, None)
        else:
            self.records[zone.origin][name] = address
        self.note("record", name=name, address=address)
        self.send(src, Updated(name, address, True))


# ----- resolvers ---------------------------------------------------------------------


@attrs.frozen
class Resolution:
    """The outcome of resolving ``name``: ``status`` ``ok`` (at ``address``), ``nxdomain``
    (no such name) or ``servfail`` (no server answered in time); ``source`` is
    ``cache`` or ``network``."""

    name: str
    address: str | None
    status: str
    source: str


@attrs.define
class _Pending:
    server: str  # whom we asked
    zone: str  # the zone we believe that server serves (the root: "")
    waiters: list[Callable[[Resolution], None]]
    tries: int = 1


class Resolver(Component):
    """A caching resolver, to put in a node (see :class:`LocalResolver`).

    Args:
        root: the root server's node id.
        mode: ``"iterative"`` (follow referrals) or ``"recursive"`` (ask the root to
            resolve the whole name).
        cache: keep answers and referrals for their TTL (``False``: ask every time).
        retry: seconds before an unanswered query is sent again.
        tries: queries sent for one step before giving up (``servfail``).

    ``answers`` and ``referrals`` are the cache (``name -> (address, expires)``,
    ``zone -> (server, expires)``, on this node's clock).
    """

    messages = (Answer, Referral, Refused)
    default_name = "resolver"

    def __init__(self, root: str = "root", *, mode: str = "iterative", cache: bool = True,
                 retry: float = 0.2, tries: int = 10) -> None:
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if isinstance(tries, bool) or not isinstance(tries, int) or tries < 1:
            raise ConfigError(f"tries must be an int >= 1, got {tries!r}")
        self.root = root
        self.mode = mode
        self.caching = cache
        self.retry = positive_seconds("retry", retry)
        self.tries = tries
        self.answers: dict[str, tuple[str | None, float]] = {}
        self.referrals: dict[str, tuple[str, float]] = {}
        self.pending: dict[str, _Pending] = {}

    def on_start(self) -> None:
        """Start with empty caches (they are not kept across a crash)."""
        self.answers, self.referrals, self.pending = {}, {}, {}

    def resolve(self, name: str, done: Callable[[Resolution], None]) -> None:
        """Resolve ``name`` and call ``done`` with the :class:`Resolution` (at once, from
        the cache; or when a server answers)."""
        check_domain_name(name)
        cached = self.cached_answer(name)
        if cached is not None:
            self.finish(name, done, cached, "cache")
        elif name in self.pending:
            self.pending[name].waiters.append(done)
        else:
            server, zone = self.start(name)
            self.pending[name] = _Pending(server, zone, [done])
            self.ask(name)

    def cached_answer(self, name: str) -> tuple[str | None] | None:
        """``(address,)`` of a live cached answer for ``name``, or None."""
        entry = self.answers.get(name)
        if entry is None or entry[1] <= self.now:
            return None
        return (entry[0],)

    def start(self, name: str) -> tuple[str, str]:
        """``(server, zone)`` to ask first: in iterative mode the server of the closest
        enclosing zone with a live referral, else (and in recursive mode) the root."""
        if self.mode == "iterative":
            for zone in enclosing(name)[:-1]:
                entry = self.referrals.get(zone)
                if entry is not None and entry[1] > self.now:
                    return entry[0], zone
        return self.root, ROOT

    def ask(self, name: str) -> None:
        """Send the pending query for ``name`` (again), and arm its retry."""
        pending = self.pending[name]
        self.send(pending.server, Query(name, self.mode == "recursive"))
        self.set_timer(f"retry {name}", self.retry)

    def on_message(self, src: str, msg: Any) -> None:
        """Answers, referrals and refusals from the server asked (rule 4)."""
        pending = self.pending.get(getattr(msg, "name", ""))
        if pending is None or src != pending.server:
            return  # late, or not from the server we asked
        match msg:
            case Answer(name=name, address=address, ttl=ttl):
                if self.caching:
                    self.answers[name] = (address, self.now + ttl)
                self.complete(name, (address,), "network")
            case Referral(name=name, zone=zone, server=server, ttl=ttl):
                if not is_within(name, zone) or zone == pending.zone \
                        or not is_within(zone, pending.zone):
                    return  # not a step down towards the name: ignore it (rule 4)
                if self.caching:
                    self.referrals[zone] = (server, self.now + ttl)
                pending.server, pending.zone, pending.tries = server, zone, 1
                self.ask(name)
            case Refused(name=name):
                # Our referral was wrong (the zone moved?): forget it, start at the root.
                self.referrals.pop(pending.zone, None)
                if pending.zone == ROOT:
                    self.complete(name, None, "network")
                else:
                    pending.server, pending.zone, pending.tries = self.root, ROOT, 1
                    self.ask(name)

    def on_timer(self, name: str) -> None:
        """``retry <name>``: ask again, or give up after ``tries`` queries."""
        kind, _, resolving = name.partition(" ")
        pending = self.pending.get(resolving)
        if kind != "retry" or pending is None:
            return
        if pending.tries >= self.tries:
            self.complete(resolving, None, "network")
            return
        pending.tries += 1
        self.ask(resolving)

    def complete(self, name: str, found: tuple[str | None] | None, source: str) -> None:
        """Hand the result to everyone waiting for ``name`` (``found`` None: servfail)."""
        pending = self.pending.pop(name)
        self.cancel_timer(f"retry {name}")
        for done in pending.waiters:
            self.finish(name, done, found, source)

    def finish(self, name: str, done: Callable[[Resolution], None],
               found: tuple[str | None] | None, source: str) -> None:
        """Note the answer (for the checkers), and give it to ``done``."""
        if found is None:
            result = Resolution(name, None, "servfail", source)
        else:
            result = Resolution(name, found[0], "ok" if found[0] is not None else "nxdomain",
                                source)
        self.note("answer", name=name, address=result.address, status=result.status,
                  source=source)
        done(result)


class LocalResolver(Node):
    """A resolver server for stub clients (the "local DNS server" of a network): it
    resolves each :class:`Resolve` with its :class:`Resolver` (``self.resolver``) and
    answers :class:`Resolved`. The arguments are the :class:`Resolver`'s."""

    def __init__(self, root: str = "root", *, mode: str = "iterative", cache: bool = True,
                 retry: float = 0.2, tries: int = 10) -> None:
        super().__init__()
        self.resolver = self.add_component(
            Resolver(root, mode=mode, cache=cache, retry=retry, tries=tries))

    def on_message(self, src: str, msg: Any) -> None:
        """Resolve a stub client's name, and answer it."""
        if not isinstance(msg, Resolve):
            return
        if not _valid(msg.name):
            self.send(src, Resolved(msg.name, msg.request, None, "servfail"))
            return

        def answer(result: Resolution) -> None:
            self.send(src, Resolved(msg.name, msg.request, result.address, result.status))

        self.resolver.resolve(msg.name, answer)


# ----- clients -----------------------------------------------------------------------


class StubClient(AskingClient):
    """Resolves names through a :class:`LocalResolver`: operations
    ``{"f": "resolve", "key": name}``, completed ``ok`` with the address (None: no such
    name), ``fail`` if the resolver gave up, ``info`` after ``op_timeout`` seconds
    without an answer. Unanswered requests are sent again every ``retry`` seconds.

    Args:
        resolver: the local resolver's node id.
    """

    def __init__(self, *, resolver: str = "resolver", retry: float = 1.0,
                 op_timeout: float = 5.0) -> None:
        super().__init__(resolver, retry=retry, op_timeout=op_timeout)

    def on_start(self) -> None:
        """No request in flight; requests are numbered from 1."""
        super().on_start()
        self.request = 0

    def on_invoke(self, op: dict[str, Any]) -> None:
        """Send the name to the resolver."""
        if op["f"] != "resolve" or not _valid(op.get("key")):
            raise ConfigError(f"a StubClient runs {{'f': 'resolve', 'key': name}} with a "
                              f"domain name, got {op!r}")
        self.request += 1
        self.ask(Resolve(op["key"], self.request))

    def on_message(self, src: str, msg: Any) -> None:
        """The resolver's answer completes the operation."""
        asking = self.asking
        if not isinstance(msg, Resolved) or not isinstance(asking, Resolve) \
                or msg.request != asking.request:
            return
        self.answered()
        if msg.status == "servfail":
            self.fail()
        else:
            self.ok(msg.address)


class ZoneUpdater(AskingClient):
    """Changes records: operations ``{"f": "update", "key": name, "value": address}``
    (``value`` None removes the record), sent to the zone server ``server``; ``ok`` when
    it stored the change, ``fail`` if the name is not one of its zones', ``info`` after
    ``op_timeout`` seconds without an answer (it may still be applied)."""

    def __init__(self, *, server: str, retry: float = 0.5, op_timeout: float = 5.0) -> None:
        super().__init__(server, retry=retry, op_timeout=op_timeout)

    def on_invoke(self, op: dict[str, Any]) -> None:
        """Send the update (again every ``retry`` seconds until it is acknowledged)."""
        if op["f"] != "update" or not _valid(op.get("key")):
            raise ConfigError(f"a ZoneUpdater runs {{'f': 'update', 'key': name, 'value': "
                              f"address}}, got {op!r}")
        self.ask(Update(op["key"], op.get("value")))

    def on_message(self, src: str, msg: Any) -> None:
        """The server's acknowledgement completes the operation."""
        asking = self.asking
        if not isinstance(msg, Updated) or not isinstance(asking, Update) \
                or (msg.name, msg.address) != (asking.name, asking.address):
            return
        self.answered()
        if msg.applied:
            self.ok()
        else:
            self.fail()
