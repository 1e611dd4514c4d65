"""Draw the picture of the MapReduce page from real simulation runs.

``main(out_dir)`` writes ``mapreduce-workers.svg`` into ``out_dir``: a word count's
completion time (32 map tasks of about 1 s, 8 reduce tasks) against the number of workers
(:func:`dsys.demos.mapreduce.completion_time`, seed 1), three curves: every worker at
normal speed; one worker at a tenth of normal speed, with backup tasks; the same without
backup tasks. Both axes are logarithmic. With the lower bound computed from the one-worker
run's task times (whole waves of the mean task, never less than the longest task, per
phase). About two seconds.
The docs build calls ``main``; run it by hand with ``python docs/gen_mapreduce_pictures.py``.
"""

from __future__ import annotations

import importlib.util
import math
import statistics
import sys
from pathlib import Path

from dsys.demos.mapreduce import completion_time

WORKERS = (1, 2, 4, 8, 12, 16, 24, 32, 48)
DOCUMENTS, REDUCERS, STRAGGLER = 32, 8, 0.1


def _chart_class() -> type:
    # The scale-out pages' plot helper: one chart style across the site.
    path = Path(__file__).with_name("gen_scaling_pictures.py")
    spec = importlib.util.spec_from_file_location("dsys_docs_chart", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    chart: type = module.Chart
    return chart


def workers_picture() -> str:
    """Completion time against workers: no straggler, a straggler with and without backups."""
    curves = {
        "no straggler": [completion_time(n, 1, documents=DOCUMENTS, reducers=REDUCERS)
                         for n in WORKERS],
        # (with one worker, the straggler would be the whole cluster: from two on)
        "straggler, backups": [completion_time(n, 1, documents=DOCUMENTS, reducers=REDUCERS,
                                               straggler=STRAGGLER) for n in WORKERS[1:]],
        "straggler, no backups": [completion_time(n, 1, documents=DOCUMENTS,
                                                  reducers=REDUCERS, straggler=STRAGGLER,
                                                  backups=False) for n in WORKERS[1:]],
    }
    one = curves["no straggler"][0]
    maps = [t for task, t in one.took if task.startswith("map-")]
    reduces = [t for task, t in one.took if task.startswith("reduce-")]

    def bound(n: int, times: list[float]) -> float:
        return max(math.ceil(len(times) / n) * statistics.mean(times), max(times))

    # Both axes on log scales: an ideal speed-up is a straight line falling at 45 degrees.
    top = max(r.time for runs in curves.values() for r in runs) * 1.3
    chart = _chart_class()(
        "Word count: completion time against workers",
        f"{DOCUMENTS} map tasks of ~1 s, {REDUCERS} reduce tasks; straggler: one "
        f"worker at {STRAGGLER:g}x speed; log axes",
        x_range=(-0.2, math.log2(WORKERS[-1]) + 0.2), y_range=(0.8, top), right=200.0,
        log_y=True)
    chart.axes("workers", "completion time (virtual s)", [math.log2(n) for n in WORKERS],
               [1, 2, 5, 10, 20, 40], x_format=lambda v: f"{2 ** v:.0f}")
    chart.line([(math.log2(n), bound(n, maps) + bound(n, reduces)) for n in WORKERS],
               "#a0aec0", width=1.5, dash="5 4")
    colours = {"no straggler": "#2b6cb0", "straggler, backups": "#2f855a",
               "straggler, no backups": "#c53030"}
    for row, (label, runs) in enumerate(curves.items()):
        chart.line([(math.log2(r.workers), r.time) for r in runs], colours[label], marks=True)
        [at8] = [r for r in runs if r.workers == 8]
        chart.legend(row, colours[label], label, note=f"8 workers: {at8.time:.1f} s")
    chart.legend(3, "#a0aec0", "lower bound", dash="5 4", note="waves of 1-worker task times")
    svg: str = chart.svg()
    return svg


def main(out_dir: str | Path) -> None:
    """Write the picture into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mapreduce-workers.svg").write_text(workers_picture())


if __name__ == "__main__":
    default = Path(__file__).resolve().parent / "assets" / "generated"
    main(sys.argv[1] if len(sys.argv) > 1 else default)
