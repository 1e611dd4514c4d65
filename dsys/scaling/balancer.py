"""A load balancer: a node in front of a pool of servers.

The rules of this file:

* Clients send :class:`~dsys.scaling.server.Request` to the balancer. It picks a server
  in service with its :mod:`routing policy <dsys.scaling.policies>`, forwards the request
  under a number of its own (a *ticket*: ids of different clients may collide), and
  relays the server's :class:`~dsys.scaling.server.Reply` back to the client under the
  client's id. A reply whose ticket is unknown (a copy the network duplicated) is dropped.
  Tickets start from the balancer's clock when it starts (``now`` in microseconds, times
  256), so a balancer that restarts does not reuse the tickets of the requests its
  servers still hold from before (unless its clock went back): their late replies are
  dropped, not relayed to the new requests that reused their numbers.
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
* Servers may also *register* themselves: a server built with ``register="lb"`` sends
  :class:`Register` when it starts (and again after a restart) and every ``heartbeat``
  seconds after; the balancer puts a registering server in service, unless an operator
  removed it (:class:`RemoveServer`; only :class:`AddServer` brings such a server back).
  This is how a machine started later joins the pool on real processes.
* With a ``timeout``, a forwarded request not answered within ``timeout`` seconds counts as
  a failure signal: the balancer *ejects* the server (no new request goes there; it comes
  back when it registers again, or by :class:`AddServer`; a request sent to it before
  that is no evidence against it), then sends the request to another server in service
  (at most ``retries`` times), or answers the client :class:`Rejected` with a reason that
  names the server and the timeout. An answer that arrives after that is dropped: each
  request is answered, or rejected, exactly once.
  At most ``max_ejected`` of the servers (a share of those in service or ejected) are out
  at a time: when timeouts hit more of them, the servers are not dead but overloaded
  (a timeout too short for the queues), and ejecting them would pile their load on the
  rest and eject those in turn, down to no server at all.
  Without a timeout, a request sent to a server that crashed is never answered.
* With no server in service, a request is answered :class:`Rejected`.

The balancer notes ``"add"``, ``"remove"``, ``"drained"`` and ``"eject"`` (with the
server) in the trace; :func:`dsys.scaling.checkers.check_drained` reads them.

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

import math
from collections import deque
from collections.abc import Iterable

from dsys.core.messages import message
from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.scaling.policies import Policy, make_policy
from dsys.scaling.server import Register, Reply, Request

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
        timeout: seconds a server has to answer a forwarded request before the balancer
            ejects it and retries or rejects the request (None: wait forever).
        retries: how many times a timed-out request is sent to another server.
        max_ejected: the largest share of the servers ejected at a time (0 to 1).
    """

    def __init__(self, servers: Iterable[str] = (), policy: str | Policy = "round-robin", *,
                 cost: float = 0.0, timeout: float | None = None, retries: int = 1,
                 max_ejected: float = 0.5) -> None:
        super().__init__()
        if not 0 <= cost < float("inf"):
            raise ConfigError(f"the balancer's cost per request must be >= 0 s, got {cost!r}")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(
                timeout, int | float) or not 0 < timeout < float("inf")):
            raise ConfigError(f"the balancer's timeout must be > 0 seconds or None, got "
                              f"{timeout!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigError(f"retries must be an int >= 0, got {retries!r}")
        if isinstance(max_ejected, bool) or not isinstance(max_ejected, int | float) or not (
                0 <= max_ejected <= 1):
            raise ConfigError(f"max_ejected must be a share between 0 and 1, got "
                              f"{max_ejected!r}")
        self.max_ejected = float(max_ejected)
        self.timeout = None if timeout is None else float(timeout)
        self.retries = retries
        self.policy = make_policy(policy) if isinstance(policy, str) else policy
        if not isinstance(self.policy, Policy):
            raise ConfigError(f"policy must be a policy name or a Policy, got {policy!r}")
        self.cost = cost
        #: Outstanding requests per server in service, and per server draining.
        self.outstanding: dict[str, int] = {}
        self.draining: dict[str, int] = {}
        #: Outstanding requests per server ejected after a timeout (out of service until
        #: it registers again or is added).
        self.ejected: dict[str, int] = {}
        #: Servers an operator removed: registrations do not bring them back.
        self.removed: set[str] = set()
        # When each server last came (back) into service: a request sent before that is
        # no evidence against it.
        self._since: dict[str, float] = {}
        self._drain_waiters: dict[str, str] = {}
        # ticket -> (client, the client's id, server, key, attempt, deadline); tickets are
        # issued in time order, so with one timeout the deadlines are in order too.
        self._tickets: dict[int, tuple[str, int, str, str, int, float]] = {}
        self._next_ticket = 0
        self._backlog: deque[tuple[str, Request]] = deque()
        self._working = False
        self._expiring = False
        #: Requests forwarded (retries included), rejected for want of a server, timed out
        #: at a server, retried, and failed (rejected after the last timeout); the longest
        #: backlog.
        self.forwarded = 0
        self.rejected = 0
        self.timed_out = 0
        self.retried = 0
        self.failed = 0
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
        """Put ``server`` in service (back in service, if it was draining or ejected)."""
        self.removed.discard(server)
        if server in self.outstanding:
            return
        self.policy.add(server)
        self.outstanding[server] = self.draining.pop(server, 0) + self.ejected.pop(server, 0)
        self._since[server] = self.now
        self._drain_waiters.pop(server, None)
        self.note("add", server=server)

    def register(self, server: str) -> None:
        """``server`` says it serves: put it in service unless an operator removed it."""
        if server not in self.outstanding and server not in self.removed:
            self.add_server(server)

    def eject(self, server: str, reason: str) -> None:
        """Take ``server`` out of service after a failure signal (it may come back by
        registering again); its outstanding requests stay counted until they are answered
        or time out. Not beyond ``max_ejected`` of the servers."""
        if server not in self.outstanding:
            return
        if len(self.ejected) + 1 > self.max_ejected * (len(self.outstanding) + len(self.ejected)):
            return
        self.policy.remove(server)
        self.ejected[server] = self.outstanding.pop(server)
        self.note("eject", server=server, reason=reason)

    def remove_server(self, server: str, *, tell: str | None = None) -> None:
        """Take ``server`` out of service; it drains. ``tell`` gets :class:`Drained`."""
        self.removed.add(server)
        if server in self.ejected:  # out of service already: let it drain
            self.draining[server] = self.ejected.pop(server)
            self.note("remove", server=server, outstanding=self.draining[server])
            if tell is not None:
                self._drain_waiters[server] = tell
            self._check_drained(server)
            return
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

    def on_start(self) -> None:
        self._next_ticket = max(self._next_ticket, int(max(self.now, 0.0) * 1_000_000) << 8)

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
        elif isinstance(msg, Register):
            self.register(src)
        elif isinstance(msg, AddServer):
            self.add_server(msg.server)
        elif isinstance(msg, RemoveServer):
            self.remove_server(msg.server, tell=src)

    def on_timer(self, name: str) -> None:
        if name == "expire":
            self._expire()
            return
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
        self._dispatch(src, request.id, request.key, 0)

    def _dispatch(self, client: str, client_id: int, key: str, attempt: int) -> None:
        load = self.outstanding
        if not load:
            self.rejected += 1
            self.send(client, Rejected(client_id, "no server in service"))
            return
        server = self.policy.choose(key, load, self.rng)
        ticket = self._next_ticket
        self._next_ticket = ticket + 1
        deadline = self.now + self.timeout if self.timeout is not None else 0.0
        self._tickets[ticket] = (client, client_id, server, key, attempt, deadline)
        load[server] += 1
        self.forwarded += 1
        self.send(server, Request(ticket, key))
        if self.timeout is not None and not self._expiring:
            self._expiring = True
            self.set_timer("expire", self.timeout)

    def _release(self, server: str) -> None:
        """One request of ``server``'s was answered or timed out."""
        if server in self.outstanding:
            self.outstanding[server] -= 1
        elif server in self.ejected:
            self.ejected[server] -= 1
        elif server in self.draining:
            self.draining[server] -= 1
            self._check_drained(server)

    def _relay(self, reply: Reply) -> None:
        entry = self._tickets.get(reply.id)
        if entry is None or entry[2] != reply.server:
            return  # a duplicate (answered already), or too late (timed out), or not ours
        del self._tickets[reply.id]
        client, client_id, server = entry[:3]
        self._release(server)
        self.send(client, Reply(client_id, reply.server, reply.queue))

    def _expire(self) -> None:
        timeout = self.timeout
        assert timeout is not None
        now = self.now
        tickets = self._tickets
        due = []
        for ticket, entry in tickets.items():  # in deadline order
            if entry[5] > now + 1e-9:
                break
            due.append(ticket)
        for ticket in due:
            client, client_id, server, key, attempt, deadline = tickets.pop(ticket)
            self.timed_out += 1
            self._release(server)
            if deadline - timeout >= self._since.get(server, -math.inf):
                self.eject(server, f"no answer within {timeout:g} s")
            if attempt < self.retries and self.outstanding:
                self.retried += 1
                self._dispatch(client, client_id, key, attempt + 1)
            else:
                self.failed += 1
                self.send(client, Rejected(client_id, f"{server} did not answer within "
                                                      f"{timeout:g} s (tried {attempt + 1} "
                                                      f"server(s))"))
        if tickets:
            first = tickets[next(iter(tickets))][5]
            self.set_timer("expire", max(0.0, first - now))
        else:
            self._expiring = False

    def _check_drained(self, server: str) -> None:
        if self.draining.get(server) == 0:
            del self.draining[server]
            self.note("drained", server=server)
            asked = self._drain_waiters.pop(server, None)
            if asked is not None:
                self.send(asked, Drained(server))
