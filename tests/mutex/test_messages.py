"""Messages per entry against the textbook: exact where the theory is exact."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from dsys import Network
from dsys.demos.mutex_workload import finished, messages_per_entry, simulate
from dsys.mutex import ALGORITHMS

BENCH = Path(__file__).resolve().parents[2] / "bench" / "mutex_messages.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutex_messages", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bench_measures_the_textbook_numbers(bench: ModuleType) -> None:
    rows = bench.measure((3, 5, 10, 20), requests=5)
    assert len(rows) == 3 * 4 * 2
    by_key = {(r["algorithm"], r["nodes"], r["load"]): r for r in rows}
    for (algorithm, nodes, _load), row in by_key.items():
        assert row["entries"] == 5 * nodes
        if algorithm == "central":
            assert row["per_entry"] == 3.0 and row["messages"] == 3 * row["entries"]
        elif algorithm == "ricart-agrawala":
            assert row["per_entry"] == 2 * (nodes - 1)
            assert row["messages"] == 2 * (nodes - 1) * row["entries"]
    for nodes in (3, 5, 10, 20):
        heavy = by_key["token-ring", nodes, "heavy"]["per_entry"]
        light = by_key["token-ring", nodes, "light"]["per_entry"]
        assert 1.0 <= heavy < 1.1  # every hop of the token ends at a node that enters
        assert light > 10 * heavy  # the token mostly circles an idle ring
    # The lighter the load per node, the more the token travels per entry: fewer nodes,
    # fewer entries for the same circulation.
    lights = [by_key["token-ring", n, "light"]["per_entry"] for n in (3, 5, 10, 20)]
    assert lights == sorted(lights, reverse=True)


def test_the_bench_prints_the_table_with_the_theory(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.main(["--nodes", "3", "5", "--requests", "2"])
    out = capsys.readouterr().out
    assert "ricart-agrawala    5 heavy        10        80       8.00  2(N-1) = 8" in out
    assert "central            3 light         6        18       3.00  3" in out
    assert "1 to inf" in out
    assert out.rstrip().endswith("exact theory matched: yes")


@pytest.mark.parametrize("seed", range(10))
def test_exact_counts_hold_with_reordering(seed: int) -> None:
    # Reordering changes who waits for whom, never how many messages an entry costs.
    network = Network(reorder=0.3, reorder_delay=0.02)
    for name, expected in (("central", 3.0), ("ricart-agrawala", 8.0)):
        sim = simulate(ALGORITHMS[name], nodes=5, seed=seed, network=network)
        assert sim.run_until(finished, timeout=30.0)
        assert messages_per_entry(sim) == expected
