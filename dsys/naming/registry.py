"""A name service with leases: servers register their names, clients look them up, and
the names of a server that crashed expire on their own.

A flat name (``"printer"``, ``"orders-db"``) is bound to an address by the server that
offers it, not by an administrator: the server *registers* the name with a
:class:`NameServer` and *renews* the registration while it lives. Each registration is a
**lease** (Gray and Cheriton, SOSP 1989): it holds for ``lease`` seconds of the name
server's clock after the registration (or renewal) arrived, and then expires unless
renewed. So a crashed server needs nobody to notice the crash: its names disappear at
most one lease after its last renewal, and a standby that asked for the same name gets it
then. This is *soft state*, as in Consul's sessions, ZooKeeper's ephemeral nodes, DNS-SD
and SIP registrations: the name server keeps nothing on disk, and after a crash of its own
it learns every binding back from the next renewals.

The rules of this file:

1. One message does both jobs: :class:`Register` registers a name, or renews it if the
   sender holds it already. A name belongs to the first node that registers it and stays
   its own while the lease is renewed; a :class:`Register` from another node is refused
   (``granted=False``, naming the holder) until the lease runs out, or the holder
   deregisters.
2. The server expires a binding with a timer of ``lease`` seconds, re-armed on every
   renewal: never a comparison of clock readings, so a jump of the server's clock does
   not shorten a lease (only a clock *rate* error does, by that rate).
3. A :class:`Registration` (the component a server adds) registers on start and renews
   every ``lease / 3`` seconds after each grant; unanswered, it re-sends every ``retry``
   seconds. Under random loss a live owner loses its name only if every one of its
   registrations is lost for a whole lease (about ``lease·2/3 / retry`` tries in a row).
4. A :class:`Deregister` ends a lease early (a graceful shutdown; it is sent once, and if
   it is lost the lease simply runs out). The server remembers
   the deregistered incarnation for one lease, so a late copy of an older
   :class:`Register` from it cannot bring the name back.
5. The server notes ``bind``, ``renew``, ``expire``, ``unbind``, ``refuse`` and
   ``lookup`` (each with ``name`` and ``owner``) for the checkers of
   :mod:`dsys.naming.checkers`.

Example:
    >>> from dsys import Node, Simulation
    >>> from dsys.naming import NameClient, NameServer, Registration
    >>> class Printer(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.add_component(Registration("printer", server="names"))
    >>> sim = Simulation(seed=1)
    >>> sim.add_node("names", lambda: NameServer(lease=1.0))
    >>> sim.add_node("p1", Printer)
    >>> sim.add_client("c", NameClient, workload=lambda rng: {"f": "lookup", "key": "printer"},
    ...                ops=None, think=0.5, start=0.1)
    >>> sim.at(2.0, sim.crash, "p1")
    >>> sim.run(until=4.0)
    >>> [(round(e["time"], 2), e["value"]) for e in sim.history if e["type"] == "ok"]
    [(0.62, 'p1'), (1.13, 'p1'), (1.65, 'p1'), (2.16, 'p1'), (2.66, 'p1'), (3.17, None),
     (3.69, None)]
    >>> [(round(e.time, 3), e.data["event"]) for e in sim.trace if e.kind == "note"
    ...  and e.data["event"] in ("renew", "expire")][-2:]   # one lease after the last renewal
    [(1.733, 'renew'), (2.733, 'expire')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from dsys.core.messages import message
from dsys.core.node import Component, Node
from dsys.errors import ConfigError
from dsys.naming.asking import AskingClient, positive_seconds

#: Seconds a registration holds without renewal, by default.
LEASE = 1.0
#: Seconds before an unanswered request is sent again, by default.
RETRY = 0.1
#: Seconds before a client gives up a lookup (``info``), by default.
OP_TIMEOUT = 2.0
#: The longest flat name the service takes.
MAX_NAME = 255


def check_flat_name(name: object) -> str:
    """Return ``name`` if it is a name the service takes: a string of 1 to 255 printable
    characters; raise :class:`~dsys.errors.ConfigError` otherwise.

    >>> check_flat_name("printer")
    'printer'
    >>> check_flat_name("")
    Traceback (most recent call last):
      ...
    dsys.errors.ConfigError: a name must be a string of 1 to 255 printable characters, got ''
    """
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME or not name.isprintable():
        raise ConfigError(f"a name must be a string of 1 to {MAX_NAME} printable characters, "
                          f"got {name!r}")
    return name


def _valid(name: object) -> bool:
    try:
        check_flat_name(name)
    except ConfigError:
        return False
    return True


# ----- messages ----------------------------------------------------------------------


@message
class Register:
    """Owner -> name server: bind (or keep bound) ``name`` to ``address`` for one lease.
    ``incarnation`` names this life of the owner (it changes when the owner restarts);
    ``seq`` numbers its requests."""

    name: str
    address: str
    incarnation: str
    seq: int


@message
class Registered:
    """Name server -> owner: the answer to :class:`Register` number ``seq``. ``granted``:
    the name is the owner's for ``lease`` seconds; otherwise ``holder`` has it."""

    name: str
    seq: int
    granted: bool
    holder: str
    lease: float


@message
class Deregister:
    """Owner -> name server: give ``name`` up now (a graceful shutdown)."""

    name: str
    incarnation: str
    seq: int


@message
class Lookup:
    """Client -> name server: which address is ``name`` bound to? (``request`` matches the
    answer to the question.)"""

    name: str
    request: int


@message
class LookupReply:
    """Name server -> client: ``name`` is bound to ``address`` (None: to nothing)."""

    name: str
    request: int
    address: str | None


# ----- the name server ---------------------------------------------------------------


@attrs.define
class Binding:
    """What the name server knows of one name: who holds it, where it points, and the
    owner's incarnation. ``address`` None: deregistered (a tombstone, kept one lease
    so that a late :class:`Register` of ``incarnation`` numbered up to ``seq`` is
    ignored)."""

    owner: str
    address: str | None
    incarnation: str
    seq: int


class NameServer(Node):
    """The name server: bindings under leases, and lookups (see the module docstring).

    Args:
        lease: seconds a binding holds without renewal, on this server's clock.
    """

    def __init__(self, *, lease: float = LEASE) -> None:
        super().__init__()
        self.lease = positive_seconds("lease", lease)
        #: name -> binding. Soft state: a crash forgets it, renewals rebuild it.
        self.bindings: dict[str, Binding] = {}

    def lookup(self, name: str) -> Binding | None:
        """The live binding of ``name``, or None (tombstones are not bindings)."""
        binding = self.bindings.get(name)
        return binding if binding is not None and binding.address is not None else None

    def on_message(self, src: str, msg: Any) -> None:
        """Registrations, deregistrations and lookups."""
        match msg:
            case Register():
                self.register(src, msg)
            case Deregister(name=name, incarnation=incarnation, seq=seq):
                binding = self.bindings.get(name)
                if binding is not None and binding.owner == src and binding.address is not None:
                    self.bindings[name] = Binding(src, None, incarnation, seq)
                    self.note("unbind", name=name, owner=src)
                    self.set_timer(f"expire {name}", self.lease)  # the tombstone's life
            case Lookup(name=name, request=request):
                binding = self.lookup(name)
                self.note("lookup", name=name, owner=binding.owner if binding else None,
                          address=binding.address if binding else None)
                self.send(src, LookupReply(name, request, binding.address if binding else None))

    def register(self, src: str, msg: Register) -> None:
        """Grant, renew or refuse ``src``'s registration ``msg`` (rules 1 and 4)."""
        name = msg.name
        if not _valid(name):
            return  # (a client can only send names the service takes: see Registration)
        binding = self.bindings.get(name)
        if binding is not None and binding.owner != src and binding.address is not None:
            self.note("refuse", name=name, owner=src, holder=binding.owner)
            self.send(src, Registered(name, msg.seq, False, binding.owner, self.lease))
            return
        if binding is not None and binding.address is None and binding.owner == src \
                and binding.incarnation == msg.incarnation and msg.seq <= binding.seq:
            return  # a late copy of a request sent before the owner deregistered
        renewal = binding is not None and binding.owner == src and binding.address == msg.address
        self.bindings[name] = Binding(src, msg.address, msg.incarnation, msg.seq)
        self.note("renew" if renewal else "bind", name=name, owner=src, address=msg.address)
        self.set_timer(f"expire {name}", self.lease)
        self.send(src, Registered(name, msg.seq, True, src, self.lease))

    def on_timer(self, name: str) -> None:
        """``expire <name>``: the lease of ``name`` ran out unrenewed (rule 2)."""
        kind, _, bound = name.partition(" ")
        if kind == "expire":
            binding = self.bindings.pop(bound, None)
            if binding is not None and binding.address is not None:
                self.note("expire", name=bound, owner=binding.owner, address=binding.address)


# ----- the owner's side --------------------------------------------------------------


class Registration(Component):
    """Registers this node's names with a :class:`NameServer` and renews them.

    Args:
        names: a name, or several, bound to this node's id; or a mapping of names to
            the addresses they should point to.
        server: the name server's node id.
        retry: seconds before an unanswered registration is sent again.

    ``held(name)`` says whether the name server granted ``name`` at the last answer.
    """

    messages = (Registered,)
    default_name = "registration"

    def __init__(self, names: str | Iterable[str] | Mapping[str, str], *,
                 server: str = "names", retry: float = RETRY) -> None:
        super().__init__()
        if isinstance(names, str):
            names = [names]
        self._names = dict(names) if isinstance(names, Mapping) else dict.fromkeys(names)
        for name in self._names:
            check_flat_name(name)
        if not self._names:
            raise ConfigError("a Registration needs at least one name")
        self.server = server
        self.retry = positive_seconds("retry", retry)

    def on_start(self) -> None:
        """Register every name, in a new incarnation (the server tells this life of the
        node from the last)."""
        self.incarnation = f"{self.rng.getrandbits(32):08x}"
        self.seq = 0
        self.addresses = {name: address or self.id for name, address in self._names.items()}
        self.granted: dict[str, bool] = {}
        self.waiting: dict[str, int] = {}  # name -> seq of the request awaiting its answer
        self.holders: dict[str, str] = {}
        for name in sorted(self.addresses):
            self.register(name)

    def held(self, name: str) -> bool:
        """Whether ``name`` was granted at the last answer."""
        return self.granted.get(name, False)

    def register(self, name: str) -> None:
        """Send a (new) registration of ``name``, and retry until it is answered."""
        self.seq += 1
        self.waiting[name] = self.seq
        self.send(self.server, Register(name, self.addresses[name], self.incarnation, self.seq))
        self.set_timer(f"retry {name}", self.retry)

    def leave(self, name: str) -> None:
        """Give ``name`` up: deregister it, and stop renewing it."""
        if name not in self.addresses:
            raise ConfigError(f"{self.id} does not register {name!r}")
        del self.addresses[name]
        self.waiting.pop(name, None)
        self.granted.pop(name, None)
        self.cancel_timer(f"retry {name}")
        self.cancel_timer(f"renew {name}")
        self.seq += 1
        self.send(self.server, Deregister(name, self.incarnation, self.seq))

    def on_message(self, src: str, msg: Any) -> None:
        """The answer to the latest registration of a name: renew it a third of a lease
        later (or, refused, ask again then)."""
        if not isinstance(msg, Registered) or self.waiting.get(msg.name) != msg.seq:
            return  # an answer to an older request
        del self.waiting[msg.name]
        self.cancel_timer(f"retry {msg.name}")
        self.granted[msg.name] = msg.granted
        self.holders[msg.name] = msg.holder
        # Renew three times a lease; a standby refused the name asks as often, so it
        # takes the name over soon after the holder's lease runs out.
        self.set_timer(f"renew {msg.name}", msg.lease / 3)

    def on_timer(self, name: str) -> None:
        """``retry <name>`` (unanswered) and ``renew <name>``: register it again."""
        kind, _, registered = name.partition(" ")
        if kind in ("retry", "renew") and registered in self.addresses:
            self.register(registered)


# ----- the client --------------------------------------------------------------------


class NameClient(AskingClient):
    """Looks names up: operations ``{"f": "lookup", "key": name}``, each completed ``ok``
    with the address (None: the name is not bound), or ``info`` after ``op_timeout``
    seconds without an answer. Unanswered lookups are sent again every ``retry``
    seconds.

    Args:
        server: the name server's node id.
    """

    def __init__(self, *, server: str = "names", retry: float = RETRY,
                 op_timeout: float = OP_TIMEOUT) -> None:
        super().__init__(server, retry=retry, op_timeout=op_timeout)

    def on_start(self) -> None:
        """No lookup in flight; lookups are numbered from 1."""
        super().on_start()
        self.request = 0

    def on_invoke(self, op: dict[str, Any]) -> None:
        """Send the lookup to the name server."""
        name = op.get("key")
        if op["f"] != "lookup" or not _valid(name):
            raise ConfigError(f"a NameClient runs lookups of names ({{'f': 'lookup', 'key': "
                              f"name}}), got {op!r}")
        self.request += 1
        self.ask(Lookup(str(name), self.request))

    def on_message(self, src: str, msg: Any) -> None:
        """The name server's answer completes the lookup."""
        asking = self.asking
        if isinstance(msg, LookupReply) and isinstance(asking, Lookup) \
                and msg.request == asking.request:
            self.answered()
            self.ok(msg.address)
