"""Scale-out: servers with service times, load balancers, and elasticity.

* :mod:`dsys.scaling.service`: service-time distributions (:class:`Exponential`,
  :class:`Constant`, :class:`Uniform`, :class:`Bimodal`);
* :mod:`dsys.scaling.server`: a :class:`Server` node with a queue and ``k`` workers that
  serve requests in virtual time, reporting its queue length and its load;
* :mod:`dsys.scaling.policies`: routing policies: :class:`RoundRobin`,
  :class:`RandomChoice`, :class:`LeastOutstanding`, :class:`TwoChoices` (the power of two
  choices) and sticky :class:`ConsistentHash`;
* :mod:`dsys.scaling.balancer`: a :class:`Balancer` node in front of a pool whose
  membership changes at run time (removed servers drain), with a cost per request;
* :mod:`dsys.scaling.workload`: request generators, :class:`OpenLoop` (Poisson arrivals
  at a rate that may change over time) and :class:`ClosedLoop` (users), that record each
  request's latency;
* :mod:`dsys.scaling.autoscaler`: elasticity: a :class:`PoolManager` that turns servers
  on and off under a :class:`TargetUtilization` policy with hysteresis and a cooldown;
* :mod:`dsys.scaling.checkers`: no request lost, removed servers drained, no flapping;
* :mod:`dsys.scaling.theory`: balls into bins, the supermarket model, M/M/1: the anchors
  the measurements are printed beside.

Every node runs unchanged in the simulator and on the trio runtime; the harnesses that
measure them live in :mod:`dsys.demos.scaling`.

Example:
    >>> from dsys import Network, Simulation
    >>> from dsys.scaling import Balancer, OpenLoop, Server, check_every_request_answered
    >>> sim = Simulation(seed=1, network=Network(latency=0.0002))
    >>> servers = [f"s{i}" for i in range(4)]
    >>> for name in servers:
    ...     sim.add_node(name, lambda: Server(0.010))
    >>> sim.add_node("lb", lambda: Balancer(servers, "two-choices"))
    >>> sim.add_node("gen", lambda: OpenLoop("lb", rate=300.0, until=2.0))
    >>> sim.run(until=3.0)
    >>> print(check_every_request_answered(sim.trace).explain())
    every request answered once: ok (610 requests checked)
"""

from dsys.scaling.autoscaler import PoolManager, PoolSample, TargetUtilization
from dsys.scaling.balancer import AddServer, Balancer, Drained, Rejected, RemoveServer
from dsys.scaling.checkers import check_drained, check_every_request_answered, check_no_flapping
from dsys.scaling.policies import (
    POLICIES,
    ConsistentHash,
    LeastOutstanding,
    Policy,
    RandomChoice,
    RoundRobin,
    TwoChoices,
    make_policy,
)
from dsys.scaling.server import (
    Activate,
    Deactivate,
    LoadReport,
    Ready,
    Register,
    Reply,
    Request,
    Server,
)
from dsys.scaling.service import (
    Bimodal,
    Constant,
    Exponential,
    ServiceTime,
    Uniform,
    as_service_time,
)
from dsys.scaling.workload import ClosedLoop, Completion, OpenLoop, RateSchedule, percentile

__all__: list[str] = [
    "POLICIES",
    "Activate",
    "AddServer",
    "Balancer",
    "Bimodal",
    "ClosedLoop",
    "Completion",
    "ConsistentHash",
    "Constant",
    "Deactivate",
    "Drained",
    "Exponential",
    "LeastOutstanding",
    "LoadReport",
    "OpenLoop",
    "Policy",
    "PoolManager",
    "PoolSample",
    "RandomChoice",
    "RateSchedule",
    "Ready",
    "Register",
    "Rejected",
    "RemoveServer",
    "Reply",
    "Request",
    "RoundRobin",
    "Server",
    "ServiceTime",
    "TargetUtilization",
    "TwoChoices",
    "Uniform",
    "as_service_time",
    "check_drained",
    "check_every_request_answered",
    "check_no_flapping",
    "make_policy",
    "percentile",
]
