"""Distributed mutual exclusion: three classic algorithms behind one interface.

* :class:`CentralMutex`: a coordinator keeps the lock (3 messages per entry);
* :class:`RicartAgrawala`: ask everyone, with Lamport timestamps, and defer replies
  (Ricart & Agrawala 1981; 2(N - 1) messages per entry);
* :class:`TokenRing`: a token circulates around a ring (1 to unbounded messages per entry).

Each is a :class:`Mutex` component: the application calls ``request()``, is called back
through ``on_enter`` once inside, and calls ``release()``. Each notes ``request``,
``enter`` and ``exit`` in the trace, so the checkers of :mod:`dsys.mutex.checkers`
(:func:`check_safety`, :func:`check_liveness`, :func:`check_order`,
:func:`check_bounded_waiting`, and the invariant :func:`safety_invariant`) work for all of
them. :mod:`dsys.demos.mutex_workload` (``Workload``, ``simulate``) sets up a simulated
cluster that uses the lock at random times.

Example:
    >>> from dsys.demos.mutex_workload import finished, simulate
    >>> from dsys.mutex import ALGORITHMS, check_safety
    >>> for name, algorithm in ALGORITHMS.items():
    ...     sim = simulate(algorithm, nodes=4, seed=7)
    ...     done = sim.run_until(finished, timeout=30.0)
    ...     print(name, done, check_safety(sim.trace).ok)
    central True True
    ricart-agrawala True True
    token-ring True True
"""

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from dsys.mutex.central import CentralMutex
from dsys.mutex.checkers import (
    Report,
    Violation,
    check_bounded_waiting,
    check_liveness,
    check_order,
    check_safety,
    safety_invariant,
)
from dsys.mutex.interface import HELD, RELEASED, WANTED, Mutex, State
from dsys.mutex.ricart_agrawala import RicartAgrawala
from dsys.mutex.token_ring import TokenRing

#: The algorithms by the names the docs, the demo and the benchmark use.
ALGORITHMS: Mapping[str, type[Mutex]] = MappingProxyType({
    "central": CentralMutex,
    "ricart-agrawala": RicartAgrawala,
    "token-ring": TokenRing,
})

__all__ = [
    "ALGORITHMS",
    "HELD",
    "RELEASED",
    "WANTED",
    "CentralMutex",
    "Mutex",
    "Report",
    "RicartAgrawala",
    "State",
    "TokenRing",
    "Violation",
    "check_bounded_waiting",
    "check_liveness",
    "check_order",
    "check_safety",
    "safety_invariant",
]


#: Compatibility shim: the workload harness runs the algorithms in the simulator, so it
#: moved to dsys.demos.mutex_workload (a protocol package never imports the simulator).
#: These names keep working from here for now, imported on first use.
_MOVED = frozenset({"Workload", "add_workload", "entries", "finished", "messages_per_entry",
                    "simulate", "workloads"})


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        return getattr(importlib.import_module("dsys.demos.mutex_workload"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
