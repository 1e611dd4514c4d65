"""Testing helpers for simulated systems; the pytest plugin lives in :mod:`dsys.testing.plugin`.

The plugin is registered through the ``pytest11`` entry point, so installing dsys makes its
fixtures and options available in every pytest run:

* ``dsys_seed``: the seed of this run of the test. A test that uses it runs once per seed:
  ``--dsys-runs N`` runs seeds 0..N-1, ``@pytest.mark.dsys(runs=N)`` sets the default for
  one test, ``--dsys-seed N`` pins one seed (to replay a failure).
* ``simulation``: a factory, ``simulation(network=..., trace=...)``, that builds a
  :class:`~dsys.Simulation` with ``dsys_seed``. When the test fails, the plugin saves the
  traces of the simulations it built and prints the seed, the last trace events, where
  the traces were saved and the one command that replays exactly that failure.

Example test::

    import pytest
    from dsys import Network

    @pytest.mark.dsys(runs=20)
    def test_pings_survive_loss(simulation):
        sim = simulation(network=Network(drop=0.3))
        ...
"""

from dsys.testing.plugin import SimulationFactory

__all__ = ["SimulationFactory"]
