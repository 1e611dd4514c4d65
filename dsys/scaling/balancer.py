"""A load balancer: a node in front of a pool of servers.

The rules of this file:

* Clients send :class:`~dsys.scaling.server.Request` to the balancer. It picks a server
  in service with its :mod:`routing policy <dsys.scaling.policies>`, forwards the request
  under a number of its own (a *ticket*: ids of different clients may collide), and
  relays the server's :class:`~dsys.scaling.server.Reply` back to the client under the
  client's id. A reply whose ticket is unknown (a copy the network duplicated) is dropped.
* The balancer counts, per server, the requests it sent there and has not seen answered:
  the *outstanding* requests the load-aware policies read. It knows nothing else about a
  server's queue; what it counts, it counts exactly.
* Each forwarded request costs the balancer ``cost`` seconds of its own (one CPU, so
  requests wait in the balancer's backlog while it is busy; replies pass for free). With
  a cost, the balancer saturates at ``1 / cost`` requests a second however many servers
  stand behind it.
* Membership changes at run time: :class:`AddServer` (or :meth:`Balancer.add_server`)
  puts a server in service; :class:`RemoveServer` takes it out of the policy at once, so
  no new request goes there, and the server *drains*: the requests it holds still finish
  and their replies are relayed. When its last one is answered the balancer notes
  ``"drained"`` and tells whoever asked for the removal (:class:`Drained`). Adding a
  draining server back puts it in service again.
* With no server in service, a request is answered :class:`Rejected`.

The balancer notes ``"add"``, ``"remove"`` and ``"drained"`` (with the server) in the
trace; :func:`dsys.scaling.checkers.check_drained` reads them.

Example:
    >>> from dsys import Network, Simulation
    >>> from dsys.scaling import Balancer, Constant, OpenLoop, Server
    >>> sim = Simulation(seed=1, network=Network(latency=0.0005))
    >>> for name in ("s1", "s2", "s3"):
    ...     sim.add_node(name, lambda: Server(Constant(0.010)))
    >>> sim.add_node("lb", lambda: Balancer(["s1", "s2", "s3"], "round-robin"))
    >>> sim.add_node("gen", lambda: OpenLoop("lb", rate=150.0, until=1.0))
    >>> sim.run(until=1.5)
    >>> {s: sim.node(s).served for s in ("s1", "s2", "s3")}
    {'s1': 53, 's2': 53, 's3': 53}
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from dsys.core.messages import message
from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.scaling.policies import Policy, make_policy
from dsys.scaling.server import Reply, Request

__all__ = ["AddServer", "Balancer", "Drained", "Rejected", "RemoveServer"]


@message(name="scaling:AddServer")
class AddServer:
    """To the balancer: put ``server`` in service."""

    server: str


@message(name="scaling:RemoveServer")
class RemoveServer:
    """To the balancer: send ``server`` nothing new, let it drain, then say
    :class:`Drained` to the sender."""

    server: str


@message(name="scaling:Drained")
class Drained:
    """From the balancer: ``server`` was removed and holds none of its requests now."""

    server: str


@message(name="scaling:Rejected")
class Rejected:
    """From the balancer: request ``id`` was not served (``reason`` says why)."""

    id: int
    reason: str


class Balancer(Node):
    """A load balancer over ``servers`` with a routing ``policy``.

    Args:
        servers: the servers in service at the start.
        policy: a policy name (``"round-robin"``, ``"random"``, ``"least-outstanding"``,
            ``"two-choices"``, ``"consistent-hash"``) or a fresh :class:`Policy` object
            (one per balancer: it keeps state). The balancer puts ``servers`` in it; any
            it holds already are in service too.
        cost: seconds of the balancer's own work per forwarded request (0: free).
    """

    def __init__(self, servers: Iterable[str], policy: str | Policy = "round-robin", *,
                 cost: float = 0.0) -> None:
        super().__init__()
        if not 0 <= cost < float("inf"):
            raise ConfigError(f"the balancer's cost per request must be >= 0 s, got {cost!r}")
        self.policy = make_policy(policy) if isinstance(policy, str) else policy
        if not isinstance(self.policy, Policy):
            raise ConfigError(f"policy must be a policy name or a Policy, got {policy!r}")
        self.cost = cost
        #: Outstanding requests per server in service, and per server draining.
        self.outstanding: dict[str, int] = {}
        self.draining: dict[str, int] = {}
        self._drain_waiters: dict[str, str] = {}
        # ticket -> (client, the client's id, server)
        self._tickets: dict[int, tuple[str, int, str]] = {}
        self._next_ticket = 0
        self._backlog: deque[tuple[str, Request]] = deque()
        self._working = False
        #: Requests forwarded, and rejected for want of a server; the longest backlog.
        self.forwarded = 0
        self.rejected = 0
        self.max_backlog = 0
        for server in sorted(set(servers) | set(self.policy.servers)):
            if server not in self.policy.servers:
                self.policy.add(server)
            self.outstanding[server] = 0

    @property
    def in_service(self) -> tuple[str, ...]:
        """The servers that get new requests, sorted."""
        return tuple(sorted(self.outstanding))

    @property
    def backlog(self) -> int:
        """Requests waiting for the balancer itself (only with a cost per request)."""
        return len(self._backlog)

    # ----- membership ---------------------------------------------------------------------

    def add_server(self, server: str) -> None:
        """Put ``server`` in service (back in service, if it was draining)."""
        if server in self.outstanding:
            return
        self.policy.add(server)
        self.outstanding[server] = self.draining.pop(server, 0)
        self._drain_waiters.pop(server, None)
        self.note("add", server=server)

    def remove_server(self, server: str, *, tell: str | None = None) -> None:
        """Take ``server`` out of service; it drains. ``tell`` gets :class:`Drained`."""
        if server not in self.outstanding:
            if tell is not None and server not in self.draining:
                self.send(tell, Drained(server))  # not here at all: nothing to drain
            elif tell is not None:
                self._drain_waiters[server] = tell
            return
        self.policy.remove(server)
        self.draining[server] = self.outstanding.pop(server)
        if tell is not None:
            self._drain_waiters[server] = tell
        self.note("remove", server=server, outstanding=self.draining[server])
        self._check_drained(server)

    # ----- handlers ---------------------------------------------------------------------------

    def on_message(self, src: str, msg: object) -> None:
        kind = type(msg)
        if kind is Request:
            assert isinstance(msg, Request)
            if not self.cost:
                self._forward(src, msg)
                return
            self._backlog.append((src, msg))
            self.max_backlog = max(self.max_backlog, len(self._backlog))
            if not self._working:
                self._working = True
                self.set_timer("work", self.cost)
        elif kind is Reply:
            assert isinstance(msg, Reply)
            self._relay(msg)
        elif isinstance(msg, AddServer):
            self.add_server(msg.server)
        elif isinstance(msg, RemoveServer):
            self.remove_server(msg.server, tell=src)

    def on_timer(self, name: str) -> None:
        if name != "work":
            return
        src, request = self._backlog.popleft()
        self._forward(src, request)
        if self._backlog:
            self.set_timer("work", self.cost)
        else:
            self._working = False

    # ----- helpers -----------------------------------------------------------------------------

    def _forward(self, src: str, request: Request) -> None:
        load = self.outstanding
        if not load:
            self.rejected += 1
            self.send(src, Rejected(request.id, "no server in service"))
            return
        server = self.policy.choose(request.key, load, self.rng)
        ticket = self._next_ticket
        self._next_ticket = ticket + 1
        self._tickets[ticket] = (src, request.id, server)
        load[server] += 1
        self.forwarded += 1
        self.send(server, Request(ticket, request.key))

    def _relay(self, reply: Reply) -> None:
        entry = self._tickets.pop(reply.id, None)
        if entry is None:
            return  # a duplicate: answered already
        client, client_id, server = entry
        if server in self.outstanding:
            self.outstanding[server] -= 1
        elif server in self.draining:
            self.draining[server] -= 1
            self._check_drained(server)
        self.send(client, Reply(client_id, reply.server, reply.queue))

    def _check_drained(self, server: str) -> None:
        if self.draining.get(server) == 0:
            del self.draining[server]
            self.note("drained", server=server)
            asked = self._drain_waiters.pop(server, None)
            if asked is not None:
                self.send(asked, Drained(server))
