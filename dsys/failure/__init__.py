"""Failure detection: heartbeats, φ accrual, SWIM (with Lifeguard), a membership view built
on a detector, and checkers for completeness, accuracy and convergence.

* :class:`FailureDetector`: the interface every detector offers (``suspects(peer)``,
  ``suspected()``, ``alive()``, ``on_suspect`` / ``on_alive`` callbacks), a
  :class:`~dsys.Component` attached as ``"detector"``;
* :class:`HeartbeatDetector`: a fixed timeout, all-to-all or to a monitor;
* :class:`PhiAccrualDetector`: Hayashibara et al.'s φ, with ``phi(peer)``;
* :class:`Swim`: SWIM's probes, suspicion and infection-style dissemination, joins and
  leaves, and Lifeguard (``lifeguard=True``);
* :class:`Membership`: a group view on top of any detector, with join and leave events;
* :mod:`dsys.failure.checkers`: :func:`check_completeness`, :func:`check_accuracy`,
  :func:`check_convergence` over a trace, :func:`converged` on live nodes,
  :func:`false_suspicions` and :func:`detection_times` to measure;
* :mod:`dsys.failure.draw`: φ over time, and SWIM's state diagram, as SVG.

Simulated groups of members for tests, benchmarks and the docs are built with
:func:`dsys.demos.swim.group` (a protocol package never imports the simulator).

Example:
    >>> from dsys import Node, Simulation
    >>> from dsys.failure import HeartbeatDetector, check_completeness
    >>> class Server(Node):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.detector = self.add_component(HeartbeatDetector())
    >>> sim = Simulation(seed=3)
    >>> for name in ("a", "b", "c", "d"):
    ...     sim.add_node(name, Server)
    >>> sim.at(2.0, lambda: sim.crash("d"))
    >>> sim.run(until=6.0)
    >>> [sim.node(n).detector.suspected() for n in ("a", "b", "c")]
    [('d',), ('d',), ('d',)]
    >>> print(check_completeness(sim.trace, within=3.0).explain())
    completeness: ok (3 crash-monitor pairs checked)
"""

from dsys.failure.base import FailureDetector, PeerCallback
from dsys.failure.checkers import (
    Detection,
    FalseSuspicion,
    check_accuracy,
    check_completeness,
    check_convergence,
    converged,
    detection_times,
    false_suspicions,
)
from dsys.failure.heartbeat import Heartbeat, HeartbeatDetector
from dsys.failure.membership import Membership
from dsys.failure.phi import ArrivalWindow, PhiAccrualDetector, phi_of
from dsys.failure.swim import TRANSITIONS, Swim, Update, overrides

__all__ = [
    "TRANSITIONS",
    "ArrivalWindow",
    "Detection",
    "FailureDetector",
    "FalseSuspicion",
    "Heartbeat",
    "HeartbeatDetector",
    "Membership",
    "PeerCallback",
    "PhiAccrualDetector",
    "Swim",
    "Update",
    "check_accuracy",
    "check_completeness",
    "check_convergence",
    "converged",
    "detection_times",
    "false_suspicions",
    "overrides",
    "phi_of",
]
