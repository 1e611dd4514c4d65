"""The messaging demos tell the story their docstrings tell, and the bench runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from dsys.demos import causal, gossip
from dsys.messaging import check_broadcast, check_causal_order

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("seed", range(5))
def test_causal_demo_fifo_lets_the_reply_overtake_causal_does_not(seed: int) -> None:
    sim = causal.scenario(seed=seed)
    sim.run(until=causal.UNTIL)
    fifo = check_causal_order(sim.trace, component="fifo")
    assert [v.nodes for v in fifo.violations] == [("carol", "bob")]
    assert check_broadcast(sim.trace, causal.CausalBroadcast.guarantees, component="causal")
    assert check_broadcast(sim.trace, causal.FifoBroadcast.guarantees, component="fifo")
    logs = [e.data["text"] for e in sim.trace.filter(nodes=["carol"], kinds=["log"])]
    assert logs.index("fifo: read 'yes!' from bob") < logs.index("fifo: read 'lunch?' from alice")
    assert logs.index("causal: read 'lunch?' from alice") < logs.index(
        "causal: read 'yes!' from bob")


@pytest.mark.parametrize("seed", range(5))
def test_gossip_demo_reaches_everyone_despite_loss_and_a_crash(seed: int) -> None:
    sim = gossip.scenario(seed=seed)
    sim.run(until=gossip.UNTIL)
    assert all(node.gossip.known for node in sim.nodes.values())  # type: ignore[attr-defined]
    knowing = {e.node for e in sim.trace.filter(kinds=["log"])
               if str(e.data["text"]).startswith("knows it")}
    assert knowing == set(sim.node_ids)
    assert [e.node for e in sim.trace.filter(kinds=["crash"])] == ["n5"]


@pytest.mark.parametrize("module", [causal, gossip], ids=["causal", "gossip"])
def test_demo_modules_have_the_demo_shape(module: object) -> None:
    for name in ("SUMMARY", "KINDS", "UNTIL", "scenario"):
        assert hasattr(module, name)
    assert module.scenario(seed=1, until=module.UNTIL).seed == 1  # type: ignore[attr-defined]


def test_bench_measures_and_prints(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_gossip",
                                                  ROOT / "bench" / "gossip_rounds.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.measure(sizes=(10, 30), seeds=range(3))
    assert [(r["nodes"], r["mode"]) for r in rows] == [
        (10, "push"), (10, "pull"), (10, "push-pull"),
        (30, "push"), (30, "pull"), (30, "push-pull")]
    assert set(rows[0]) >= {"nodes", "log2_n", "mean_rounds", "max_rounds",
                            "messages_per_node", "theory", "ratio"}
    bench.main(["--sizes", "10", "--seeds", "2"])
    out = capsys.readouterr().out
    assert "log2 N" in out and "push-pull" in out
