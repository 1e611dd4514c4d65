"""A workload for the mutual exclusion algorithms, and a one-call way to simulate one.

:class:`Workload` is a node that uses a lock the way an application would: it thinks for a
random time, requests the critical section, holds it for a random time once inside, then
releases it, a given number of times. All its randomness comes from ``self.rng``, so a run
is fixed by the simulation seed. Tests, the demo and the benchmark all drive the algorithms
(:mod:`dsys.mutex`) through it.

:func:`simulate` builds a :class:`~dsys.Simulation` of ``nodes`` workload nodes running one
algorithm, with the safety invariant checked after every event (:func:`add_workload` adds
them to a simulation you made); :func:`finished` says when every node has made all its
requests and left; :func:`messages_per_entry` counts the algorithm's messages per critical
section entry from ``sim.statistics().by_type``.

(This harness runs the algorithms in the simulator, so it lives in :mod:`dsys.demos`, not
beside them: protocol packages never import the simulator.)

Example:
    >>> from dsys.mutex import TokenRing
    >>> from dsys.demos.mutex_workload import finished, messages_per_entry, simulate
    >>> sim = simulate(TokenRing, nodes=5, seed=3, requests=4, think=(0.0, 0.0))
    >>> sim.run_until(finished, timeout=30.0)
    True
    >>> round(messages_per_entry(sim), 1)   # busy nodes: the token rarely travels in vain
    1.1
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dsys.core.node import Node
from dsys.errors import ConfigError
from dsys.mutex.checkers import safety_invariant
from dsys.mutex.interface import RELEASED, Mutex
from dsys.sim.network import Network
from dsys.sim.simulation import Simulation

#: Default think time (before each request) and hold time (inside), uniform, in seconds.
THINK = (0.0, 0.05)
HOLD = (0.001, 0.005)


class Workload(Node):
    """A node that requests the critical section ``requests`` times (None: forever).

    Before each request it waits a think time drawn uniformly from ``think``; once inside
    it stays for a hold time drawn from ``hold``, then releases. ``algorithm()`` builds the
    lock (a :class:`~dsys.mutex.Mutex`); it is reachable as ``node.mutex``.

    ``entries`` counts this incarnation's entries; :attr:`done` says whether it has made
    all its requests and is outside. A restarted node starts its requests over.

    Example:
        >>> from dsys import Simulation
        >>> from dsys.mutex import CentralMutex
        >>> from dsys.demos.mutex_workload import Workload
        >>> sim = Simulation(seed=1)
        >>> for name in ("a", "b"):
        ...     sim.add_node(name, lambda: Workload(CentralMutex, hold=(0.01, 0.02),
        ...                                         requests=2))
        >>> sim.run(until=1.0)
        >>> [node.entries for node in sim.nodes.values()]
        [2, 2]
    """

    def __init__(self, algorithm: Callable[[], Mutex], *, think: tuple[float, float] = THINK,
                 hold: tuple[float, float] = HOLD, requests: int | None = 5) -> None:
        super().__init__()
        self.mutex = self.add_component(algorithm())
        self.mutex.on_enter = self.on_enter
        self.think = think
        self.hold = hold
        self.remaining = requests  # requests not yet started (None: no limit)
        self.thinking = False  # the think timer is armed: a request is coming
        self.entries = 0

    def on_start(self) -> None:
        self.think_then_request()

    def on_timer(self, name: str) -> None:
        if name == "think":
            self.thinking = False
            self.mutex.request()
        elif name == "hold":
            self.mutex.release()
            self.think_then_request()

    def on_enter(self) -> None:
        """Granted: count the entry and hold the critical section for a random time."""
        self.entries += 1
        self.set_timer("hold", self.rng.uniform(*self.hold))

    def think_then_request(self) -> None:
        """Wait a random think time, then ask for the lock (unless all requests are made)."""
        if self.remaining == 0:
            return
        if self.remaining is not None:
            self.remaining -= 1
        self.thinking = True
        self.set_timer("think", self.rng.uniform(*self.think))

    @property
    def done(self) -> bool:
        """True once all its requests were made and served, and the node is outside."""
        return self.remaining == 0 and not self.thinking and self.mutex.state == RELEASED


def simulate(
    algorithm: Callable[[], Mutex],
    nodes: int = 5,
    *,
    seed: int = 0,
    network: Network | None = None,
    think: tuple[float, float] = THINK,
    hold: tuple[float, float] = HOLD,
    requests: int | None = 5,
    invariant: bool = True,
    trace: bool = True,
) -> Simulation:
    """A new simulation of ``nodes`` :class:`Workload` nodes, ``n1`` .. ``nN``, sharing
    one lock built by ``algorithm`` (a :class:`~dsys.mutex.Mutex` class or factory).

    With ``invariant`` (the default), :func:`~dsys.mutex.checkers.safety_invariant` is
    checked after every event. Run it with ``sim.run_until(finished, timeout=...)``.
    """
    sim = Simulation(seed=seed, network=network, trace=trace)
    return add_workload(sim, algorithm, nodes, think=think, hold=hold, requests=requests,
                        invariant=invariant)


def add_workload(
    sim: Simulation,
    algorithm: Callable[[], Mutex],
    nodes: int = 5,
    *,
    think: tuple[float, float] = THINK,
    hold: tuple[float, float] = HOLD,
    requests: int | None = 5,
    invariant: bool = True,
) -> Simulation:
    """Add ``nodes`` :class:`Workload` nodes ``n1`` .. ``nN`` to an existing ``sim`` (for
    instance one made by the pytest plugin's ``simulation`` fixture); return ``sim``."""
    if nodes < 1:
        raise ConfigError(f"a mutual exclusion cluster needs at least one node, got {nodes}")
    for name, (low, high) in (("think", think), ("hold", hold)):
        if not 0 <= low <= high:
            raise ConfigError(f"{name} must be a (low, high) pair with 0 <= low <= high, "
                              f"got {(low, high)}")
    for i in range(1, nodes + 1):
        sim.add_node(f"n{i}", _factory(algorithm, think, hold, requests))
    if invariant:
        sim.add_invariant(safety_invariant)
    return sim


def _factory(algorithm: Callable[[], Mutex], think: tuple[float, float],
             hold: tuple[float, float], requests: int | None) -> Callable[[], Workload]:
    return lambda: Workload(algorithm, think=think, hold=hold, requests=requests)


def workloads(sim: Simulation) -> Mapping[str, Workload]:
    """The running :class:`Workload` nodes of ``sim`` by id."""
    return {i: n for i, n in sim.nodes.items() if isinstance(n, Workload)}


def finished(sim: Simulation) -> bool:
    """True when every node of ``sim`` is a :class:`Workload` that is :attr:`~Workload.done`
    (crashed nodes count as unfinished)."""
    running = workloads(sim)
    return len(running) == len(sim.node_ids) and all(w.done for w in running.values())


def entries(sim: Simulation) -> int:
    """Critical section entries so far, over the running workload nodes."""
    return sum(w.entries for w in workloads(sim).values())


def messages_per_entry(sim: Simulation, algorithm: type[Mutex] | None = None) -> float:
    """The algorithm's messages sent so far, divided by the entries so far.

    Counts the message types the algorithm declares (``algorithm.messages``; by default
    those of the first workload's lock) in ``sim.statistics().by_type``.
    """
    running = workloads(sim)
    if algorithm is None:
        if not running:
            raise ConfigError("no running Workload node in this simulation to count for")
        algorithm = type(next(iter(running.values())).mutex)
    by_type = sim.statistics().by_type
    sent = sum(by_type[t.__name__].get("sent", 0) for t in algorithm.messages
               if t.__name__ in by_type)
    count = entries(sim)
    return sent / count if count else float("inf")
