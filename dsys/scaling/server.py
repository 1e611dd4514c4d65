"""A server with service times: requests wait in a queue, ``workers`` of them serve.

The rules of this file:

* A request (:class:`Request`) joins the server's queue; each of the ``workers`` takes
  the oldest waiting request when it is free (first come, first served), serves it for a
  time drawn from the server's :mod:`service-time distribution <dsys.scaling.service>`
  with the node's seeded ``rng``, in virtual time (a timer per worker), then answers the
  sender with a :class:`Reply` that says which server served it and how many requests
  the server still holds.
* The *queue length* is the number of requests in the server: waiting plus in service
  (queueing theory's "number in system", what balls-into-bins counts as a bin's load).
  The server keeps its largest value (:attr:`Server.max_queue`) and its busy time.
* A server in a pool that grows and shrinks (:mod:`dsys.scaling.autoscaler`) is a
  machine that may be off. It is ``"off"``, ``"booting"`` (for ``boot`` seconds after
  :class:`Activate`) or ``"serving"``; it announces it is up with :class:`Ready`, and
  while serving sends a :class:`LoadReport` to its manager every ``report_every``
  seconds. A machine that is off or still booting answers nothing: a request sent to it is
  lost (and noted ``"refused"``), which is how a balancer that routes to a removed server
  shows up in the checkers. :class:`Deactivate` turns it off; work still inside is lost
  (noted ``"deactivate"`` with the count): a pool must drain a server first.
* A server built with ``register="lb"`` registers with that balancer: it sends
  :class:`Register` as soon as it serves (on start, after a restart,
  after booting) and again every ``heartbeat`` seconds while it serves, so a balancer
  that ejected it, or restarted and forgot it, takes it back.

Example:
    >>> from dsys import Simulation
    >>> from dsys.scaling import Constant, Request, Server
    >>> from dsys.core import Node
    >>> class Asker(Node):
    ...     def on_start(self) -> None:
    ...         for n in range(3):
    ...             self.send("s", Request(n))
    ...     def on_message(self, src: str, msg: object) -> None:
    ...         self.log(f"{msg.id} answered at {self.now:.3f} by {msg.server}")
    >>> sim = Simulation(seed=1, network=__import__("dsys").Network(latency=0.001))
    >>> sim.add_node("s", lambda: Server(Constant(0.010)))
    >>> sim.add_node("a", Asker)
    >>> sim.run(until=1.0)
    >>> [e.data["text"] for e in sim.trace if e.kind == "log"]
    ['0 answered at 0.012 by s', '1 answered at 0.022 by s', '2 answered at 0.032 by s']
    >>> sim.node("s").max_queue, sim.node("s").served
    (3, 3)
"""

from __future__ import annotations

from collections import deque

from dsys.core.messages import message
from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.scaling.service import Exponential, ServiceTime, as_service_time

__all__ = [
    "Activate",
    "Deactivate",
    "LoadReport",
    "Ready",
    "Register",
    "Reply",
    "Request",
    "Server",
]


# ----- messages --------------------------------------------------------------------------


@message(name="scaling:Request")
class Request:
    """A request. ``id`` is the sender's number for it; ``key`` what it is about (a user,
    a session, a cart): what a sticky balancer routes by."""

    id: int
    key: str = ""


@message(name="scaling:Reply")
class Reply:
    """The answer to request ``id``: ``server`` served it, and still held ``queue``
    requests when it answered."""

    id: int
    server: str
    queue: int = 0


@message(name="scaling:Activate")
class Activate:
    """Manager to server: boot and start serving (the sender is the manager)."""


@message(name="scaling:Deactivate")
class Deactivate:
    """Manager to server: turn off (after the balancer drained it)."""


@message(name="scaling:Ready")
class Ready:
    """Server to manager: booted, serving."""


@message(name="scaling:Register")
class Register:
    """Server to balancer: the sender serves and wants requests (sent when it starts, and
    every ``heartbeat`` seconds after)."""


@message(name="scaling:LoadReport")
class LoadReport:
    """Server to manager, every ``report_every`` seconds while serving: over the last
    ``elapsed`` seconds its ``workers`` were busy ``busy`` seconds in all (utilization
    ``busy / (elapsed * workers)``), and it holds ``queue`` requests now."""

    busy: float
    elapsed: float
    workers: int
    queue: int


# ----- the server ------------------------------------------------------------------------

#: The service time of a server built without one: exponential, 10 ms on average.
DEFAULT_SERVICE = Exponential(0.010)

#: A request inside the server: (sender, the sender's id, when it arrived or started).
_Job = tuple[str, int, float]


class Server(Node):
    """A server: a FIFO queue served by ``workers`` workers with ``service`` times.

    Args:
        service: the service-time distribution (a number is an exponential's mean).
        workers: how many requests it serves at once (``k`` of an M/M/k queue).
        active: serving from the start (True), or off until a manager activates it.
        boot: seconds from :class:`Activate` to serving (a machine or container starts).
        manager: where to send load reports while serving (default: whoever activated
            it; none for a server that was never activated and has no manager).
        report_every: seconds between load reports.
        register: a balancer to register with while serving (None: none; the balancer
            or a manager is told about the server some other way).
        heartbeat: seconds between registrations.
    """

    def __init__(self, service: ServiceTime | float = DEFAULT_SERVICE, workers: int = 1,
                 *, active: bool = True, boot: float = 0.0, manager: str | None = None,
                 report_every: float = 1.0, register: str | None = None,
                 heartbeat: float = 1.0) -> None:
        super().__init__()
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"a server needs workers >= 1, got {workers!r}")
        if not 0 <= boot < float("inf"):
            raise ConfigError(f"boot must be >= 0 seconds, got {boot!r}")
        if not 0 < report_every < float("inf"):
            raise ConfigError(f"report_every must be > 0 seconds, got {report_every!r}")
        if register is not None and (not isinstance(register, str) or not register):
            raise ConfigError(f"register must be a balancer's node id or None, got "
                              f"{register!r}")
        if isinstance(heartbeat, bool) or not isinstance(heartbeat, int | float) or not (
                0 < heartbeat < float("inf")):
            raise ConfigError(f"heartbeat must be > 0 seconds, got {heartbeat!r}")
        self.register = register
        self.heartbeat = float(heartbeat)
        self.service = as_service_time(service)
        self.workers = workers
        self.boot = boot
        self.manager = manager
        self.report_every = report_every
        #: ``"off"``, ``"booting"`` or ``"serving"``.
        self.state = "serving" if active else "off"
        self.waiting: deque[_Job] = deque()
        #: What each worker serves: (sender, id, when it started), or None when free.
        self.working: list[_Job | None] = [None] * workers
        self._free = list(range(workers - 1, -1, -1))  # a stack: the lowest index on top
        self._timers = [f"done-{i}" for i in range(workers)]
        #: Requests answered, the largest queue length seen, busy seconds of all workers.
        self.served = 0
        self.max_queue = 0
        self.busy_time = 0.0
        self._reported_busy = 0.0
        self._reported_at = 0.0

    @property
    def queue_length(self) -> int:
        """Requests in the server: waiting plus in service."""
        return len(self.waiting) + self.workers - len(self._free)

    def busy(self) -> float:
        """Busy seconds of all workers so far, the services under way included."""
        now = self.now
        return self.busy_time + sum(now - job[2] for job in self.working if job is not None)

    # ----- handlers ------------------------------------------------------------------------

    def on_start(self) -> None:
        self._reported_at = self.now
        if self.state == "serving" and self.manager is not None:
            self.set_timer("report", self.report_every)
        if self.state == "serving":
            self._register()

    def on_message(self, src: str, msg: object) -> None:
        if type(msg) is Request:
            self._arrive(src, msg.id)
        elif isinstance(msg, Activate):
            self.manager = src
            if self.state == "off":
                self.state = "booting"
                self.set_timer("boot", self.boot)
            elif self.state == "serving":
                self.send(src, Ready())
        elif isinstance(msg, Deactivate):
            self._turn_off()

    def on_timer(self, name: str) -> None:
        if name.startswith("done-"):
            self._finish(int(name[5:]))
        elif name == "report":
            self._report()
        elif name == "register":
            self._register()
        elif name == "boot" and self.state == "booting":
            self.state = "serving"
            self.note("serving")
            self._reported_at, self._reported_busy = self.now, self.busy()
            if self.manager is not None:
                self.send(self.manager, Ready())
                self.set_timer("report", self.report_every)
            self._register()

    # ----- the queue -------------------------------------------------------------------------

    def _arrive(self, src: str, request_id: int) -> None:
        if self.state != "serving":
            self.note("refused", id=request_id, sender=src, state=self.state)
            return
        if self._free:
            self._serve(self._free.pop(), (src, request_id, self.now))
        else:
            self.waiting.append((src, request_id, self.now))
        length = self.queue_length
        if length > self.max_queue:
            self.max_queue = length

    def _serve(self, worker: int, job: _Job) -> None:
        self.working[worker] = (job[0], job[1], self.now)
        self.set_timer(self._timers[worker], self.service.sample(self.rng))

    def _finish(self, worker: int) -> None:
        job = self.working[worker]
        if job is None:  # pragma: no cover - a worker's timer is armed only while it works
            return
        src, request_id, started = job
        self.busy_time += self.now - started
        self.served += 1
        if self.waiting:
            self._serve(worker, self.waiting.popleft())
        else:
            self.working[worker] = None
            self._free.append(worker)
            self._free.sort(reverse=True)
        self.send(src, Reply(request_id, self.id, self.queue_length))

    # ----- the pool ----------------------------------------------------------------------------

    def _report(self) -> None:
        if self.state != "serving" or self.manager is None:
            return
        busy, now = self.busy(), self.now
        self.send(self.manager, LoadReport(busy - self._reported_busy, now - self._reported_at,
                                           self.workers, self.queue_length))
        self._reported_busy, self._reported_at = busy, now
        self.set_timer("report", self.report_every)

    def _register(self) -> None:
        if self.register is None or self.state != "serving":
            return
        self.send(self.register, Register())
        self.set_timer("register", self.heartbeat)

    def _turn_off(self) -> None:
        lost = self.queue_length
        self.note("deactivate", queue=lost)
        self.busy_time = self.busy()
        for worker, timer in enumerate(self._timers):
            if self.working[worker] is not None:
                self.cancel_timer(timer)
                self.working[worker] = None
        self.waiting.clear()
        self._free = list(range(self.workers - 1, -1, -1))
        self.cancel_timer("report")
        self.cancel_timer("register")
        self.cancel_timer("boot")
        self.state = "off"
