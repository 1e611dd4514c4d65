"""The mutual exclusion page shows the bench's table, its pictures come from real runs, the
docstring examples hold, and the demo shows what its docstring says. (The page's Python
examples run in tests/docs/test_examples.py, with every other page's.)"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest

from dsys.mutex import check_liveness, check_safety

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "concepts" / "mutual-exclusion.md"
PICTURES = ["mutex-central.svg", "mutex-coordinator-crash.svg", "mutex-ricart-agrawala.svg",
            "mutex-token-ring.svg"]


def test_the_page_shows_the_table_the_bench_prints(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("mutex_messages",
                                                  ROOT / "bench" / "mutex_messages.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main([])
    assert capsys.readouterr().out in PAGE.read_text()


def test_pictures_are_generated_from_real_runs_and_referenced(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_mutex_pictures",
                                                  ROOT / "docs" / "gen_mutex_pictures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path / "generated")
    assert sorted(p.name for p in (tmp_path / "generated").iterdir()) == PICTURES
    drawing = (tmp_path / "generated" / "mutex-ricart-agrawala.svg").read_text()
    assert drawing.startswith("<svg") and "Reply" in drawing and "enter (1, n1)" in drawing
    page = PAGE.read_text()
    for name in PICTURES:
        assert f"../assets/generated/{name}" in page
    # The crash picture shows what the page says: n4 inside beside n2, n3 never served.
    sim = module.coordinator_crash()
    sim.run(until=0.2)
    assert [v.nodes for v in check_safety(sim.trace).violations] == [("n4", "n2")]
    assert [v.nodes for v in check_liveness(sim.trace).violations] == [("n3",)]


def test_the_demo_runs_then_stalls_after_the_crash() -> None:
    demo = importlib.import_module("dsys.demos.mutex")
    assert demo.SUMMARY and demo.KINDS and demo.UNTIL > demo.CRASH_AT
    sim = demo.scenario(seed=1, until=demo.UNTIL)
    sim.run(until=demo.UNTIL)  # the safety invariant is checked throughout
    texts = [(e.time, e.node, e.data["text"]) for e in sim.trace if e.kind == "log"]
    entered = [t for t, _, text in texts if text.startswith("ENTERS")]
    # Requests n4 answered before it crashed may still finish; none after that.
    assert len(entered) >= 5 and max(entered) < demo.CRASH_AT + 0.1
    # Every survivor asked again after the crash, and is still waiting at the end.
    last = {node: (t, text) for t, node, text in texts}
    for node in ("n1", "n2", "n3"):
        t, text = last[node]
        assert text == "asks to enter" and t > demo.CRASH_AT
    assert check_safety(sim.trace).ok
    again = demo.scenario(seed=1, until=demo.UNTIL)
    again.run(until=demo.UNTIL)
    assert again.trace.digest() == sim.trace.digest()
