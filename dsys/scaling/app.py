"""Ready-made factories for running a balanced pool as real processes.

A cluster file names, per node, the factory ``dsys cluster up`` (or ``dsys run``) calls
to build it: ``target = "dsys.scaling.app:balancer"`` for the balancer (node id ``lb``)
and ``target = "dsys.scaling.app:server"`` for each server. The servers register with
``lb`` when they start and every second after (:class:`~dsys.scaling.Register`), so the
balancer starts with an empty pool and learns its servers from them: a server started
later, from any machine that can reach the balancer, joins the pool while it runs.
``dsys scaling load`` drives the pool and prints its throughput.

* :func:`server`: a :class:`~dsys.scaling.Server` whose requests take 50 ms each, one
  at a time (20 requests a second at most; the service time is a timer, as in the
  simulator, so a pool's capacity is what the measurement shows, not the machine's CPU);
* :func:`balancer`: a :class:`~dsys.scaling.Balancer` with least-outstanding routing and
  a 2 s timeout, that logs each change of its pool.

Example:
    >>> lb = balancer()
    >>> lb.policy.name, lb.timeout, lb.in_service
    ('least-outstanding', 2.0, ())
    >>> s = server()
    >>> s.register, s.service
    ('lb', Constant(value=0.05))
"""

from __future__ import annotations

from dsys.scaling.balancer import Balancer
from dsys.scaling.server import Server
from dsys.scaling.service import Constant

__all__ = ["BALANCER", "SERVICE", "LoggingBalancer", "balancer", "server"]

#: The balancer's node id, which the servers register with.
BALANCER = "lb"
#: Each request's service time at a server, in seconds.
SERVICE = 0.050


class LoggingBalancer(Balancer):
    """A :class:`~dsys.scaling.Balancer` that logs each server it adds or ejects, with
    the pool it now has (what the status table of ``dsys cluster up`` shows)."""

    def add_server(self, server: str) -> None:
        known = server in self.outstanding
        super().add_server(server)
        if not known:
            self.log(f"{server} joined: {len(self.outstanding)} server(s) in service")

    def eject(self, server: str, reason: str) -> None:
        known = server in self.outstanding
        super().eject(server, reason)
        if known and server not in self.outstanding:
            self.log(f"{server} ejected ({reason}): {len(self.outstanding)} in service")


def balancer() -> Balancer:
    """The balancer ``lb``: least outstanding requests, 2 s timeout, one retry."""
    return LoggingBalancer((), "least-outstanding", timeout=2.0, retries=1)


def server() -> Server:
    """A server: 50 ms a request, one worker, registers with ``lb`` every second."""
    return Server(Constant(SERVICE), register=BALANCER, heartbeat=1.0)
