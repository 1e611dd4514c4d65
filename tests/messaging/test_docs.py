"""The communication page: its pictures come from real runs, and its gossip table is what
the benchmark measures."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "concepts" / "communication.md"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"messaging_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pictures_are_generated_and_referenced(tmp_path: Path) -> None:
    written = load(ROOT / "docs" / "gen_messaging_pictures.py").main(tmp_path / "generated")
    names = sorted(path.name for path in written)
    assert names == ["causal-order-kept.svg", "causal-violation-fifo.svg",
                     "gossip-spread.svg", "rpc-table-forgets.svg"]
    page = PAGE.read_text()
    for name in names:
        assert f"../assets/generated/{name}" in page
    fifo = (tmp_path / "generated" / "causal-violation-fifo.svg").read_text()
    kept = (tmp_path / "generated" / "causal-order-kept.svg").read_text()
    assert fifo.startswith("<svg") and "reads yes!" in fifo and "reads lunch?" in fifo
    assert "reads lunch?, yes!" in kept  # carol reads both at once, in order
    rpc = (tmp_path / "generated" / "rpc-table-forgets.svg").read_text()
    assert rpc.count(">runs add #0<") == 2  # the picture shows the double execution


def test_the_gossip_table_is_what_the_bench_measures() -> None:
    bench = load(ROOT / "bench" / "gossip_rounds.py")
    fresh = bench.table(bench.measure(sizes=(10, 100), seeds=range(10))).splitlines()
    page = PAGE.read_text().splitlines()
    header, rows = fresh[0], fresh[1:]
    assert header in page
    for row in rows:
        assert row in page, f"the page's gossip table is stale; re-run the bench: {row}"
    assert "python bench/gossip_rounds.py" in PAGE.read_text()
