"""Draw the sharding page's picture from a real simulation run.

``main(out_dir)`` writes ``sharding-rebalance.svg``: p50 and p99 latency of the clients'
operations, window by window (:data:`WIDTH` s), during ``dsys demo sharding``'s run (seed
1): g2 joins at 2 s, g3 at 4 s, g1 leaves at 6 s, and shards migrate after each change
(:func:`dsys.demos.sharding.latency_windows`). About four seconds. The docs build calls
``main``; run it by hand with ``python docs/gen_sharding_pictures.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from dsys.demos import sharding

WIDTH = 0.25


def _chart_class() -> type:
    # The scale-out pages' plot helper: one chart style across the site.
    path = Path(__file__).with_name("gen_scaling_pictures.py")
    spec = importlib.util.spec_from_file_location("dsys_docs_chart", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Chart  # type: ignore[no-any-return]


def rebalance_picture(seed: int = 1) -> str:
    """p50 and p99 latency per window while groups join and leave."""
    sim = sharding.scenario(seed=seed)
    sim.run(until=sharding.UNTIL)
    windows = [w for w in sharding.latency_windows(sim.history, WIDTH, until=sharding.UNTIL)
               if w.p99 is not None]
    top = max(200.0, max(w.p99 or 0.0 for w in windows) * 1000 * 1.15)
    chart = _chart_class()(
        "Latency while shards migrate", f"dsys demo sharding, seed {seed}: "
        f"{sharding.CLIENTS} clients, 10 shards, p50 and p99 per {WIDTH * 1000:.0f} ms window",
        x_range=(0, sharding.UNTIL), y_range=(0, top))
    step = 50 if top <= 300 else 100
    chart.axes("virtual time (s)", "latency (ms)", list(range(0, int(sharding.UNTIL) + 1)),
               list(range(0, int(top) + 1, step)))
    for t, text in ((sharding.JOIN_G2, "g2 joins"), (sharding.JOIN_G3, "g3 joins"),
                    (sharding.LEAVE_G1, "g1 leaves")):
        x = chart.x(t)
        chart.parts.append(f'<line x1="{x:.1f}" y1="{chart.top}" x2="{x:.1f}" '
                           f'y2="{chart.bottom}" stroke="#a0aec0" stroke-dasharray="4 3"/>')
        chart.parts.append(f'<text x="{x + 4:.1f}" y="{chart.top + 12}" '
                           f'fill="#4a5568">{text}</text>')
    middle = WIDTH / 2
    chart.line([(w.start + middle, (w.p99 or 0.0) * 1000) for w in windows], "#c53030",
               marks=True)
    chart.line([(w.start + middle, (w.p50 or 0.0) * 1000) for w in windows], "#2b6cb0",
               marks=True)
    chart.legend(0, "#c53030", "p99", note="a move: clients wait")
    chart.legend(1, "#2b6cb0", "p50", note="shards not moving")
    return str(chart.svg())


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sharding-rebalance.svg").write_text(rebalance_picture())


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/assets/generated"))
