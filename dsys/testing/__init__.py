"""Testing helpers: a harness for unit tests of one node, and a pytest plugin for
simulated tests (:mod:`dsys.testing.plugin`).

:class:`NodeHarness` (in :mod:`dsys.testing.harness`) builds one node with no simulator
and no network, feeds it events (start, a message, a timer, a crash and a recovery, with a
clock the test sets) and returns its effects as plain records: :class:`Sent`,
:class:`TimerSet`, :class:`TimerCancelled`, :class:`TimerFired`, :class:`StorageWrite`,
:class:`StorageDelete`, :class:`StorageSync`, :class:`Log`, :class:`Note`,
:class:`Crashed`, :class:`Invoked`, :class:`Completed`.

The plugin is registered through the ``pytest11`` entry point, so installing dsys makes its
fixtures and options available in every pytest run:

* ``dsys_seed``: the seed of this run of the test. A test that uses it runs once per seed:
  ``--dsys-runs N`` runs seeds 0..N-1, ``@pytest.mark.dsys(runs=N)`` sets the default for
  one test, ``--dsys-seed N`` pins one seed (to replay a failure).
* ``simulation``: a factory, ``simulation(network=..., trace=...)``, that builds a
  :class:`~dsys.Simulation` with ``dsys_seed``. When the test fails, the plugin saves the
  traces of the simulations it built and prints the seed, the last trace events, where
  the traces were saved and the one command that replays exactly that failure.

:mod:`dsys.testing.raft` is a Raft test harness in virtual time (MIT 6.5840's tester):
:class:`~dsys.testing.raft.RaftCluster` and :class:`~dsys.testing.raft.RaftAdapter`, with
the scenarios of MIT's Raft tests in :mod:`dsys.testing.raft_scenarios` (``SCENARIOS``).
Their names are importable from here too; they load on first use, so the pytest plugin does
not import Raft.

Example test::

    import pytest
    from dsys import Network

    @pytest.mark.dsys(runs=20)
    def test_pings_survive_loss(simulation):
        sim = simulation(network=Network(drop=0.3))
        ...
"""

import importlib
from typing import Any

from dsys.testing.harness import (
    Completed,
    Crashed,
    Effect,
    Invoked,
    Log,
    NodeHarness,
    Note,
    Sent,
    StorageDelete,
    StorageSync,
    StorageWrite,
    TimerCancelled,
    TimerFired,
    TimerSet,
)
from dsys.testing.plugin import SimulationFactory

#: Names loaded on first use (PEP 562), from the module that defines them.
_LAZY = {
    "RaftAdapter": "dsys.testing.raft",
    "RaftCluster": "dsys.testing.raft",
    "SCENARIOS": "dsys.testing.raft_scenarios",
    "Scenario": "dsys.testing.raft_scenarios",
}

__all__ = [
    "SCENARIOS",
    "Completed",
    "Crashed",
    "Effect",
    "Invoked",
    "Log",
    "NodeHarness",
    "Note",
    "RaftAdapter",
    "RaftCluster",
    "Scenario",
    "Sent",
    "SimulationFactory",
    "StorageDelete",
    "StorageSync",
    "StorageWrite",
    "TimerCancelled",
    "TimerFired",
    "TimerSet",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dsys.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
